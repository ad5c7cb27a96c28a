"""Error mapping: every bad input is an occam.OccamError subclass that is also the
fitting built-in exception, with Occam's message naming the argument or file, the value
and what is valid."""

import numpy as np
import pytest

import occam
from conftest import random_parts


@pytest.fixture
def net():
    weights, _ = random_parts(np.random.default_rng(0), [6, 5, 3], False)
    return occam.Network.from_arrays(weights, "relu", input_shape=(1, 2, 3))


def raises(cls, builtin, *fragments):
    """pytest.raises for `cls`, checking it is also `builtin` and its message has every fragment."""

    class Check:
        def __enter__(self):
            self.ctx = pytest.raises(cls)
            self.info = self.ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self.ctx.__exit__(*exc)
            error = self.info.value
            assert isinstance(error, occam.OccamError) and isinstance(error, builtin), type(error).__mro__
            for fragment in fragments:
                assert fragment in str(error), f"{fragment!r} not in {str(error)!r}"
            return handled

    return Check()


def test_a_wrong_input_size_names_x_the_shape_and_what_fits(net):
    with raises(occam.InvalidInputError, ValueError, "X: shape [4, 7]", "d = 6", "[n, 6] or [n, 1, 2, 3]"):
        net.jacobian_norms(np.zeros((4, 7)))


def test_channels_first_images_get_the_transpose_hint():
    weights, _ = random_parts(np.random.default_rng(0), [12, 5, 3], False)
    net = occam.Network.from_arrays(weights, "relu", input_shape=(2, 2, 3))
    with raises(occam.InvalidInputError, ValueError, "channels first", "transpose(0, 2, 3, 1)"):
        net.logits(np.zeros((4, 3, 2, 2), dtype=np.float32))


def test_integer_inputs_are_refused_not_reinterpreted(net):
    with raises(occam.InvalidInputError, ValueError, "X: dtype int64", "float32 or float64"):
        net.logits(np.zeros((2, 6), dtype=np.int64))


def test_non_finite_inputs_name_example_and_entry(net):
    x = np.zeros((3, 6))
    x[2, 4] = np.nan
    with raises(occam.InvalidInputError, ValueError, "X: example 2, entry 4 is NaN"):
        net.jacobian_norms(x)
    x[2, 4] = 1e300  # beyond float32
    with raises(occam.InvalidInputError, ValueError, "example 2, entry 4 is inf", "float32"):
        net.logits(x)


def test_bad_labels_name_the_label_and_the_range(net):
    x = np.zeros((3, 6))
    with raises(occam.InvalidInputError, ValueError, "labels: label 3 at index 1", "0 to 2"):
        net.jacobian_norms(x, np.array([0, 3, 1]))
    with raises(occam.InvalidInputError, ValueError, "labels: 2 labels for 3 examples"):
        net.evaluate(x, [0, 1])
    with raises(occam.InvalidInputError, ValueError, "labels: label -1"):
        net.evaluate(x, [0, -1, 1])


def test_overflow_is_an_error_never_a_number():
    big = [np.full((5, 6), 1e19, dtype=np.float32), np.full((3, 5), 1e19, dtype=np.float32)]
    net = occam.Network.from_arrays(big, "relu")
    x = np.ones((2, 6))
    with raises(occam.NonFiniteError, ArithmeticError, "X: at index 0", "overflowed"):
        net.jacobian_norms(x)
    with raises(occam.NonFiniteError, ArithmeticError, "logit"):
        net.logits(x)


