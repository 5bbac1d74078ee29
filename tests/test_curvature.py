"""Sub-sampled curvature (``fit(curvature_rows=...)``, docs/method.md "Sub-sampled curvature").

The damped steps may build their system (its products and preconditioner) on a fresh row
sample, while the right-hand side (the gradient) and the acceptance test use every row. The
properties: a sample is made of distinct rows of the data and follows the seed; the system on a
sample is the system of those rows with the full gradient on its right-hand side; a sampled fit
still never raises the objective between re-initialisations, is reproducible, and keeps the
output layer's critical-point condition; the size rule.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import to_numpy
from hypothesis import given
from hypothesis import strategies as st
from strategies import problems
from test_cg import RecordedCG, assert_cg_meets_its_stop, bound_state
from test_properties import (
    assert_descends_between_reinits,
    augment,
    run_fit,
    start_state,
)

import relu_altmin
from relu_altmin._problem import TrainingProblem
from relu_altmin._rows import make_rows
from relu_altmin._steps import (
    CURVATURE_FRACTION,
    CURVATURE_MIN_ROWS,
    CURVATURE_ROWS_PER_UNKNOWN,
    curvature_sample,
)
from relu_altmin._systems import HiddenSystem, MatrixFreeSystem, features

EPS64 = float(np.finfo(np.float64).eps)


def data_rows(prob, xp, chunk_rows):
    X = xp.asarray(prob.X)
    Y = xp.asarray(np.reshape(prob.y, (prob.X.shape[0], -1)))
    rows = make_rows(X, Y, prob.bias, prob.hidden, chunk_rows)
    rows.scan()
    return rows


def row_set(Xt, Y) -> list[tuple[float, ...]]:
    return [tuple(r) for r in np.c_[to_numpy(Xt), to_numpy(Y)]]


@given(problems(), st.integers(1, 30), st.one_of(st.none(), st.integers(1, 7)),
       st.integers(0, 2**32 - 1))
def test_sample_is_distinct_rows_of_the_data_and_follows_the_seed(xp, prob, size, chunk_rows,
                                                                   seed):
    rows = data_rows(prob, xp, chunk_rows)
    sample = rows.sample(size, np.random.default_rng(seed))
    (Xt, Y), = sample.in_memory()
    (all_Xt, all_Y), = data_rows(prob, xp, None).in_memory()
    drawn, data = row_set(Xt, Y), row_set(all_Xt, all_Y)
    positions = [data.index(r) for r in drawn]  # every sampled row is a row of the data
    assert positions == sorted(positions)  # in the data's order ...
    assert len(set(positions)) == len(positions)  # ... each row at most once
    assert sample.n == len(drawn) and sample.d == rows.d and sample.k == rows.k
    if chunk_rows is None or size >= rows.n:  # exactly size rows (all, if fewer)
        assert sample.n == min(size, rows.n)
    again = rows.sample(size, np.random.default_rng(seed))
    assert row_set(*again.in_memory()[0]) == drawn
    # A sample of n rows is every row, whatever the chunks.
    whole = rows.sample(rows.n, np.random.default_rng(seed))
    assert row_set(*whole.in_memory()[0]) == data


@given(problems(), st.integers(1, 3), st.integers(1, 7), st.integers(0, 2**32 - 1))
def test_a_sample_read_in_chunks_is_never_empty(xp, prob, size, chunk_rows, seed):
    """Row by row, a draw of ``size`` of ``n`` rows keeps none with chance ``(1 - size/n)^n``
    (a third at ``size`` 1): such a draw is made again, so every system has rows."""
    rows = data_rows(prob, xp, chunk_rows)
    for _ in range(5):
        sample = rows.sample(size, np.random.default_rng(seed))
        assert sample.n >= 1 and sample.stats.n == sample.n
        seed += 1


@pytest.mark.parametrize("kind", [HiddenSystem, MatrixFreeSystem])
@given(prob=problems(allow_known_output=False), size=st.integers(1, 12),
       seed=st.integers(0, 2**32 - 1), joint=st.booleans())
def test_system_on_a_sample_has_the_full_gradient_and_the_samples_curvature(
        xp, kind, prob, size, seed, joint):
    _, _, params, _, l2 = start_state(xp, prob, output_scale=1.5)
    rows = data_rows(prob, xp, None)
    full = TrainingProblem(rows, prob.negative_slope, l2, True).evaluate(params)
    sample = rows.sample(size, np.random.default_rng(seed))
    on_sample = kind.build(sample, params, prob.negative_slope, l2, full, joint=joint)
    own = kind.build(sample, params, prob.negative_slope, l2,
                     TrainingProblem(sample, prob.negative_slope, l2, True).evaluate(params),
                     joint=joint)
    # The right-hand side is -n_S times the gradient over all rows (the system is the full
    # one scaled by n_S / n), not the sample's own gradient.
    full_rhs = kind.build(rows, params, prob.negative_slope, l2, full, joint=joint).rhs
    scale = sample.n / rows.n
    np.testing.assert_allclose(np.ravel(to_numpy(on_sample.rhs)),
                               scale * np.ravel(to_numpy(full_rhs)),
                               rtol=1e-12, atol=1e-12 * float(np.max(np.abs(to_numpy(full_rhs)))))
    # The curvature is the sample's: the same matrix or products as the sample's own system.
    vector = xp.asarray(np.random.default_rng(seed).standard_normal(on_sample.rhs.shape[0]))
    if kind is HiddenSystem:
        np.testing.assert_array_equal(to_numpy(on_sample.matrix), to_numpy(own.matrix))
    else:
        np.testing.assert_array_equal(to_numpy(on_sample.apply(0.5, vector)),
                                      to_numpy(own.apply(0.5, vector)))


@given(problems(max_n=30), st.integers(1, 10), st.sampled_from(["joint", "damped"]),
       st.sampled_from(["dense", "cg"]))
def test_sampled_fit_descends_and_is_reproducible(xp, prob, rows, step, solver):
    kwargs = dict(max_iter=12, curvature_rows=rows, step=step, solver=solver)
    result = run_fit(xp, prob, **kwargs)
    assert_descends_between_reinits(prob, result)
    again = run_fit(xp, prob, **kwargs)
    strip = [{**vars(r), "seconds": 0.0} for r in result.history]
    assert strip == [{**vars(r), "seconds": 0.0} for r in again.history]


def test_sampling_changes_the_steps_not_the_acceptance(xp):
    """On data where the sample is a small part, the sampled fit differs from the full one
    (the sample is used), and every accepted step lowered the objective over all rows."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 3))
    y = np.maximum(X @ rng.standard_normal(3), 0.0) + 0.1 * rng.standard_normal(400)
    fits = [relu_altmin.fit(xp.asarray(X), xp.asarray(y), 4, seed=1, max_iter=15,
                            curvature_rows=r) for r in (40, 10**9)]
    sampled, full = fits
    assert [r.loss for r in sampled.history] != [r.loss for r in full.history]
    for before, after in itertools.pairwise(sampled.history):
        if after.reinit_unit < 0 and after.step:
            assert after.objective < before.objective


