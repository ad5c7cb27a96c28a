"""Jacobian norms, logits and evaluation against float64 NumPy references, for all five
activations, with and without biases; inputs in float32/float64, C and F order, flat and
as images."""

import numpy as np
import pytest

import occam
from conftest import ACTIVATIONS, BREAKPOINTS, codes64, forward64, jacobian64, random_parts

DIMS = [12, 9, 7, 5]


def net_and_points(act, bias, seed=0, n=40):
    rng = np.random.default_rng(seed)
    # relu6 and the hard functions only show their upper pieces with larger pre-activations.
    scale = {"relu6": 4.0, "hard_tanh": 1.5, "hard_sigmoid": 1.5}.get(act, 1.0)
    weights, biases = random_parts(rng, DIMS, bias, scale)
    x = rng.standard_normal((n, DIMS[0]))
    labels = rng.integers(0, DIMS[-1], n)
    net = occam.Network.from_arrays(weights, act, biases=biases, input_shape=(3, 4, 1))
    return net, weights, biases, x, labels


@pytest.mark.parametrize("bias", [False, True], ids=["no-bias", "bias"])
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_jacobian_norms_match_float64_reference(act, bias):
    net, weights, biases, x, labels = net_and_points(act, bias)
    # The reference sees the same float32-rounded inputs Occam computes on.
    x32 = x.astype(np.float32).astype(np.float64)
    got = net.jacobian_norms(x, labels)
    assert set(got) == {"jacobian_norm", "logit_jacobian_norm", "predicted", "target_row_norm", "loss"}
    ref = jacobian64(act, weights, biases, x32)
    j = np.array([np.linalg.norm(r[0]) for r in ref])
    g = np.array([np.linalg.norm(r[1]) for r in ref])
    row = np.array([np.linalg.norm(r[0][labels[p]]) for p, r in enumerate(ref)])
    loss = np.array([-np.log(r[2][labels[p]]) for p, r in enumerate(ref)])
    pred = np.array([np.argmax(r[3]) for r in ref])
    for name, want in [("jacobian_norm", j), ("logit_jacobian_norm", g), ("target_row_norm", row), ("loss", loss)]:
        assert got[name].dtype == np.float64 and got[name].shape == (len(x),)
        np.testing.assert_allclose(got[name], want, rtol=2e-4, atol=1e-6, err_msg=name)
    np.testing.assert_array_equal(got["predicted"], pred)
    # Something actually varies: a bug giving constant or zero norms would not pass.
    assert np.ptp(j) > 0 and np.mean(g > 0) > 0.5
    # Every linear piece of the activation is visited, so each derivative case is tested.
    _, pre = forward64(act, weights, biases, x32)
    codes = np.concatenate([codes64(act, z).ravel() for z in pre])
    assert len(np.unique(codes)) == len(BREAKPOINTS[act]) + 1


def test_biases_change_the_jacobian():
    net_b, weights, biases, x, _ = net_and_points("relu", True)
    net_0 = occam.Network.from_arrays(weights, "relu", input_shape=(3, 4, 1))
    with_b = net_b.jacobian_norms(x)["logit_jacobian_norm"]
    without = net_0.jacobian_norms(x)["logit_jacobian_norm"]
    assert not np.allclose(with_b, without)
    assert set(net_0.jacobian_norms(x)) == {"jacobian_norm", "logit_jacobian_norm", "predicted"}


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_logits_and_evaluate_match_reference(act):
    net, weights, biases, x, labels = net_and_points(act, True)
    logits = net.logits(x)
    ref, _ = forward64(act, weights, biases, x.astype(np.float32))
    assert logits.dtype == np.float32 and logits.shape == (len(x), DIMS[-1])
    np.testing.assert_allclose(logits, ref, rtol=1e-4, atol=1e-5)
    e = net.evaluate(x, labels)
    shifted = ref - ref.max(axis=1, keepdims=True)
    ref_loss = np.mean(np.log(np.exp(shifted).sum(axis=1)) - shifted[np.arange(len(x)), labels])
    assert e["n"] == len(x) and e["correct"] == int(np.sum(ref.argmax(axis=1) == labels))
    assert e["accuracy"] == pytest.approx(e["correct"] / len(x))
    assert e["loss"] == pytest.approx(ref_loss, rel=1e-5)


def test_dtype_order_and_shape_give_identical_results():
    net, _, _, x, labels = net_and_points("hard_tanh", True)
    base = net.jacobian_norms(x.astype(np.float32), labels)
    variants = {
        "float64": x,
        "fortran-order": np.asfortranarray(x.astype(np.float32)),
        "fortran-order float64": np.asfortranarray(x),
        "strided view": np.repeat(x.astype(np.float32), 2, axis=1)[:, ::2],
        "images (n,h,w,c)": x.astype(np.float32).reshape(len(x), 3, 4, 1),
        "images (n,h,w)": x.reshape(len(x), 3, 4),
    }
    for name, xv in variants.items():
        got = net.jacobian_norms(xv, labels)
        for key in base:
            np.testing.assert_array_equal(got[key], base[key], err_msg=f"{name}: {key}")
    # F order of an image array is the real trap: the values must be read by index.
    images = x.astype(np.float32).reshape(len(x), 3, 4, 1)
    np.testing.assert_array_equal(net.logits(np.asfortranarray(images)), net.logits(images))


def test_threads_do_not_change_numbers():
    net, _, _, x, labels = net_and_points("relu", True, n=300)
    one = net.jacobian_norms(x, labels, threads=1)
    two = net.jacobian_norms(x, labels, threads=2)
    for key in one:
        np.testing.assert_array_equal(one[key], two[key])


def test_the_gil_is_released_while_computing():
    import threading
    import time

    rng = np.random.default_rng(1)
    weights, _ = random_parts(rng, [784, 512, 512, 10], False)
    net = occam.Network.from_arrays(weights, "relu")
    x = rng.standard_normal((3000, 784)).astype(np.float32)
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    t = threading.Thread(target=count)
    started = time.perf_counter()
    t.start()
    time.sleep(0.01)
    before = len(ticks)
    net.jacobian_norms(x, threads=1)
    elapsed = time.perf_counter() - started
    done.set()
    t.join()
    during = len(ticks) - before
    # With the GIL held the counting thread could not run at all during the call.
    assert elapsed > 0.05, "the computation was too quick to tell"
    assert during >= 10, f"only {during} ticks in {elapsed:.2f} s: the GIL was held"
