"""Property tests of the matrix-free hidden step (``solver="cg"``, the matrix-free product of
docs/design.md §2).

The system is never formed in the solver; here it is formed by the dense path
(``HiddenSystem``, itself checked against an einsum Jacobian in ``test_properties.py``) and
the matrix-free products, preconditioner and solutions are compared with it, on every backend
of the ``xp`` fixture. Every rounding bound is derived from the sizes of the terms summed
(``_bounds.gauss_newton_terms``), the longest chain of roundings (``gauss_newton_chain``), the
LU backward error (``lu_pivoted``) and Greenbaum's bound on CG's residual gap (``cg_gap``).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _bounds import (
    EPS64,
    CGStep,
    State,
    cg_gap,
    cg_residual_gap,
    cg_stop,
    gamma,
    gauss_newton_chain,
    gauss_newton_terms,
    gauss_newton_underflow,
    hidden_gradient_error,
    least_eigenvalue,
    lu_pivoted,
    lu_solve_accepted,
    ratio,
)
from conftest import to_numpy
from hypothesis import event, given, note, settings
from hypothesis import strategies as st
from strategies import Problem, problems
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
from relu_altmin import _systems
from relu_altmin._fit import AUTO_DENSE_MAX_UNKNOWNS, choose_solver
from relu_altmin._model import forward, gradients
from relu_altmin._systems import HiddenSystem, MatrixFreeSystem, hidden_part

joints = st.booleans()


def systems(xp, prob, mu, output_scale, joint):
    """The dense and the matrix-free system at the fit's start, and the dense damped matrix."""
    Xt, Y, params, fw, l2 = start_state(xp, prob, output_scale)
    dense = hidden_system(HiddenSystem, xp, prob, params, l2, joint=joint)
    free = hidden_system(MatrixFreeSystem, xp, prob, params, l2, joint=joint)
    matrix = to_numpy(dense.matrix)
    damping = to_numpy(dense.damping)
    matrix = matrix + np.diag(np.r_[mu * damping, np.zeros(matrix.shape[0] - damping.size)])
    return (Xt, Y, params, fw, l2), dense, free, matrix


def bound_state(prob: Problem, state) -> tuple[State, np.ndarray]:
    """``_bounds.State`` of :func:`systems`' start (``start_state``'s tuple) and its pattern."""
    _, _, params, fw, l2 = state
    return state_of(prob, split_arrays(prob, params), l2), to_numpy(fw.D)


def product_bound(prob: Problem, state, joint: bool, mu: float) -> np.ndarray:
    """Entrywise bound on the difference of two computations of the damped hidden-step system
    at ``state`` (dense and matrix-free, in memory and streamed): each is within ``gamma(N)``
    of the exact system times the sizes of its terms (``_bounds.gauss_newton_terms``, ``N``:
    ``_bounds.gauss_newton_chain``, the longest chain of roundings either path takes), so the
    two within twice that, plus what underflow adds (``_bounds.gauss_newton_underflow``)."""
    s, D = bound_state(prob, state)
    return (2 * gamma(gauss_newton_chain(s)) * gauss_newton_terms(s, D, joint, mu)
            + gauss_newton_underflow(s, D, joint, mu, prob.skip))


# The matrix-free product is the system the dense path forms: column i of the operator is the
# dense matrix times e_i, the right-hand sides and the damping diagonals agree.
@given(problems(), mus, st.floats(0.5, 2.0), joints)
def test_matrix_free_product_is_the_dense_system(xp, prob, mu, output_scale, joint):
    state, dense, free, matrix = systems(xp, prob, mu, output_scale, joint)
    m = matrix.shape[0]
    eye = xp.eye(m, dtype=xp.float64)
    columns = np.stack([to_numpy(free.apply(mu, eye[:, i])) for i in range(m)], axis=1)
    bound = product_bound(prob, state, joint, mu)
    note(f"largest error / bound {ratio(columns - matrix, bound):.3e}")
    assert np.all(np.abs(columns - matrix) <= bound)
    # diag(G), formed by both paths: within the bound of G's diagonal (mu = 0)
    damping = to_numpy(dense.damping)
    damping_bound = np.diag(product_bound(prob, state, joint, 0.0))[:damping.size]
    note(f"damping error / bound {ratio(to_numpy(free.damping) - damping, damping_bound):.3e}")
    assert np.all(np.abs(to_numpy(free.damping) - damping) <= damping_bound)
    np.testing.assert_array_equal(to_numpy(free.rhs), to_numpy(dense.rhs)[:, 0])


