"""How many threads a fit uses, and holding BLAS and Numba to that many while it runs.

OpenBLAS and Numba each start a thread per core. On small problems those threads spend more
time waiting for (and, when idle, busy-waiting against) each other and other processes than
computing: on 2 cores the demo fit (diabetes, 442 x 10, 32 units) took 1.62 s with the
default threads and 0.87 s with one; with two busy processes beside it, 26.5 s against
1.51 s. So a fit picks its thread count from the size of its problem.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from collections.abc import Iterator

from threadpoolctl import ThreadpoolController

#: Work (flops of one pass over the rows, about ``n * h * (d + 1 + k)``) that one thread is
#: given before a second one is worth starting: ``n_jobs=None`` uses
#: ``ceil(work / WORK_PER_THREAD)`` threads, at most the usable cores. Chosen from fits of
#: Gaussian data (h = 32, k = 1, slope 0.1), one thread against two in one process
#: (``thread_limits``), interleaved, medians of 3, on a 2-core Xeon shared with other work
#: (load 1.5-3), 2026-12-04. Seconds per iteration two threads / one: d = 10 at work 1.7e5,
#: 1.7e6, 1.7e7: 1.61, 1.22, 1.03; d = 32 at 1.1e6, 1.1e7: 0.97, 0.91. A second thread
#: gains nothing below about 1e7 and loses badly when the cores are busy, so the threshold
#: sits above that, at 5e7 (about 0.3 s per iteration of the d = 10 fit on one core).
#: Re-measure on an idle machine with ``benchmarks/threads.py --sizes 4420 44200 442000``.
WORK_PER_THREAD = 5e7


def usable_cores() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_n_jobs(n_jobs: int | None, *, work: float) -> int:
    """The number of threads to use, from scikit-learn's ``n_jobs`` convention.

    Parameters
    ----------
    n_jobs : int or None
        ``None``: the library's choice, by problem size (one thread per
        ``WORK_PER_THREAD`` of ``work``, rounded up, at most the usable cores and at most
        the threads the caller allows now, :func:`allowed_threads`). A positive
        int: that many threads, at most the usable cores. A negative int: all usable cores
        plus one plus ``n_jobs`` (``-1`` all, ``-2`` all but one), at least one.
    work : float
        Flops of one pass over the rows, about ``n * h * (d + 1 + k)``; used only when
        ``n_jobs`` is ``None``.

    Returns
    -------
    int
        Threads, between 1 and the usable cores.

    Raises
    ------
    TypeError
        If ``n_jobs`` is not an int or None (a bool is not accepted).
    ValueError
        If ``n_jobs`` is 0, or ``work`` is negative or NaN.
    """
    cores = usable_cores()
    if n_jobs is None:
        if not work >= 0:
            raise ValueError(f"work must be a non-negative number, got {work!r}")
        allowed = min(cores, allowed_threads())
        if work >= WORK_PER_THREAD * allowed:
            return allowed
        return max(1, math.ceil(work / WORK_PER_THREAD))
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int):
        raise TypeError(f"n_jobs must be an int or None, got {n_jobs!r}")
    if n_jobs == 0:
        raise ValueError("n_jobs must not be 0 (None, a positive int, or -1 for all cores)")
    if n_jobs > 0:
        return min(n_jobs, cores)
    return max(1, cores + 1 + n_jobs)


def allowed_threads() -> int:
    """The threads the caller allows now: the fewest of Numba's and of the largest BLAS
    pool's (``NUMBA_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``threadpool_limits`` ... set
    them), so that ``n_jobs=None`` never raises a limit someone has set."""
    import numba

    blas = [c.num_threads for c in _controller().lib_controllers if c.user_api == "blas"]
    return max(1, min(numba.get_num_threads(), max(blas, default=numba.get_num_threads())))


@functools.cache
def _controller() -> ThreadpoolController:
    """The process's BLAS and OpenMP thread pools, found once (a look takes about 0.7 ms).

    ``scipy.linalg.cython_blas`` (the BLAS that Numba's ``np.dot`` calls) is imported and
    Numba's threading layer started first, so that their pools are among those found; pools
    of libraries loaded later are not.
    """
    import numba  # here, not at import: importing the package stays cheap
    import scipy.linalg.cython_blas  # noqa: F401

    numba.get_num_threads()  # starts the threading layer (and its OpenMP runtime, if any)
    return ThreadpoolController()


@contextlib.contextmanager
def thread_limits(threads: int) -> Iterator[None]:
    """Hold BLAS, OpenMP and Numba to ``threads`` threads inside the ``with`` block.

    Numba gets at most ``numba.config.NUMBA_NUM_THREADS`` (the threads it started with).
    The previous limits come back when the block exits, also on an exception.

    Parameters
    ----------
    threads : int
        Threads, at least 1 (for example from :func:`resolve_n_jobs`).

    Raises
    ------
    ValueError
        If ``threads`` is not a positive int.
    """
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int, got {threads!r}")
    import numba

    numba_before = numba.get_num_threads()
    with _controller().limit(limits={"blas": threads, "openmp": threads}):
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
        try:
            yield
        finally:
            numba.set_num_threads(numba_before)
