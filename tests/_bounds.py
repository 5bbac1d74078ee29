"""Rounding bounds of the property tests, each set by the sizes of the terms a result is summed
from, not by the size of the result.

A sum of ``N`` terms computed in floating point, in any order, differs from the exact sum by at
most ``gamma(N)`` times the sum of the terms' absolute values (Higham, *Accuracy and Stability
of Numerical Algorithms*, 2nd ed., §3.1), ``gamma(N) = N eps / (1 - N eps)``. Near a solution
the terms cancel: the pre-activation ``W x + x`` of a skip connection at ``W ~ -I``, the fitted
value of a network that interpolates, the residual of normal equations. The result is then
orders of magnitude below its terms and its rounding is set by the terms. Every bound here is
``gamma(N)`` times sums of ``|terms|`` (``N`` the longest chain of sums involved), or, for a
linear solve, the backward error of LU factorisation; none has a tuned factor.

All quantities are NumPy float64, written from the definitions of docs/design.md §2
independently of the package.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

EPS64 = float(np.finfo(np.float64).eps)
#: The smallest subnormal float64: with gradual underflow a product is ``x y (1 + delta) +
#: eta``, ``|eta| <= SUBNORMAL64 / 2`` (Higham §2.1; the half is not a float64); a sum that
#: underflows is exact.
SUBNORMAL64 = 2.0**-1074


def gamma(n: int, eps: float = EPS64) -> float:
    """``n eps / (1 - n eps)``: the relative error bound of a sum or product chain of ``n``
    (``eps``: the unit roundoff's double, ``finfo(dtype).eps``; float64's by default)."""
    return n * eps / (1.0 - n * eps)


@dataclass(frozen=True)
class State:
    """A network on a problem's rows, with the sizes of the terms its forward pass sums.

    ``Z[i, j] = sum_a |Xt[i, a]| |Wt[j, a]| (+ |X[i, j]| with a skip connection)``: the terms
    of the pre-activation, so ``|H| <= Z`` (the slope is at most 1) and its rounding is at
    most ``gamma Z``; ``U = Z |V| + |c| + |Y|``: the terms of the residual ``E = F - Y``.
    """

    X: np.ndarray  # n x d, the data
    Xt: np.ndarray  # n x d~, [X, 1] with a bias
    Y: np.ndarray  # n x k
    Wt: np.ndarray  # h x d~, [W, b]
    V: np.ndarray  # h x k
    c: np.ndarray | None  # k
    l2: float
    H: np.ndarray  # n x h, the hidden features
    E: np.ndarray  # n x k, F - Y
    Z: np.ndarray  # n x h
    U: np.ndarray  # n x k

    @staticmethod
    def of(X: np.ndarray, y: np.ndarray, arrays: dict, slope: float, skip: bool,
           l2: float) -> State:
        """The state of the network ``arrays`` (``W``, ``b``, ``V``, ``c``, as
        ``numpy_arrays`` gives them) on the rows ``X``, ``y``."""
        n = X.shape[0]
        Y = np.reshape(y, (n, -1))
        bias = arrays["b"] is not None
        Xt = np.c_[X, np.ones(n)] if bias else X
        Wt = np.c_[arrays["W"], arrays["b"]] if bias else arrays["W"]
        V = np.reshape(arrays["V"], (Wt.shape[0], -1))
        c = None if arrays["c"] is None else np.reshape(arrays["c"], (-1,))
        Z = np.abs(Xt) @ np.abs(Wt).T + (np.abs(X) if skip else 0.0)
        pre = Xt @ Wt.T + (X if skip else 0.0)
        H = np.where(pre > 0, pre, slope * pre)
        F = H @ V + (0.0 if c is None else c)
        U = Z @ np.abs(V) + (0.0 if c is None else np.abs(c)) + np.abs(Y)
        return State(X, Xt, Y, Wt, V, c, l2, H, F - Y, Z, U)

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def sums(self) -> int:
        """Terms in the longest chain of sums behind a gradient: pre-activation (``d~ + 2``,
        with the skip offset), output (``h + 1``), residual (1), the sums over outputs and
        rows (``k + n``), and the products in between (3)."""
        h, dt = self.Wt.shape
        return dt + h + self.Y.shape[1] + self.n + 7

    @property
    def pair_sums(self) -> int:
        """The longest chain behind a sum of products of two computed quantities that each
        went through a pre-activation (``Hb^T Hb``, ``H^T E``): :attr:`sums` plus one more
        pre-activation, ``d~``."""
        return self.sums + self.Wt.shape[1]

    def with_output(self, V: np.ndarray, c: np.ndarray | None, slope: float,
                    skip: bool) -> State:
        """This state's hidden weights with the output layer ``V``, ``c``."""
        bias = self.Xt.shape[1] > self.X.shape[1]
        d = self.X.shape[1]
        arrays = {"W": self.Wt[:, :d], "b": self.Wt[:, d] if bias else None, "V": V, "c": c}
        return State.of(self.X, self.Y, arrays, slope, skip, self.l2)


def forward_error(s: State) -> np.ndarray:
    """Bound on the rounding of each computed output ``F[i, m]`` (n x k): the pre-activation
    sums ``d~`` terms plus the skip offset, the activation one product, the output ``h`` terms
    plus ``c``; each stage's error is relative to its terms, so
    ``gamma(d~ + h + 4) (Z |V| + |c|)``."""
    h, dt = s.Wt.shape
    return gamma(dt + h + 4) * (s.Z @ np.abs(s.V) + (0.0 if s.c is None else np.abs(s.c)))


def _gradient_terms(s: State, M: np.ndarray) -> dict[str, np.ndarray]:
    """The sizes of the terms of the gradient sums of docs/design.md §2 when the residual's
    entries are replaced by the sizes ``M`` (n x k): ``W``: ``(1/n) (M |V|^T)^T |Xt|`` (the
    pattern ``|D| <= 1``); ``V``: ``(1/n) Z^T M``; ``c``: ``(1/n) 1^T M``."""
    n = s.n
    terms = {"Wt": (M @ np.abs(s.V).T).T @ np.abs(s.Xt) / n, "V": s.Z.T @ M / n}
    if s.c is not None:
        terms["c"] = M.sum(axis=0) / n
    return terms


