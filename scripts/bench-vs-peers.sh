#!/usr/bin/env bash
# Runs Occam's benchmark and shared/bench/peers (PyTorch, JAX) back to back on this
# machine, at 1 thread (pinned to CPU 0) and 2 threads, and prints both tables.
#   scripts/bench-vs-peers.sh [WORKLOAD] [--quick]      WORKLOAD: train|jacobian|transitions
# Needs the peers' venv (shared/bench/peers/setup.sh); PY overrides its python.
# For transitions, Occam counts on the peers' own networks and image (converted by
# scripts/peers_to_safetensors.py) and also times its own dense sampling at OCCAM_SAMPLE_K.
set -euo pipefail
cd "$(dirname "$0")/.."
workload="${1:-train}"; shift || true
PY="${PY:-$HOME/.venv-peers/bin/python}"
PEERS="${PEERS:-../shared/bench/peers/peers.py}"
out="${OUT:-target/bench}"; mkdir -p "$out"
cargo build --release --quiet
for t in 1 2; do
    cpus=$([ "$t" = 1 ] && echo 0 || echo 0,1)
    echo "== peers, $t thread(s)"
    "$PY" "$PEERS" --workload "$workload" --threads "$t" "$@" > "$out/peers-$workload-$t.txt" 2> "$out/peers-$workload-$t.err" || true
    sed -n '/^[^{]/p' "$out/peers-$workload-$t.txt"
    echo "== occam, $t thread(s)"
    extra=()
    if [ "$workload" = transitions ]; then
        [ -f target/peers-arrays/image.f32 ] || "$PY" scripts/peers_to_safetensors.py target/peers-arrays >/dev/null
        extra=(--peers-dir target/peers-arrays --sample-k "${OCCAM_SAMPLE_K:-65536,1048576}")
    fi
    taskset -c "$cpus" target/release/occam --threads "$t" bench "$workload" "$@" "${extra[@]}" | tee "$out/occam-$workload-$t.txt" | sed -n '/^[^{]/p'
done
