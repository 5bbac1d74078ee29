"""``l2="auto"``: the ridge chosen from the data by generalised cross-validation of the
Gauss-Newton model of the whole network (``docs/method.md``, "Choosing the ridge").

At the current weights ``theta`` the network is linearised, ``F(theta + delta) ~ F + J delta``,
and the ridge problem of the linear model,

    min_delta ||r - J delta||^2 + n lam ||P (theta + delta)||^2,   r = Y - F,

has the closed-form generalised cross-validation score of Golub, Heath and Wahba,
``GCV(lam) = N RSS(lam) / (N - df(lam))^2`` with ``N = n k`` residuals, ``RSS`` the linear
model's residual sum of squares and ``df = tr(J (J^T J + n lam P)^-1 J^T)`` its effective
degrees of freedom (used here in its modified form, ``N - gamma df``: ``AUTO_L2_GAMMA``).
Both follow for every ``lam`` from one eigendecomposition of ``J^T J``, ``J^T r``, ``||r||^2``
and ``theta`` -- sums over the rows, streamed and Dask data included -- so a whole grid
costs one ``m x m`` eigendecomposition (``m`` unknowns) and no refits. The
unpenalised output biases are eliminated first (a Schur complement: centring). Choosing the
ridge at each Gauss-Newton iterate this way is Haber and Oldenburg's GCV method for nonlinear
problems (Inverse Problems 16, 2000); because ``J`` covers both layers, ``df`` counts the
hidden layer's freedom as well as the output layer's, which a GCV of the output solve alone
(the features held fixed) does not, and which made it choose a ridge too small to matter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from array_api_compat import device

from ._model import Evaluation, Params, state_sums
from ._problem import TrainingProblem
from ._systems import HiddenSystem, solve_regularised

#: The ridges ``l2="auto"`` chooses from: 4 per decade from ``1e-6`` to ``10``, in the
#: coordinates the fit runs in (standardised ones by default).
AUTO_L2_GRID = tuple(10.0 ** (e / 4) for e in range(-24, 5))
#: At most ``AUTO_L2_ROUNDS`` choices, ``AUTO_L2_STEPS`` iterations at each chosen ridge
#: between them; the choice is final once a round chooses the ridge of the round before.
AUTO_L2_ROUNDS, AUTO_L2_STEPS = 10, 3
#: ``l2="auto"`` forms and decomposes the ``m x m`` Gauss-Newton matrix of both layers
#: (``m = h (d + 1) + k (h + 1)``) once a round; it refuses larger problems, whose
#: eigendecomposition takes minutes (one core of this machine, NumPy's ``eigh``: 0.2 s at
#: m = 1000, 3 s at 2500, 23 s at 4810, the digits data at h = 64; ``O(m^3)`` beyond).
AUTO_L2_MAX_UNKNOWNS = 5000
#: The modified GCV's charge per effective degree of freedom,
#: ``GCV(lam) = N RSS / (N - gamma df)^2``: plain GCV (``gamma = 1``) is known to choose too
#: little smoothing now and then (Kim and Gu, JRSS B 66, 2004, recommend ``gamma = 1.4``, as
#: mgcv's ``gamma`` argument does). Measured on the prediction benchmark's data sets
#: (``docs/notes/2026-12-05-gcv-gamma.md``): ``gamma = 1`` chose ridges of ``1e-6`` on breast
#: cancer and its classifier fell short of MLPClassifier; 1.4 chose ``1e-3`` to ``3e-3`` there.
AUTO_L2_GAMMA = 1.4


@dataclass(frozen=True)
class RidgeChoice:
    """One choice of ``l2="auto"``: the ridge, its GCV score (per residual, in the units of
    the fitted targets) and its effective degrees of freedom, after ``iteration`` steps."""

    l2: float
    gcv: float
    dof: float
    iteration: int


def gcv_scores(matrix: Any, rhs: Any, residual_squares: float, theta: Any, free: list[int],
               n: int, residuals: int, grid: tuple[float, ...],
               xp: Any) -> tuple[list[float], list[float]]:
    """Modified GCV scores ``N RSS / (N - gamma df)^2`` (``gamma = AUTO_L2_GAMMA``, read at
    each call) and effective degrees of freedom ``df`` of the linear ridge problem
    ``min ||r - J delta||^2 + n lam ||P (theta + delta)||^2`` for each ``lam`` in ``grid``
    (``inf`` where ``gamma df >= N``).

    Parameters
    ----------
    matrix, rhs : arrays, (m, m) and (m,)
        ``J^T J`` and ``J^T r``.
    residual_squares : float
        ``||r||^2``.
    theta : array, (m,)
        The current weights.
    free : list of int
        The unknowns ``P`` leaves unpenalised; they are minimised out exactly.
    n, residuals : int
        Rows (the ridge is ``n lam``) and residuals ``N`` (rows times outputs).
    xp : namespace
    """
    free_set = set(free)
    kept = [i for i in range(matrix.shape[0]) if i not in free_set]
    at = {name: xp.asarray(idx, dtype=xp.int64, device=device(matrix))
          for name, idx in (("kept", kept), ("free", free))}
    A = xp.take(xp.take(matrix, at["kept"], axis=0), at["kept"], axis=1)
    g, t = xp.take(rhs, at["kept"]), xp.take(theta, at["kept"])
    if free:  # Schur complement: the unpenalised unknowns at their exact minimiser
        C = xp.take(xp.take(matrix, at["free"], axis=0), at["free"], axis=1)
        B = xp.take(xp.take(matrix, at["kept"], axis=0), at["free"], axis=1)
        g_free = xp.take(rhs, at["free"])
        solved = solve_regularised(C, xp.concat([B.T, g_free[:, None]], axis=1), xp)
        A = A - B @ solved[:, :-1]
        g = g - B @ solved[:, -1]
        residual_squares -= float(xp.sum(g_free * solved[:, -1]))
    eigenvalues, Q = xp.linalg.eigh((A + A.T) / 2)
    s = xp.clip(eigenvalues, min=0.0)
    gq, tq = Q.T @ g, Q.T @ t
    scores, dofs = [], []
    for lam in grid:
        denominator = s + n * lam
        dq = (gq - (n * lam) * tq) / denominator
        rss = max(residual_squares - float(xp.sum(dq * (2 * gq - s * dq))), 0.0)
        dof = float(xp.sum(s / denominator)) + len(free)
        charged = AUTO_L2_GAMMA * dof
        scores.append(residuals * rss / (residuals - charged) ** 2 if charged < residuals
                      else math.inf)
        dofs.append(dof)
    return scores, dofs


def choose_l2(problem: TrainingProblem, params: Params, iteration: int = 0) -> RidgeChoice:
    """The grid's ridge of least GCV for the Gauss-Newton model at ``params`` (two passes:
    the data gradient and the Gauss-Newton matrix of both layers, both on every row)."""
    rows, xp = problem.rows, problem.xp
    n, k = rows.n, params.V.shape[1]
    data = Evaluation.from_sums(rows.reduce(state_sums, params, problem.slope, None), params,
                                0.0, n, xp)
    system = HiddenSystem.build(rows, params, problem.slope, 0.0, data, joint=True)
    outputs = params.V if params.c is None else xp.concat([params.V, params.c[None, :]], axis=0)
    theta = xp.concat([xp.reshape(params.Wt, (-1,)), xp.reshape(outputs.T, (-1,))])
    h, dt = params.Wt.shape
    # [V; c] output by output after vec(W~): the output biases are unpenalised.
    free = [] if params.c is None else [h * dt + o * (h + 1) + h for o in range(k)]
    scores, dofs = gcv_scores(system.matrix, system.rhs[:, 0], data.loss * n, theta, free,
                              n, n * k, AUTO_L2_GRID, xp)
    # Ties (every score inf: too many unknowns for the rows) go to the larger ridge.
    best = min(range(len(scores)), key=lambda i: (scores[i], -i))
    return RidgeChoice(AUTO_L2_GRID[best], scores[best] / (n * k), dofs[best], iteration)


@dataclass
class RidgeTuner:
    """``l2="auto"``'s rounds inside the fit's loop: choose the ridge at the start, then after
    every ``AUTO_L2_STEPS`` iterations again, until a round chooses the ridge of the round
    before or ``AUTO_L2_ROUNDS`` choices were made (:attr:`settled`)."""

    choices: list[RidgeChoice] = field(default_factory=list)
    settled: bool = False

    def start(self, problem: TrainingProblem, params: Params) -> TrainingProblem:
        """The problem at the ridge chosen at the start ``params`` (output layer solved)."""
        return self._chosen(problem, params, 0)

    def after(self, iteration: int, problem: TrainingProblem,
              params: Params) -> TrainingProblem | None:
        """After ``iteration``: the problem at a newly chosen ridge, or ``None`` (no round
        due, or the same ridge chosen)."""
        if self.settled or iteration % AUTO_L2_STEPS:
            return None
        chosen = self._chosen(problem, params, iteration)
        return None if chosen.lam == problem.lam else chosen

    def _chosen(self, problem: TrainingProblem, params: Params,
                iteration: int) -> TrainingProblem:
        choice = choose_l2(problem, params, iteration)
        self.choices.append(choice)
        repeated = len(self.choices) > 1 and choice.l2 == self.choices[-2].l2
        self.settled = repeated or len(self.choices) >= AUTO_L2_ROUNDS
        return replace(problem, lam=choice.l2)
