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
cargo test --release --locked 2>&1 | tee "$log"
# One closing line for the whole suite (cargo prints one per test binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