def block_sizes(free, matrix: np.ndarray) -> list[int]:
    """The preconditioner's blocks along the diagonal: ``d~`` per hidden unit, then the
    output step's matrix (``q / k`` unknowns) per output for ``joint``."""
    h, dt = free.shape
    sizes = [dt] * h
    if free.joint:
        q = matrix.shape[0] - h * dt
        k = to_numpy(free.params.V).shape[1]
        sizes += [q // k] * k
    return sizes


def lift_bound(blocks: list[np.ndarray], roundings: list[np.ndarray]) -> list[float]:
    """Upper bounds on ``_spd_inverse``'s lifts of ``blocks`` (one stack; the package's own
    blocks are within ``roundings`` of them): ``m eps tr(S_j) / m + eps max_j tr(S_j) / m``,
    the traces taken no lower than ours plus their rounding, and ``gamma(m + 4)`` for the
    trace's sum and the lift's products."""
    scales = [(np.trace(np.abs(b)) + np.trace(r)) / b.shape[0] for b, r in zip(blocks, roundings,
                                                                             strict=True)]
    largest = max(scales)
    return [(b.shape[0] * EPS64 * scale + EPS64 * largest) * (1 + gamma(b.shape[0] + 4))
            for b, scale in zip(blocks, scales, strict=True)]


# The preconditioner inverts the block diagonal of the damped system, each block lifted to
# definite: C[j,j] T[j,j] + n l2 I + mu diag(G)_j per unit, the output step's matrix per output
# (joint).
@given(problems(), mus, joints)
def test_preconditioner_inverts_the_block_diagonal(xp, prob, mu, joint):
    """The preconditioner applied to the unit vectors gives its matrix ``X`` exactly (each
    product has one nonzero term). Block by block, ``X`` is the LU inverse of the package's
    lifted block ``S = B' + L``: each column solves ``(S + dS) x = e`` with ``|dS|`` within
    ``_bounds.lu_pivoted`` (Higham Thm 9.4), so ``|S X - I| <= lu_pivoted(|S|) |X|``. The
    package's block ``B'`` is within ``product_bound`` of ours, ``B``, and the lift ``L`` is
    at most :func:`lift_bound`; so ``|B X - I| <= (|B - B'| + L + |dS|) |X|``, plus the
    rounding of our product, ``gamma(m + 1) |B| |X|``. Entries off the blocks are exactly 0."""
    state, _, free, matrix = systems(xp, prob, mu, 1.0, joint)
    m = matrix.shape[0]
    eye = xp.eye(m, dtype=xp.float64)
    apply_inverse = free.precondition(mu)
    inverse = np.stack([to_numpy(apply_inverse(eye[:, i])) for i in range(m)], axis=1)
    rounding = product_bound(prob, state, joint, mu)
    starts = np.cumsum([0, *block_sizes(free, matrix)])
    spans = [slice(a, b) for a, b in itertools.pairwise(starts)]
    h = free.shape[0]
    groups = [spans[:h], spans[h:]]  # each stack is lifted on its own
    lifts = [lift for group in groups if group for lift in lift_bound(
        [matrix[b, b] for b in group], [rounding[b, b] for b in group])]
    bound, lifted = np.zeros_like(matrix), np.zeros_like(matrix)
    for span, lift in zip(spans, lifts, strict=True):
        B, X = matrix[span, span], np.abs(inverse[span, span])
        off = rounding[span, span] + lift * np.eye(B.shape[0])
        lifted[span, span] = lift * X
        bound[span, span] = ((off + lu_pivoted(np.abs(B) + off)) @ X
                             + gamma(B.shape[0] + 1) * np.abs(B) @ X)
    blocks = np.zeros_like(matrix)
    for span in spans:
        blocks[span, span] = matrix[span, span]
    residual = np.abs(blocks @ inverse - np.eye(m))
    worst = np.unravel_index(np.argmax(np.divide(residual, bound, out=np.zeros_like(bound),
                                                 where=bound > 0)), bound.shape)
    note(f"residual / bound {ratio(residual, bound):.3e} (the lift's share of that bound "
         f"{lifted[worst] / bound[worst]:.3e})")
    assert np.all(residual <= bound)


# The preconditioner's unit blocks are one product over the upper triangle, formed a block
# of rows at a time: each entry is the sum over the rows, in any block size.
@given(st.integers(1, 40), st.integers(1, 6), st.integers(1, 5), st.integers(1, 60),
       st.integers(0, 2**32 - 1))
def test_unit_grams_sum_every_row_in_any_blocks(xp, n, dt, h, chunk, seed):
    """``_unit_grams(Xt, w)[j] = Xt^T diag(w[:, j]) Xt`` with ``CHUNK_ELEMENTS`` set so that a
    block holds from one row to all: each entry is a sum of ``n`` products of three factors
    summed over the blocks, within ``gamma(n + 2)`` of the sum of their magnitudes; the blocks
    are exactly symmetric."""
    rng = np.random.default_rng(seed)
    Xt, weights = rng.standard_normal((n, dt)), rng.random((n, h))
    expected = np.einsum("ia,ij,ib->jab", Xt, weights, Xt)
    bound = gamma(n + 2) * np.einsum("ia,ij,ib->jab", np.abs(Xt), weights, np.abs(Xt))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_systems, "CHUNK_ELEMENTS", chunk)
        grams = to_numpy(_systems._unit_grams(xp.asarray(Xt), xp.asarray(weights), xp))
    event(f"row blocks: {-(-n // max(1, chunk // (dt * (dt + 1) // 2)))}")
    assert grams.shape == (h, dt, dt)
    np.testing.assert_array_equal(grams, np.swapaxes(grams, 1, 2))
    assert np.all(np.abs(grams - expected) <= bound)


