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
iteration that crossed the budget does not count), for Adam, over its checkpoints (the last
one taken at the step that crossed the budget, a few milliseconds past it). Cost is counted
in full-batch gradient passes: each process also times one forward and backward pass of the
same network over all ``n`` rows in torch (float64, one thread; median of 3 after a
warm-up), and ``fit``'s median seconds per iteration, or Adam's seconds per epoch, are
divided by it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import resource
import statistics
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np
from _common import machine_info, write_report

BATCHES, LRS = (256, 1024, 4096), (1e-3, 3e-3, 1e-2)
QUICK_CONFIGS = ((256, 1e-2), (1024, 3e-3))
CHECKPOINTS = 20  # full training-MSE evaluations per Adam budget (plus the start)
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
    offsets: list[float] = []
    began = time.perf_counter()

    def stop(record: Any, _network: Any) -> bool:
        offsets.append(time.perf_counter() - began - record.seconds)
        return time.perf_counter() - began >= budget

    result = relu_altmin.fit(X, y, hidden, negative_slope=slope, seed=0, max_iter=10**9,
                             callback=stop, **options)
    elapsed = time.perf_counter() - began
    offset = offsets[0] if offsets else elapsed - result.history[-1].seconds
    history = result.history
    trace = [[rec.seconds + offset, rec.loss] for rec in history]
    unknowns = hidden * (X.shape[1] + 1) + hidden + 1
    rule = curvature_sample(len(y), unknowns)
    return {
        "trace": trace, "mse": at_budget(trace, budget), "final_loss": result.loss,
        "iterations": len(history) - 1, "seconds": elapsed, "setup_seconds": trace[0][0],
        "iteration_seconds": [b.seconds - a.seconds for a, b in itertools.pairwise(history)],
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


def minibatch_adam(net: Any, X: np.ndarray, y: np.ndarray, lr: float, batch: int,
                   slope: float, seconds: float, *, checkpoints: int = CHECKPOINTS,
                   seed: int = 0) -> dict:
    """``torch.optim.Adam`` on batches of ``batch`` rows of a fresh permutation each epoch
    (the last batch of an epoch may be short), from ``net``, for ``seconds`` of training time;
    the full training MSE every ``seconds / checkpoints`` training seconds, off the clock."""
    import torch

    params = [torch.tensor(np.asarray(a), requires_grad=True)
              for a in (net.W, net.b, net.V, net.c)]
    W, b, V, c = params
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    optimiser = torch.optim.Adam(params, lr=lr)
    generator = torch.Generator().manual_seed(seed)
    n, every = len(y), seconds / checkpoints

    def mse(Xb: Any, yb: Any) -> Any:
        return torch.mean((torch.nn.functional.leaky_relu(Xb @ W.T + b, slope) @ V + c - yb) ** 2)

    def evaluate() -> float:
        with torch.no_grad():
            return float(mse(Xt, yt))

    trace, trained, steps, rows, position, due = [[0.0, evaluate()]], 0.0, 0, 0, n, every
    lap = time.perf_counter()
    while trained < seconds:
        if position >= n:
            order, position = torch.randperm(n, generator=generator), 0
        index = order[position:position + batch]
        position += batch
        optimiser.zero_grad()
        mse(Xt[index], yt[index]).backward()
        optimiser.step()
        steps, rows = steps + 1, rows + len(index)
        now = time.perf_counter()
        trained, lap = trained + now - lap, now
        if trained >= due or trained >= seconds:
            trace.append([trained, evaluate()])
            while due <= trained:
                due += every
            lap = time.perf_counter()
    return {"trace": trace, "final_loss": trace[-1][1], "steps": steps, "rows_seen": rows,
            "epochs": rows / n, "training_seconds": trained,
            "seconds_per_step": trained / max(steps, 1)}


def peak_gb() -> float:
    """This process's peak resident memory so far, in GB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


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


# --- the driver ---------------------------------------------------------------------------


def options(parser: argparse.ArgumentParser, results: Path) -> None:
    """The options of ``--versus-adam`` on ``scale.py``'s parser (which has ``--n``,
    ``--hidden`` and ``--name``); reports go to ``results`` by default."""
    group = parser.add_argument_group("--versus-adam: fit against minibatch Adam (issue 24)")
    group.add_argument("--versus-adam", action="store_true",
                       help="fit against minibatch Adam at equal wall time; scale_adam.* "
                       "(default cells --n 100000 1000000 x --hidden 32 128)")
    group.add_argument("--quick", action="store_true",
                       help="smoke run: n 20000, h 8, 3 s, two Adam configurations")
    group.add_argument("--cells", nargs="+", metavar="NxH",
                       help="cells as rows x width, e.g. 100000x32 (instead of --n x --hidden)")
    group.add_argument("--budgets", type=float, nargs="+",
                       help="wall-time budgets in seconds (default 60 300)")
    group.add_argument("--batches", type=int, nargs="+", help="Adam batch sizes (256 1024 4096)")
    group.add_argument("--lrs", type=float, nargs="+", help="Adam learning rates (1e-3 3e-3 1e-2)")
    group.add_argument("--methods", nargs="+", default=[*FIT_METHODS, "adam"],
                       choices=[*FIT_METHODS, "adam"], help="what to run (all)")
    group.add_argument("--teacher", type=int, default=256, help="teacher units (default 256)")
    group.add_argument("--workers", type=int, default=1,
                       help="runs at a time, one thread each (default 1)")
    group.add_argument("--adam-from", metavar="JSON",
                       help="a scale_adam report: run only its --adam-keep best Adam "
                       "configurations per cell, and include its runs in this report")
    group.add_argument("--adam-keep", type=int, default=1,
                       help="with --adam-from: configurations kept per cell (default 1)")
    group.add_argument("--from-json", metavar="JSON", help="rewrite this report's .md and .png")
    group.add_argument("--out", default=str(results), help=f"where to write ({results})")


def configure(args: argparse.Namespace, d: int, slope: float) -> dict:
    """Fill in ``args``'s ``--versus-adam`` defaults (``cells``, ``budgets``, ``configs``,
    ``name``) and return the report's settings."""
    quick = args.quick
    args.name = args.name or (Path(args.from_json).stem if args.from_json else
                              "scale_adam_quick" if quick else "scale_adam")
    n, hidden = args.n or ([20_000] if quick else [100_000, 1_000_000]), args.hidden or (
        [8] if quick else [32, 128])
    args.cells = ([tuple(int(v) for v in cell.split("x")) for cell in args.cells] if args.cells
                  else list(itertools.product(n, hidden)))
    args.budgets = args.budgets or ([3.0] if quick else [60.0, 300.0])
    args.configs = (list(QUICK_CONFIGS) if quick and not (args.batches or args.lrs)
                    else list(itertools.product(args.batches or BATCHES, args.lrs or LRS)))
    return {"benchmark": args.name, "d": d, "negative_slope": slope, "teacher": args.teacher,
            "noise": 0.1, "seed": 0, "dtype": "float64", "threads": 1,
            "budgets": args.budgets, "cells": args.cells, "adam_configs": args.configs}