def lu_residual(A: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Bound on ``|A x - b|`` left by LAPACK's LU solve of the symmetric positive semi-definite
    ``A x = b`` (``x``: one column per right-hand side): ``|dA| <= gamma(3m) |L||U|`` (Higham
    Thm 9.4), ``(|L||U|)_ij <= sqrt(a_ii a_jj)`` for a definite matrix factorised without
    row exchanges (Cauchy-Schwarz on the columns of its Cholesky factor); ``m`` times that
    covers the exchanges partial pivoting may make."""
    m = A.shape[0]
    root = np.sqrt(np.abs(np.diag(A)))
    return gamma(3 * m) * m * np.outer(root, root) @ np.abs(x)


def _output_system(s: State) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The output step's normal equations at ``s``: ``A = Hb^T Hb + n l2 P``, the solution
    ``theta = [V; c]`` and the sizes ``[Z, 1]`` of ``Hb``'s terms."""
    n, h = s.H.shape
    if s.c is None:
        return s.H.T @ s.H + n * s.l2 * np.eye(h), s.V, s.Z
    Hb = np.c_[s.H, np.ones(n)]
    penalty = np.r_[np.ones(h), 0.0]
    return Hb.T @ Hb + n * s.l2 * np.diag(penalty), np.r_[s.V, s.c[None, :]], np.c_[s.Z,
                                                                                  np.ones(n)]


def lu_pivoted(size: np.ndarray) -> np.ndarray:
    """Bound on ``|dS|`` for LAPACK's LU solve with partial pivoting of ``S x = b``, ``|S| <=
    size``: the computed ``x`` solves ``(S + dS) x = b`` with ``|dS| <= gamma(3m) |L||U|``
    (Higham Thm 9.4, rows in pivot order). Partial pivoting keeps ``|l_ik| <= 1``, so each
    elimination step at most doubles the largest entry of a column (``(1 + eps)^2`` more for
    its rounding): ``|u_kj| <= 2^k max_i |s_ij|`` and ``(|L||U|)_ij <= (2^m - 1) max_i
    |s_ij|``, the same for every row; ``gamma(3m) (1 + gamma(2m)) <= gamma(5m)``, and one
    ``eps |s_ii|`` more covers forming ``S`` itself (a ridge added to the diagonal). Pivoting
    breaks the symmetric bound ``sqrt(s_ii s_jj)`` of :func:`lu_residual`: a row of small
    diagonal takes a multiple of the pivot row."""
    m = size.shape[0]
    return np.repeat(gamma(5 * m + 1) * (2**m - 1) * size.max(axis=0)[None, :], m, axis=0)


def _formed(s: State) -> np.ndarray:
    """Bound on the rounding of a computed ``A = Hb^T Hb + n l2 P`` (entry by entry): the sums
    and the features' own rounding, ``gamma(N) [Z, 1]^T [Z, 1]`` (``N``:
    :attr:`State.pair_sums`); forming ``n l2`` and adding it to the diagonal,
    ``gamma(3) a_ii``."""
    A, _, Zb = _output_system(s)
    return gamma(s.pair_sums) * Zb.T @ Zb + gamma(3) * np.diag(np.diag(A))


def _output_residual_terms(s: State, ridge: float = 0.0) -> np.ndarray:
    """Bound on ``|A theta - b + ridge theta|`` (``b = Hb^T Y``; rows of ``[V; c]``, one column
    per output) after the output solve of ``(A + ridge I) theta = b`` at ``s``: the computed
    ``A`` (:func:`_formed`) and ``b`` (``gamma(N) [Z, 1]^T |Y|``) are off by their rounding,
    and the LU solve of the computed ``A + ridge I`` (entries at most ``|A|`` and the rounding
    of ours and of the package's) leaves its backward error (:func:`lu_pivoted`)."""
    A, theta, Zb = _output_system(s)
    formed = _formed(s)
    size = np.abs(A) + 2 * formed + ridge * np.eye(A.shape[0])
    return (formed + lu_pivoted(size)) @ np.abs(theta) + gamma(s.pair_sums) * Zb.T @ np.abs(s.Y)


def _norm(a: np.ndarray) -> float:
    return float(np.linalg.norm(a))


def ratio(error: np.ndarray, bound: np.ndarray) -> float:
    """The largest ``|error| / bound`` (0 where both are 0, ``inf`` where only the bound is),
    for the tests' notes."""
    error, bound = np.broadcast_arrays(np.abs(error), bound)
    return float(np.max(np.divide(error, bound, out=np.where(error > 0, np.inf, 0.0),
                                  where=bound > 0), initial=0.0))


def _scales(s: State, rounding: float = 0.0) -> dict[str, float]:
    """The sizes ``critical_point_residuals`` divides the gradients by (``residual_ratios``):
    ``W``: ``||V|| ||X|| ||Y|| / n + l2 ||W||``; ``b``: ``||V|| sqrt(n) ||Y|| / n + l2 ||b||``;
    ``V``: ``||H|| ||Y|| / n + l2 ||V||``; ``c``: ``sqrt(n) ||Y|| / n``. With ``rounding``
    (``gamma(N)``), lower bounds on them as the package computes them: its ``||H||`` is off
    from ours by at most ``2 rounding ||Z||`` (both features round by ``gamma Z``), each
    size by ``rounding`` relative."""
    n, d = s.X.shape
    y_scale = np.linalg.norm(s.Y) / n
    v_norm = np.linalg.norm(s.V)
    h_norm = max(np.linalg.norm(s.H) - 2 * rounding * np.linalg.norm(s.Z), 0.0)
    out = {"W": v_norm * np.linalg.norm(s.X) * y_scale + s.l2 * _norm(s.Wt[:, :d]),
           "V": h_norm * y_scale + s.l2 * v_norm}
    if s.Wt.shape[1] > d:
        out["b"] = v_norm * math.sqrt(n) * y_scale + s.l2 * _norm(s.Wt[:, d])
    if s.c is not None:
        out["c"] = math.sqrt(n) * y_scale
    # 0/0 (dead units) is 0
    return {key: (1 - rounding) * value + 1e-300 for key, value in out.items()}


def _blocks(s: State, grads: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``grads`` (``Wt`` h x d~, ``V``, ``c``; any of them) split as the residuals are."""
    d = s.X.shape[1]
    out = {key: grads[key] for key in ("V", "c") if key in grads}
    if "Wt" in grads:
        out["W"] = grads["Wt"][:, :d]
        if s.Wt.shape[1] > d:
            out["b"] = grads["Wt"][:, d]
    return out


def relative(s: State, grads: dict[str, np.ndarray]) -> dict[str, float]:
    """Gradients (``Wt`` h x d~, ``V`` h x k, ``c`` k; any of them) as
    ``critical_point_residuals`` gives them: norms relative to :func:`_scales`."""
    scales = _scales(s)
    return {key: _norm(block) / scales[key] for key, block in _blocks(s, grads).items()}


def gradient_rounding(s: State) -> dict[str, np.ndarray]:
    """Entry-wise bound on the rounding of the gradients computed at ``s`` (``Wt``, ``V``,
    ``c``): ``gamma(N)`` times their terms (:func:`_gradient_terms` of ``U``; ``N``:
    :attr:`State.sums`, :attr:`State.pair_sums` for ``H^T E``, whose factors are both
    computed), and ``gamma(3) l2 |.|`` for the ridge terms."""
    own = _gradient_terms(s, s.U)
    out = {"Wt": gamma(s.sums) * own["Wt"] + gamma(3) * s.l2 * np.abs(s.Wt),
           "V": gamma(s.pair_sums) * own["V"] + gamma(3) * s.l2 * np.abs(s.V)}
    if s.c is not None:
        out["c"] = gamma(s.sums) * own["c"]
    return out


def scale_rounding(s: State) -> float:
    """Bound on the relative rounding of each size :func:`relative` divides by: a norm of
    ``X``, ``Y``, ``Wt``, ``V`` or ``H`` sums at most all their squares, then a few products."""
    return gamma(s.X.size + s.Y.size + s.Wt.size + s.V.size + s.H.size + 8)


def relative_bound(s: State, errors: dict[str, np.ndarray]) -> dict[str, float]:
    """Absolute bounds ``errors`` (``Wt``, ``V``, ``c``; blocks as :func:`relative` splits
    them) over lower bounds on the sizes ``critical_point_residuals`` divides by."""
    scales = _scales(s, scale_rounding(s))
    return {key: _norm(block) / scales[key] for key, block in _blocks(s, errors).items()}


def residual_tolerance(s: State, *, previous: State | None = None, step_norm: float = 0.0,
                       output_change: float = 0.0, ridge: float = 0.0) -> dict[str, float]:
    """Largest relative residuals (``critical_point_residuals``' ``W``, ``b``, ``V``, ``c``)
    rounding leaves at ``s``.

    ``W``, ``b``: ``s``'s hidden weights solve the fixed-pattern normal equations
    ``(G + n l2 I) dw = -n grad_W L`` set up at ``previous`` (same ``V``; default ``s``, a
    fixed point) with a step ``dw`` of norm ``step_norm``; ``output_change`` is the norm by
    which ``[V; c]`` moved after that solve. The computed gradient at ``s`` is off by its own
    rounding and the right-hand side's at ``previous`` (``gamma(N)`` times the gradient's
    terms, :func:`_gradient_terms` of ``U``), by the rounding of ``G`` and the LU backward error
    times ``||dw||`` (``||G|| <= ||V||^2 ||Xt||^2``), and by the moved output layer
    (``||Xt|| (||E|| + (||H|| + sqrt n) ||V||) ||d[V; c]|| / n``).
    ``V``, ``c``: ``s``'s output layer is the output solve at its hidden weights with
    ``ridge`` added (:func:`output_ridge`), so ``n grad = A theta - b`` is within
    :func:`output_residual`; over ``n``, plus the gradient's own rounding (``H^T E`` with
    ``gamma`` of :attr:`State.pair_sums`, and ``gamma(3) l2 |V|`` for its ridge term).

    Each absolute bound is divided by a lower bound on the size ``critical_point_residuals``
    divides that gradient by (:func:`_scales`).
    """
    previous = s if previous is None else previous
    n = s.n
    g = gamma(s.sums)
    own, before = _gradient_terms(s, s.U), _gradient_terms(s, previous.U)
    p = s.Wt.size
    x_norm, v_norm = np.linalg.norm(s.Xt), np.linalg.norm(s.V)
    solve = ((gamma(n + s.Y.shape[1]) + p * gamma(3 * p)) * (v_norm**2 * x_norm**2 + n * s.l2)
             * step_norm / n)
    moved = (x_norm * (np.linalg.norm(s.E) + (np.linalg.norm(s.H) + math.sqrt(n)) * v_norm)
             * output_change / n)
    # The rounding of w = w_t + dw moves the gradient by (1/n)|J|^T|J| eps|w|: one more
    # rounding on the gradient's own terms.
    Wt_err = (gamma(s.sums + 1) * own["Wt"] + g * before["Wt"]
              + EPS64 * s.l2 * (np.abs(s.Wt) + np.abs(previous.Wt)))
    solved = output_residual(s, ridge) / n
    h = s.V.shape[0]
    g2 = gamma(s.pair_sums)  # H^T E: two computed factors
    errors = {"Wt": Wt_err, "V": g2 * own["V"] + gamma(3) * s.l2 * np.abs(s.V) + solved[:h]}
    if s.c is not None:
        errors["c"] = g * own["c"] + solved[h]
    scales = _scales(s, g)
    return {key: (_norm(block) + (solve + moved if key in ("W", "b") else 0.0)) / scales[key]
            for key, block in _blocks(s, errors).items()}


def objective_error(s: State) -> float:
    """Bound on the rounding of the computed objective
    ``L = (1/2n) ||E||^2 + (l2/2) (||Wt||^2 + ||V||^2)`` at ``s``: each ``E`` entry is off by at
    most ``e = gamma(d~ + h + 5) U`` (:func:`forward_error` and the subtraction of ``Y``), so
    ``||E||^2`` by ``sum (2 |E| + e) e`` plus ``gamma(nk) ||E||^2`` for its own sum; the penalty
    by ``gamma(#weights) l2 ||.||^2``; then three more roundings."""
    sse = float(np.sum(s.E**2))
    penalty = s.l2 * float(np.sum(s.Wt**2) + np.sum(s.V**2))
    objective = 0.5 * sse / s.n + 0.5 * penalty
    return (0.5 * squared_error_rounding(s) / s.n
            + 0.5 * gamma(s.Wt.size + s.V.size + 1) * penalty + gamma(3) * objective)


def squared_error_rounding(s: State) -> float:
    """Bound on the rounding of the computed ``||E||^2`` at ``s``: each ``E`` entry is off by
    at most ``e = gamma(d~ + h + 5) U`` (:func:`forward_error` and the subtraction of ``Y``),
    so the square by ``sum (2 |E| + e) e``, plus ``gamma(nk) ||E||^2`` for its own sum."""
    h, dt = s.Wt.shape
    e = gamma(dt + h + 5) * s.U
    return float(np.sum((2 * np.abs(s.E) + e) * e)) + gamma(s.E.size) * float(np.sum(s.E**2))


def _output_eigen(s: State) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of the output step's exact ``A``, each computed eigenvalue taken no lower
    than a bound on the least eigenvalue of ``A``.

    The computed eigenvalues are off by the rounding of the ``A`` they are computed from
    (:func:`_formed`, in 2-norm at most its Frobenius norm) and the eigensolver's,
    ``m eps ||A||``. The floor: ``n l2`` without an output bias; with one,
    ``min(n l2 a, 0.13 n)``, ``a = n / (4 (||H||_2^2 + n))`` (for unit ``(v, c)``:
    ``||v||^2 >= a`` gives ``n l2 a``; else ``||H v + c 1|| >= sqrt((1 - a) n) - ||H|| sqrt(a)
    >= 0.36 sqrt(n)``).
    """
    A, _, _ = _output_system(s)
    n = s.n
    if s.c is None:
        floor = n * s.l2
    else:
        a = n / (4 * (np.linalg.norm(s.H, 2) ** 2 + n))
        floor = min(n * s.l2 * a, 0.13 * n)
    values, vectors = np.linalg.eigh(A)
    rounding = A.shape[0] * EPS64 * np.linalg.norm(A, 2) + np.linalg.norm(_formed(s))
    return np.maximum(values - rounding, floor), vectors


def output_residual(s: State, ridge: float) -> np.ndarray:
    """Bound on ``|A theta - b|`` (``b = Hb^T Y``) at ``s``, whose output layer ``theta`` the
    output solve left with ``ridge`` added (:func:`output_ridge`): ``(A + ridge I) theta - b``
    is within :func:`_output_residual_terms`, and the ridge adds ``ridge |theta|``."""
    _, theta, _ = _output_system(s)
    return _output_residual_terms(s, ridge) + ridge * np.abs(theta)


def inverse_form(s: State, R: np.ndarray) -> float:
    """Bound on ``r^T A^{-1} r`` (summed over outputs) for the output step's ``A`` at ``s``
    and any ``|r| <= R``: ``sum_i (|u_i| . R)^2 / lambda_i`` over the eigenpairs of
    :func:`_output_eigen`; ``inf`` where its floor is 0."""
    values, vectors = _output_eigen(s)
    if values.min() <= 0.0:
        return math.inf
    weights = (np.abs(vectors).T @ R) ** 2  # (|u_i| . R_m)^2, eigenvector by output
    return float(np.sum(weights / values[:, None]))


def output_suboptimality(s: State, ridge: float = 0.0) -> float:
    """How far above the least objective over the output layer at ``s``'s hidden weights the
    computed output solve (with ``ridge`` added, :func:`output_ridge`) may leave it.

    For ``phi(theta) = (1/2n)(theta^T A theta - 2 theta^T b + ||Y||^2)`` the excess of
    ``theta`` is ``(1/2n) r^T A^{-1} r`` with ``r = A theta - b``, ``|r| <=``
    :func:`output_residual`: :func:`inverse_form` over ``2n``.
    """
    return inverse_form(s, output_residual(s, ridge)) / (2 * s.n)


#: ``solve_regularised``'s ridges after the plain solve: ``eps tr(A) 100^j``, j < RETRIES.
RETRIES = 11


def output_ridge(s: State) -> float:
    """The ridge ``delta`` that ``solve_regularised`` added to the output step that left ``s``'s
    output layer ``theta = [V; c]`` (the upper end of its rounding interval).

    ``solve_regularised`` solves ``(A + delta I) theta = b`` (``b = Hb^T Y``) for
    ``delta = 0``, then ``eps tr(A) 100^j``, and keeps the first solution whose computed
    residual is at most ``sqrt(eps) ||b||``. Two facts pin ``delta`` down:

    - It is at most the first ridge whose check is *sure* to pass. The LU solve of the
      computed ``S = A + delta I`` returns ``x`` with ``(S + dS) x = b``, ``||dS||_2 <= e``
      (the Frobenius norm of :func:`lu_pivoted`), so ``||x|| <= ||b|| / (lambda_min(S) - e)``
      and the computed residual is at most ``(e + gamma(m + 2) ||S||_F) ||x|| + gamma(m + 2)
      ||b||`` (the product ``S x - b`` in floating point; its norms round by ``gamma(mk + 2)``).
      ``lambda_min(S) >= lambda_min(A) - ||dA||_F + delta``, :func:`_output_eigen` and
      :func:`_formed`.
    - The exact ``A theta - b`` is ``-delta theta`` up to :func:`_output_residual_terms`. The
      test's own ``n grad = Hb^T E + n l2 P theta`` is off from it by the gradient's rounding
      ``gamma(N) [Z, 1]^T U + gamma(3) n l2 |theta|`` (:attr:`State.pair_sums`), and
      ``delta`` by the rounding of
      ``tr A`` (ours and the package's, :func:`_formed`, and the trace's own sum) and of the
      12 products that make ``delta``, ``gamma(14)``.

    The ridges are a factor 100 apart, so where ``delta theta`` is above rounding only one of
    them fits; the largest that does is returned (a smaller one fits only within rounding),
    and ``AssertionError`` is raised when none does: ``theta`` then solves none of the
    systems ``solve_regularised`` may have solved.
    """
    A, theta, Zb = _output_system(s)
    n, m, k = s.n, A.shape[0], theta.shape[1]
    formed = _formed(s)
    trace = float(np.trace(A))
    spread = 2 * np.trace(formed) + gamma(m) * (trace + 2 * np.trace(formed))
    least = float(_output_eigen(s)[0].min()) - np.linalg.norm(formed)
    grad = s.H.T @ s.E + n * s.l2 * s.V
    if s.c is not None:
        grad = np.r_[grad, s.E.sum(axis=0)[None, :]]
    own = gamma(s.pair_sums) * Zb.T @ s.U + gamma(3) * n * s.l2 * np.abs(theta)
    check = math.sqrt(EPS64) * (1 - gamma(m * k + 2)) / (1 + gamma(m * k + 2))
    fits = []
    for j in range(-1, RETRIES):
        low, high = ((0.0, 0.0) if j < 0 else
                     (EPS64 * 100.0**j * (trace - spread) * (1 - gamma(14)),
                      EPS64 * 100.0**j * (trace + spread) * (1 + gamma(14))))
        bound = _output_residual_terms(s, high) + own + (high - low) * np.abs(theta)
        if np.all(np.abs(grad + high * theta) <= bound):
            fits.append(high)
        size = np.abs(A) + 2 * formed + high * np.eye(m)
        e, norm = np.linalg.norm(lu_pivoted(size)), np.linalg.norm(size)
        if least + low > e and (e + gamma(m + 2) * norm) / (least + low - e) + gamma(m + 2) \
                <= check:
            break  # this ridge's check passes: no larger one is tried
    assert fits, "theta solves none of the systems solve_regularised may have solved"
    return max(fits)


def objective_rise(before: State, after: State, slope: float, skip: bool,
                   output_solved: bool) -> float:
    """How far rounding may raise the recorded objective from ``before`` to ``after`` over one
    iteration. The damped steps accept only a computed fall; the paper's step backtracks to a
    computed objective no higher, at ``after``'s hidden weights with ``before``'s output layer,
    and then (when ``output_solved``) solves the output layer, which lowers the exact
    objective to within :func:`output_suboptimality` of its least there. So: the rounding of
    the three computed objectives, plus that."""
    between = after.with_output(before.V, before.c, slope, skip)
    rise = objective_error(before) + objective_error(between) + objective_error(after)
    return rise + (output_suboptimality(after) if output_solved else 0.0)


def hidden_gradient_error(s: State, previous: State) -> np.ndarray:
    """Bound on ``|n grad_W L(s) + r|`` divided by ``n`` (h x d~), where ``r = b - A dw`` is the
    residual of the fixed-pattern system ``A dw = b`` (``A = G + n l2 I``, ``b = -n grad_W L``)
    set up at ``previous`` and ``s``'s hidden weights are the computed ``previous.Wt + dw``:
    the rounding of the gradient at ``s`` (plus one for forming ``w_t + dw``, which moves it
    by ``(1/n) |J|^T |J| eps |w|``) and of ``b`` at ``previous`` (``gamma(N)`` times the
    gradient's terms, :func:`_gradient_terms` of ``U``), and ``eps l2 (|w| + |w_t|)`` for the
    ridge term. The same terms as the ``W`` block of :func:`residual_tolerance`, absolute."""
    own, before = _gradient_terms(s, s.U), _gradient_terms(previous, previous.U)
    return (gamma(s.sums + 1) * own["Wt"] + gamma(previous.sums) * before["Wt"]
            + EPS64 * s.l2 * (np.abs(s.Wt) + np.abs(previous.Wt)))


def hidden_product_error(s: State, dW: np.ndarray) -> float:
    """Bound on the 2-norm of the rounding of the matrix-free product
    ``(G + n l2 I) dw = (D * ((D * (Xt dW^T)) V) V^T)^T Xt + n l2 dW`` at ``s`` (pattern ``|D|
    <= 1``): ``gamma(N)`` (:attr:`State.sums`) times its terms
    ``((|Xt| |dW|^T) |V| |V|^T)^T |Xt|``, and ``gamma(2) n l2 |dW|`` for the ridge."""
    terms = (((np.abs(s.Xt) @ np.abs(dW).T) @ np.abs(s.V)) @ np.abs(s.V).T).T @ np.abs(s.Xt)
    return gamma(s.sums) * _norm(terms) + gamma(2) * s.n * s.l2 * _norm(dW)


def operator_norm_bound(s: State) -> float:
    """Bound on ``||G + n l2 I||_2`` at ``s``: ``||V||^2 ||Xt||^2 + n l2`` (``|D| <= 1``)."""
    return _norm(s.V) ** 2 * _norm(s.Xt) ** 2 + s.n * s.l2


#: One step of conjugate gradients as recorded: ``(alpha, d, q, r_norm)``.
CGStep = tuple[float, np.ndarray, np.ndarray, float]


def cg_residual_gap(s: State, steps: Sequence[CGStep]) -> float:
    """:func:`cg_gap` for the fixed-pattern system ``A = G + n l2 I`` at ``s``: its norm is
    at most :func:`operator_norm_bound`, its products round by :func:`hidden_product_error`."""
    return cg_gap(steps, operator_norm_bound(s),
                  lambda d: hidden_product_error(s, np.reshape(d, s.Wt.shape)))


def cg_gap(steps: Sequence[CGStep], norm_A: float,
           product_error: Callable[[np.ndarray], float]) -> float:
    """Bound on ``||(b - A x) - r||`` between the true and the recursively updated residual of
    conjugate gradients after the ``steps`` it took on ``A x = b`` from ``x = 0``
    (``||A||_2 <= norm_A``; ``product_error(d)`` bounds ``||fl(A d) - A d||``). Each step
    ``(alpha, d, q, r_norm)`` (``q`` the computed ``A d``, ``r_norm`` the norm of the residual
    it updates) makes ``x' = fl(x + alpha d)`` (``|xi| <= eps |x'|``) and
    ``r' = fl(r - alpha q)`` (``|eta| <= gamma(2) (|r'| + |alpha q|)``), ``q = A d + zeta``;
    the gap moves by ``-A xi + alpha zeta - eta`` (Greenbaum, SIAM J. Matrix Anal. Appl. 18
    (1997)), and ``||x'|| <= (1 + gamma(j)) sum |alpha| ||d||``,
    ``||r'|| <= ||r|| + |alpha| ||q||``."""
    gap, x_norm = 0.0, 0.0
    for j, (alpha, d, q, r_norm) in enumerate(steps, start=1):
        a = abs(alpha)
        x_norm += a * _norm(d)
        r_next = r_norm + a * _norm(q)
        gap += (EPS64 * norm_A * (1 + gamma(j)) * x_norm + a * product_error(d)
                + gamma(2) * (r_next + a * _norm(q)))
    return (1 + gamma(len(steps))) * gap


