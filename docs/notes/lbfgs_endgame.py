"""A prototype endgame, measured before it is built (docs/notes/2026-12-07-curvature-min-rows.md,
"A lead: L-BFGS on balanced units after the fit").

``fit(max_iter=1000)`` to its own stop, then torch's converged L-BFGS (the benchmark's
``torch_lbfgs_conv``: strong Wolfe, history 20) for at most CAP seconds from ``fit``'s network
with each unit balanced (``(w_j, b_j) * a_j``, ``v_j / a_j``, ``a_j = sqrt(||v_j|| /
||(w_j, b_j)||)``: the same function). Per seed: the final MSE, and the time to first reach
the seed's target of ``benchmarks/results/training_lbfgs.json`` (the better converged L-BFGS
peer's final MSE), counting ``fit``'s time first. One JSON line per CELL
(``[data set, h, slope, seed]``), on one thread:

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=. python \\
        docs/notes/lbfgs_endgame.py 40 '["cps1988", 64, 0.1, 2]' > OUT
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

import relu_altmin
from benchmarks.harness import datasets
from benchmarks.harness.peers import torch_optim
from benchmarks.harness.peers.common import Device, Start

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "training_lbfgs.json"

torch.set_num_threads(1)
peers_of: dict = {}
for r in json.loads(RESULTS.read_text())["runs"]:
    peers_of.setdefault((r["dataset"], r["hidden"], r["slope"], r["seed"]), {})[r["method"]] = r
cap = float(sys.argv[1])
for cell in sys.argv[2:]:
    name, h, slope, seed = json.loads(cell)
    split = datasets.load(name, seed)
    t0 = time.perf_counter()
    res = relu_altmin.fit(split.X_train, split.y_train, h, negative_slope=slope, seed=seed,
                          max_iter=1000)
    fit_s = time.perf_counter() - t0
    net = res.network
    W, b = np.array(net.W), np.array(net.b)
    V = np.asarray(net.V, dtype=np.float64).reshape(h, -1).copy()
    wn = np.sqrt(np.sum(W**2, 1) + b**2)
    vn = np.linalg.norm(V, axis=1)
    a = np.sqrt(np.maximum(vn, 1e-300) / np.maximum(wn, 1e-300))
    start = Start(W * a[:, None], b * a, V / a[:, None],
                  np.atleast_1d(np.asarray(net.c, dtype=np.float64)).copy(), net)
    out = torch_optim.run_lbfgs(split, slope, start, Device.for_backend("numpy"),
                                **torch_optim.TORCH_LBFGS["torch_lbfgs_conv"], time_cap=cap)
    peers = peers_of[(name, h, float(slope), seed)]
    best = min(("torch_lbfgs_conv", "sklearn_lbfgs_conv"), key=lambda m: peers[m]["train_mse"])
    target = peers[best]["train_mse"]
    fit_reach = next((r.seconds for r in res.history if r.loss <= target), None)
    lbfgs_reach = next((t for t, v in out["trace"] if v <= target), None)
    reach = fit_reach if fit_reach is not None else (
        None if lbfgs_reach is None else fit_s + lbfgs_reach)
    print(json.dumps({"cell": [name, h, slope, seed], "fit_mse": res.loss,
                      "fit_s": round(fit_s, 2), "end_mse": out["train_mse"],
                      "end_s": round(fit_s + out["seconds"], 2), "target": target, "peer": best,
                      "peer_s": round(peers[best]["seconds"], 2), "reach": reach}), flush=True)
