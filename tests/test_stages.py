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
from _bounds import State, folded_mse_gap, objective_rise, ratio
from conftest import to_numpy
from hypothesis import given, note
from hypothesis import strategies as st

import relu_altmin
import relu_altmin._stages as stages
from relu_altmin._problem import TrainingProblem
from relu_altmin._stages import stage_sizes


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


class RecordedStates:
    """The rows (the stage's sample, in the fit's standardised coordinates) and the internal
    parameters of every state the fit records: ``fit`` computes each record's residuals by
    ``TrainingProblem.residuals`` once, in the history's order (and once more for the
    result), so the ``i``-th call is ``history[i]``'s state."""

    def __init__(self, monkeypatch):
        self.calls: list[tuple[TrainingProblem, object]] = []
        self._rows: dict[int, tuple[object, np.ndarray, np.ndarray]] = {}
        original = TrainingProblem.residuals

        def residuals(problem, params, state):
            self.calls.append((problem, params))
            return original(problem, params, state)

        monkeypatch.setattr(TrainingProblem, "residuals", residuals)

    def _data(self, rows) -> tuple[np.ndarray, np.ndarray]:
        """``(Xt, Y)`` of ``rows`` as the fit's passes read them (every chunk, mapped)."""
        if id(rows) not in self._rows:
            chunks = []
            rows.reduce(lambda Xt, Y: chunks.append((to_numpy(Xt), to_numpy(Y))))
            self._rows[id(rows)] = (rows, np.concatenate([c[0] for c in chunks]),
                                    np.concatenate([c[1] for c in chunks]))
        return self._rows[id(rows)][1:]

    def states(self, result) -> list[State]:
        """``_bounds.State`` of the states of ``result``'s history, each on its own rows."""
        out = []
        slope, skip = result.network.negative_slope, result.network.skip
        for problem, params in self.calls[:len(result.history)]:
            Xt, Y = self._data(problem.rows)
            Wt = to_numpy(params.Wt)
            d = Wt.shape[1] - int(params.bias)
            arrays = {"W": Wt[:, :d], "b": Wt[:, d] if params.bias else None,
                      "V": to_numpy(params.V),
                      "c": None if params.c is None else to_numpy(params.c)}
            out.append(State.of(Xt[:, :d], Y, arrays, slope, skip, problem.lam))
        return out

    def clear(self) -> None:
        self.calls.clear()
        self._rows.clear()


@pytest.fixture
def recorded(monkeypatch):
    return RecordedStates(monkeypatch)


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


def assert_staged(result, n: int, sizes: list[int], states: list[State], *,
                  exact: bool = True) -> float:
    """Records over the samples in order, at most STAGE_ITERS iterations each after the start,
    then every row; no rise between records of one sample but at a re-initialisation.

    In memory a sample has exactly its size; streamed and Dask rows keep each row with
    probability ``size / n`` (one pass, a chunk at a time), so a sample's size is binomial:
    within six standard deviations of its mean.

    A rise is allowed only by rounding (``_bounds.objective_rise`` of the two recorded states,
    ``states``, on their sample: the three computed objectives' rounding, each from the sizes
    of the terms summed over the sample's rows, and the output solve's suboptimality).
    Returns the largest rise over its allowance."""
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
    net = result.network
    assert len(states) == len(result.history)
    worst = 0.0  # the largest rise / allowance
    for i, (before, after) in enumerate(itertools.pairwise(result.history), start=1):
        if before.rows == after.rows and after.reinit_unit < 0:
            allowance = objective_rise(states[i - 1], states[i], net.negative_slope, net.skip,
                                       True)
            rise = after.objective - before.objective
            assert rise <= allowance, (i, rise, allowance)
            worst = max(worst, ratio(max(rise, 0.0), allowance))
    return worst


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
def test_staged_fit_goes_through_the_samples_and_reports_every_row(small_stages, recorded, seed,
                                                                   n, d, hidden, step, max_iter):
    X, y = teacher_data(seed, n, d)
    recorded.clear()
    result = relu_altmin.fit(X, y, hidden, seed=seed, step=step, max_iter=max_iter)
    sizes = stage_sizes(n, hidden * (d + 1) + hidden + 1)
    assert sizes  # the constants give every drawn n stages
    worst = assert_staged(result, n, sizes, recorded.states(result))
    note(f"largest objective rise / allowance {worst:.3e}")
    if max_iter >= len(sizes) * stages.STAGE_ITERS + 1:  # enough iterations to reach all rows
        assert result.history[-1].rows is None
    # Wherever it stopped, the result's loss is the returned network's MSE on every row.
    mse, gap = full_mse(result, X, y), mse_gap(result, X, y)
    note(f"loss error / bound {ratio(result.loss - mse, gap):.3e}")
    assert abs(result.loss - mse) <= gap


@given(seed=st.integers(0, 2**31 - 1), chunk_rows=st.integers(30, 300))
def test_streamed_samples_are_sized_for_a_chunk(small_stages, recorded, seed, chunk_rows):
    X, y = teacher_data(seed, 600, 2)
    sizes = stage_sizes(600, 3 * 3 + 4, chunk_rows)
    recorded.clear()
    streamed = relu_altmin.fit(X, y, 3, seed=seed, max_iter=12, chunk_rows=chunk_rows)
    worst = assert_staged(streamed, 600, sizes, recorded.states(streamed), exact=False)
    note(f"largest objective rise / allowance {worst:.3e}")
    mse, gap = full_mse(streamed, X, y), mse_gap(streamed, X, y)
    note(f"streamed loss error / bound {ratio(streamed.loss - mse, gap):.3e}")
    assert abs(streamed.loss - mse) <= gap


def test_dask_fit_is_staged(small_stages, recorded):
    da = pytest.importorskip("dask.array")
    X, y = teacher_data(0, 600, 2)
    X_dask = da.from_array(X, chunks=300)
    result = relu_altmin.fit(X_dask, da.from_array(y, chunks=300), 3, seed=0, max_iter=12)
    assert_staged(result, 600, stage_sizes(600, 13, 300),
                  recorded.states(result), exact=False)
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
