#!/usr/bin/env bash
# The ONE verification run of the CUDA backend on a GPU machine (no Rust toolchain there):
# runs the binaries scripts/gpu-prepare.sh left in target/gpu-carry/ and writes every
# result under $OUT (at most 8 files; ./gpu-out when OUT is unset). Typically about 5
# minutes; each step has its own limit, and no step starts (or runs) past TOTAL_S seconds
# of the whole script (default 560), so it fits the device tool's 600 s limit:
#   1. nvidia-smi, and where the CUDA 13 libraries are (LD_LIBRARY_PATH is set from them)
#   2. the GPU tests: tests/cuda.rs (CUDA against CPU, sweeps on the GPU) and the
#      backend's unit tests
#   3. occam bench train (every width, (1000,5) and (2000,3) among them, batch 256) and
#      bench jacobian with 10,000 points, on the GPU and on the CPU (all cores)
#   4. a real quick sweep (16 trials: widths 100 and 200, depth 4, 2000 steps at batch
#      256, Jacobian norms of 1000 test points; on the Fashion-MNIST copy) with
#      `sweep run --device cuda --gpu-jobs K` for K = 1, 4, 8 and on the CPU (all cores),
#      as trials per hour measured; whether K = 4 stored the same bits as K = 1; the
#      device each store recorded
#   5. the peers' workloads in PyTorch CUDA and JAX GPU (scripts/peers_gpu.py)
# A failing step is recorded and the run goes on.
set -uo pipefail
cd "$(dirname "$0")/.."
carry=target/gpu-carry
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
TOTAL_S=${TOTAL_S:-560}
step() { # step NAME LIMIT_S LOGFILE COMMAND...: runs it, records pass/fail and seconds.
    local name=$1 limit=$2 log=$3; shift 3
    local left=$((TOTAL_S - SECONDS))
    if [ "$left" -lt 15 ]; then
        note "$name: SKIPPED (the script's $TOTAL_S s are used up)"
        return 124
    fi
    [ "$limit" -gt "$left" ] && limit=$left
    local t0=$SECONDS
    echo "== $name: $*" >>"$log"
    timeout "$limit" "$@" >>"$log" 2>&1
    local rc=$?
    note "$name: $([ $rc -eq 0 ] && echo passed || echo "FAILED (exit $rc)") in $((SECONDS - t0)) s"
    return $rc
}

[ -x "$carry/occam" ] || { note "error: $carry/occam missing: run scripts/gpu-prepare.sh first and carry $carry"; exit 1; }
cores=$(nproc)
{ nvidia-smi; echo; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; } >"$OUT/nvidia-smi.txt" 2>&1

# The CUDA 13 libraries: libcuda from the driver; NVRTC and cuBLAS from the toolkit or
# from the Python packages nvidia-cuda-nvrtc / nvidia-cublas.
libdirs=$(find /usr/local/cuda* /usr/local/nvidia /usr/lib /opt -xdev \
    \( -name 'libnvrtc.so.13*' -o -name 'libcublas.so.13*' -o -name 'libcuda.so.1' \) 2>/dev/null \
    | xargs -r -n1 dirname | sort -u | tr '\n' ':')
export LD_LIBRARY_PATH="${libdirs}${LD_LIBRARY_PATH:-}"
note "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
note "gpu: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -n 1); cpu cores: $cores"

export OCCAM_BIN="$PWD/$carry/occam"
tests="$OUT/tests.log"
step "tests/cuda.rs (CUDA vs CPU)" 120 "$tests" "$carry/cuda-tests" --nocapture --test-threads=1
step "backend unit tests" 40 "$tests" "$carry/lib-tests" compute::cuda --nocapture --test-threads=1
grep -E "^test |skipped|panicked|test result" "$tests" >>"$summary"

