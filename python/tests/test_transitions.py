"""Exact transition counts against dense float64 sampling on small networks, for every
piecewise-linear activation, with and without biases, along the three trajectory kinds;
and the trajectories' own geometry."""

import numpy as np
import pytest

import occam
from conftest import sampled_transitions64, random_parts

PIECEWISE = ("relu", "relu6", "hard_tanh", "hard_sigmoid")
DENSE = 100_000


def small_net(act, bias, seed):
    rng = np.random.default_rng(seed)
    scale = {"relu6": 4.0}.get(act, 1.0)
    weights, biases = random_parts(rng, [6, 8, 7, 3], bias, scale)
    return occam.Network.from_arrays(weights, act, biases=biases, input_shape=(2, 3, 1)), weights, biases


def trajectories_for(seed):
    rng = np.random.default_rng(100 + seed)
    image = rng.standard_normal(6)
    x1, x2, x3 = (rng.standard_normal(6) * 2 for _ in range(3))
    return {
        "translate": occam.trajectories.translate(image, (2, 3, 1)),
        "ellipse": occam.trajectories.ellipse(x1, x2, x3),
        "random_ellipse": occam.trajectories.random_ellipse(seed, 6),
    }


@pytest.mark.parametrize("bias", [False, True], ids=["no-bias", "bias"])
@pytest.mark.parametrize("act", PIECEWISE)
def test_exact_transitions_equal_dense_float64_sampling(act, bias):
    positions = (np.arange(DENSE) + 0.5) / DENSE
    for seed in (1, 2):
        net, weights, biases = small_net(act, bias, seed)
        for kind, traj in trajectories_for(seed).items():
            got = net.transitions(traj)
            want = sampled_transitions64(act, weights, biases, traj.points(positions))
            assert got["per_layer"] == want, f"{act} {kind} seed {seed}: {got} vs dense {want}"
            assert got["total"] == sum(want)
            assert got["total"] > 0, f"{kind}: no crossing at all makes the comparison empty"


def test_sampled_method_counts_tanh_sign_changes():
    net, weights, biases = small_net("tanh", True, 3)
    traj = occam.trajectories.random_ellipse(3, 6)
    got = net.transitions(traj, method="sampled", samples=DENSE)
    positions = np.arange(DENSE) / DENSE
    assert got["per_layer"] == sampled_transitions64("tanh", weights, biases, traj.points(positions))


def test_translation_passes_through_every_shift_of_the_image():
    rng = np.random.default_rng(5)
    image = rng.standard_normal((3, 4, 2)).astype(np.float32)
    traj = occam.trajectories.translate(image, (3, 4, 2))
    assert traj.dim == 24 and traj.kind == "translate"
    vertices = traj.points(np.arange(4) / 4)
    for s in range(4):
        np.testing.assert_array_equal(vertices[s], np.roll(image, s, axis=1).ravel())
    midpoint = traj.points(np.array([1 / 8]))[0]
    np.testing.assert_allclose(midpoint, (image.ravel() + np.roll(image, 1, axis=1).ravel()) / 2, rtol=1e-6)


def test_ellipse_passes_through_its_three_points():
    rng = np.random.default_rng(6)
    xs = [rng.standard_normal(10) for _ in range(3)]
    traj = occam.trajectories.ellipse(*xs)
    at = traj.points(np.array(traj.anchors))
    for i in range(3):
        np.testing.assert_allclose(at[i], xs[i], rtol=1e-5, atol=1e-5)


def test_random_ellipse_is_seeded_and_centred():
    a = occam.trajectories.random_ellipse(7, 50).points(np.linspace(0, 1, 8, endpoint=False))
    b = occam.trajectories.random_ellipse(7, 50).points(np.linspace(0, 1, 8, endpoint=False))
    c = occam.trajectories.random_ellipse(7, 50, index=1).points(np.linspace(0, 1, 8, endpoint=False))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_allclose(a[0] + a[4], 0, atol=1e-5)  # opposite points of a centred ellipse


def test_transitions_on_fashion_mnist_agree_with_the_command_line(fashion, occam_binary, tmp_path):
    """The same network and image give the same count from Python and from `occam`."""
    from conftest import run_occam
    X, y = fashion
    rng = np.random.default_rng(8)
    weights, _ = random_parts(rng, [784, 64, 64, 10], False)
    net = occam.Network.from_arrays(weights, "relu", input_shape=(28, 28, 1))
    model = tmp_path / "net.safetensors"
    net.save(model)
    points = tmp_path / "x.npy"
    np.save(points, X[:3])
    csv = tmp_path / "per-point.csv"
    run_occam(occam_binary, "measure", "transitions", "--model", str(model), "--inputs", str(points),
              "--trajectory", "translate", "--per-point", str(csv), "--quiet")
    rows = [line.split(",") for line in csv.read_text().strip().splitlines()]
    header, rows = rows[0], rows[1:]
    total = header.index("transitions")
    assert len(rows) == 3
    for i, row in enumerate(rows):
        got = net.transitions(occam.trajectories.translate(X[i], (28, 28, 1)))
        assert got["total"] == int(row[total])