@pytest.fixture
def tight_cg(monkeypatch):
    """CG run to a tight tolerance with room for every iteration it needs (no progress
    stop)."""
    monkeypatch.setattr(_systems, "CG_RTOL", 1e-9)
    monkeypatch.setattr(_systems, "CG_MAX_ITER", 10_000)
    monkeypatch.setattr(_systems, "CG_PROGRESS_TOL", 0.0)
    return 1e-9


class RecordedCG:
    """Conjugate gradients with every product and preconditioner call recorded."""

    def __init__(self, monkeypatch):
        self.products: list[tuple[np.ndarray, np.ndarray]] = []
        self.residuals: list[tuple[np.ndarray, np.ndarray]] = []
        original = _systems.conjugate_gradients

        def recording(apply, b, precondition, xp_, **kwargs):
            def apply_(v):
                q = apply(v)
                self.products.append((to_numpy(v), to_numpy(q)))
                return q

            def precondition_(r):
                z = precondition(r)
                self.residuals.append((to_numpy(r), to_numpy(z)))
                return z

            return original(apply_, b, precondition_, xp_, **kwargs)

        monkeypatch.setattr(_systems, "conjugate_gradients", recording)

    def steps(self) -> list[CGStep]:
        """``(alpha, d, q, ||r||)`` per step; ``alpha = (r . z) / (d . A d)`` as CG formed it
        (recomputed: within ``gamma(2p + 2)`` of its own, ``p`` unknowns)."""
        return [(float(np.sum(r * z)) / float(np.sum(d * q)) * (1 + gamma(2 * r.size + 2)), d,
                 q, float(np.linalg.norm(r)))
                for (r, z), (d, q) in zip(self.residuals, self.products, strict=False)]


