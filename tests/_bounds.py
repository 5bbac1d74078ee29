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
from dataclasses import dataclass

import numpy as np

EPS64 = float(np.finfo(np.float64).eps)


def gamma(n: int) -> float:
    """``n eps / (1 - n eps)``: the relative error bound of a sum or product chain of ``n``."""
    return n * EPS64 / (1.0 - n * EPS64)


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


def _output_residual_terms(s: State) -> np.ndarray:
    """Bound on ``|A theta - Hb^T Y|`` (rows of ``[V; c]``, one column per output) after the
    exact output solve at ``s``: the sums ``Hb^T Hb`` and ``Hb^T Y`` and the features'
    own rounding (``gamma Z`` each) add ``gamma(N) 2 [Z, 1]^T U``; the LU solve adds its
    backward error (:func:`lu_residual`)."""
    A, theta, Zb = _output_system(s)
    return gamma(s.sums) * 2 * Zb.T @ s.U + lu_residual(A, theta)


def _norm(a: np.ndarray) -> float:
    return float(np.linalg.norm(a))


def _scales(s: State) -> dict[str, float]:
    """The sizes ``critical_point_residuals`` divides the gradients by (``residual_ratios``):
    ``W``: ``||V|| ||X|| ||Y|| / n + l2 ||W||``; ``b``: ``||V|| sqrt(n) ||Y|| / n + l2 ||b||``;
    ``V``: ``||H|| ||Y|| / n + l2 ||V||``; ``c``: ``sqrt(n) ||Y|| / n``."""
    n, d = s.X.shape
    y_scale = np.linalg.norm(s.Y) / n
    v_norm = np.linalg.norm(s.V)
    out = {"W": v_norm * np.linalg.norm(s.X) * y_scale + s.l2 * _norm(s.Wt[:, :d]),
           "V": np.linalg.norm(s.H) * y_scale + s.l2 * v_norm}
    if s.Wt.shape[1] > d:
        out["b"] = v_norm * math.sqrt(n) * y_scale + s.l2 * _norm(s.Wt[:, d])
    if s.c is not None:
        out["c"] = math.sqrt(n) * y_scale
    return {key: value + 1e-300 for key, value in out.items()}  # 0/0 (dead units) is 0


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


def residual_tolerance(s: State, *, previous: State | None = None, step_norm: float = 0.0,
                       output_change: float = 0.0) -> dict[str, float]:
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
    ``V``, ``c``: ``s``'s output layer is the exact output solve at its hidden weights
    (:func:`_output_residual_terms`, over ``n``, plus the gradient's own rounding).

    Each absolute bound is divided by the size ``critical_point_residuals`` divides that
    gradient by (:func:`_scales`).
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
    solved = _output_residual_terms(s) / n
    h = s.V.shape[0]
    errors = {"Wt": Wt_err, "V": g * own["V"] + solved[:h]}
    if s.c is not None:
        errors["c"] = g * own["c"] + solved[h]
    scales = _scales(s)
    return {key: (_norm(block) + (solve + moved if key in ("W", "b") else 0.0)) / scales[key]
            for key, block in _blocks(s, errors).items()}


def objective_error(s: State) -> float:
    """Bound on the rounding of the computed objective
    ``L = (1/2n) ||E||^2 + (l2/2) (||Wt||^2 + ||V||^2)`` at ``s``: each ``E`` entry is off by at
    most ``e = gamma(d~ + h + 5) U`` (:func:`forward_error` and the subtraction of ``Y``), so
    ``||E||^2`` by ``sum (2 |E| + e) e`` plus ``gamma(nk) ||E||^2`` for its own sum; the penalty
    by ``gamma(#weights) l2 ||.||^2``; then three more roundings."""
    h, dt = s.Wt.shape
    e = gamma(dt + h + 5) * s.U
    sse = float(np.sum(s.E**2))
    sse_error = float(np.sum((2 * np.abs(s.E) + e) * e)) + gamma(s.E.size) * sse
    penalty = s.l2 * float(np.sum(s.Wt**2) + np.sum(s.V**2))
    objective = 0.5 * sse / s.n + 0.5 * penalty
    return (0.5 * sse_error / s.n + 0.5 * gamma(s.Wt.size + s.V.size + 1) * penalty
            + gamma(3) * objective)


def output_suboptimality(s: State) -> float:
    """How far above the least objective over the output layer at ``s``'s hidden weights the
    computed output solve may leave it.

    For ``phi(theta) = (1/2n)(theta^T A theta - 2 theta^T b + ||Y||^2)`` the excess of
    ``theta`` is ``(1/2n) r^T A^{-1} r`` with ``r = A theta - b``, at most
    ``(1/2n) sum_i (|u_i| . R)^2 / lambda_i`` over the eigenpairs of ``A`` for
    ``|r| <= R`` (:func:`_output_residual_terms`), per output. Each computed eigenvalue,
    less its rounding ``m eps ||A||``, is taken no lower than a bound on the least eigenvalue
    of the exact ``A``: ``n l2`` without an output bias; with one, ``min(n l2 a, 0.13 n)``,
    ``a = n / (4 (||H||_2^2 + n))`` (for unit ``(v, c)``: ``||v||^2 >= a`` gives ``n l2 a``;
    else ``||H v + c 1|| >= sqrt((1 - a) n) - ||H|| sqrt(a) >= 0.36 sqrt(n)``).
    """
    A, _, _ = _output_system(s)
    n = s.n
    if s.c is None:
        floor = n * s.l2
    else:
        a = n / (4 * (np.linalg.norm(s.H, 2) ** 2 + n))
        floor = min(n * s.l2 * a, 0.13 * n)
    if floor <= 0.0:
        return math.inf
    values, vectors = np.linalg.eigh(A)
    values = np.maximum(values - A.shape[0] * EPS64 * np.linalg.norm(A, 2), floor)
    R = _output_residual_terms(s)
    weights = (np.abs(vectors).T @ R) ** 2  # (|u_i| . R_m)^2, eigenvector by output
    return float(np.sum(weights / values[:, None])) / (2 * n)


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