def test_bad_options_name_the_option(net):
    traj = occam.trajectories.random_ellipse(1, 6)
    with raises(occam.InvalidInputError, ValueError, "threads=0", "1 to 1024"):
        net.logits(np.zeros((1, 6)), threads=0)
    # Negative numbers are range errors too, not OverflowErrors from the binding.
    with raises(occam.InvalidInputError, ValueError, "threads=-1", "1 to 1024"):
        net.jacobian_norms(np.zeros((1, 6)), threads=-1)
    with raises(occam.InvalidInputError, ValueError, "seed=-1", "0 to"):
        occam.trajectories.random_ellipse(-1, 6)
    with raises(occam.InvalidInputError, ValueError, "samples=-2", "2 to"):
        net.transitions(traj, method="sampled", samples=-2)
    with raises(occam.InvalidInputError, ValueError, "train_size=-5", "1 to 1000000"):
        occam.load_dataset("fashion-mnist", train_size=-5)
    with raises(occam.InvalidInputError, ValueError, "method: 'fast'", "'exact'", "'sampled'"):
        net.transitions(traj, method="fast")
    with raises(occam.InvalidInputError, ValueError, "samples=1", "2 to"):
        net.transitions(traj, method="sampled", samples=1)
    with raises(occam.InvalidInputError, ValueError, "trajectory: it runs through 7-dimensional", "d = 6"):
        net.transitions(occam.trajectories.random_ellipse(1, 7))
    with raises(occam.InvalidInputError, ValueError, "activation: unknown activation 'gelu'"):
        occam.Network.from_arrays(net.weights, "gelu")


def test_exact_transitions_of_tanh_point_to_sampling():
    weights, _ = random_parts(np.random.default_rng(0), [6, 5, 3], False)
    net = occam.Network.from_arrays(weights, "tanh")
    with raises(occam.InvalidInputError, ValueError, "method='exact'", "tanh", "method='sampled'"):
        net.transitions(occam.trajectories.random_ellipse(1, 6))


def test_degenerate_trajectories_are_refused():
    x = np.ones(4)
    with raises(occam.InvalidInputError, ValueError, "x1, x2, x3", "identical"):
        occam.trajectories.ellipse(x, x, np.zeros(4))
    with raises(occam.InvalidInputError, ValueError, "input shape 2,3,1", "holds 6", "has 5"):
        occam.trajectories.translate(np.ones(5), (2, 3, 1))
    with raises(occam.InvalidInputError, ValueError, "input shape 3,1,2", "width must be at least 2"):
        occam.trajectories.translate(np.ones(6), (3, 1, 2))
    with raises(occam.InvalidInputError, ValueError, "sizes 4, 4 and 5 differ"):
        occam.trajectories.ellipse(x, np.zeros(4), np.zeros(5))
    with raises(occam.InvalidInputError, ValueError, "dim=0", "1 to"):
        occam.trajectories.random_ellipse(1, 0)


def test_files_map_to_oserror_and_format_errors(tmp_path):
    missing = tmp_path / "missing.safetensors"
    # A file that is not there is an OSError (FileAccessError), not a format error.
    with raises(occam.FileAccessError, OSError, str(missing)):
        occam.Network.from_safetensors(missing)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a model at all")
    with raises(occam.FileFormatError, ValueError, str(garbage), "not a safetensors file"):
        occam.Network.from_safetensors(garbage)
    weights, _ = random_parts(np.random.default_rng(0), [6, 5, 3], False)
    net = occam.Network.from_arrays(weights, "relu")
    (tmp_path / "a-file").write_text("")
    with raises(occam.FileAccessError, OSError, str(tmp_path / "a-file")):
        net.save(tmp_path / "a-file" / "net.safetensors")
    with raises(occam.FileAccessError, OSError, "none.sqlite", "no such store"):
        occam.Store(tmp_path / "none.sqlite").trials()


def test_dataset_and_training_options_are_named():
    with raises(occam.InvalidInputError, ValueError, "unknown dataset 'imagenet'"):
        occam.load_dataset("imagenet")
    with raises(occam.InvalidInputError, ValueError, "split: 'dev'"):
        occam.load_dataset("fashion-mnist", "dev")
    with raises(occam.InvalidInputError, ValueError, "unknown field `widht`"):
        occam.train(widht=3, progress=False)
    with raises(occam.InvalidInputError, ValueError, "lr"):
        occam.train(lr=-1.0, progress=False)
