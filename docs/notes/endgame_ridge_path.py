"""Measurements behind the lab note of 2026-12-07 on a ridge path in the endgame (digits).

``fit`` on the training benchmark's splits (``benchmarks/harness/datasets.py``), one thread,
``max_iter`` 20000 and a wall-time cap (the benchmark's budget), with two patches of the code
as it is:

- the endgame is forced to start after ``k`` iterations of the alternation (a patched stall
  policy says ``"no_progress"`` from then on; ``--k -1``: no forced handover);
- the endgame's L-BFGS runs on a path of ridges: ``lam0`` first, then ``factor`` times the last
  one after every ``every`` of its steps, or at once when its step stops at a ridge above
  the fit's own (``--lam0 0``: no path, the endgame as it is). Each new ridge solves the output
  layer again and empties the L-BFGS memory. Redraws (the endgame's rounds) happen only at the
  fit's own ridge, where the path ends.

::

    python docs/notes/endgame_ridge_path.py [--dataset digits] [--hidden 64] [--slopes 0 0.1]
        [--k 20] [--lam0 0.1] [--every 1000] [--factor 0.1] [--time-cap 60]
    python docs/notes/endgame_ridge_path.py --table
    python docs/notes/endgame_ridge_path.py --cost

Appends one JSON line per fit to ``docs/notes/2026-12-07-endgame-ridge-path.jsonl``; ``--table``
prints the note's Markdown table from those lines (the medians over the seeds of each
configuration). ``--cost`` times an alternation iteration against an endgame step (no path) on
every data set of the grid, h 16 and 64, slope 0, seed 0: the medians over the first 20
iterations and over the endgame's steps of an 8 s fit with the handover after 20, appended to
``2026-12-07-endgame-ridge-path-cost.jsonl``. MSE is the
benchmark's, ``(1/n) ||Y - F||_F^2`` on the (standardised) training rows; the ridges are those
of the standardised problem, like ``fit``'s default ``1e-8``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import pathlib
import statistics
import sys
import time
from dataclasses import replace

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "benchmarks"))

from endgame_rounds import forced_handover  # noqa: E402  (this script's folder is on the path)
from harness.datasets import load  # noqa: E402

import relu_altmin  # noqa: E402
from relu_altmin import _endgame, _fit, _policy  # noqa: E402
from relu_altmin._steps import Outcome  # noqa: E402

SEEDS = (0, 1, 2)
RESULTS = HERE / "2026-12-07-endgame-ridge-path.jsonl"


def path_step(lam0: float, every: int, factor: float) -> type:
    """The endgame's step on a path of ridges from ``lam0`` down to the problem's own."""

    class PathStep(_endgame.LbfgsStep):
        def __init__(self, problem):
            super().__init__(problem)
            self.final, self.lam, self.steps = problem.lam, None, 0

        def take(self, params, state):
            if self.lam is None:
                return self.move(params, max(lam0, self.final))
            if self.lam > self.final and self.steps >= every:
                return self.move(params, max(factor * self.lam, self.final))
            outcome = super().take(params, state)
            self.steps += 1
            if outcome.fraction == 0.0 and self.lam > self.final:  # stopped above the end
                return self.move(params, max(factor * self.lam, self.final))
            return outcome

        def move(self, params, lam):
            self.lam, self.steps = lam, 0
            self.problem = replace(self.problem, lam=lam)
            super().restart()
            point = self.problem.output_solved(params)
            return Outcome(point, self.problem.evaluate(point, params.Wt), 1.0, 0.0, 1, 0)

    return PathStep


def table() -> None:
    """The Markdown table of :data:`RESULTS`: one row per data set, width, slope and
    configuration, each seed's final MSE and the median."""
    groups: dict[tuple, list[dict]] = {}
    for line in RESULTS.read_text().splitlines():
        row = json.loads(line)
        path = ("none" if row["lam0"] == 0 else
                f"{row['lam0']:g}, x{row['factor']:g} every {row['every']}")
        key = (row["dataset"], row["hidden"], row["slope"],
               "none" if row["k"] < 0 else row["k"], path)
        groups.setdefault(key, []).append(row)
    print("| data set | h | slope | handover after | ridge path | seed 0 | seed 1 | seed 2 "
          "| median | endgame iterations (median) | stops |")
    print("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for key, rows in sorted(groups.items(), key=lambda item: tuple(map(str, item[0]))):
        by_seed = {row["seed"]: row for row in rows}
        mses = [f"{by_seed[s]['mse']:.4f}" if s in by_seed else "" for s in SEEDS]
        print(f"| {' | '.join(map(str, key))} | {' | '.join(mses)} "
              f"| {statistics.median(row['mse'] for row in rows):.4f} "
              f"| {statistics.median(row['endgame_iterations'] for row in rows):.0f} "
              f"| {', '.join(row['stop'] for row in rows)} |")


def cost(observe) -> None:
    """``--cost`` (see the module docstring), from the unpatched ``observe``; the caller
    restores it."""
    _policy.StallPolicy.observe = forced_handover(observe, 20)
    for dataset, hidden in itertools.product(
            ("housing", "boston", "friedman1", "diabetes", "breast_cancer", "digits", "cps1988"),
            (16, 64)):
        split = load(dataset, 0)
        result = relu_altmin.fit(split.X_train, split.y_train, hidden, seed=0, max_iter=20000,
                                 callback=lambda record, net: record.seconds > 8)
        records = result.history
        steps = [(b.seconds - a.seconds, b.endgame) for a, b in itertools.pairwise(records)]
        alternation = statistics.median(t for t, endgame in steps[1:20] if not endgame)
        endgame = statistics.median(t for t, endgame in steps if endgame)
        row = {"dataset": dataset, "hidden": hidden, "rows": split.X_train.shape[0],
               "alternation_s": alternation, "endgame_s": endgame,
               "ratio": alternation / endgame}
        print(row, flush=True)
        with open(HERE / "2026-12-07-endgame-ridge-path-cost.jsonl", "a") as out:
            out.write(json.dumps(row) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--hidden", type=int, nargs="+", default=[64])
    parser.add_argument("--slopes", type=float, nargs="+", default=[0.0, 0.1])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    parser.add_argument("--k", type=int, default=20, help="-1: no forced handover")
    parser.add_argument("--lam0", type=float, default=0.1, help="0: no path")
    parser.add_argument("--every", type=int, default=1000)
    parser.add_argument("--factor", type=float, default=0.1)
    parser.add_argument("--time-cap", type=float, default=60.0)
    parser.add_argument("--table", action="store_true", help="print the table and stop")
    parser.add_argument("--cost", action="store_true", help="time the steps and stop")
    args = parser.parse_args()
    if args.table:
        table()
        return
    observe, step = _policy.StallPolicy.observe, _fit.LbfgsStep
    try:
        if args.cost:
            cost(observe)
            return
        if args.k >= 0:
            _policy.StallPolicy.observe = forced_handover(observe, args.k)
        if args.lam0 > 0:
            _fit.LbfgsStep = path_step(args.lam0, args.every, args.factor)
        for hidden, slope, seed in itertools.product(args.hidden, args.slopes, args.seeds):
            split = load(args.dataset, seed)
            t0 = time.perf_counter()
            result = relu_altmin.fit(
                split.X_train, split.y_train, hidden, negative_slope=slope, seed=seed,
                max_iter=20000, callback=lambda record, net: record.seconds > args.time_cap)
            row = {"dataset": args.dataset, "hidden": hidden, "slope": slope, "seed": seed,
                   "k": args.k, "lam0": args.lam0, "every": args.every, "factor": args.factor,
                   "time_cap_s": None if math.isinf(args.time_cap) else args.time_cap,
                   "mse": result.loss, "l2": result.l2, "iterations": result.n_iter,
                   "endgame_iterations": sum(r.endgame for r in result.history),
                   "stop": result.stop_reason, "seconds": time.perf_counter() - t0,
                   "mse_at_s": {t: min((r.loss for r in result.history if r.seconds <= t),
                                       default=None) for t in (5, 10, 20, 30, 60)}}
            print(row, flush=True)
            with open(RESULTS, "a") as out:
                out.write(json.dumps(row) + "\n")
    finally:
        _policy.StallPolicy.observe, _fit.LbfgsStep = observe, step


if __name__ == "__main__":
    main()
