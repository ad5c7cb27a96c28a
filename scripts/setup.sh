#!/usr/bin/env bash
# Installs everything Occam needs on a fresh Debian machine (as root) and builds the
# release binary. Idempotent: packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."

# Fashion-MNIST (real data for tests and demos), a font for figure text, Slurm + munge for
# the cluster tests (scripts/slurm-local.sh), procps for pkill.
packages=(dataset-fashion-mnist fonts-dejavu-core slurmctld slurmd slurm-client munge procps ca-certificates)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || { echo "error: cargo (Rust toolchain) not found; install it with rustup" >&2; exit 1; }

cargo build --release --locked
# Put `occam` on PATH, so the README's commands work as written.
ln -sf "$(pwd)/target/release/occam" /usr/local/bin/occam
echo "built: $(pwd)/target/release/occam (linked as /usr/local/bin/occam)"
