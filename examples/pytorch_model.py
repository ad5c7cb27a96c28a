"""A PyTorch model (with biases) measured by Occam on your own preprocessed inputs.

With torch installed this builds an `nn.Sequential`; without it, the same `state_dict`
as NumPy arrays (keys `0.weight`, `0.bias`, `2.weight`, …: Occam orders layers by index,
so `10.weight` comes after `2.weight`). The inputs here are float64 and Fortran-ordered,
as they often come out of other tools: Occam converts them, it never misreads them."""

import numpy as np

import occam

dims = [784, 128, 64, 10]
try:
    import torch

    layers = []
    for i, (d_in, d_out) in enumerate(zip(dims, dims[1:])):
        layers += [torch.nn.Linear(d_in, d_out)] + ([torch.nn.Hardtanh()] if i < len(dims) - 2 else [])
    model = torch.nn.Sequential(*layers)
    source = "torch nn.Sequential"
except ImportError:
    rng = np.random.default_rng(0)
    model = {}
    for i, (d_in, d_out) in enumerate(zip(dims, dims[1:])):
        model[f"{2 * i}.weight"] = rng.uniform(-1, 1, (d_out, d_in)) / np.sqrt(d_in)
        model[f"{2 * i}.bias"] = rng.uniform(-1, 1, d_out) / np.sqrt(d_in)
    source = "state_dict of NumPy arrays (torch is not installed)"

net = occam.Network.from_torch(model, activation="hard_tanh", input_shape=(28, 28, 1))
print(f"{net} from a {source}")

# Your own inputs: here Fashion-MNIST test images standardized per pixel (not Occam's
# per-example normalization), as float64 in Fortran order.
X, y = occam.load_dataset("fashion-mnist", "test")
X = X[:1000].astype(np.float64)
X = np.asfortranarray((X - X.mean(axis=0)) / (X.std(axis=0) + 1e-8))

norms = net.jacobian_norms(X, labels=y[:1000])
print("per point:", {k: v[:3].round(4).tolist() for k, v in norms.items()})
print("mean ‖J‖_F = %.4f, mean loss = %.4f" % (norms["jacobian_norm"].mean(), norms["loss"].mean()))
ellipse = occam.trajectories.ellipse(X[0], X[1], X[2])
print("transitions on the ellipse through three test images:", net.transitions(ellipse))
