"""Occam from Python: how sensitive a trained fully connected network is to its input.

Load a network (Occam's safetensors files, a PyTorch ``state_dict`` or module, or plain
NumPy arrays), measure it on your own points or on Occam's datasets (input-Jacobian norms,
linear-region transitions along closed trajectories), train one, and read a sweep's store
into pandas. The numbers are computed by Occam's Rust library, in float32, with Python's
GIL released; inputs may be float32 or float64 NumPy arrays in any memory order.

Errors are :mod:`occam.errors` exceptions carrying Occam's messages (they also derive from
ValueError, OSError or ArithmeticError as fits). See docs/PYTHON.md for the whole API.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _occam, errors, trajectories
from .errors import (
    CancelledError,
    FileAccessError,
    FileFormatError,
    InvalidInputError,
    NonFiniteError,
    OccamError,
)
from .store import Store

__version__ = _occam.__version__

__all__ = ["Network", "load_dataset", "train", "Store", "trajectories", *errors.__all__]

ACTIVATIONS = ("relu", "relu6", "hard_tanh", "hard_sigmoid", "tanh")

PathLike = Union[str, "os.PathLike[str]"]


def _float32_points(what: str, x: Any) -> Tuple[np.ndarray, bool]:
    """``x`` as a C-ordered float32 array (a copy only when needed) and whether it was
    float64. Only float32 and float64 are accepted: integers or objects would be a
    silent reinterpretation of what the caller meant."""
    array = np.asarray(x)
    if array.dtype not in (np.float32, np.float64):
        raise InvalidInputError(
            f"{what}: dtype {array.dtype} is not accepted: give float32 or float64 values "
            f"(e.g. {what}.astype(np.float32))"
        )
    from_f64 = array.dtype == np.float64
    with np.errstate(over="ignore"):
        converted = np.ascontiguousarray(array, dtype=np.float32)
    return converted, from_f64


def _float32_arrays(what: str, arrays: Any, ndim: int, want_list: str, not_ndim: str) -> List[np.ndarray]:
    """A list or tuple of float arrays of ``ndim`` dimensions as float32, each refused by
    its index (``what[i]``) when it is not."""
    if isinstance(arrays, np.ndarray) or not isinstance(arrays, (list, tuple)):
        raise InvalidInputError(f"{what}: give {want_list}")
    out = []
    for i, a in enumerate(arrays):
        a, _ = _float32_points(f"{what}[{i}]", a)
        if a.ndim != ndim:
            raise InvalidInputError(f"{what}[{i}]: shape {a.shape} {not_ndim}")
        out.append(a)
    return out


def _integer(what: str, value: Any, lo: int, hi: int) -> int:
    """``value`` as a Python int from ``lo`` to ``hi``, or an InvalidInputError naming
    ``what`` (a negative number would otherwise surface as an OverflowError)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidInputError(f"{what}={value!r} is not a whole number: valid values are {lo} to {hi}")
    if not lo <= int(value) <= hi:
        raise InvalidInputError(f"{what}={value} is out of range: valid values are {lo} to {hi}")
    return int(value)


def _threads(threads: Optional[int]) -> Optional[int]:
    return None if threads is None else _integer("threads", threads, 1, 1024)


def _int64_labels(labels: Any) -> np.ndarray:
    array = np.asarray(labels)
    if array.ndim != 1:
        raise InvalidInputError(
            f"labels: shape {array.shape} is not a list of labels: give a 1-D array, one class index per example"
        )
    if array.size and not np.issubdtype(array.dtype, np.integer):
        if np.issubdtype(array.dtype, np.floating) and np.all(np.isfinite(array)) and np.all(array == np.round(array)):
            _labels_fit_int64(array)
            array = array.astype(np.int64)
        else:
            raise InvalidInputError(
                f"labels: dtype {array.dtype} holds values that are not class indices: give integers 0 to classes-1"
            )
    if array.size and np.issubdtype(array.dtype, np.unsignedinteger):
        _labels_fit_int64(array)
    return np.ascontiguousarray(array, dtype=np.int64)


