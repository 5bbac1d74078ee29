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

``l2="auto_1se"`` scores the same linear ridge problems by their exact leave-one-out error
instead, each sample's block of ``k`` residuals left out at a time (Sherman-Morrison:
``e_(-i) = (I - H_ii)^-1 e_i`` with ``H_ii`` the ``k x k`` block of the hat matrix; one more
pass over the rows, ``O(n k m^2)``), and takes the largest ridge whose leave-one-out mean
squared error is within one standard error of the least: the one-standard-error rule of
Breiman, Friedman, Olshen and Stone (CART, 1984), glmnet's ``lambda.1se``. The classifier's
default (``docs/notes/2026-12-06-classifier-ridge.md``): a larger ridge costs squared error
on the rows classified with confidence and none of their signs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from array_api_compat import array_namespace, device

from ._model import Evaluation, Params, forward, state_sums
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
#: The string values of ``l2``: ``"auto"``, the ridge of least GCV; ``"auto_1se"``, the
#: largest ridge whose leave-one-out error is within one standard error of the least.
AUTO_L2_RULES = ("auto", "auto_1se")
#: The leave-one-out pass takes the rows a block at a time, whose hat blocks' products
#: (``rows * k^2 * m`` entries, 64 MiB in float64) fit in this many entries.
LOO_BLOCK_ENTRIES = 2**23


@dataclass(frozen=True)
class RidgeChoice:
    """One choice of ``l2="auto"`` or ``"auto_1se"``: the ridge, its score per residual in
    the units of the fitted targets (GCV, or the leave-one-out mean squared error) and its
    effective degrees of freedom, after ``iteration`` steps."""

    l2: float
    score: float
    dof: float
    iteration: int


@dataclass(frozen=True)
class ReducedRidge:
    """The linear ridge problem ``min ||r - J delta||^2 + n lam ||P (theta + delta)||^2`` with
    its unpenalised unknowns minimised out, in the eigenbasis ``Q`` (eigenvalues ``s``) of
    the reduced Gram matrix: ``gq = Q^T g``, ``tq = Q^T theta_kept``; ``kept``/``free`` the
    unknowns' indices, ``eliminated = C^-1 [B^T, g_free]`` and ``free_inverse = C^-1``
    (``C`` the free unknowns' Gram block, ``B`` the kept-free block), which centre the rows'
    Jacobian and residuals for the leave-one-out errors."""

    s: Any
    Q: Any
    gq: Any
    tq: Any
    residual_squares: float
    kept: Any
    free: Any
    eliminated: Any | None
    free_inverse: Any | None
    n: int

    @staticmethod
    def build(matrix: Any, rhs: Any, residual_squares: float, theta: Any, free: list[int],
              n: int, xp: Any) -> ReducedRidge:
        """From ``J^T J``, ``J^T r``, ``||r||^2`` and ``theta`` (sums over the rows)."""
        free_set = set(free)
        kept = [i for i in range(matrix.shape[0]) if i not in free_set]
        at = {name: xp.asarray(idx, dtype=xp.int64, device=device(matrix))
              for name, idx in (("kept", kept), ("free", free))}
        A = xp.take(xp.take(matrix, at["kept"], axis=0), at["kept"], axis=1)
        g, t = xp.take(rhs, at["kept"]), xp.take(theta, at["kept"])
        eliminated = free_inverse = None
        if free:  # Schur complement: the unpenalised unknowns at their exact minimiser
            C = xp.take(xp.take(matrix, at["free"], axis=0), at["free"], axis=1)
            B = xp.take(xp.take(matrix, at["kept"], axis=0), at["free"], axis=1)
            g_free = xp.take(rhs, at["free"])
            eye = xp.eye(len(free), dtype=C.dtype, device=device(C))
            solved = solve_regularised(C, xp.concat([B.T, g_free[:, None], eye], axis=1), xp)
            eliminated, free_inverse = solved[:, :len(kept) + 1], solved[:, len(kept) + 1:]
            A = A - B @ eliminated[:, :-1]
            g = g - B @ eliminated[:, -1]
            residual_squares -= float(xp.sum(g_free * eliminated[:, -1]))
        eigenvalues, Q = xp.linalg.eigh((A + A.T) / 2)
        return ReducedRidge(xp.clip(eigenvalues, min=0.0), Q, Q.T @ g, Q.T @ t,
                            residual_squares, at["kept"], at["free"], eliminated,
                            free_inverse, n)

    def step(self, lam: float) -> Any:
        """The kept unknowns' step in the eigenbasis, ``Q^T delta_kept``."""
        return (self.gq - (self.n * lam) * self.tq) / (self.s + self.n * lam)

    def dof(self, lam: float, xp: Any) -> float:
        """Effective degrees of freedom ``tr(H)`` (the free unknowns count one each)."""
        return float(xp.sum(self.s / (self.s + self.n * lam))) + int(self.free.shape[0])


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
    model = ReducedRidge.build(matrix, rhs, residual_squares, theta, free, n, xp)
    scores, dofs = [], []
    for lam in grid:
        dq = model.step(lam)
        rss = max(model.residual_squares - float(xp.sum(dq * (2 * model.gq - model.s * dq))),
                  0.0)
        dof = model.dof(lam, xp)
        charged = AUTO_L2_GAMMA * dof
        scores.append(residuals * rss / (residuals - charged) ** 2 if charged < residuals
                      else math.inf)
        dofs.append(dof)
    return scores, dofs


