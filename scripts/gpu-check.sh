#!/usr/bin/env bash
# The ONE verification run of the CUDA backend on a GPU machine (no Rust toolchain there):
# runs the binaries scripts/gpu-prepare.sh left in target/gpu-carry/ and writes every
# result under $OUT (at most 8 files; ./gpu-out when OUT is unset). Typically about 6
# minutes; each step has its own limit (about 14 minutes if every step ran into its limit,
# so run it with the device tool's 600 s limit: what was written by then comes back):
#   1. nvidia-smi, and where the CUDA 13 libraries are (LD_LIBRARY_PATH is set from them)
#   2. the GPU tests: tests/cuda.rs (CUDA against CPU) and the backend's unit tests
#   3. occam bench train (every width, (1000,5) and (2000,3) among them, batch 256) and
#      bench jacobian with 10,000 points, on the GPU and on the CPU (all cores)
#   4. training throughput: one fig2-quick trial's training (width 200, depth 8, 4000
#      steps) on the GPU and on the CPU, as trainings per hour
#   5. the peers' workloads in PyTorch CUDA and JAX GPU (scripts/peers_gpu.py)
# Each step has its own time limit; a failing step is recorded and the run goes on.
set -uo pipefail
cd "$(dirname "$0")/.."
carry=target/gpu-carry
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
step() { # step NAME LIMIT_S LOGFILE COMMAND...: runs it, records pass/fail and seconds.
    local name=$1 limit=$2 log=$3; shift 3
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
step "tests/cuda.rs (CUDA vs CPU)" 150 "$tests" "$carry/cuda-tests" --nocapture --test-threads=1
step "backend unit tests" 60 "$tests" "$carry/lib-tests" compute::cuda --nocapture --test-threads=1
grep -E "^test |skipped|panicked|test result" "$tests" >>"$summary"

bench="$OUT/bench.jsonl"
step "bench train, GPU" 60 "$bench" "$carry/occam" --device cuda bench train
step "bench train, CPU ($cores threads)" 90 "$bench" "$carry/occam" --threads "$cores" bench train --quick
step "bench jacobian 10000 points, GPU" 60 "$bench" "$carry/occam" --device cuda bench jacobian --points 10000 --quick
step "bench jacobian 10000 points, CPU ($cores threads)" 100 "$bench" "$carry/occam" --threads "$cores" bench jacobian --points 10000 --quick
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
    for device in cuda cpu; do
        t0=$(date +%s.%N)
        if step "fig2-quick trial training (w200 d8, 4000 steps), $device" 80 "$trials" \
            "$carry/occam" --device "$device" --threads "$cores" train --data "fashion-mnist:$carry/fashion-mnist" \
            --width 200 --depth 8 --optimizer momentum --lr 0.005 --batch 256 --steps 4000 --out "/tmp/occam-trial-$device"; then
            seconds=$(python3 -c "import time; print(round(time.time() - $t0, 2))")
            note "  $device: $seconds s per training, $(python3 -c "print(round(3600 / $seconds, 1))") trainings per hour (measurement of the trial not included)"
        fi
    done
fi

step "peers on the GPU (PyTorch CUDA, JAX GPU)" 150 "$OUT/peers.jsonl" env PYTHONUNBUFFERED=1 python3 scripts/peers_gpu.py --points 10000 --quick
sed -n '/^framework/,$p' "$OUT/peers.jsonl" >>"$summary"
note "done in $SECONDS s"
