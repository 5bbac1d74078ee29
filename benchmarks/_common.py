"""Machine and version facts every benchmark writes beside its results."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import math
import multiprocessing
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine_info() -> dict:
    """CPU, core count, GPU (if CuPy sees one), Python and package versions, and the date."""
    gpu = None
    try:
        import cupy

        props = cupy.cuda.runtime.getDeviceProperties(0)
        gpu = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    except Exception:  # no CuPy, no driver or no device: all mean "no GPU"
        gpu = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "gpu": gpu,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {name.replace("-", "_"): _version(name) for name in (
            "relu-altmin", "numpy", "numba", "numba-cuda", "array-api-compat", "torch",
            "scipy", "scikit-learn", "cupy-cuda12x", "cupy-cuda13x")},
    }


#: ``fit``'s keyword for the plain alternation, which stops at its first stall (no unit is
#: re-initialised): what escapes.py and starts.py study, and measured their results with.
PLAIN = {"reinit": False}


def one_thread() -> None:
    """A worker process's start: BLAS, Numba and torch on one thread each."""
    import numba
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    numba.set_num_threads(1)
    torch.set_num_threads(1)


def run_jobs(jobs: list[tuple[Callable[..., dict], tuple]], workers: int,
             describe: Callable[[dict], str]) -> tuple[list[dict], float]:
    """Run ``(function, args)`` jobs in ``workers`` processes of one thread each.

    Returns the runs in the jobs' order and the wall seconds; prints ``[i/N] describe(run)``
    as each run comes back.
    """
    t0 = time.perf_counter()
    runs = []
    # Spawned, not forked: a fork of a process whose Numba kernels have run on GNU OpenMP
    # aborts in the child ("fork() called from a process already using GNU OpenMP").
    with ProcessPoolExecutor(workers, initializer=one_thread,
                             mp_context=multiprocessing.get_context("spawn")) as pool:
        for i, run in enumerate(pool.map(_call, jobs), 1):
            runs.append(run)
            print(f"[{i}/{len(jobs)}] {describe(run)}", flush=True)
    return runs, time.perf_counter() - t0


def _call(job: tuple[Callable[..., dict], tuple]) -> dict:
    function, args = job
    return function(*args)


def write_report(out: Path, name: str, report: dict, markdown: str,
                 plot: Callable[[list[dict], Path], None]) -> None:
    """``<name>.json`` (``report``), ``<name>.md`` (``markdown``) and ``<name>.png`` (``plot``
    of the report's runs) in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")
    (out / f"{name}.md").write_text(markdown)
    plot(report["runs"], out / f"{name}.png")
    print(f"wrote {out / name}.json, .md and .png")


def to_numpy(a: Any) -> Any:
    """A NumPy copy of a NumPy, CuPy or PyTorch array."""
    import numpy as np

    if hasattr(a, "get"):  # CuPy
        return a.get()
    if hasattr(a, "detach"):  # PyTorch
        return a.detach().cpu().numpy()
    return np.asarray(a)


def torch_adam(net: Any, X: Any, y: Any, lr: float, slope: float, *, epochs: int | None = None,
               seconds: float = math.inf) -> tuple[float, int, float]:
    """Full-batch ``torch.optim.Adam`` (in ``X``'s dtype) on the training MSE of a leaky-ReLU
    network, from ``net`` (a ``TwoLayerNet`` with biases and 1-D ``V``), for ``epochs`` epochs or
    until ``seconds`` of wall time have passed.

    Returns (final MSE, epochs run, training seconds).
    """
    import numpy as np
    import torch

    params = [torch.tensor(np.asarray(a), requires_grad=True)
              for a in (net.W, net.b, net.V, net.c)]
    W, b, V, c = params
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    optimiser = torch.optim.Adam(params, lr=lr)

    def loss() -> Any:
        return torch.mean((torch.nn.functional.leaky_relu(Xt @ W.T + b, slope) @ V + c - yt) ** 2)

    began, done = time.perf_counter(), 0
    while (epochs is None or done < epochs) and time.perf_counter() - began < seconds:
        optimiser.zero_grad()
        loss().backward()
        optimiser.step()
        done += 1
    elapsed = time.perf_counter() - began
    with torch.no_grad():
        return float(loss()), done, elapsed
