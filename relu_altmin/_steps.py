"""The hidden-layer steps of the alternation, behind one interface (``docs/method.md``).

A step is an object with ``take(params, state) -> Outcome`` and ``restart()``. ``take`` moves
the hidden weights from the state ``params`` (whose pass over the rows is ``state``), solves
the output layer exactly when it is trained, and returns the new state, or the old one when
nothing lowered the objective: a step never raises it. ``restart`` forgets what the step
learnt about the loss (its damping) after a unit was re-initialised. Adding a step is a class
here and one line where ``fit`` picks it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from ._model import Evaluation, Params
from ._problem import TrainingProblem
from ._rows import Rows
from ._systems import HiddenSystem, MatrixFreeSystem, PatternSums, hidden_part

STEPS = ("joint", "damped", "exact")
#: The backtracking tries steps 1, 1/2, ..., 2**-(MAX_HALVINGS - 1), then stays put.
MAX_HALVINGS = 30
#: Levenberg-Marquardt rule for the damping ``mu`` of the damped steps: start at ``MU_INIT``;
#: after an accepted step multiply by ``MU_SHRINK`` (not below ``MU_MIN``); after a rejected
#: one multiply by the growth, ``MU_GROW`` at an iteration's first rejection and twice the
#: last growth at each further one (Nielsen's rule), and solve again.
MU_INIT, MU_SHRINK, MU_GROW, MU_MIN = 1e-3, 1.0 / 3.0, 4.0, 1e-12
#: Once ``mu`` exceeds this, the trust region has shrunk below the diagonal's scale: the
#: pattern has settled onto kinks that stop the Gauss-Newton model, and the fit switches to
#: the paper's undamped step with backtracking until the next re-initialisation
#: (docs/method.md).
MU_SWITCH = 1.0

#: Sub-sampled curvature (docs/method.md, "Sub-sampled curvature"): on ``CURVATURE_MIN_ROWS``
#: rows or more, the damped steps build their system on a fresh sample of
#: ``CURVATURE_FRACTION`` of the rows each iteration, but at least
#: ``CURVATURE_ROWS_PER_UNKNOWN`` rows per unknown; on all rows when that would be more than
#: half of them. From 2 500 to 10 000 rows the sample reached the common loss sooner on 12 of
#: 15 fits and ended lower on 11 (docs/notes/2026-12-07-curvature-min-rows.md); below 2 000
#: rows it was not measured to pay (diabetes, 442 rows, ended higher).
CURVATURE_FRACTION, CURVATURE_ROWS_PER_UNKNOWN, CURVATURE_MIN_ROWS = 0.05, 4, 2_000

#: Preconditioner reuse (docs/method.md, "Matrix-free solves"): a CG step keeps the pattern
#: sums ``T[j, j]`` of its block preconditioner and builds its next systems on them while the
#: pattern entries its accepted steps flipped since they were formed stay below
#: ``REUSE_FLIPS`` of the ``n h`` entries; then, and after a re-initialisation (``restart``),
#: it forms them again (a new ridge or row stage makes a new step). The damping diagonal, the
#: coupling ``C``, the ridge and the output block are formed afresh every time, so the system
#: solved is the same: only CG's speed depends on the kept sums. 0 turns reuse off. At 0.2 an
#: iteration cost 7-21 % less CPU than without reuse and the losses stayed within the seeds'
#: spread; at 1.0 they rose (docs/notes/2026-12-06-preconditioner-reuse.md).
REUSE_FLIPS = 0.2

#: Warm start (docs/method.md, "Matrix-free solves"): a damped CG step starts CG from
#: ``CG_WARM_START`` times its last accepted solution (Martens' Hessian-free method, whose
#: 0.95 this is); CG keeps that start only where the model is lower there than at 0. 0 starts
#: every solve from 0.
CG_WARM_START = 0.95

SystemType = type[HiddenSystem] | type[MatrixFreeSystem]


def curvature_sample(n: int, unknowns: int, limit: int | None = None) -> int | None:
    """Rows of the curvature sample for ``n`` rows and ``unknowns`` unknowns (``None``: all),
    at most ``limit`` (streamed rows: one chunk, so that memory stays that of a chunk)."""
    size = max(math.ceil(CURVATURE_FRACTION * n), CURVATURE_ROWS_PER_UNKNOWN * unknowns)
    if n < CURVATURE_MIN_ROWS or 2 * size > n:
        return None
    return size if limit is None else min(size, limit)


@dataclass(frozen=True)
class Outcome:
    """What one hidden step did (the fields of :class:`IterationRecord` it sets)."""

    params: Params
    state: Evaluation
    fraction: float  # accepted fraction of the step: 1 whole, 0 nothing accepted
    mu: float  # the damping recorded (0 for the paper's step alone)
    solves: int  # linear solves
    cg_iterations: int  # products with the system in conjugate gradients

    @property
    def flips(self) -> int:
        """Pattern entries the accepted step changed (0 when nothing was accepted)."""
        return self.state.flips if self.fraction else 0


@dataclass
class KeptSums:
    """The :class:`PatternSums` a CG step keeps for its next systems, and the pattern entries
    its accepted steps flipped since they were formed (``REUSE_FLIPS``)."""

    sums: PatternSums | None = None
    flipped: int = 0

    def usable(self, entries: int) -> PatternSums | None:
        """The kept sums while fewer than ``REUSE_FLIPS * entries`` pattern entries (of
        ``entries``, ``n h``) flipped since they were formed, else ``None``: form them again."""
        if self.sums is None or not self.flipped < REUSE_FLIPS * entries:
            return None
        return self.sums

    def keep(self, sums: PatternSums | None) -> None:
        """Keep the sums a system was built on, counting flips from zero when they are new."""
        if sums is not self.sums:
            self.sums, self.flipped = sums, 0

    def moved(self, flips: int) -> None:
        """Count the pattern entries an accepted step flipped."""
        self.flipped += flips

    def forget(self) -> None:
        """Form the sums again at the next system (a unit was re-initialised)."""
        self.sums, self.flipped = None, 0


class Step(Protocol):
    def take(self, params: Params, state: Evaluation) -> Outcome: ...

    def restart(self) -> None: ...


def updated_damping(mu: float, growth: float, accepted: bool) -> tuple[float, float]:
    """Levenberg-Marquardt's rule with Nielsen's growth: the damping after a step at ``mu``
    was accepted or not, and the factor the next rejection multiplies it by."""
    if accepted:
        return max(mu * MU_SHRINK, MU_MIN), MU_GROW
    return mu * growth, 2.0 * growth


@dataclass
class ExactStep:
    """The paper's step: the exact minimiser ``W*`` of the fixed-pattern problem, backtracked
    ``W + s (W* - W)``, ``s = 1, 1/2, ...``, to the first ``s`` that does not raise the
    objective (``s = 0``, no move, if none in ``MAX_HALVINGS``).

    With ``curvature_rows`` (a damped step that has switched to this one on long data) the
    system's matrix is built on a fresh row sample, as the damped step's is, and ``W*`` is
    the minimiser of that model; the right-hand side and the backtracking use every row."""

    problem: TrainingProblem
    system_type: SystemType
    curvature_rows: int | None = None
    rng: np.random.Generator | None = None
    #: The preconditioner's pattern sums kept across iterations (CG only; ``REUSE_FLIPS``).
    kept: KeptSums = field(default_factory=KeptSums)

    def take(self, params: Params, state: Evaluation) -> Outcome:
        problem = self.problem
        system = kept_system(self, params, state, joint=False)
        solution, work = system.solve(0.0)
        W_star = params.Wt + hidden_part(solution, system.shape, problem.xp)
        trial, fraction = backtrack(problem, params, W_star, state)
        if problem.train_output:
            trial = problem.output_solved(trial)
        trial_state = state if trial is params else problem.evaluate(trial, params.Wt)
        outcome = Outcome(trial, trial_state, fraction, 0.0, 1, work)
        self.kept.moved(outcome.flips)
        return outcome

    def restart(self) -> None:
        self.kept.forget()


@dataclass
class DampedStep:
    """A damped (Levenberg-Marquardt) step: solve the hidden system damped by ``mu`` (the
    Gauss-Newton system of both layers for ``joint``), re-solve the output layer, accept if
    the objective falls; else grow ``mu`` and solve again. Once no ``mu <= MU_SWITCH`` is
    accepted the step has *switched*: it takes :class:`ExactStep` until :meth:`restart`."""

    problem: TrainingProblem
    system_type: SystemType
    joint: bool
    #: Rows of the fresh sample the system (its curvature: products and preconditioner) is
    #: built on each iteration, drawn from ``rng``; ``None``: all rows. The right-hand side
    #: (the gradient) and the acceptance test always use all rows.
    curvature_rows: int | None = None
    rng: np.random.Generator | None = None
    mu: float = MU_INIT
    growth: float = MU_GROW
    switched: bool = False
    #: The preconditioner's pattern sums kept across iterations (CG only; ``REUSE_FLIPS``).
    kept: KeptSums = field(default_factory=KeptSums)
    #: The last accepted solution, CG's next start (``CG_WARM_START``); ``None``: from 0.
    direction: Any = None

    def take(self, params: Params, state: Evaluation) -> Outcome:
        problem = self.problem
        solves = work = 0
        start = None if self.direction is None or not CG_WARM_START else (
            CG_WARM_START * self.direction)
        if not self.switched:
            system = kept_system(self, params, state, joint=self.joint)
            while self.mu <= MU_SWITCH:
                solves += 1
                solution, iterations = system.solve(self.mu, start)
                work += iterations
                trial, lowest = self.trial(params.replace(
                    Wt=params.Wt + hidden_part(solution, system.shape, problem.xp)))
                if lowest >= state.objective:  # rejected on the output step's sums alone
                    self.mu, self.growth = updated_damping(self.mu, self.growth, accepted=False)
                    continue
                trial_state = problem.evaluate(trial, params.Wt)
                if trial_state.objective < state.objective:
                    mu = self.mu
                    self.mu, self.growth = updated_damping(mu, self.growth, accepted=True)
                    self.kept.moved(trial_state.flips)
                    self.direction = solution
                    return Outcome(trial, trial_state, 1.0, mu, solves, work)
                self.mu, self.growth = updated_damping(self.mu, self.growth, accepted=False)
            self.switched = True
        paper = ExactStep(problem, self.system_type, self.curvature_rows, self.rng,
                          self.kept).take(params, state)
        return replace(paper, mu=self.mu, solves=solves + paper.solves,
                       cg_iterations=work + paper.cg_iterations)

    def restart(self) -> None:
        self.mu, self.growth, self.switched, self.direction = MU_INIT, MU_GROW, False, None
        self.kept.forget()

    def trial(self, params: Params) -> tuple[Params, float]:
        """``params`` with the output layer solved when it is trained, and a lower bound on
        the objective there (``-inf`` when the output layer is fixed): a trial whose bound is
        not below the objective now is rejected without the pass that evaluates it."""
        problem = self.problem
        if not problem.train_output:
            return params, -math.inf
        return problem.output_solved_bounded(params)


def kept_system(step: ExactStep | DampedStep, params: Params, state: Evaluation, *,
                joint: bool) -> HiddenSystem | MatrixFreeSystem:
    """``step``'s system at ``params`` on its curvature rows, built on the pattern sums it
    keeps while they are usable; the sums it was built on are kept."""
    problem = step.problem
    system = step.system_type.build(
        system_rows(problem, step.curvature_rows, step.rng), params, problem.slope, problem.lam,
        state, joint=joint, kept=step.kept.usable(problem.rows.n * params.Wt.shape[0]))
    step.kept.keep(system.sums)
    return system


def system_rows(problem: TrainingProblem, size: int | None,
                rng: np.random.Generator | None) -> Rows:
    """The rows a step builds its system on: a fresh sample of ``size`` rows, or all."""
    if size is None or rng is None:
        return problem.rows
    return problem.rows.sample(size, rng)


def backtrack(problem: TrainingProblem, params: Params, W_star: Any,
              state: Evaluation) -> tuple[Params, float]:
    """First of ``W + s (W* - W)``, ``s = 1, 1/2, ...``, whose objective is at most
    ``state``'s, and ``s`` (``params`` and 0 if none is). Each trial costs a pass that sums
    the squared errors alone."""
    step = 1.0
    for _ in range(MAX_HALVINGS):
        Wt = W_star if step == 1.0 else params.Wt + step * (W_star - params.Wt)
        trial = params.replace(Wt=Wt)
        if problem.objective(trial) <= state.objective:
            return trial, step
        step /= 2.0
    return params, 0.0
