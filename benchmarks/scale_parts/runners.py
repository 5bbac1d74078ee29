"""The scale benchmark's runs, each in its own process (``scale.py --cell ...``): ``fit`` and
full-batch Adam on data in memory or streamed from disk."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from harness.peers.torch_optim import torch_adam

from .data import SLOPE, D, MemorySampler, make_data, peak_gb


def run_fit(n: int, hidden: int, solver: str, iters: int) -> dict:
    import relu_altmin

    X, y = make_data(n)
    relu_altmin.fit(X[:8], y[:8], 2, max_iter=1)  # compile the Numba kernel outside the timings
    result = relu_altmin.fit(X, y, hidden, negative_slope=SLOPE, seed=0, max_iter=iters,
                             solver=solver, tol=0.0)
    return {**fit_summary(result), "peak_gb": peak_gb()}


def fit_summary(result: Any) -> dict:
    """What a run records of a ``FitResult``: losses, seconds and CG work per iteration."""
    steps = result.history[1:]
    per_iteration = [b.seconds - a.seconds for a, b in zip(result.history, steps, strict=False)]
    return {
        "solver": result.solver, "loss": result.loss, "start_loss": result.history[0].loss,
        "seconds": result.history[-1].seconds,
        "seconds_per_iteration": float(np.median(per_iteration)) if steps else None,
        "cg_iterations": [rec.cg_iterations for rec in steps],
        "solves": [rec.solves for rec in steps], "losses": [rec.loss for rec in result.history],
    }


def run_adam(n: int, hidden: int, seconds: float, lr: float) -> dict:
    import torch

    import relu_altmin

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    X, y = make_data(n)
    start = relu_altmin.fit(X, y, hidden, negative_slope=SLOPE, seed=0, max_iter=0).network
    final, epochs, elapsed = torch_adam(start, X, y, lr, SLOPE, seconds=seconds)
    return {"lr": lr, "loss": final, "epochs": epochs, "seconds": elapsed,
            "peak_gb": peak_gb()}


def run_streamed_fit(directory: str, hidden: int, solver: str, iters: int) -> dict:
    import relu_altmin

    sampler = MemorySampler()
    sampler.start()
    X = np.load(Path(directory) / "X.npy", mmap_mode="r")
    y = np.load(Path(directory) / "y.npy", mmap_mode="r")
    # compile the Numba kernels outside the timings, on rows in memory
    relu_altmin.fit(np.array(X[:64]), np.array(y[:64]), 2, max_iter=1, solver=solver)
    began = time.perf_counter()
    result = relu_altmin.fit(X, y, hidden, negative_slope=SLOPE, seed=0, max_iter=iters,
                             tol=0.0, solver=solver, progress=True)
    total = time.perf_counter() - began
    # fit's default chunk for a memmap (make_rows's rule: the widest per-row temporary)
    from relu_altmin._rows import CHUNK_ELEMENTS
    chunk_rows = max(1, CHUNK_ELEMENTS // max(D + 1, hidden, 1))
    return {
        **fit_summary(result), "seconds_with_setup": total,
        "times": [rec.seconds for rec in result.history], "stop_reason": result.stop_reason,
        "chunk_rows": chunk_rows, "peak_gb": peak_gb(), **sampler.stop(),
    }


def run_streamed_adam(directory: str, hidden: int, seconds: float, lr: float) -> dict:
    import torch

    import relu_altmin

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    X = np.load(Path(directory) / "X.npy", mmap_mode="r")
    y = np.load(Path(directory) / "y.npy", mmap_mode="r")
    start = relu_altmin.fit(X, y, hidden, negative_slope=SLOPE, seed=0, max_iter=0).network
    # full batch: the float32 data in memory; the float32 start makes torch_adam run in float32
    final, epochs, elapsed = torch_adam(start, np.array(X), np.array(y), lr, SLOPE,
                                        seconds=seconds)
    return {"lr": lr, "loss": final, "epochs": epochs, "seconds": elapsed,
            "peak_gb": peak_gb()}
