"""Training benchmark: the analytic trainer against gradient baselines and the usual peers.

Five standardised tabular data sets (``_datasets.py``: diabetes, digits as one-hot regression,
breast cancer with a ±1 target, Friedman #1 with n = 5000, Boston housing), two widths, two
negative slopes and several seeds. For each ``(data set, seed)`` the rows are split once into
80 % training and 20 % held out. Every method starts from the same network, the start of
``relu_altmin.fit(seed=seed)``: a random hidden layer with its least-squares output layer
(``fit(..., max_iter=0).network``). The methods:

- ``altmin``: ``relu_altmin.fit`` with its defaults (100 iterations at most, the damped
  Gauss-Newton step over both layers, ``step="joint"``);
- ``altmin_damped`` and ``altmin_exact``: the same with ``step="damped"`` (damped hidden step,
  output layer held, then its exact solve) and ``step="exact"`` (the paper's plain alternation);
- ``altmin_cg`` and ``altmin_dense``: the defaults with ``solver="cg"`` (matrix-free hidden
  steps, truncated conjugate gradients, which ``"auto"`` picks above 500 unknowns) and with
  ``solver="dense"`` (the assembled system, which it picks up to 500), on every size;
- ``ours_*``: the array-API gradient baselines of :mod:`relu_altmin.baselines` (when that
  module imports), each tuned over the learning-rate grid;
- ``torch_adam_*`` and ``torch_sgd_*``: ``torch.optim.Adam`` and ``torch.optim.SGD``
  (momentum 0.9), full batch for 2000 epochs and minibatch 64 for 200 epochs, each tuned over
  the learning-rate grid (the best final training MSE is reported);
- ``torch_lbfgs``: ``torch.optim.LBFGS``, full batch, strong-Wolfe line search, history 20,
  run until it converges or hits the cap of 2000 iterations;
- ``torch_lbfgs_conv``: the same run to convergence: at most 20000 iterations, gradient and
  change tolerances 1e-12 and 1e-15, and a wall-time cap (``--lbfgs-time-cap``, 120 s) that
  stops it cleanly at the best point so far;
- ``sklearn_lbfgs``: scikit-learn's ``MLPRegressor(solver="lbfgs")`` (ReLU only, so slope 0
  only; alpha 1e-10). It cannot take a starting network: it starts from its own random init;
- ``sklearn_lbfgs_conv``: the same run to convergence (5000 iterations, 50000 evaluations,
  ``tol=0``) at every slope; for slope > 0 it is still a ReLU network (scikit-learn has no
  leaky ReLU), which the outputs mark. Its trace is its end point only;
- ``scipy_trf``: ``scipy.optimize.least_squares(method="trf")`` on the residuals ``F - Y`` with
  their analytic Jacobian (docs/design.md §2), exact trust-region solves on small problems and
  LSMR on large ones, capped in evaluations and wall time.

Everything runs in float64 on one thread (BLAS, Numba and torch) so the timings compare
methods, not parallel efficiency. ``--backend`` says where the array-API methods (``altmin``,
``ours_*``) and the torch peers run: ``numpy`` (the default; torch on the CPU), ``torch``
(PyTorch tensors, on CUDA when torch sees a GPU) or ``cupy`` (CuPy arrays on the GPU, torch
peers on CUDA); scikit-learn and SciPy always run on the CPU. Data and starting networks are
moved to the device before the clock starts. ``--methods`` picks the methods (by default all of the
above but ``altmin_damped``, ``altmin_exact``, ``altmin_cg``, ``altmin_dense`` and the two
``*_conv`` runs).
Each run records the final training MSE ``(1/n)||Y - F||_F^2``, the held-out MSE, the wall
time and a loss-versus-time trace, from which the time to reach the best peer's final
training MSE is read. The script writes ``<out>/<name>.json`` (machine, versions, date,
configuration, every run), ``<out>/<name>.md`` (median tables and the target checks) and
``<out>/<name>_<dataset>.png`` (loss versus time, first seed). ``--from-json`` rebuilds the
tables and plots from earlier JSON files (merging them).

``--lbfgs-target`` is the preset of the "converged L-BFGS" target (issue 24, "Small data"): the
five data sets plus the two held-out ones of ``_datasets.HELD_OUT`` (CPS 1988, Housing), h 16
and 64, slopes 0 and 0.1, seeds 0 1 2, methods ``altmin`` (run to convergence too:
``--altmin-max-iter 1000``; it stops earlier when a step no longer changes the network),
``torch_lbfgs_conv`` and ``sklearn_lbfgs_conv``, written to ``training_lbfgs.*`` (any option
given explicitly overrides the preset). For each cell ``(data set, h, slope)`` the better of
the two converged L-BFGS runs (lower median final training MSE) sets each seed's target loss:
its final training MSE, or ``1e-4`` times the variance of the training targets
(``mean_i ||y_i - mean(y)||^2``) when it got below that (it interpolates). An ``altmin``
variant passes on loss when its median final training MSE is at most the median target, and on
time when its median time to first reach its seed's target (never = inf) is at most the median
wall time of that L-BFGS run. The target holds when the time test passes on at least
``LBFGS_TIME_FRACTION`` (75 %) of the cells and the loss test on at least
``LBFGS_LOSS_FRACTION`` (90 %). The Markdown reports every cell and both fractions; the plots
draw the target.

Usage::

    python benchmarks/training.py --quick
    python benchmarks/training.py --quick --backend cupy --name training_quick_cupy   # GPU
    python benchmarks/training.py --lbfgs-target [--lrs ...] [--lbfgs-time-cap 120]
    python benchmarks/training.py [--datasets ...] [--hidden 16 64] [--slopes 0 0.1]
        [--seeds 0 1 2] [--lrs ...] [--baseline-lrs ...] [--out benchmarks/results]
    python benchmarks/training.py --from-json results/a.json results/b.json --name training
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.optimize
import torch
from _common import machine_info, to_numpy
from _datasets import DATASETS, HELD_OUT, Split, load
from threadpoolctl import threadpool_limits

import relu_altmin

try:
    from relu_altmin import baselines
except ImportError as exc:  # the baselines module is optional for this benchmark
    baselines = None
    BASELINES_ERROR: str | None = f"{type(exc).__name__}: {exc}"
else:
    BASELINES_ERROR = None

RESULTS = Path(__file__).parent / "results"
LEARNING_RATES = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)
FULL_EPOCHS, MINIBATCH_EPOCHS, BATCH = 2000, 200, 64
MOMENTUM = 0.9
LBFGS_MAX_ITER, LBFGS_HISTORY = 2000, 20
#: torch L-BFGS settings: the capped run and the one run to convergence (plus a time cap).
TORCH_LBFGS: dict[str, dict[str, Any]] = {
    "torch_lbfgs": {"max_iter": LBFGS_MAX_ITER, "tolerance_grad": 1e-10,
                    "tolerance_change": 1e-14},
    "torch_lbfgs_conv": {"max_iter": 20000, "tolerance_grad": 1e-12, "tolerance_change": 1e-15},
}
TRF_MAX_NFEV, TRF_EXACT_FLOPS = 300, 1e9
SKLEARN_ALPHA = 1e-10
#: MLPRegressor(solver="lbfgs") settings: the capped run and the one run to convergence.
SKLEARN_LBFGS: dict[str, dict[str, Any]] = {
    "sklearn_lbfgs": {"max_iter": LBFGS_MAX_ITER, "max_fun": int(1.25 * LBFGS_MAX_ITER),
                      "tol": 1e-12},
    "sklearn_lbfgs_conv": {"max_iter": 5000, "max_fun": 50000, "tol": 0.0},
}
SKLEARN_NO_LEAKY = "ReLU network, own init: sklearn has no leaky ReLU"
#: The altmin variants: name -> keyword arguments of ``relu_altmin.fit`` (none: its defaults).
ALTMIN_STEPS: dict[str, dict[str, str]] = {
    "altmin": {}, "altmin_damped": {"step": "damped"}, "altmin_exact": {"step": "exact"},
    "altmin_cg": {"solver": "cg"}, "altmin_dense": {"solver": "dense"},
}
#: The L-BFGS target: a run "interpolates" below this fraction of the targets' variance.
INTERPOLATION, MATCH_RTOL = 1e-4, 1e-9
#: The converged-L-BFGS target's thresholds: the fractions of cells that must pass on time and
#: on final training MSE.
LBFGS_TIME_FRACTION, LBFGS_LOSS_FRACTION = 0.75, 0.90
TRACE_POINTS = 120
#: Our baselines: name -> (method, keyword arguments, epochs).
BASELINE_METHODS: dict[str, tuple[str, dict[str, Any], int]] = {
    "ours_gd": ("gd", {}, FULL_EPOCHS),
    "ours_heavy_ball": ("heavy_ball", {"momentum": MOMENTUM}, FULL_EPOCHS),
    "ours_nesterov": ("nesterov", {"momentum": MOMENTUM}, FULL_EPOCHS),
    "ours_nesterov_schedule": ("nesterov_schedule", {}, FULL_EPOCHS),
    "ours_two_step": ("two_step", {}, FULL_EPOCHS),
    "ours_adam": ("adam", {}, FULL_EPOCHS),
    "ours_sgd_mb64": ("sgd", {"batch_size": BATCH, "momentum": MOMENTUM}, MINIBATCH_EPOCHS),
}
TORCH_METHODS = ("torch_adam_full", "torch_adam_mb64", "torch_sgd_full", "torch_sgd_mb64")
PEER_ORDER = (*ALTMIN_STEPS, *TORCH_METHODS, *TORCH_LBFGS, *SKLEARN_LBFGS, "scipy_trf",
              *BASELINE_METHODS)
#: What runs without ``--methods`` (our baselines further narrowed by ``--baselines``).
DEFAULT_METHODS = ("altmin", *TORCH_METHODS, "torch_lbfgs", "sklearn_lbfgs", "scipy_trf",
                   *BASELINE_METHODS)
LBFGS_PRESET = {
    "datasets": [*DATASETS, *HELD_OUT], "hidden": [16, 64], "slopes": [0.0, 0.1],
    "seeds": [0, 1, 2],
    "methods": ["altmin", "torch_lbfgs_conv", "sklearn_lbfgs_conv"], "altmin_max_iter": 1000,
    "name": "training_lbfgs",
}
Trace = list[tuple[float, float]]
#: Marks a time comparison between runs made on different days (``--from-json`` merges): on a
#: shared machine such a ratio mixes two machine states, and only ratios measured in one run
#: are reliable.
ACROSS_DAYS_MARK = " ‡"
ACROSS_DAYS_NOTE = ("‡ For at least one seed, {this} run and {other} run were made on different "
                    "days (`info.day` in the JSON): a ratio of times from different runs.")
BACKENDS = ("numpy", "torch", "cupy")


@dataclass(frozen=True)
class Device:
    """Where the array-API methods (``altmin``, ``ours_*``) and the torch peers run."""

    backend: str  # one of BACKENDS
    xp: Any  # the array module of the data fit and the baselines get
    torch_device: str  # "cpu" or "cuda"

    @staticmethod
    def for_backend(backend: str) -> Device:
        if backend == "numpy":
            return Device("numpy", np, "cpu")
        if backend == "torch":
            return Device("torch", torch, "cuda" if torch.cuda.is_available() else "cpu")
        import cupy

        cupy.zeros(1).sum().item()  # fails here, with the reason, when no GPU is usable
        return Device("cupy", cupy, "cuda")

    def array(self, a: np.ndarray) -> Any:
        """``a`` (float64 NumPy) on this device, in its array module."""
        if self.backend == "torch":
            return torch.from_numpy(a).to(self.torch_device)
        return self.xp.asarray(a)

    def network(self, net: relu_altmin.TwoLayerNet) -> relu_altmin.TwoLayerNet:
        """A NumPy network on this device (the same arrays for ``numpy``)."""
        def move(a: Any) -> Any:
            return None if a is None else self.array(np.asarray(a))

        return relu_altmin.TwoLayerNet(move(net.W), move(net.b), move(net.V), move(net.c),
                                       negative_slope=net.negative_slope)

    def synchronize(self) -> None:
        """Wait for the device's queued work (before reading a clock)."""
        if self.torch_device == "cuda":
            torch.cuda.synchronize()
        if self.backend == "cupy":
            self.xp.cuda.Device().synchronize()