def cg_stop(rtol: float, b_norm: float, m: int) -> float:
    """Bound on the recursively updated residual's norm when conjugate gradients stop on
    ``||r|| <= rtol ||b||`` (``m`` unknowns): both norms computed within ``gamma(m + 2)``."""
    return rtol * b_norm * (1 + gamma(m + 2)) ** 2 / (1 - gamma(m + 2))


def gauss_newton_magnitudes(s: State, D: np.ndarray, joint: bool) -> np.ndarray:
    """Bound on ``|J|``, the Jacobian of ``vec(F)`` (rows ``(i, m)``) in ``vec(Wt)`` and, for
    ``joint``, ``[V; c]`` output by output (the unknowns of the hidden-step systems):
    ``|V[j, m]| |D[i, j]| |Xt[i, a]|``, and ``[m = m'] [Z, 1][i, l]`` in place of
    ``[H, 1][i, l]`` (``|H| <= Z``, and ``Z`` also bounds the rounding of the computed ``H``,
    ``gamma(d~ + 2) Z``)."""
    n, k = s.Y.shape
    JW = np.einsum("jm,ij,ia->imja", np.abs(s.V), np.abs(D), np.abs(s.Xt)).reshape(n * k, -1)
    if not joint:
        return JW
    Zb = s.Z if s.c is None else np.c_[s.Z, np.ones(n)]
    return np.c_[JW, np.einsum("mq,il->imql", np.eye(k), Zb).reshape(n * k, -1)]


