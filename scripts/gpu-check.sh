#!/usr/bin/env bash
# The ONE verification run of the CUDA backend on a GPU machine (no Rust toolchain there):
# runs the binaries scripts/gpu-prepare.sh left in target/gpu-carry/ and writes every
# result under $OUT (at most 8 files; ./gpu-out when OUT is unset). The whole script stays
# within TOTAL_S seconds (default 540, under the device tool's 600 s per command): each
# step has its own limit, the limits add up to about 490 s, and no step starts (or runs)
# past TOTAL_S:
#   1. nvidia-smi, glibc, and the CUDA 13 libraries chosen (NVRTC's version next to the
#      driver's CUDA version; LD_LIBRARY_PATH is set from them, no empty entries)
#   2. the GPU tests with OCCAM_REQUIRE_GPU=1 (a GPU that does not open fails them, it is
#      not a skip): tests/cuda.rs (CUDA against CPU, sweeps on the GPU) and the backend's
#      unit tests (80 + 20 s)
#   3. occam bench train (every width, (1000,5) and (2000,3) among them, batch 256) and
#      bench jacobian with 10,000 points, on the GPU and on the CPU (all cores) (125 s)
#   4. the peers' workloads in PyTorch CUDA and JAX GPU (scripts/peers_gpu.py, with the
#      original LD_LIBRARY_PATH) (80 s)
#   5. a real quick sweep (16 trials: widths 100 and 200, depth 4, 2000 steps at batch
#      256, Jacobian norms of 1000 test points; on the Fashion-MNIST copy) with
#      `sweep run --device cuda --gpu-jobs K` for K = 1, 4, 8 and on the CPU (all cores),
#      as trials per hour measured (from the trials stored, also when a run reaches its
#      limit); whether K = 4 and 8 stored the same bits as K = 1; the device each store
#      recorded (50 + 35 + 35 + 60 s)
# A failing step is recorded and the run goes on.
set -uo pipefail
cd "$(dirname "$0")/.."
carry=target/gpu-carry
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
summary="$OUT/summary.txt"
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
TOTAL_S=${TOTAL_S:-540}
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

[ -f "$carry/occam" ] || { note "error: $carry/occam missing: run scripts/gpu-prepare.sh first and carry $carry"; exit 1; }
# A carried folder may lose the executable bits; where it cannot be changed, run a copy.
if ! chmod +x "$carry/occam" "$carry"/*-tests 2>/dev/null; then
    rm -rf /tmp/occam-gpu-carry && cp -r "$carry" /tmp/occam-gpu-carry && carry=/tmp/occam-gpu-carry
    chmod +x "$carry/occam" "$carry"/*-tests
fi
cores=$(nproc)
{ nvidia-smi; echo; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; } >"$OUT/nvidia-smi.txt" 2>&1

# The CUDA 13 libraries: libcuda from the driver; NVRTC and cuBLAS from a toolkit or from
# the Python packages nvidia-cuda-nvrtc / nvidia-cublas (site-packages of the system, of
# pip --user, of conda and of venvs). NVRTC: one no newer than the driver's CUDA version
# first, a toolkit's before a pip package's, then the newest. cudarc asks the loader for
# the plain names (libnvrtc.so, libcublas.so, libcuda.so) before the versioned ones, so a
# directory of links by the plain names, first on LD_LIBRARY_PATH, makes the chosen files
# the ones loaded (and never a toolkit's stub libcuda.so). The peers keep the original
# LD_LIBRARY_PATH (PyTorch and JAX bring their own libraries).
original_ld=${LD_LIBRARY_PATH:-}
driver_cuda=$(nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' | head -n 1 | awk '{print $3}')
libs="$OUT/libraries.txt"
python3 - "${driver_cuda:-}" >"$libs" 2>&1 <<'PY'
import glob, os, site, subprocess, sys
driver = tuple(int(v) for v in sys.argv[1].split(".")) if sys.argv[1] else None
toolkits = sorted({d for pat in ["/usr/local/cuda*/lib64", "/usr/local/cuda*/targets/*/lib", "/opt/nvidia/*/cuda*/lib64",
                                 "/opt/conda/lib"] for d in glob.glob(pat)})
sites = set(site.getsitepackages() + [site.getusersitepackages()])
for pat in ["/usr/local/lib/python3*/dist-packages", "/usr/lib/python3*/dist-packages", "/usr/local/lib/python3*/site-packages",
            "/opt/conda/lib/python3*/site-packages", "/opt/*/lib/python3*/site-packages", "/root/.venv*/lib/python3*/site-packages",
            os.path.expanduser("~/.local/lib/python3*/site-packages"), os.path.expanduser("~/*/lib/python3*/site-packages")]:
    sites.update(glob.glob(pat))
