"""Thread discipline (``relu_altmin._threads``): ``n_jobs`` follows scikit-learn's
convention, the default grows with the problem, and ``thread_limits`` sets and restores the
BLAS, OpenMP and Numba thread counts; and ``benchmarks/threads.py`` measures end to end."""

from __future__ import annotations

import os

import numba
import pytest
from conftest import benchmark_script
from hypothesis import given
from hypothesis import strategies as st
from threadpoolctl import threadpool_info

from relu_altmin import _threads
from relu_altmin._threads import (
    WORK_PER_THREAD,
    allowed_threads,
    resolve_n_jobs,
    thread_limits,
)

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
#: Work from nothing to well past where every core is used, in steps of a quarter threshold,
#: and any size at all.
WORK = st.one_of(st.integers(0, 4 * 4 * CORES).map(lambda q: q * WORK_PER_THREAD / 4),
                 st.floats(0, 1e300))


@given(st.integers(1, 10_000), WORK)
def test_positive_n_jobs_is_that_many_capped_at_the_cores(n_jobs, work):
    assert resolve_n_jobs(n_jobs, work=work) == min(n_jobs, CORES)


@given(st.integers(-10_000, -1), WORK)
def test_negative_n_jobs_counts_back_from_all_cores(n_jobs, work):
    threads = resolve_n_jobs(n_jobs, work=work)
    assert threads == max(1, CORES + 1 + n_jobs)
    assert resolve_n_jobs(-1, work=work) == CORES


@given(st.one_of(st.just(0), st.booleans(), st.floats(allow_nan=False), st.text(max_size=3),
                 st.just("2"), st.just(2.0)))
def test_bad_n_jobs_is_rejected_by_name(n_jobs):
    with pytest.raises((TypeError, ValueError), match="n_jobs"):
        resolve_n_jobs(n_jobs, work=1.0)


@given(st.lists(WORK, min_size=2, max_size=30))
def test_default_grows_with_the_work(works):
    threads = [resolve_n_jobs(None, work=work) for work in sorted(works)]
    assert threads == sorted(threads)
    assert 1 <= threads[0] and threads[-1] <= CORES


@given(st.floats(0, WORK_PER_THREAD), st.floats(WORK_PER_THREAD * CORES, 1e300))
def test_default_is_one_thread_when_small_and_every_core_when_large(small, large):
    assert resolve_n_jobs(None, work=small) == 1
    assert resolve_n_jobs(None, work=large) == min(CORES, allowed_threads())


@given(st.integers(1, 4), st.floats(0, 1e300))
def test_default_never_raises_the_callers_limit(limit, work):
    """Under threadpool_limits and numba.set_num_threads (or OPENBLAS_NUM_THREADS and
    NUMBA_NUM_THREADS), n_jobs=None stays within them: a benchmark's single-threaded worker
    processes must not each start a thread per core."""
    from threadpoolctl import threadpool_limits

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(min(limit, numba.config.NUMBA_NUM_THREADS))
        with threadpool_limits(limits=limit, user_api="blas"):
            assert allowed_threads() <= limit
            assert resolve_n_jobs(None, work=work) <= limit
    finally:
        numba.set_num_threads(before)


def pools() -> tuple[int, set[int]]:
    """Numba's threads, and the counts of every BLAS pool and of the OpenMP pools that
    ``thread_limits`` controls, read afresh (threadpoolctl's own look)."""
    controlled = {lib.filepath for lib in _threads._controller().lib_controllers}
    counts = {lib["num_threads"] for lib in threadpool_info()
              if lib["user_api"] == "blas" or lib["filepath"] in controlled}
    return numba.get_num_threads(), counts


def limited(threads: int) -> tuple[int, set[int]]:
    return min(threads, numba.config.NUMBA_NUM_THREADS), {threads}


class Boom(Exception):
    pass


@given(st.integers(1, CORES + 1), st.integers(1, CORES + 1), st.booleans())
def test_thread_limits_set_and_restore_the_pools(outer, inner, raises):
    before = pools()
    with thread_limits(outer):
        assert pools() == limited(outer)
        try:
            with thread_limits(inner):
                assert pools() == limited(inner)
                if raises:
                    raise Boom
        except Boom:
            pass
        assert pools() == limited(outer)
    assert pools() == before


@pytest.mark.parametrize("threads", [0, -1, True, 1.0, None])
def test_thread_limits_rejects_a_bad_count(threads):
    with pytest.raises(ValueError, match="threads"), thread_limits(threads):
        pass


def test_benchmark_measures_and_reports(tmp_path):
    """Two fresh processes of a 2-iteration demo fit, no busy neighbours: the report's
    structure, its Markdown and plot."""
    bench = benchmark_script("threads", "threads_benchmark")
    report = bench.measure(max_iter=2, repeats=1, loads=[0])
    assert [(r["config"], r["busy"]) for r in report["runs"]] == [("default", 0), ("one", 0)]
    assert report["runs"][1]["numba_threads"] == 1
    assert all(r["n_iter"] <= 2 and 0 < r["fit_seconds"] < r["wall_seconds"]
               for r in report["runs"])
    [row] = report["summary"]
    assert row["busy"] == 0 and row["target"] == bench.TARGETS[0]
    assert row["fit_seconds_ratio"] == row["fit_seconds"]["default"] / row["fit_seconds"]["one"]
    assert row["meets_target"] == (row["fit_seconds_ratio"] <= 1.0)
    report = {"benchmark": "threads", "title": "test", "configs": ("default", "one"),
              "machine": bench.machine_info(), **report}
    bench.write_report(tmp_path, "threads", report, bench.markdown(report), bench.plot)
    assert "| 0 | diabetes |" in (tmp_path / "threads.md").read_text()
    assert (tmp_path / "threads.png").stat().st_size > 0


@given(st.one_of(st.none(), st.integers(-3, 3).filter(bool)))
def test_fit_runs_on_the_threads_n_jobs_names_and_restores_them(n_jobs):
    """Inside fit (seen from its callback) Numba runs on resolve_n_jobs' count for the fit's
    work; afterwards the caller's count is back."""
    import numpy as np

    import relu_altmin

    X, y = relu_altmin.load_diabetes()
    X = np.tile(X, (3, 1)) if n_jobs is None else X
    y = np.tile(y, 3) if n_jobs is None else y
    hidden = 4
    before = numba.get_num_threads()
    seen = []
    result = relu_altmin.fit(X, y, hidden, seed=0, max_iter=2, n_jobs=n_jobs,
                             callback=lambda record, net: seen.append(numba.get_num_threads()))
    unknowns = hidden * (X.shape[1] + 1) + hidden + 1
    work = X.shape[0] * hidden * (X.shape[1] + 2) + (
        unknowns**3 / 3 if result.solver == "dense" else 0)
    expected = min(resolve_n_jobs(n_jobs, work=work), numba.config.NUMBA_NUM_THREADS)
    assert seen and all(threads == expected for threads in seen)
    assert numba.get_num_threads() == before
