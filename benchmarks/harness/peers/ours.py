"""The package's own trainers as peers: ``relu_altmin.fit`` (its variants) and the gradient
baselines of :mod:`relu_altmin.baselines` (when that module imports)."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

import relu_altmin

from ..datasets import Split
from . import common as budget
from .common import Device, Start, finite_or_inf, mse, to_numpy

try:
    from relu_altmin import baselines
except ImportError as exc:  # the baselines module is optional for the benchmarks
    baselines = None
    BASELINES_ERROR: str | None = f"{type(exc).__name__}: {exc}"
else:
    BASELINES_ERROR = None

#: ``fit``'s keyword for the plain alternation, which stops at its first stall (no unit is
#: re-initialised): what escapes.py and starts.py study, and measured their results with.
PLAIN = {"reinit": False}
#: The altmin variants: name -> keyword arguments of ``relu_altmin.fit`` (none: its defaults).
#: ``altmin_all_rows`` builds every hidden system on all rows (no sampled curvature, which the
#: defaults use from ``CURVATURE_MIN_ROWS`` rows up); ``altmin_no_endgame`` never hands over
#: to the endgame (L-BFGS on the reduced problem).
ALTMIN_STEPS: dict[str, dict[str, Any]] = {
    "altmin": {}, "altmin_damped": {"step": "damped"}, "altmin_exact": {"step": "exact"},
    "altmin_cg": {"solver": "cg"}, "altmin_dense": {"solver": "dense"},
    "altmin_all_rows": {"curvature_rows": 10**12}, "altmin_no_endgame": {"endgame": False},
}
#: Our baselines: name -> (method, keyword arguments, epochs).
BASELINE_METHODS: dict[str, tuple[str, dict[str, Any], int]] = {
    "ours_gd": ("gd", {}, budget.FULL_EPOCHS),
    "ours_heavy_ball": ("heavy_ball", {"momentum": budget.MOMENTUM}, budget.FULL_EPOCHS),
    "ours_nesterov": ("nesterov", {"momentum": budget.MOMENTUM}, budget.FULL_EPOCHS),
    "ours_nesterov_schedule": ("nesterov_schedule", {}, budget.FULL_EPOCHS),
    "ours_two_step": ("two_step", {}, budget.FULL_EPOCHS),
    "ours_adam": ("adam", {}, budget.FULL_EPOCHS),
    "ours_sgd_mb64": ("sgd", {"batch_size": budget.BATCH, "momentum": budget.MOMENTUM},
                      budget.MINIBATCH_EPOCHS),
}


def run_altmin(split: Split, hidden: int, slope: float, seed: int, kwargs: dict[str, Any],
               device: Device, time_cap: float = math.inf) -> dict[str, Any]:
    """``relu_altmin.fit`` with its defaults, changed by ``kwargs`` (``step``, ``solver``,
    ``max_iter``), on ``device``; stopped by its ``callback`` once an iteration ends after
    ``time_cap`` seconds (it returns its best network so far; ``info["stop"]`` says so)."""
    X, y, X_test = (device.array(a) for a in (split.X_train, split.y_train, split.X_test))
    device.synchronize()
    t0 = time.perf_counter()
    result = relu_altmin.fit(X, y, hidden, negative_slope=slope, seed=seed,
                             callback=lambda record, net: record.seconds > time_cap, **kwargs)
    device.synchronize()
    seconds = time.perf_counter() - t0
    net = result.network
    capped = {"stop": "time cap", "time_cap_s": time_cap} if result.stop_reason == "callback" \
        else {}
    return {"train_mse": result.loss, "test_mse": mse(to_numpy(net.predict(X_test)), split.y_test),
            "seconds": seconds, "trace": [(r.seconds, r.loss) for r in result.history],
            "info": {"step": kwargs.get("step", "default"), "solver": result.solver,
                     "iterations": result.n_iter,
                     "stop_reason": result.stop_reason, **capped,
                     "solves": sum(r.solves for r in result.history),
                     "max_residual": max(result.residuals.values())}}


def output_lipschitz(split: Split, start: Start, slope: float) -> float:
    """``1 / lambda_max([H, 1]^T [H, 1] / n)`` at the start: the output layer's exact GD step."""
    Z = split.X_train @ start.W.T + start.b
    Hb = np.column_stack([np.where(Z > 0, Z, slope * Z), np.ones(Z.shape[0])])
    return 1.0 / float(np.linalg.eigvalsh(Hb.T @ Hb / Z.shape[0])[-1])


def run_baseline(name: str, split: Split, hidden: int, slope: float, seed: int, start: Start,
                 lr: float, device: Device) -> dict[str, Any]:
    """One of :data:`BASELINE_METHODS` at learning rate ``lr`` from ``start``, on ``device``."""
    method, kwargs, epochs = BASELINE_METHODS[name]
    kwargs = dict(kwargs)
    if method == "two_step":
        kwargs.update(lr_hidden=lr, lr_output=output_lipschitz(split, start, slope))
    X, y, X_test = (device.array(a) for a in (split.X_train, split.y_train, split.X_test))
    init = device.network(start.net)
    device.synchronize()
    t0 = time.perf_counter()
    with np.errstate(all="ignore"):
        result = baselines.train(X, y, hidden, method=method, lr=lr, epochs=epochs,
                                 negative_slope=slope, init=init, seed=seed, **kwargs)
    device.synchronize()
    seconds = time.perf_counter() - t0
    diverged = result.stop_reason == "diverged"
    train = math.inf if diverged else finite_or_inf(result.loss)
    test = math.inf if diverged else finite_or_inf(mse(to_numpy(result.network.predict(X_test)),
                                                        split.y_test))
    return {"train_mse": train, "test_mse": test, "seconds": seconds,
            "trace": [(r.seconds, r.loss) for r in result.history],
            "info": {"epochs": result.n_iter, "stop_reason": result.stop_reason,
                     **({"lr_output": kwargs["lr_output"]} if method == "two_step" else {})}}