@pytest.mark.parametrize("solver", ["dense", "cg"])
@given(size=st.integers(20, 60), seed=st.integers(0, 2**32 - 1),
       step=st.sampled_from(["joint", "damped"]), chunk_rows=st.one_of(st.none(),
                                                                     st.integers(50, 400)))
def test_each_system_draws_a_fresh_sample(xp, monkeypatch, solver, size, seed, step,
                                          chunk_rows):
    """Every system of a sampled fit is built on a new draw of the step's generator: the
    generator has moved on between the draws, and no two samples are the same rows (20 or
    more of 400 rows, drawn exactly or row by row in chunks: two equal draws have probability
    below 1e-17)."""
    from relu_altmin import _steps

    draws, original = [], _steps.system_rows

    def recorded(problem, size, rng):
        state = repr(rng.bit_generator.state)
        rows = original(problem, size, rng)
        (Xt, Y), = rows.in_memory()
        draws.append((state, frozenset(row_set(Xt, Y))))
        return rows

    monkeypatch.setattr(_steps, "system_rows", recorded)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((400, 3))
    y = np.maximum(X @ rng.standard_normal(3), 0.0) + 0.1 * rng.standard_normal(400)
    relu_altmin.fit(xp.asarray(X), xp.asarray(y), 4, seed=seed, max_iter=6, step=step,
                    solver=solver, curvature_rows=size, chunk_rows=chunk_rows, tol=0.0)
    assert len(draws) >= 6  # at least one system an iteration
    assert len({state for state, _ in draws}) == len(draws)
    assert len({rows for _, rows in draws}) == len(draws)


@given(st.one_of(st.integers(1, 4 * CURVATURE_MIN_ROWS), st.integers(1, 10**8)), st.data(),
       st.one_of(st.none(), st.integers(1, 10**6)))
