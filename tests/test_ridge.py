"""``l2="auto"``: the GCV of the Gauss-Newton model from the sums equals the brute-force GCV
(explicit Jacobian, explicit ridge solves and hat matrices), and fits choose and report it."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pytest
import scipy.linalg
from _bounds import (
    EPS64,
    State,
    gamma,
    gauss_newton_chain,
    gauss_newton_magnitudes,
    gauss_newton_terms,
    least_eigenvalue,
    lu_pivoted,
    lu_solve_accepted,
    ratio,
    squared_error_rounding,
)
from conftest import to_numpy
from hypothesis import given, note
from hypothesis import strategies as st

import relu_altmin
from relu_altmin._problem import TrainingProblem
from relu_altmin._ridge import AUTO_L2_GAMMA, AUTO_L2_GRID, choose_l2, gcv_scores
from relu_altmin._rows import make_rows


def brute_force_gcv(J: np.ndarray, r: np.ndarray, theta: np.ndarray, free: list[int], n: int,
                    lam: float) -> tuple[float, float, float]:
    """GCV, ``df`` and the condition number of ``A = J^T J + n lam P``, by an explicit solve of
    ``min ||r - J delta||^2 + n lam ||P (theta + delta)||^2`` and the explicit hat matrix
    (Cholesky solves of ``A``; ``inf`` where ``A`` is not numerically definite)."""
    A, factor = _brute_force_factor(J, free, n, lam)
    if factor is None:
        return np.inf, np.inf, np.inf
    P = np.ones(J.shape[1])
    P[free] = 0.0
    delta = scipy.linalg.cho_solve(factor, J.T @ r - n * lam * P * theta)
    rss = float(np.sum((r - J @ delta) ** 2))
    dof = float(np.trace(J @ scipy.linalg.cho_solve(factor, J.T)))
    N = J.shape[0]
    charged = AUTO_L2_GAMMA * dof  # the modified GCV's charge
    gcv = N * rss / (N - charged) ** 2 if charged < N else np.inf
    return gcv, dof, float(np.linalg.cond(A))


def _brute_force_factor(J: np.ndarray, free: list[int], n: int, lam: float):
    """``A = J^T J + n lam P`` and its Cholesky factor (``None`` where it fails)."""
    P = np.ones(J.shape[1])
    P[free] = 0.0
    A = J.T @ J + n * lam * np.diag(P)
    try:
        return A, scipy.linalg.cho_factor(A)
    except np.linalg.LinAlgError:
        return A, None


def _norm(a: np.ndarray) -> float:
    """The 2-norm of a vector, or of a nonnegative matrix bound (which bounds the 2-norm of
    every matrix it dominates entrywise)."""
    return float(np.linalg.norm(a, 2 if a.ndim == 2 else None))


@dataclass(frozen=True)
class Sums:
    """The sums ``gcv_scores`` is given, ``M ~ J^T J``, ``g ~ J^T r``, ``rho ~ ||r||^2``, with
    entrywise bounds on their distance from the exact sums of ``(J, r)``."""

    M: np.ndarray
    g: np.ndarray
    rho: float
    M_err: np.ndarray
    g_err: np.ndarray
    rho_err: float


@dataclass(frozen=True)
class GCVError:
    """Bounds on the distance of one computation's ``RSS`` and ``df`` at one ridge from the
    exact ones of ``(J, r)`` (``None``: no bound, the computation may have regularised)."""

    rss: float
    dof: float


def package_error(sums: Sums, theta: np.ndarray, free: list[int], n: int,
                  lam: float) -> GCVError | None:
    """Bounds on how far ``gcv_scores``' ``RSS`` and ``df`` at ``lam`` are from the exact ones
    of ``(J, r)``, from the sizes of the terms each step sums.

    **Elimination.** The augmented Gram ``G = [J, r]^T [J, r]`` (``M``, ``g``, ``rho``) is given
    within ``E`` (``Sums``). Eliminating the free unknowns ``F`` is the Schur complement
    ``T(G) = G_KK - G_KF G_FF^-1 G_FK`` (``K``: the kept unknowns and ``r``), and exactly
    ``T(G + E) - T(G) = [I, -Y^T] E [I; -Y']`` with ``Y = G_FF^-1 G_FK`` and ``Y'`` the same of
    ``G + E``; both are within ``||C^-1|| (||E_FK|| + ||E_FF|| ||y'||)`` (``C = G_FF``, its
    least eigenvalue from ours less ``||E_FF||``) and ``||C'^-1|| ||dC|| ||y||`` of the computed
    ``Y^`` by column (``dC``: the LU backward error, :func:`_bounds.lu_pivoted`, where
    ``solve_regularised`` surely keeps its plain solve, ``lu_solve_accepted``; else ``None``).
    The computed ``G_KK - G_KF Y^`` adds ``|G_KF| |Y' - Y^|`` and ``gamma(f + 1)`` of its terms,
    the symmetrisation ``eps`` of them.

    **Eigendecomposition.** ``eigh`` returns eigenvalues ``s`` exact for ``S^ + E_eig`` and
    eigenvectors within ``dQ`` of an orthogonal ``Q`` of that matrix, ``||E_eig||, ||dQ|| <=
    m eps ||S^||`` (resp. ``m eps``; backward stability, as ``_bounds.least_eigenvalue``);
    clipping ``s`` at 0 moves it at most ``max(0, -min s)`` (exact eigenvalues are >= 0).
    So the per-ridge loop computes, up to its own rounding, the exact ``RSS`` and ``df`` of
    ``(rho'', g'', S'', t'')`` with ``S'' = Q diag(s) Q^T`` within ``e_S`` (the above, and
    ``eps c`` for the ridge ``c = n lam`` as computed) of the exact Schur complement,
    ``||g'' - g|| <= e_g`` (``T``'s column, ``dQ`` and ``Q^T g``'s ``gamma(m)``),
    ``||t'' - t|| <= e_t``, ``|rho'' - rho| <= e_rho``.

    **Perturbation.** ``RSS(delta) = rho - 2 g^T delta + delta^T S delta`` at the minimiser
    ``delta = (S + cI)^-1 (g - c t)``, whose gradient there is ``-2 c (t + delta)``; so exactly
    ``RSS'' - RSS = d_rho - 2 d_g^T delta'' + delta''^T d_S delta''
    - 2 c (t + delta)^T (delta'' - delta) + (delta'' - delta)^T S (delta'' - delta)`` and
    ``||delta'' - delta|| <= (e_g + e_S ||delta''|| + c e_t) / (lambda_min(S) + c)``. ``df =
    |F| + sum s / (s + c)`` moves by ``c |ds| / ((s + c)(s' + c))`` per eigenvalue,
    ``|ds| <= e_S`` (Weyl).

    **Loop rounding.** ``dq = (u - c v) / (s + c)`` within ``gamma(4) (|u| + c |v|) / (s + c)``
    (the subtraction's error is of its terms), each term ``dq (2 u - s dq)`` within that times
    ``2 |u| + 2 s |dq|`` and ``gamma(3)`` of its size, their sum ``gamma(m)``, ``rho - sum``
    ``eps`` of both; ``df``'s terms ``gamma(2)``, their sum ``gamma(m)``."""
    M, g, rho = sums.M, sums.g, sums.rho
    m = M.shape[0]
    c = n * lam
    kept = [i for i in range(m) if i not in set(free)]
    G = np.block([[M, g[:, None]], [g[None, :], np.array([[rho]])]])
    EG = np.block([[sums.M_err, sums.g_err[:, None]],
                   [sums.g_err[None, :], np.array([[sums.rho_err]])]])
    Kr = [*kept, m]  # the kept unknowns and r
    T, P = G[np.ix_(Kr, Kr)], EG[np.ix_(Kr, Kr)]
    if free:
        C, B = G[np.ix_(free, free)], G[np.ix_(Kr, free)]
        least = least_eigenvalue(C)
        if not lu_solve_accepted(np.abs(C), least, len(Kr) + len(free)):
            return None
        Yh = np.linalg.solve(C, B.T)  # f x |Kr|
        dC = _norm(lu_pivoted(np.abs(C)))
        least_exact = least - _norm(EG[np.ix_(free, free)])
        if least_exact <= 0:
            return None
        columns = np.linalg.norm(Yh, axis=0)
        to_exact = columns * dC / least  # ||y' - y^|| by column
        near = columns + to_exact  # ||y'||
        to_true = (np.linalg.norm(EG[np.ix_(free, Kr)], axis=0)
                   + _norm(EG[np.ix_(free, free)]) * near) / least_exact
        W = np.abs(Yh) + (to_exact + to_true)[None, :]  # |Y|, |Y'| <= W entrywise
        EFK, EFF = EG[np.ix_(free, Kr)], EG[np.ix_(free, free)]
        P = P + W.T @ EFK + EFK.T @ W + W.T @ EFF @ W
        product = np.abs(B) @ np.abs(Yh)
        P = P + np.abs(B) @ np.repeat(to_exact[None, :], len(free), axis=0) \
            + gamma(len(free) + 1) * (np.abs(T) + product)
        T = T - B @ Yh
    P = (P + P.T) / 2 + EPS64 * np.abs(T)  # the symmetrisation
    k = len(kept)
    S, gk, rho_k = (T[:k, :k] + T[:k, :k].T) / 2, T[:k, k], float(T[k, k])
    e_rho = float(P[k, k])
    if k == 0:
        return GCVError(e_rho + 2 * EPS64 * abs(rho_k), EPS64 * len(free))
    s_hat, Q = np.linalg.eigh(S)
    s = np.maximum(s_hat, 0.0)
    e_S = _norm(P[:k, :k]) + k * EPS64 * _norm(S) + max(0.0, -float(s_hat.min())) + EPS64 * c
    t = theta[kept]
    q_err = k * EPS64
    e_g = (float(np.linalg.norm(P[:k, k])) + q_err * np.linalg.norm(gk)
           + gamma(k) * np.linalg.norm(np.abs(Q).T @ np.abs(gk)))
    e_t = (q_err + EPS64) * np.linalg.norm(t) + gamma(k) * np.linalg.norm(np.abs(Q).T @ np.abs(t))
    u, v = Q.T @ gk, Q.T @ t
    dq = (u - c * v) / (s + c)
    e_dq = gamma(4) * (np.abs(u) + c * np.abs(v)) / (s + c)
    D = np.abs(dq) + e_dq
    size = D * (2 * np.abs(u) + s * D)
    loop = (float(np.sum(e_dq * (2 * np.abs(u) + 2 * s * D) + gamma(3) * size))
            + gamma(k) * float(np.sum(size)) + EPS64 * (abs(rho_k) + float(np.sum(size))))
    d_norm = float(np.linalg.norm(D))
    least_S = max(float(s.min()) - e_S, 0.0)
    moved = (e_g + e_S * d_norm + c * e_t) / (least_S + c)  # ||delta'' - delta||
    perturbed = (e_rho + 2 * e_g * d_norm + e_S * d_norm**2
                 + 2 * (np.linalg.norm(t) + d_norm + moved) * c * moved
                 + (float(s.max()) + e_S) * moved**2)
    fractions = s / (s + c)
    dof = (float(np.sum(c * e_S / ((s + c) * (np.maximum(s - e_S, 0.0) + c))))
           + gamma(k + 2) * float(np.sum(fractions)) + EPS64 * (float(np.sum(fractions))
                                                               + len(free)))
    return GCVError(loop + perturbed, dof)


def brute_force_error(J: np.ndarray, r: np.ndarray, theta: np.ndarray, free: list[int],
                      n: int, lam: float) -> GCVError:
    """Bounds on how far :func:`brute_force_gcv`'s ``RSS`` and ``df`` are from the exact ones of
    ``(J, r)``.

    ``A = J^T J + c P`` is formed within ``E_f = gamma(N + 1) |J|^T |J| + gamma(2) c P`` and
    each Cholesky solve with it is exact for ``A + E_f + dA``, ``|dA| <= gamma(3m + 1)
    |R^T| |R|`` (Higham Thm 10.4, ``R`` the computed factor); ``||A^-1||`` from
    ``_bounds.least_eigenvalue`` less ``||E_f||``.
    ``delta^`` solves it with the right-hand side within ``gamma(N + 1) |J|^T |r| + gamma(3)
    c |P theta|``, so ``||delta^ - delta|| <= (||d_rhs|| + ||E delta^||) / lambda_min(A)``;
    ``RSS`` has gradient ``-2 c P (theta + delta)`` at ``delta`` and Hessian ``2 J^T J``, and
    the residual ``r - J delta^`` is formed within ``gamma(m + 1) (|r| + |J| |delta^|)``, its
    squares summed within ``gamma(N)``. ``df = tr(J X)``, ``X = A^-1 J^T``: the computed ``X^``
    solves ``(A + E_j) x^_j = J_j^T`` by column, so ``tr(J X) - tr(J X^) = tr(X^T E X^)``
    column by column, at most ``||X||_F ||E||_2 ||X^||_F`` with ``||X||_F <= ||X^||_F (1 +
    ||E|| / lambda_min(A))``; the trace of the product is formed within ``gamma(m + N)``."""
    N, m = J.shape
    c = n * lam
    P = np.ones(m)
    P[free] = 0.0
    absJ = np.abs(J)
    A, factor = _brute_force_factor(J, free, n, lam)
    if factor is None:
        return GCVError(math.inf, math.inf)
    R = np.abs(np.triu(factor[0]))
    formed = gamma(N + 1) * absJ.T @ absJ + gamma(2) * c * np.diag(P)
    E = formed + gamma(3 * m + 1) * R.T @ R
    e_E = _norm(E)
    least = least_eigenvalue(A) - _norm(formed)
    if least <= 0:
        return GCVError(math.inf, math.inf)
    delta = scipy.linalg.cho_solve(factor, J.T @ r - c * P * theta)
    d_rhs = gamma(N + 1) * absJ.T @ np.abs(r) + gamma(3) * c * np.abs(P * theta)
    step = (np.linalg.norm(d_rhs) + np.linalg.norm(E @ np.abs(delta))) / least
    residual = r - J @ delta
    e = gamma(m + 1) * (np.abs(r) + absJ @ np.abs(delta))
    rss = (2 * c * (np.linalg.norm(P * (theta + delta)) + step) * step
           + _norm(J) ** 2 * step**2
           + float(np.sum((2 * np.abs(residual) + e) * e)) + gamma(N) * float(residual @ residual))
    X = scipy.linalg.cho_solve(factor, J.T)
    x_norm = float(np.linalg.norm(X))
    dof = (x_norm * (1 + e_E / least) * e_E * x_norm
           + gamma(m + N) * float(np.sum(absJ * np.abs(X.T))))
    return GCVError(float(rss), float(dof))


def score_error(score: float, dof: float, error: GCVError, N: int) -> float:
    """Bound on ``|score - N RSS / (N - gamma df)^2|`` (exact ``RSS``, ``df``) for a score
    computed from ``RSS'``, ``df'`` within ``error``: ``F = N - gamma df'`` is within
    ``dF = gamma error.dof + gamma(2) (N + gamma df')`` (the product and the subtraction, of
    its terms); ``|1/F^2 - 1/F_e^2| <= dF (2F + dF) / (F^2 (F - dF)^2)``; four more roundings
    of the score. ``inf`` where ``F <= dF``."""
    F = N - AUTO_L2_GAMMA * dof
    dF = AUTO_L2_GAMMA * error.dof + gamma(2) * (N + AUTO_L2_GAMMA * dof)
    if F <= dF:
        return math.inf
    rss = score * F**2 / N * (1 + gamma(5))
    return (N * error.rss / F**2 + N * (rss + error.rss) * dF * (2 * F + dF) / (F * (F - dF)) ** 2
            + gamma(4) * score)


def agreement_bound(sums: Sums, J: np.ndarray, r: np.ndarray, theta: np.ndarray,
                    free: list[int], n: int, lam: float, score: float, dof: float,
                    expected: float, expected_dof: float) -> tuple[float, float]:
    """Bounds on ``|score - expected|`` and ``|dof - expected_dof|``: the package's values
    (from ``sums``) and the brute force's are each within :func:`package_error`, resp.
    :func:`brute_force_error`, of the exact ``RSS`` and ``df`` of ``(J, r)``; ``inf`` where
    the package may have regularised its elimination."""
    mine = package_error(sums, theta, free, n, lam)
    if mine is None:
        return math.inf, math.inf
    theirs = brute_force_error(J, r, theta, free, n, lam)
    N = J.shape[0]
    return (score_error(score, dof, mine, N) + score_error(expected, expected_dof, theirs, N),
            mine.dof + theirs.dof)


def exact_sums(J: np.ndarray, r: np.ndarray) -> Sums:
    """The sums ``J^T J``, ``J^T r``, ``||r||^2`` as NumPy forms them, within ``gamma(N)`` of
    their terms."""
    N = J.shape[0]
    absJ = np.abs(J)
    return Sums(J.T @ J, J.T @ r, float(r @ r), gamma(N) * absJ.T @ absJ,
                gamma(N) * absJ.T @ np.abs(r), gamma(N) * float(r @ r))


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

    sums = exact_sums(J, r)
    scores, dofs = gcv_scores(sums.M, sums.g, sums.rho, theta, free, n, N, AUTO_L2_GRID, xp)
    worst = [0.0, 0.0]
    for lam, score, dof in zip(AUTO_L2_GRID, scores, dofs, strict=True):
        expected, expected_dof, condition = brute_force_gcv(J, r, theta, free, n, lam)
        if AUTO_L2_GAMMA * expected_dof > N - 0.5 or condition > 1e8:
            continue  # (near-)interpolation: GCV is not defined there
        score_bound, dof_bound = agreement_bound(sums, J, r, theta, free, n, lam, score, dof,
                                                 expected, expected_dof)
        assert abs(dof - expected_dof) <= dof_bound, (lam, dof, expected_dof, dof_bound)
        assert abs(score - expected) <= score_bound, (lam, score, expected, score_bound)
        worst = [max(worst[0], ratio(dof - expected_dof, dof_bound)),
                 max(worst[1], ratio(score - expected, score_bound))]
    note(f"largest error / bound: df {worst[0]:.3e}, GCV {worst[1]:.3e}")


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
    sums = package_sums(problem, Params(Wt, None, V, c, bias), X, Y, slope)
    expected, found = [], []
    for lam in AUTO_L2_GRID:
        gcv, dof, condition = brute_force_gcv(J, r, theta, free, n, lam)
        expected.append(gcv if AUTO_L2_GAMMA * dof < n * k - 0.5 and condition < 1e8
                        else np.inf)
        found.append((gcv, dof))
    best = int(np.argmin(expected))
    chosen = AUTO_L2_GRID.index(choice.l2)
    scores, dofs = gcv_scores(sums.M, sums.g, sums.rho, theta, free, n, n * k,
                              AUTO_L2_GRID, np)

    def bound(i: int) -> float:
        return agreement_bound(sums, J, r, theta, free, n, AUTO_L2_GRID[i], scores[i], dofs[i],
                               *found[i])[0]

    # The chosen ridge is the brute force's best, or ties with it to the rounding allowed:
    # the package's score is least at ``chosen``, each within its bound of the exact one.
    assert chosen == best or expected[chosen] <= expected[best] + bound(chosen) + bound(best)
    # choice.score is the score over N (and times N here): two roundings each way.
    chosen_bound = bound(chosen) + gamma(4) * scores[chosen]
    error = choice.score * n * k - found[chosen][0]
    note(f"chosen GCV error / bound {ratio(error, chosen_bound):.3e}")
    assert abs(choice.score * n * k - found[chosen][0]) <= chosen_bound


def package_sums(problem: TrainingProblem, params, X: np.ndarray, Y: np.ndarray,
                 slope: float) -> Sums:
    """The sums ``choose_l2`` gives ``gcv_scores`` (the joint system's matrix and right-hand
    side, ``n`` times the loss), with bounds on their distance from the exact sums of the
    test's ``(J, r)`` (:func:`network_jacobian`).

    The package's sums are each within ``gamma(N)`` of their terms of the exact sums of the
    exact Jacobian ``J_e`` and residual ``r_e`` (``_bounds.gauss_newton_terms`` and
    ``gauss_newton_chain`` for ``J^T J``; the gradient's terms ``|J|^T U`` with ``gamma`` of
    :attr:`State.pair_sums`, plus ``/ n``, ``* n``, for ``J^T r``;
    ``_bounds.squared_error_rounding`` for ``||r||^2``). The test's ``J`` is within
    ``gamma(d~ + 2) |J|`` of ``J_e`` (``|J|``: ``_bounds.gauss_newton_magnitudes``; the
    features' sums, the products), so ``|J^T J - J_e^T J_e| <= gamma(2 (d~ + 2)) |J|^T |J|``;
    its ``r`` within ``e = gamma(d~ + h + 5) U`` of ``r_e``, so ``J^T r`` within
    ``gamma(d~ + 2) |J|^T |r| + |J|^T e`` and ``||r||^2`` within ``sum (2 |r| + e) e``."""
    from relu_altmin._model import Evaluation, state_sums
    from relu_altmin._systems import HiddenSystem

    rows, xp = problem.rows, problem.xp
    n = rows.n
    data = Evaluation.from_sums(rows.reduce(state_sums, params, problem.slope, None), params,
                                0.0, n, xp)
    system = HiddenSystem.build(rows, params, problem.slope, 0.0, data, joint=True)
    Wt = to_numpy(params.Wt)
    d = X.shape[1]
    arrays = {"W": Wt[:, :d], "b": Wt[:, d] if params.bias else None, "V": to_numpy(params.V),
              "c": None if params.c is None else to_numpy(params.c)}
    s = State.of(X, Y, arrays, slope, False, 0.0)
    pre = s.Xt @ s.Wt.T
    D = np.where(pre > 0, 1.0, slope)
    Jm = gauss_newton_magnitudes(s, D, True)
    dt = s.Wt.shape[1]
    h = s.Wt.shape[0]
    U = s.U.ravel()
    e = gamma(dt + h + 5) * U
    r = s.E.ravel()
    M_err = (gamma(gauss_newton_chain(s)) + gamma(2 * (dt + 2))) * gauss_newton_terms(
        s, D, True, 0.0)
    g_err = gamma(s.pair_sums + 2) * Jm.T @ U + gamma(dt + 2) * Jm.T @ np.abs(r) + Jm.T @ e
    rho = data.loss * n
    rho_err = (squared_error_rounding(s) + float(np.sum((2 * np.abs(r) + e) * e))
               + gamma(2) * rho)
    return Sums(to_numpy(system.matrix), to_numpy(system.rhs)[:, 0], rho, M_err, g_err,
                rho_err)


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
