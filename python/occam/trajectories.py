"""Closed trajectories through input space, along which
:meth:`occam.Network.transitions` counts linear-region transitions:

- :func:`translate`: an image shifted right by 0, 1, …, W−1 pixels (wrapping around),
  the shifts joined by straight segments back to the start;
- :func:`ellipse`: the ellipse through three points (e.g. three training images);
- :func:`random_ellipse`: ``a cos θ + b sin θ`` with ``a, b ~ N(0, I_dim)``, seeded.

Each returns a :class:`Trajectory`; ``trajectory.points(positions)`` gives the points at
positions in [0, 1) (float32, shape (m, dim)), ``trajectory.anchors`` the positions of the
points it was built through.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import _occam
from .errors import InvalidInputError

Trajectory = _occam.Trajectory

__all__ = ["Trajectory", "translate", "ellipse", "random_ellipse"]


def _point(what: str, x: Any) -> np.ndarray:
    array = np.asarray(x)
    if array.dtype not in (np.float32, np.float64):
        raise InvalidInputError(f"{what}: dtype {array.dtype} is not accepted: give float32 or float64 values")
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(array, dtype=np.float32).reshape(-1)


def translate(image: Any, input_shape: Sequence[int]) -> Trajectory:
    """The translation loop of one image: ``image`` holds h·w·c values (any shape, read
    in (h, w, c) row-major order, channels last) and ``input_shape`` is (h, w, c)."""
    from . import _input_shape

    return _occam.translate(_point("image", image), _input_shape("input_shape", input_shape))


def ellipse(x1: Any, x2: Any, x3: Any) -> Trajectory:
    """The ellipse through three points of equal size (flattened), which must span a
    plane (no two equal, not all on one line). ``anchors`` are where it meets them."""
    return _occam.ellipse(_point("x1", x1), _point("x2", x2), _point("x3", x3))


def random_ellipse(seed: int, dim: int, index: int = 0) -> Trajectory:
    """A zero-centred ellipse ``a cos θ + b sin θ`` in ``dim`` dimensions with
    ``a, b ~ N(0, I)`` drawn from ``seed`` and ``index`` (the ``index``-th ellipse of
    that seed, as ``occam measure transitions --seed`` draws them)."""
    from . import _integer

    return _occam.random_ellipse(
        _integer("seed", seed, 0, 2**64 - 1), _integer("dim", dim, 1, 1 << 30), _integer("index", index, 0, 2**64 - 1)
    )
