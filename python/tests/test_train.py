"""Training from Python: the network and metrics agree with evaluating it, runs are
reproducible, progress reaches a callback that can stop the run, Ctrl-C interrupts; the
README's quick-start is examples/quickstart.py verbatim."""

import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import occam
from conftest import REPO

SMALL = dict(data="fashion-mnist", width=16, depth=2, batch=32, steps=60, train_size=300, seed=3)


def test_train_returns_the_trained_network_and_its_metrics(fashion):
    net, metrics = occam.train(progress=False, **SMALL)
    assert net.dims == [784, 16, 10] and net.input_shape == (28, 28, 1) and net.activation == "relu"
    assert metrics["status"] == "completed" and metrics["steps"] == 60
    X, y = fashion
    e = net.evaluate(X, y)
    assert e["accuracy"] == metrics["test_accuracy"] and e["loss"] == pytest.approx(metrics["test_loss"], rel=1e-12)
    assert 0.2 < metrics["test_accuracy"] < 1.0
    again, _ = occam.train(progress=False, threads=1, **SMALL)
    for a, b in zip(net.weights, again.weights):
        np.testing.assert_array_equal(a, b)


def test_train_with_biases_gives_the_command_lines_network(fashion, occam_binary, tmp_path):
    from conftest import run_occam

    config = dict(SMALL, bias=True)
    net, metrics = occam.train(progress=False, threads=1, **config)
    assert net.biases is not None and len(net.biases) == 2
    toml = "\n".join(f"{k} = {v!r}".replace("True", "true").replace("'", '"') for k, v in config.items())
    (tmp_path / "config.toml").write_text(toml + "\n")
    run_occam(occam_binary, "train", "--config", str(tmp_path / "config.toml"), "--out", str(tmp_path / "run"),
              "--threads", "1", "--quiet")
    cli = occam.Network.from_safetensors(tmp_path / "run" / "model.safetensors")
    for a, b in zip(cli.weights + cli.biases, net.weights + net.biases):
        np.testing.assert_array_equal(a, b)


def test_progress_reaches_a_callback_that_can_stop_the_run(fashion):
    seen = []
    occam.train(progress=lambda step, total, loss: seen.append((step, total, loss)), **SMALL)
    steps = [s for s, _, _ in seen]
    assert steps[-1] == 60 and all(t == 60 for _, t, _ in seen) and steps == sorted(steps)
    assert all(l is None or np.isfinite(l) for _, _, l in seen) and seen[-1][2] is not None

    calls = []

    def stop(step, total, loss):
        calls.append(step)
        return False

    with pytest.raises(occam.CancelledError, match=r"training cancelled after \d+ of 200000 steps"):
        occam.train(progress=stop, **dict(SMALL, steps=200_000))
    assert len(calls) == 1

    def broken(step, total, loss):
        raise RuntimeError("from the callback")

    with pytest.raises(RuntimeError, match="from the callback"):
        occam.train(progress=broken, **SMALL)


def test_ctrl_c_interrupts_training(fashion):
    script = (
        "import occam, sys\n"
        "def progress(step, total, loss):\n"
        "    if step == 1: print('started', flush=True)\n"
        "occam.train(data='fashion-mnist', width=64, depth=2, steps=1000000, train_size=500, progress=progress)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([child.stdout], [], [], 60)
        assert ready and child.stdout.readline().strip() == "started", "training reported no progress in 60 s"
        started = time.monotonic()
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert time.monotonic() - started < 30
    assert "KeyboardInterrupt" in err and "panicked" not in err, err
    assert child.returncode != 0


def test_readme_quickstart_is_the_example_script():
    readme = (REPO / "README.md").read_text()
    example = (REPO / "examples" / "quickstart.py").read_text()
    assert f"```python\n{example}```" in readme, "README's Python quick-start differs from examples/quickstart.py"