def _labels_fit_int64(array: np.ndarray) -> None:
    """Refuses labels that a cast to int64 would change (so an error names the value the
    caller passed, not the wrapped one)."""
    big = np.flatnonzero((array > np.iinfo(np.int64).max) | (array < np.iinfo(np.int64).min))
    if big.size:
        i = int(big[0])
        raise InvalidInputError(
            f"labels: label {array[i]} at index {i} is not a class index: labels are integers 0 to classes-1"
        )


def _input_shape(what: str, shape: Any) -> Optional[Tuple[int, int, int]]:
    """An (h, w, c) argument as three whole numbers of at least 1, or None."""
    if shape is None:
        return None
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 3:
        raise InvalidInputError(
            f"{what}={shape!r} is not an image shape: give (height, width, channels), three whole numbers of at least 1"
        )
    return tuple(_integer(f"{what}[{i}]", v, 1, 1 << 40) for i, v in enumerate(shape))  # type: ignore[return-value]


def _config_value(key: str, value: Any) -> Any:
    """A training configuration value as JSON takes it: NumPy scalars as Python numbers,
    NaN and infinities refused by key (JSON has no such numbers)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, dict):
        return {k: _config_value(f"{key}.{k}", v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_config_value(key, v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        raise InvalidInputError(f"{key}={value} is not a finite number")
    if isinstance(value, int) and not isinstance(value, bool) and not -(1 << 63) <= value < (1 << 64):
        raise InvalidInputError(f"{key}={value} is out of range for a whole-number setting")
    return value


class Network:
    """A fully connected network ``f(x) = W_L φ(… φ(W_1 x + b_1) …) + b_L``.

    Build one with :meth:`from_safetensors`, :meth:`from_arrays`, :meth:`from_torch` or
    :func:`occam.train`. Weight matrices are ``[out, in]`` (PyTorch's ``nn.Linear``
    layout); biases are optional (all layers or none).

    Inputs ``X`` to every measurement are float32 or float64 arrays (any memory order;
    float64 is rounded to float32, the precision Occam computes in) of shape ``(n, d)``
    or ``(n, h, w, c)`` (channels last; ``(n, h, w)`` for one channel), where ``d`` is
    the network's input size; any other shape is an :class:`InvalidInputError` saying
    what fits. Every value must be finite. ``threads=None`` uses all cores.
    """

    __slots__ = ("_net",)

    def __init__(self, _native: "_occam.Network"):
        if not isinstance(_native, _occam.Network):
            raise TypeError(
                "Network() is not called directly: use Network.from_safetensors, "
                "Network.from_arrays, Network.from_torch or occam.train"
            )
        self._net = _native

    # ----- construction -------------------------------------------------------------
    @classmethod
    def from_safetensors(
        cls,
        path: PathLike,
        activation: Optional[str] = None,
        input_shape: Optional[Sequence[int]] = None,
        layout: str = "out-in",
    ) -> "Network":
        """Reads a safetensors file: Occam's own (``layers.{i}.weight``/``.bias`` with
        metadata) or a PyTorch ``nn.Sequential`` state_dict saved with
        ``safetensors.torch.save_file`` (keys ``0.weight``, ``2.weight``, … ordered by
        index). A file without metadata needs ``activation``; ``input_shape`` (h, w, c)
        is optional (without it the network reads flat vectors and any image shape of
        the right size). ``layout="in-out"`` reads flax/JAX ``[in, out]`` kernels.
        F64/F16/BF16 tensors are converted to float32 (a notice is printed)."""
        native, notes = _occam.Network.load(
            os.fspath(path),
            activation=activation,
            input_shape=_input_shape("input_shape", input_shape),
            layout=layout,
        )
        for note in notes:
            print(f"note: {note}")
        return cls(native)

    @classmethod
    def from_arrays(
        cls,
        weights: Sequence[Any],
        activation: str,
        biases: Optional[Sequence[Any]] = None,
        input_shape: Optional[Sequence[int]] = None,
    ) -> "Network":
        """A network from a list of ``[out, in]`` weight matrices (float32 or float64,
        any order), the activation (``relu``, ``relu6``, ``hard_tanh``,
        ``hard_sigmoid`` or ``tanh``), optionally one bias vector per layer and the
        input shape (h, w, c) whose product is the first matrix's ``in``."""
        mats = _float32_arrays("weights", weights, 2, "a list of 2-D [out, in] arrays, one per layer",
                               "is not a matrix: give a 2-D [out, in] array")
        vecs = None
        if biases is not None:
            vecs = _float32_arrays("biases", biases, 1, "a list of 1-D arrays, one per layer, or None",
                                   "is not a vector: give a 1-D array")
        native = _occam.Network.from_parts(
            mats,
            str(activation),
            biases=vecs,
            input_shape=_input_shape("input_shape", input_shape),
        )
        return cls(native)

    @classmethod
    def from_torch(
        cls,
        module_or_state_dict: Any,
        activation: str,
        input_shape: Optional[Sequence[int]] = None,
    ) -> "Network":
        """A network from a PyTorch ``nn.Sequential`` (or any module whose Linear
        layers run in order) or its ``state_dict``. Keys ``PREFIX{i}.weight`` (and
        ``.bias``) are ordered by ``i`` as a number (``10.weight`` after ``2.weight``);
        only Linear weights and biases may be present. torch itself is needed only to
        pass a module or tensors; plain NumPy arrays in a dict work too."""
        state = module_or_state_dict
        if hasattr(state, "state_dict") and callable(state.state_dict):
            state = state.state_dict()
        if not hasattr(state, "items"):
            raise InvalidInputError(
                f"module_or_state_dict: a {type(state).__name__} is neither a torch module nor a state_dict"
            )
        weights, biases = _ordered_linear_tensors({str(k): v for k, v in state.items()})
        return cls.from_arrays(weights, activation, biases=biases, input_shape=input_shape)

    def save(self, path: PathLike) -> None:
        """Writes the network as an Occam safetensors file (atomically), readable by
        :meth:`from_safetensors` and by the ``occam`` command line."""
        self._net.save(os.fspath(path))

    # ----- description --------------------------------------------------------------
    @property
    def activation(self) -> str:
        return self._net.activation

    @property
    def dims(self) -> List[int]:
        """``[d, width_1, …, classes]``."""
        return self._net.dims

    @property
    def input_shape(self) -> Optional[Tuple[int, int, int]]:
        """(h, w, c), or None when the network was given none (it reads flat vectors)."""
        shape = self._net.input_shape
        return None if shape is None else tuple(shape)

    @property
    def weights(self) -> List[np.ndarray]:
        """The ``[out, in]`` weight matrices (copies, float32)."""
        return self._net.weights()

    @property
    def biases(self) -> Optional[List[np.ndarray]]:
        """The bias vectors (copies, float32), or None for a bias-free network."""
        return self._net.biases()

    def __reduce__(self) -> Tuple[Any, Tuple[Any, ...]]:
        # Pickle, copy.deepcopy, joblib and multiprocessing rebuild the network from its
        # parameters (float32, so the copy is exact).
        return (_network_from_parts, (self.weights, self.activation, self.biases, self.input_shape))

    def __repr__(self) -> str:
        return (
            f"Network(dims={self.dims}, activation='{self.activation}', "
            f"biases={self.biases is not None}, input_shape={self.input_shape})"
        )

    # ----- measurements -------------------------------------------------------------
    def jacobian_norms(
        self, X: Any, labels: Any = None, threads: Optional[int] = None
    ) -> Dict[str, np.ndarray]:
        """Per point, the columns of ``occam measure jacobian``'s per-point CSV, as 1-D
        arrays of length n: ``jacobian_norm`` (‖∂softmax(f(x))/∂x‖_F, float64),
        ``logit_jacobian_norm`` (‖∂f(x)/∂x‖_F), ``predicted`` (int64), and with
        ``labels`` (n integer class indices) also ``target_row_norm`` (‖∂σ_y/∂x‖) and
        ``loss`` (cross-entropy). Raises :class:`NonFiniteError` rather than return a
        NaN or infinite value."""
        x, from_f64 = _float32_points("X", X)
        y = None if labels is None else _int64_labels(labels)
        return self._net.jacobian_norms(x, from_f64, labels=y, threads=_threads(threads))

    def logits(self, X: Any, threads: Optional[int] = None) -> np.ndarray:
        """The network's outputs ``f(x)``, shape (n, classes), float32."""
        x, from_f64 = _float32_points("X", X)
        return self._net.logits(x, from_f64, threads=_threads(threads))

    def evaluate(self, X: Any, labels: Any, threads: Optional[int] = None) -> Dict[str, float]:
        """``{"accuracy", "loss", "correct", "n"}`` on labelled points (loss: mean
        cross-entropy)."""
        x, from_f64 = _float32_points("X", X)
        return self._net.evaluate(x, from_f64, _int64_labels(labels), threads=_threads(threads))

    def transitions(
        self,
        trajectory: "trajectories.Trajectory",
        method: str = "exact",
        samples: Optional[int] = None,
        threads: Optional[int] = None,
    ) -> Dict[str, Any]:
        """Linear-region transitions along a closed trajectory (see
        :mod:`occam.trajectories`): how many times any hidden neuron crosses one of its
        activation's breakpoints. ``method="exact"`` (piecewise-linear activations)
        finds every crossing in closed form; ``method="sampled"`` compares region codes
        at ``samples`` equidistant positions (default 2^20, as the command line; any activation, tanh by
        sign). Returns ``{"total": int, "per_layer": [int, …]}`` (one count per hidden
        layer)."""
        if not isinstance(trajectory, _occam.Trajectory):
            raise InvalidInputError(
                f"trajectory: a {type(trajectory).__name__} is not a trajectory: build one with occam.trajectories"
            )
        if samples is not None:
            samples = _integer("samples", samples, 2, 1 << 30)
        return self._net.transitions(trajectory, method=method, samples=samples, threads=_threads(threads))


