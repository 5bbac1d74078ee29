"""The measurements of docs/notes/2026-12-06-preconditioner-reuse.md, one JSON line per run.

``profile N,D,H,ITERS,PROGRESSIVE,SEED ...``: where a CG fit's iteration spends its time
(shares of the CPU time inside the hidden steps) with reuse off (``REUSE_FLIPS = 0``).
``compare R1,R2,... N,D,H,ITERS,PROGRESSIVE,SEED ...``: the same fit with ``REUSE_FLIPS`` patched
to each ``R`` in turn, in one process: CPU seconds per iteration, CG products per iteration,
the preconditioner pass's share, systems built on kept sums, the loss after ``ITERS``
iterations and at the CPU time the fastest run took for them. Data: ``benchmarks/scale.py``'s
(Gaussian inputs in ``D`` dimensions, a 256-unit leaky-ReLU teacher, 10 % noise,
standardised), ``solver="cg"``, one thread. Run as::

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python docs/notes/preconditioner_reuse.py \\
        profile 5000,32,64,15,0,0 2e4,8,64,15,0,0 ...
"""

from __future__ import annotations

import collections
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
import scale_parts.data as scale_data

import relu_altmin
from relu_altmin import _problem, _steps, _systems

SECONDS: collections.Counter[str] = collections.Counter()
CALLS: collections.Counter[str] = collections.Counter()


def timed(owner: Any, name: str, key: str) -> None:
    """Wrap ``owner.name`` to add its CPU seconds and calls under ``key``."""
    original = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            SECONDS[key] += time.process_time() - began
            CALLS[key] += 1

    setattr(owner, name, staticmethod(wrapper) if name == "build" else wrapper)


def instrument() -> None:
    """Count CPU seconds in the passes and solves of a CG iteration, and kept-sum systems."""
    timed(_systems, "preconditioner_sums", "preconditioner")
    timed(_systems, "diagonal_sums", "diagonal")
    timed(_systems.MatrixFreeSystem, "apply", "product")
    timed(_systems.MatrixFreeSystem, "precondition", "inverse")
    timed(_problem.TrainingProblem, "evaluate", "evaluate")
    timed(_problem.TrainingProblem, "output_solved_bounded", "output")
    timed(_steps.DampedStep, "take", "step")
    original = _systems.MatrixFreeSystem.build

    def build(*args: Any, kept: Any = None, **kwargs: Any) -> Any:
        CALLS["reused"] += kept is not None
        return original(*args, kept=kept, **kwargs)

    _systems.MatrixFreeSystem.build = staticmethod(build)  # type: ignore[method-assign]
    timed(_systems.MatrixFreeSystem, "build", "build")


def fit(spec: str) -> tuple[dict, Any, float, list[float]]:
    """The cell of ``spec`` fitted from a clean count: its description, result, CPU seconds
    and each record's CPU time."""
    n, d, h, iters, progressive, seed = (int(float(v)) for v in spec.split(","))
    scale_data.D = d
    X, y = scale_data.make_data(n, seed=seed, teacher=256)
    relu_altmin.fit(X[:500], y[:500], 4, max_iter=2, solver="cg", n_jobs=1)  # compile
    SECONDS.clear()
    CALLS.clear()
    cpu: list[float] = []
    began = time.process_time()
    result = relu_altmin.fit(X, y, h, negative_slope=scale_data.SLOPE, seed=seed,
                             max_iter=iters, solver="cg", tol=0.0, n_jobs=1,
                             progressive=bool(progressive),
                             callback=lambda rec, net: cpu.append(time.process_time() - began))
    cell = {"n": n, "d": d, "h": h, "progressive": bool(progressive), "seed": seed}
    return cell, result, time.process_time() - began, cpu


def per_iteration(result: Any, cell: dict) -> dict:
    """Products and solves per iteration, the pattern entries flipped per iteration (a share
    of the ``n h``), the final loss."""
    history = result.history
    entries = cell["n"] * cell["h"]
    iterations = len(history) - 1
    return {"iterations": iterations,
            "products_per_iteration": sum(r.cg_iterations for r in history) / iterations,
            "solves_per_iteration": sum(r.solves for r in history) / iterations,
            "flipped": [r.pattern_flips / entries for r in history[1:]],
            "loss": history[-1].loss}


def profile(specs: list[str]) -> None:
    """Where an iteration's CPU time goes, reuse off, for each cell."""
    _steps.REUSE_FLIPS = 0.0
    for spec in specs:
        cell, result, _, _ = fit(spec)
        step = SECONDS["step"]
        shares = {key: SECONDS[key] / step for key in
                  ("preconditioner", "build", "product", "inverse", "evaluate", "output")}
        seconds = {"iteration": step / CALLS["step"],
                   "preconditioner_pass": SECONDS["preconditioner"] / max(CALLS["build"], 1),
                   "product": SECONDS["product"] / max(CALLS["product"], 1)}
        print(json.dumps({"mode": "profile", **cell, "shares": shares, "cpu_seconds": seconds,
                          **per_iteration(result, cell)}), flush=True)


def compare(thresholds: list[float], specs: list[str]) -> None:
    """Each cell with ``REUSE_FLIPS`` at each threshold, side by side."""
    for spec in specs:
        runs = []
        for threshold in thresholds:
            _steps.REUSE_FLIPS = threshold
            cell, result, total, cpu = fit(spec)
            runs.append({"mode": "compare", **cell, "reuse_flips": threshold,
                         "cpu_per_iteration": total / (len(result.history) - 1),
                         "preconditioner_share": SECONDS["preconditioner"] / total,
                         "diagonal_share": SECONDS["diagonal"] / total,
                         "systems": CALLS["build"], "reused": CALLS["reused"],
                         "trace": [[c, r.loss] for c, r in
                                   zip(cpu, result.history[1:], strict=True)],
                         **per_iteration(result, cell)})
        budget = min(run["trace"][-1][0] for run in runs)
        for run in runs:
            run["cpu_budget"] = budget
            run["loss_at_budget"] = [loss for c, loss in run["trace"] if c <= budget][-1]
            print(json.dumps(run), flush=True)


if __name__ == "__main__":
    instrument()
    if sys.argv[1] == "profile":
        profile(sys.argv[2:])
    else:
        compare([float(t) for t in sys.argv[2].split(",")], sys.argv[3:])
