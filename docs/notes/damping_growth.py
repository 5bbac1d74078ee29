"""The damping-growth screen of docs/notes/2026-12-06-large-h-iteration.md.

``fit`` (its defaults, ``max_iter`` 1000) on every cell and seed of the small-data grid of
``benchmarks/results/training_lbfgs.json``: its time to the seed's converged L-BFGS target
(that run's final MSE, floored at 1e-4 times the target variance, as the benchmark does) and
its final MSE, one JSON line per fit appended to ``OUT``. ``--compare`` prints the cells'
medians for two such files and the totals of solves, iterations and seconds.

Usage (one tree per process, one thread each; two variants side by side)::

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=TREE \\
        python docs/notes/damping_growth.py OUT.jsonl [DATASET ...]
    python docs/notes/damping_growth.py --compare BASE.jsonl OTHER.jsonl
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
ORDER = ("boston", "housing", "diabetes", "breast_cancer", "friedman1", "cps1988", "digits")


def screen(out: Path, only: list[str]) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from harness import datasets

    import relu_altmin

    report = json.loads((ROOT / "benchmarks/results/training_lbfgs.json").read_text())
    best = {(c["dataset"], c["hidden"], c["slope"]): c["best_lbfgs"]
            for c in report["lbfgs_check"]["cells"]}
    runs = {(r["dataset"], r["hidden"], r["slope"], r["seed"], r["method"]): r
            for r in report["runs"]}
    relu_altmin.fit(np.random.default_rng(0).standard_normal((50, 3)), np.zeros(50), 4,
                    max_iter=3)  # compile the kernels untimed
    for (name, hidden, slope), method in sorted(
            best.items(), key=lambda cell: (ORDER.index(cell[0][0]), cell[0][1:])):
        if only and name not in only:
            continue
        for seed in range(3):
            split = datasets.load(name, seed)
            variance = float(np.sum(np.var(split.y_train, axis=0)))
            peer = runs[(name, hidden, slope, seed, method)]
            target = max(peer["train_mse"], 1e-4 * variance)
            trace: list[tuple[float, float]] = [(time.perf_counter(), math.inf)]
            result = relu_altmin.fit(
                split.X_train, split.y_train, hidden, negative_slope=slope, seed=seed,
                max_iter=1000, callback=lambda record, _net, trace=trace: trace.append(
                    (time.perf_counter() - trace[0][0], record.loss)))
            seconds = time.perf_counter() - trace.pop(0)[0]
            reached = next((t for t, loss in trace if loss <= target * (1 + 1e-9)), None)
            line = {"dataset": name, "h": hidden, "slope": slope, "seed": seed,
                    "target": target, "lbfgs_s": peer["seconds"], "final": result.loss,
                    "seconds": seconds, "t_target": reached, "iters": len(result.history),
                    "stop": result.stop_reason,
                    "solves": sum(r.solves for r in result.history)}
            with out.open("a") as stream:
                stream.write(json.dumps(line) + "\n")


def compare(base_path: Path, other_path: Path) -> None:
    def load(path: Path) -> dict[tuple, dict]:
        return {(r["dataset"], r["h"], r["slope"], r["seed"]): r
                for r in map(json.loads, path.read_text().splitlines())}

    base, other = load(base_path), load(other_path)
    fits = [key for key in base if key in other]
    cells: dict[tuple, list[tuple]] = {}
    for key in fits:
        cells.setdefault(key[:3], []).append(key)
    for cell, keys in cells.items():
        row = [str(cell)]
        for label, runs in (("base", base), ("other", other)):
            final = statistics.median(runs[k]["final"] for k in keys)
            reached = statistics.median(runs[k]["t_target"] if runs[k]["t_target"] is not None
                                        else math.inf for k in keys)
            row.append(f"{label} {final:.4g} t {reached:.3g}"
                       f"/{statistics.median(runs[k]['lbfgs_s'] for k in keys):.3g}")
        print(" | ".join(row))
    for field in ("solves", "iters", "seconds"):
        print(field, sum(base[k][field] for k in fits), sum(other[k][field] for k in fits))
    ratios = [other[k]["final"] / base[k]["final"] for k in fits if base[k]["final"] > 1e-4]
    print(f"{len(ratios)} fits above 1e-4: median final ratio {statistics.median(ratios):.4f}, "
          f"lower on {sum(r < 1 for r in ratios)}")


if __name__ == "__main__":
    if sys.argv[1] == "--compare":
        compare(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        screen(Path(sys.argv[1]), sys.argv[2:])
