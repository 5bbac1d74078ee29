"""The measurements of docs/notes/2026-12-06-cg-budget.md, one JSON line per run.

``python docs/notes/cg_progress.py T1/W1,T2/W2,... CELL ...`` fits each cell once for each
variant ``T/W``: ``relu_altmin._systems.CG_PROGRESS_TOL = T`` (0: CG stops only at its
tolerance or its cap) and ``relu_altmin._steps.CG_WARM_START = W`` (0: CG starts from 0),
side by side in one process, and prints per run: CPU seconds per iteration, CG products
per iteration, the final training loss, the loss at the CPU time the fastest run took for its
iterations (``loss_at_budget``), and the CPU seconds each run took to reach the highest final
loss of the cell (``cpu_to_common``). A cell is

- ``scale:N,D,H,ITERS,PROGRESSIVE,SEED``: ``benchmarks/scale.py``'s data (Gaussian inputs in
  ``D`` dimensions, a 256-unit leaky-ReLU teacher, 10 % noise), slope 0.1, ``solver="cg"``,
  ``tol=0``, ``ITERS`` iterations;
- ``data:NAME,H,SLOPE,SEED``: the training split of ``benchmarks/harness/datasets.load(NAME,
  SEED)``, ``fit``'s defaults (``max_iter=1000``), as ``benchmarks/training.py
  --lbfgs-target`` runs it.

``python docs/notes/cg_progress.py curves CELL ...`` fits each cell once (progress stop and
warm start off) and prints, for the solves that ran to the cap of 30 products, the share of
the 30-product model decrease reached after 5, 10, 15, 20 and 25 products: at the first
solve, at a quarter, half and three quarters of the fit, and at the last (``data:`` cells
with ``max_iter=200``).

One thread (run with ``OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1``; ``n_jobs=1``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
import scale_parts.data as scale_data
from harness.datasets import load

import relu_altmin
from relu_altmin import _steps, _systems


def problem(spec: str) -> tuple[dict, Any, Any, int, dict]:
    """The cell's description, data, width and ``fit`` keywords."""
    kind, values = spec.split(":")
    if kind == "scale":
        n, d, h, iters, progressive, seed = (int(float(v)) for v in values.split(","))
        scale_data.D = d
        X, y = scale_data.make_data(n, seed=seed, teacher=256)
        cell = {"kind": kind, "n": n, "d": d, "h": h, "progressive": bool(progressive),
                "seed": seed}
        return cell, X, y, h, {"negative_slope": scale_data.SLOPE, "seed": seed,
                               "max_iter": iters, "solver": "cg", "tol": 0.0,
                               "progressive": bool(progressive)}
    name, h_text, slope_text, seed_text = values.split(",")
    split = load(name, int(seed_text))
    cell = {"kind": kind, "dataset": name, "h": int(h_text), "slope": float(slope_text),
            "seed": int(seed_text), "n": split.X_train.shape[0]}
    return cell, split.X_train, split.y_train, int(h_text), {
        "negative_slope": float(slope_text), "seed": int(seed_text), "max_iter": 1000}


def run(X: Any, y: Any, h: int, options: dict) -> tuple[Any, float, list[float]]:
    """One fit: its result, CPU seconds and each record's CPU time."""
    cpu: list[float] = []
    began = time.process_time()
    result = relu_altmin.fit(X, y, h, n_jobs=1, **options,
                             callback=lambda rec, net: cpu.append(time.process_time() - began))
    return result, time.process_time() - began, cpu


def compare(variants: list[tuple[float, float]], specs: list[str]) -> None:
    """Each cell in each variant, side by side."""
    relu_altmin.fit(*scale_data.make_data(500, seed=0, teacher=8), 4, max_iter=2, solver="cg",
                    n_jobs=1)  # compile
    for spec in specs:
        cell, X, y, h, options = problem(spec)
        runs = []
        for tolerance, warm in variants:
            _systems.CG_PROGRESS_TOL, _steps.CG_WARM_START = tolerance, warm
            result, total, cpu = run(X, y, h, options)
            history = result.history[1:]
            runs.append({**cell, "progress_tol": tolerance, "warm_start": warm,
                         "solver": result.solver,
                         "iterations": len(history), "cpu": total,
                         "cpu_per_iteration": total / max(len(history), 1),
                         "products_per_iteration":
                             sum(r.cg_iterations for r in history) / max(len(history), 1),
                         "stop_reason": result.stop_reason, "loss": result.loss,
                         "trace": [[c, r.loss] for c, r in zip(cpu, history, strict=True)]})
        budget = min(r["trace"][-1][0] for r in runs)
        common = max(r["loss"] for r in runs)
        for r in runs:
            r["cpu_budget"] = budget
            r["loss_at_budget"] = [loss for c, loss in r["trace"] if c <= budget][-1]
            r["cpu_to_common"] = next((c for c, loss in r["trace"] if loss <= common), None)
            del r["trace"]
            print(json.dumps(r), flush=True)


def curves(specs: list[str]) -> None:
    """How far each capped solve's model decrease had got along its 30 products."""
    original = _systems._stalled
    _systems.CG_PROGRESS_TOL = 1.0  # call _stalled every step, which only records
    _steps.CG_WARM_START = 0.0  # every solve from 0
    recorded: list[list[float]] = []

    def record(models: list[float], window: int, tol: float) -> bool:
        if len(models) == _systems.CG_MAX_ITER + 1:
            recorded.append(list(models))
        return False

    _systems._stalled = record
    for spec in specs:
        cell, X, y, h, options = problem(spec)
        recorded.clear()
        run(X, y, h, {**options, "max_iter": min(options["max_iter"], 200)})
        shares = [[m[i] / m[-1] for i in (5, 10, 15, 20, 25)] for m in recorded]
        picks = sorted({0, len(shares) // 4, len(shares) // 2, 3 * len(shares) // 4,
                        len(shares) - 1}) if shares else []
        print(json.dumps({"mode": "curves", **cell, "capped_solves": len(shares),
                          "shares_at_5_10_15_20_25": {p: shares[p] for p in picks}}),
              flush=True)
    _systems._stalled = original


if __name__ == "__main__":
    if sys.argv[1] == "curves":
        curves(sys.argv[2:])
        sys.exit()
    compare([(float(v.split("/")[0]), float(v.split("/")[1])) for v in sys.argv[1].split(",")],
            sys.argv[2:])
