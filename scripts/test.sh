#!/usr/bin/env bash
# Runs the whole test suite. Starts a private single-node Slurm cluster for the Slurm
# integration test (scripts/slurm-local.sh, state under a temporary directory) and stops
# exactly the daemons it started when the tests end, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"

export SLURM_BASE="$(mktemp -d /tmp/occam-slurm.XXXXXX)"
chmod 755 "$SLURM_BASE"   # munged refuses a socket whose directories are not traversable by all
export SLURM_CONF="$SLURM_BASE/etc/slurm.conf"
cleanup() { bash scripts/slurm-local.sh stop >/dev/null 2>&1 || true; rm -rf "$SLURM_BASE"; }
trap cleanup EXIT
bash scripts/slurm-local.sh start

log="$SLURM_BASE/test.log"
status=0
root=$(pwd)
# With the `cuda` feature, as setup.sh builds: tests/cuda.rs and the backend's unit tests
# compare with the CPU where a GPU opens and print a skip line elsewhere.
cargo test --release --locked --features cuda 2>&1 | tee "$log" || status=1

# The Python binding: lint it (the root's clippy covers only the library and binary), then
# the pytest suite and every example script against the wheel setup.sh installed in .venv.
cargo clippy --release --locked -q -p occam-python --no-deps -- -D warnings || status=1
if [ -x .venv/bin/python ]; then
    .venv/bin/python -m pytest python/tests -q -p no:cacheprovider -rs 2>&1 | tee -a "$log" || status=1
    for example in examples/*.py; do
        out="$SLURM_BASE/example.log"
        # The examples call `occam` (setup.sh links it); this checkout's binary comes first.
        if (cd "$SLURM_BASE" && PATH="$root/target/release:$PATH" timeout 300 "$root/.venv/bin/python" "$root/$example") >"$out" 2>&1; then
            echo "example $example: passed" | tee -a "$log"
        else
            cat "$out"
            echo "example $example: failed" | tee -a "$log"
            status=1
        fi
    done
else
    echo "error: .venv/bin/python is missing: run scripts/setup.sh, which builds and installs the Python package" >&2
    echo "python: 1 failed" >>"$log"
    status=1
fi

# One closing line for the whole suite: cargo prints one line per test binary, pytest one
# summary line ("N passed, M failed, K skipped in S s"), and each example one line.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     /^(=+ )?[0-9]+ (passed|failed|skipped|errors?)[ ,].* in [0-9.]+s/ {
         for (i = 2; i <= NF; i++) { w = $i; sub(/,$/, "", w); if (w == "passed") p += $(i-1); if (w == "failed" || w ~ /^errors?$/) f += $(i-1) } }
     /^example .*: passed$/ { p++ }
     /^example .*: failed$/ { f++ }
     /^python: 1 failed$/ { f++ }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit $status
