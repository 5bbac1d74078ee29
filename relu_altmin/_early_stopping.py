"""Early stopping on a validation split, scikit-learn's way (``fit(early_stopping=True)``):
the rows held out, the validation loss after every iteration, and the state of the lowest."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from array_api_compat import array_namespace, device

from ._model import Evaluation, Params
from ._problem import TrainingProblem

#: An iteration improves on the best validation loss when it lowers it by more than this
#: fraction; ``n_iter_no_change`` iterations in a row that do not stop the fit.
EARLY_STOPPING_RTOL = 1e-4


def validation_split(X: Any, y: Any, fraction: float,
                     rng: np.random.Generator) -> tuple[Any, Any, Any, Any]:
    """``(X_train, y_train, X_val, y_val)``: ``ceil(fraction * n)`` rows drawn at random from
    ``rng`` held out (at least one row is left to train on)."""
    n = X.shape[0]
    n_val = math.ceil(fraction * n)
    if n < 2 or n_val >= n:
        raise ValueError(f"early_stopping: validation_fraction={fraction} of {n} rows leaves "
                         "no row to train on")
    xp = array_namespace(X)
    order = rng.permutation(n)
    held, kept = (xp.asarray(np.sort(part), device=device(X))
                  for part in (order[:n_val], order[n_val:]))
    return (xp.take(X, kept, axis=0), xp.take(y, kept, axis=0), xp.take(X, held, axis=0),
            xp.take(y, held, axis=0))


@dataclass
class EarlyStopping:
    """Evaluates each state on the validation rows (``problem``: the same activation and,
    for a standardised fit, the same maps), keeps the state of the lowest validation MSE and
    says when ``patience`` iterations in a row have not lowered it by ``EARLY_STOPPING_RTOL``.
    """

    problem: TrainingProblem
    patience: int
    #: (validation MSE, training problem, params, evaluation) of the lowest so far.
    best: tuple[float, TrainingProblem, Params, Evaluation] | None = None
    since_best: int = 0

    def observe(self, training: TrainingProblem, params: Params, state: Evaluation) -> float:
        """The validation MSE (raw units) of ``params``, whose evaluation on ``training`` (the
        problem at the ridge the fit is at) is ``state``."""
        loss = self.problem.evaluate(params).reported_loss
        if self.best is None or loss < (1.0 - EARLY_STOPPING_RTOL) * self.best[0]:
            self.since_best = 0
        else:
            self.since_best += 1
        if self.best is None or loss < self.best[0]:
            self.best = (loss, training, params, state)
        return loss

    @property
    def exhausted(self) -> bool:
        """Whether ``patience`` iterations in a row did not improve the validation loss."""
        return self.since_best >= self.patience