bench="$OUT/bench.jsonl"
step "bench train, GPU" 50 "$bench" "$carry/occam" --device cuda bench train
step "bench train, CPU ($cores threads)" 60 "$bench" "$carry/occam" --threads "$cores" bench train --quick
step "bench jacobian 10000 points, GPU" 40 "$bench" "$carry/occam" --device cuda bench jacobian --points 10000 --quick
step "bench jacobian 10000 points, CPU ($cores threads)" 50 "$bench" "$carry/occam" --threads "$cores" bench jacobian --points 10000 --quick
cat >/tmp/occam-bench-table.py <<'PY'
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r.get("workload") in ("train", "jacobian"):
        rate, unit = (r["steps_per_s"], "steps/s") if r["workload"] == "train" else (r["unit_value"], r["unit"])
        print(f"{r['device']:<8} {r['workload']:<9} {json.dumps(r['config']):<40} {r['median_s'] * 1e3:10.3f} ms {rate:12.1f} {unit}")
PY
grep -E '^\{' "$bench" | python3 /tmp/occam-bench-table.py >>"$summary" 2>&1

trials="$OUT/trials.txt"
if [ -d "$carry/fashion-mnist" ]; then
    sweep_dir=/tmp/occam-gpu-sweep
    rm -rf "$sweep_dir" && mkdir -p "$sweep_dir"
    cat >"$sweep_dir/spec.toml" <<TOML
name = "gpu-check"
description = "gpu-check.sh: 16 small trials for trials per hour"
[axes]
data = ["fashion-mnist:$PWD/$carry/fashion-mnist"]
width = [100, 200]
depth = [4]
optimizer = ["momentum"]
lr = [0.005]
batch = [256]
steps = [2000]
seed = [1, 2, 3, 4, 5, 6, 7, 8]
[measure]
jacobian_points = 1000
TOML
    sweep() { # sweep LABEL LIMIT_S STORE DEVICE RUN_ARGS...: one sweep run into a fresh store, as trials per hour.
        local label=$1 limit=$2 store=$3 device=$4; shift 4
        local t0
        t0=$(date +%s.%N)
        if step "quick sweep (16 trials), $label" "$limit" "$trials" \
            "$carry/occam" --threads "$cores" --device "$device" sweep run "$sweep_dir/spec.toml" --store "$store" --quiet "$@"; then
            python3 - "$store" "$t0" "$label" <<'PY' | tee -a "$summary"
import sqlite3, sys, time
store, t0, label = sys.argv[1], float(sys.argv[2]), sys.argv[3]
seconds = time.time() - t0
rows = sqlite3.connect(store).execute("SELECT coalesce(device, 'cpu'), status, count(*) FROM trials GROUP BY 1, 2").fetchall()
ran = sum(r[2] for r in rows)
print(f"  {label}: {ran} trials in {seconds:.1f} s = {3600 * ran / seconds:.0f} trials per hour (stored as {rows})")
PY
        fi
    }
    sweep "GPU, --gpu-jobs 1" 60 "$sweep_dir/k1.sqlite" cuda --gpu-jobs 1
    sweep "GPU, --gpu-jobs 4" 45 "$sweep_dir/k4.sqlite" cuda --gpu-jobs 4
    sweep "GPU, --gpu-jobs 8" 45 "$sweep_dir/k8.sqlite" cuda --gpu-jobs 8
    sweep "CPU, $cores cores" 75 "$sweep_dir/cpu.sqlite" cpu
    python3 - "$sweep_dir" <<'PY' 2>&1 | tee -a "$summary"
import os, sqlite3, sys
d = sys.argv[1]
def metrics(name):
    path = os.path.join(d, name)
    if not os.path.exists(path):
        return None
    return sqlite3.connect(path).execute("SELECT trial_id, name, value FROM metrics ORDER BY 1, 2").fetchall()
base = metrics("k1.sqlite")
for other in ["k4.sqlite", "k8.sqlite"]:
    m = metrics(other)
    if base and m:
        same = base == m
        print(f"  {other[:2].upper()} vs K1: {'the same bits in every stored metric' if same else 'DIFFERENT metric values'} ({len(m)} values)")
PY
else
    note "quick sweep: skipped ($carry/fashion-mnist missing: scripts/gpu-prepare.sh copies it)"
fi

step "peers on the GPU (PyTorch CUDA, JAX GPU)" 90 "$OUT/peers.jsonl" env PYTHONUNBUFFERED=1 python3 scripts/peers_gpu.py --points 10000 --quick
sed -n '/^framework/,$p' "$OUT/peers.jsonl" >>"$summary"
note "done in $SECONDS s"
