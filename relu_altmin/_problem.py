"""The training problem a fit works on: its rows, activation, ridge and whether the output
layer is trained; and the passes over the rows that every step makes (``docs/method.md``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._certificate import nonsmooth_ratios
from ._model import (
    Evaluation,
    Params,
    loss_sums,
    objective_from,
    residual_ratios,
    state_sums,
)
from ._rows import Rows
from ._systems import output_solve, output_sums


@dataclass(frozen=True)
class TrainingProblem:
    """Rows, negative slope, ridge ``lam`` and ``train_output`` of one fit; ``loss_weights``
    (``y_scale^2`` per output, for a standardised fit) makes every evaluation also report
    the training MSE in raw units (``Evaluation.raw_loss``)."""

    rows: Rows
    slope: float
    lam: float
    train_output: bool
    loss_weights: Any | None = None

    @property
    def xp(self) -> Any:
        return self.rows.xp

    def evaluate(self, params: Params, previous: Any | None = None) -> Evaluation:
        """One pass over the rows at ``params``: loss, objective, gradients, and the pattern
        entries flipped since the hidden weights ``previous``."""
        rows = self.rows
        extra = () if self.loss_weights is None else (self.loss_weights,)
        return Evaluation.from_sums(rows.reduce(state_sums, params, self.slope, previous,
                                                *extra),
                                    params, self.lam, rows.n, rows.xp)

    def objective(self, params: Params) -> float:
        """The objective at ``params`` from one pass that sums the squared errors alone (no
        gradient): equal to :meth:`evaluate`'s ``objective`` to the last bit."""
        rows = self.rows
        (sse,) = rows.reduce(loss_sums, params, self.slope)
        return objective_from(float(sse) / rows.n, params, self.lam, rows.xp)

    def output_solved(self, params: Params) -> Params:
        """``params`` with the exact output solve (one pass over the rows)."""
        return self.output_solved_bounded(params)[0]

    def output_solved_bounded(self, params: Params) -> tuple[Params, float]:
        """``params`` with the exact output solve, and a lower bound on its objective from the
        output step's sums alone (no second pass): ``||Y - Hb t||^2 = Y^T Y - 2 t^T Hb^T Y +
        t^T Hb^T Hb t``, less the worst-case rounding of those sums over ``n`` rows,
        ``n eps (||Y|| + sum_j |t_j| ||Hb[:, j]||)^2`` per output (each summed term bounded by
        Cauchy-Schwarz), twice over (the evaluation it stands in for rounds too)."""
        rows, xp = self.rows, self.xp
        gram, rhs = rows.reduce(output_sums, params, self.slope)
        V, c = output_solve((gram, rhs), rows.n, self.lam, params.Wt.shape[0], params.bias, xp)
        solved = params.replace(V=V, c=c)
        theta = V if c is None else xp.concat([V, c[None, :]], axis=0)
        y_squares = rows.stats.y_squares
        sse = y_squares - float(xp.sum(theta * (2 * rhs - gram @ theta)))
        column_norms = xp.sqrt(xp.clip(xp.linalg.diagonal(gram), min=0.0))
        scale = y_squares**0.5 + float(xp.sum(xp.abs(theta) * column_norms[:, None]))
        rounding = 2 * rows.n * float(xp.finfo(rows.work).eps) * scale**2
        return solved, objective_from((sse - rounding) / rows.n, solved, self.lam, xp)

    def trained_output(self, params: Params) -> Params:
        """``params`` with the output layer solved when the output layer is trained."""
        return self.output_solved(params) if self.train_output else params

    def nonsmooth_residual(self, params: Params) -> float:
        """The largest nonsmooth hidden-layer residual (``W``, ``b``) at ``params``: the
        certificate of :func:`critical_point_residuals` with ``nonsmooth=True`` (one more
        pass; rows held in memory only). float32 rows are read in float64, their ties
        judged at float32's rounding (the pre-activations the fit's patterns came from)."""
        xp, chunks = self.xp, self.rows.in_memory()
        if chunks is None:
            raise ValueError("the nonsmooth certificate needs the rows in memory")
        Xt, Y = (xp.astype(xp.concat([chunk[i] for chunk in chunks]) if len(chunks) > 1
                           else chunks[0][i], xp.float64, copy=False) for i in (0, 1))
        ratios = nonsmooth_ratios(Xt, Y, params, self.slope, self.lam, xp,
                                  eps=float(xp.finfo(self.rows.work).eps))
        return max(ratios["W"], ratios.get("b", 0.0))

    def residuals(self, params: Params, state: Evaluation) -> dict[str, float]:
        """:func:`critical_point_residuals` of the state evaluated as ``state``."""
        rows = self.rows
        return residual_ratios(state.grad, params, self.lam, rows.n,
                               math.sqrt(rows.stats.x_squares), math.sqrt(rows.stats.y_squares),
                               state.h_norm, rows.xp)
