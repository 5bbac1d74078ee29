"""Streaming over row chunks (issue "Scale", item 2): every sum the fit reads from the data is
accumulated chunk by chunk, from arrays, memory-mapped ``.npy`` files or a ``Chunks`` source.

The systems and evaluations built from chunks are compared with the in-memory ones to a
rounding bound; a streamed fit keeps the critical-point condition of the output layer and
descends; the three sources give bit-for-bit the same fit on the same chunks; peak memory does
not grow with the number of rows; bad chunks are rejected with the argument named.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from _bounds import gradient_rounding, ratio, squared_error_rounding
from conftest import to_numpy
from hypothesis import given, note
from hypothesis import strategies as st
from strategies import EPS64, problems
from test_cg import bound_state, product_bound
from test_properties import (
    STEPS,
    assert_descends_between_reinits,
    hidden_system,
    mus,
    numpy_arrays,
    output_tolerance,
    run_fit,
    split_arrays,
    start_state,
    state_of,
)

import relu_altmin
from relu_altmin._problem import TrainingProblem
from relu_altmin._rows import make_rows
from relu_altmin._systems import HiddenSystem, MatrixFreeSystem

joints = st.booleans()


def chunk_sizes(n_max: int = 24):
    return st.integers(1, n_max)


def in_memory_and_chunked(kind, xp, prob, chunk_rows: int, joint: bool):
    """The start state (output layer scaled off its optimum) and ``kind``'s system there, built
    in memory and streamed ``chunk_rows`` rows at a time, and the ``joint`` actually used."""
    joint = joint and prob.train_output
    state = start_state(xp, prob, 1.5)
    params, l2 = state[2], state[4]
    whole = hidden_system(kind, xp, prob, params, l2, joint=joint)
    chunked = hidden_system(kind, xp, prob, params, l2, joint=joint, chunk_rows=chunk_rows)
    return state, whole, chunked, joint


def rhs_bound(prob, state, joint: bool, rhs: np.ndarray) -> np.ndarray:
    """Entrywise bound on the difference of two computations of ``rhs = -n grad`` (flat, in
    the unknowns' order) summed in two orders: each gradient is within
    ``_bounds.gradient_rounding`` of the exact one (``E = F - Y`` within the forward pass's
    rounding of its terms, the sums over rows and outputs), ``-n`` times it rounds once more,
    ``eps |rhs|``."""
    s, _ = bound_state(prob, state)
    errors = gradient_rounding(s)
    flat = errors["Wt"].ravel()
    if joint:
        t = errors["V"] if s.c is None else np.r_[errors["V"], errors["c"][None, :]]
        flat = np.r_[flat, t.T.ravel()]
    return 2 * s.n * (1 + EPS64) * flat + 2 * EPS64 * np.abs(rhs)


# The dense system (matrix, right-hand side, damping) accumulated over chunks of any size is
# the in-memory one, to the rounding of a different summation order.
@given(problems(), chunk_sizes(), mus, joints)
def test_chunked_dense_system_is_the_in_memory_one(xp, prob, chunk_rows, mu, joint):
    state, whole, chunked, joint = in_memory_and_chunked(HiddenSystem, xp, prob, chunk_rows,
                                                         joint)
    damping = to_numpy(whole.damping)
    bound = product_bound(prob, state, joint, mu)
    gap = np.abs(to_numpy(chunked.matrix) - to_numpy(whole.matrix))
    note(f"chunk_rows {chunk_rows}: matrix error / bound {ratio(gap, bound):.3e}")
    assert np.all(gap <= bound)
    damping_bound = np.diag(product_bound(prob, state, joint, 0.0))[:damping.size]
    assert np.all(np.abs(to_numpy(chunked.damping) - damping) <= damping_bound)
    rhs = to_numpy(whole.rhs)[:, 0]
    rhs_gap = np.abs(to_numpy(chunked.rhs)[:, 0] - rhs)
    rhs_limit = rhs_bound(prob, state, joint, rhs)
    note(f"rhs error / bound {ratio(rhs_gap, rhs_limit):.3e}")
    assert np.all(rhs_gap <= rhs_limit)


# The matrix-free operator and preconditioner streamed over chunks are the in-memory ones.
@given(problems(), chunk_sizes(), mus, joints)
def test_chunked_matrix_free_system_is_the_in_memory_one(xp, prob, chunk_rows, mu, joint):
    state, whole, chunked, joint = in_memory_and_chunked(MatrixFreeSystem, xp, prob,
                                                         chunk_rows, joint)
    assert chunked.patterns is None  # streamed: the pattern is recomputed chunk by chunk
    m = to_numpy(whole.rhs).size
    eye = xp.eye(m, dtype=xp.float64)
    columns = [np.stack([to_numpy(system.apply(mu, eye[:, i])) for i in range(m)], axis=1)
               for system in (whole, chunked)]
    bound = product_bound(prob, state, joint, mu)
    note(f"chunk_rows {chunk_rows}: operator error / bound "
         f"{ratio(columns[0] - columns[1], bound):.3e}")
    assert np.all(np.abs(columns[0] - columns[1]) <= bound)
    # The undamped hidden blocks C[j,j] T[j,j] + n l2 I: the diagonal blocks of the system
    blocks = [to_numpy(system.blocks) for system in (whole, chunked)]
    h, dt = whole.shape
    undamped = product_bound(prob, state, joint, 0.0)
    block_bound = np.stack([undamped[j * dt:(j + 1) * dt, j * dt:(j + 1) * dt]
                            for j in range(h)])
    note(f"blocks error / bound {ratio(blocks[0] - blocks[1], block_bound):.3e}")
    assert np.all(np.abs(blocks[0] - blocks[1]) <= block_bound)


# One pass over chunks gives the in-memory loss, gradients and pattern flips.
@given(problems(), chunk_sizes(), st.floats(-1.0, 1.0))
def test_chunked_evaluation_is_the_in_memory_one(xp, prob, chunk_rows, shift):
    _, Y, params, _, l2 = start_state(xp, prob)
    moved = params.replace(Wt=params.Wt + shift * xp.flip(params.Wt, axis=0))
    evaluations = []
    for rows_per_chunk in (None, chunk_rows):
        rows = make_rows(xp.asarray(prob.X), Y, prob.bias, prob.hidden, rows_per_chunk)
        rows.scan()
        problem = TrainingProblem(rows, prob.negative_slope, l2, True)
        evaluations.append(problem.evaluate(moved, params.Wt))
    whole, chunked = evaluations
    assert chunked.flips == whole.flips
    # Each evaluation is within the rounding of its loss (``||E||^2``, then over n) and of its
    # gradients (_bounds.gradient_rounding) of the exact ones, in any order of the sums.
    s = state_of(prob, split_arrays(prob, moved), l2)
    loss = float(np.sum(s.E**2)) / s.n
    error = squared_error_rounding(s) / s.n
    loss_bound = 2 * (error + EPS64 * (loss + error))
    note(f"loss error / bound {abs(chunked.loss - whole.loss) / loss_bound:.3e}")
    assert abs(chunked.loss - whole.loss) <= loss_bound
    for name, bound in gradient_rounding(s).items():
        gap = np.abs(to_numpy(getattr(chunked.grad, name)) - to_numpy(getattr(whole.grad, name)))
        note(f"{name}: error / bound {ratio(gap, 2 * bound):.3e}")
        assert np.all(gap <= 2 * bound)


# The backtracking's objective, from a pass that sums the squared errors alone, is the full
# evaluation's to the last bit (the same sums in the same order), in memory and over chunks:
# the paper's step accepts exactly the fraction it would accept on the full evaluation.
@given(problems(), st.one_of(st.none(), chunk_sizes()), st.floats(-1.0, 1.0))
def test_backtracking_objective_is_the_evaluations(xp, prob, chunk_rows, shift):
    _, Y, params, _, l2 = start_state(xp, prob)
    moved = params.replace(Wt=params.Wt + shift * xp.flip(params.Wt, axis=0))
    rows = make_rows(xp.asarray(prob.X), Y, prob.bias, prob.hidden, chunk_rows)
    rows.scan()
    problem = TrainingProblem(rows, prob.negative_slope, l2, True)
    assert problem.objective(moved) == problem.evaluate(moved, params.Wt).objective


# Condition 1 and descent for a streamed fit, every step.
@pytest.mark.parametrize("step", STEPS)
@given(problems(allow_known_output=False), chunk_sizes())
def test_streamed_fit_is_output_critical_and_descends(xp, step, prob, chunk_rows):
    seen = []
    result = run_fit(xp, prob, max_iter=4, step=step, tol=0.0, chunk_rows=chunk_rows,
                     callback=lambda rec, net: seen.append((rec, numpy_arrays(net))))
    for record, arrays in seen:
        assert record.grad_norm_V <= output_tolerance(prob, arrays)
    assert_descends_between_reinits(prob, result)


def _history(result) -> list:
    return [(r.loss, r.objective, r.step, r.pattern_flips, r.mu, r.solves, r.cg_iterations)
            for r in result.history]


# Arrays read in chunks, a memory-mapped .npy and a Chunks source give the same fit, with the
# curvature on every row or on a sample (drawn chunk by chunk, the same rows from each source).
@pytest.mark.parametrize("solver", ["dense", "cg"])
@given(chunk_rows=st.integers(1, 60), one_d=st.booleans(), float32=st.booleans(),
       curvature_rows=st.one_of(st.none(), st.integers(1, 150)))
def test_sources_give_the_same_fit(tmp_path_factory, solver, chunk_rows, one_d, float32,
                                   curvature_rows):
    X, y = relu_altmin.load_diabetes()
    X, y = X[:150], (y[:150] if one_d else np.c_[y[:150], X[:150, 0]])
    if float32:
        X, y = X.astype(np.float32), y.astype(np.float32)
    folder = tmp_path_factory.mktemp("npy")
    np.save(folder / "X.npy", X)
    np.save(folder / "y.npy", y)
    mapped = (np.load(folder / "X.npy", mmap_mode="r"), np.load(folder / "y.npy", mmap_mode="r"))

    def chunks():
        for start in range(0, len(X), chunk_rows):
            yield X[start:start + chunk_rows], y[start:start + chunk_rows]

    # precision="data": float32 rows stay float32 on so few rows too (the path long data takes)
    kwargs = dict(negative_slope=0.1, seed=1, max_iter=3, solver=solver, tol=0.0,
                  precision="data", curvature_rows=curvature_rows)
    results = [relu_altmin.fit(X, y, 6, chunk_rows=chunk_rows, **kwargs),
               relu_altmin.fit(*mapped, 6, chunk_rows=chunk_rows, **kwargs),
               relu_altmin.fit(relu_altmin.Chunks(chunks), None, 6, **kwargs)]
    for result in results[1:]:
        assert _history(result) == _history(results[0])
        for name in ("W", "b", "V", "c"):
            got, want = getattr(result.network, name), getattr(results[0].network, name)
            assert not isinstance(got, np.memmap) and got.dtype == X.dtype
            np.testing.assert_array_equal(got, want)


def test_peak_memory_does_not_grow_with_rows(tmp_path):
    """Streaming a memory-mapped .npy: the traced peak of a fit on 8x the rows stays flat.
    Both sizes sample their curvature (from ``CURVATURE_MIN_ROWS`` rows), 5 % of the rows
    capped at one chunk: one chunk's rows at either size."""
    rng = np.random.default_rng(0)
    for solver in ("dense", "cg"):  # compile the kernels outside the measurements
        relu_altmin.fit(rng.standard_normal((9, 6)), rng.standard_normal(9), 5, max_iter=1,
                        chunk_rows=4, solver=solver)
    peaks = []
    for n in (10_000, 80_000):
        X = rng.standard_normal((n, 6))
        y = np.maximum(X @ rng.standard_normal(6), 0.0)
        np.save(tmp_path / f"X{n}.npy", X)
        np.save(tmp_path / f"y{n}.npy", y)
        mapped = (np.load(tmp_path / f"X{n}.npy", mmap_mode="r"),
                  np.load(tmp_path / f"y{n}.npy", mmap_mode="r"))
        del X, y
        for solver in ("dense", "cg"):
            tracemalloc.start()
            relu_altmin.fit(*mapped, 5, seed=0, max_iter=2, chunk_rows=500, solver=solver)
            peaks.append((n, solver, tracemalloc.get_traced_memory()[1]))
            tracemalloc.stop()
    for (n_small, _, small), (n_large, _, large) in zip(peaks[:2], peaks[2:], strict=True):
        # A copy of X (8 bytes x 6 columns x n) would add 3.4 MB at n = 80000; allow far less.
        assert large - small < 8 * 6 * (n_large - n_small) / 8, peaks


def test_chunks_rejects_bad_input():
    X, y = relu_altmin.load_diabetes()
    fit = relu_altmin.fit
    cases = [
        (lambda: relu_altmin.Chunks(iter([(X, y)])), TypeError, "re-iterable"),
        (lambda: relu_altmin.Chunks(3), TypeError, "function returning an iterable"),
        (lambda: fit(relu_altmin.Chunks([(X, y)]), y, 2), ValueError, "y must be None"),
        (lambda: fit(relu_altmin.Chunks([(X, y)]), None, 2, chunk_rows=5), ValueError,
         "chunk_rows does not apply"),
        (lambda: fit(relu_altmin.Chunks([]), None, 2), ValueError, "yielded no chunks"),
        (lambda: fit(relu_altmin.Chunks([X]), None, 2), TypeError, "must be a pair"),
        (lambda: fit(relu_altmin.Chunks([(X, y), (X[:, :3], y)]), None, 2), ValueError,
         "chunk 1 has X"),
        (lambda: fit(relu_altmin.Chunks([(X, y), (X[:5], y)]), None, 2), ValueError,
         "y (chunk 1) must have shape"),
        (lambda: fit(relu_altmin.Chunks([(X, y), (X.astype(np.float32), y)]), None, 2),
         TypeError, "differs from chunk 0"),
        (lambda: fit(relu_altmin.Chunks([(X, y), (np.where(X > 2, np.nan, X), y)]), None, 2),
         ValueError, "X contains NaN or inf"),
        (lambda: fit(relu_altmin.Chunks([(X.astype(int), y)]), None, 2), TypeError,
         "real floating dtype"),
        (lambda: fit(X, y, 2, chunk_rows=0), ValueError, "chunk_rows must be >= 1"),
        (lambda: fit(X, y, 2, chunk_rows=2.5), TypeError, "chunk_rows must be an integer"),
        (lambda: fit(X, np.where(y > 2, np.inf, y), 2, chunk_rows=7), ValueError,
         "y contains NaN or inf"),
    ]
    for call, error, words in cases:
        with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
            call()