def choose_l2(problem: TrainingProblem, params: Params, iteration: int = 0,
              rule: str = "auto") -> RidgeChoice:
    """The grid's ridge for the Gauss-Newton model at ``params`` by ``rule`` (one of
    :data:`AUTO_L2_RULES`): two passes over every row, the data gradient and the
    Gauss-Newton matrix of both layers, and with ``"auto_1se"`` the leave-one-out pass."""
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
    if rule == "auto":
        scores, dofs = gcv_scores(system.matrix, system.rhs[:, 0], data.loss * n, theta, free,
                                  n, n * k, AUTO_L2_GRID, xp)
        # Ties (every score inf: too many unknowns for the rows) go to the larger ridge.
        best = min(range(len(scores)), key=lambda i: (scores[i], -i))
        return RidgeChoice(AUTO_L2_GRID[best], scores[best] / (n * k), dofs[best], iteration)
    model = ReducedRidge.build(system.matrix, system.rhs[:, 0], data.loss * n, theta, free, n,
                               xp)
    squares, fourth = rows.reduce(loo_sums, params, problem.slope, model, AUTO_L2_GRID)
    best = one_standard_error(squares, fourth, n)
    return RidgeChoice(AUTO_L2_GRID[best], float(squares[best]) / (n * k),
                       model.dof(AUTO_L2_GRID[best], xp), iteration)


def one_standard_error(squares: Any, fourth: Any, n: int) -> int:
    """The largest grid index whose leave-one-out mean squared error is within one standard
    error of the least; ``squares`` and ``fourth`` hold, per ridge, the sums over the ``n``
    samples of each sample's squared error and of its square (``inf`` where undefined)."""
    mean = [float(total) / n for total in squares]
    least = min(range(len(mean)), key=lambda i: (mean[i], -i))
    if not math.isfinite(mean[least]):
        return len(mean) - 1  # no ridge left every sample out: the largest
    spread = max(float(fourth[least]) / n - mean[least] ** 2, 0.0)
    cut = mean[least] + math.sqrt(spread / n)
    return max(i for i in range(len(mean)) if mean[i] <= cut)


