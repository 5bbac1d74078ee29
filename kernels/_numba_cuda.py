"""Numba CUDA kernel of the masked Gram matrix (docs/design.md §2).

One thread block per unit pair ``j <= k`` and output tile pair ``ta <= tb`` of the symmetric
d x d block ``T[j, k]``; each thread owns one entry ``a <= b`` and writes it to the four mirrored
places of the output, so every output entry has exactly one writer. Rows are staged in shared
memory a step at a time; within a step the rows where ``D_j * D_k == 0`` are compacted away
(a prefix sum over the step), so rows where a ReLU unit is off cost no multiply-adds.

:mod:`relu_altmin.kernels` imports this module (and so ``numba.cuda``) only when a CUDA array
or ``backend="cuda"`` asks for it. Under the simulator (``NUMBA_ENABLE_CUDASIM=1``) "device
memory" is host memory, so a caller's array is wrapped as it is; on a GPU it is wrapped
zero-copy with ``cuda.as_cuda_array``.
"""

from __future__ import annotations

import functools
from typing import Any

import numba
import numpy as np
from numba import cuda  # a module global: the simulator swaps it inside kernels

from ._numba_cpu import unpair

TILE = 16  # largest output tile edge: thread blocks are (t, t) with t <= TILE
ROWS = 128  # largest number of rows staged in shared memory per step
_MAX_GRID_Y = 65535


def cuda_available() -> bool:
    """Whether the Numba CUDA backend can run here (a usable GPU, or the simulator)."""
    try:
        return bool(cuda.is_available())
    except Exception:  # a broken driver install reports in many ways; all mean "no".
        return False


def simulator() -> bool:
    """Whether Numba runs CUDA code in its CPU simulator."""
    return bool(getattr(numba.config, "ENABLE_CUDASIM", 0))


def masked_gram_cuda(X: Any, D: Any, coupling: Any | None, out: Any | None, xp: Any,
                     dtype: Any = None) -> Any:
    """Masked Gram matrix of CUDA arrays (CuPy, PyTorch CUDA, ...), returned in their type.

    Inputs are assumed validated by :func:`relu_altmin.kernels.masked_gram` and to expose
    ``__cuda_array_interface__``; ``xp`` is their array namespace, used to allocate ``out``
    in ``dtype`` (default ``X``'s). The kernel runs on the caller's current stream and device
    and is not synchronised.
    """
    from array_api_compat import device

    h, d = D.shape[1], X.shape[1]
    if out is None:
        out = xp.empty((h * d, h * d), dtype=X.dtype if dtype is None else dtype,
                       device=device(X))
    with cuda.gpus[_device_index(X)]:
        views = [None if a is None else _device_view(a) for a in (X, D, coupling, out)]
        launch_masked_gram(*views, stream=_caller_stream(X))
    return out


