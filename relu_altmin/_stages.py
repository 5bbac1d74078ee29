"""Progressive sampling on long data (``docs/method.md``, "Long data: progressive sampling").

On many rows the first iterations need not see them all: the network they move from is far
from any fit, and a uniform sample of a few rows per unknown points the same way as the whole.
So ``fit`` starts on a sample, takes ``STAGE_ITERS`` iterations there (fewer when the sample's
stall policy says the stage is done), multiplies the sample by ``STAGE_GROWTH``, and ends on
every row: the dynamic sample sizes of Byrd, Chin, Nocedal and Wu (Math. Programming 134,
2012) and of Friedlander and Schmidt's hybrid methods (SIAM J. Sci. Comput. 34, 2012), with
the exact solves of the alternation on each sample. Each stage is a problem of its own (its
records say on how many rows), like a new ridge of ``l2="auto"``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ._problem import TrainingProblem

#: From ``STAGED_MIN_ROWS`` rows up, the fit starts on ``max(STAGE_ROWS_PER_UNKNOWN m,
#: STAGE_MIN_SAMPLE)`` rows (``m`` unknowns of both layers), then ``STAGE_GROWTH`` times as
#: many after each stage while that is at most half the rows, then all of them.
STAGED_MIN_ROWS, STAGE_MIN_SAMPLE, STAGE_ROWS_PER_UNKNOWN = 50_000, 2**14, 8
STAGE_GROWTH, STAGE_ITERS = 4, 25


def stage_sizes(n: int, unknowns: int, limit: int | None = None) -> list[int]:
    """Rows of each sampled stage for ``n`` rows and ``unknowns`` unknowns (empty: the fit
    runs on every row from the start), none above ``limit`` (streamed rows: one chunk, so
    that memory stays that of a chunk)."""
    if n < STAGED_MIN_ROWS:
        return []
    sizes = []
    size = max(STAGE_ROWS_PER_UNKNOWN * unknowns, STAGE_MIN_SAMPLE)
    while 2 * size <= n and (limit is None or size <= limit):
        sizes.append(size)
        size *= STAGE_GROWTH
    return sizes


@dataclass
class RowStages:
    """The stages of one fit: problems on fresh uniform samples of :attr:`sizes` rows of
    :attr:`full`'s rows, then :attr:`full` itself."""

    full: TrainingProblem
    sizes: list[int]
    rng: np.random.Generator
    stage: int = 0  # index into sizes; len(sizes): every row
    start: int = 0  # the iteration the current stage began after

    def first(self) -> TrainingProblem:
        """The first stage's problem."""
        return self._problem(self.full)

    def due(self, iteration: int, stalled: bool) -> bool:
        """Whether the stage ends after ``iteration`` (its iterations done, or it stalled)."""
        return self.stage < len(self.sizes) and (
            stalled or iteration - self.start >= STAGE_ITERS)

    def advance(self, iteration: int, problem: TrainingProblem) -> TrainingProblem:
        """The next stage's problem, at ``problem``'s ridge."""
        self.stage, self.start = self.stage + 1, iteration
        return self._problem(replace(self.full, lam=problem.lam))

    def _problem(self, problem: TrainingProblem) -> TrainingProblem:
        if self.stage >= len(self.sizes):
            return problem
        return replace(problem, rows=problem.rows.sample(self.sizes[self.stage], self.rng))