def gauss_newton_chain(s: State) -> int:
    """Roundings along the longest chain behind an entry of the damped hidden-step system
    ``A = J^T J + n l2 diag(1, P) + mu diag(G)`` or of a product ``A d``, formed in either
    path (``HiddenSystem``: ``masked_gram``, its coupling ``V V^T``, the cross block ``V M``,
    the output block ``Hb^T Hb``; ``MatrixFreeSystem``: ``J^T (J d)``, its damping and
    preconditioner blocks), in any order and over any chunks.

    A term of ``(A d)[(j, a)]`` is a product of at most 7 factors (``Xt, D, V, V, D, Xt, d``
    or ``Hb, Hb, d``): 6 roundings; it goes through the sums over ``a`` (``d~``), over ``j``
    and ``l`` (``U = (D * Xt dW^T) V + Hb dT``: ``2h + 1``), over outputs (``k``) and over
    rows (``n``); the ridge and the damping add 3 more (``n l2``, ``mu diag(G)``, the sum);
    so ``6 + (d~ - 1) + 2h + (k - 1) + (n - 1) + 3``. The dense path's chains are shorter:
    ``G``'s terms go through the sums over rows and outputs, 3 products, the coupling's and
    the ridge's and damping's roundings and 4 of ``masked_gram``'s two-level pattern split,
    ``n + k + 7``. ``Hb`` is off by ``gamma(d~ + 2) Z`` (the pre-activation's sum and the
    activation), at most twice in a term: ``2 (d~ + 2)`` more.
    """
    n, k = s.Y.shape
    h, dt = s.Wt.shape
    return n + k + dt + 2 * h + 6 + 2 * (dt + 2)