def _network_from_parts(weights: Any, activation: str, biases: Any, input_shape: Any) -> Network:
    return Network.from_arrays(weights, activation, biases=biases, input_shape=input_shape)


def _ordered_linear_tensors(state: Dict[str, Any]) -> Tuple[List[np.ndarray], Optional[List[np.ndarray]]]:
    """The Linear layers of a state_dict in order: keys ``PREFIX{i}.weight``/``.bias``
    sorted by the index ``i`` as a number, one common prefix."""
    import re

    pattern = re.compile(r"^(.*?)(\d+)\.(weight|bias)$")
    layers: Dict[int, Dict[str, Any]] = {}
    prefixes = set()
    for key, value in state.items():
        match = pattern.match(key)
        if match is None:
            found = ", ".join(sorted(state))
            raise InvalidInputError(
                f"module_or_state_dict: key '{key}' is not a Linear layer's weight or bias "
                f"(expected keys like '0.weight', '2.bias'); keys found: {found}"
            )
        prefix, index, kind = match.group(1), int(match.group(2)), match.group(3)
        prefixes.add(prefix)
        layer = layers.setdefault(index, {})
        if kind in layer:
            raise InvalidInputError(
                f"module_or_state_dict: keys '{layer[kind + '_key']}' and '{key}' both name layer {index}'s {kind}"
            )
        layer[kind] = _to_numpy(key, value)
        layer[kind + "_key"] = key
    if not layers:
        raise InvalidInputError("module_or_state_dict: no weights found (an empty state_dict)")
    if len(prefixes) > 1:
        raise InvalidInputError(
            f"module_or_state_dict: keys under several prefixes {sorted(prefixes)}: pass the nn.Sequential itself"
        )
    order = sorted(layers)
    missing = [i for i in order if "weight" not in layers[i]]
    if missing:
        raise InvalidInputError(f"module_or_state_dict: layer {missing[0]} has a bias but no weight")
    weights = [layers[i]["weight"] for i in order]
    with_bias = [i for i in order if "bias" in layers[i]]
    if with_bias and len(with_bias) != len(order):
        without = [i for i in order if "bias" not in layers[i]]
        raise InvalidInputError(
            f"module_or_state_dict: layers {with_bias} have biases but {without} do not; Occam takes biases on every layer or none"
        )
    biases = [layers[i]["bias"] for i in order] if with_bias else None
    return weights, biases


