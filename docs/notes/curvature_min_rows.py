"""Sub-sampled curvature below 20 000 rows (docs/notes/2026-12-07-curvature-min-rows.md).

Friedman #1 (``make_friedman1``, noise 1, standardised) at n = 2 500, 5 000 and 10 000 rows,
16 and 32 ReLU units, seeds 0-2: ``fit(max_iter=1000)`` with ``CURVATURE_MIN_ROWS`` at 20 000
(every row) and at a lower threshold (the default rule's sample), each to its own stop. One
JSON line per case: final MSE, seconds, iterations, and each fit's time to reach the higher
of the two final MSEs (the *common* loss).

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 python docs/notes/curvature_min_rows.py 2000 > OUT
"""

import json
import sys
import time

from sklearn.datasets import make_friedman1

import relu_altmin
from relu_altmin import _steps

low = int(sys.argv[1])
for n in (2500, 5000, 10000):
    for h in (16, 32):
        for seed in (0, 1, 2):
            X, y = make_friedman1(n, noise=1.0, random_state=seed)
            X = (X - X.mean(0)) / X.std(0)
            y = (y - y.mean()) / y.std()
            out = {}
            for label, rows in (("all", 20_000), ("sampled", low)):
                _steps.CURVATURE_MIN_ROWS = rows
                t0 = time.perf_counter()
                res = relu_altmin.fit(X, y, h, seed=seed, max_iter=1000)
                out[label] = (res.loss, time.perf_counter() - t0,
                              [(r.seconds, r.loss) for r in res.history], res.n_iter)
            common = max(out["all"][0], out["sampled"][0])
            record = {"n": n, "h": h, "slope": 0.0, "seed": seed}
            for label, (loss, seconds, trace, iterations) in out.items():
                record[label] = {"mse": loss, "s": round(seconds, 2), "iters": iterations,
                                 "reach_common": next(t for t, v in trace if v <= common)}
            print(json.dumps(record), flush=True)
