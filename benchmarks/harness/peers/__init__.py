"""The registry of peers: name -> runner, one module per kind of peer.

- :mod:`.ours`: ``relu_altmin.fit`` and its variants (``altmin*``), the package's gradient
  baselines (``ours_*``);
- :mod:`.torch_optim`: ``torch.optim`` Adam and SGD (``torch_adam_*``, ``torch_sgd_*``),
  L-BFGS (``torch_lbfgs*``) and the plain Adam loops of the scale benchmarks;
- :mod:`.sklearn_mlp`: scikit-learn's ``MLPRegressor(solver="lbfgs")`` (``sklearn_lbfgs*``);
- :mod:`.scipy_trf`: SciPy's ``least_squares(method="trf")`` with the analytic Jacobian
  (``scipy_trf``);
- :mod:`.common`: what they share (the start, the device, predictions, traces).

Every runner of :data:`PEERS` takes a :class:`Case` and a learning rate (None for the peers
that take none) and returns ``{"train_mse", "test_mse", "seconds", "trace", "info"}``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..datasets import Split
from . import ours, scipy_trf, sklearn_mlp, torch_optim
from .common import Device, Start


@dataclass(frozen=True)
class Case:
    """One ``(data set, width, slope, seed)`` and the settings the runners read."""

    split: Split
    hidden: int
    slope: float
    seed: int
    start: Start
    device: Device
    altmin_max_iter: int | None = None
    lbfgs_time_cap: float = math.inf
    trf_time_cap: float = math.inf
    altmin_time_cap: float = math.inf


Runner = Callable[[Case, "float | None"], dict[str, Any]]


@dataclass(frozen=True)
class Peer:
    """A registered runner; ``grid`` names the learning-rate grid it is tuned over
    (``"torch"``, ``"baselines"``) or is None when it takes no learning rate."""

    name: str
    run: Runner
    grid: str | None = None


def _altmin(name: str) -> Runner:
    def run(case: Case, lr: float | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = dict(ours.ALTMIN_STEPS[name])
        if case.altmin_max_iter is not None:
            kwargs["max_iter"] = case.altmin_max_iter
        return ours.run_altmin(case.split, case.hidden, case.slope, case.seed, kwargs,
                               case.device, case.altmin_time_cap)
    return run


def _torch(name: str) -> Runner:
    def run(case: Case, lr: float | None) -> dict[str, Any]:
        assert lr is not None
        return torch_optim.run_torch(name, case.split, case.slope, case.seed, case.start, lr,
                                     case.device)
    return run


def _lbfgs(name: str) -> Runner:
    def run(case: Case, lr: float | None) -> dict[str, Any]:
        cap = case.lbfgs_time_cap if name == "torch_lbfgs_conv" else math.inf
        return torch_optim.run_lbfgs(case.split, case.slope, case.start, case.device,
                                     **torch_optim.TORCH_LBFGS[name], time_cap=cap)
    return run


def _sklearn(name: str) -> Runner:
    def run(case: Case, lr: float | None) -> dict[str, Any]:
        return sklearn_mlp.run_sklearn(case.split, case.hidden, case.slope, case.seed,
                                       **sklearn_mlp.SKLEARN_LBFGS[name])
    return run


def _trf(case: Case, lr: float | None) -> dict[str, Any]:
    return scipy_trf.run_trf(case.split, case.hidden, case.slope, case.start, case.trf_time_cap)


def _baseline(name: str) -> Runner:
    def run(case: Case, lr: float | None) -> dict[str, Any]:
        assert lr is not None
        return ours.run_baseline(name, case.split, case.hidden, case.slope, case.seed,
                                 case.start, lr, case.device)
    return run


#: Every peer, in the order the reports list them.
PEERS: dict[str, Peer] = {
    **{m: Peer(m, _altmin(m)) for m in ours.ALTMIN_STEPS},
    **{m: Peer(m, _torch(m), "torch") for m in torch_optim.TORCH_METHODS},
    **{m: Peer(m, _lbfgs(m)) for m in torch_optim.TORCH_LBFGS},
    **{m: Peer(m, _sklearn(m)) for m in sklearn_mlp.SKLEARN_LBFGS},
    "scipy_trf": Peer("scipy_trf", _trf),
    **{m: Peer(m, _baseline(m), "baselines") for m in ours.BASELINE_METHODS},
}
