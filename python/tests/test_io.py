"""Saving and loading: round trips bit for bit (with and without biases), PyTorch
state_dict ordering by layer index (`10.weight` after `2.weight`) from a dict and from a
safetensors file, and the optional comparison with torch.func."""

import json
import struct

import numpy as np
import pytest

import occam
from conftest import ACTIVATIONS, jacobian64, random_parts


@pytest.mark.parametrize("bias", [False, True], ids=["no-bias", "bias"])
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_save_and_load_round_trip(tmp_path, act, bias):
    rng = np.random.default_rng(3)
    weights, biases = random_parts(rng, [12, 9, 4], bias)
    net = occam.Network.from_arrays(weights, act, biases=biases, input_shape=(2, 2, 3))
    path = tmp_path / "net.safetensors"
    net.save(path)
    back = occam.Network.from_safetensors(path)
    assert back.activation == act and back.dims == [12, 9, 4] and back.input_shape == (2, 2, 3)
    for a, b in zip(back.weights, weights):
        np.testing.assert_array_equal(a, b)
    if bias:
        for a, b in zip(back.biases, biases):
            np.testing.assert_array_equal(a, b)
    else:
        assert back.biases is None
    x = rng.standard_normal((7, 12))
    for key, value in net.jacobian_norms(x).items():
        np.testing.assert_array_equal(back.jacobian_norms(x)[key], value)


def sequential_state(rng, layers=6, bias=False):
    """An nn.Sequential(Linear, ReLU, Linear, …) state_dict: Linear layers at 0, 2, …, 10."""
    dims = [5, 7, 6, 8, 4, 9, 3][: layers + 1]
    weights, biases = random_parts(rng, dims, bias)
    state = {}
    for i, w in enumerate(weights):
        state[f"{2 * i}.weight"] = w
        if bias:
            state[f"{2 * i}.bias"] = biases[i]
    return state, weights, biases


def test_state_dict_layers_are_ordered_by_index_not_by_string():
    state, weights, biases = sequential_state(np.random.default_rng(4), bias=True)
    assert sorted(state)[:3] == ["0.bias", "0.weight", "10.bias"]  # string order would be wrong
    # Keys given in string order must still come out in layer order.
    net = occam.Network.from_torch(dict(sorted(state.items())), "relu")
    assert net.dims == [5, 7, 6, 8, 4, 9, 3]
    for a, b in zip(net.weights, weights):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(net.biases, biases):
        np.testing.assert_array_equal(a, b)


def write_safetensors(path, tensors, metadata=None):
    """A safetensors file written by hand, as safetensors.torch.save_file writes one."""
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        data = np.ascontiguousarray(array, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def test_a_state_dict_file_loads_in_layer_order(tmp_path):
    state, weights, _ = sequential_state(np.random.default_rng(5))
    path = tmp_path / "torch.safetensors"
    write_safetensors(path, dict(sorted(state.items())))
    net = occam.Network.from_safetensors(path, activation="tanh")
    assert net.dims == [5, 7, 6, 8, 4, 9, 3] and net.activation == "tanh" and net.input_shape is None
    for a, b in zip(net.weights, weights):
        np.testing.assert_array_equal(a, b)
    # Without a recorded input shape, flat points and any image shape of 5 values fit.
    x = np.random.default_rng(6).standard_normal((4, 5))
    np.testing.assert_array_equal(net.logits(x), net.logits(x.reshape(4, 1, 5, 1)))
    with pytest.raises(occam.FileFormatError, match=r"torch\.safetensors: metadata has no 'activation'"):
        occam.Network.from_safetensors(path)


def test_in_out_kernels_load_with_the_layout_option(tmp_path):
    rng = np.random.default_rng(7)
    weights, _ = random_parts(rng, [6, 5, 3], False)
    path = tmp_path / "flax.safetensors"
    write_safetensors(path, {f"{i}.weight": w.T for i, w in enumerate(weights)})
    net = occam.Network.from_safetensors(path, activation="relu", layout="in-out")
    for a, b in zip(net.weights, weights):
        np.testing.assert_array_equal(a, b)


def test_from_arrays_suggests_transposing_a_kernel():
    rng = np.random.default_rng(8)
    weights, _ = random_parts(rng, [6, 5, 3], False)
    with pytest.raises(occam.InvalidInputError, match=r"weights\[1\].*transpose"):
        occam.Network.from_arrays([weights[0], weights[1].T], "relu")


def test_from_torch_matches_torch_func_in_float64():
    torch = pytest.importorskip("torch", reason="torch is not installed (set-up does not install it): the torch.func comparison is skipped")
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(20, 16), torch.nn.Tanh(), torch.nn.Linear(16, 12), torch.nn.Tanh(), torch.nn.Linear(12, 4)
    )
    net = occam.Network.from_torch(model, "tanh")
    x = torch.randn(30, 20)
    m64 = model.double()

    def probs(v):
        return torch.softmax(m64(v), dim=-1)

    got = net.jacobian_norms(x.numpy())
    for p in range(30):
        j = torch.func.jacrev(probs)(x[p].double())
        assert got["jacobian_norm"][p] == pytest.approx(float(torch.linalg.norm(j)), rel=1e-4)
    # The NumPy reference agrees with torch too.
    ref = jacobian64("tanh", net.weights, net.biases, x.numpy().astype(np.float64))
    np.testing.assert_allclose([np.linalg.norm(r[0]) for r in ref], got["jacobian_norm"], rtol=1e-4)
