#!/usr/bin/env bash
# Builds, HERE (where the Rust toolchain is), everything scripts/gpu-check.sh runs on a GPU
# machine that has no Rust toolchain and no registry: the release `occam` and the test
# binaries with the `cuda` feature, stripped, plus a small copy of Fashion-MNIST for the
# training-throughput run, all in target/gpu-carry/ (git-ignored). Then prints the one
# command to run there. The device tool carries at most 64 MiB (working tree included).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
carry=target/gpu-carry
rm -rf "$carry"
mkdir -p "$carry/fashion-mnist"

cargo build --release --locked --features cuda
# The test executables, by name, from cargo's own report of what it built.
cargo test --release --locked --features cuda --no-run --test cuda --lib --message-format=json 2>/dev/null \
    | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        kind = m["target"]["kind"][0]
        print(("lib-tests" if kind == "lib" else m["target"]["name"] + "-tests"), m["executable"])
' >"$carry/executables.txt"
cp target/release/occam "$carry/occam"
while read -r name path; do cp "$path" "$carry/$name"; done <"$carry/executables.txt"
rm "$carry/executables.txt"
for f in "$carry"/occam "$carry"/*-tests; do strip --strip-debug "$f"; done

# Fashion-MNIST's test split, also as the training split: enough for timing training
# steps (the numbers are steps per second, not accuracies), a sixth of the full size.
src=/usr/share/datasets/fashion-mnist
if [ -d "$src" ]; then
    cp "$src/t10k-images-idx3-ubyte.gz" "$src/t10k-labels-idx1-ubyte.gz" "$carry/fashion-mnist/"
    cp "$src/t10k-images-idx3-ubyte.gz" "$carry/fashion-mnist/train-images-idx3-ubyte.gz"
    cp "$src/t10k-labels-idx1-ubyte.gz" "$carry/fashion-mnist/train-labels-idx1-ubyte.gz"
else
    echo "warning: $src missing (scripts/setup.sh installs it): gpu-check.sh will skip the training-throughput run" >&2
fi

carry_kb=$(du -sk "$carry" | cut -f1)
tree_kb=$(git ls-files -z | du -ck --files0-from=- 2>/dev/null | tail -n 1 | cut -f1)
total_mb=$(( (carry_kb + tree_kb) / 1024 ))
ls -la "$carry"
echo "carry: $((carry_kb / 1024)) MiB, working tree: $((tree_kb / 1024)) MiB, together ${total_mb} MiB (limit 64 MiB)"
if [ "$total_mb" -ge 63 ]; then
    echo "error: too large to carry; leave out the Fashion-MNIST copy (rm -r $carry/fashion-mnist)" >&2
    exit 1
fi
echo
echo "On the GPU machine (device tool), from the repository root, one run:"
echo "  run(command='bash scripts/gpu-check.sh', carry=['$carry'], timeout_s=600)"