def launch_masked_gram(
    X: Any, D: Any, coupling: Any | None, out: Any, *, stream: Any = 0, tile: int = TILE
) -> Any:
    """Launch the kernel on Numba device arrays: ``out`` (h*d, h*d) receives the result.

    ``X`` (n, d) and ``D`` (n, h) are Numba device arrays (any strides) of one dtype, float32
    or float64; ``coupling`` (h, h) or None and ``out`` of the result's dtype, the same or
    float64 for float32 inputs (each product is then formed exactly in float64 and
    accumulated there). ``tile`` (a power of two, at most
    ``TILE``) caps the output tile edge; tests lower it to cover several tiles with small d.
    """
    d, h = X.shape[1], D.shape[1]
    if h * d == 0:
        return out
    t = min(tile, TILE, 1 << (d - 1).bit_length())  # the tile edge: d rounded up to a power of 2
    nt = -(-d // t)
    grid = (h * (h + 1) // 2, nt * (nt + 1) // 2)
    if grid[1] > _MAX_GRID_Y:
        raise ValueError(f"d = {d} is too large for the CUDA kernel (at most {TILE * 361})")
    kernel = _kernel(np.dtype(X.dtype).name, np.dtype(out.dtype).name)
    # Without coupling, `out` stands in for it (never read), so the kernel has one signature.
    C = out if coupling is None else coupling
    zero = np.dtype(out.dtype).type(0)  # types the accumulator: the result's dtype
    kernel[grid, (t, t), stream](X, D, C, coupling is not None, zero, out)
    return out


@functools.cache
def _kernel(dtype_name: str, result_name: str) -> Any:
    # The staged rows and weights are held in the result's dtype: for float32 entries and a
    # float64 result every product is then formed (exactly, or to float64's rounding) and
    # summed in float64.
    dtype = numba.from_dtype(np.dtype(result_name))
    pair = cuda.jit(device=True)(unpair)

    @cuda.jit
    def masked_gram_kernel(X, D, C, use_coupling, zero, out):
        xa = cuda.shared.array((ROWS, TILE), dtype)  # weighted rows, columns of tile ta
        xb = cuda.shared.array((ROWS, TILE), dtype)  # plain rows, columns of tile tb
        rows = cuda.shared.array(ROWS, numba.int64)
        weights = cuda.shared.array(ROWS, dtype)
        scan = cuda.shared.array(ROWS, numba.int32)

        n, d = X.shape
        h = D.shape[1]
        t = cuda.blockDim.x
        step = min(t * t, ROWS)
        j, k = pair(cuda.blockIdx.x, h)
        ta, tb = pair(cuda.blockIdx.y, (d + t - 1) // t)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        lid = ty * t + tx
        a, b = ta * t + ty, tb * t + tx
        mine = a <= b and b < d
        acc = zero
        for r0 in range(0, n, step):
            # Compact this step's rows with a non-zero weight D[i, j] * D[i, k] (inclusive
            # Hillis-Steele prefix sum of the 0/1 flags), keeping their order.
            flag = 0
            wt = zero
            if lid < step:
                if r0 + lid < n:
                    wt = (zero + D[r0 + lid, j]) * D[r0 + lid, k]
                    if wt != 0:
                        flag = 1
                scan[lid] = flag
            cuda.syncthreads()
            offset = 1
            while offset < step:
                v = 0
                if lid < step and lid >= offset:
                    v = scan[lid - offset]
                cuda.syncthreads()
                if lid < step:
                    scan[lid] += v
                cuda.syncthreads()
                offset *= 2
            if flag == 1:
                rows[scan[lid] - 1] = r0 + lid
                weights[scan[lid] - 1] = wt
            cuda.syncthreads()
            m = scan[step - 1]
            for e in range(lid, m * t, t * t):
                r = e // t
                c = e - r * t
                i = rows[r]
                xa[r, c] = X[i, ta * t + c] * weights[r] if ta * t + c < d else 0
                xb[r, c] = X[i, tb * t + c] if tb * t + c < d else 0
            cuda.syncthreads()
            if mine:
                for r in range(m):
                    acc += xa[r, ty] * xb[r, tx]
            cuda.syncthreads()
        if mine:
            vjk = C[j, k] * acc if use_coupling else acc
            vkj = C[k, j] * acc if use_coupling else acc
            out[j * d + a, k * d + b] = vjk
            out[j * d + b, k * d + a] = vjk
            out[k * d + a, j * d + b] = vkj
            out[k * d + b, j * d + a] = vkj

    return masked_gram_kernel


def _device_view(a: Any) -> Any:
    """A zero-copy Numba device array over a caller's CUDA array."""
    if simulator():
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

        return FakeCUDAArray(np.asarray(a))
    # sync=False: we launch on the caller's stream, which orders us after its producers.
    return cuda.as_cuda_array(a, sync=False)


def _device_index(X: Any) -> int:
    """The GPU holding ``X``, so that the kernel runs there."""
    if simulator():
        return 0
    library = type(X).__module__.split(".")[0]
    if library == "cupy":
        return X.device.id
    if library == "torch" and X.device.index is not None:
        return X.device.index
    return cuda.get_current_device().id


def _caller_stream(X: Any) -> Any:
    """The caller's current stream (CuPy or PyTorch), else Numba's default stream."""
    if simulator():
        return 0
    ptr = 0
    library = type(X).__module__.split(".")[0]
    if library == "cupy":
        import cupy

        ptr = cupy.cuda.get_current_stream().ptr
    elif library == "torch":
        import torch

        ptr = torch.cuda.current_stream(X.device).cuda_stream
    return cuda.external_stream(ptr) if ptr else 0
