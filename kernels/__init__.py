"""Masked Gram kernels of the hidden-layer normal equations (docs/design.md §2), and the
fused Gauss-Newton product of the matrix-free solves (docs/method.md, "Matrix-free solves").

Importable on their own by other solvers::

    from relu_altmin.kernels import gauss_newton_product, masked_gram

This package imports nothing from the rest of :mod:`relu_altmin`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import array_namespace, device, is_array_api_obj

from ._gn_reference import gauss_newton_product_reference
from ._reference import masked_gram_reference

__all__ = ["BACKENDS", "gauss_newton_product", "masked_gram"]

BACKENDS = ("auto", "reference", "numba", "cuda")


def masked_gram(
    X: Any, D: Any, /, *, coupling: Any | None = None, out: Any | None = None,
    dtype: Any | None = None, backend: str = "auto",
) -> Any:
    """Masked Gram matrix ``G = (C ⊗ 1)·(K^T K)`` of the row-wise Khatri-Rao product ``K = D ⊙ X``.

    Parameters
    ----------
    X : array, shape (n, d)
        Data (append a column of ones yourself for a bias). Real floating dtype.
    D : array, shape (n, h)
        Activation pattern (or any row weights), same namespace, dtype and device as ``X``.
    coupling : array, shape (h, h), optional
        Coupling ``C`` (``V V^T`` in the hidden step), in the result's dtype; entry ``(j, k)``
        multiplies block ``(j, k)``. ``None`` means all ones.
    out : array, shape (h*d, h*d), optional
        Where to write the result (same namespace and device, the result's dtype); it is
        returned.
    dtype : dtype, optional
        The dtype of the result and of the sums that form it: ``X``'s (the default), or
        float64 for float32 ``X`` and ``D``. Then every product of float32 entries is formed
        in float64 (exactly, or to float64's rounding for general weights) and every sum is
        float64, on every backend, so the rounding is float64's (``docs/kernels.md``).
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
    result = getattr(X, "dtype", None) if dtype is None else dtype
    xp = _check_inputs(X, D, coupling, out, backend, result)
    backend = _choose_backend(X, D, coupling, out, backend, xp)
    if backend == "numba":
        from ._numba_cpu import masked_gram_numpy

        return masked_gram_numpy(X, D, coupling, out, np.dtype(result))
    if backend == "cuda":
        from ._numba_cuda import masked_gram_cuda

        return masked_gram_cuda(X, D, coupling, out, xp, result)
    G = masked_gram_reference(X, D, coupling, xp, result)
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


def _check_inputs(X: Any, D: Any, coupling: Any | None, out: Any | None, backend: str,
                  result: Any) -> Any:
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
    named = getattr(result, "__name__", result)  # np.float64 as "float64"
    if result != X.dtype and not (X.dtype == xp.float32 and result == xp.float64):
        raise TypeError(f"dtype must be X's ({X.dtype}) or, for float32 X, float64; got "
                        f"{named}")
    for name, a in arrays.items():
        if not xp.isdtype(a.dtype, "real floating"):
            raise TypeError(f"{name} must have a real floating dtype, got {a.dtype}")
        if name == "D" and a.dtype != X.dtype:
            raise TypeError(f"{name} has dtype {a.dtype} but X has {X.dtype}; they must match")
        if name in ("coupling", "out") and a.dtype != result:
            raise TypeError(f"{name} has dtype {a.dtype} but the result's is {named} (X's, "
                            "or dtype=); they must match")
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


def gauss_newton_product(
    Xt: Any, D: Any, V: Any, dW: Any, Hb: Any | None = None, dT: Any | None = None, *,
    backend: str | None = None,
) -> tuple[Any, Any | None]:
    """Gauss-Newton product ``J^T J (dW, dT)`` of a two-layer network with its pattern fixed.

    With the Jacobian ``J (dW, dT) = (D * (Xt dW^T)) V + Hb dT`` of the outputs in the hidden
    weights (and the output weights), computes ``J^T J`` applied to ``(dW, dT)`` without
    forming ``J`` or any n x h temporary on the Numba backends::

        U     = (D * (Xt @ dW.T)) @ V + Hb @ dT          (n, k); Hb @ dT only when given
        out_W = (D * (U @ V.T)).T @ Xt                   (h, d~)
        out_T = Hb.T @ U                                 (m, k)

    Parameters
    ----------
    Xt : array, shape (n, d~)
        Data (with its column of ones for a hidden bias). Real floating dtype.
    D : array, shape (n, h)
        Activation pattern (any real weights). Same namespace, dtype and device as ``Xt``.
    V : array, shape (h, k)
        Output weights.
    dW : array, shape (h, d~)
        Direction in the hidden weights.
    Hb : array, shape (n, m), optional
        Output-layer features (``[H, 1]`` in the joint step). Give it with ``dT`` or not at all.
    dT : array, shape (m, k), optional
        Direction in the output weights.
    backend : {None, "auto", "reference", "numba", "cuda"}
        ``None`` or ``"auto"`` dispatches on the array type like :func:`masked_gram`: NumPy
        float32/float64 arrays go to the Numba CPU kernel, arrays exposing
        ``__cuda_array_interface__`` to the Numba CUDA kernel (the reference where
        numba-cuda cannot run), anything else to the array-API reference. Naming a backend
        forces it; one that cannot run here or cannot take these arrays raises, it is never
        replaced by another.

    Returns
    -------
    out_W : array, shape (h, d~)
        ``(D * (U V^T))^T Xt``, in the namespace, dtype and device of ``Xt``.
    out_T : array, shape (m, k), or None
        ``Hb^T U``; ``None`` when ``Hb`` and ``dT`` are not given.

    Raises
    ------
    TypeError
        Non-array input, mixed namespaces, non-real-floating or mixed dtypes, or arrays the
        requested ``backend`` cannot take (the message names the argument).
    ValueError
        Shapes that do not match (named), mixed devices, only one of ``Hb`` and ``dT``, or an
        unknown ``backend``.
    RuntimeError
        ``backend="cuda"`` where Numba CUDA cannot run.

    Notes
    -----
    Cost: about ``4 n h (d~ + k) + 4 n m k`` flops. The CPU kernel runs one row at a time with
    three length-h work vectors, in row blocks that depend on ``n`` only (in parallel over
    blocks, each into its own partial sums, added in block order afterwards), so its result
    does not depend on the number of Numba threads. It computes in the input dtype, with
    fused multiply-adds and no ``fastmath``. Non-finite values are not rejected: no row is
    skipped, so they propagate as in the formulas.

    Examples
    --------
    >>> import numpy as np
    >>> from relu_altmin.kernels import gauss_newton_product
    >>> Xt = np.array([[1.0, 1.0], [2.0, 1.0]])
    >>> D = np.array([[1.0, 0.0], [1.0, 1.0]])
    >>> V = np.array([[1.0], [2.0]])
    >>> dW = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> out_W, out_T = gauss_newton_product(Xt, D, V, dW)
    >>> out_W
    array([[ 9.,  5.],
           [16.,  8.]])
    >>> out_T is None
    True
    """
    arrays, xp = _check_product_inputs(Xt, D, V, dW, Hb, dT, backend)
    chosen = _product_backend(arrays, "auto" if backend is None else backend, xp)
    if chosen == "numba":
        from ._gn_numba_cpu import gauss_newton_product_numpy

        return gauss_newton_product_numpy(Xt, D, V, dW, Hb, dT)
    if chosen == "cuda":
        from ._gn_numba_cuda import gauss_newton_product_cuda

        return gauss_newton_product_cuda(Xt, D, V, dW, Hb, dT, xp)
    return gauss_newton_product_reference(Xt, D, V, dW, Hb, dT)


def _product_backend(arrays: dict[str, Any], backend: str, xp: Any) -> str:
    """The backend that runs for :func:`gauss_newton_product`: ``backend`` itself, checked,
    or what "auto" picks for the arrays' type."""
    dtype = arrays["Xt"].dtype
    kernel_dtype = dtype in (xp.float32, xp.float64)
    if backend == "auto":
        if kernel_dtype and all(_on_cuda(a) for a in arrays.values()):
            # Without numba-cuda the array-API reference still runs on the caller's device.
            return "cuda" if _cuda_available() else "reference"
        if kernel_dtype and all(isinstance(a, np.ndarray) for a in arrays.values()):
            return "numba"
        return "reference"
    if backend == "reference":
        return backend
    if not kernel_dtype:
        raise TypeError(f"backend={backend!r} needs float32 or float64 arrays, got {dtype}")
    for name, a in arrays.items():
        if backend == "numba" and not isinstance(a, np.ndarray):
            raise TypeError(f"backend='numba' needs NumPy arrays, but {name} is "
                            f"{type(a).__name__}")
        if backend == "cuda" and not _on_cuda(a):
            raise TypeError(
                f"backend='cuda' needs arrays exposing __cuda_array_interface__ (CuPy, PyTorch "
                f"CUDA), but {name} is {type(a).__name__}"
            )
    if backend == "cuda" and not _cuda_available():
        raise RuntimeError(
            "backend='cuda' was requested but Numba CUDA cannot run here (numba-cuda missing "
            "or no usable GPU)"
        )
    return backend


def _check_product_inputs(Xt: Any, D: Any, V: Any, dW: Any, Hb: Any | None, dT: Any | None,
                          backend: str | None) -> tuple[dict[str, Any], Any]:
    """Validate :func:`gauss_newton_product`'s arguments; return them by name (``Hb`` and
    ``dT`` only when given) and their array namespace.

    Plain NumPy arrays take a shorter path (the product is called once per CG iteration, and
    the general checks cost as much as the whole kernel at a few hundred rows)."""
    if backend is not None and backend not in BACKENDS:
        raise ValueError(f"backend must be None or one of {BACKENDS}, got {backend!r}")
    if (Hb is None) != (dT is None):
        raise ValueError("Hb and dT must be given together (the joint step) or both be None")
    arrays = {"Xt": Xt, "D": D, "V": V, "dW": dW}
    if Hb is not None:
        arrays.update(Hb=Hb, dT=dT)
    if all(type(a) is np.ndarray for a in arrays.values()):
        xp = _numpy_namespace()
        for name, a in arrays.items():
            if a.dtype.kind != "f":
                raise TypeError(f"{name} must have a real floating dtype, got {a.dtype}")
    else:
        for name, a in arrays.items():
            if not is_array_api_obj(a):
                raise TypeError(f"{name} must be an array, got {type(a).__name__}")
        try:
            xp = array_namespace(*arrays.values())
        except TypeError as exc:
            raise TypeError(f"Xt, D, V, dW, Hb and dT must share one array namespace: {exc}"
                            ) from None
        for name, a in arrays.items():
            if not xp.isdtype(a.dtype, "real floating"):
                raise TypeError(f"{name} must have a real floating dtype, got {a.dtype}")
            if device(a) != device(Xt):
                raise ValueError(f"{name} is on device {device(a)} but Xt is on {device(Xt)}")
    for name, a in arrays.items():
        if a.dtype != Xt.dtype:
            raise TypeError(f"{name} has dtype {a.dtype} but Xt has {Xt.dtype}; they must match")
    if Xt.ndim != 2:
        raise ValueError(f"Xt must be 2-D (n, d~), got shape {tuple(Xt.shape)}")
    n, dt = Xt.shape
    if D.ndim != 2 or D.shape[0] != n:
        raise ValueError(f"D must be 2-D (n, h) with n = {n} rows, got {tuple(D.shape)}")
    h = D.shape[1]
    if V.ndim != 2 or V.shape[0] != h:
        raise ValueError(f"V must be 2-D (h, k) with h = {h} rows, got {tuple(V.shape)}")
    k = V.shape[1]
    if tuple(dW.shape) != (h, dt):
        raise ValueError(f"dW must have shape ({h}, {dt}), got {tuple(dW.shape)}")
    if Hb is not None and dT is not None:  # both or neither, checked above
        if Hb.ndim != 2 or Hb.shape[0] != n:
            raise ValueError(f"Hb must be 2-D (n, m) with n = {n} rows, got {tuple(Hb.shape)}")
        if tuple(dT.shape) != (Hb.shape[1], k):
            raise ValueError(f"dT must have shape ({Hb.shape[1]}, {k}), got {tuple(dT.shape)}")
    return arrays, xp


def _numpy_namespace() -> Any:
    from array_api_compat import numpy as xp

    return xp