def gauss_newton_terms(s: State, D: np.ndarray, joint: bool, mu: float) -> np.ndarray:
    """The sizes of the terms of each entry of the damped hidden-step system at ``s`` (pattern
    ``D``): ``|J|^T |J| + n l2 diag(1, P) + mu diag(|J_W|^T |J_W|)``
    (:func:`gauss_newton_magnitudes`; ``P`` zero at the output biases). Each entry of the
    system as either path forms it, and of its products ``A d`` over ``|d|``, is within
    ``gamma(N)`` (:func:`gauss_newton_chain`) times these terms (Higham Lemma 3.1 and 3.3
    for sums and products of ``N`` roundings; the pattern ``D`` is the computed one)."""
    J = gauss_newton_magnitudes(s, D, joint)
    p, m = s.Wt.size, J.shape[1]
    ridge = np.ones(m)
    if joint and s.c is not None:
        h = s.V.shape[0]
        ridge[p + h::h + 1] = 0.0  # the output biases are not penalised
    damping = np.einsum("ij,ij->j", J[:, :p], J[:, :p])
    return J.T @ J + np.diag(s.n * s.l2 * ridge + mu * np.r_[damping, np.zeros(m - p)])


def _sizes_above_one(a: np.ndarray) -> np.ndarray:
    """``max(1, |a|)`` where ``a`` is nonzero, 0 where it is 0."""
    return np.where(a != 0, np.maximum(np.abs(a), 1.0), 0.0)


