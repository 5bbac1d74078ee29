"""``l2="auto_1se"``: the closed-form leave-one-out errors of the linearised network's ridge
problem against brute-force refits, the rows' Jacobian against the joint system's sums, the
one-standard-error rule, and the choice streamed or on another backend (``relu_altmin._ridge``).
"""

from __future__ import annotations

import math

import numpy as np
from _bounds import EPS64, gamma
from conftest import to_numpy
from hypothesis import given, note
from hypothesis import strategies as st

import relu_altmin
from relu_altmin._model import Evaluation, Params, forward, state_sums
from relu_altmin._ridge import (
    AUTO_L2_GRID,
    ReducedRidge,
    loo_errors,
    one_standard_error,
    output_jacobian,
)
from relu_altmin._rows import make_rows
from relu_altmin._systems import HiddenSystem

SLOPES = (0.0, 0.1)


@st.composite
def networks(draw):
    """A small network and rows: ``(Xt, Y, params, slope)`` in NumPy, float64."""
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    n, d, h, k = (draw(st.integers(lo, hi)) for lo, hi in ((2, 9), (1, 3), (1, 3), (1, 3)))
    bias = draw(st.booleans())
    scale = 2.0 ** draw(st.integers(-3, 3))
    X = scale * rng.standard_normal((n, d))
    Xt = np.c_[X, np.ones(n)] if bias else X
    Y = rng.standard_normal((n, k))
    params = Params(rng.standard_normal((h, Xt.shape[1])) / scale, None,
                    rng.standard_normal((h, k)), rng.standard_normal(k) if bias else None, bias)
    return Xt, Y, params, draw(st.sampled_from(SLOPES))


def free_unknowns(params: Params) -> list[int]:
    """The output biases' indices in the joint system's order (they are unpenalised)."""
    h, dt = params.Wt.shape
    k = params.V.shape[1]
    return [] if params.c is None else [h * dt + o * (h + 1) + h for o in range(k)]


def theta_of(params: Params) -> np.ndarray:
    outputs = params.V if params.c is None else np.r_[params.V, params.c[None, :]]
    return np.r_[params.Wt.reshape(-1), outputs.T.reshape(-1)]


@given(networks())
def test_the_rows_jacobian_sums_to_the_joint_systems_matrix(net):
    """``sum_i J_i^T J_i`` and ``sum_i J_i^T r_i`` of :func:`output_jacobian` equal the
    Gauss-Newton matrix and right-hand side of the joint system (the package's kernels) to
    rounding: each side sums ``n k`` products of at most five factors, so each entry is
    within ``gamma(n k + 5)`` of the same sum of magnitudes; the residual ``r = Y - F`` is
    within ``gamma(h + 2)`` of ``|Y| + |H| |V| + |c|`` (``F`` a sum of ``h + 1`` products)."""
    from array_api_compat import numpy as xp

    Xt, Y, params, slope = net
    n, k = Y.shape
    fw = forward(Xt, params, slope, xp)
    J = output_jacobian(Xt, params, fw, xp).reshape(n * k, -1)
    r = (Y - fw.F).reshape(-1)
    rows = make_rows(Xt[:, :-1] if params.bias else Xt, Y, params.bias, params.Wt.shape[0],
                     None, "float64")
    rows.scan()
    data = Evaluation.from_sums(rows.reduce(state_sums, params, slope, None), params, 0.0, n,
                                xp)
    system = HiddenSystem.build(rows, params, slope, 0.0, data, joint=True)
    A = np.abs(J)
    chain = 2 * gamma(n * k + 5)
    np.testing.assert_array_less(np.abs(system.matrix - J.T @ J), chain * (A.T @ A) + 1e-300)
    r_size = np.abs(Y) + np.abs(fw.H) @ np.abs(params.V) + (
        0.0 if params.c is None else np.abs(params.c))
    r_bound = chain * (A.T @ np.abs(r)) + A.T @ (gamma(params.Wt.shape[0] + 2)
                                                 * r_size.reshape(-1))
    np.testing.assert_array_less(np.abs(system.rhs[:, 0] - J.T @ r), r_bound + 1e-300)


