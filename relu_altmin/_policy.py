"""When a fit goes on, re-initialises a unit, or stops (``docs/method.md``, "Re-initialising
units" and "Residuals and stopping")."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from array_api_compat import device

from ._model import Evaluation, Params, sum_squares
from ._problem import TrainingProblem
from ._systems import output_sums

#: A *stall* is ``REINIT_WINDOW`` iterations that lower the objective by less than
#: ``REINIT_RTOL`` (relative), or an iteration that moves no parameter. With re-initialisation
#: the unit of the best network so far that contributes least is then redrawn and the fit
#: goes on; it stops (``"no_progress"``) after ``REINIT_PATIENCE`` stalls in a row that do not
#: lower the best objective by ``REINIT_RTOL``.
REINIT_WINDOW, REINIT_RTOL, REINIT_PATIENCE = 20, 1e-3, 5
#: What :meth:`StallPolicy.observe` says besides a stop reason.
CONTINUE, REINITIALISE = "continue", "reinitialise"


class _Record(Protocol):
    """The fields of an iteration record the policy reads."""

    @property
    def objective(self) -> float: ...

    @property
    def grad_norm_W(self) -> float: ...

    @property
    def grad_norm_V(self) -> float: ...


@dataclass
class StallPolicy:
    """Reads each iteration and says go on (``CONTINUE``), redraw a unit of :attr:`best`
    (``REINITIALISE``), or stop (``"critical_point"`` or ``"no_progress"``).

    ``reinit=False`` is the plain alternation: it stops at its first fixed point.
    """

    reinit: bool
    tol: float
    #: The nonsmooth hidden-layer residual of a state (``critical_point_residuals(...,
    #: nonsmooth=True)``'s largest of ``W`` and ``b``), asked at fixed points that are not
    #: critical in the ordinary sense; ``None`` when it cannot be had (streamed rows).
    certify: Callable[[Params], float] | None = None
    #: Iterations that lower the objective by less than this over ``REINIT_WINDOW`` are a
    #: stall; 0: only a fixed point is (for steps that stop by a test of their own).
    window_rtol: float = REINIT_RTOL
    best: tuple[Params, Evaluation] | None = None  # lowest objective at a stall so far
    round_start: int = 0  # first record since the last re-initialisation
    stalls: int = 0  # stalls in a row that did not lower the best objective by REINIT_RTOL

    def observe(self, history: Sequence[_Record], previous: Params, params: Params,
                state: Evaluation, xp: Any) -> str:
        """The decision after the iteration that moved ``previous`` to ``params`` (its
        evaluation ``state``, its record ``history[-1]``)."""
        record = history[-1]
        best = self.best
        critical = max(record.grad_norm_W, record.grad_norm_V) <= self.tol
        fixed_point = critical or unchanged(previous, params, xp)
        if (not critical and fixed_point and self.certify is not None
                and record.grad_norm_V <= self.tol):  # a kink: Clarke-stationary?
            critical = self.certify(params) <= self.tol
        if critical and (best is None or state.objective <= best[1].objective):
            return "critical_point"
        # A critical point above the best network so far is a stall like a fixed point.
        if not self.reinit:
            return "no_progress" if fixed_point else CONTINUE
        if not fixed_point and (len(history) - self.round_start <= REINIT_WINDOW
                                or state.objective < (1.0 - self.window_rtol)
                                * history[-1 - REINIT_WINDOW].objective):
            return CONTINUE
        # A stall: keep the better of this state and the best so far.
        if best is None or state.objective < (1.0 - REINIT_RTOL) * best[1].objective:
            self.stalls = 0
        else:
            self.stalls += 1
        if best is None or state.objective < best[1].objective:
            self.best = (params, state)
        if self.stalls >= REINIT_PATIENCE:
            return "no_progress"
        self.round_start = len(history)
        return REINITIALISE

    def final(self, params: Params, state: Evaluation) -> tuple[Params, Evaluation]:
        """The state to return: the best one seen, ``(params, state)`` unless a stall's was
        lower."""
        if self.best is not None and self.best[1].objective < state.objective:
            return self.best
        return params, state


def unchanged(before: Params, after: Params, xp: Any) -> bool:
    """Whether an iteration moved no parameter by more than rounding (``4 eps`` relative): a
    fixed point."""
    rtol = 4 * float(xp.finfo(xp.float64).eps)
    for a, b in ((before.Wt, after.Wt), (before.V, after.V), (before.c, after.c)):
        if a is not None and float(sum_squares(b - a, xp)) > rtol**2 * float(sum_squares(a, xp)):
            return False
    return True


def redraw_unit(problem: TrainingProblem, params: Params,
                rng: np.random.Generator, d: int) -> tuple[Params, int]:
    """``params`` with the unit ``j`` of least ``||V_j|| ||H[:, j]||`` given hidden weights
    drawn like the default start's (``N(0, 1/d)``), then the exact output solve; and ``j``."""
    xp = problem.xp
    h, dt = params.Wt.shape
    gram, _ = problem.rows.reduce(output_sums, params, problem.slope)
    column_squares = xp.linalg.diagonal(gram)[:h]  # ||H[:, j]||^2
    # norms, not their squares: a product of squares of ~1e-150 and ~1e-144 underflows to 0
    j = int(xp.argmin(xp.sqrt(column_squares) * xp.linalg.vector_norm(params.V, axis=1)))
    drawn = xp.asarray(rng.standard_normal(dt) / math.sqrt(d), dtype=params.Wt.dtype,
                       device=device(params.Wt))
    redrawn = xp.arange(h, device=device(params.Wt)) == j
    Wt = xp.where(redrawn[:, None], drawn[None, :], params.Wt)
    return problem.output_solved(params.replace(Wt=Wt)), j
