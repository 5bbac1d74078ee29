"""Masked Gram kernels of the hidden-layer normal equations (docs/design.md §2).

Importable on its own by other solvers::

    from relu_altmin.kernels import masked_gram

This package imports nothing from the rest of :mod:`relu_altmin`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import array_namespace, device, is_array_api_obj

from ._reference import masked_gram_reference

__all__ = ["BACKENDS", "masked_gram"]

BACKENDS = ("auto", "reference", "numba", "cuda")


def masked_gram(
    X: Any, D: Any, /, *, coupling: Any | None = None, out: Any | None = None,
    backend: str = "auto",
) -> Any:
    """Masked Gram matrix ``G = (C ⊗ 1)·(K^T K)`` of the row-wise Khatri-Rao product ``K = D ⊙ X``.

    Parameters
    ----------
    X : array, shape (n, d)
        Data (append a column of ones yourself for a bias). Real floating dtype.
    D : array, shape (n, h)
        Activation pattern (or any row weights), same namespace, dtype and device as ``X``.
    coupling : array, shape (h, h), optional
        Coupling ``C`` (``V V^T`` in the hidden step); entry ``(j, k)`` multiplies block
        ``(j, k)``. ``None`` means all ones.
    out : array, shape (h*d, h*d), optional
        Where to write the result (same namespace, dtype and device); it is returned.
    backend : {"auto", "reference", "numba", "cuda"}
        ``"auto"`` dispatches on the array type: NumPy arrays go to the Numba CPU kernel,
        arrays exposing ``__cuda_array_interface__`` (CuPy, PyTorch CUDA) to the Numba CUDA
        kernel (or to the reference where numba-cuda cannot run), anything else (and dtypes
        other than float32/float64) to the chunked array-API reference. Naming a backend
        forces it; one that cannot run here or cannot take these arrays raises, it is never
        replaced by another.

    Returns
    -------
    G : array, shape (h*d, h*d)
        ``G[j*d + a, k*d + b] = C[j, k] * sum_i D[i, j] D[i, k] X[i, a] X[i, b]``, in the
        namespace, dtype and device of ``X``. Symmetric positive semi-definite when ``C`` is.

    Raises
    ------
    TypeError
        Non-array input, mixed namespaces, integer, boolean or complex dtypes, mixed dtypes,
        or arrays the requested ``backend`` cannot take.
    ValueError
        Shapes that do not match, mixed devices, NaN or infinity in ``X`` or ``D``, or an
        unknown ``backend``.
    RuntimeError
        ``backend="cuda"`` where Numba CUDA cannot run.

    Notes
    -----
    Cost: ``O(n h^2 d^2)`` multiply-adds in general; the Numba kernels compute only the unique
    quarter (blocks ``j <= k``, entries ``a <= b``) and skip rows where ``D[i, j] D[i, k] = 0``,
    so a ReLU pattern with units firing half the time costs about ``n h^2 d^2 / 8``. A leaky
    pattern ``D in {a, 1}`` costs about the same (see ``docs/kernels.md``). Non-finite data is
    rejected because the kernels skip rows the reference would multiply by zero (``0 * nan``).

    Examples
    --------
    >>> import numpy as np
    >>> from relu_altmin.kernels import masked_gram
    >>> X = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> D = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> masked_gram(X, D)[:2, 2:]  # block (0, 1): only row 1 has both units on
    array([[ 9., 12.],
           [12., 16.]])
    """
    xp = _check_inputs(X, D, coupling, out, backend)
    backend = _choose_backend(X, D, coupling, out, backend, xp)
    if backend == "numba":
        from ._numba_cpu import masked_gram_numpy

        return masked_gram_numpy(X, D, coupling, out)
    if backend == "cuda":
        from ._numba_cuda import masked_gram_cuda

        return masked_gram_cuda(X, D, coupling, out, xp)
    G = masked_gram_reference(X, D, coupling, xp)
    if out is not None:
        out[...] = G
        return out
    return G


def _on_cuda(a: Any) -> bool:
    try:
        return hasattr(a, "__cuda_array_interface__")
    except Exception:  # PyTorch raises RuntimeError for a tensor that requires grad
        return False


def _cuda_available() -> bool:
    try:
        from ._numba_cuda import cuda_available
    except ImportError:  # numba-cuda is an optional dependency
        return False
    return cuda_available()


def _choose_backend(X: Any, D: Any, coupling: Any, out: Any, backend: str, xp: Any) -> str:
    """The backend that runs: ``backend`` itself, checked, or what "auto" picks for the type."""
    given = {"X": X, "D": D, "coupling": coupling, "out": out}
    arrays = {name: a for name, a in given.items() if a is not None}
    kernel_dtype = X.dtype in (xp.float32, xp.float64)
    if backend == "auto":
        if all(_on_cuda(a) for a in arrays.values()) and kernel_dtype:
            # Without numba-cuda the array-API reference still runs on the caller's device.
            return "cuda" if _cuda_available() else "reference"
        if all(isinstance(a, np.ndarray) for a in arrays.values()) and kernel_dtype:
            return "numba"
        return "reference"
    if backend == "reference":
        return backend
    if not kernel_dtype:  # the Numba kernels are compiled for these two only
        raise TypeError(f"backend={backend!r} needs float32 or float64 arrays, got {X.dtype}")
    if backend == "numba":
        for name, a in arrays.items():
            if not isinstance(a, np.ndarray):
                raise TypeError(
                    f"backend='numba' needs NumPy arrays, but {name} is {type(a).__name__}"
                )
        return backend
    for name, a in arrays.items():
        if not _on_cuda(a):
            raise TypeError(
                f"backend='cuda' needs arrays exposing __cuda_array_interface__ (CuPy, PyTorch "
                f"CUDA), but {name} is {type(a).__name__}"
            )
    if not _cuda_available():
        raise RuntimeError(
            "backend='cuda' was requested but Numba CUDA cannot run here (numba-cuda missing "
            "or no usable GPU)"
        )
    return backend


def _check_inputs(X: Any, D: Any, coupling: Any | None, out: Any | None, backend: str) -> Any:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    arrays = {"X": X, "D": D}
    if coupling is not None:
        arrays["coupling"] = coupling
    if out is not None:
        arrays["out"] = out
    for name, a in arrays.items():
        if not is_array_api_obj(a):
            raise TypeError(f"{name} must be an array, got {type(a).__name__}")
    try:
        xp = array_namespace(*arrays.values())
    except TypeError as exc:
        raise TypeError(f"X, D, coupling and out must share one array namespace: {exc}") from None
    for name, a in arrays.items():
        if not xp.isdtype(a.dtype, "real floating"):
            raise TypeError(f"{name} must have a real floating dtype, got {a.dtype}")
        if a.dtype != X.dtype:
            raise TypeError(f"{name} has dtype {a.dtype} but X has {X.dtype}; they must match")
        if device(a) != device(X):
            raise ValueError(f"{name} is on device {device(a)} but X is on {device(X)}")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n, d), got shape {tuple(X.shape)}")
    if D.ndim != 2 or D.shape[0] != X.shape[0]:
        raise ValueError(f"D must be 2-D (n, h) with n = {X.shape[0]} rows, got {tuple(D.shape)}")
    h, d = D.shape[1], X.shape[1]
    if coupling is not None and tuple(coupling.shape) != (h, h):
        raise ValueError(f"coupling must have shape ({h}, {h}), got {tuple(coupling.shape)}")
    if out is not None and tuple(out.shape) != (h * d, h * d):
        raise ValueError(f"out must have shape ({h * d}, {h * d}), got {tuple(out.shape)}")
    for name, a in (("X", X), ("D", D)):
        if not bool(xp.all(xp.isfinite(a))):
            raise ValueError(f"{name} must be finite (no NaN or infinity)")
    return xp
