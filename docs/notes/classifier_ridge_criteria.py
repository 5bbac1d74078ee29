"""The criteria prototype of docs/notes/2026-12-06-classifier-ridge.md ("Later the same day"):
the rounds of ``l2="auto"`` with the choice of the ridge swapped for a leave-one-out criterion
of the same linearised model (NumPy only, rows in memory, each sample's outputs left out
together), run through the screen script's protocol::

    CRIT=press1se python docs/notes/classifier_ridge_criteria.py breast_cancer 16 auto

``CRIT``: ``miss`` (misclassifications, ties by squared error), ``hinge`` (squared hinge of
the +-1 codes), ``press`` (squared error), ``miss1se`` and ``press1se`` (the largest ridge
within one standard error of the least). ``VERBOSE=1`` prints each round's counts. The
package's ``l2="auto_1se"`` is ``press1se`` with the errors of the standardised outputs.
"""

import os
import runpy
import sys
from pathlib import Path

import numpy as np

import relu_altmin._fit as fit_module
import relu_altmin._ridge as ridge_module
from relu_altmin._model import Evaluation, state_sums
from relu_altmin._systems import HiddenSystem

CRIT = os.environ.get("CRIT", "miss")
SCALING = {}
_standardized = fit_module._standardized


def _keep_scaling(rows, Wt, options):
    rows, Wt, scaling = _standardized(rows, Wt, options)
    SCALING["s"] = scaling
    return rows, Wt, scaling


def reduced(problem, params):
    """The Schur-reduced Gauss-Newton matrix's eigendecomposition and the centring terms."""
    rows = problem.rows
    n, k = rows.n, params.V.shape[1]
    data = Evaluation.from_sums(rows.reduce(state_sums, params, problem.slope, None), params,
                                0.0, n, np)
    system = HiddenSystem.build(rows, params, problem.slope, 0.0, data, joint=True)
    M, rhs = system.matrix, system.rhs[:, 0]
    h, dt = params.Wt.shape
    theta = np.concatenate([params.Wt.reshape(-1), np.r_[params.V, params.c[None, :]].T.ravel()])
    free = [h * dt + o * (h + 1) + h for o in range(k)]
    kept = [i for i in range(M.shape[0]) if i not in set(free)]
    B = M[np.ix_(kept, free)]
    solved = np.linalg.solve(M[np.ix_(free, free)], np.c_[B.T, rhs[free]])
    A = M[np.ix_(kept, kept)] - B @ solved[:, :-1]
    g = rhs[kept] - B @ solved[:, -1]
    s, Q = np.linalg.eigh((A + A.T) / 2)
    s = np.clip(s, 0, None)
    return s, Q, Q.T @ g, Q.T @ theta[kept], kept, (B / n).T, rhs[free] / n


def jacobian(x, params, slope, D, activations):
    """Rows' Jacobian (rows, k, m) in the joint system's order."""
    b, k = x.shape[0], params.V.shape[1]
    h, dt = params.Wt.shape
    J = np.zeros((b, k, h * dt + k * (h + 1)))
    for o in range(k):
        J[:, o, :h * dt] = ((D * params.V[:, o])[:, :, None] * x[:, None, :]).reshape(b, -1)
        J[:, o, h * dt + o * (h + 1): h * dt + o * (h + 1) + h] = activations
        J[:, o, h * dt + o * (h + 1) + h] = 1.0
    return J


def criteria(problem, params):
    """Per ridge of the grid: misclassifications, squared hinge, squared error and the sum of
    each sample's squared error squared, all left out, over the rows."""
    n, k, slope = problem.rows.n, params.V.shape[1], problem.slope
    s, Q, gq, tq, kept, J_mean, r_mean = reduced(problem, params)
    grid = np.array(ridge_module.AUTO_L2_GRID)
    denominator = s[:, None] + n * grid[None, :]
    steps = (gq[:, None] - n * grid[None, :] * tq[:, None]) / denominator
    mu, sig = (np.asarray(a) for a in (SCALING["s"].y_shift, SCALING["s"].y_scale))
    totals = {name: np.zeros(len(grid)) for name in ("miss", "hinge", "press", "fourth")}
    W = params.Wt + (params.S if params.S is not None else 0)
    for Xt, Y in problem.rows.in_memory():
        for lo in range(0, Xt.shape[0], 256):
            x, y = Xt[lo:lo + 256], Y[lo:lo + 256]
            Z = x @ W.T
            activations, D = np.where(Z > 0, Z, slope * Z), np.where(Z > 0, 1.0, slope)
            r = y - activations @ params.V - params.c - r_mean
            U = (jacobian(x, params, slope, D, activations)[:, :, kept] - J_mean[None]) @ Q
            e = r[:, :, None] - U @ steps  # (b, k, G)
            H = np.einsum("bom,bpm,mg->bgop", U, U, 1.0 / denominator) + np.eye(k) / n
            left_out = np.linalg.solve(np.eye(k) - H, np.moveaxis(e, 2, 1)[..., None])[..., 0]
            raw, raw_y = mu + sig * (y[:, None, :] - left_out), mu + sig * y
            if k == 1:
                wrong = (raw[:, :, 0] > 0) != (raw_y[:, :1] > 0)
            else:
                wrong = np.argmax(raw, axis=2) != np.argmax(raw_y, axis=1)[:, None]
            squares = np.sum((sig * left_out) ** 2, axis=2)  # (b, G)
            totals["miss"] += wrong.sum(axis=0)
            totals["hinge"] += np.sum(np.maximum(0, 1 - raw_y[:, None, :] * raw) ** 2, axis=(0, 2))
            totals["press"] += squares.sum(axis=0)
            totals["fourth"] += (squares**2).sum(axis=0)
    return grid, totals


def choose(problem, params, iteration=0, rule=None):
    grid, t = criteria(problem, params)
    n = problem.rows.n
    indices = range(len(grid))
    if CRIT == "miss":
        best = min(indices, key=lambda i: (t["miss"][i], t["press"][i]))
    elif CRIT == "hinge":
        best = int(np.argmin(t["hinge"]))
    elif CRIT == "miss1se":
        least = t["miss"].min()
        best = max(i for i in indices if t["miss"][i] <= least + np.sqrt(least * (1 - least / n)))
    elif CRIT == "press1se":
        i0 = int(np.argmin(t["press"]))
        error = np.sqrt(max(t["fourth"][i0] / n - (t["press"][i0] / n) ** 2, 0) / n) * n
        best = max(i for i in indices if t["press"][i] <= t["press"][i0] + error)
    else:
        best = int(np.argmin(t["press"]))
    if os.environ.get("VERBOSE"):
        print(iteration, "miss", t["miss"].astype(int).tolist(), "best", grid[best],
              file=sys.stderr)
    return ridge_module.RidgeChoice(float(grid[best]), float(t["press"][best]) / n, 0.0,
                                    iteration)


if __name__ == "__main__":
    fit_module._standardized = _keep_scaling
    ridge_module.choose_l2 = choose
    runpy.run_path(str(Path(__file__).with_name("classifier_ridge_screen.py")),
                   run_name="__main__")