@dataclass
class Run:
    """One method on one configuration (the best learning rate for a tuned method)."""

    dataset: str
    hidden: int
    slope: float
    seed: int
    method: str
    train_mse: float
    test_mse: float
    seconds: float
    trace: Trace
    lr: float | None = None
    lr_grid: dict[str, float] = field(default_factory=dict)
    tuning_seconds: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    time_to_best_peer: float | None = None
    time_to_best_adam: float | None = None

    def key(self) -> tuple[str, int, float]:
        return (self.dataset, self.hidden, self.slope)


# --------------------------------------------------------------------------------------------
# Shared pieces: parameters, predictions, traces.


@dataclass(frozen=True)
class Start:
    """The common starting network as 2-D float64 NumPy arrays."""

    W: np.ndarray  # h x d
    b: np.ndarray  # h
    V: np.ndarray  # h x k
    c: np.ndarray  # k
    net: relu_altmin.TwoLayerNet

    @staticmethod
    def from_fit(split: Split, hidden: int, slope: float, seed: int,
                 init: np.ndarray | None = None) -> Start:
        """``fit``'s start: hidden weights from ``seed`` (or ``init``, ``h x (d + 1)``), then
        the output layer solved exactly."""
        net = relu_altmin.fit(split.X_train, split.y_train, hidden, negative_slope=slope,
                              seed=seed, init=init, max_iter=0).network
        V = np.asarray(net.V, dtype=np.float64)
        c = np.atleast_1d(np.asarray(net.c, dtype=np.float64))
        return Start(np.array(net.W, dtype=np.float64), np.array(net.b, dtype=np.float64),
                     V.reshape(V.shape[0], -1).copy(), c.copy(), net)


def as_2d(y: np.ndarray) -> np.ndarray:
    return y[:, None] if y.ndim == 1 else y


def predict(X: np.ndarray, W: np.ndarray, b: np.ndarray, V: np.ndarray, c: np.ndarray,
            slope: float) -> np.ndarray:
    """Network output ``F`` (n x k) for 2-D ``V``."""
    with np.errstate(all="ignore"):  # a diverged run's overflow is reported as "diverged"
        Z = X @ W.T + b
        return np.where(Z > 0, Z, slope * Z) @ V + c


def mse(F: np.ndarray, Y: np.ndarray) -> float:
    """``(1/n)||Y - F||_F^2``."""
    with np.errstate(all="ignore"):
        return float(np.sum((as_2d(Y) - as_2d(F)) ** 2) / Y.shape[0])


def first_index_at(trace: Trace, target: float) -> int | None:
    """Index of the first entry of ``trace`` whose loss is at most ``target``; None if never."""
    return next((i for i, (_, loss) in enumerate(trace) if loss <= target), None)


def first_time_at(trace: Trace, target: float) -> float | None:
    """First time in ``trace`` at which the loss is at most ``target``; None if never."""
    i = first_index_at(trace, target)
    return None if i is None else trace[i][0]


def thin(trace: Trace, points: int = TRACE_POINTS) -> Trace:
    """At most ``points`` entries, log-spaced in index, keeping the first and last.

    Losses keep 11 significant digits so that times to a target read from the JSON agree with
    the live run's (the target check matches losses to a relative ``MATCH_RTOL``).
    """
    if len(trace) <= points:
        return [(float(f"{t:.4g}"), float(f"{v:.11g}")) for t, v in trace]
    idx = np.unique(np.concatenate([[0], np.geomspace(1, len(trace) - 1, points - 1)
                                    .astype(int), [len(trace) - 1]]))
    return [(float(f"{trace[i][0]:.4g}"), float(f"{trace[i][1]:.11g}")) for i in idx]


def finite_or_inf(value: float) -> float:
    return value if math.isfinite(value) else math.inf


# --------------------------------------------------------------------------------------------
# The analytic trainer and our baselines.


def run_altmin(split: Split, hidden: int, slope: float, seed: int, kwargs: dict[str, Any],
               device: Device) -> dict[str, Any]:
    """``relu_altmin.fit`` with its defaults, changed by ``kwargs`` (``step``, ``solver``,
    ``max_iter``), on ``device``."""
    X, y, X_test = (device.array(a) for a in (split.X_train, split.y_train, split.X_test))
    device.synchronize()
    t0 = time.perf_counter()
    result = relu_altmin.fit(X, y, hidden, negative_slope=slope, seed=seed, **kwargs)
    device.synchronize()
    seconds = time.perf_counter() - t0
    net = result.network
    return {"train_mse": result.loss, "test_mse": mse(to_numpy(net.predict(X_test)), split.y_test),
            "seconds": seconds, "trace": [(r.seconds, r.loss) for r in result.history],
            "info": {"step": kwargs.get("step", "default"), "solver": result.solver,
                     "iterations": result.n_iter,
                     "stop_reason": result.stop_reason,
                     "solves": sum(r.solves for r in result.history),
                     "max_residual": max(result.residuals.values())}}


def output_lipschitz(split: Split, start: Start, slope: float) -> float:
    """``1 / lambda_max([H, 1]^T [H, 1] / n)`` at the start: the output layer's exact GD step."""
    Z = split.X_train @ start.W.T + start.b
    Hb = np.column_stack([np.where(Z > 0, Z, slope * Z), np.ones(Z.shape[0])])
    return 1.0 / float(np.linalg.eigvalsh(Hb.T @ Hb / Z.shape[0])[-1])


def run_baseline(name: str, split: Split, hidden: int, slope: float, seed: int, start: Start,
                 lr: float, device: Device) -> dict[str, Any]:
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