def loo_sums(Xt: Any, Y: Any, params: Params, slope: float, model: ReducedRidge,
             grid: tuple[float, ...]) -> tuple[Any, Any]:
    """Over these rows, per ridge of ``grid``: the sums of each sample's squared leave-one-out
    error (over its ``k`` outputs) and of its square, ``inf`` where a sample's hat block
    leaves no room (``I - H_ii`` singular: the model interpolates it)."""
    xp = array_namespace(Xt)
    # In float64 whatever the rows' dtype (``1 - h_ii`` is a difference near 1); float32
    # rows come with their parameters narrowed (``_rows.narrowed``), ``model`` as it is.
    Xt, Y = (xp.astype(a, xp.float64, copy=False) for a in (Xt, Y))
    params = params.astype(xp.float64, xp)
    block = max(1, LOO_BLOCK_ENTRIES // (Y.shape[1] ** 2 * (int(model.s.shape[0]) + 1)))
    squares = fourth = xp.zeros(len(grid), dtype=Xt.dtype, device=device(Xt))
    for start in range(0, Xt.shape[0], block):
        stop = min(start + block, Xt.shape[0])
        errors = loo_errors(Xt[start:stop, :], Y[start:stop, :], params, slope, model, grid)
        per_sample = xp.sum(errors * errors, axis=2)  # (rows, ridges)
        squares = squares + xp.sum(per_sample, axis=0)
        fourth = fourth + xp.sum(per_sample * per_sample, axis=0)
    return squares, fourth


def loo_errors(Xt: Any, Y: Any, params: Params, slope: float, model: ReducedRidge,
               grid: tuple[float, ...]) -> Any:
    """Leave-one-out errors ``(rows, ridges, k)`` of the linearised network's ridge problem:
    each sample's ``k`` residuals when that sample's rows are left out of the problem (the
    penalty ``n lam`` held), by Sherman-Morrison, ``e_(-i) = (I - H_ii)^-1 e_i``; ``inf``
    where ``I - H_ii`` is singular to working precision."""
    xp = array_namespace(Xt)
    fw = forward(Xt, params, slope, xp)
    J = output_jacobian(Xt, params, fw, xp)  # (rows, k, m)
    kept, residuals = xp.take(J, model.kept, axis=2), Y - fw.F
    hat = xp.zeros((Xt.shape[0], Y.shape[1], Y.shape[1]), dtype=J.dtype, device=device(J))
    if model.eliminated is not None:  # the free unknowns minimised out: centre J and r
        free = xp.take(J, model.free, axis=2)
        kept = kept - free @ model.eliminated[:, :-1]
        residuals = residuals - free @ model.eliminated[:, -1]
        hat = free @ model.free_inverse @ xp.matrix_transpose(free)
    rows, k, kept_count = kept.shape
    U = xp.reshape(xp.reshape(kept, (rows * k, kept_count)) @ model.Q, (rows, k, kept_count))
    lams = xp.asarray(grid, dtype=J.dtype, device=device(J))
    weights = 1.0 / (model.s[:, None] + model.n * lams[None, :])  # (m_kept, ridges)
    steps = xp.stack([model.step(lam) for lam in grid], axis=1)
    # The full problem's residuals e_i and the hat blocks H_ii, every ridge at once.
    fitted = residuals[:, :, None] - xp.reshape(xp.reshape(U, (rows * k, kept_count)) @ steps,
                                                (rows, k, len(grid)))
    pairs = xp.reshape(U[:, :, None, :] * U[:, None, :, :], (rows * k * k, kept_count))
    hats = xp.reshape(pairs @ weights, (rows, k, k, len(grid)))
    eps = float(xp.finfo(J.dtype).eps)
    errors = []
    for g in range(len(grid)):
        leverage, basis = xp.linalg.eigh(hat + hats[..., g])
        room = 1.0 - leverage  # eigenvalues of I - H_ii, in [0, 1]
        inverse = xp.where(room > k * eps, 1.0 / xp.where(room > 0, room, 1.0), math.inf)
        along = xp.matrix_transpose(basis) @ fitted[:, :, g:g + 1]
        errors.append((basis @ (inverse[:, :, None] * along))[:, :, 0])
    return xp.stack(errors, axis=1)


def output_jacobian(Xt: Any, params: Params, fw: Any, xp: Any) -> Any:
    """The Jacobian ``(rows, k, m)`` of each row's outputs in the unknowns' order of the joint
    system: ``vec(Wt)`` (unit by unit), then ``[V; c]`` output by output."""
    rows, k = Xt.shape[0], params.V.shape[1]
    hidden = (fw.D[:, None, :] * xp.matrix_transpose(params.V)[None, :, :])[..., None] \
        * Xt[:, None, None, :]
    features = fw.H if params.c is None else xp.concat(
        [fw.H, xp.ones((rows, 1), dtype=fw.H.dtype, device=device(fw.H))], axis=1)
    eye = xp.eye(k, dtype=fw.H.dtype, device=device(fw.H))
    outputs = eye[None, :, :, None] * features[:, None, None, :]
    return xp.concat([xp.reshape(hidden, (rows, k, -1)), xp.reshape(outputs, (rows, k, -1))],
                     axis=2)


@dataclass
class RidgeTuner:
    """``l2="auto"``'s (or ``"auto_1se"``'s: ``rule``) rounds inside the fit's loop: choose the
    ridge at the start, then after every ``AUTO_L2_STEPS`` iterations again, until a round
    chooses the ridge of the round before or ``AUTO_L2_ROUNDS`` choices were made
    (:attr:`settled`)."""

    rule: str = "auto"
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
        choice = choose_l2(problem, params, iteration, self.rule)
        self.choices.append(choice)
        repeated = len(self.choices) > 1 and choice.l2 == self.choices[-2].l2
        self.settled = repeated or len(self.choices) >= AUTO_L2_ROUNDS
        return replace(problem, lam=choice.l2)
