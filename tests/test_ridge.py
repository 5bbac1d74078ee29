"""``l2="auto"``: the GCV of the Gauss-Newton model from the sums equals the brute-force GCV
(explicit Jacobian, explicit ridge solves and hat matrices), and fits choose and report it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from conftest import to_numpy
from hypothesis import given
from hypothesis import strategies as st

import relu_altmin
from relu_altmin._problem import TrainingProblem
from relu_altmin._ridge import AUTO_L2_GAMMA, AUTO_L2_GRID, choose_l2, gcv_scores
from relu_altmin._rows import make_rows

EPS64 = float(np.finfo(np.float64).eps)


def brute_force_gcv(J: np.ndarray, r: np.ndarray, theta: np.ndarray, free: list[int], n: int,
                    lam: float) -> tuple[float, float, float]:
    """GCV, ``df`` and the condition number of ``J^T J + n lam P``, by an explicit solve of
    ``min ||r - J delta||^2 + n lam ||P (theta + delta)||^2`` and the explicit hat matrix."""
    P = np.ones(J.shape[1])
    P[free] = 0.0
    A = J.T @ J + n * lam * np.diag(P)
    delta = np.linalg.solve(A, J.T @ r - n * lam * P * theta)
    rss = float(np.sum((r - J @ delta) ** 2))
    dof = float(np.trace(J @ np.linalg.solve(A, J.T)))
    N = J.shape[0]
    charged = AUTO_L2_GAMMA * dof  # the modified GCV's charge
    gcv = N * rss / (N - charged) ** 2 if charged < N else np.inf
    return gcv, dof, float(np.linalg.cond(A))


def agreement_bound(J: np.ndarray, r: np.ndarray, theta: np.ndarray, n: int, lam: float,
                    condition: float, gcv: float, dof: float) -> float:
    """How far two backward-stable evaluations of the GCV may differ: each solve's relative
    error is ``~ m eps cond(A)``, acting on the terms summed into ``RSS`` (``||r||^2`` and
    ``|J^T r| |delta|``-sized cross terms, bounded by ``(||r|| + ||J|| ||theta||)^2``) and on
    ``df`` (``m`` terms of size at most 1), which enters squared through ``N - gamma df``."""
    N, m = J.shape
    unit = 10 * m * EPS64 * condition
    terms = (np.linalg.norm(r) + np.linalg.norm(J, 2) * np.linalg.norm(theta)) ** 2
    free = N - AUTO_L2_GAMMA * dof
    rss = gcv * free**2 / N
    return gcv * (unit * terms / max(rss, 1e-300) + 2 * AUTO_L2_GAMMA * unit * m / free)


@given(seed=st.integers(0, 2**31 - 1), N=st.integers(2, 30), m=st.integers(1, 8),
       n_free=st.integers(0, 2), scale=st.integers(-2, 2))
def test_gcv_from_the_sums_equals_brute_force(seed, N, m, n_free, scale):
    rng = np.random.default_rng(seed)
    J = 10.0**scale * rng.standard_normal((N, m))
    r = rng.standard_normal(N)
    theta = rng.standard_normal(m)
    free = sorted(rng.choice(m, size=min(n_free, m - 1), replace=False).tolist()) if m > 1 else []
    n = max(N // 2, 1)
    if free and np.linalg.matrix_rank(J[:, free]) < len(free):
        return  # the unpenalised columns alone must be identifiable
    from array_api_compat import numpy as xp

    scores, dofs = gcv_scores(J.T @ J, J.T @ r, float(r @ r), theta, free, n, N, AUTO_L2_GRID, xp)
    for lam, score, dof in zip(AUTO_L2_GRID, scores, dofs, strict=True):
        expected, expected_dof, condition = brute_force_gcv(J, r, theta, free, n, lam)
        if AUTO_L2_GAMMA * expected_dof > N - 0.5 or condition > 1e8:
            continue  # (near-)interpolation: GCV is not defined there
        assert abs(dof - expected_dof) <= 10 * m * EPS64 * condition * m
        assert abs(score - expected) <= agreement_bound(J, r, theta, n, lam, condition,
                                                        expected, expected_dof)


def network_jacobian(X, Y, W, b, V, c, slope):
    """The Jacobian of the flattened outputs (row by row, output by output) in the unknowns'
    order of the fit's joint system: ``vec([W, b])`` then ``[V; c]`` output by output."""
    n, k = Y.shape
    h = W.shape[0]
    Xt = X if b is None else np.c_[X, np.ones(n)]
    Wt = W if b is None else np.c_[W, b]
    Z = Xt @ Wt.T
    D = np.where(Z > 0, 1.0, slope)
    H = D * Z
    F = H @ V + (0.0 if c is None else c)
    blocks = []
    for o in range(k):
        JW = ((D * V[:, o])[:, :, None] * Xt[:, None, :]).reshape(n, -1)
        Jo = [JW]
        for o2 in range(k):
            Jo.append(H if o2 == o else np.zeros_like(H))
            if c is not None:
                Jo.append(np.full((n, 1), 1.0 if o2 == o else 0.0))
        blocks.append(np.concatenate(Jo, axis=1))
    J = np.stack(blocks, axis=1).reshape(n * k, -1)  # rows (i, o)
    outputs = V if c is None else np.r_[V, c[None, :]]
    theta = np.r_[Wt.ravel(), outputs.T.ravel()]
    free = [] if c is None else [h * Xt.shape[1] + o * (h + 1) + h for o in range(k)]
    return J, (Y - F).ravel(), theta, free


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(8, 40), d=st.integers(1, 4),
       h=st.integers(1, 4), k=st.integers(1, 2), bias=st.booleans(),
       slope=st.sampled_from([0.0, 0.1]))
