"""Progressive sampling on long data (``fit(progressive=True)``, docs/method.md "Long data:
progressive sampling").

The properties: the size rule; a staged fit's records go through the samples in order, at
most ``STAGE_ITERS`` per sample, and end on every row; within a sample the objective never
rises but at a re-initialisation; ``FitResult.loss`` is the returned network's MSE on every
row whenever the fit stops, in a sample or after; streamed and Dask rows keep each sample
within a chunk; ``progressive=False`` never samples. The constants are made small so that
small data has stages.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _bounds import folded_mse_gap, ratio
from hypothesis import given, note
from hypothesis import strategies as st

import relu_altmin
import relu_altmin._stages as stages
from relu_altmin._stages import stage_sizes

EPS64 = float(np.finfo(np.float64).eps)


@given(n=st.integers(1, 10**8), unknowns=st.integers(1, 10**6),
       limit=st.one_of(st.none(), st.integers(1, 10**7)))
def test_stage_sizes_follow_the_rule(n, unknowns, limit):
    sizes = stage_sizes(n, unknowns, limit)
    if n < stages.STAGED_MIN_ROWS:
        assert sizes == []
        return
    first = max(stages.STAGE_ROWS_PER_UNKNOWN * unknowns, stages.STAGE_MIN_SAMPLE)
    expected, size = [], first
    while 2 * size <= n and (limit is None or size <= limit):
        expected.append(size)
        size *= stages.STAGE_GROWTH
    assert sizes == expected
    assert all(2 * s <= n and (limit is None or s <= limit) for s in sizes)
    assert all(b == stages.STAGE_GROWTH * a for a, b in itertools.pairwise(sizes))


@pytest.fixture
def small_stages(monkeypatch):
    """Stages from 200 rows up, a first sample of at least 40 rows, 3 iterations each."""
    monkeypatch.setattr(stages, "STAGED_MIN_ROWS", 200)
    monkeypatch.setattr(stages, "STAGE_MIN_SAMPLE", 40)
    monkeypatch.setattr(stages, "STAGE_ROWS_PER_UNKNOWN", 2)
    monkeypatch.setattr(stages, "STAGE_ITERS", 3)


def teacher_data(seed: int, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.maximum(X @ rng.standard_normal((d, 6)), 0) @ rng.standard_normal(6)
    return X, y + 0.1 * rng.standard_normal(n)


def assert_staged(result, n: int, sizes: list[int], *, exact: bool = True) -> None:
    """Records over the samples in order, at most STAGE_ITERS iterations each after the start,
    then every row; no rise between records of one sample but at a re-initialisation.

    In memory a sample has exactly its size; streamed and Dask rows keep each row with
    probability ``size / n`` (one pass, a chunk at a time), so a sample's size is binomial:
    within six standard deviations of its mean."""
    rows = [rec.rows for rec in result.history]
    seen = [key for key, _ in itertools.groupby(rows)]
    expected = [*sizes, None][:len(seen)]
    assert len(seen) == len(expected) and (seen[-1] is None) is (expected[-1] is None)
    for got, size in zip(seen, expected, strict=True):
        if size is not None:
            assert got == size if exact else abs(got - size) <= 6 * (size * (1 - size / n)) ** 0.5
    for size, group in itertools.groupby(result.history[1:], key=lambda rec: rec.rows):
        if size is not None:
            assert len(list(group)) <= stages.STAGE_ITERS
    for before, after in itertools.pairwise(result.history):
        if before.rows == after.rows and after.reinit_unit < 0:
            assert after.objective <= before.objective * (1 + 64 * EPS64) + 1e-300


def full_mse(result, X, y) -> float:
    return float(np.mean((np.asarray(result.network.predict(X)) - y) ** 2))


def mse_gap(result, X, y) -> float:
    """How far ``result.loss`` (the fit's squared error on the standardised rows, in raw
    units) and :func:`full_mse` may differ by rounding (``_bounds.folded_mse_gap``): the
    standardised network is unfolded from the returned one, its sizes within 6 roundings."""
    s = result.standardization
    net = s.standardized_network(result.network)
    arrays = {name: None if getattr(net, name) is None else np.asarray(getattr(net, name))
              for name in ("W", "b", "V", "c")}
    maps = [np.asarray(m) for m in (s.x_shift, s.x_scale, s.y_shift, s.y_scale)]
    F = np.asarray(result.network.predict(X))
    X = np.asarray(X)
    return folded_mse_gap(X, np.asarray(y), F, arrays, net.skip, maps, extra=6)


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(400, 900), d=st.integers(1, 4),
       hidden=st.integers(1, 4), step=st.sampled_from(["joint", "damped", "exact"]),
       max_iter=st.integers(1, 30))
def test_staged_fit_goes_through_the_samples_and_reports_every_row(small_stages, seed, n, d,
                                                                   hidden, step, max_iter):
    X, y = teacher_data(seed, n, d)
    result = relu_altmin.fit(X, y, hidden, seed=seed, step=step, max_iter=max_iter)
    sizes = stage_sizes(n, hidden * (d + 1) + hidden + 1)
    assert sizes  # the constants give every drawn n stages
    assert_staged(result, n, sizes)
    if max_iter >= len(sizes) * stages.STAGE_ITERS + 1:  # enough iterations to reach all rows
        assert result.history[-1].rows is None
    # Wherever it stopped, the result's loss is the returned network's MSE on every row.
    mse, gap = full_mse(result, X, y), mse_gap(result, X, y)
    note(f"loss error / bound {ratio(result.loss - mse, gap):.3e}")
    assert abs(result.loss - mse) <= gap


@given(seed=st.integers(0, 2**31 - 1), chunk_rows=st.integers(30, 300))
def test_streamed_samples_are_sized_for_a_chunk(small_stages, seed, chunk_rows):
    X, y = teacher_data(seed, 600, 2)
    sizes = stage_sizes(600, 3 * 3 + 4, chunk_rows)
    streamed = relu_altmin.fit(X, y, 3, seed=seed, max_iter=12, chunk_rows=chunk_rows)
    assert_staged(streamed, 600, sizes, exact=False)
    mse, gap = full_mse(streamed, X, y), mse_gap(streamed, X, y)
    note(f"streamed loss error / bound {ratio(streamed.loss - mse, gap):.3e}")
    assert abs(streamed.loss - mse) <= gap


def test_dask_fit_is_staged(small_stages):
    da = pytest.importorskip("dask.array")
    X, y = teacher_data(0, 600, 2)
    X_dask = da.from_array(X, chunks=300)
    result = relu_altmin.fit(X_dask, da.from_array(y, chunks=300), 3, seed=0, max_iter=12)
    assert_staged(result, 600, stage_sizes(600, 13, 300), exact=False)
    assert result.history[-1].rows is None
    assert abs(result.loss - full_mse(result, X_dask, y)) <= mse_gap(result, X_dask, y)


def test_progressive_false_never_samples(small_stages):
    X, y = teacher_data(1, 600, 2)
    result = relu_altmin.fit(X, y, 3, seed=0, max_iter=8, progressive=False)
    assert all(rec.rows is None for rec in result.history)
    staged = relu_altmin.fit(X, y, 3, seed=0, max_iter=8)
    assert staged.history[0].rows is not None


def test_short_data_is_unchanged():
    """Below STAGED_MIN_ROWS a fit is the same with and without progressive sampling."""
    X, y = relu_altmin.load_diabetes()
    on = relu_altmin.fit(X, y, 4, seed=0, max_iter=5)
    off = relu_altmin.fit(X, y, 4, seed=0, max_iter=5, progressive=False)
    assert [r.loss for r in on.history] == [r.loss for r in off.history]
    assert all(r.rows is None for r in on.history)


def test_progressive_must_be_a_bool():
    X, y = relu_altmin.load_diabetes()
    with pytest.raises(TypeError, match="progressive"):
        relu_altmin.fit(X, y, 4, progressive="yes")