# --------------------------------------------------------------------------------------------
# PyTorch peers.


def _torch_params(start: Start, device: Device) -> list[torch.Tensor]:
    return [torch.tensor(a, dtype=torch.float64, device=device.torch_device, requires_grad=True)
            for a in (start.W, start.b, start.V, start.c)]


def _torch_data(split: Split, device: Device) -> tuple[torch.Tensor, torch.Tensor]:
    """The training inputs and 2-D targets as tensors on the torch device."""
    return (torch.from_numpy(split.X_train).to(device.torch_device),
            torch.from_numpy(as_2d(split.y_train)).to(device.torch_device))


def _torch_forward(X: torch.Tensor, params: Sequence[torch.Tensor], slope: float) -> torch.Tensor:
    W, b, V, c = params
    return torch.nn.functional.leaky_relu(X @ W.T + b, slope) @ V + c


def _torch_result(split: Split, params: Sequence[torch.Tensor], slope: float, seconds: float,
                  trace: Trace, info: dict[str, Any]) -> dict[str, Any]:
    with torch.no_grad():
        arrays = [p.detach().cpu().numpy() for p in params]
    if not all(np.all(np.isfinite(a)) for a in arrays):
        train = test = math.inf
    else:
        train = finite_or_inf(mse(predict(split.X_train, *arrays, slope), split.y_train))
        test = finite_or_inf(mse(predict(split.X_test, *arrays, slope), split.y_test))
    return {"train_mse": train, "test_mse": test, "seconds": seconds, "trace": trace,
            "info": info}


def run_torch(name: str, split: Split, slope: float, seed: int, start: Start,
              lr: float, device: Device) -> dict[str, Any]:
    """Adam or SGD (momentum 0.9), full batch or minibatch 64, on ``mse_loss`` (mean).

    Every recorded loss is read back with ``float``, which waits for the device."""
    X, Y = _torch_data(split, device)
    n, k = Y.shape
    params = _torch_params(start, device)
    if name.startswith("torch_adam"):
        optimiser = torch.optim.Adam(params, lr=lr)
    else:
        optimiser = torch.optim.SGD(params, lr=lr, momentum=MOMENTUM)
    minibatch = name.endswith("mb64")
    epochs = MINIBATCH_EPOCHS if minibatch else FULL_EPOCHS
    generator = torch.Generator().manual_seed(seed)
    trace: Trace = []
    clock = 0.0  # training time only: the per-epoch evaluation of a minibatch run is excluded
    diverged = False
    tic = time.perf_counter()
    for _ in range(epochs):
        if minibatch:
            order = torch.randperm(n, generator=generator).to(device.torch_device)
            for first in range(0, n, BATCH):
                idx = order[first:first + BATCH]
                optimiser.zero_grad()
                loss = torch.nn.functional.mse_loss(_torch_forward(X[idx], params, slope), Y[idx])
                loss.backward()
                optimiser.step()
            clock += time.perf_counter() - tic
            with torch.no_grad():
                value = k * float(torch.nn.functional.mse_loss(_torch_forward(X, params, slope),
                                                               Y))
            trace.append((clock, value))
            tic = time.perf_counter()
        else:
            optimiser.zero_grad()
            loss = torch.nn.functional.mse_loss(_torch_forward(X, params, slope), Y)
            value = k * float(loss.detach())  # the loss at the point before this step
            trace.append((clock + time.perf_counter() - tic, value))
            loss.backward()
            optimiser.step()
        if not math.isfinite(value):
            diverged = True
            break
    device.synchronize()
    clock += time.perf_counter() - tic
    result = _torch_result(split, params, slope, clock, trace, {"epochs": epochs,
                                                                "diverged": diverged})
    if not minibatch and not diverged:
        result["trace"].append((clock, result["train_mse"]))
    return result


class _TimeUp(Exception):
    pass


def run_lbfgs(split: Split, slope: float, start: Start, device: Device,
              max_iter: int = LBFGS_MAX_ITER, tolerance_grad: float = 1e-10,
              tolerance_change: float = 1e-14, time_cap: float = math.inf) -> dict[str, Any]:
    """``torch.optim.LBFGS`` (strong Wolfe, full batch) in one ``step`` of ``max_iter``.

    The closure raises ``_TimeUp`` once ``time_cap`` seconds have passed; the run then ends at
    the best point it evaluated (a line-search trial may have left the parameters elsewhere).
    """
    X, Y = _torch_data(split, device)
    k = Y.shape[1]
    params = _torch_params(start, device)
    max_eval = int(1.25 * max_iter)
    optimiser = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, max_eval=max_eval,
                                  tolerance_grad=tolerance_grad,
                                  tolerance_change=tolerance_change, history_size=LBFGS_HISTORY,
                                  line_search_fn="strong_wolfe")
    trace: Trace = []
    best = math.inf
    best_params = [p.detach().clone() for p in params]
    t0 = time.perf_counter()

    def closure() -> torch.Tensor:
        nonlocal best
        if time.perf_counter() - t0 > time_cap:
            raise _TimeUp
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(_torch_forward(X, params, slope), Y)
        loss.backward()
        # The best point so far: line-search trials may rise.
        value = k * float(loss.detach())
        if value < best:
            best = value
            for kept, p in zip(best_params, params, strict=True):
                kept.copy_(p.detach())
        trace.append((time.perf_counter() - t0, best))
        return loss

    try:
        optimiser.step(closure)
        stop = None
    except _TimeUp:
        with torch.no_grad():
            for kept, p in zip(best_params, params, strict=True):
                p.copy_(kept)
        stop = "time cap"
    device.synchronize()
    seconds = time.perf_counter() - t0
    state = optimiser.state[optimiser._params[0]]
    iterations, evaluations = int(state.get("n_iter", 0)), int(state.get("func_evals", 0))
    if stop is None:
        stop = ("max_iter" if iterations >= max_iter else "max_eval"
                if evaluations >= max_eval else "tolerance")
    info = {"iterations": iterations, "evaluations": evaluations, "stop": stop}
    if stop == "time cap":
        info["time_cap_s"] = time_cap
    return _torch_result(split, params, slope, seconds, trace, info)


# --------------------------------------------------------------------------------------------
# scikit-learn and SciPy peers.


