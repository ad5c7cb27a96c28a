"""Float64 NumPy references for the Python package's tests, and paths to the repository's
binary and data."""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
ACTIVATIONS = ("relu", "relu6", "hard_tanh", "hard_sigmoid", "tanh")
BREAKPOINTS = {
    "relu": (0.0,),
    "tanh": (0.0,),
    "relu6": (0.0, 6.0),
    "hard_tanh": (-1.0, 1.0),
    "hard_sigmoid": (-0.5, 0.5),
}


def phi(act, z):
    if act == "relu":
        return np.maximum(z, 0.0)
    if act == "relu6":
        return np.clip(z, 0.0, 6.0)
    if act == "hard_tanh":
        return np.clip(z, -1.0, 1.0)
    if act == "hard_sigmoid":
        return np.clip(z + 0.5, 0.0, 1.0)
    if act == "tanh":
        return np.tanh(z)
    raise ValueError(act)


def dphi(act, z):
    """The derivative, 0 at breakpoints (PyTorch's convention, as Occam's)."""
    if act == "tanh":
        return 1.0 - np.tanh(z) ** 2
    lo, hi = {"relu": (0.0, np.inf), "relu6": (0.0, 6.0), "hard_tanh": (-1.0, 1.0), "hard_sigmoid": (-0.5, 0.5)}[act]
    return ((z > lo) & (z < hi)).astype(np.float64)


def random_parts(rng, dims, bias, scale=1.0):
    """float32 weights [out, in] (and biases) of a network with these dims."""
    weights = [
        (rng.standard_normal((dims[i + 1], dims[i])) * scale * np.sqrt(2.0 / dims[i])).astype(np.float32)
        for i in range(len(dims) - 1)
    ]
    biases = [(rng.standard_normal(dims[i + 1]) * 0.5).astype(np.float32) for i in range(len(dims) - 1)] if bias else None
    return weights, biases


def forward64(act, weights, biases, x):
    """Logits and every hidden layer's pre-activations, in float64. x: (n, d)."""
    a = np.asarray(x, dtype=np.float64)
    pre = []
    for i, w in enumerate(weights):
        z = a @ np.asarray(w, dtype=np.float64).T
        if biases is not None:
            z = z + np.asarray(biases[i], dtype=np.float64)
        if i + 1 < len(weights):
            pre.append(z)
            a = phi(act, z)
        else:
            return z, pre


def jacobian64(act, weights, biases, x):
    """Per point: ‖J‖_F, ‖G‖_F, and the softmax probabilities, where G = ∂f/∂x and
    J = (diag σ − σσᵀ) G, all in float64."""
    logits, pre = forward64(act, weights, biases, x)
    out = []
    for p in range(len(x)):
        g = np.asarray(weights[-1], dtype=np.float64)
        for layer in range(len(weights) - 2, -1, -1):
            g = (g * dphi(act, pre[layer][p])) @ np.asarray(weights[layer], dtype=np.float64)
        s = np.exp(logits[p] - logits[p].max())
        s /= s.sum()
        j = (np.diag(s) - np.outer(s, s)) @ g
        out.append((j, g, s, logits[p]))
    return out


def codes64(act, pre):
    """Region code of every neuron: the number of breakpoints strictly below z (tanh: sign)."""
    return sum((pre > b).astype(np.int64) for b in BREAKPOINTS[act])


def sampled_transitions64(act, weights, biases, points):
    """Code changes between consecutive points around the closed loop, per hidden layer."""
    _, pre = forward64(act, weights, biases, points)
    per_layer = []
    for z in pre:
        c = codes64(act, z)
        per_layer.append(int(np.abs(np.diff(np.vstack([c, c[:1]]), axis=0)).sum()))
    return per_layer


@pytest.fixture(scope="session")
def occam_binary():
    """The command-line binary built by the same checkout (cargo build --release)."""
    built = REPO / "target" / "release" / "occam"
    if built.exists():
        return str(built)
    found = shutil.which("occam")
    if found is None:
        pytest.skip("the occam binary is not built: run cargo build --release")
    return found


def run_occam(binary, *args, check=True):
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"occam {' '.join(args)} failed: {result.stderr}")
    return result


@pytest.fixture(scope="session")
def fashion():
    """Fashion-MNIST's test split (normalized) — real data, as the Rust tests use."""
    import occam

    try:
        return occam.load_dataset("fashion-mnist", "test")
    except occam.OccamError as e:
        pytest.skip(f"Fashion-MNIST is not installed: {e}")