if os.environ.get("VIRTUAL_ENV"):
    sites.update(glob.glob(os.environ["VIRTUAL_ENV"] + "/lib/python3*/site-packages"))
pip_dirs = sorted({d for s in sites for d in glob.glob(s + "/nvidia/cu13/lib") + glob.glob(s + "/nvidia/*/lib")})
def found(name):  # (path, from a toolkit?) of every copy of `name`, stubs left out
    hits = [(d + "/" + name, True) for d in toolkits] + [(d + "/" + name, False) for d in pip_dirs]
    return [(p, t) for p, t in hits if os.path.exists(p) and "/stubs/" not in p]
def nvrtc_version(path):  # asked in a process of its own: one NVRTC per process (same soname)
    code = ("import ctypes, sys; l = ctypes.CDLL(sys.argv[1]); a, b = ctypes.c_int(), ctypes.c_int(); "
            "l.nvrtcVersion(ctypes.byref(a), ctypes.byref(b)); print(a.value, b.value)")
    try:
        out = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True, timeout=20).stdout.split()
        return (int(out[0]), int(out[1]))
    except Exception:
        return None
nvrtcs = [(p, t, nvrtc_version(p)) for p, t in found("libnvrtc.so.13")]
for p, t, v in nvrtcs:
    print(f"candidate NVRTC {'.'.join(map(str, v)) if v else '?'} ({'toolkit' if t else 'pip'}): {p}")
usable = [n for n in nvrtcs if n[2]]
usable.sort(key=lambda n: (driver is not None and n[2] > driver, not n[1], tuple(-x for x in n[2])))
cublas = found("libcublas.so.13")
if usable:
    path, _, v = usable[0]
    print(f"chosen nvrtc {path} {v[0]}.{v[1]}")
    same = [c for c in cublas if os.path.dirname(c[0]) == os.path.dirname(path)]
    cublas = same + [c for c in cublas if c not in same]
if cublas:
    print(f"chosen cublas {cublas[0][0]}")
cuda = subprocess.run(["sh", "-c", "ldconfig -p | awk '/libcuda.so.1 /{print $NF}' | head -n 1"], capture_output=True, text=True).stdout.strip()
if not cuda:
    cuda = next((p for d in ["/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib64", "/usr/lib/x86_64-linux-gnu"]
                 for p in [d + "/libcuda.so.1"] if os.path.exists(p)), "")
if cuda:
    print(f"chosen cuda {os.path.realpath(cuda) if os.path.exists(cuda) else cuda}")
PY
chosen() { awk -v k="$1" '$1 == "chosen" && $2 == k {print $3}' "$libs"; }
nvrtc_lib=$(chosen nvrtc) cublas_lib=$(chosen cublas) cuda_lib=$(chosen cuda)
nvrtc_version=$(awk '$1 == "chosen" && $2 == "nvrtc" {print $4}' "$libs")
shim=/tmp/occam-cuda-libs
rm -rf "$shim" && mkdir -p "$shim"
dirs=("$shim")
[ -n "$nvrtc_lib" ] && ln -s "$nvrtc_lib" "$shim/libnvrtc.so" && dirs+=("$(dirname "$nvrtc_lib")")
[ -n "$cublas_lib" ] && ln -s "$cublas_lib" "$shim/libcublas.so" && dirs+=("$(dirname "$cublas_lib")")
[ -n "$cuda_lib" ] && ln -s "$cuda_lib" "$shim/libcuda.so" && dirs+=("$(dirname "$cuda_lib")")
[ -n "$original_ld" ] && dirs+=("$original_ld")
LD_LIBRARY_PATH=$(printf '%s\n' "${dirs[@]}" | awk '!seen[$0]++' | paste -sd: -)
export LD_LIBRARY_PATH
note "driver: CUDA ${driver_cuda:-unknown}; NVRTC ${nvrtc_version:-not found}: ${nvrtc_lib:-none}"
note "cuBLAS: ${cublas_lib:-not found}; libcuda: ${cuda_lib:-not found}"
note "LD_LIBRARY_PATH=$LD_LIBRARY_PATH (the peers run with the original: ${original_ld:-unset})"
note "glibc: $(ldd --version 2>/dev/null | head -n 1) (occam needs $(objdump -T "$carry/occam" 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -Vu | tail -n 1 || echo 'GLIBC_2.35'))"
note "gpu: $(nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader 2>/dev/null | head -n 1); cpu cores: $cores"