# Conjugate gradients solve the dense system: the residual against the formed matrix is the
# tolerance CG stops at plus rounding; where the dense solve is surely the plain LU solve, the
# solutions agree to within the inverse's norm times both residuals.
@given(problems(), mus, st.floats(0.5, 2.0), joints)
def test_conjugate_gradients_solve_the_dense_system(xp, tight_cg, monkeypatch, prob, mu,
                                                    output_scale, joint):
    """CG stops once its recursively updated residual is at most ``CG_RTOL ||b||``
    (``_bounds.cg_stop``); the true residual ``b - A x`` of the exact system ``A`` is off from
    it by the gap its updates' rounding accumulates (``_bounds.cg_gap``, Greenbaum, read off
    the steps CG took: ``||A||_2 <= ||T||_F`` and each product within ``gamma(N) T |d|``,
    ``T`` the sizes of the system's terms, ``_bounds.gauss_newton_terms``). The dense matrix
    ``M`` is within ``gamma(N) T`` of ``A``, so ``||M x - b||`` is within that plus
    ``gamma(N) ||T |x|||``; we compute it to ``gamma(m + 1) (|M| |x| + |b|)``.

    The dense solution solves ``(M + dM) x' = b`` with ``|dM| <= lu_pivoted(|M|)`` (Higham
    Thm 9.4), where ``solve_regularised`` surely keeps the plain solve
    (``_bounds.lu_solve_accepted``); so ``||x - x'|| <= (||M x - b|| + ||dM x'||) /
    lambda_min(M)``."""
    recorded = RecordedCG(monkeypatch)
    state, dense, free, matrix = systems(xp, prob, mu, output_scale, joint)
    x, iterations = free.solve(mu)
    x = to_numpy(x)[:, 0]
    b = to_numpy(free.rhs)
    m = matrix.shape[0]
    assert iterations < _systems.CG_MAX_ITER
    true_residual = assert_cg_meets_its_stop(bound_state(prob, state), recorded, matrix, x, b,
                                             joint, mu, tight_cg, iterations)
    least = least_eigenvalue(matrix)
    if not lu_solve_accepted(np.abs(matrix), least, 1):
        event("the dense solve may have added a ridge: solutions not compared")
        return
    event("dense solve surely plain LU: solutions compared")
    x_dense = to_numpy(dense.solution(mu))[:, 0]
    lu = float(np.linalg.norm(lu_pivoted(np.abs(matrix)) @ np.abs(x_dense)))
    gap_bound = (1 + gamma(m + 2)) * (true_residual + lu) / least
    distance = float(np.linalg.norm(x - x_dense))
    note(f"solution distance / bound {ratio(distance, gap_bound):.3e}")  # 0/0: a dead unit
    assert distance <= gap_bound


# Condition 2 with the matrix-free solver: the paper's step, run to convergence, zeroes the
# fixed-pattern gradient to the solver's tolerance (relative to the gradient it started from).
@given(problems())
def test_matrix_free_hidden_step_is_critical_for_its_pattern(xp, tight_cg, monkeypatch, prob):
    """The bound is CG's stopping criterion, not a rounding factor: with the pattern fixed the
    gradient is linear in ``w``, so ``n grad_W L`` after the step is minus the true residual
    ``b - A dw`` of the system ``A dw = b`` (``b = -n grad_W L`` before it). CG stops once its
    recursively updated residual is at most ``CG_RTOL ||b||`` (computed norms, each within
    ``gamma(p + 2)``); the true residual is off from it by the gap its updates' rounding
    accumulates (``_bounds.cg_residual_gap``, read off the steps CG took, recorded here), and
    the gradients by their own rounding (``_bounds.hidden_gradient_error``)."""
    recorded = RecordedCG(monkeypatch)
    Xt, Y, params, fw, l2 = start_state(xp, prob)
    system = hidden_system(MatrixFreeSystem, xp, prob, params, l2, joint=False)
    solution, iterations = system.solve(0.0)
    solved = params.replace(Wt=params.Wt + hidden_part(solution, system.shape, xp))
    before = gradients(Xt, Y, params, fw, l2, xp).Wt
    after = gradients(Xt, Y, solved, forward(Xt, solved, prob.negative_slope, xp, D=fw.D), l2,
                      xp).Wt
    norm_before, norm_after = (float(np.linalg.norm(to_numpy(g))) for g in (before, after))
    assert iterations < _systems.CG_MAX_ITER
    n, p = prob.X.shape[0], solution.shape[0]
    start, end = state_of(prob, split_arrays(prob, params), l2), state_of(
        prob, split_arrays(prob, solved), l2)
    stopped = cg_stop(tight_cg, float(np.linalg.norm(to_numpy(system.rhs))), p)
    gap = cg_residual_gap(start, recorded.steps())
    rounding = float(np.linalg.norm(hidden_gradient_error(end, start)))
    bound = (stopped + gap) / n + rounding
    note(f"{iterations} iterations: |grad| {norm_before:.3e} -> {norm_after:.3e}, stop "
         f"{stopped / n:.3e}, gap {gap / n:.3e}, rounding {rounding:.3e}")
    assert norm_after <= bound


# Condition 1 and descent with the matrix-free solver, for every step.
@pytest.mark.parametrize("step", STEPS)
@given(problems(allow_known_output=False))
def test_matrix_free_fit_is_output_critical_and_descends(xp, step, prob):
    seen = []
    result = run_fit(xp, prob, max_iter=4, step=step, solver="cg", tol=0.0,
                     callback=lambda rec, net: seen.append((rec, numpy_arrays(net))))
    assert result.solver == "cg"
    for record, arrays in seen:
        assert record.grad_norm_V <= output_tolerance(prob, arrays)
    assert_descends_between_reinits(prob, result)


