"""Where the small-data misses of issue 24 come from: the endgame or the basin
(docs/notes/2026-12-07-curvature-min-rows.md, "The misses that remain").

``handoff CELL ...``: ``fit(max_iter=1000)`` to its own stop, then torch's converged L-BFGS
(the benchmark's ``torch_lbfgs_conv``: strong Wolfe, history 20, capped here at 30 s) from
``fit``'s network. ``after CELL K ...``: the same L-BFGS from ``fit``'s network after ``K``
iterations. Each L-BFGS runs twice: from the network as ``fit`` left it, and *balanced*: each
unit rescaled, ``(w_j, b_j) * a_j`` and ``v_j / a_j`` with ``a_j = sqrt(||v_j|| / ||(w_j,
b_j)||)``, the same function (the activation is positively homogeneous) with both layers'
norms equal per unit; ``fit``'s steps are nearly invariant to that scale, L-BFGS's are not.
A CELL is a JSON list ``[data set, h, slope, seed]``; the target printed beside
each is that seed's better converged L-BFGS peer in
``benchmarks/results/training_lbfgs.json``. One JSON line per run, on one thread:

    OPENBLAS_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=. python \\
        docs/notes/basin_diagnostics.py handoff '["housing", 64, 0.0, 0]' > OUT
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
CAP = 30.0


def target(name: str, h: int, slope: float, seed: int) -> tuple[str, float, float]:
    """The seed's better converged L-BFGS peer: (method, final MSE, seconds)."""
    runs = json.loads(RESULTS.read_text())["runs"]
    peers = [(r["method"], r["train_mse"], r["seconds"]) for r in runs
             if (r["dataset"], r["hidden"], r["slope"], r["seed"]) == (name, h, slope, seed)
             and r["method"] in ("torch_lbfgs_conv", "sklearn_lbfgs_conv")]
    return min(peers, key=lambda p: p[1])


def lbfgs_from(split: datasets.Split, slope: float, net: relu_altmin.TwoLayerNet,
               balanced: bool) -> dict:
    W, b = np.array(net.W, dtype=np.float64), np.array(net.b, dtype=np.float64)
    V = np.asarray(net.V, dtype=np.float64).reshape(W.shape[0], -1).copy()
    if balanced:
        w_norm = np.sqrt(np.sum(W**2, axis=1) + b**2)
        v_norm = np.linalg.norm(V, axis=1)
        alive = (w_norm > 0) & (v_norm > 0)
        a = np.where(alive, np.sqrt(v_norm / np.where(alive, w_norm, 1.0)), 1.0)
        W, b, V = W * a[:, None], b * a, V / a[:, None]
    start = Start(W, b, V, np.atleast_1d(np.asarray(net.c, dtype=np.float64)).copy(), net)
    return torch_optim.run_lbfgs(split, slope, start, Device.for_backend("numpy"),
                                 **torch_optim.TORCH_LBFGS["torch_lbfgs_conv"], time_cap=CAP)


def main(mode: str, cell: str, *rest: str) -> None:
    torch.set_num_threads(1)
    name, h, slope, seed = json.loads(cell)
    split = datasets.load(name, seed)
    peer = target(name, h, float(slope), seed)
    for max_iter in [1000] if mode == "handoff" else [int(k) for k in rest]:
        t0 = time.perf_counter()
        fitted = relu_altmin.fit(split.X_train, split.y_train, h, negative_slope=slope,
                                 seed=seed, max_iter=max_iter)
        fit_seconds = time.perf_counter() - t0
        record = {"cell": [name, h, slope, seed], "fit_iterations": fitted.n_iter,
                  "fit_stop": fitted.stop_reason, "fit_mse": fitted.loss,
                  "fit_s": round(fit_seconds, 2), "peer": peer[0], "target": peer[1],
                  "peer_s": round(peer[2], 2)}
        for label, balanced in (("lbfgs", False), ("balanced_lbfgs", True)):
            out = lbfgs_from(split, slope, fitted.network, balanced)
            record.update({f"{label}_mse": out["train_mse"], f"{label}_s": round(out["seconds"], 2),
                           f"{label}_stop": out["info"]["stop"]})
        print(json.dumps(record), flush=True)
    if mode == "handoff" and rest:
        main(mode, *rest)


if __name__ == "__main__":
    main(*sys.argv[1:])