def gauss_newton_underflow(s: State, D: np.ndarray, joint: bool, mu: float,
                           skip: bool) -> np.ndarray:
    """Bound on the distance, by underflow, between two computations (dense and matrix-free)
    of each entry of the damped hidden-step system at ``s`` (pattern ``D``), or of ``A d``
    over ``|d|``: what :func:`gauss_newton_terms`' relative bound leaves out.

    A product that underflows is off by ``eta``, ``|eta| <= SUBNORMAL64 / 2``, which the later
    products of its chain scale by their factors: an entry is off by at most ``SUBNORMAL64 / 2
    (1 + gamma(N))`` (:func:`gauss_newton_chain`) times the sum, over its products, of the
    factors each is multiplied by afterwards. A factor 0 makes its product exact and erases
    what came before it, so each such sum is at most the entry's terms with every nonzero
    factor taken as ``max(1, |f|)`` (the system's terms, :func:`gauss_newton_terms`, of those
    sizes; ``n l2`` one factor, ``D`` at most 1), once per product along a term's chain:
    at most 7 (``J^T J d``'s 7 factors take 6, ``mu diag(G) d``'s 8 take 7). ``masked_gram``'s
    two-level pattern ``D_j D_k = lo^2 + lo s (A_j + A_k) + s^2 A_j A_k`` splits each term
    into at most 4 with factors at most 1 in place of ``D_j D_k``: ``(4 + 1) 7`` for the two
    paths. The last product, by ``SUBNORMAL64``, rounds to nearest, which keeps it a bound on
    differences of float64 values."""
    n = s.n
    hat = _sizes_above_one
    Wt, Xt = hat(s.Wt), hat(s.Xt)
    sizes = replace(s, Xt=Xt, V=hat(s.V), Z=Xt @ Wt.T + (hat(s.X) if skip else 0.0),
                    l2=float(hat(np.array(n * s.l2))) / n)
    terms = gauss_newton_terms(sizes, (D != 0).astype(float), joint, float(hat(np.array(mu))))
    return (1 + gamma(gauss_newton_chain(s))) * 17.5 * terms * SUBNORMAL64  # 35 eta


def least_eigenvalue(A: np.ndarray) -> float:
    """Lower bound on the least eigenvalue of the symmetric ``A`` from its computed one: the
    eigensolver's backward error, ``m eps ||A||_2`` (as in :func:`_output_eigen`)."""
    return float(np.linalg.eigvalsh(A).min()) - A.shape[0] * EPS64 * np.linalg.norm(A, 2)


def lu_solve_accepted(size: np.ndarray, least: float, columns: int) -> bool:
    """Whether ``solve_regularised`` surely keeps its plain LU solve of ``S x = b`` (``|S| <=
    size``, ``lambda_min(S) >= least``, ``columns`` right-hand sides): with ``||dS||_2 <= e``
    (the Frobenius norm of :func:`lu_pivoted`), ``||x|| <= ||b|| / (least - e)`` and the
    computed residual is at most ``(e + gamma(m + 2) ||S||_F) ||x|| + gamma(m + 2) ||b||``,
    within its ``sqrt(eps) ||b||`` check (norms within ``gamma(m columns + 2)``); the same
    test as :func:`output_ridge`'s for ``delta = 0``."""
    m = size.shape[0]
    e, norm = _norm(lu_pivoted(size)), _norm(size)
    check = math.sqrt(EPS64) * (1 - gamma(m * columns + 2)) / (1 + gamma(m * columns + 2))
    return bool(least > e and (e + gamma(m + 2) * norm) / (least - e) + gamma(m + 2) <= check)


