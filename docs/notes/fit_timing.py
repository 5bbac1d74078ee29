"""Wall time of ``fit`` (its defaults, ``max_iter`` 1000) on one cell of the small-data grid,
seeds 0-2, best of ``REPEATS`` runs each, for the A/B timings of
docs/notes/2026-12-07-standardised-data-and-backtracking.md. One JSON line per seed is
appended to ``OUT``: the tree's label, the time, the iterations and the final MSE (equal
MSEs and iterations in both trees show the same fits were timed).

Usage (one tree per process, one thread; alternate the trees)::

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=TREE \\
        python docs/notes/fit_timing.py OUT.jsonl LABEL DATASET HIDDEN SLOPE [REPEATS]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def main(out: Path, label: str, name: str, hidden: int, slope: float, repeats: int) -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from harness import datasets

    import relu_altmin

    relu_altmin.fit(np.random.default_rng(0).standard_normal((50, 3)), np.zeros(50), 4,
                    max_iter=3)  # compile the kernels untimed
    for seed in range(3):
        split = datasets.load(name, seed)
        best, result = float("inf"), None
        for _ in range(repeats):
            start = time.perf_counter()
            result = relu_altmin.fit(split.X_train, split.y_train, hidden,
                                     negative_slope=slope, seed=seed, max_iter=1000)
            best = min(best, time.perf_counter() - start)
        assert result is not None
        line = {"label": label, "dataset": name, "h": hidden, "slope": slope, "seed": seed,
                "seconds": best, "iters": result.n_iter, "final": result.loss}
        with out.open("a") as stream:
            stream.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]),
         int(sys.argv[6]) if len(sys.argv) > 6 else 3)
