"""The generalisation benchmark's settings: configurations, data sets, peers and target."""

from __future__ import annotations

from typing import Any

from harness.datasets import DATASETS, HELD_OUT
from harness.peers.sklearn_mlp import MLP_REGRESSORS

#: The estimator configurations: keyword arguments of ``AnalyticReLU*`` beyond ``hidden`` and
#: ``random_state``. ``default`` is the estimator's defaults, whatever they are.
CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "auto": {"l2": "auto"},
    "l2_none": {"l2": None},
    "early_stopping": {"early_stopping": True},
    "auto+es": {"l2": "auto", "early_stopping": True},
}
#: The data sets of the regression part (every one of ``harness.datasets``) and of the classifier's.
REGRESSION = (*DATASETS, *HELD_OUT)
CLASSIFICATION = ("breast_cancer", "digits", "wine")
#: GridSearchCV's ridges and folds.
GRID = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
GRID_FOLDS = 3
CV_FOLDS = 5
#: Peers of the regression and classification parts (besides the configs).
MLPS = tuple(MLP_REGRESSORS)
GRID_SEARCH = "grid_search"
MLP_CLASSIFIER = "mlp"
#: A regression cell passes when its ratio is at most ``ratio``, the time target when the
#: default fit takes less than ``time`` of GridSearchCV's; both on ``fraction`` of the cells.
TARGET = {"ratio": 1.05, "time": 0.25, "fraction": 0.75}
