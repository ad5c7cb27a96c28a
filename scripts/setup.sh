#!/usr/bin/env bash
# Installs everything Occam needs on a fresh Debian machine (as root), builds the release
# binary, and builds and installs the Python package `occam` into .venv at the repository
# root. Idempotent: packages already present are not fetched again.
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

# With the CUDA backend (docs/CUDA.md): the CUDA libraries load at run time, so this builds
# and runs on machines without a GPU; `--device cuda` then says what is missing.
cargo build --release --locked --features cuda
# Put `occam` on PATH, so the README's commands work as written.
ln -sf "$(pwd)/target/release/occam" /usr/local/bin/occam
echo "built: $(pwd)/target/release/occam (linked as /usr/local/bin/occam)"

# The Python package: a virtual environment at the repository root with pinned tools, and
# the wheel built from python/ (abi3, one wheel for CPython 3.9 and later) installed into
# it, so that `.venv/bin/python -c "import occam"` works. The wheel shares target/ with
# the library, so the library is not compiled twice.
python_packages=(maturin==1.16.0 numpy==2.4.6 pytest==9.2.0 pandas==3.1.1)
command -v python3 >/dev/null 2>&1 || { echo "error: python3 not found; install CPython 3.9 or later with venv and pip" >&2; exit 1; }
[ -x .venv/bin/python ] || python3 -m venv .venv
wanted=()
for spec in "${python_packages[@]}"; do
    # `pip show` fails for a package that is not installed: that is "no version", not an error.
    have=$({ .venv/bin/python -m pip show "${spec%%==*}" 2>/dev/null || true; } | sed -n 's/^Version: //p')
    [ "$have" = "${spec##*==}" ] || wanted+=("$spec")
done
if [ ${#wanted[@]} -gt 0 ]; then
    echo "installing into .venv: ${wanted[*]}"
    .venv/bin/python -m pip install -q --disable-pip-version-check "${wanted[@]}"
fi
rm -f target/wheels/occam-*.whl
.venv/bin/maturin build --release --locked -q -m python/Cargo.toml -i .venv/bin/python --out target/wheels 2>&1 \
    | grep -v -E '^(📦|🔗|🐍|💻|📡|✏️|🍹|📖|⚠️ +Warning: CPython 3\.[0-9]+ is not yet supported)' >&2 || true
wheel=$(ls target/wheels/occam-*.whl 2>/dev/null | head -n 1)
[ -n "$wheel" ] || { echo "error: building the Python wheel failed (run: .venv/bin/maturin build --release -m python/Cargo.toml)" >&2; exit 1; }
.venv/bin/python -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
.venv/bin/python -c "import occam" || { echo "error: the installed Python package does not import" >&2; exit 1; }
echo "python: occam installed into $(pwd)/.venv ($(basename "$wheel"))"