def plan(args: Any, previous: list[dict]) -> list[dict]:
    """The runs to do: ``{"n", "hidden", "budget", "method"[, "batch", "lr"]}`` per run. With
    ``previous`` runs (``--adam-from``), Adam only in their best configurations for the cell
    (the whole grid for a cell they have no Adam run of)."""
    grid = [tuple(c) for c in args.configs]
    jobs = []
    for budget, (n, hidden) in itertools.product(args.budgets, args.cells):
        base = {"n": n, "hidden": hidden, "budget": budget}
        jobs += [{**base, "method": m} for m in FIT_METHODS if m in args.methods]
        if "adam" in args.methods:
            configs = configs_from(previous, n, hidden, args.adam_keep) if previous else grid
            jobs += [{**base, "method": "adam", "batch": b, "lr": lr}
                     for b, lr in configs or grid]
    return jobs


def identity(run: dict) -> tuple:
    return (*cell_key(run), run["method"], run.get("batch"), run.get("lr"))


def versus(args: Any, run_cell: Callable[[dict], dict], settings: dict) -> None:
    """Run ``plan``'s jobs (``run_cell`` runs one in its own process), ``args.workers`` at a
    time, and write the report (with ``--adam-from``'s runs that were not redone);
    ``--from-json``: rewrite that report instead."""
    if args.from_json:
        render(json.loads(Path(args.from_json).read_text()), Path(args.out), args.name)
        return
    previous = json.loads(Path(args.adam_from).read_text())["runs"] if args.adam_from else []
    jobs = plan(args, previous)
    runs = []
    with ThreadPoolExecutor(args.workers) as pool:
        futures = {pool.submit(run_cell, job): job for job in jobs}
        for i, future in enumerate(as_completed(futures), 1):
            run = {**futures[future], **future.result()}
            runs.append(run)
            print(f"[{i}/{len(jobs)}] {describe(run)}", flush=True)
    redone = {identity(r) for r in runs}
    runs = sorted([r for r in previous if identity(r) not in redone] + runs,
                  key=lambda r: (cell_key(r), list(FIT_METHODS).index(r["method"])
                                 if r["method"] in FIT_METHODS else 9, identity(r)[-2:]))
    report = {**settings, "budgets": sorted({r["budget"] for r in runs}),
              "adam_from": args.adam_from,
              "adam_keep": args.adam_keep if args.adam_from else None,
              "reduced": sorted({cell_key(j)[2] for j in jobs if j["method"] == "adam"})
              if args.adam_from else [],
              "checkpoints": CHECKPOINTS, "workers": args.workers, "machine": machine_info(),
              "runs": runs}
    render(report, Path(args.out), args.name)


