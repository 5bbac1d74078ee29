"""Input checks: every public entry point validates here before doing any work
(docs/design.md §6)."""

from __future__ import annotations

import numbers
from typing import Any

from array_api_compat import array_namespace, device, is_array_api_obj, is_torch_array


def common_namespace(arrays: dict[str, Any]) -> Any:
    """The one array namespace of ``arrays`` (name -> array); TypeError naming the culprit."""
    for name, a in arrays.items():
        if not is_array_api_obj(a):
            raise TypeError(f"{name} must be an array (NumPy, CuPy, PyTorch, ...), "
                            f"got {type(a).__name__}")
    try:
        return array_namespace(*arrays.values())
    except TypeError:
        kinds = ", ".join(f"{name}: {type(a).__module__}.{type(a).__name__}"
                          for name, a in arrays.items())
        raise TypeError(f"{', '.join(arrays)} must come from one array library; got {kinds}") \
            from None


def check_array(a: Any, name: str, xp: Any, *, finite: bool) -> None:
    """Real floating dtype, and (optionally) no NaN or inf."""
    if not xp.isdtype(a.dtype, "real floating"):
        raise TypeError(f"{name} must have a real floating dtype (float32 or float64), "
                        f"got {a.dtype}")
    if finite and not bool(xp.all(xp.isfinite(a))):
        raise ValueError(f"{name} contains NaN or inf")


def check_shapes(X: Any, y: Any, *, allow_empty: bool = False, where: str = "") -> Any:
    """Namespace, shapes and devices of training data (no pass over the values); ``xp``."""
    xp = common_namespace({"X": X, "y": y})
    if X.ndim != 2:
        raise ValueError(f"X{where} must be 2-D (n_samples, n_features), got shape "
                         f"{tuple(X.shape)}")
    n, d = X.shape
    if n < 1 and not allow_empty:
        raise ValueError(f"X{where} must have at least one row (sample), got 0")
    if d < 1:
        raise ValueError(f"X{where} must have at least one column (feature), got 0")
    if y.ndim not in (1, 2) or y.shape[0] != n:
        raise ValueError(f"y{where} must have shape ({n},) or ({n}, k) to match X, got "
                         f"{tuple(y.shape)}")
    if y.ndim == 2 and y.shape[1] < 1:
        raise ValueError(f"y{where} must have at least one column (output), got 0")
    if device(y) != device(X):
        raise ValueError(f"y{where} is on device {device(y)} but X is on {device(X)}")
    return xp


def untracked(a: Any) -> Any:
    """``a`` without autograd history: a PyTorch tensor detached (same memory), any other
    array as it is. The trainers treat what they are given as data, so a tensor that requires
    grad (an ``nn.Parameter`` passed as a start, say) does not make every iteration record an
    autograd graph."""
    return a.detach() if is_torch_array(a) else a


def working_copies(X: Any, y: Any, xp: Any, dtype: Any = None) -> tuple[Any, Any]:
    """``(X, Y)`` as copies in ``dtype`` (default float64) without autograd history, ``Y``
    2-D. astype copies, so nothing the caller passed is ever written to."""
    dtype = xp.float64 if dtype is None else dtype
    X, y = untracked(X), untracked(y)
    Y = y[:, None] if y.ndim == 1 else y
    return xp.astype(X, dtype, copy=True), xp.astype(Y, dtype, copy=True)


def check_data(X: Any, y: Any, dtype: Any = None) -> tuple[Any, Any, Any]:
    """Validate training data; return ``(xp, X, Y)`` as copies in ``dtype`` (default float64)
    with ``Y`` 2-D."""
    xp = check_shapes(X, y)
    check_array(X, "X", xp, finite=True)
    check_array(y, "y", xp, finite=True)
    return (xp, *working_copies(X, y, xp, dtype))


def check_slope(negative_slope: Any) -> float:
    if isinstance(negative_slope, bool) or not isinstance(negative_slope, numbers.Real):
        raise TypeError("negative_slope must be a real number, got "
                        f"{type(negative_slope).__name__}")
    if not 0.0 <= float(negative_slope) < 1.0:
        raise ValueError(f"negative_slope must be in [0, 1), got {negative_slope}")
    return float(negative_slope)


def check_nonnegative(value: Any, name: str) -> float:
    """A finite real number >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a non-negative real number, got {type(value).__name__}")
    if not 0.0 <= float(value) < float("inf"):
        raise ValueError(f"{name} must be finite and >= 0, got {value}")
    return float(value)


def check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")
    return value
