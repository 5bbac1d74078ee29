"""The screen of docs/notes/2026-12-05-gcv-gamma.md: the estimators' defaults (seed 0) with
``AUTO_L2_GAMMA`` patched to each value given, on generalisation.py's cells but digits at h 64,
one JSON line per cell:
``python docs/notes/gcv_gamma_screen.py 1.0 1.4 2.0 > docs/notes/2026-12-05-gcv-gamma.jsonl``."""

import json
import sys
from pathlib import Path

import numba
from threadpoolctl import threadpool_limits

import relu_altmin._ridge as ridge

sys.path.insert(0, str(Path(__file__).parents[2] / "benchmarks"))
import generalisation as g

CLASSIFIER_CELLS = [("breast_cancer", 16), ("breast_cancer", 64), ("wine", 16), ("wine", 64),
                    ("digits", 16)]


def main(gammas: list[float]) -> None:
    threadpool_limits(1)
    numba.set_num_threads(1)
    cells = [(n, h) for h in (16, 64) for n in g.REGRESSION if (n, h) != ("digits", 64)]
    for gamma in gammas:
        ridge.AUTO_L2_GAMMA = gamma
        for name, h in cells:
            r = g.run_regression(name, h, 0, "default", None, 10000)
            print(json.dumps({"gamma": gamma, "part": "reg", "d": name, "h": h, "seed": 0,
                              "mse": r.get("mse"), "l2": r.get("l2"),
                              "s": round(r.get("seconds", 0), 2)}), flush=True)
        for name, h in CLASSIFIER_CELLS:
            r = g.run_classification(name, h, 0, "default", None)
            print(json.dumps({"gamma": gamma, "part": "clf", "d": name, "h": h,
                              "acc": r.get("accuracy"), "l2": r.get("l2"),
                              "s": round(r.get("seconds", 0), 2)}), flush=True)


if __name__ == "__main__":
    main([float(a) for a in sys.argv[1:]])