def network_forward_error(X: np.ndarray, W: np.ndarray, b: np.ndarray | None, V: np.ndarray,
                          c: np.ndarray | None, skip: bool, eps: float,
                          extra: int = 0) -> np.ndarray:
    """Bound on the rounding of each output of the network ``(W, b, V, c)`` (skip: ``W + I``)
    evaluated on ``X`` in a floating point of ``eps`` (n x k), in any summation order: the
    pre-activation ``[X, 1] [W + I, b]^T`` (forming ``W + I``, ``d~`` products and sums), the
    activation (its slope ``D`` and the product), the output (``h`` products and sums, ``c``):
    ``gamma(d~ + h + 4 + extra) (Z |V| + |c|)`` with ``Z = |[X, 1]| |[W, b]|^T + |X|`` (skip)
    the pre-activation's terms, as :func:`forward_error` (the activation is 1-Lipschitz, so a
    pattern entry that flips on a tie moves the output by less). ``extra``: roundings of the
    first layer's weights made beforehand (folding and unfolding ``I``)."""
    n = X.shape[0]
    X = X.astype(np.float64)
    Xt = X if b is None else np.c_[X, np.ones(n)]
    Wt = W.astype(np.float64) if b is None else np.c_[W, b].astype(np.float64)
    Z = np.abs(Xt) @ np.abs(Wt).T + (np.abs(X) if skip else 0.0)
    V = np.reshape(V, (W.shape[0], -1)).astype(np.float64)
    terms = Z @ np.abs(V) + (0.0 if c is None else np.abs(np.reshape(c, (-1,))))
    return gamma(Xt.shape[1] + W.shape[0] + 4 + extra, eps) * terms


def merged_mean_rounding(n: int, chunks: int) -> float:
    """Bound, relative to ``max |x|``, on the rounding of a column mean taken chunk by chunk
    and merged by Chan's update (``Moments``; ``chunks`` >= 1 non-empty chunks, ``n`` rows in
    all): a chunk's ``sum / n_c`` is within ``gamma(n_c + 1) max |x|``; a merge
    ``mean_a + fl(fl(mean_b - mean_a) fl(n_b / n))`` (4 roundings) is the convex combination
    ``(1 - w') mean_a + w' mean_b`` with ``|w' - w| <= gamma(3) w``, ``|mean_b - mean_a| <=
    2 max |x|``: it keeps the larger of its parts' errors (times ``1 + gamma(4)``) and adds
    ``gamma(7) max |x|``, so 11 per merge along a chain of at most ``chunks - 1``. NumPy's
    pairwise mean is the case ``chunks = 1``."""
    return gamma(n + 1 + 11 * (chunks - 1))


def merged_std_rounding(A: np.ndarray, chunks: int, std: np.ndarray) -> np.ndarray:
    """Bound on the rounding of the column standard deviations ``sqrt(M2 / n)`` of ``A``
    (n x d) computed as :func:`merged_mean_rounding`'s chunks: each chunk sums the squares
    of its deviations from its own computed mean, each merge adds
    ``delta^2 n_a n_b / n`` (``delta`` of the computed means). ``sqrt(M2)`` is the norm of a
    vector of deviations that is off from the exact one (norm ``sqrt(n) std``) by the means'
    errors ``E`` (:func:`merged_mean_rounding` times ``max |x|``): ``sqrt(n_c) E`` per chunk
    and ``sqrt(n_a n_b / n) 2 E <= sqrt(n) E`` per merge, at most ``sqrt(n) (sqrt(chunks) +
    chunks) E`` in all; the sums are of nonnegative terms, so their rounding is relative,
    ``gamma(n + 2)`` for a chunk's deviations, squares and sum, ``gamma(7)`` per merge, 2 for
    ``sqrt(M2 / n)``. ``std``: an upper bound on the exact standard deviations."""
    n = A.shape[0]
    E = merged_mean_rounding(n, chunks) * np.abs(A).max(axis=0)
    moved = (math.sqrt(chunks) + chunks) * E  # over sqrt(n)
    g = gamma(n + 4 + 7 * (chunks - 1))
    return g * (std + moved) + moved


def numpy_std_upper(A: np.ndarray) -> np.ndarray:
    """Upper bound on the exact column standard deviations of ``A`` from NumPy's computed
    ones (:func:`merged_std_rounding` with one chunk: ``s >= std (1 - g) - (1 + g) m``)."""
    n = A.shape[0]
    moved = 2 * merged_mean_rounding(n, 1) * np.abs(A).max(axis=0)
    g = gamma(n + 4)
    return (A.std(axis=0) + (1 + g) * moved) / (1 - g)


def positive_sum_rounding(terms: int) -> float:
    """Bound on the relative distance between two computations of a sum of ``terms``
    nonnegative products (any order, any chunking): each within ``gamma(terms)`` of the exact
    sum, so within ``2 gamma(terms) / (1 - gamma(terms))`` of the other's value."""
    g = gamma(terms)
    return 2 * g / (1 - g)