def test_choose_l2_is_the_gcv_of_the_network_jacobian(seed, n, d, h, k, bias, slope):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    Y = np.maximum(X @ rng.standard_normal((d, 2)), 0) @ rng.standard_normal((2, k))
    Y += 0.1 * rng.standard_normal((n, k))
    W, V = rng.standard_normal((h, d)), rng.standard_normal((h, k))
    b, c = (rng.standard_normal(h), rng.standard_normal(k)) if bias else (None, None)
    rows = make_rows(X, Y, bias, h, None)
    rows.scan()
    problem = TrainingProblem(rows, slope, 1e-3, True)
    from relu_altmin._model import Params

    Wt = W if b is None else np.c_[W, b]
    choice = choose_l2(problem, Params(Wt, None, V, c, bias))
    J, r, theta, free = network_jacobian(X, Y, W, b, V, c, slope)
    expected = []
    for lam in AUTO_L2_GRID:
        gcv, dof, condition = brute_force_gcv(J, r, theta, free, n, lam)
        expected.append(gcv if AUTO_L2_GAMMA * dof < n * k - 0.5 and condition < 1e8
                        else np.inf)
    best = int(np.argmin(expected))
    chosen = AUTO_L2_GRID.index(choice.l2)
    # The chosen ridge is the brute force's best, or ties with it to the rounding allowed.
    J_lam = brute_force_gcv(J, r, theta, free, n, choice.l2)
    bound = agreement_bound(J, r, theta, n, choice.l2, J_lam[2], J_lam[0], J_lam[1])
    assert chosen == best or expected[chosen] <= expected[best] + 2 * bound
    assert abs(choice.score * n * k - expected[chosen]) <= bound


def test_fit_chooses_the_ridge_and_reports_it(xp):
    X, y = relu_altmin.load_diabetes()
    X, y = xp.asarray(X[:200]), xp.asarray(y[:200])
    result = relu_altmin.fit(X, y, 8, l2="auto", seed=0, max_iter=5)
    assert result.l2_choices and result.l2 == result.l2_choices[-1].l2
    assert result.l2 in AUTO_L2_GRID
    assert 1e-4 <= result.l2 <= 1.0  # noisy targets: far from no ridge and from all ridge
    # From then on an ordinary fit at that ridge: same start, same steps.
    again = relu_altmin.fit(X, y, 8, l2="auto", seed=0, max_iter=5)
    assert to_numpy(again.network.predict(X)).tolist() == to_numpy(
        result.network.predict(X)).tolist()


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(10, 60), d=st.integers(1, 4),
       hidden=st.integers(1, 5), slope=st.sampled_from([0.0, 0.1]))
def test_auto_rounds_are_iterations_and_descend_at_each_ridge(seed, n, d, hidden, slope):
    """The rounds of ``l2="auto"`` are iterations of the history: each record names its ridge,
    one of the choices, and the objective never rises between records of one ridge (but at a
    re-initialised unit)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(X @ rng.standard_normal(d)) + 0.2 * rng.standard_normal(n)
    result = relu_altmin.fit(X, y, hidden, negative_slope=slope, seed=seed, l2="auto",
                             max_iter=25)
    chosen = {c.l2 for c in result.l2_choices}
    assert {r.l2 for r in result.history} <= chosen and result.l2 in chosen
    for before, after in itertools.pairwise(result.history):
        if after.l2 == before.l2 and after.reinit_unit < 0:
            assert after.objective <= before.objective + 8 * EPS64 * abs(before.objective)


def test_streamed_rows_choose_what_rows_in_memory_choose():
    X, y = relu_altmin.load_diabetes()
    whole = relu_altmin.fit(X, y, 8, l2="auto", seed=0, max_iter=3)
    streamed = relu_altmin.fit(X, y, 8, l2="auto", seed=0, max_iter=3, chunk_rows=100)
    assert [c.l2 for c in streamed.l2_choices] == [c.l2 for c in whole.l2_choices]
    assert np.allclose([c.score for c in streamed.l2_choices],
                       [c.score for c in whole.l2_choices], rtol=1e-8)


def test_auto_l2_is_refused_where_it_cannot_run():
    X, y = relu_altmin.load_diabetes()
    with pytest.raises(ValueError, match="l2"):
        relu_altmin.fit(X, y, 4, l2="gcv")
    with pytest.raises(ValueError, match="l2='auto' needs train_output"):
        relu_altmin.fit(X, y, 4, l2="auto", train_output=False, output_weights=np.ones(4))
    with pytest.raises(ValueError, match="AUTO_L2_MAX_UNKNOWNS"):
        relu_altmin.fit(X, y, 600, l2="auto")


def test_choose_l2_takes_the_largest_ridge_when_no_score_is_finite():
    """More freedom than residuals at every ridge of the grid (``gamma df >= N``, every score
    ``inf``): the choice is the grid's largest ridge, the least freedom, not its smallest."""
    rng = np.random.default_rng(0)
    n, d, h, k = 6, 3, 8, 1
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, k))
    W, b = rng.standard_normal((h, d)), rng.standard_normal(h)
    V, c = 1e3 * rng.standard_normal((h, k)), rng.standard_normal(k)
    rows = make_rows(X, Y, True, h, None)
    rows.scan()
    from relu_altmin._model import Params

    choice = choose_l2(TrainingProblem(rows, 0.0, 1e-3, True), Params(np.c_[W, b], None, V, c,
                                                                        True))
    J, r, theta, free = network_jacobian(X, Y, W, b, V, c, 0.0)
    assert all(brute_force_gcv(J, r, theta, free, n, lam)[0] == np.inf for lam in AUTO_L2_GRID)
    assert choice.l2 == AUTO_L2_GRID[-1]