def render(report: dict, out: Path, name: str) -> None:
    """Verdicts, ``<name>.json``, ``.md`` and ``.png`` in ``out``."""
    report = {**report, "verdicts": verdicts(report["runs"])}
    for run in report["runs"]:
        run["gradient_epochs"] = gradient_epochs(run)
    write_report(out, name, report, markdown(report), plot)


def describe(run: dict) -> str:
    what = f"n={run['n']} h={run['hidden']} {run['budget']:g}s {run['method']}"
    if run["method"] == "adam":
        what += f" batch {run['batch']} lr {run['lr']:g}"
    if "error" in run:
        return f"{what}: failed: {run['error']}"
    count = f"{run['iterations']} iterations" if "iterations" in run else (
        f"{run['epochs']:.3g} epochs")
    return f"{what}: MSE {run['mse']:.5g} ({count})"


# --- the report -------------------------------------------------------------------------


def _g(value: float | None, spec: str = ".4g") -> str:
    return "" if value is None else format(value, spec)


def markdown(report: dict) -> str:
    """The report's tables: verdicts, costs and every Adam run."""
    m = report["machine"]
    lines = [
        f"# `fit` against minibatch Adam at equal wall time (d = {report['d']}, slope "
        f"{report['negative_slope']}, teacher of {report['teacher']} units)", "",
        f"Generated by `benchmarks/scale.py --versus-adam` on {m['date']} ({m['cpu']}, "
        f"{m['cores']} cores; relu-altmin {m['versions']['relu_altmin']}, numpy "
        f"{m['versions']['numpy']}, torch {m['versions']['torch']}). Data in memory, float64: "
        f"Gaussian inputs, targets from a random leaky-ReLU teacher of {report['teacher']} "
        "units (wider than every student) plus 10% noise, standardised. Every run is its own "
        f"process on one thread ({report['workers']} at a time). `fit`: seed 0, its defaults "
        "(progressive sampling from 50 000 rows, sampled curvature; before 2026-12-05 the "
        "defaults had no progressive sampling), `progressive=False`, or that with "
        "`curvature_rows=10**12` (all rows), stopped by a callback at "
        "the first iteration that ends past the budget; its clock starts before the call, so "
        "its set-up (data scan, the start's output solve) counts. Adam: `torch.optim.Adam`, "
        "float64, from `fit`'s start (seed 0 hidden layer, least-squares output layer), "
        "batches of a fresh shuffle each epoch, for the budget in training seconds; the full "
        f"training MSE is evaluated every budget/{report['checkpoints']} training seconds, "
        "off the clock. **MSE** is the lowest full training MSE a run reached within its "
        "budget: `fit`'s over the iterations that ended by then (it returns the best network "
        "it has seen; the iteration that crossed the budget does not count), Adam's over its "
        "checkpoints (the last at the step that crossed the budget).",
    ]
    if report["adam_from"]:
        lines += ["", f"**Reduced grid**: at budget(s) {report['reduced']} s only the "
                  f"{report['adam_keep']} Adam configuration(s) of lowest MSE for the cell at "
                  f"the largest budget in `{report['adam_from']}` were run (its runs are "
                  "included here)."]
    return "\n".join(lines + _verdict_table(report) + _cost_table(report)) + "\n"


def _verdict_table(report: dict) -> list[str]:
    """One row per cell and budget: each ``fit`` variant's MSE, the best Adam's, and whether
    each variant is at or below it (columns for the variants the report has)."""
    methods = [m for m in FIT_METHODS if any(v[f"{m}_mse"] is not None
                                             for v in report["verdicts"])]
    lines = ["", "| n | h | budget s | " + " | ".join(f"{LABELS[m]} MSE" for m in methods)
             + " | best Adam MSE (batch, lr) | "
             + " | ".join(f"{LABELS[m]} ≤ best Adam" for m in methods) + " |",
             "|---:|---:|---:|" + "---:|" * len(methods) + "---|" + "---|" * len(methods)]
    yes = {True: "**yes**", False: "no", None: ""}
    for v in report["verdicts"]:
        adam = v["best_adam"]
        best = f"{adam['mse']:.5g} ({adam['batch']}, {adam['lr']:g})" if adam else "none"
        lines.append(f"| {v['n']} | {v['hidden']} | {v['budget']:g} | "
                     + " | ".join(_g(v[f"{m}_mse"], ".5g") for m in methods) + f" | {best} | "
                     + " | ".join(yes[v[f"{m}_le_best_adam"]] for m in methods) + " |")
    judged = [v["fit_le_best_adam"] for v in report["verdicts"]
              if v["fit_le_best_adam"] is not None]
    return [*lines, "", f"**{LABELS['fit']} ≤ best Adam** in {sum(judged)} of {len(judged)} "
            "cell-budgets."]


