"""Numba CUDA kernel of the Gauss-Newton product (docs/method.md, "Matrix-free solves").

Two launches, neither with an n x h temporary:

1. one thread per row ``i``: ``U[i] = V^T (D[i] * (dW Xt[i])) + dT^T Hb[i]`` (n x k, each row
   written by its own thread);
2. one thread block per output entry, ``(j, a)`` of ``out_W`` then ``(c, o)`` of ``out_T``: the
   block's threads stride over the rows (``out_W[j, a] = sum_i D[i, j] (U[i] . V[j]) Xt[i, a]``,
   ``out_T[c, o] = sum_i Hb[i, c] U[i, o]``) and add their partial sums in shared memory by a
   fixed tree, so every entry has one writer and the result is deterministic.

Like :mod:`._numba_cuda`, this module (and so ``numba.cuda``) is imported only when a CUDA
array or ``backend="cuda"`` asks for it; caller arrays are wrapped zero-copy and the kernels
run on the caller's current stream and device.
"""

from __future__ import annotations

import functools
from typing import Any

import numba
import numpy as np
from numba import cuda  # a module global: the simulator swaps it inside kernels

from ._numba_cuda import _caller_stream, _device_index, _device_view, simulator

THREADS = 128  # the most threads per block (a power of two: the tree reduction halves it)
_SIMULATOR_THREADS = 8  # the simulator runs every thread as a Python thread


def gauss_newton_product_cuda(
    Xt: Any, D: Any, V: Any, dW: Any, Hb: Any | None, dT: Any | None, xp: Any
) -> tuple[Any, Any | None]:
    """``(out_W, out_T)`` of CUDA arrays (CuPy, PyTorch CUDA, ...), returned in their type.

    Inputs are assumed validated by :func:`relu_altmin.kernels.gauss_newton_product` and to
    expose ``__cuda_array_interface__``; ``xp`` is their namespace, used to allocate the
    results and the n x k work array. Not synchronised.
    """
    from array_api_compat import device

    n, dt = Xt.shape
    h, k = V.shape
    m = 0 if Hb is None else Hb.shape[1]
    where = device(Xt)
    U = xp.empty((n, k), dtype=Xt.dtype, device=where)
    out_W = xp.empty((h, dt), dtype=Xt.dtype, device=where)
    out_T = xp.empty((m, k), dtype=Xt.dtype, device=where) if Hb is not None else None
    threads = _SIMULATOR_THREADS if simulator() else THREADS
    with cuda.gpus[_device_index(Xt)]:
        views = [None if a is None else _device_view(a)
                 for a in (Xt, D, V, dW, Hb, dT, U, out_W, out_T)]
        launch_gauss_newton_product(*views, stream=_caller_stream(Xt), threads=threads)
    return out_W, out_T


def launch_gauss_newton_product(
    Xt: Any, D: Any, V: Any, dW: Any, Hb: Any | None, dT: Any | None, U: Any, out_W: Any,
    out_T: Any | None, *, stream: Any = 0, threads: int = THREADS,
) -> None:
    """Launch both kernels on Numba device arrays (any strides, one dtype, float32/float64).

    ``U`` (n x k) is work space; ``out_W`` (h x d~) and ``out_T`` (m x k, or None with ``Hb``
    and ``dT`` None) receive the result. ``threads`` (a power of two, at most ``THREADS``) is
    the block size of both launches; tests lower it to cover several strides over the rows.
    """
    if threads < 1 or threads > THREADS or threads & (threads - 1):
        raise ValueError(f"threads must be a power of two in [1, {THREADS}], got {threads}")
    n, dt = Xt.shape
    h, k = V.shape
    joint = Hb is not None and dT is not None and out_T is not None
    m = Hb.shape[1] if Hb is not None and joint else 0
    rows_kernel, reduce_kernel = _kernels(np.dtype(Xt.dtype).name)
    zero = np.dtype(Xt.dtype).type(0)  # types the accumulators: float32 stays float32
    # Without the output part, arrays that are never read stand in for Hb, dT and out_T, so
    # that each kernel has one signature.
    Hb_, dT_, out_T_ = (Hb, dT, out_T) if joint else (Xt, V, out_W)
    if n and k:
        rows_kernel[-(-n // threads), threads, stream](Xt, D, V, dW, Hb_, dT_, joint, zero, U)
    entries = h * dt + m * k
    if entries:
        reduce_kernel[entries, threads, stream](Xt, D, V, Hb_, U, zero, out_W, out_T_)


@functools.cache
def _kernels(dtype_name: str) -> tuple[Any, Any]:
    dtype = numba.from_dtype(np.dtype(dtype_name))

    @cuda.jit
    def rows_kernel(Xt: Any, D: Any, V: Any, dW: Any, Hb: Any, dT: Any, joint: bool, zero: Any,
                    U: Any) -> None:
        i = cuda.grid(1)
        n, dt = Xt.shape
        h, k = V.shape
        if i >= n:
            return
        for o in range(k):
            U[i, o] = zero
        for j in range(h):
            z = zero
            for a in range(dt):
                z += Xt[i, a] * dW[j, a]
            g = D[i, j] * z
            for o in range(k):
                U[i, o] += g * V[j, o]
        if joint:
            for o in range(k):
                t = zero
                for q in range(Hb.shape[1]):
                    t += Hb[i, q] * dT[q, o]
                U[i, o] += t

    @cuda.jit
    def reduce_kernel(Xt: Any, D: Any, V: Any, Hb: Any, U: Any, zero: Any, out_W: Any,
                      out_T: Any) -> None:
        partial = cuda.shared.array(THREADS, dtype)
        n, dt = Xt.shape
        h, k = V.shape
        b = cuda.blockIdx.x
        t = cuda.threadIdx.x
        T = cuda.blockDim.x
        acc = zero
        j = a = c = o = 0
        if b < h * dt:
            j = b // dt
            a = b - j * dt
            for i in range(t, n, T):
                s = zero
                for o in range(k):
                    s += U[i, o] * V[j, o]
                acc += (D[i, j] * s) * Xt[i, a]
        else:
            c = (b - h * dt) // k
            o = (b - h * dt) - c * k
            for i in range(t, n, T):
                acc += Hb[i, c] * U[i, o]
        partial[t] = acc
        cuda.syncthreads()
        half = T // 2
        while half > 0:
            if t < half:
                partial[t] += partial[t + half]
            cuda.syncthreads()
            half //= 2
        if t == 0:
            if b < h * dt:
                out_W[j, a] = partial[0]
            else:
                out_T[c, o] = partial[0]

    return rows_kernel, reduce_kernel
