"""Which hidden start lets ``fit`` reach the digits targets of issue 24
(docs/notes/2026-12-07-start-through-the-rows.md).

``fit`` (``max_iter`` 20000, stopped by its callback after ``--cap`` seconds) from one start
per ``--kinds`` entry, seeds 0-2, one JSON line per fit on standard output:

- ``normal``: ``[W, b]`` i.i.d. ``N(0, 1/d)`` from the seed (``fit``'s default start);
- ``rowsP``: each unit normal to a distinct training row less the mean, unit norm, offset to
  be active on the fraction ``P`` of the rows (``rows0.2`` is ``fit(init="rows")`` but for
  the offset, here a quantile of all the rows rather than the midpoint of two sample rows,
  and its own draws);
- ``sparseP``: ``N(0, 1)`` directions at unit norm, offset as ``rowsP``;
- ``pair``: each unit normal to the difference of two rows, through their midpoint.

The start is given as ``init`` (``h x (d + 1)``, in the split's standardised coordinates),
so every kind runs the same code::

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python docs/notes/start_through_rows.py \\
        --hidden 64 --kinds rows0.2 pair --cap 60 > OUT

``--compare BEFORE AFTER`` instead prints, per cell of two ``benchmarks/training.py`` grids,
the median final training MSE of ``altmin`` and of the two converged L-BFGS peers in each,
and their ratios (after / before), as a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import sys
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "benchmarks"))

from harness.datasets import load

import relu_altmin

SEEDS = (0, 1, 2)


def start(kind: str, X: np.ndarray, hidden: int, seed: int) -> np.ndarray:
    """Hidden weights ``[W, b]`` (``hidden x (d + 1)``) of ``kind`` on the rows ``X``."""
    n, d = X.shape
    rng = np.random.default_rng(seed)
    if kind == "normal":
        return rng.standard_normal((hidden, d + 1)) / np.sqrt(d)
    if kind == "pair":
        i = rng.choice(n, (hidden, 2), replace=False)
        W = X[i[:, 0]] - X[i[:, 1]]
        b = -np.sum(W * 0.5 * (X[i[:, 0]] + X[i[:, 1]]), axis=1)
        norms = np.linalg.norm(W, axis=1)
        return np.column_stack([W, b]) / norms[:, None]
    if kind.startswith("rows"):
        active, W = float(kind[4:]), X[rng.choice(n, hidden, replace=False)] - X.mean(axis=0)
    elif kind.startswith("sparse"):
        active, W = float(kind[6:]), rng.standard_normal((hidden, d))
    else:
        raise ValueError(f"unknown start {kind!r}")
    W = W / np.linalg.norm(W, axis=1, keepdims=True)
    b = -np.quantile(X @ W.T, 1.0 - active, axis=0)
    return np.column_stack([W, b])


def compare(before: str, after: str) -> None:
    """The Markdown table of ``--compare`` (see the module docstring)."""
    grids = [json.loads(pathlib.Path(path).read_text())["runs"] for path in (before, after)]
    methods = ("altmin", "torch_lbfgs_conv", "sklearn_lbfgs_conv")

    def median(runs: list[dict], cell: tuple, method: str) -> float:
        return statistics.median(r["train_mse"] for r in runs if r["method"] == method
                                 and (r["dataset"], r["hidden"], r["slope"]) == cell)

    print("| data set | h | slope | " + " | ".join(
        f"{m} before | after | ratio" for m in methods) + " |")
    print("|---|---:|---:|" + "---:|---:|---:|" * len(methods))
    for cell in sorted({(r["dataset"], r["hidden"], r["slope"]) for r in grids[1]}):
        row = []
        for method in methods:
            old, new = (median(runs, cell, method) for runs in grids)
            row.append(f"{old:.4g} | {new:.4g} | {new / old:.3f}")
        print(f"| {cell[0]} | {cell[1]} | {cell[2]:g} | " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--slope", type=float, default=0.0)
    parser.add_argument("--kinds", nargs="+", default=["normal", "rows0.2"])
    parser.add_argument("--cap", type=float, default=60.0, help="seconds per fit")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"),
                        help="print the per-cell medians of two grids' JSON instead")
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare)
        return
    for kind in args.kinds:
        for seed in SEEDS:
            split = load(args.dataset, seed)
            init = start(kind, split.X_train, args.hidden, seed)
            t0 = time.perf_counter()
            result = relu_altmin.fit(split.X_train, split.y_train, args.hidden, seed=seed,
                                     negative_slope=args.slope, max_iter=20000, init=init,
                                     callback=lambda record, net: record.seconds > args.cap)
            print(json.dumps({"dataset": args.dataset, "hidden": args.hidden,
                              "slope": args.slope, "kind": kind, "seed": seed,
                              "mse": result.loss, "iterations": result.n_iter,
                              "endgame_iterations": sum(r.endgame for r in result.history),
                              "stop": result.stop_reason,
                              "seconds": round(time.perf_counter() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()
