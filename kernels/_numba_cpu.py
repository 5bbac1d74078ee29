"""Numba CPU kernel of the masked Gram matrix (docs/design.md §2).

``T[j, k] = X^T diag(D_j * D_k) X`` is symmetric in ``(a, b)`` and ``T[j, k] = T[k, j]``, so
only blocks ``j <= k`` are computed, each from the upper triangle ``a <= b`` of a d x d Gram
matrix, and mirrored four ways. For every pair ``(j, k)`` the rows where ``D_j * D_k != 0`` are
gathered into a small per-worker buffer whose Gram matrix BLAS computes (``np.dot``), so rows
where a ReLU unit is off cost nothing.

A two-level pattern ``D in {lo, hi}`` with ``0 <= lo < hi`` (ReLU: ``{0, 1}``, leaky ReLU:
``{a, 1}``) is written ``D = lo + s*A`` with ``s = hi - lo`` and the 0/1 pattern ``A = [D == hi]``:

    T[j, k] = lo^2 X^T X + lo*s (T_A[j, j] + T_A[k, k]) + s^2 T_A[j, k]

where ``T_A`` is the masked Gram tensor of ``A``. All three coefficients are non-negative, so
nothing cancels, and a leaky pattern costs about as much as a ReLU one. Any other ``D`` goes
through the weighted (dense but symmetric) loop.

Work buffers are allocated by the caller with NumPy, so ``tracemalloc`` sees them; nothing in
the kernels allocates more than a few d x d temporaries.
"""

from __future__ import annotations

import functools

import numba
import numpy as np
from numba import njit, prange
from threadpoolctl import ThreadpoolController

# OpenBLAS runs a GEMM on several threads once m*n*k exceeds 4 * 65536; a gathered block of
# ``chunk`` rows keeps each call below that, so BLAS does not spawn threads inside our prange.
_BLAS_SINGLE_THREAD_WORK = 4 * 65536
_MIN_CHUNK, _MAX_CHUNK = 16, 1024


def unpair(q, h):
    """Return ``(j, k)``, ``j <= k < h``, of the ``q``-th pair in row-major upper-triangle order.

    Plain Python so that the CPU kernels (``njit``) and the CUDA kernels (``cuda.jit``, device
    function) compile the same source.
    """
    j = 0
    while q >= h - j:
        q -= h - j
        j += 1
    return j, j + q


_unpair = njit(cache=True)(unpair)


def masked_gram_numpy(
    X: np.ndarray, D: np.ndarray, coupling: np.ndarray | None, out: np.ndarray | None,
    dtype: np.dtype | None = None,
) -> np.ndarray:
    """Masked Gram matrix of NumPy arrays with the Numba kernels.

    Inputs are assumed validated by :func:`relu_altmin.kernels.masked_gram`: ``X`` (n, d) and
    ``D`` (n, h) of one real floating dtype, ``coupling`` (h, h) or None and ``out`` (p, p)
    or None, ``p = h*d``, of the result's ``dtype`` (default ``X``'s; float64 for float32
    inputs: the rows are copied into float64 buffers, which the kernels fill anyway, so every
    product is exact and every sum float64). Any memory layout is accepted.

    BLAS is held to one thread while the kernel runs: its idle worker threads busy-wait after
    a call, and on a machine with few cores they took the cores from Numba's threads (a fit
    that alternates this kernel with BLAS solves ran 2-10x slower on 2 cores).
    """
    with _blas_controller().limit(limits=1, user_api="blas"):
        return _masked_gram_numpy(X, D, coupling, out, X.dtype if dtype is None else dtype)


@functools.cache
def _blas_controller() -> ThreadpoolController:
    """NumPy's and the kernel's BLAS thread pools (inspected once: a look takes 0.7 ms).

    Numba's ``np.dot`` calls BLAS through ``scipy.linalg.cython_blas``; it is imported first
    so that its pool is among those found.
    """
    import scipy.linalg.cython_blas  # noqa: F401

    return ThreadpoolController()


