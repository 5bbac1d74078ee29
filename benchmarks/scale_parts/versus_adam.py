"""``benchmarks/scale.py --versus-adam``: ``fit`` against minibatch Adam at equal wall time
(project issue 24), on data in memory.

Every run is one method on one cell ``(n, h)`` for one wall-time budget, in its own
single-threaded process (started by ``scale.py``, which draws the data):

* ``fit`` with its defaults (``curvature_rows=None``: the damped steps build their
  Gauss-Newton system on a fresh row sample on >= 20 000 rows) and ``fit_all_rows``
  (``curvature_rows=10**12``: every row), with a callback that stops the fit at the first
  iteration ending past the budget. The clock starts just before the call, so ``fit``'s set-up
  (the data scan and the start's output solve, which Adam is given) counts against it.
* ``adam``: minibatch ``torch.optim.Adam`` in float64 (as ``fit``), from ``fit``'s start (its
  seeded ``N(0, 1/d)`` hidden layer with the least-squares output layer), on batches of a
  fresh shuffle each epoch, for the budget in training seconds. The full training MSE is
  evaluated every ``budget / CHECKPOINTS`` training seconds; evaluations stop the clock.

A run's MSE is the lowest full training MSE it reached within its budget: for ``fit``, over
the iterations that ended by then (``fit`` returns the best network it has seen; the
iteration that crossed the budget does not count), each on every row (an iteration on a
progressive sample records the sample's loss: its network is evaluated on all rows, with the
clock stopped; runs before 2026-12-07 took the sample's loss), for Adam, over its
checkpoints (the last one taken at the step that crossed the budget, a few milliseconds past
it). Cost is counted
in full-batch gradient passes: each process also times one forward and backward pass of the
same network over all ``n`` rows in torch (float64, one thread; median of 3 after a
warm-up), and ``fit``'s median seconds per iteration, or Adam's seconds per epoch, are
divided by it.

This module holds the settings, the runs (in the worker process) and their judging;
:mod:`.versus_adam_driver` plans and runs them, :mod:`.versus_adam_report` writes the report.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
from harness.peers.torch_optim import minibatch_adam

from .data import peak_gb

BATCHES, LRS = (256, 1024, 4096), (1e-3, 3e-3, 1e-2)
QUICK_CONFIGS = ((256, 1e-2), (1024, 3e-3))
ALL_ROWS = 10**12  # curvature_rows at or above n: the Gauss-Newton system on every row
#: ``fit`` variants: method name -> ``fit``'s keyword arguments. ``fit`` is the defaults
#: (progressive sampling, sampled curvature); ``fit_unstaged`` every iteration on every row;
#: ``fit_all_rows`` that, with the curvature on every row too.
FIT_METHODS: dict[str, dict[str, Any]] = {
    "fit": {}, "fit_unstaged": {"progressive": False},
    "fit_all_rows": {"curvature_rows": ALL_ROWS, "progressive": False}}
LABELS = {"fit": "fit (defaults)", "fit_unstaged": "fit (progressive=False)",
          "fit_all_rows": "fit (all rows)"}
Key = tuple[int, int, float]


# --- in the worker process --------------------------------------------------------------


def gradient_seconds(X: np.ndarray, y: np.ndarray, hidden: int, slope: float,
                     repeats: int = 3) -> float:
    """Median wall seconds of one full-batch forward and backward pass of the training MSE of
    an ``hidden``-unit leaky-ReLU network over all rows of ``X`` (torch, ``X``'s dtype),
    after one warm-up pass: what one gradient epoch costs."""
    import torch

    rng = np.random.default_rng(1)
    d = X.shape[1]
    params = [torch.tensor(a, requires_grad=True) for a in (
        rng.standard_normal((hidden, d)) / math.sqrt(d), np.zeros(hidden),
        rng.standard_normal(hidden) / math.sqrt(hidden), np.zeros(()))]
    W, b, V, c = params
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    times = []
    for _ in range(repeats + 1):
        began = time.perf_counter()
        for p in params:
            p.grad = None
        loss = torch.mean((torch.nn.functional.leaky_relu(Xt @ W.T + b, slope) @ V + c - yt) ** 2)
        loss.backward()
        times.append(time.perf_counter() - began)
    return statistics.median(times[1:])


def run_fit(X: np.ndarray, y: np.ndarray, hidden: int, slope: float, budget: float,
            options: dict[str, Any]) -> dict:
    """``fit(**options)`` until the first iteration that ends past ``budget`` seconds."""
    import relu_altmin
    from relu_altmin._steps import curvature_sample

    # compile the Numba kernels of this solver and sampling untimed, on a few rows
    curvature_rows = options.get("curvature_rows")
    relu_altmin.fit(X[:2000], y[:2000], hidden, negative_slope=slope, seed=0, max_iter=2,
                    curvature_rows=1000 if curvature_rows is None else curvature_rows)
    gradient = gradient_seconds(X, y, hidden, slope)
    trace: list[list[float]] = []  # iterations 1, 2, ...; the start is put first below
    setup: list[float] = []  # when the fit's own clock started
    paused = 0.0  # seconds off the clock: the MSE on every row of the records on a sample
    began = time.perf_counter()

    def stop(record: Any, network: Any) -> bool:
        nonlocal paused
        now = time.perf_counter() - began - paused
        if not setup:
            setup.append(now - record.seconds)
        loss = record.loss
        if record.rows is not None:  # progressive sampling: that loss is the sample's
            evaluating = time.perf_counter()
            loss = float(np.mean((network.predict(X) - y) ** 2))
            paused += time.perf_counter() - evaluating
        trace.append([now, loss])
        return now >= budget

    result = relu_altmin.fit(X, y, hidden, negative_slope=slope, seed=0, max_iter=10**9,
                             callback=stop, **options)
    elapsed = time.perf_counter() - began - paused
    start_loss = result.history[0].loss
    if result.history[0].rows is not None:  # on a sample: its MSE on every row, off the clock
        start_loss = relu_altmin.fit(X, y, hidden, negative_slope=slope, seed=0, max_iter=0,
                                     **options).loss
    trace.insert(0, [setup[0], start_loss])
    unknowns = hidden * (X.shape[1] + 1) + hidden + 1
    rule = curvature_sample(len(y), unknowns)
    return {
        "trace": trace, "mse": at_budget(trace, budget), "final_loss": result.loss,
        "iterations": len(trace) - 1, "seconds": elapsed, "setup_seconds": trace[0][0],
        "off_clock_seconds": paused,
        "sample_records": sum(r.rows is not None for r in result.history),
        "iteration_seconds": [b[0] - a[0] for a, b in itertools.pairwise(trace)],
        "stop_reason": result.stop_reason, "solver": result.solver,
        "curvature_rows": min((rule if curvature_rows is None else curvature_rows) or len(y),
                              len(y)),
        "gradient_seconds": gradient, "peak_gb": peak_gb(),
    }


def run_adam(X: np.ndarray, y: np.ndarray, hidden: int, slope: float, budget: float,
             lr: float, batch: int) -> dict:
    """Minibatch Adam from ``fit``'s start for ``budget`` training seconds."""
    import relu_altmin

    start = relu_altmin.fit(X, y, hidden, negative_slope=slope, seed=0, max_iter=0)
    gradient = gradient_seconds(X, y, hidden, slope)
    out = minibatch_adam(start.network, X, y, lr, batch, slope, budget)
    # every checkpoint counts, the last (at the step that crossed the budget) too
    return {**out, "mse": min(loss for _, loss in out["trace"]), "start_loss": start.loss,
            "gradient_seconds": gradient, "peak_gb": peak_gb()}


# --- judging the runs -------------------------------------------------------------------


def at_budget(trace: list[list[float]], budget: float) -> float:
    """The lowest loss of a ``[[seconds, loss], ...]`` trace at or before ``budget`` seconds
    (the first point's when none is)."""
    within = [loss for seconds, loss in trace if seconds <= budget]
    return min(within) if within else trace[0][1]


def cell_key(run: dict) -> Key:
    """The comparison a run belongs to: rows, width and budget."""
    return (run["n"], run["hidden"], run["budget"])


def best_adam(runs: Iterable[dict]) -> dict[Key, dict]:
    """Per cell and budget, the Adam run of the lowest MSE (runs that failed left out; the
    first of equals)."""
    best: dict[Key, dict] = {}
    for run in runs:
        if run["method"] != "adam" or "error" in run:
            continue
        key = cell_key(run)
        if key not in best or run["mse"] < best[key]["mse"]:
            best[key] = run
    return best


def verdicts(runs: list[dict]) -> list[dict]:
    """Per cell and budget: each ``fit`` variant's MSE, the best Adam run, and whether each
    variant's MSE is at or below the best Adam's (None when either is missing)."""
    best = best_adam(runs)
    fits = {(cell_key(r), r["method"]): r for r in runs
            if r["method"] in FIT_METHODS and "error" not in r}
    rows = []
    for key in sorted({cell_key(r) for r in runs}):
        adam = best.get(key)
        row: dict = {"n": key[0], "hidden": key[1], "budget": key[2], "best_adam": None if
                     adam is None else {k: adam[k] for k in ("batch", "lr", "mse")}}
        for method in FIT_METHODS:
            fit = fits.get((key, method))
            row[f"{method}_mse"] = None if fit is None else fit["mse"]
            row[f"{method}_le_best_adam"] = (None if fit is None or adam is None
                                            else fit["mse"] <= adam["mse"])
        rows.append(row)
    return rows


def gradient_epochs(run: dict) -> float | None:
    """A run's cost in full-batch gradient passes: per iteration for ``fit`` (its median
    seconds per iteration), per epoch (``n`` rows seen) for Adam; None for a failed run."""
    if "error" in run:
        return None
    if run["method"] == "adam":
        epochs = run["rows_seen"] / run["n"]
        return run["training_seconds"] / epochs / run["gradient_seconds"]
    if not run["iteration_seconds"]:
        return None
    return statistics.median(run["iteration_seconds"]) / run["gradient_seconds"]


def configs_from(runs: list[dict], n: int, hidden: int, keep: int) -> list[tuple[int, float]]:
    """The ``keep`` Adam configurations ``(batch, lr)`` of the lowest MSE for cell
    ``(n, hidden)`` at the largest budget these runs have for it (empty: none ran)."""
    adam = [r for r in runs if r["method"] == "adam" and "error" not in r
            and (r["n"], r["hidden"]) == (n, hidden)]
    if not adam:
        return []
    budget = max(r["budget"] for r in adam)
    ranked = sorted((r for r in adam if r["budget"] == budget), key=lambda r: r["mse"])
    return [(r["batch"], r["lr"]) for r in ranked[:keep]]