def run_sklearn(split: Split, hidden: int, slope: float, seed: int, max_iter: int,
                max_fun: int, tol: float, start: Start | None = None) -> dict[str, Any]:
    """``MLPRegressor(solver="lbfgs")``: a ReLU network, whatever ``slope``, from its own init
    (``start=None``) or from ``start``.

    Its trace is its end point: MLPRegressor keeps no per-iteration losses or times for L-BFGS.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    model = MLPRegressor(hidden_layer_sizes=(hidden,), activation="relu", solver="lbfgs",
                         alpha=SKLEARN_ALPHA, max_iter=max_iter, max_fun=max_fun, tol=tol,
                         random_state=seed, warm_start=start is not None)
    if start is not None:
        # warm_start continues from the weights of the last fit: one iteration creates the
        # fitted attributes, then the start replaces those weights.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.set_params(max_iter=1).fit(split.X_train, split.y_train)
        model.coefs_ = [start.W.T.copy(), start.V.copy()]
        model.intercepts_ = [start.b.copy(), start.c.copy()]
        model.set_params(max_iter=max_iter)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(split.X_train, split.y_train)
    seconds = time.perf_counter() - t0
    # scikit-learn warns with scipy's message when L-BFGS-B stops on a limit (status != 0).
    limits = [" ".join(str(w.message).splitlines()[:2]) for w in caught
              if issubclass(w.category, ConvergenceWarning)]
    train = mse(model.predict(split.X_train), split.y_train)
    info = {"iterations": int(model.n_iter_),
            "stop": limits[0] if limits else "converged (L-BFGS-B's own test)",
            "start": ("own Glorot-uniform init (MLPRegressor takes no start)" if start is None
                      else "given start (warm_start)")}
    if slope != 0.0:
        info["network"] = SKLEARN_NO_LEAKY
    return {"train_mse": train, "test_mse": mse(model.predict(split.X_test), split.y_test),
            "seconds": seconds, "trace": [(seconds, train)], "info": info}


class Residuals:
    """Residuals ``(F - Y) / sqrt(n)`` of the network and their analytic Jacobian.

    The parameters are packed as ``theta = [vec(Wt), vec(V), c]`` with ``Wt = [W, b]`` (h x
    d~), all row-major. With ``D = sigma'(Z)`` and ``H = D * Z`` (docs/design.md §2):
    ``dF[i,o]/dWt[j,a] = V[j,o] D[i,j] Xt[i,a]``, ``dF[i,o]/dV[j,p] = H[i,j] [o = p]`` and
    ``dF[i,o]/dc[p] = [o = p]``. Then ``0.5 ||r||^2`` is half the training MSE.
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, hidden: int, slope: float) -> None:
        self.Xt = np.column_stack([X, np.ones(X.shape[0])])
        self.Y = Y
        self.h, self.slope = hidden, slope
        self.n, self.k = Y.shape
        self.dt = self.Xt.shape[1]
        self.scale = 1.0 / math.sqrt(self.n)

    def pack(self, start: Start) -> np.ndarray:
        return np.concatenate([np.column_stack([start.W, start.b]).ravel(), start.V.ravel(),
                               start.c])

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        hw, hk = self.h * self.dt, self.h * self.k
        return (theta[:hw].reshape(self.h, self.dt), theta[hw:hw + hk].reshape(self.h, self.k),
                theta[hw + hk:])

    def network(self, theta: np.ndarray) -> tuple[np.ndarray, ...]:
        Wt, V, c = self.unpack(theta)
        return Wt[:, :-1], Wt[:, -1], V, c

    def _hidden(self, Wt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Z = self.Xt @ Wt.T
        D = np.where(Z > 0, 1.0, self.slope)
        return D, D * Z

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        Wt, V, c = self.unpack(theta)
        _, H = self._hidden(Wt)
        return ((H @ V + c - self.Y) * self.scale).ravel()

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        Wt, V, _ = self.unpack(theta)
        D, H = self._hidden(Wt)
        n, k, h, dt = self.n, self.k, self.h, self.dt
        JW = (V.T[None, :, :, None] * D[:, None, :, None] * self.Xt[:, None, None, :])
        JV = np.zeros((n, k, h, k))
        for o in range(k):
            JV[:, o, :, o] = H
        Jc = np.broadcast_to(np.eye(k), (n, k, k))
        J = np.concatenate([JW.reshape(n * k, h * dt), JV.reshape(n * k, h * k),
                            Jc.reshape(n * k, k)], axis=1)
        J *= self.scale
        return J


def run_trf(split: Split, hidden: int, slope: float, start: Start,
            time_cap: float) -> dict[str, Any]:
    problem = Residuals(split.X_train, as_2d(split.y_train), hidden, slope)
    theta0 = problem.pack(start)
    m, p = problem.n * problem.k, theta0.size
    exact = min(m, p) ** 2 * max(m, p) <= TRF_EXACT_FLOPS
    trace: Trace = []
    best = [math.inf, theta0]
    t0 = time.perf_counter()

    def fun(theta: np.ndarray) -> np.ndarray:
        if time.perf_counter() - t0 > time_cap:
            raise _TimeUp
        r = problem.residuals(theta)
        value = float(r @ r)  # the training MSE
        if value < best[0]:
            best[0], best[1] = value, theta.copy()
        trace.append((time.perf_counter() - t0, best[0]))
        return r

    info: dict[str, Any] = {"tr_solver": "exact" if exact else "lsmr", "jacobian_shape": [m, p]}
    try:
        result = scipy.optimize.least_squares(
            fun, theta0, jac=problem.jacobian, method="trf", ftol=1e-12, xtol=1e-12,
            gtol=1e-12, max_nfev=TRF_MAX_NFEV, tr_solver="exact" if exact else "lsmr")
        theta = result.x
        info.update(status=int(result.status), nfev=int(result.nfev),
                    njev=int(result.njev or 0))
    except _TimeUp:
        theta = best[1]
        info.update(status="time cap", time_cap_s=time_cap)
    seconds = time.perf_counter() - t0
    arrays = problem.network(theta)
    return {"train_mse": mse(predict(split.X_train, *arrays, slope), split.y_train),
            "test_mse": mse(predict(split.X_test, *arrays, slope), split.y_test),
            "seconds": seconds, "trace": trace, "info": info}


# --------------------------------------------------------------------------------------------
# The driver.


@dataclass(frozen=True)
class Plan:
    """What to run on one ``(data set, hidden, slope, seed)``."""

    methods: tuple[str, ...]
    lrs: tuple[float, ...]
    baseline_lrs: tuple[float, ...]
    trf_time_cap: float
    lbfgs_time_cap: float
    altmin_max_iter: int | None
    device: Device


def methods_for(slope: float, methods: Iterable[str]) -> tuple[str, ...]:
    """The selected methods that apply at ``slope``, in ``PEER_ORDER``.

    ``sklearn_lbfgs`` runs at slope 0 only (``sklearn_lbfgs_conv`` runs at every slope, marked),
    our baselines only when :mod:`relu_altmin.baselines` imports.
    """
    chosen = set(methods)
    return tuple(m for m in PEER_ORDER if m in chosen
                 and not (m == "sklearn_lbfgs" and slope != 0.0)
                 and not (m in BASELINE_METHODS and baselines is None))


def run_method(method: str, split: Split, hidden: int, slope: float, seed: int, start: Start,
               plan: Plan) -> Run:
    """One method, tuned over its learning-rate grid where it has one."""
    base = {"dataset": split.name, "hidden": hidden, "slope": slope, "seed": seed,
            "method": method}
    if method in ALTMIN_STEPS:
        kwargs = dict(ALTMIN_STEPS[method])
        if plan.altmin_max_iter is not None:
            kwargs["max_iter"] = plan.altmin_max_iter
        return Run(**base, **run_altmin(split, hidden, slope, seed, kwargs, plan.device))
    if method in TORCH_LBFGS:
        cap = plan.lbfgs_time_cap if method == "torch_lbfgs_conv" else math.inf
        return Run(**base, **run_lbfgs(split, slope, start, plan.device,
                                       **TORCH_LBFGS[method], time_cap=cap))
    if method in SKLEARN_LBFGS:
        return Run(**base, **run_sklearn(split, hidden, slope, seed, **SKLEARN_LBFGS[method]))
    if method == "scipy_trf":
        return Run(**base, **run_trf(split, hidden, slope, start, plan.trf_time_cap))
    runner: Callable[[float], dict[str, Any]]
    if method in TORCH_METHODS:
        grid = plan.lrs

        def runner(lr: float) -> dict[str, Any]:
            return run_torch(method, split, slope, seed, start, lr, plan.device)
    else:
        grid = plan.baseline_lrs

        def runner(lr: float) -> dict[str, Any]:
            return run_baseline(method, split, hidden, slope, seed, start, lr, plan.device)
    results = {lr: runner(lr) for lr in grid}
    best = min(grid, key=lambda lr: (results[lr]["train_mse"], lr))
    return Run(**base, **results[best], lr=best,
               lr_grid={f"{lr:g}": results[lr]["train_mse"] for lr in grid},
               tuning_seconds=sum(r["seconds"] for r in results.values()))


def annotate(runs: list[Run]) -> None:
    """Fill in each run's time to reach the best peer's (and best Adam's) final training MSE.

    The peers are all methods but the ``altmin`` variants.
    """
    groups: dict[tuple[str, int, float, int], list[Run]] = {}
    for r in runs:
        groups.setdefault((*r.key(), r.seed), []).append(r)
    for group in groups.values():
        peers = [r.train_mse for r in group if r.method not in ALTMIN_STEPS]
        adam = [r.train_mse for r in group if r.method.startswith("torch_adam")]
        target = min(peers, default=math.inf)
        adam_target = min(adam, default=math.inf)
        for r in group:
            r.time_to_best_peer = first_time_at(r.trace, target) if math.isfinite(target) \
                else None
            r.time_to_best_adam = first_time_at(r.trace, adam_target) \
                if math.isfinite(adam_target) else None


def selected_methods(args: argparse.Namespace) -> list[str]:
    """``--methods``, or the default methods with our baselines narrowed by ``--baselines``."""
    if args.methods is not None:
        return [m for m in PEER_ORDER if m in args.methods]
    return [m for m in DEFAULT_METHODS
            if m not in BASELINE_METHODS or m in args.baselines]


def _config(args: argparse.Namespace, methods: list[str], device: Device) -> dict[str, Any]:
    """The run's settings, as recorded in the outputs."""
    baseline_names = [m for m in methods if m in BASELINE_METHODS]
    return {
        "datasets": list(args.datasets), "hidden": list(args.hidden),
        "slopes": list(args.slopes), "seeds": list(args.seeds), "methods": methods,
        "learning_rates": list(args.lrs), "baseline_learning_rates": list(args.baseline_lrs),
        "baselines": baseline_names if baselines is not None else [],
        "baselines_error": BASELINES_ERROR,
        "full_batch_epochs": FULL_EPOCHS, "minibatch_epochs": MINIBATCH_EPOCHS,
        "batch_size": BATCH, "momentum": MOMENTUM, "lbfgs_max_iter": LBFGS_MAX_ITER,
        "lbfgs_history": LBFGS_HISTORY, "torch_lbfgs": TORCH_LBFGS,
        "lbfgs_time_cap_s": args.lbfgs_time_cap, "sklearn_lbfgs": SKLEARN_LBFGS,
        "altmin_max_iter": args.altmin_max_iter,
        "trf_max_nfev": TRF_MAX_NFEV, "trf_time_cap_s": args.trf_time_cap,
        "sklearn_alpha": SKLEARN_ALPHA, "threads": args.threads, "quick": args.quick,
        "backend": device.backend, "torch_device": device.torch_device,
        "preset": "lbfgs_target" if args.lbfgs_target else "quick" if args.quick else None,
        "note": args.note,
    }


def warm_up_device(split: Split, device: Device, X: Any, y: Any) -> None:
    """A few steps of our baselines and of torch on ``device`` (CUDA context, kernel
    compilation), so that no timed run pays for them."""
    if baselines is not None:
        for method in ("gd", "adam", "sgd"):
            baselines.train(X, y, 2, method=method, lr=1e-3, epochs=2, negative_slope=0.1,
                            seed=0, **({"batch_size": BATCH} if method == "sgd" else {}))
    if device.torch_device != "cpu":
        start = Start.from_fit(split, 2, 0.1, 0)
        params = _torch_params(start, device)
        optimiser = torch.optim.Adam(params)
        X_t, Y_t = _torch_data(split, device)
        for _ in range(2):
            optimiser.zero_grad()
            torch.nn.functional.mse_loss(_torch_forward(X_t, params, 0.1), Y_t).backward()
            optimiser.step()
    device.synchronize()


def run_grid(args: argparse.Namespace) -> tuple[list[Run], dict[str, Any]]:
    methods = selected_methods(args)
    device = Device.for_backend(args.backend)
    configs = [(name, seed, hidden, slope) for name in args.datasets for seed in args.seeds
               for hidden in args.hidden for slope in args.slopes]
    total = sum(len(methods_for(slope, methods)) for *_, slope in configs)
    variants = [kwargs for m, kwargs in ALTMIN_STEPS.items() if m in methods]
    if baselines is None:
        print(f"note: relu_altmin.baselines does not import ({BASELINES_ERROR}); "
              "running without our gradient baselines", flush=True)
    runs: list[Run] = []
    count = 0
    bench_start = time.perf_counter()
    day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    splits: dict[tuple[str, int], Split] = {}
    for name, seed, hidden, slope in configs:
        if (name, seed) not in splits:
            splits[(name, seed)] = load(name, seed)
            split = splits[(name, seed)]
            # Warm-up: Numba compiles the kernels (CUDA ones too) on first use; keep that out
            # of the timings (once per setting the selected altmin variants take).
            X, y = device.array(split.X_train), device.array(split.y_train)
            for kwargs in [{}, *variants]:
                relu_altmin.fit(X, y, 2, negative_slope=0.1, seed=0, max_iter=2, **kwargs)
            if device.backend != "numpy":  # a GPU's kernels compile on first use, too
                warm_up_device(split, device, X, y)
        split = splits[(name, seed)]
        Y = as_2d(split.y_train)
        variance = float(np.mean(np.sum((Y - Y.mean(0)) ** 2, axis=1)))
        start = Start.from_fit(split, hidden, slope, seed)
        plan = Plan(methods_for(slope, methods), tuple(args.lrs), tuple(args.baseline_lrs),
                    args.trf_time_cap, args.lbfgs_time_cap, args.altmin_max_iter, device)
        for method in plan.methods:
            count += 1
            run = run_method(method, split, hidden, slope, seed, start, plan)
            run.info["target_variance"] = variance  # for the L-BFGS target's interpolation test
            run.info["day"] = day  # the run's provenance, kept through --from-json merges
            runs.append(run)
            lr = f" lr {run.lr:g}" if run.lr is not None else ""
            print(f"[{count}/{total}] {name} ({split.shape}) h={hidden} slope={slope:g} "
                  f"seed={seed} {method:<22} train {run.train_mse:.5g}  held-out "
                  f"{run.test_mse:.5g}  {run.seconds:7.2f}s{lr}  "
                  f"[elapsed {time.perf_counter() - bench_start:.0f}s]", flush=True)
        if args.out is not None:  # partial results survive an interrupted run
            args.out.mkdir(parents=True, exist_ok=True)
            partial = {"benchmark": "training", "partial": True, "machine": machine_info(),
                       "config": {**_config(args, methods, device),
                                  "total_seconds": time.perf_counter() - bench_start},
                       "runs": [{**r.__dict__, "trace": thin(r.trace)} for r in runs]}
            (args.out / f"{args.name}.partial.json").write_text(
                json.dumps(partial, default=_json_default))
    config = {**_config(args, methods, device),
              "total_seconds": time.perf_counter() - bench_start}
    return runs, config


# --------------------------------------------------------------------------------------------
# Reports.


def different_days(a: Run, b: Run) -> bool:
    """Whether two runs were made on different days, so a ratio of their times mixes runs."""
    return a.info.get("day") != b.info.get("day")


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else math.nan


def best_of(group: list[Run], prefix: str) -> Run | None:
    """The run with the lowest final training MSE among methods starting with ``prefix``."""
    candidates = [r for r in group if r.method.startswith(prefix)]
    return min(candidates, key=lambda r: r.train_mse) if candidates else None


def run_of(group: list[Run], method: str) -> Run | None:
    """The run of exactly ``method`` in ``group``; None if it did not run."""
    return next((r for r in group if r.method == method), None)


def by_config(runs: list[Run]) -> dict[tuple[str, int, float], dict[int, list[Run]]]:
    out: dict[tuple[str, int, float], dict[int, list[Run]]] = {}
    for r in runs:
        out.setdefault(r.key(), {}).setdefault(r.seed, []).append(r)
    return out


def target_check(runs: list[Run]) -> dict[str, Any]:
    """The issue's target, per width and slope, from medians over seeds.

    For each ``(data set, width, slope)``: ``loss_win`` when the median final training MSE of
    ``altmin`` is below the median of the best-tuned Adam (best of full batch and minibatch
    over the learning-rate grid) and of the best-tuned SGD; ``speedup`` the median over seeds
    of (wall time of that best Adam run) / (time ``altmin`` takes to reach its final training
    MSE), 0 when it never does; ``across_days`` when, for some seed, the two runs of that
    ratio were made on different days; ``seconds_per_iteration`` the median of ``altmin``'s
    wall time over its iterations, ``budget_iterations`` the median of how many such
    iterations fit in a tenth of the best Adam run's time (what a 10x speed-up allows), and
    ``iterations_to_adam`` the median iteration at which ``altmin`` first reaches that run's
    MSE (inf = never; read from traces that keep every iteration). Each is None when no seed's
    run records what it needs. A width passes when, at every slope, at least 4 of the 5 data
    sets (all but one of those run) have ``loss_win`` and at least as many have
    ``speedup >= 10``.
    """
    cells = []
    for (name, hidden, slope), seeds in sorted(by_config(runs).items()):
        alt, adam, sgd, speed, per_iteration, budget, needed = [], [], [], [], [], [], []
        across_days = False
        for group in seeds.values():
            a = run_of(group, "altmin")
            ad, sg = best_of(group, "torch_adam"), best_of(group, "torch_sgd")
            if a is None or ad is None or sg is None:
                continue
            alt.append(a.train_mse)
            adam.append(ad.train_mse)
            sgd.append(sg.train_mse)
            t = a.time_to_best_adam
            speed.append(ad.seconds / t if t else 0.0)
            across_days |= different_days(a, ad)
            iterations = a.info.get("iterations")
            if iterations:
                per_iteration.append(a.seconds / iterations)
                budget.append(ad.seconds / 10.0 / per_iteration[-1])
            if iterations is not None and len(a.trace) == iterations + 1:  # one per iteration
                reached = first_index_at(a.trace, ad.train_mse)
                needed.append(math.inf if reached is None else reached)
        if not alt:
            continue
        cells.append({"dataset": name, "hidden": hidden, "slope": slope, "seeds": len(alt),
                      "altmin": median(alt), "adam": median(adam), "sgd": median(sgd),
                      "loss_win": median(alt) < min(median(adam), median(sgd)),
                      "speedup": median(speed), "across_days": across_days,
                      "seconds_per_iteration": median(per_iteration) if per_iteration else None,
                      "budget_iterations": median(budget) if budget else None,
                      "iterations_to_adam": median(needed) if needed else None})
    verdicts = {}
    for hidden in sorted({c["hidden"] for c in cells}):
        per_slope = {}
        for slope in sorted({c["slope"] for c in cells if c["hidden"] == hidden}):
            mine = [c for c in cells if c["hidden"] == hidden and c["slope"] == slope]
            need = max(len(mine) - 1, 1) if len(mine) < 5 else 4
            wins = sum(c["loss_win"] for c in mine)
            fast = sum(c["speedup"] >= 10 for c in mine)
            per_slope[f"{slope:g}"] = {"datasets": len(mine), "needed": need,
                                       "loss_wins": wins, "speedups_10x": fast,
                                       "pass": wins >= need and fast >= need}
        verdicts[str(hidden)] = {"per_slope": per_slope,
                                 "pass": all(v["pass"] for v in per_slope.values())}
    return {"cells": cells, "widths": verdicts}


def fmt(value: float | None, spec: str = ".4g") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "diverged"
    return format(value, spec)


def _iterations(value: float | None) -> str:
    """An iteration count of the target table: "never" for inf, "-" when not recorded."""
    return "never" if value == math.inf else fmt(value, "g")


def check_lines(check: dict[str, Any]) -> list[str]:
    lines = ["| data set | h | slope | seeds | altmin train MSE | best Adam | best SGD | "
             "altmin below both | speed-up to Adam's MSE | altmin s / iteration | "
             "iterations in Adam's time / 10 | iterations to Adam's MSE |",
             "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for c in check["cells"]:
        lines.append(f"| {c['dataset']} | {c['hidden']} | {c['slope']:g} | {c['seeds']} | "
                     f"{fmt(c['altmin'])} | {fmt(c['adam'])} | {fmt(c['sgd'])} | "
                     f"{'yes' if c['loss_win'] else '**no**'} | {fmt(c['speedup'], '.3g')}x"
                     f"{ACROSS_DAYS_MARK if c['across_days'] else ''} | "
                     f"{fmt(c['seconds_per_iteration'], '.2g')} | "
                     f"{fmt(c['budget_iterations'], '.3g')} | "
                     f"{_iterations(c['iterations_to_adam'])} |")
    lines.append("")
    if any(c["across_days"] for c in check["cells"]):
        lines += [ACROSS_DAYS_NOTE.format(this="altmin", other="the best Adam"), ""]
    for hidden, v in check["widths"].items():
        parts = [f"slope {s}: loss below Adam and SGD on {p['loss_wins']}/{p['datasets']}, "
                 f"≥10x sooner on {p['speedups_10x']}/{p['datasets']} (need {p['needed']})"
                 for s, p in v["per_slope"].items()]
        lines.append(f"- **h = {hidden}: {'PASS' if v['pass'] else 'FAIL'}** — "
                     + "; ".join(parts))
    return lines


def lbfgs_targets(seeds: dict[int, list[Run]]) -> tuple[str, dict[int, float]] | None:
    """The better converged L-BFGS of one configuration and each seed's target loss.

    Parameters
    ----------
    seeds : dict
        Seed -> the runs of one ``(data set, width, slope)``.

    Returns
    -------
    tuple or None
        The method among ``torch_lbfgs_conv`` and ``sklearn_lbfgs_conv`` with the lower median
        final training MSE, and seed -> target: that run's final training MSE, or
        ``INTERPOLATION`` times the variance of the training targets when the run got below
        it. None when neither ran.
    """
    conv = {m: {s: r for s, g in seeds.items() if (r := run_of(g, m)) is not None}
            for m in ("torch_lbfgs_conv", "sklearn_lbfgs_conv")}
    medians = {m: median(r.train_mse for r in rs.values()) for m, rs in conv.items() if rs}
    if not medians:
        return None
    best = min(medians, key=medians.__getitem__)
    return best, {s: max(r.train_mse, INTERPOLATION * r.info["target_variance"])
                  for s, r in conv[best].items()}


def lbfgs_check(runs: list[Run]) -> dict[str, Any]:
    """The converged-L-BFGS target for every ``altmin`` variant, per configuration.

    For each ``(data set, width, slope)`` and variant, over the seeds where both the variant
    and the better L-BFGS (:func:`lbfgs_targets`) ran: ``loss_pass`` when the variant's median
    final training MSE is at most the median target, ``time_pass`` when its median time to
    first reach its seed's target (inf when it never does) is at most the median wall time of
    that L-BFGS run; ``across_days`` when, for some seed, the two runs were made on different
    days. Losses match within a relative ``MATCH_RTOL``.
    """
    tol = 1.0 + MATCH_RTOL
    cells = []
    for (name, hidden, slope), seeds in sorted(by_config(runs).items()):
        found = lbfgs_targets(seeds)
        if found is None:
            continue
        best, targets = found
        cell: dict[str, Any] = {"dataset": name, "hidden": hidden, "slope": slope,
                                "best_lbfgs": best, "lbfgs": {}, "altmin": {}}
        for method in ("torch_lbfgs_conv", "sklearn_lbfgs_conv"):
            rs = [r for g in seeds.values() if (r := run_of(g, method)) is not None]
            if rs:
                cell["lbfgs"][method] = {
                    "seeds": len(rs), "train_mse": median(r.train_mse for r in rs),
                    "seconds": median(r.seconds for r in rs),
                    "time_capped": sum(r.info.get("stop") == "time cap" for r in rs),
                    "relu_only": any("network" in r.info for r in rs)}
        for variant in ALTMIN_STEPS:
            rows = [(a, run_of(seeds[s], best), t) for s, t in targets.items()
                    if (a := run_of(seeds[s], variant)) is not None]
            if not rows:
                continue
            alt = median(a.train_mse for a, _, _ in rows)
            target = median(t for _, _, t in rows)
            reach = [first_time_at(a.trace, t * tol) for a, _, t in rows]
            to_target = median(math.inf if x is None else x for x in reach)
            lbfgs_seconds = median(r.seconds for _, r, _ in rows)
            floor = sum(t > r.train_mse for _, r, t in rows)  # the L-BFGS interpolated
            across_days = any(different_days(a, r) for a, r, _ in rows)
            cell["altmin"][variant] = {
                "seeds": len(rows), "train_mse": alt, "target": target,
                "lbfgs_interpolates": floor, "lbfgs_seconds": lbfgs_seconds,
                "time_to_target": to_target, "loss_pass": alt <= target * tol,
                "time_pass": to_target <= lbfgs_seconds, "across_days": across_days}
        cells.append(cell)
    summary = {}
    for variant in ALTMIN_STEPS:
        mine = [c["altmin"][variant] for c in cells if variant in c["altmin"]]
        if mine:
            loss, time_ = sum(v["loss_pass"] for v in mine), sum(v["time_pass"] for v in mine)
            summary[variant] = {"cells": len(mine), "loss": loss, "time": time_,
                                "both": sum(v["loss_pass"] and v["time_pass"] for v in mine),
                                "floor": sum(bool(v["lbfgs_interpolates"]) for v in mine),
                                "time_target": time_ >= LBFGS_TIME_FRACTION * len(mine),
                                "loss_target": loss >= LBFGS_LOSS_FRACTION * len(mine)}
    return {"cells": cells, "summary": summary}


def lbfgs_check_lines(check: dict[str, Any]) -> list[str]:
    """One Markdown table per ``altmin`` variant, then one summary line per variant."""
    lines: list[str] = []
    relu_only = across_days = False
    for variant in check["summary"]:
        lines += [f"### {variant}", "",
                  f"| data set | h | slope | seeds | {variant} MSE | torch_lbfgs_conv MSE | s | "
                  f"sklearn_lbfgs_conv MSE | s | best L-BFGS | target | {variant} t→target | "
                  "L-BFGS s | loss | time |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---|"]
        for c in check["cells"]:
            if variant not in c["altmin"]:
                continue
            a = c["altmin"][variant]
            tl = c["lbfgs"].get("torch_lbfgs_conv", {})
            sk = c["lbfgs"].get("sklearn_lbfgs_conv", {})
            mark = " †" if sk.get("relu_only") else ""
            relu_only |= bool(mark)
            capped = f" (cap {tl['time_capped']}/{tl['seeds']})" if tl.get("time_capped") \
                else ""
            floor = f" (floor, {a['lbfgs_interpolates']}/{a['seeds']})" \
                if a["lbfgs_interpolates"] else ""
            reach = "never" if math.isinf(a["time_to_target"]) \
                else fmt(a["time_to_target"], ".3g")
            if a["across_days"]:
                reach, across_days = reach + ACROSS_DAYS_MARK, True
            lines.append(
                f"| {c['dataset']} | {c['hidden']} | {c['slope']:g} | {a['seeds']} | "
                f"{fmt(a['train_mse'])} | {fmt(tl.get('train_mse'))} | "
                f"{fmt(tl.get('seconds'), '.3g')}{capped} | {fmt(sk.get('train_mse'))}{mark} | "
                f"{fmt(sk.get('seconds'), '.3g')} | {c['best_lbfgs']} | "
                f"{fmt(a['target'])}{floor} | {reach} | {fmt(a['lbfgs_seconds'], '.3g')} | "
                f"{'PASS' if a['loss_pass'] else '**fail**'} | "
                f"{'PASS' if a['time_pass'] else '**fail**'} |")
        lines.append("")
    for variant, v in check["summary"].items():
        lines.append(f"- **{variant}: {v['both']}/{v['cells']} cells pass both** (loss "
                     f"{v['loss']}/{v['cells']}, time {v['time']}/{v['cells']})")
        n = v["cells"]
        lines.append(
            f"  - time target: median t→target ≤ L-BFGS s on {v['time']}/{n} cells "
            f"({100 * v['time'] / n:.0f} %, need ≥ {100 * LBFGS_TIME_FRACTION:g} %): "
            f"**{'PASS' if v['time_target'] else 'FAIL'}**; final-MSE target: median MSE ≤ "
            f"median target on {v['loss']}/{n} cells ({100 * v['loss'] / n:.0f} %, need ≥ "
            f"{100 * LBFGS_LOSS_FRACTION:g} %): **{'PASS' if v['loss_target'] else 'FAIL'}**"
            + (f" ({v['floor']} cell(s) use the floor)" if v.get("floor") else ""))
    if relu_only:
        lines += ["", f"† {SKLEARN_NO_LEAKY}."]
    if across_days:
        lines += ["", ACROSS_DAYS_NOTE.format(this="the altmin variant", other="the L-BFGS")]
    return lines


def settings(values: dict[str, Any]) -> str:
    """``{"max_iter": 5000, "tol": 0.0}`` as ``max_iter 5000, tol 0``."""
    return ", ".join(f"{key} {value:g}" for key, value in values.items())


def markdown(runs: list[Run], meta: dict[str, Any], name: str) -> str:
    m, cfg = meta["machine"], meta["config"]
    v = m["versions"]
    check = target_check(runs)
    conv = lbfgs_check(runs)
    lines = [
        "# Training benchmark: analytic trainer against gradient methods",
        "",
        f"Generated by `benchmarks/training.py` on {m['date']} ({m['cpu']}, {m['cores']} "
        f"cores, {cfg['threads']} thread(s) used; relu-altmin {v['relu_altmin']}, numpy "
        f"{v['numpy']}, torch {v['torch']}, scipy {v['scipy']}, scikit-learn "
        f"{v['scikit_learn']}). Data: `{name}.json`.",
        "",
        f"Configuration: data sets {', '.join(cfg['datasets'])}; h ∈ {cfg['hidden']}; "
        f"slope ∈ {cfg['slopes']}; seeds {cfg['seeds']}; "
        + (f"methods {', '.join(cfg['methods'])}; " if cfg.get("methods") else "")
        + f"torch learning rates "
        f"{cfg['learning_rates']}; our baselines: "
        + (f"{', '.join(cfg['baselines'])} over {cfg['baseline_learning_rates']}"
           if cfg["baselines"] else f"not run ({cfg['baselines_error'] or 'none selected'})")
        + f". Full batch {cfg['full_batch_epochs']} epochs, minibatch {cfg['batch_size']} for "
        f"{cfg['minibatch_epochs']} epochs, momentum {cfg['momentum']}; L-BFGS at most "
        f"{cfg['lbfgs_max_iter']} iterations; TRF at most {cfg['trf_max_nfev']} evaluations "
        f"and {cfg['trf_time_cap_s']:g} s. "
        + (f"torch_lbfgs_conv: {settings(cfg['torch_lbfgs']['torch_lbfgs_conv'])}, time "
           f"cap {cfg['lbfgs_time_cap_s']:g} s; sklearn_lbfgs_conv: "
           f"{settings(cfg['sklearn_lbfgs']['sklearn_lbfgs_conv'])}. "
           if {"torch_lbfgs_conv", "sklearn_lbfgs_conv"} & set(cfg.get("methods", [])) else "")
        + (f"altmin variants: max_iter {cfg['altmin_max_iter']}. "
           if cfg.get("altmin_max_iter") is not None else "")
        + (f"Backend {cfg['backend']}: altmin and our baselines on {cfg['backend']} arrays, "
           f"the torch peers on {cfg['torch_device']}"
           + (f" ({m['gpu']})" if m.get("gpu") else "")
           + ", scikit-learn and SciPy on the CPU. "
           if cfg.get("backend", "numpy") != "numpy" else "")
        + f"Total benchmark time {cfg['total_seconds'] / 60:.1f} min.",
    ]
    if cfg.get("note"):
        lines += ["", f"**Note:** {cfg['note']}"]
    lines += [
        "",
        "Every method starts from the same network (`fit(..., max_iter=0).network`) except "
        "`sklearn_lbfgs` and `sklearn_lbfgs_conv` (MLPRegressor takes no start; they use its "
        "own initialisation, and a ReLU network whatever the slope: `sklearn_lbfgs` runs at "
        "slope 0 only, `sklearn_lbfgs_conv` at every slope, marked †). Tuned methods report "
        "their best learning rate by final training MSE; their wall time is that one run's "
        "(\"tuning\" is the whole grid). MSE is `(1/n)‖Y - F‖²_F` on standardised targets; "
        "held-out MSE on the 20 % split.",
    ]
    if conv["cells"]:
        lines += [
            "",
            "## Target: converged L-BFGS",
            "",
            "Medians over seeds. *best L-BFGS* is the converged L-BFGS run (torch or "
            "scikit-learn) with the lower median final training MSE. A seed's *target* is its "
            f"final training MSE, or {INTERPOLATION:g} times the variance of the training targets "
            "when it got below that (*floor*, on how many seeds). *t→target* is the median "
            "time the altmin variant takes to first reach its seed's target (never = ∞), "
            "*L-BFGS s* the median wall time of the best L-BFGS on those seeds (*cap*: torch "
            "runs stopped by the time cap, not by their tolerances). *loss* passes "
            "when the variant's median MSE ≤ the median target (relative tolerance "
            f"{MATCH_RTOL:g}), *time* when t→target ≤ L-BFGS s. A cell is one (data set, h, "
            f"slope); the target holds when *time* passes on ≥ {100 * LBFGS_TIME_FRACTION:g} % "
            f"of the cells and *loss* on ≥ {100 * LBFGS_LOSS_FRACTION:g} %.",
            "",
            *lbfgs_check_lines(conv),
        ]
    if check["cells"]:
        lines += [
            "",
            "## Target check: Adam and SGD",
            "",
            "Medians over seeds. *Speed-up* = wall time of the best-tuned Adam run ÷ time the "
            "analytic trainer takes to reach that Adam run's final training MSE (0 = never). "
            "*s / iteration* = the analytic trainer's wall time over its iterations; "
            "*iterations in Adam's time / 10* = how many of them fit in a tenth of the best "
            "Adam run's time, the most a 10x speed-up leaves; *iterations to Adam's MSE* = "
            "the iteration at which it first reaches that Adam run's final training MSE.",
            "",
            *check_lines(check),
        ]
    lines += [
        "",
        "## Medians over seeds",
        "",
        "Train / held-out MSE and wall seconds; *t→best peer* is the time the method takes to "
        "reach the best final training MSE of the peers (every method but the altmin "
        "variants; - = never).",
        "",
    ]
    configs = by_config(runs)
    for dataset in dict.fromkeys(k[0] for k in configs):
        lines += [f"### {dataset}", "",
                  "| h | slope | method | train MSE | held-out MSE | seconds | t→best peer | "
                  "lr | tuning s |",
                  "|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
        for key in sorted(k for k in configs if k[0] == dataset):
            seeds = configs[key]
            methods = [mth for mth in PEER_ORDER
                       if any(r.method == mth for g in seeds.values() for r in g)]
            for method in methods:
                rs = [r for g in seeds.values() for r in g if r.method == method]
                t_best = [r.time_to_best_peer if r.time_to_best_peer is not None else math.inf
                          for r in rs]
                mt = median(t_best)
                lrs = sorted({r.lr for r in rs if r.lr is not None})
                tuning = [r.tuning_seconds for r in rs if r.tuning_seconds is not None]
                label = f"**{method}**" if method == "altmin" else method
                if any("network" in r.info for r in rs):
                    label += " †"
                lines.append(
                    f"| {key[1]} | {key[2]:g} | {label} | "
                    f"{fmt(median(r.train_mse for r in rs))} | "
                    f"{fmt(median(r.test_mse for r in rs))} | "
                    f"{fmt(median(r.seconds for r in rs), '.3g')} | "
                    f"{'-' if math.isinf(mt) else fmt(mt, '.3g')} | "
                    f"{', '.join(f'{lr:g}' for lr in lrs) or '-'} | "
                    f"{fmt(median(tuning), '.3g') if tuning else '-'} |")
        lines.append("")
    lines += ["## Plots", "",
              *(f"![{d}]({name}_{d}.png)" for d in dict.fromkeys(k[0] for k in configs)), ""]
    return "\n".join(lines)


#: Line styles by method-name prefix, the most specific first.
PLOT_STYLE = {
    "altmin_damped": {"color": "tab:brown", "lw": 1.6},
    "altmin_exact": {"color": "tab:pink", "lw": 1.6},
    "altmin_cg": {"color": "dimgray", "lw": 1.4, "ls": "--"},
    "altmin_dense": {"color": "dimgray", "lw": 1.4, "ls": ":"},
    "altmin": {"color": "black", "lw": 2.2},
    "torch_adam": {"color": "tab:blue"},
    "torch_sgd": {"color": "tab:orange"},
    "torch_lbfgs_conv": {"color": "tab:olive"},
    "torch_lbfgs": {"color": "tab:green"},
    "scipy_trf": {"color": "tab:red"},
    "sklearn_lbfgs_conv": {"color": "tab:cyan", "marker": "P", "ms": 9, "ls": "none"},
    "sklearn_lbfgs": {"color": "tab:purple", "marker": "*", "ms": 10, "ls": "none"},
    "ours_": {"color": "tab:gray", "lw": 0.8, "ls": "--"},
}


def plots(runs: list[Run], out: Path, name: str) -> list[Path]:
    """One PNG per data set: loss versus time (log-log) for the first seed, every method.

    Where the converged L-BFGS runs ran, the seed's target loss (:func:`lbfgs_targets`) is a
    dotted line.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    configs = by_config(runs)
    for dataset in dict.fromkeys(k[0] for k in configs):
        keys = sorted(k for k in configs if k[0] == dataset)
        cols = min(len(keys), 2)
        rows = math.ceil(len(keys) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
        for ax, key in zip(axes.flat, keys, strict=False):
            seed = min(configs[key])
            group = configs[key][seed]
            for method in PEER_ORDER:
                if method.startswith("torch_adam") or method.startswith("torch_sgd"):
                    best = best_of(group, method[:10])
                    if best is None or best.method != method:
                        continue  # only the better of full batch and minibatch
                rs = [r for r in group if r.method == method]
                if not rs or not rs[0].trace:
                    continue
                r = rs[0]
                style = next(v for k, v in PLOT_STYLE.items() if method.startswith(k))
                t = np.maximum([p[0] for p in r.trace], 1e-4)
                loss = np.maximum([p[1] for p in r.trace], 1e-12)
                label = method + (f" (lr {r.lr:g})" if r.lr is not None else "")
                ax.plot(t, loss, label=label, zorder=3 if method == "altmin" else 2, **style)
            found = lbfgs_targets(configs[key])
            if found is not None and seed in found[1]:
                ax.axhline(max(found[1][seed], 1e-12), color="gray", ls=":", lw=1.2,
                           label=f"target ({found[0]})")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{dataset}, h={key[1]}, slope {key[2]:g}, seed {seed}", fontsize=9)
            ax.set_xlabel("wall time (s)", fontsize=8)
            ax.set_ylabel("training MSE", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(True, which="major", alpha=0.3)
        for ax in list(axes.flat)[len(keys):]:
            ax.set_visible(False)
        handles, labels = {}, {}
        for ax in axes.flat:
            for hnd, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                base = lab.split(" (")[0]
                handles.setdefault(base, hnd)
                labels.setdefault(base, base)
        ncol = 5 if cols > 1 else 3
        legend_rows = math.ceil(len(handles) / ncol)
        fig.legend(list(handles.values()), list(labels.values()), loc="lower center",
                   ncol=ncol, fontsize=7, frameon=False)
        fig.tight_layout(rect=(0, (0.15 * legend_rows + 0.1) / (3.6 * rows), 1, 1))
        path = out / f"{name}_{dataset}.png"
        fig.savefig(path, dpi=72)
        plt.close(fig)
        written.append(path)
    return written


def write_outputs(runs: list[Run], meta: dict[str, Any], out: Path, name: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    annotate(runs)
    check, conv = target_check(runs), lbfgs_check(runs)
    report = {"benchmark": "training", **meta, "target_check": check, "lbfgs_check": conv,
              "runs": [{**r.__dict__, "trace": thin(r.trace)} for r in runs]}
    (out / f"{name}.json").write_text(json.dumps(report, indent=1, default=_json_default))
    (out / f"{name}.md").write_text(markdown(runs, meta, name))
    paths = plots(runs, out, name)
    (out / f"{name}.partial.json").unlink(missing_ok=True)
    if check["cells"]:
        print("\n".join(check_lines(check)))
    if conv["cells"]:
        print("\n".join(lbfgs_check_lines(conv)))
    print(f"wrote {out / (name + '.json')}, {out / (name + '.md')} and {len(paths)} plots")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def joined_note(*notes: str | None) -> str | None:
    """The distinct non-empty ``notes`` in order, as one sentence sequence (``None`` if none)."""
    return " ".join(dict.fromkeys(n for n in notes if n)) or None


def load_runs(paths: Sequence[Path]) -> tuple[list[Run], dict[str, Any]]:
    """Runs and metadata from earlier JSON files (the first file's metadata, merged config)."""
    runs: list[Run] = []
    meta: dict[str, Any] = {}
    for path in paths:
        report = json.loads(Path(path).read_text())
        for r in report["runs"]:
            r["trace"] = [tuple(p) for p in r["trace"]]
            # Runs written before days were recorded: the file's date (its process's).
            r["info"].setdefault("day", report["machine"]["date"][:10])
            runs.append(Run(**r))
        if not meta:
            meta = {"machine": report["machine"], "config": dict(report["config"])}
        else:
            cfg = meta["config"]
            for key in ("datasets", "hidden", "slopes", "seeds", "methods", "baselines"):
                if key in cfg or key in report["config"]:
                    cfg[key] = list(dict.fromkeys([*cfg.get(key, []),
                                                   *report["config"].get(key, [])]))
            cfg["total_seconds"] += report["config"]["total_seconds"]
            cfg["note"] = joined_note(cfg.get("note"), report["config"].get("note"))
    # Keep the last occurrence of each (config, seed, method).
    unique = {(r.dataset, r.hidden, r.slope, r.seed, r.method): r for r in runs}
    return list(unique.values()), meta


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="diabetes + breast cancer, h=16, slope 0.1, seed 0, 3 learning "
                             "rates: a few minutes on 2 cores")
    parser.add_argument("--lbfgs-target", action="store_true",
                        help="the converged L-BFGS target: the five data sets and the two "
                             "held-out ones, h 16 and 64, slopes 0 and 0.1, seeds 0 1 2, "
                             "altmin with max_iter 1000, torch_lbfgs_conv and "
                             "sklearn_lbfgs_conv, written to training_lbfgs.* (explicit "
                             "options override the preset)")
    parser.add_argument("--methods", nargs="+", choices=PEER_ORDER, default=None,
                        metavar="METHOD",
                        help=f"methods to run, of {', '.join(PEER_ORDER)} (default: all but "
                             "altmin_damped, altmin_exact, altmin_cg, altmin_dense and the "
                             "*_conv runs); "
                             "those that do not apply to a configuration are skipped")
    parser.add_argument("--datasets", nargs="+", choices=(*DATASETS, *HELD_OUT),
                        default=list(DATASETS),
                        help=f"data sets (default: {' '.join(DATASETS)}; held out: "
                             f"{' '.join(HELD_OUT)})")
    parser.add_argument("--hidden", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--slopes", type=float, nargs="+", default=[0.0, 0.1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--lrs", type=float, nargs="+", default=list(LEARNING_RATES),
                        help="learning-rate grid of the torch Adam and SGD runs")
    parser.add_argument("--baseline-lrs", type=float, nargs="+", default=list(LEARNING_RATES),
                        help="learning-rate grid of our baselines")
    parser.add_argument("--baselines", nargs="+", default=list(BASELINE_METHODS),
                        choices=[*BASELINE_METHODS, "none"],
                        help="which of our baselines to run ('none' for none)")
    parser.add_argument("--trf-time-cap", type=float, default=60.0,
                        help="wall-time cap (s) of each least_squares run")
    parser.add_argument("--lbfgs-time-cap", type=float, default=120.0,
                        help="wall-time cap (s) of each torch_lbfgs_conv run")
    parser.add_argument("--altmin-max-iter", type=int, default=None,
                        help="max_iter of the altmin variants (default: fit's, 100)")
    parser.add_argument("--backend", choices=BACKENDS, default="numpy",
                        help="where altmin and our baselines run (numpy; torch, on CUDA when "
                             "available; cupy, on the GPU) and with them the torch peers "
                             "(CPU for numpy, else CUDA when available); scikit-learn and "
                             "SciPy run on the CPU")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for BLAS, Numba and torch")
    parser.add_argument("--note", default=None, help="a sentence recorded in the outputs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default=None,
                        help="output file prefix (default training, training_quick or "
                             "training_lbfgs)")
    parser.add_argument("--from-json", type=Path, nargs="+", default=None,
                        help="rebuild the outputs from these JSON files instead of running")
    args = parser.parse_args(argv)
    if args.lbfgs_target:  # the preset's values, unless given explicitly
        parser.set_defaults(**LBFGS_PRESET)
        args = parser.parse_args(argv)
    if args.quick:
        args.datasets, args.hidden, args.slopes, args.seeds = (
            ["diabetes", "breast_cancer"], [16], [0.1], [0])
        args.lrs = args.baseline_lrs = [1e-3, 1e-2, 1e-1]
    if args.name is None:
        args.name = "training_quick" if args.quick else "training"
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.from_json:
        runs, meta = load_runs(args.from_json)
        # A note given with --from-json describes the merge.
        meta["config"]["note"] = joined_note(meta["config"].get("note"), args.note)
        write_outputs(runs, meta, args.out, args.name)
        return
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float64)
    try:
        import numba

        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    except (ImportError, ValueError):
        pass
    with threadpool_limits(limits=args.threads):
        runs, config = run_grid(args)
    meta = {"machine": machine_info(), "config": config}
    write_outputs(runs, meta, args.out, args.name)


if __name__ == "__main__":
    sys.exit(main())
