"""Property tests of the matrix-free hidden step (``solver="cg"``, the matrix-free product of
docs/design.md §2).

The system is never formed in the solver; here it is formed by the dense path
(``HiddenSystem``, itself checked against an einsum Jacobian in ``test_properties.py``) and
the matrix-free products, preconditioner and solutions are compared with it, on every backend
of the ``xp`` fixture. Tolerances follow float64 rounding and the problem's sizes.
"""

from __future__ import annotations

import numpy as np
import pytest
from _bounds import cg_residual_gap, gamma, hidden_gradient_error
from conftest import to_numpy
from hypothesis import event, given, note, settings
from hypothesis import strategies as st
from strategies import EPS64, problems
from test_properties import (
    STEPS,
    assert_descends_between_reinits,
    hidden_system,
    mus,
    numpy_arrays,
    output_tolerance,
    reference_jacobian,
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


def product_bound(xp, state, joint, mu, damping):
    """Entrywise rounding bound of the formed system: ``(n + m) eps`` times the summed terms.

    Each entry of ``J^T J`` is a sum of products whose absolute values sum to the entry of
    ``|J|^T |J|``; both paths round each such sum with a relative error of order
    ``(n + m) eps``.
    """
    Xt, Y, params, fw, l2 = state
    JW, Jt = reference_jacobian(Xt, Y, params, fw)
    J = np.abs(np.c_[JW, Jt] if joint else JW)
    n, m = Y.shape[0], J.shape[1]
    terms = J.T @ J + n * l2 + mu * np.abs(np.r_[damping, np.zeros(m - damping.size)])
    return 16 * (n + m) * EPS64 * terms + 1e-300


# The matrix-free product is the system the dense path forms: column i of the operator is the
# dense matrix times e_i, the right-hand sides and the damping diagonals agree.
@given(problems(), mus, st.floats(0.5, 2.0), joints)
def test_matrix_free_product_is_the_dense_system(xp, prob, mu, output_scale, joint):
    state, dense, free, matrix = systems(xp, prob, mu, output_scale, joint)
    m = matrix.shape[0]
    eye = xp.eye(m, dtype=xp.float64)
    columns = np.stack([to_numpy(free.apply(mu, eye[:, i])) for i in range(m)], axis=1)
    bound = product_bound(xp, state, joint, mu, to_numpy(dense.damping))
    note(f"largest error / bound {np.max(np.abs(columns - matrix) / bound):.3e}")
    assert np.all(np.abs(columns - matrix) <= bound)
    np.testing.assert_allclose(to_numpy(free.damping), to_numpy(dense.damping),
                               rtol=1e3 * EPS64 * m, atol=1e-300)
    np.testing.assert_array_equal(to_numpy(free.rhs), to_numpy(dense.rhs)[:, 0])


# The preconditioner inverts the block diagonal of the damped system: C[j,j] T[j,j] + n l2 I
# + mu diag(G)_j per unit, and the output step's matrix per output (joint).
@given(problems(), mus, joints, st.integers(0, 2**31 - 1))
def test_preconditioner_inverts_the_block_diagonal(xp, prob, mu, joint, seed):
    _, _, free, matrix = systems(xp, prob, mu, 1.0, joint)
    h, dt = free.shape
    sizes = [dt] * h
    if joint:
        q = matrix.shape[0] - h * dt
        k = to_numpy(free.params.V).shape[1]
        sizes += [q // k] * k
    blocks = np.zeros_like(matrix)
    start = 0
    for size in sizes:
        blocks[start:start + size, start:start + size] = matrix[start:start + size,
                                                                start:start + size]
        start += size
    condition = np.linalg.cond(blocks)
    if not condition < 1e8:
        event("block diagonal too ill-conditioned to compare with its lifted inverse")
        return
    v = np.random.default_rng(seed).standard_normal(matrix.shape[0])
    recovered = to_numpy(free.precondition(mu)(xp.asarray(blocks @ v)))
    error = np.linalg.norm(recovered - v) / np.linalg.norm(v)
    note(f"condition {condition:.3e}, relative error {error:.3e}")
    assert error <= 1e3 * EPS64 * matrix.shape[0] * condition


@pytest.fixture
def tight_cg(monkeypatch):
    """CG run to a tight tolerance with room for every iteration it needs."""
    monkeypatch.setattr(_systems, "CG_RTOL", 1e-9)
    monkeypatch.setattr(_systems, "CG_MAX_ITER", 10_000)
    return 1e-9


# Conjugate gradients solve the dense system: the backward error against the formed matrix is
# the tolerance CG stops at, plus rounding; the solution is the dense solution to within the
# condition number times that.
@given(problems(), mus, st.floats(0.5, 2.0), joints)
def test_conjugate_gradients_solve_the_dense_system(xp, tight_cg, prob, mu, output_scale, joint):
    _, dense, free, matrix = systems(xp, prob, mu, output_scale, joint)
    x, iterations = free.solve(mu)
    x = to_numpy(x)[:, 0]
    b = to_numpy(dense.rhs)[:, 0]
    m = matrix.shape[0]
    assert iterations < _systems.CG_MAX_ITER
    residual = np.linalg.norm(matrix @ x - b)
    rounding = 1e3 * EPS64 * m * (np.linalg.norm(matrix) * np.linalg.norm(x) + np.linalg.norm(b))
    note(f"{iterations} iterations, residual {residual:.3e}, |b| {np.linalg.norm(b):.3e}")
    assert residual <= 2 * tight_cg * np.linalg.norm(b) + rounding
    x_dense = to_numpy(dense.solution(mu))[:, 0]
    condition = np.linalg.cond(matrix)
    if condition < 1e8:
        event("well conditioned: solutions compared")
        gap = np.linalg.norm(x - x_dense)
        assert gap <= condition * (2 * tight_cg + 1e3 * EPS64 * m) * np.linalg.norm(x_dense)


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
    original, steps, residuals = _systems.conjugate_gradients, [], []

    def recording(apply, b, precondition, xp_, **kwargs):
        def apply_(v):
            q = apply(v)
            steps.append((to_numpy(v), to_numpy(q)))
            return q

        def precondition_(r):
            z = precondition(r)
            residuals.append((to_numpy(r), to_numpy(z)))
            return z

        return original(apply_, b, precondition_, xp_, **kwargs)

    monkeypatch.setattr(_systems, "conjugate_gradients", recording)
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
    # alpha = (r . z) / (d . A d) as CG formed it (recomputed: within gamma(p) of its own)
    taken = [(float(np.sum(r * z)) / float(np.sum(d * q)) * (1 + gamma(2 * p + 2)), d, q,
              float(np.linalg.norm(r))) for (r, z), (d, q) in zip(residuals, steps,
                                                                      strict=False)]
    b_norm = float(np.linalg.norm(to_numpy(system.rhs)))
    stopped = tight_cg * b_norm * (1 + gamma(p + 2)) ** 2 / (1 - gamma(p + 2))
    gap = cg_residual_gap(start, taken)
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
