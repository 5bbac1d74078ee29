"""The training benchmark's settings: methods, the presets and the targets' thresholds."""

from __future__ import annotations

from harness.datasets import DATASETS, HELD_OUT
from harness.peers import PEERS
from harness.peers.ours import BASELINE_METHODS
from harness.peers.torch_optim import TORCH_METHODS

LEARNING_RATES = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
#: The L-BFGS target: a run "interpolates" below this fraction of the targets' variance.
INTERPOLATION = 1e-4
#: The converged-L-BFGS target's thresholds: the fractions of cells that must pass on time and
#: on final training MSE.
LBFGS_TIME_FRACTION, LBFGS_LOSS_FRACTION = 0.75, 0.90
PEER_ORDER = tuple(PEERS)
#: What runs without ``--methods`` (our baselines further narrowed by ``--baselines``).
DEFAULT_METHODS = ("altmin", *TORCH_METHODS, "torch_lbfgs", "sklearn_lbfgs", "scipy_trf",
                   *BASELINE_METHODS)
LBFGS_PRESET = {
    "datasets": [*DATASETS, *HELD_OUT], "hidden": [16, 64], "slopes": [0.0, 0.1],
    "seeds": [0, 1, 2],
    "methods": ["altmin", "torch_lbfgs_conv", "sklearn_lbfgs_conv"], "altmin_max_iter": 20000,
    "name": "training_lbfgs",
}
Trace = list[tuple[float, float]]
#: Marks a time comparison between runs made on different days (``--from-json`` merges): on a
#: shared machine such a ratio mixes two machine states, and only ratios measured in one run
#: are reliable.
ACROSS_DAYS_MARK = " ‡"
ACROSS_DAYS_NOTE = ("‡ For at least one seed, {this} run and {other} run were made on different "
                    "days (`info.day` in the JSON): a ratio of times from different runs.")