case $carry in /*) ;; *) carry="$PWD/$carry" ;; esac
export OCCAM_BIN="$carry/occam"
tests="$OUT/tests.log"
step "tests/cuda.rs (CUDA vs CPU)" 80 "$tests" env OCCAM_REQUIRE_GPU=1 "$carry/cuda-tests" --nocapture --test-threads=1
step "backend unit tests" 20 "$tests" env OCCAM_REQUIRE_GPU=1 "$carry/lib-tests" compute::cuda --nocapture --test-threads=1
grep -E "^test |skipped|panicked|test result" "$tests" >>"$summary"

bench="$OUT/bench.jsonl"
step "bench train, GPU" 35 "$bench" "$carry/occam" --device cuda bench train
step "bench train, CPU ($cores threads)" 25 "$bench" "$carry/occam" --threads "$cores" bench train --quick
step "bench jacobian 10000 points, GPU" 25 "$bench" "$carry/occam" --device cuda bench jacobian --points 10000 --quick
step "bench jacobian 10000 points, CPU ($cores threads)" 40 "$bench" "$carry/occam" --threads "$cores" bench jacobian --points 10000 --quick
cat >/tmp/occam-bench-table.py <<'PY'
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r.get("workload") in ("train", "jacobian"):
        rate, unit = (r["steps_per_s"], "steps/s") if r["workload"] == "train" else (r["unit_value"], r["unit"])
        print(f"{r['device']:<8} {r['workload']:<9} {json.dumps(r['config']):<40} {r['median_s'] * 1e3:10.3f} ms {rate:12.1f} {unit}")
PY
grep -E '^\{' "$bench" | python3 /tmp/occam-bench-table.py >>"$summary" 2>&1

# The peers bring their own CUDA libraries: the original LD_LIBRARY_PATH, not ours.
if [ -n "$original_ld" ]; then peers_env=(env LD_LIBRARY_PATH="$original_ld"); else peers_env=(env -u LD_LIBRARY_PATH); fi
step "peers on the GPU (PyTorch CUDA, JAX GPU)" 80 "$OUT/peers.jsonl" "${peers_env[@]}" PYTHONUNBUFFERED=1 \
    XLA_PYTHON_CLIENT_PREALLOCATE=false python3 scripts/peers_gpu.py --points 10000 --quick
sed -n '/^framework/,$p' "$OUT/peers.jsonl" >>"$summary"
grep '"type": "error"' "$OUT/peers.jsonl" >>"$summary"

trials="$OUT/trials.txt"
if [ -d "$carry/fashion-mnist" ]; then
    sweep_dir=/tmp/occam-gpu-sweep
    rm -rf "$sweep_dir" && mkdir -p "$sweep_dir"
    cat >"$sweep_dir/spec.toml" <<TOML
name = "gpu-check"
description = "gpu-check.sh: 16 small trials for trials per hour"
[axes]
data = ["fashion-mnist:$carry/fashion-mnist"]
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
        step "quick sweep (16 trials), $label" "$limit" "$trials" \
            "$carry/occam" --threads "$cores" --device "$device" sweep run "$sweep_dir/spec.toml" --store "$store" --quiet "$@"
        # Trials per hour from the trials stored, also when the run reached its limit.
        [ -f "$store" ] && python3 - "$store" "$t0" "$label" <<'PY' | tee -a "$summary"
import sqlite3, sys, time
store, t0, label = sys.argv[1], float(sys.argv[2]), sys.argv[3]
seconds = time.time() - t0
rows = sqlite3.connect(store).execute("SELECT coalesce(device, 'cpu'), status, count(*) FROM trials GROUP BY 1, 2").fetchall()
ran = sum(r[2] for r in rows)
print(f"  {label}: {ran} of 16 trials in {seconds:.1f} s = {3600 * ran / seconds:.0f} trials per hour (stored as {rows})")
PY
    }
    sweep "GPU, --gpu-jobs 1" 50 "$sweep_dir/k1.sqlite" cuda --gpu-jobs 1
    sweep "GPU, --gpu-jobs 4" 35 "$sweep_dir/k4.sqlite" cuda --gpu-jobs 4
    sweep "GPU, --gpu-jobs 8" 35 "$sweep_dir/k8.sqlite" cuda --gpu-jobs 8
    sweep "CPU, $cores cores" 60 "$sweep_dir/cpu.sqlite" cpu
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
    if base and m:  # the trials both stored (a run stopped at its limit stores fewer)
        common = {r[0] for r in base} & {r[0] for r in m}
        a, b = [r for r in base if r[0] in common], [r for r in m if r[0] in common]
        same = a == b
        print(f"  {other[:2].upper()} vs K1: {'the same bits in every stored metric' if same else 'DIFFERENT metric values'} "
              f"({len(a)} values of {len(common)} trials both stored)")
PY
else
    note "quick sweep: skipped ($carry/fashion-mnist missing: scripts/gpu-prepare.sh copies it)"
fi

note "done in $SECONDS s"