def _to_numpy(key: str, value: Any) -> np.ndarray:
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor
        value = value.detach().cpu()
        if str(getattr(value, "dtype", "")) in ("torch.bfloat16", "torch.float16"):
            value = value.float()
        value = value.numpy()
    array = np.asarray(value)
    if array.dtype == np.float16:
        array = array.astype(np.float32)
    if array.dtype not in (np.float32, np.float64):
        raise InvalidInputError(f"module_or_state_dict: '{key}' has dtype {array.dtype}; weights must be floating point")
    return array


def load_dataset(name: str, split: str = "train", train_size: Optional[int] = None) -> Tuple[np.ndarray, np.ndarray]:
    """One split of an Occam dataset, exactly as Occam trains and measures on it (and as
    ``occam data export NAME --npz F`` writes it): ``X`` float32 ``(n, h, w, c)``, each
    example normalized to zero mean and unit variance, and ``y`` int64 ``(n,)``.

    ``name``: ``fashion-mnist`` (found under ``$OCCAM_DATA`` or Debian's
    ``/usr/share/datasets/fashion-mnist``), ``mnist``, ``cifar10``, ``cifar100``, or
    ``NAME:DIR``. ``split``: ``train`` (the first 50,000 training examples, or the first
    ``train_size``), ``test`` or ``validation`` (MNIST-like sets: the training file after
    its first 50,000 examples)."""
    if train_size is not None:
        train_size = _integer("train_size", train_size, 1, 1_000_000)
    return _occam.load_dataset(str(name), str(split), train_size)


