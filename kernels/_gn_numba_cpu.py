"""Numba CPU kernel of the Gauss-Newton product (docs/method.md, "Matrix-free solves").

For each row ``i`` (``x = Xt[i]``, ``g = D[i]``, ``b = Hb[i]``)::

    z   = dW x                      (h)
    u   = V^T (g * z) + dT^T b      (k)
    e   = g * (V u)                 (h)
    out_W += e x^T,  out_T += b u^T

so no n x h temporary is formed: per row, three length-h work vectors. Rows are cut into
blocks whose number and size depend on ``n`` only; each block accumulates into its own slice
of a partial-sum array (no two iterations of the parallel loop write the same memory), and
the partials are added in block order afterwards. The result is therefore the same bit for
bit whatever the number of threads. The accumulators are stored transposed (``d~ x h`` and
``k x m``) so that every inner loop runs over a contiguous length-h (or length-m) axis and
vectorises without ``fastmath``; the two length-h dot products are split over four partial
sums (a fixed order) to break the dependency chain. The kernel calls no BLAS.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic

#: Row blocks: at least ``_MIN_BLOCK`` rows each and at most ``_MAX_BLOCKS`` blocks, so the
#: partition (and the result) depends on ``n`` only, never on the thread count.
_MIN_BLOCK, _MAX_BLOCKS = 256, 64


def blocks(n: int) -> tuple[int, int]:
    """``(size, count)`` of the row blocks for ``n`` rows."""
    size = max(_MIN_BLOCK, -(-n // _MAX_BLOCKS))
    return size, max(1, -(-n // size))


def gauss_newton_product_numpy(
    Xt: np.ndarray, D: np.ndarray, V: np.ndarray, dW: np.ndarray, Hb: np.ndarray | None,
    dT: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """``(out_W, out_T)`` of NumPy arrays with the Numba kernel.

    Inputs are assumed validated by :func:`relu_altmin.kernels.gauss_newton_product`: one real
    dtype, float32 or float64, any memory layout; ``Hb`` and ``dT`` both given or both None.
    Runs in parallel over row blocks when Numba has more than one thread and there is more
    than one block; the serial loop computes the same blocks in the same order.
    """
    n, dt = Xt.shape
    h, k = V.shape
    dtype = Xt.dtype
    joint = Hb is not None
    Xt = np.ascontiguousarray(Xt)
    D = np.ascontiguousarray(D)
    dWt = np.ascontiguousarray(dW.T)  # d~ x h
    Vt = np.ascontiguousarray(V.T)  # k x h
    if joint:
        Hb = np.ascontiguousarray(Hb)
        dTt = np.ascontiguousarray(dT.T)  # type: ignore[union-attr]  # k x m
    else:  # no columns: the output part's loops run zero times
        Hb = np.empty((n, 0), dtype=dtype)
        dTt = np.empty((k, 0), dtype=dtype)
    m = Hb.shape[1]
    size, count = blocks(n)
    partial_W = np.empty((count, dt, h), dtype=dtype)
    partial_T = np.empty((count, k, m), dtype=dtype)
    work = np.empty((count, 5, h), dtype=dtype)  # per block: z, then the e of four rows
    u = np.empty((count, k), dtype=dtype)
    zero = dtype.type(0)
    if count > 1 and numba.get_num_threads() > 1:
        _parallel(Xt, D, dWt, Vt, Hb, dTt, size, zero, partial_W, partial_T, work, u)
    else:
        _serial(Xt, D, dWt, Vt, Hb, dTt, size, zero, partial_W, partial_T, work, u)
    out_W = np.empty((h, dt), dtype=dtype)
    out_T = np.empty((m, k), dtype=dtype)
    _reduce(partial_W, partial_T, out_W, out_T)
    return out_W, (out_T if joint else None)


@intrinsic
def _fma(typingctx: Any, a: Any, b: Any, c: Any) -> Any:
    """``a * b + c`` rounded once (LLVM's ``llvm.fma``; one instruction where the CPU has FMA,
    which the loop vectoriser keeps). Exact IEEE semantics, unlike ``fastmath``'s contraction:
    the result does not depend on how the compiler schedules the loop."""
    if not (isinstance(a, types.Float) and a == b == c):
        return None

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        ir = cgutils.ir  # llvmlite's, as numba imports it
        ty = args[0].type
        name = "llvm.fma.f64" if ty == ir.DoubleType() else "llvm.fma.f32"
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ty, [ty, ty, ty]),
                                            name)
        return builder.call(fn, args)

    return a(a, b, c), codegen


# The helpers below index two-dimensional arrays with explicit row numbers instead of taking
# row views (``A[i]``): a view costs two atomic reference-count updates wherever LLVM does not
# inline the call, which at h = 16 was most of the time per row.


@njit(cache=True)
def _dot(A: Any, i: int, B: Any, o: int, zero: Any) -> Any:
    """``sum_j A[i, j] B[o, j]`` over four partial sums (fixed order: lanes, then lane pairs)."""
    n = A.shape[1]
    s0 = s1 = s2 = s3 = zero
    q = n - n % 4
    for j in range(0, q, 4):
        s0 = _fma(A[i, j], B[o, j], s0)
        s1 = _fma(A[i, j + 1], B[o, j + 1], s1)
        s2 = _fma(A[i, j + 2], B[o, j + 2], s2)
        s3 = _fma(A[i, j + 3], B[o, j + 3], s3)
    for j in range(q, n):
        s0 = _fma(A[i, j], B[o, j], s0)
    return (s0 + s1) + (s2 + s3)


@njit(cache=True)
def _masked_dot(z: Any, D: Any, i: int, Vt: Any, o: int, zero: Any) -> Any:
    """``sum_j (D[i, j] z[j]) Vt[o, j]``: :func:`_dot` of ``D[i] * z`` (rounded) and ``Vt[o]``."""
    n = z.shape[0]
    s0 = s1 = s2 = s3 = zero
    q = n - n % 4
    for j in range(0, q, 4):
        s0 = _fma(D[i, j] * z[j], Vt[o, j], s0)
        s1 = _fma(D[i, j + 1] * z[j + 1], Vt[o, j + 1], s1)
        s2 = _fma(D[i, j + 2] * z[j + 2], Vt[o, j + 2], s2)
        s3 = _fma(D[i, j + 3] * z[j + 3], Vt[o, j + 3], s3)
    for j in range(q, n):
        s0 = _fma(D[i, j] * z[j], Vt[o, j], s0)
    return (s0 + s1) + (s2 + s3)


@njit(cache=True)
def _forward(Xt: Any, i: int, dWt: Any, z: Any, zero: Any) -> None:
    """``z = dW Xt[i]``, the terms added in order of the column ``a``; four columns of ``dWt``
    per pass over ``z``."""
    dt, h = dWt.shape
    q = dt - dt % 4
    for j in range(h):
        z[j] = zero
    for a in range(0, q, 4):
        c0, c1, c2, c3 = Xt[i, a], Xt[i, a + 1], Xt[i, a + 2], Xt[i, a + 3]
        for j in range(h):
            z[j] = _fma(c3, dWt[a + 3, j], _fma(c2, dWt[a + 2, j], _fma(
                c1, dWt[a + 1, j], _fma(c0, dWt[a, j], z[j]))))
    for a in range(q, dt):
        c = Xt[i, a]
        for j in range(h):
            z[j] = _fma(c, dWt[a, j], z[j])


@njit(cache=True)
def _back(u: Any, D: Any, i: int, Vt: Any, E: Any, r: int, zero: Any) -> None:
    """``E[r] = D[i] * (V u)``."""
    k, h = Vt.shape
    for j in range(h):
        E[r, j] = zero
    for o in range(k):
        uo = u[o]
        for j in range(h):
            E[r, j] = _fma(uo, Vt[o, j], E[r, j])
    for j in range(h):
        E[r, j] *= D[i, j]


@njit(cache=True)
def _block(Xt: Any, D: Any, dWt: Any, Vt: Any, Hb: Any, dTt: Any, start: int, stop: int,
           zero: Any, acc_W: Any, acc_T: Any, z: Any, E: Any, u: Any) -> None:
    """Rows ``start:stop`` into ``acc_W`` (d~ x h) and ``acc_T`` (k x m), both overwritten.

    Rows go four at a time (``E``: their ``e``), so that four rows share each load and store of
    ``acc_W``; the sums are still added in row order, as one row at a time would.
    """
    dt, h = dWt.shape
    k, m = dTt.shape
    acc_W[:] = zero
    acc_T[:] = zero
    i = start
    while i < stop:
        rows = min(4, stop - i)
        for r in range(rows):
            _forward(Xt, i + r, dWt, z, zero)
            for o in range(k):  # u = V^T (D[i] * z) + dT^T Hb[i]
                u[o] = _masked_dot(z, D, i + r, Vt, o, zero)
                if m:
                    u[o] += _dot(Hb, i + r, dTt, o, zero)
            _back(u, D, i + r, Vt, E, r, zero)
            for o in range(k):  # out_T += Hb[i] u^T (stored transposed)
                uo = u[o]
                for c in range(m):
                    acc_T[o, c] = _fma(uo, Hb[i + r, c], acc_T[o, c])
        if rows == 4:  # out_W += e x^T (stored transposed)
            for a in range(dt):
                c0, c1, c2, c3 = Xt[i, a], Xt[i + 1, a], Xt[i + 2, a], Xt[i + 3, a]
                for j in range(h):
                    acc_W[a, j] = _fma(c3, E[3, j], _fma(c2, E[2, j], _fma(
                        c1, E[1, j], _fma(c0, E[0, j], acc_W[a, j]))))
        else:
            for r in range(rows):
                for a in range(dt):
                    c = Xt[i + r, a]
                    for j in range(h):
                        acc_W[a, j] = _fma(c, E[r, j], acc_W[a, j])
        i += rows


def _all_blocks(Xt: Any, D: Any, dWt: Any, Vt: Any, Hb: Any, dTt: Any, size: int, zero: Any,
                partial_W: Any, partial_T: Any, work: Any, u: Any) -> None:
    """Every block into its own partial sums; iteration ``q`` writes only slices ``q``.

    Compiled twice: :func:`_parallel` (``prange`` over the blocks) and :func:`_serial` (where
    ``prange`` is a plain ``range``, without a parallel region's start-up cost)."""
    n = Xt.shape[0]
    for q in prange(partial_W.shape[0]):
        start = q * size
        _block(Xt, D, dWt, Vt, Hb, dTt, start, min(n, start + size), zero, partial_W[q],
               partial_T[q], work[q, 0], work[q, 1:], u[q])


_parallel = njit(parallel=True, cache=True)(_all_blocks)
_serial = njit(cache=True)(_all_blocks)


@njit(cache=True)
def _reduce(partial_W: Any, partial_T: Any, out_W: Any, out_T: Any) -> None:
    """``out_W = (sum_q partial_W[q])^T``, ``out_T`` likewise, adding blocks in order."""
    count, dt, h = partial_W.shape
    k, m = partial_T.shape[1], partial_T.shape[2]
    for j in range(h):
        for a in range(dt):
            s = partial_W[0, a, j]
            for q in range(1, count):
                s += partial_W[q, a, j]
            out_W[j, a] = s
    for c in range(m):
        for o in range(k):
            s = partial_T[0, o, c]
            for q in range(1, count):
                s += partial_T[q, o, c]
            out_T[c, o] = s