# solver="auto" follows the documented rule: dense while 24 m^2 bytes fit and, for the damped
# steps, while m <= AUTO_DENSE_MAX_UNKNOWNS; the paper's step stays dense wherever it fits.
@settings(max_examples=200)
@given(st.one_of(st.integers(1, 10**6),
                 st.integers(-2, 2).map(lambda k: AUTO_DENSE_MAX_UNKNOWNS + k)),
       st.one_of(st.floats(0.0, 48.0), st.just(48.0)), st.integers(-1, 1),
       st.sampled_from(STEPS))
def test_auto_solver_follows_the_documented_rule(unknowns, bytes_per_square, offset, step):
    budget = max(0, int(bytes_per_square * unknowns**2) + offset)
    fits = 24 * unknowns**2 <= budget
    small = step == "exact" or unknowns <= AUTO_DENSE_MAX_UNKNOWNS
    assert choose_solver("auto", unknowns, budget, step) == ("dense" if fits and small else "cg")
    assert choose_solver("dense", unknowns, budget, step) == "dense"
    assert choose_solver("cg", unknowns, budget, step) == "cg"


# fit applies that rule to its own count of unknowns: m = h (d + 1), plus k (h + 1) for "joint".
@given(st.integers(1, 80), st.sampled_from(STEPS), st.booleans())
def test_fit_reports_the_auto_solver_for_its_unknowns(hidden, step, train_output):
    X, y = relu_altmin.load_diabetes()
    d = X.shape[1]
    unknowns = hidden * (d + 1) + (hidden + 1 if step == "joint" and train_output else 0)
    result = relu_altmin.fit(X[:50], y[:50], hidden, seed=0, max_iter=0, step=step,
                             train_output=train_output,
                             output_weights=None if train_output else np.ones(hidden))
    assert result.solver == choose_solver("auto", unknowns, None, step)


@pytest.mark.parametrize("step", STEPS)
def test_matrix_free_fit_never_forms_the_gram_matrix(monkeypatch, step):
    """Over the memory budget, fit runs CG and never calls the Gram kernel."""
    def forbidden(*args, **kwargs):
        raise AssertionError("the Gram matrix was formed")

    X, y = relu_altmin.load_diabetes()
    monkeypatch.setattr(_systems, "masked_gram", forbidden)
    result = relu_altmin.fit(X[:100], y[:100], 8, negative_slope=0.1, seed=0, max_iter=5,
                             step=step, max_dense_bytes=0)
    assert result.solver == "cg"
    assert all(rec.cg_iterations > 0 for rec in result.history[1:])
    assert result.history[-1].objective < result.history[0].objective


def assert_cg_meets_its_stop(bounds, recorded, matrix, x, b, joint, mu, rtol, iterations):
    """``||M x - b||`` within the bound derived above: CG's recursive residual at its stop
    (``cg_stop``), the gap its updates' rounding opens (``cg_gap`` over ``recorded``'s steps,
    each product within ``gamma(N) T |d|`` of the exact system's), ``M``'s own distance from
    the exact system, ``gamma(N) ||T |x|||``, and the rounding of ``M x - b`` here;
    ``bounds`` is :func:`bound_state`'s ``(state, pattern)``. Returns the bound on the exact
    system's residual ``||b - A x||`` (all but our own rounding)."""
    s, D = bounds
    m = matrix.shape[0]
    terms, chain = gauss_newton_terms(s, D, joint, mu), gauss_newton_chain(s)
    norm_A = float(np.linalg.norm(terms)) * (1 + gamma(m * m + 1))
    gap = cg_gap(recorded.steps(), norm_A,
                 lambda d: gamma(chain) * float(np.linalg.norm(terms @ np.abs(d))))
    stopped = cg_stop(rtol, float(np.linalg.norm(b)), m)
    true_residual = stopped + gap + gamma(chain) * float(np.linalg.norm(terms @ np.abs(x)))
    ours = gamma(m + 1) * float(np.linalg.norm(np.abs(matrix) @ np.abs(x) + np.abs(b)))
    residual = float(np.linalg.norm(matrix @ x - b))
    bound = (1 + gamma(m + 1)) * (true_residual + ours)
    note(f"{iterations} iterations: residual / bound {ratio(residual, bound):.3e} (residual "
         f"{residual:.3e}, stop {stopped:.3e}, gap {gap:.3e})")
    assert residual <= bound
    return true_residual