def train(
    progress: Union[bool, Callable[[int, int, Optional[float]], Optional[bool]], None] = True,
    threads: Optional[int] = None,
    **config: Any,
) -> Tuple[Network, Dict[str, Any]]:
    """Trains a network from scratch and returns ``(network, metrics)``.

    ``config``: the keys of ``occam train --config FILE.toml`` (``data``, ``width``,
    ``depth``, ``activation``, ``bias``, ``init_scale``, ``optimizer``, ``lr``, ``batch``,
    ``steps``, ``train_size``, ``seed``, …; unknown keys and values out of range raise
    :class:`InvalidInputError` naming the key). ``metrics``: ``status``, ``steps``,
    ``epochs``, ``train_accuracy``, ``train_loss``, ``test_accuracy``, ``test_loss``,
    ``generalization_gap``, ``final_lr``, ``wall_seconds``.

    ``progress``: True shows a tqdm bar when tqdm is installed (nothing otherwise); False
    shows nothing; a callable ``progress(step, total, loss)`` is called as training goes
    (at most every 50 ms, and at the last step; ``loss`` is the running mean batch loss,
    None before the first) and stops the run by returning False, which raises
    :class:`CancelledError` ("training cancelled after N of M steps"); an exception it
    raises stops the run and propagates. Ctrl-C stops training within 50 ms and raises
    ``KeyboardInterrupt``. ``threads``: 1 to 1024, None for all cores; the same
    configuration and thread count give the same weights as ``occam train``."""
    callback = _progress_callback(progress)
    checked = {key: _config_value(key, value) for key, value in config.items()}
    native, metrics = _occam.train(json.dumps(checked, allow_nan=False), threads=_threads(threads), progress=callback)
    # A diverged run has no finite loss: None, never NaN posing as a number.
    metrics = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in metrics.items()}
    return Network(native), metrics


def _progress_callback(progress: Any) -> Optional[Callable[[int, int, Optional[float]], Optional[bool]]]:
    if callable(progress):
        return progress
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    state: Dict[str, Any] = {}

    def update(step: int, total: int, loss: Optional[float]) -> None:
        bar = state.get("bar")
        if bar is None:
            bar = state["bar"] = tqdm(total=total, unit="step", desc="train")
        bar.update(step - bar.n)
        if loss is not None:
            bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
        if step >= total:
            bar.close()

    return update