def brute_force_loo(J: np.ndarray, r: np.ndarray, theta: np.ndarray, free: list[int], n: int,
                    k: int, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Each sample's residuals after refitting the linear ridge problem without its ``k`` rows
    (penalty ``n lam`` on the kept unknowns), and each refit's condition number."""
    m = J.shape[1]
    penalty = np.ones(m)
    penalty[free] = 0.0
    errors, conditions = np.empty((n, k)), np.empty(n)
    for i in range(n):
        out = np.ones(n * k, dtype=bool)
        out[i * k:(i + 1) * k] = False
        A = J[out].T @ J[out] + n * lam * np.diag(penalty)
        conditions[i] = np.linalg.cond(A)
        delta = np.linalg.solve(A, J[out].T @ r[out] - n * lam * penalty * theta)
        errors[i] = r[~out] - J[~out] @ delta
    return errors, conditions


@given(networks(), st.sampled_from(AUTO_L2_GRID[::4]))
def test_leave_one_out_errors_equal_brute_force_refits(net, lam):
    """:func:`loo_errors` (Sherman-Morrison on the eigendecomposition) equals refitting the
    linear ridge problem ``n`` times, each sample's block of ``k`` residuals left out, to
    the rounding both carry: each solves a system of condition ``kappa`` backward-stably, so
    its step is within ``m eps kappa`` relatively (``m`` unknowns: the eigendecomposition's
    and LU's backward errors are ``O(m eps)`` of the matrix) and a residual within
    ``||J_i|| ||delta|| m eps kappa``; the closed form divides by the eigenvalues of
    ``I - H_ii`` (at least ``room``), which magnifies its error, and the leverage's own error
    (``m eps kappa`` of at most 1) by ``|e_loo| / room``. Residuals add ``gamma(m)`` of
    ``|r_i| + |J_i| |delta|``. Ill-conditioned refits (``kappa > 1e8``) are left out."""
    from array_api_compat import numpy as xp

    Xt, Y, params, slope = net
    n, k = Y.shape
    fw = forward(Xt, params, slope, xp)
    J = output_jacobian(Xt, params, fw, xp).reshape(n * k, -1)
    r = (Y - fw.F).reshape(-1)
    theta, free = theta_of(params), free_unknowns(params)
    m = J.shape[1]
    if free and np.linalg.matrix_rank(J[:, free]) < len(free):
        return
    model = ReducedRidge.build(J.T @ J, J.T @ r, float(r @ r), theta, free, n, xp)
    got = loo_errors(Xt, Y, params, slope, model, (lam,))[:, 0, :]
    expected, conditions = brute_force_loo(J, r, theta, free, n, k, lam)
    penalty = np.ones(m)
    penalty[free] = 0.0
    full = J.T @ J + n * lam * np.diag(penalty)
    kappa = max(float(np.linalg.cond(full)), float(conditions.max()))
    if kappa > 1e8 or not np.all(np.isfinite(got)):
        note(f"left out: condition {kappa:.1e}, finite {np.isfinite(got).all()}")
        return
    delta = np.linalg.solve(full, J.T @ r - n * lam * penalty * theta)
    hat = J @ np.linalg.solve(full, J.T)
    room = min(float(np.linalg.eigvalsh(np.eye(k) - hat[i * k:(i + 1) * k, i * k:(i + 1) * k])
                     .min()) for i in range(n))
    unit = m * EPS64 * kappa
    for i in range(n):
        Ji = J[i * k:(i + 1) * k]
        size = np.linalg.norm(Ji, 2) * np.linalg.norm(delta) + np.linalg.norm(r[i * k:(i + 1) * k])
        bound = (unit * size * (1 + 1 / room) + unit * np.linalg.norm(expected[i]) / room
                 + gamma(m) * size)
        note(f"sample {i}: {np.linalg.norm(got[i] - expected[i]):.2e} <= {bound:.2e}")
        assert np.linalg.norm(got[i] - expected[i]) <= bound


@given(st.lists(st.floats(0.0, 10.0), min_size=1, max_size=12), st.integers(1, 50),
       st.floats(0.0, 3.0))
def test_one_standard_error_takes_the_largest_ridge_within_one_error_of_the_least(
        means, n, spread):
    """The chosen index is within one standard error of the least mean, and every larger
    index is not (``fourth`` sets the standard error ``sqrt((fourth / n - mean^2) / n)``)."""
    squares = np.array(means) * n
    fourth = (np.array(means) ** 2 + spread**2) * n
    chosen = one_standard_error(squares, fourth, n)
    least = min(means)
    at = means.index(least) if means.count(least) == 1 else max(
        i for i, v in enumerate(means) if v == least)
    cut = least + math.sqrt(max(fourth[at] / n - least**2, 0.0) / n)
    assert means[chosen] <= cut and chosen >= at
    assert all(v > cut for v in means[chosen + 1:])


def test_auto_1se_chooses_the_same_ridges_streamed_and_on_each_backend(xp):
    """Streamed rows (chunks of 13) and every backend choose the NumPy fit's ridges: the
    leave-one-out sums are sums over the rows like every other pass."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((60, 3))
    y = np.where(X[:, 0] * X[:, 1] > 0, 1.0, -1.0)
    whole = relu_altmin.fit(X, y, 4, l2="auto_1se", seed=0, max_iter=6)
    streamed = relu_altmin.fit(X, y, 4, l2="auto_1se", seed=0, max_iter=6, chunk_rows=13)
    on_backend = relu_altmin.fit(xp.asarray(X), xp.asarray(y), 4, l2="auto_1se", seed=0,
                                 max_iter=6)
    assert whole.l2_choices and whole.l2 == whole.l2_choices[-1].l2
    for other in (streamed, on_backend):
        assert [c.l2 for c in other.l2_choices] == [c.l2 for c in whole.l2_choices]
    assert to_numpy(on_backend.network.W).shape == (4, 3)
    # float32 passes over the rows (precision="data"): the leave-one-out pass reads them in
    # float64, and the network keeps the data's dtype.
    narrow = relu_altmin.fit(xp.asarray(X, dtype=xp.float32), xp.asarray(y, dtype=xp.float32),
                             4, l2="auto_1se", seed=0, max_iter=6, precision="data")
    assert narrow.network.W.dtype == xp.float32
    assert narrow.l2_choices and {c.l2 for c in narrow.l2_choices} <= set(AUTO_L2_GRID)
