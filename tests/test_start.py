"""Property tests of the start through the rows (``init="rows"``, ``relu_altmin._start``;
docs/method.md, "The start"):
each unit is the hyperplane normal to one sample row (less the sample's mean with a bias), at
unit norm, offset to be active on a fifth of the sample's rows; the units beyond the sample
keep the ``N(0, 1/d)`` draw; on long data the sample's fifth is the data's, to sampling
error. In memory, streamed and on Dask."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _bounds import EPS64, gamma
from conftest import to_numpy
from hypothesis import assume, event, given, note, settings
from hypothesis import strategies as st
from strategies import problems
from test_properties import run_fit

import relu_altmin
from relu_altmin._start import START_ACTIVE, START_ROWS


def start_of(result) -> tuple[np.ndarray, np.ndarray | None]:
    """The start's ``W`` and ``b`` (NumPy) of a ``max_iter=0`` fit."""
    net = result.network
    return to_numpy(net.W), None if net.b is None else to_numpy(net.b)


def drawn(prob) -> np.ndarray:
    """The ``N(0, 1/d)`` draw the start begins from (the default start): ``[W, b]`` from
    ``seed``'s stream."""
    d = prob.X.shape[1]
    dt = d + int(prob.bias)
    return np.random.default_rng(prob.seed).standard_normal((prob.hidden, dt)) / math.sqrt(d)


# On at most START_ROWS rows the sample is every row. Each of the first min(h, n) units is a
# distinct centred row at unit norm (to the rounding of the mean, the norm and the division:
# gamma(n + d + 4) of the row's size); with a bias exactly max(1, round(n / 5)) rows (at most
# n - 1) lie on its positive side, and the offset is midway between the two projections it
# splits, where these differ by more than their rounding. The other units are the N(0, 1/d)
# draw, unchanged. In memory and streamed in chunks alike.
@given(problems(allow_skip=False), st.booleans())
def test_start_units_are_normal_to_rows_and_active_on_a_fifth(xp, prob, streamed):
    assume(prob.X.shape[0] <= START_ROWS)
    chunks = {"chunk_rows": max(1, prob.X.shape[0] // 3)} if streamed else {}
    assert_through_rows(prob, *start_of(run_fit(xp, prob, max_iter=0, init="rows", **chunks)))


# The same on Dask arrays in row blocks, whose sample is drawn block by block.
@settings(max_examples=10, deadline=None)
@given(problems(allow_skip=False, allow_known_output=False))
def test_start_on_dask_is_through_the_rows(prob):
    da = pytest.importorskip("dask.array", reason="dask is not installed (the test extra has it)")
    block = max(1, prob.X.shape[0] // 3)
    X = da.from_array(prob.X, chunks=(block, -1))
    y = da.from_array(prob.y, chunks=(block,) if prob.y.ndim == 1 else (block, -1))
    result = relu_altmin.fit(X, y, prob.hidden, max_iter=0, init="rows", standardize=False,
                             **prob.kwargs)
    net = result.network
    assert_through_rows(prob, np.asarray(net.W), None if net.b is None else np.asarray(net.b))


def assert_through_rows(prob, W: np.ndarray, b: np.ndarray | None) -> None:
    """The start on ``prob``'s rows (all of them the sample) is the start through them."""
    n, d = prob.X.shape
    draw = drawn(prob)
    if n < 2:
        event("one row: the draw")
        np.testing.assert_array_equal(np.column_stack([W, b]) if prob.bias else W, draw)
        return
    units = min(prob.hidden, n)
    rows = prob.X - prob.X.mean(axis=0) if prob.bias else prob.X
    norms = np.linalg.norm(rows, axis=1)
    directions = rows / norms[:, None]
    sizes = (np.abs(prob.X) + np.abs(prob.X).max(axis=0)).max(axis=1) / norms
    tolerance = gamma(n + d + 4) * math.sqrt(d) * sizes
    matched = []
    for j in range(units):
        distances = np.linalg.norm(directions - W[j], axis=1)
        i = int(np.argmin(distances))
        note(f"unit {j}: row {i}, distance {distances[i]:.3g}, tolerance {tolerance[i]:.3g}")
        assert distances[i] <= tolerance[i]
        matched.append(i)
    apart = np.linalg.norm(directions[:, None] - directions[None], axis=2) \
        > tolerance[:, None] + tolerance[None]
    if np.all(apart | np.eye(n, dtype=bool)):  # rows of one direction (d = 1) are one unit
        assert len(set(matched)) == units
    if prob.bias:
        above = min(max(1, round(START_ACTIVE * n)), n - 1)
        for j in range(units):
            z = np.sort(prob.X @ W[j])
            scale = np.abs(prob.X) @ np.abs(W[j])
            if z[n - above] - z[n - above - 1] <= 8 * gamma(d + 2) * scale.max():
                event("a near tie at the offset")
                continue
            assert int(np.sum(prob.X @ W[j] + b[j] > 0.0)) == above
            # midway between the two rows: each at half the gap from the hyperplane
            gap = z[n - above] - z[n - above - 1]
            assert abs(np.min(np.abs(prob.X @ W[j] + b[j])) - gap / 2) \
                <= 8 * gamma(d + 2) * scale.max()
    if units < prob.hidden:
        event("units beyond the rows")
        rest = np.column_stack([W, b]) if prob.bias else W
        np.testing.assert_array_equal(rest[units:], draw[units:])


# On long data the start reads a uniform sample of about START_ROWS rows: each unit is active
# on a fifth of the sample, so on a fraction of all rows within sampling error of it (five
# standard errors of a proportion on START_ROWS / 2 rows, which bounds the Bernoulli sample's
# size from below with room to spare). In memory and streamed.
@settings(max_examples=5, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_start_on_long_data_is_active_on_a_fifth_of_the_rows(seed, streamed):
    rng = np.random.default_rng(seed)
    n, d, hidden = 3 * START_ROWS, 3, 6
    X = rng.standard_normal((n, d)) * rng.uniform(0.5, 2.0, d)
    y = np.maximum(X @ rng.standard_normal(d), 0.0)
    result = relu_altmin.fit(X, y, hidden, seed=seed, max_iter=0, init="rows",
                             chunk_rows=n // 4 if streamed else None)
    W, b = start_of(result)
    active = np.mean(X @ W.T + b > 0.0, axis=0)
    error = 5 * math.sqrt(START_ACTIVE * (1 - START_ACTIVE) / (START_ROWS / 2))
    note(f"active fractions {active}")
    assert np.all(np.abs(active - START_ACTIVE) <= error + EPS64)