def folded_network_error(X: np.ndarray, W: np.ndarray, b: np.ndarray | None, V: np.ndarray,
                         c: np.ndarray | None, skip: bool, x_shift: np.ndarray,
                         x_scale: np.ndarray, y_shift: np.ndarray,
                         y_scale: np.ndarray, extra: int = 0) -> np.ndarray:
    """Bound on the rounding of each output (n x k) of a standardised network ``(W, b, V, c)``
    on raw inputs ``X`` and in raw outputs, by either path: its raw fold
    (``A = (W + I) / x_scale``, ``W_raw = A - I``, ``b_raw = b - A x_shift``,
    ``V y_scale``, ``c y_scale + y_shift``) evaluated on ``X``, or the network itself on
    ``(X - x_shift) / x_scale`` mapped back (``F y_scale + y_shift``); the sum of both paths'
    distances to the exact one. Every pre-activation is a sum of terms at most
    ``Z = |X| |A|^T + |A| |x_shift| + |b|`` (``|X - x_shift| / x_scale |W + I| <= Z``), every
    output of ``T = (Z |V| + |c|) y_scale + |y_shift|``; along either path a term goes
    through the evaluation's ``d~ + h + 4`` roundings (:func:`forward_error`) and at most
    ``d + 8`` of the maps and folds (``b_raw``'s ``d + 1``, ``W``'s 3, ``V``'s and ``c``'s 3;
    the inputs' 2 and the outputs' 2 on the other path), so ``gamma(2 (d~ + h + 4) + d + 8)
    T``. With a skip connection ``W + I`` and ``A - I`` are formed, each rounding by ``eps``
    of its terms ``|W| + I``, ``|A| + I``: ``A`` is taken as ``(|W| + I) / x_scale + 2 I``,
    at least ``|W_raw| + I`` and ``(|W| + I) / x_scale``. ``extra``: roundings by which the
    sizes ``|W| + I``, ``|b|``, ``|V|``, ``|c|`` given may fall short of the network's
    (``gamma(N) (1 + gamma(extra)) <= gamma(N + extra)``)."""
    d = X.shape[1]
    h = W.shape[0]
    eye = np.eye(h, d) if skip else 0.0
    A = (np.abs(W) + eye) / x_scale + 2 * eye
    Z = np.abs(X) @ A.T + A @ np.abs(x_shift) + (0.0 if b is None else np.abs(b))
    Vm = np.abs(np.reshape(V, (h, -1)))
    T = ((Z @ Vm + (0.0 if c is None else np.abs(np.reshape(c, (-1,))))) * y_scale
         + np.abs(y_shift))
    dt = d + (b is not None)
    return gamma(2 * (dt + h + 4) + d + 8 + extra) * T


def squared_error_gap(E: np.ndarray, e: np.ndarray) -> float:
    """Bound on the difference of two computed sums of squares ``sum w E'^2`` (weights ``w``
    computed with one rounding, or 1) of residuals ``E'`` that are each within ``e`` of the
    same exact ``E^`` (``E``: one of them, so ``|E^| <= |E| + e``), each divided by the same
    count afterwards (multiply the result by that count's reciprocal): per entry
    ``|E'^2 - E^^2| <= e (2 |E| + 3 e)`` on each side, and each sum of ``N`` nonnegative
    terms rounds by ``gamma(N + 4)`` of its size (the square, the weight, its rounding and the
    division), ``|E'| <= |E| + 2 e``."""
    E, e = np.broadcast_arrays(np.abs(E), e)
    return float(2 * np.sum(e * (2 * E + 3 * e))
                 + 2 * gamma(E.size + 4) * np.sum((E + 2 * e) ** 2))


def standardized_error(A: np.ndarray, P: np.ndarray, shift: np.ndarray,
                       scale: np.ndarray) -> np.ndarray:
    """Bound on ``|fl((A - shift) / scale) - (A^ - mu) / sigma|`` (n x d) for the columns of the
    computed data ``A`` (within ``P`` of exact data ``A^``, entrywise), standardised by the
    computed column means ``shift`` and standard deviations ``scale`` of ``A`` (one chunk),
    ``mu``, ``sigma`` those of ``A^``. The shift is within ``E`` (:func:`merged_mean_rounding`
    times ``max |A|``, plus ``max P``) of ``mu``, the scale within ``R``
    (:func:`merged_std_rounding` plus ``max P``: a standard deviation moves by at most the
    largest change of an entry) of ``sigma``; so the numerator is within ``P + E`` of
    ``N = A^ - mu``, ``|1 / scale - 1 / sigma| <= R / (scale (scale - R))``, and the two
    roundings add ``gamma(2)`` of the result. ``inf`` where ``R >= scale``."""
    n = A.shape[0]
    wide = P.max(axis=0)
    E = merged_mean_rounding(n, 1) * np.abs(A).max(axis=0) + wide
    R = merged_std_rounding(A, 1, numpy_std_upper(A)) + wide
    moved = P + E
    N = np.abs(A - shift) + moved
    with np.errstate(divide="ignore"):
        inverse = np.where(scale > R, R / (scale * (scale - R)), np.inf)
    return N * inverse + moved / scale + gamma(2) * (N + moved) / scale


def residual_agreement(s: State, reported: dict[str, float]) -> dict[str, float]:
    """Bound on the distance between two computations of ``critical_point_residuals`` at
    ``s`` (any order of the sums; ``reported``: the larger of their values, by key). Each is
    ``||g'|| (1 + a) / S'`` with ``g'`` within :func:`gradient_rounding` of the exact
    gradient ``g``, ``a = gamma(G + 2)`` for the norm of ``G`` entries and the division,
    ``S'`` within :func:`scale_rounding` ``r`` of the exact size ``S``: so within
    ``rb (1 + a) + q ||g|| / S`` of the exact ``||g|| / S``, ``rb`` :func:`relative_bound`,
    ``q = (a + r) / (1 - r)``; ``||g|| / S <= (reported + rb (1 + a)) / (1 - q)``."""
    rb = relative_bound(s, gradient_rounding(s))
    a = gamma(s.Wt.size + s.V.size + s.Y.shape[1] + 2)
    r = scale_rounding(s)
    q = (a + r) / (1 - r)
    return {key: 2 * (rb[key] * (1 + a) + q * (reported[key] + rb[key] * (1 + a)) / (1 - q))
            for key in rb}


def folded_mse_gap(X: np.ndarray, Y: np.ndarray, F: np.ndarray, arrays: dict, skip: bool,
                   maps: Sequence[np.ndarray], extra: int = 0) -> float:
    """Bound on the distance between a standardised fit's MSE in raw units (``y_scale^2``
    times its squared residuals on the standardised rows, over ``n``) and ours,
    ``mean((F - Y)^2)`` from the raw network's outputs ``F`` on ``X`` (n x k): both residuals
    are within the outputs' rounding (:func:`folded_network_error` of the standardised
    network ``arrays``, ``maps`` = ``x_shift, x_scale, y_shift, y_scale``, ``extra`` as there)
    and the targets' (the fit's ``(y - y_shift) / y_scale``: 2, the subtraction: 1, of
    ``|Y| + |y_shift| + |F|``) of the exact ones (:func:`squared_error_gap`)."""
    bound = folded_network_error(X, arrays["W"], arrays["b"], arrays["V"], arrays["c"], skip,
                                 *maps, extra=extra)
    F = np.reshape(F, bound.shape)
    Y = np.reshape(Y, bound.shape)
    e = bound + gamma(3) * (np.abs(Y) + np.abs(maps[2]) + np.abs(F))
    return squared_error_gap(F - Y, e) / Y.shape[0]