def _cost_table(report: dict) -> list[str]:
    lines = ["", "Cost: one full-batch gradient pass (torch float64 forward and backward over all "
             "n rows, one thread, median of 3) in each run's process; **gradient epochs** = "
             "`fit`'s median seconds per iteration, or Adam's seconds per epoch, over it.", "",
             "| n | h | budget s | method | iterations or epochs | s / iteration (Adam: s / "
             "step) | gradient pass s | gradient epochs per iteration (Adam: per epoch) | "
             "curvature rows | peak GB |", "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
    for run in report["runs"]:
        lines.append(_cost_row(run))
    for method in FIT_METHODS:
        costs = [r["gradient_epochs"] for r in report["runs"] if r["method"] == method
                 and r["n"] >= 100_000 and r.get("gradient_epochs") is not None]
        if costs:
            lines += ["", f"Issue 24's aim, at most 5 gradient epochs per iteration at n >= "
                      f"10^5: {LABELS[method]} {sum(c <= 5 for c in costs)} of {len(costs)} "
                      f"runs (largest {max(costs):.3g})."]
    lines += ["", "Every Adam run:", "",
              "| n | h | budget s | batch | lr | steps | epochs | start MSE | final MSE | MSE |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for run in report["runs"]:
        if run["method"] == "adam":
            head = (f"| {run['n']} | {run['hidden']} | {run['budget']:g} | {run['batch']} | "
                    f"{run['lr']:g} |")
            lines.append(f"{head} failed: {run['error']} | | | | |" if "error" in run else
                         f"{head} {run['steps']} | {run['epochs']:.3g} | "
                         f"{run['start_loss']:.5g} | {run['final_loss']:.5g} | "
                         f"{run['mse']:.5g} |")
    return lines


def _cost_row(run: dict) -> str:
    head = f"| {run['n']} | {run['hidden']} | {run['budget']:g} | "
    if run["method"] == "adam":
        head += f"Adam ({run['batch']}, {run['lr']:g}) |"
    else:
        head += f"{LABELS[run['method']]} |"
    if "error" in run:
        return f"{head} failed: {run['error']} | | | | | |"
    if run["method"] == "adam":
        count, per = f"{run['epochs']:.3g}", run["seconds_per_step"]
        rows = ""
    else:
        count, rows = str(run["iterations"]), str(run["curvature_rows"])
        per = statistics.median(run["iteration_seconds"]) if run["iteration_seconds"] else None
    return (f"{head} {count} | {_g(per, '.3g')} | {run['gradient_seconds']:.3g} | "
            f"{_g(run['gradient_epochs'], '.3g')} | {rows} | {run['peak_gb']:.2f} |")


def plot(runs: list[dict], path: Path) -> None:
    """Training MSE against seconds (log y) per cell, at the cell's largest budget: both
    ``fit`` variants and the best Adam run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cells = sorted({(r["n"], r["hidden"]) for r in runs})
    fig, axes = plt.subplots(1, len(cells), figsize=(4.5 * len(cells), 4), squeeze=False)
    best = best_adam(runs)
    for axis, (n, hidden) in zip(axes[0], cells, strict=True):
        budgets = sorted({r["budget"] for r in runs if (r["n"], r["hidden"]) == (n, hidden)})
        key = (n, hidden, budgets[-1])
        shown = [r for r in runs if cell_key(r) == key and r["method"] in FIT_METHODS
                 and "error" not in r]
        shown += [best[key]] if key in best else []
        for run in shown:
            label = LABELS.get(run["method"]) or f"Adam (batch {run['batch']}, lr {run['lr']:g})"
            seconds, losses = zip(*run["trace"], strict=True)
            axis.plot(seconds, losses, marker="." if run["method"] != "adam" else None,
                      label=label)
        for budget in budgets:
            axis.axvline(budget, color="grey", linestyle=":", linewidth=1)
        axis.set(title=f"n = {n}, h = {hidden}", xlabel="seconds (Adam: training seconds)",
                 ylabel="training MSE", yscale="log")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
