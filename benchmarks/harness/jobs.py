"""Running a benchmark's jobs: worker processes of one thread each."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

Job = tuple[Callable[..., dict[str, Any]], tuple[Any, ...]]


def one_thread() -> None:
    """A worker process's start: BLAS, Numba and torch on one thread each."""
    import numba
    import torch
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1)
    numba.set_num_threads(1)
    torch.set_num_threads(1)


def run_jobs(jobs: list[Job], workers: int,
             describe: Callable[[dict[str, Any]], str]) -> tuple[list[dict[str, Any]], float]:
    """Run ``(function, args)`` jobs in ``workers`` processes of one thread each.

    Parameters
    ----------
    jobs : list
        ``(function, args)`` pairs; each call returns one run (a dict).
    workers : int
        How many processes run at once.
    describe : callable
        A run's progress line: ``[i/N] describe(run)`` is printed as each run comes back.

    Returns
    -------
    runs : list of dict
        The runs, in the jobs' order.
    seconds : float
        The wall time of all of them.
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


def _call(job: Job) -> dict[str, Any]:
    function, args = job
    return function(*args)
