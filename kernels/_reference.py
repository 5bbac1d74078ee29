"""Array-API reference of the masked Gram matrix, chunked over rows.

Works in any namespace (NumPy, array-api-strict, PyTorch, CuPy, ...). Memory is
O(p**2 + chunk * p): each chunk of rows materialises its row-wise Khatri-Rao
product ``K[i, j*d + a] = D[i, j] * X[i, a]`` and adds ``K.T @ K`` to the result.
"""

from __future__ import annotations

from typing import Any

# Rows per chunk are chosen so one chunk's Khatri-Rao block holds about this many numbers.
CHUNK_ELEMENTS = 1 << 22


def masked_gram_reference(X: Any, D: Any, coupling: Any | None, xp: Any,
                          dtype: Any = None) -> Any:
    """Return the p x p masked Gram matrix (p = h*d) in the namespace ``xp``, in ``dtype``
    (default ``X``'s; float64 for float32 inputs forms each chunk's products in float64).

    ``G[j*d + a, k*d + b] = coupling[j, k] * sum_i D[i, j] D[i, k] X[i, a] X[i, b]``.
    Inputs are assumed validated (see :func:`relu_altmin.kernels.masked_gram`).
    """
    n, d = X.shape
    h = D.shape[1]
    p = h * d
    dtype = X.dtype if dtype is None else dtype
    chunk = max(1, min(n, CHUNK_ELEMENTS // max(p, 1)))
    G = xp.zeros((p, p), dtype=dtype, device=_device(X))
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        Xc, Dc = (xp.astype(a[start:stop, :], dtype, copy=False) for a in (X, D))
        K = xp.reshape(Dc[:, :, None] * Xc[:, None, :], (stop - start, p))
        G = G + K.T @ K
    if coupling is not None:
        G = xp.reshape(G, (h, d, h, d)) * coupling[:, None, :, None]
        G = xp.reshape(G, (p, p))
    return G


def _device(x: Any) -> Any:
    from array_api_compat import device

    return device(x)
