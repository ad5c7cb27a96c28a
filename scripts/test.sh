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

cargo test --release --locked
