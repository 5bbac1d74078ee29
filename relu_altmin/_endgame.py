"""The endgame (``docs/method.md``, "The endgame"): once the alternation stops making progress,
L-BFGS on the hidden layer of the reduced problem, from units balanced between the layers.

The reduced objective is ``L(Wt, V*(Wt))`` with ``V*`` the exact output solve: every point
the endgame evaluates has its output layer solved, as every point of the alternation has, and
the gradient there is ``L``'s gradient in ``Wt`` (``V*`` zeroes the one in ``V``). Scaling a
unit's weights by ``a > 0`` scales its features by ``a`` (the activation is positively
homogeneous) and the exact solve divides its output weights by about ``a``, so ``L`` is nearly
flat along each unit's scale. The alternation's steps hardly care where along it they are, a
gradient method's do (its step in ``Wt_j`` shrinks with the square of the scale), so the
endgame first rescales every unit to ``||Wt_j|| = ||V_j||`` (:func:`balanced`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ._model import Evaluation, Params
from ._problem import TrainingProblem
from ._steps import Outcome

#: Curvature pairs the endgame's L-BFGS keeps.
MEMORY = 20
#: The strong Wolfe conditions' constants: sufficient decrease and curvature.
WOLFE_DECREASE, WOLFE_CURVATURE = 1e-4, 0.9
#: Evaluations (each an output solve and a pass over the rows) one line search may make.
SEARCH_EVALUATIONS = 25
#: The endgame stops when ``WINDOW`` of its steps lowered the objective by less than ``RTOL``
#: of it.
WINDOW, RTOL = 20, 1e-6


def balanced(params: Params, xp: Any) -> Params:
    """``params`` with each unit's hidden weights ``Wt_j`` times ``a_j = sqrt(||V_j|| /
    ||Wt_j||)`` and its output weights ``V_j`` divided by it: the same network (the activation
    is positively homogeneous), both layers of each unit of norm ``sqrt(||Wt_j|| ||V_j||)``.
    Units with a zero (or non-finite) factor are left as they are."""
    w = xp.linalg.vector_norm(params.Wt, axis=1)
    v = xp.linalg.vector_norm(params.V, axis=1)
    live = (w > 0) & (v > 0)
    a = xp.where(live, xp.sqrt(v) / xp.sqrt(xp.where(live, w, 1.0)), 1.0)
    a = xp.where((a > 0) & (a < math.inf), a, 1.0)
    return params.replace(Wt=params.Wt * a[:, None], V=params.V / a[:, None])


def _dot(a: Any, b: Any, xp: Any) -> float:
    return float(xp.sum(a * b))


@dataclass
class LbfgsStep:
    """One L-BFGS iteration on the reduced problem per :meth:`take`: the two-loop direction
    from the last ``MEMORY`` curvature pairs (steepest descent without them), a strong Wolfe
    line search, and the pair ``(s, y)`` kept when ``s^T y > 0``. A step whose search finds
    no lower objective is retried once along the steepest descent with the pairs dropped; if
    that fails too, or ``WINDOW`` steps lowered the objective by less than ``RTOL``, the step
    does not move (the fit then stops: ``"no_progress"``)."""

    problem: TrainingProblem
    pairs: deque[tuple[Any, Any, float]] = field(default_factory=lambda: deque(maxlen=MEMORY))
    objectives: deque[float] = field(default_factory=lambda: deque(maxlen=WINDOW + 1))

    def take(self, params: Params, state: Evaluation) -> Outcome:
        xp = self.problem.xp
        self.objectives.append(state.objective)
        if (len(self.objectives) > WINDOW
                and self.objectives[0] - state.objective <= RTOL * abs(state.objective)):
            return Outcome(params, state, 0.0, 0.0, 0, 0)
        g = state.grad.Wt
        g_norm = math.sqrt(_dot(g, g, xp))
        evaluations = 0
        for direction in (self.direction(g), None):
            if direction is None:  # the quasi-Newton direction failed: steepest descent
                if not self.pairs:
                    break
                self.pairs.clear()
                direction = -g
            first = 1.0 if self.pairs or not g_norm > 0.0 else min(1.0, 1.0 / g_norm)
            found, used = self.search(params, state, direction, first)
            evaluations += used
            if found is not None:
                alpha, trial, trial_state = found
                s, y = alpha * direction, trial_state.grad.Wt - g
                sy = _dot(s, y, xp)
                if sy > 0.0:
                    self.pairs.append((s, y, 1.0 / sy))
                return Outcome(trial, trial_state, alpha, 0.0, evaluations, 0)
        return Outcome(params, state, 0.0, 0.0, evaluations, 0)

    def restart(self) -> None:
        self.pairs.clear()
        self.objectives.clear()

    def direction(self, g: Any) -> Any:
        """``-H g`` by the two-loop recursion, ``H`` the L-BFGS inverse Hessian of the kept
        pairs from ``gamma I``, ``gamma = s^T y / y^T y`` of the newest pair (``-g`` without
        pairs)."""
        xp = self.problem.xp
        q, alphas = g, []
        for s, y, rho in reversed(self.pairs):
            alpha = rho * _dot(s, q, xp)
            q = q - alpha * y
            alphas.append(alpha)
        if self.pairs:
            s, y, rho = self.pairs[-1]
            q = q * (1.0 / (rho * _dot(y, y, xp)))
        for (s, y, rho), alpha in zip(self.pairs, reversed(alphas), strict=True):
            q = q + (alpha - rho * _dot(y, q, xp)) * s
        return -q

    def at(self, params: Params, Wt: Any) -> tuple[Params, Evaluation]:
        """The reduced problem's point at hidden weights ``Wt``: output solved, evaluated (its
        pattern flips counted from ``params``)."""
        point = self.problem.output_solved(params.replace(Wt=Wt))
        return point, self.problem.evaluate(point, params.Wt)

    def search(self, params: Params, state: Evaluation, direction: Any, first: float,
               ) -> tuple[tuple[float, Params, Evaluation] | None, int]:
        """A step ``alpha`` along ``direction`` meeting the strong Wolfe conditions (Nocedal
        and Wright, Algorithms 3.5 and 3.6: bracketing by doubling from ``first``, then
        zooming by safeguarded cubic interpolation), within ``SEARCH_EVALUATIONS``
        evaluations; else the lowest evaluated point meeting the sufficient decrease, if
        any. Returns ``((alpha, point, its state) or None, evaluations)``."""
        xp = self.problem.xp
        f0, slope0 = state.objective, _dot(state.grad.Wt, direction, xp)
        if not slope0 < 0.0:
            return None, 0
        best = None
        previous = (0.0, f0, slope0)
        bracket: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None
        alpha = first
        for evaluation in range(1, SEARCH_EVALUATIONS + 1):
            point, point_state = self.at(params, params.Wt + alpha * direction)
            f, slope = point_state.objective, _dot(point_state.grad.Wt, direction, xp)
            sufficient = f <= f0 + WOLFE_DECREASE * alpha * slope0 and f < f0
            if sufficient and (best is None or f < best[2].objective):
                best = (alpha, point, point_state)
            if sufficient and abs(slope) <= -WOLFE_CURVATURE * slope0:
                return (alpha, point, point_state), evaluation
            here = (alpha, f, slope)
            if bracket is None:
                if not sufficient or f >= previous[1]:
                    bracket = (previous, here)  # (low end, other end)
                elif slope >= 0.0:
                    bracket = (here, previous)
                else:
                    previous, alpha = here, 2.0 * alpha
                    continue
            else:
                low, high = bracket
                if not sufficient or f >= low[1]:
                    bracket = (low, here)
                else:
                    bracket = (here, low if slope * (high[0] - low[0]) >= 0.0 else high)
            inside = _cubic_minimum(*bracket)
            if inside is None:  # the bracket has shrunk to rounding
                break
            alpha = inside
        return best, evaluation


def _cubic_minimum(a: tuple[float, float, float], b: tuple[float, float, float],
                   ) -> float | None:
    """The minimiser of the cubic through ``(alpha, f, slope)`` at ``a`` and ``b``, kept in
    the middle 80 % of the interval (its midpoint when the cubic has no minimum there);
    ``None`` when the interval is below rounding of its ends."""
    (a1, f1, g1), (a2, f2, g2) = a, b
    lo, hi = min(a1, a2), max(a1, a2)
    width = hi - lo
    if not width > 4 * 2.0**-52 * hi:
        return None
    d1 = g1 + g2 - 3.0 * (f1 - f2) / (a1 - a2)
    square = d1 * d1 - g1 * g2
    if square >= 0.0:
        d2 = math.copysign(math.sqrt(square), a2 - a1)
        denominator = g2 - g1 + 2.0 * d2
        if denominator != 0.0:
            alpha = a2 - (a2 - a1) * (g2 + d2 - d1) / denominator
            if lo + 0.1 * width <= alpha <= hi - 0.1 * width:
                return alpha
            if math.isfinite(alpha):
                return min(max(alpha, lo + 0.1 * width), hi - 0.1 * width)
    return lo + 0.5 * width
