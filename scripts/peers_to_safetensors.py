"""Converts the transition networks and image of shared/bench/peers into Occam's formats,
so `occam bench transitions --peers-dir DIR` counts on exactly the arrays the peers used.

    python scripts/peers_to_safetensors.py OUTDIR      (needs numpy and peers.py importable)

Writes net_w{w}_d{d}.safetensors (docs/MODEL.md interchange layout, relu, input_shape 28,28,1) and
image.f32 (the 28×28 smooth image, raw little-endian float32, row-major)."""
import json, struct, sys, os
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared", "bench", "peers"))
import numpy as np
import peers

out = sys.argv[1]
os.makedirs(out, exist_ok=True)

def save(path, weights):
    header, offset, blobs = {}, 0, []
    for i, w in enumerate(weights):
        b = np.ascontiguousarray(w, dtype="<f4").tobytes()
        header[f"layers.{i}.weight"] = {"dtype": "F32", "shape": list(w.shape), "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    header["__metadata__"] = {"activation": "relu", "input_shape": "28,28,1"}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))

for w, d in [(200, 5), (1000, 3)]:
    save(os.path.join(out, f"net_w{w}_d{d}.safetensors"), peers.make_weights(w, d, "transitions"))
_, img = peers.make_shift_table()
img.astype("<f4").tofile(os.path.join(out, "image.f32"))
print("wrote", out)
