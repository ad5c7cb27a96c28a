"""Inputs a notebook user passes that used to surface as a raw JSON, Overflow or Type
error, a wrapped label value, a silently dropped layer, a NaN posing as a number or an
unpicklable network: each is now either accepted as meant or refused by name."""

import copy
import pickle

import numpy as np
import pytest

import occam

from test_errors import raises


def tiny(bias=False):
    rng = np.random.default_rng(3)
    weights = [rng.standard_normal((5, 6)), rng.standard_normal((3, 5))]
    biases = [rng.standard_normal(5), rng.standard_normal(3)] if bias else None
    return occam.Network.from_arrays(weights, "relu", biases=biases, input_shape=(1, 2, 3))


@pytest.mark.parametrize("bias", [False, True])
def test_a_network_pickles_and_deep_copies_to_the_same_bits(bias):
    net = tiny(bias)
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    for clone in (pickle.loads(pickle.dumps(net)), copy.deepcopy(net)):
        assert clone.dims == net.dims and clone.input_shape == net.input_shape
        assert clone.activation == net.activation
        np.testing.assert_array_equal(clone.logits(x), net.logits(x))
        assert (clone.biases is None) == (not bias)


def test_input_shape_is_checked_by_name():
    weights = tiny().weights
    with raises(occam.InvalidInputError, ValueError, "input_shape[0]=-2", "1 to"):
        occam.Network.from_arrays(weights, "relu", input_shape=(-2, -3, 1))
    with raises(occam.InvalidInputError, ValueError, "input_shape=(2, 3)", "(height, width, channels)"):
        occam.Network.from_arrays(weights, "relu", input_shape=(2, 3))
    with raises(occam.InvalidInputError, ValueError, "input_shape[0]=2.0", "whole number"):
        occam.Network.from_arrays(weights, "relu", input_shape=(2.0, 3, 1))
    with raises(occam.InvalidInputError, ValueError, "input_shape[1]=-1"):
        occam.trajectories.translate(np.ones(6), (2, -1, 3))
    # NumPy integers are whole numbers.
    net = occam.Network.from_arrays(weights, "relu", input_shape=np.array([1, 2, 3]))
    assert net.input_shape == (1, 2, 3)


def test_labels_beyond_int64_are_reported_as_given():
    net = tiny()
    x = np.zeros((3, 6), np.float32)
    with raises(occam.InvalidInputError, ValueError, "label 18446744073709551615 at index 2"):
        net.evaluate(x, np.array([0, 1, 2**64 - 1], dtype=np.uint64))
    with raises(occam.InvalidInputError, ValueError, "label 1e+20 at index 1"):
        net.evaluate(x, np.array([0.0, 1e20, 1.0]))
    # Small unsigned labels are fine.
    assert net.evaluate(x, np.array([0, 1, 2], dtype=np.uint8))["n"] == 3


def test_from_torch_refuses_two_keys_for_one_layer():
    rng = np.random.default_rng(1)
    state = {"0.weight": rng.standard_normal((4, 6)), "02.weight": rng.standard_normal((5, 4)),
             "2.weight": rng.standard_normal((3, 4))}
    with raises(occam.InvalidInputError, ValueError, "'02.weight'", "'2.weight'", "layer 2's weight"):
        occam.Network.from_torch(state, "relu")


def test_train_takes_numpy_scalars_and_names_bad_values():
    net, metrics = occam.train(progress=False, data="fashion-mnist", width=np.int64(8), depth=2,
                               steps=np.int32(3), batch=16, lr=np.float32(0.01), train_size=64, seed=np.uint8(4))
    same, _ = occam.train(progress=False, data="fashion-mnist", width=8, depth=2, steps=3, batch=16,
                          lr=float(np.float32(0.01)), train_size=64, seed=4)
    for a, b in zip(net.weights, same.weights):
        np.testing.assert_array_equal(a, b)
    assert metrics["steps"] == 3
    with raises(occam.InvalidInputError, ValueError, "lr=nan", "not a finite number"):
        occam.train(progress=False, data="fashion-mnist", lr=float("nan"))
    with raises(occam.InvalidInputError, ValueError, "train configuration: width: invalid type: floating point"):
        occam.train(progress=False, data="fashion-mnist", width=16.0)
    with raises(occam.InvalidInputError, ValueError, "seed=18446744073709551616", "out of range"):
        occam.train(progress=False, data="fashion-mnist", seed=2**64)


def test_a_diverged_run_reports_missing_losses_as_none():
    _, metrics = occam.train(progress=False, data="fashion-mnist", width=8, depth=2, steps=20, batch=16,
                             lr=1e30, train_size=64, seed=1)
    assert metrics["status"] == "diverged"
    assert metrics["train_loss"] is None
    assert all(not (isinstance(v, float) and np.isnan(v)) for v in metrics.values()), metrics