def test_sample_size_rule(n, data, limit):
    unknowns = data.draw(st.integers(1, max(1, n // 2)))
    capped = curvature_sample(n, unknowns, limit)
    size = curvature_sample(n, unknowns)
    # Streamed rows cap the sample at one chunk; the rule is otherwise the same.
    assert capped == (size if size is None or limit is None else min(size, limit))
    wanted = max(-(-n * CURVATURE_FRACTION // 1), CURVATURE_ROWS_PER_UNKNOWN * unknowns)
    if size is None:  # all rows: few rows, or the sample would be more than half of them
        assert n < CURVATURE_MIN_ROWS or 2 * wanted > n
    else:
        assert size == wanted and 2 * size <= n and n >= CURVATURE_MIN_ROWS
        assert size >= CURVATURE_ROWS_PER_UNKNOWN * unknowns
        assert size >= CURVATURE_FRACTION * n
    # More rows never turn sampling off.
    if size is not None:
        assert curvature_sample(2 * n, unknowns) is not None


@pytest.mark.parametrize(("n", "unknowns", "size"), [
    (CURVATURE_MIN_ROWS - 1, 1, None),  # below the floor
    (CURVATURE_MIN_ROWS, CURVATURE_MIN_ROWS // 8, CURVATURE_MIN_ROWS // 2),  # half the rows
    (CURVATURE_MIN_ROWS, CURVATURE_MIN_ROWS // 8 + 1, None),  # more than half
    (CURVATURE_MIN_ROWS, 1, CURVATURE_MIN_ROWS // 20),  # 5 %
])
def test_sample_size_rule_at_its_edges(n, unknowns, size):
    assert curvature_sample(n, unknowns) == size


def test_default_fit_samples_only_long_data(monkeypatch):
    """fit(curvature_rows=None) follows curvature_sample: all rows on the demo data, a sample
    on CURVATURE_MIN_ROWS rows."""
    X, y = relu_altmin.load_diabetes()
    assert curvature_sample(X.shape[0], 32 * 11 + 33) is None
    seen = []
    original = MatrixFreeSystem.build

    def spy(rows, *args, **kwargs):
        seen.append(rows.n)
        return original(rows, *args, **kwargs)

    monkeypatch.setattr(MatrixFreeSystem, "build", staticmethod(spy))
    copies = -(-CURVATURE_MIN_ROWS // X.shape[0])
    X2 = np.tile(X, (copies, 1))
    y2 = np.tile(y, copies)
    relu_altmin.fit(X2, y2, 8, negative_slope=0.1, seed=0, max_iter=2, solver="cg")
    unknowns = 8 * 11 + 9
    assert seen and all(n_rows < X2.shape[0] for n_rows in seen)
    expected = curvature_sample(X2.shape[0], unknowns)
    assert expected is not None
    assert all(n_rows == expected for n_rows in seen)


def test_curvature_rows_is_checked():
    X, y = relu_altmin.load_diabetes()
    with pytest.raises(ValueError, match="curvature_rows"):
        relu_altmin.fit(X, y, 2, curvature_rows=0)
    with pytest.raises(TypeError, match="curvature_rows"):
        relu_altmin.fit(X, y, 2, curvature_rows=2.5)


@given(prob=problems(max_n=40, allow_known_output=False), shift=st.floats(-1.0, 1.0),
       chunk_rows=st.sampled_from([None, 7]))
def test_output_sums_bound_the_objective_from_below_and_closely(prob, shift, chunk_rows):
    """A trial is rejected on the output step's sums alone only when its evaluation would
    reject it: the bound is below the evaluated objective, and within its own rounding
    allowance of it (so the screen does reject the trials that raise the loss)."""
    from array_api_compat import numpy as xp

    rows = data_rows(prob, xp, chunk_rows)
    rows.scan()
    problem = TrainingProblem(rows, prob.negative_slope, 1e-4, True)
    params = start_state(xp, prob)[2]
    params = params.replace(Wt=params.Wt + shift * np.cos(np.arange(params.Wt.size)).reshape(
        params.Wt.shape))
    solved, lowest = problem.output_solved_bounded(params)
    evaluated = problem.evaluate(solved).objective
    n = rows.n
    Y = np.reshape(prob.y, (n, -1))
    # The allowance the bound subtracts, from the summed terms' sizes: n eps (||Y|| +
    # sum_j |t_j| ||Hb_j||)^2 per unit of sse, twice; the objective is half the MSE.
    Hb = features(augment(xp.asarray(prob.X), prob.bias, xp), solved, prob.negative_slope, xp)[1]
    if prob.bias:
        Hb = np.c_[Hb, np.ones(n)]
    theta = solved.V if solved.c is None else np.r_[solved.V, solved.c[None, :]]
    scale = np.linalg.norm(Y) + float(np.sum(np.abs(theta) * np.linalg.norm(Hb, axis=0)[:, None]))
    allowance = 2 * n * EPS64 * scale**2 / (2 * n)
    assert lowest <= evaluated
    assert evaluated - lowest <= 2 * allowance


# Preconditioner reuse (relu_altmin._steps.REUSE_FLIPS, docs/method.md "Matrix-free solves"):
# a CG step keeps the pattern sums T[j, j] of its block preconditioner while few pattern
# entries flipped since they were formed. A system built on kept sums is the fresh system
# (right-hand side, products, damping diagonal) with only the preconditioner's T[j, j]
# replaced; CG on it still meets its stopping rule for the fresh system, a step keeps the sums
# of the last point where they were due (the first system, after a re-initialisation, after
# REUSE_FLIPS n h flips), and fits that reuse still descend.

def built_on(xp, prob, params, l2, joint, kept=None, chunk_rows=None):
    """``MatrixFreeSystem.build`` at ``params`` on the problem's rows, on ``kept`` sums."""
    rows = data_rows(prob, xp, chunk_rows)
    state = TrainingProblem(rows, prob.negative_slope, l2, True).evaluate(params)
    return MatrixFreeSystem.build(rows, params, prob.negative_slope, l2, state, joint=joint,
                                  kept=kept)


def moved_params(xp, params, seed, scale):
    """``params`` with every weight moved (a new pattern) and the output layer rescaled."""
    rng = np.random.default_rng(seed)
    Wt = to_numpy(params.Wt)
    V = to_numpy(params.V)
    return params.replace(Wt=xp.asarray(Wt + scale * np.abs(Wt).max() * rng.standard_normal(
        Wt.shape)), V=xp.asarray(V * rng.uniform(0.5, 2.0, size=V.shape)))


@given(prob=problems(allow_known_output=False), joint=st.booleans(),
       l2_factor=st.floats(1e-3, 1e3), seed=st.integers(0, 2**32 - 1),
       chunk_rows=st.sampled_from([None, 5]))
def test_kept_sums_at_the_same_pattern_give_the_fresh_system(xp, prob, joint, l2_factor, seed,
                                                             chunk_rows):
    """Sums kept from another ridge and output layer at the same hidden weights: the system
    and its preconditioner blocks are the fresh ones (ridge and coupling are not kept)."""
    _, _, params, _, l2 = start_state(xp, prob, output_scale=1.5)
    other = moved_params(xp, params, seed, 0.0)  # the same pattern, another V
    kept = built_on(xp, prob, other, l2 * l2_factor + 1e-3, not joint, chunk_rows=chunk_rows).sums
    fresh = built_on(xp, prob, params, l2, joint, chunk_rows=chunk_rows)
    reused = built_on(xp, prob, params, l2, joint, kept, chunk_rows)
    assert reused.sums is kept
    np.testing.assert_array_equal(to_numpy(reused.rhs), to_numpy(fresh.rhs))
    np.testing.assert_array_equal(to_numpy(reused.blocks), to_numpy(fresh.blocks))
    if joint:
        np.testing.assert_array_equal(to_numpy(reused.output_inverse),
                                      to_numpy(fresh.output_inverse))
    n = prob.X.shape[0]
    np.testing.assert_allclose(to_numpy(reused.damping), to_numpy(fresh.damping),
                               rtol=4 * (n + 2) * EPS64, atol=1e-300)


@pytest.fixture
def tight_cg(monkeypatch):
    """CG run to a tight tolerance with room for every iteration it needs (no progress
    stop)."""
    from relu_altmin import _systems
    monkeypatch.setattr(_systems, "CG_RTOL", 1e-9)
    monkeypatch.setattr(_systems, "CG_MAX_ITER", 10_000)
    monkeypatch.setattr(_systems, "CG_PROGRESS_TOL", 0.0)
    return 1e-9


@given(prob=problems(allow_known_output=False), joint=st.booleans(), mu=st.floats(1e-8, 1e4),
       seed=st.integers(0, 2**32 - 1), scale=st.floats(0.05, 2.0))
def test_a_system_on_sums_from_another_pattern_solves_the_fresh_system(
        xp, tight_cg, monkeypatch, prob, joint, mu, seed, scale):
    """Sums kept from other hidden weights (another pattern): the right-hand side, product
    and damping diagonal are the fresh system's, and CG, preconditioned by the kept sums,
    meets its stopping rule on the fresh system: the backward error ``||b - M x||`` against
    the fresh system's matrix ``M`` is at most the recursively updated residual CG stopped at
    (``_bounds.cg_stop``) plus the gap its updates' rounding accumulates (``_bounds.cg_gap``,
    read off the steps CG took, each product within ``gamma(N) T |d|`` of the exact system's,
    ``T``: ``_bounds.gauss_newton_terms``, ``N``: ``gauss_newton_chain``), plus ``M``'s own
    distance from the exact system, ``gamma(N) ||T |x| ||``, and the rounding of our
    ``M x - b``: the bound of ``test_cg.test_conjugate_gradients_solve_the_dense_system``."""
    recorded = RecordedCG(monkeypatch)
    start = start_state(xp, prob, output_scale=1.5)
    _, _, params, _, l2 = start
    kept = built_on(xp, prob, moved_params(xp, params, seed, scale), l2, joint).sums
    fresh = built_on(xp, prob, params, l2, joint)
    reused = built_on(xp, prob, params, l2, joint, kept)
    n = prob.X.shape[0]
    np.testing.assert_array_equal(to_numpy(reused.rhs), to_numpy(fresh.rhs))
    np.testing.assert_allclose(to_numpy(reused.damping), to_numpy(fresh.damping),
                               rtol=4 * (n + 2) * EPS64, atol=1e-300)
    x, iterations = reused.solve(mu)
    from relu_altmin import _systems
    assert iterations < _systems.CG_MAX_ITER
    m = fresh.rhs.shape[0]
    eye = xp.eye(m, dtype=xp.float64)
    matrix = np.stack([to_numpy(fresh.apply(mu, eye[:, i])) for i in range(m)], axis=1)
    x, b = to_numpy(x)[:, 0], to_numpy(fresh.rhs)
    assert_cg_meets_its_stop(bound_state(prob, start), recorded, matrix, x, b, joint, mu,
                             tight_cg, iterations)


@pytest.mark.parametrize("kind", ["joint", "damped", "exact"])
@given(prob=problems(allow_known_output=False), reuse=st.floats(0.0, 1.0),
       actions=st.lists(st.sampled_from(["take", "take", "restart"]), min_size=1, max_size=8),
       seed=st.integers(0, 2**32 - 1))
def test_a_step_keeps_the_sums_of_the_last_point_they_were_due(xp, monkeypatch, kind, prob,
                                                               reuse, actions, seed):
    """Whatever the steps and re-initialisations, the sums a step keeps are those formed at
    the last point where they were due: its first system, the first after a restart, the
    first after ``REUSE_FLIPS n h`` pattern entries flipped since they were formed. Each
    damped step accepted lowers the objective."""
    from relu_altmin import _steps
    monkeypatch.setattr(_steps, "REUSE_FLIPS", reuse)
    _, _, params, _, l2 = start_state(xp, prob)
    rows = data_rows(prob, xp, None)
    problem = TrainingProblem(rows, prob.negative_slope, l2, True)
    step = (_steps.ExactStep(problem, MatrixFreeSystem) if kind == "exact" else
            _steps.DampedStep(problem, MatrixFreeSystem, kind == "joint"))
    state = problem.evaluate(params)
    entries = rows.n * prob.hidden
    due, flipped, formed = True, 0, None
    for i, action in enumerate(actions):
        if action == "restart":  # a unit redrawn: another pattern, the step told
            params = problem.trained_output(moved_params(xp, params, seed + i, 1.0))
            state = problem.evaluate(params)
            step.restart()
            due = True
            continue
        if due or not flipped < reuse * entries:
            formed, flipped = params, 0
        outcome = step.take(params, state)
        if outcome.fraction and 0.0 < outcome.mu <= _steps.MU_SWITCH:  # a damped step taken
            assert outcome.state.objective < state.objective
        flipped += outcome.flips
        params, state, due = outcome.params, outcome.state, False
        np.testing.assert_array_equal(
            to_numpy(step.kept.sums.units),
            to_numpy(built_on(xp, prob, formed, l2, kind == "joint").sums.units))


@pytest.mark.parametrize("step", ["joint", "damped", "exact"])
@given(prob=problems(), reuse=st.sampled_from([0.01, 0.3, 1.0]))
def test_fits_that_reuse_the_preconditioner_descend_and_are_reproducible(
        xp, monkeypatch, step, prob, reuse):
    from relu_altmin import _steps
    monkeypatch.setattr(_steps, "REUSE_FLIPS", reuse)
    kwargs = dict(max_iter=8, step=step, solver="cg", tol=0.0)
    result = run_fit(xp, prob, **kwargs)
    assert_descends_between_reinits(prob, result)
    again = run_fit(xp, prob, **kwargs)
    strip = [{**vars(r), "seconds": 0.0} for r in result.history]
    assert strip == [{**vars(r), "seconds": 0.0} for r in again.history]