def _masked_gram_numpy(
    X: np.ndarray, D: np.ndarray, coupling: np.ndarray | None, out: np.ndarray | None,
    dtype: np.dtype,
) -> np.ndarray:
    n, d = X.shape
    h = D.shape[1]
    p = h * d
    in_place = out is not None and out.flags.c_contiguous and out.flags.writeable
    G: np.ndarray = out if in_place else np.empty((p, p), dtype=dtype)  # type: ignore[assignment]
    if p == 0:
        return _finish(G, out)
    X = np.ascontiguousarray(X)
    nw = numba.get_num_threads()
    chunk = int(np.clip(_BLAS_SINGLE_THREAD_WORK // (d * d), _MIN_CHUNK, _MAX_CHUNK))
    chunk = max(1, min(chunk, n))
    tmps = np.empty((nw, d, d), dtype=dtype)
    accs = np.empty((nw, d, d), dtype=dtype)

    lo, hi, two_level = _levels(D)
    if two_level:
        s = hi - lo
        c0, c1, c2 = lo * lo, lo * s, s * s
        if s != 0:
            bufs = np.empty((nw, chunk, d), dtype=dtype)
            A = np.empty((h, n), dtype=np.bool_)
            _unit_masks(D, hi, A)
            _binary_pair_grams(X, A, G, bufs, tmps, accs)
        else:  # D is constant: only the plain Gram term is left.
            G.fill(0)
    else:
        c0, c1, c2 = 0.0, 0.0, 1.0
        bufs = np.empty((nw, 2, chunk, d), dtype=dtype)
        _weighted_pair_grams(X, np.ascontiguousarray(D.T, dtype=dtype), G, bufs, tmps, accs)

    # lo * lo underflows to 0 before lo * s does (lo < 1e-154): each term is tested on its own.
    if c0 != 0 or c1 != 0 or c2 != 1 or coupling is not None:
        # zeros where unused, so that 0 * inf never turns into NaN
        G0 = (_plain_gram(X, np.empty((chunk, d), dtype=dtype)) if c0 != 0
              else np.zeros((d, d), dtype=dtype))
        diag = (np.stack([G[j * d:(j + 1) * d, j * d:(j + 1) * d] for j in range(h)]) if c1 != 0
                else np.zeros((h, d, d), dtype=dtype))
        C = np.ones((h, h), dtype=dtype) if coupling is None else np.ascontiguousarray(coupling)
        _combine(G, G0, diag, c0, c1, c2, C)
    return _finish(G, out)


def _finish(G: np.ndarray, out: np.ndarray | None) -> np.ndarray:
    if out is None or G is out:
        return G
    out[...] = G
    return out


@njit(cache=True)
def _levels(D):
    """Return ``(lo, hi, two_level)``: min, max, and whether ``D`` is a two-level pattern."""
    n, h = D.shape
    if n == 0:
        return 0.0, 0.0, True
    lo = hi = float(D[0, 0])
    for i in range(n):
        for j in range(h):
            v = float(D[i, j])
            lo = min(lo, v)
            hi = max(hi, v)
    if lo < 0 and lo != hi:
        return lo, hi, False
    for i in range(n):
        for j in range(h):
            if D[i, j] != lo and D[i, j] != hi:
                return lo, hi, False
    return lo, hi, True


@njit(cache=True)
def _unit_masks(D, hi, A):
    """Fill the (h, n) boolean ``A[j, i] = D[i, j] == hi`` (one contiguous row per unit)."""
    n, h = D.shape
    for i in range(n):
        for j in range(h):
            A[j, i] = D[i, j] == hi


@njit(cache=True)
def _plain_gram(X, buf):
    """``X^T X``, exactly symmetric, from single-threaded BLAS calls on the rows copied, a
    chunk at a time, into ``buf`` (chunk x d, in the result's dtype).

    NumPy's own (multi-threaded) BLAS is avoided on purpose: right after our parallel region
    its threads fight ours for the cores, which on a small machine costs far more than this.
    """
    n, d = X.shape
    chunk = buf.shape[0]
    acc = np.zeros((d, d), dtype=buf.dtype)
    tmp = np.empty((d, d), dtype=buf.dtype)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        buf[:m] = X[start:start + m]
        rows = buf[:m]
        np.dot(rows.T, rows, tmp)
        acc += tmp
    for a in range(d):
        for b in range(a + 1, d):
            acc[b, a] = acc[a, b]
    return acc


@njit(cache=True)
def _store_mirrored(out, acc, j, k):
    """Write the upper triangle of the symmetric block ``acc`` to blocks (j, k) and (k, j)."""
    d = acc.shape[0]
    for a in range(d):
        for b in range(a, d):
            v = acc[a, b]
            out[j * d + a, k * d + b] = v
            out[j * d + b, k * d + a] = v
            out[k * d + a, j * d + b] = v
            out[k * d + b, j * d + a] = v


@njit(parallel=True, cache=True)
def _binary_pair_grams(X, A, out, bufs, tmps, accs):
    """``out[j, k] = X^T diag(A_j A_k) X`` for a boolean (h, n) pattern ``A``.

    Worker ``w`` owns pairs ``w, w + nw, ...`` (so it writes blocks no other worker touches) and
    its own slices of the work buffers.
    """
    h, n = A.shape
    nw, chunk, _ = bufs.shape
    npairs = h * (h + 1) // 2
    for w in prange(nw):
        buf, tmp, acc = bufs[w], tmps[w], accs[w]
        for q in range(w, npairs, nw):
            j, k = _unpair(q, h)
            aj, ak = A[j], A[k]
            acc[:] = 0
            m = 0
            for i in range(n):
                if aj[i] and ak[i]:
                    buf[m] = X[i]
                    m += 1
                    if m == chunk:
                        np.dot(buf.T, buf, tmp)
                        acc += tmp
                        m = 0
            if m > 0:
                rows = buf[:m]
                np.dot(rows.T, rows, tmp)
                acc += tmp
            _store_mirrored(out, acc, j, k)


@njit(parallel=True, cache=True)
def _weighted_pair_grams(X, Dt, out, bufs, tmps, accs):
    """``out[j, k] = X^T diag(D_j D_k) X`` for any (h, n) weights ``Dt`` (rows with a zero
    weight skipped)."""
    h, n = Dt.shape
    nw, _, chunk, _ = bufs.shape
    npairs = h * (h + 1) // 2
    for w in prange(nw):
        scaled, plain, tmp, acc = bufs[w, 0], bufs[w, 1], tmps[w], accs[w]
        for q in range(w, npairs, nw):
            j, k = _unpair(q, h)
            dj, dk = Dt[j], Dt[k]
            acc[:] = 0
            m = 0
            for i in range(n):
                wt = dj[i] * dk[i]
                if wt != 0:
                    for a in range(X.shape[1]):
                        plain[m, a] = X[i, a]
                        scaled[m, a] = wt * X[i, a]
                    m += 1
                    if m == chunk:
                        np.dot(scaled.T, plain, tmp)
                        acc += tmp
                        m = 0
            if m > 0:
                np.dot(scaled[:m].T, plain[:m], tmp)
                acc += tmp
            _store_mirrored(out, acc, j, k)


@njit(parallel=True, cache=True)
def _combine(G, G0, diag, c0, c1, c2, C):
    """In place: ``G[j, k] <- C[j, k] * (c0 G0 + c1 (diag[j] + diag[k]) + c2 G[j, k])``.

    Iteration ``j`` owns the block row ``j``; ``diag`` is a copy of the diagonal blocks, so
    it is not overwritten while other rows still read it.
    """
    h, d = diag.shape[0], diag.shape[1]
    for j in prange(h):
        for k in range(h):
            for a in range(d):
                for b in range(d):
                    t = c0 * G0[a, b] + c1 * (diag[j, a, b] + diag[k, a, b])
                    G[j * d + a, k * d + b] = C[j, k] * (t + c2 * G[j * d + a, k * d + b])
