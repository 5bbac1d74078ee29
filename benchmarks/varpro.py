"""Variable projection against the alternation on small data: does a quasi-Newton method on
the reduced problem earn a place beside ``fit``?

The reduced problem eliminates the output layer by its exact ridge solve at every evaluation,

    phi(W~) = min_{V, c} (1/2n) ||Y - [H(W~), 1] [V; c]||^2 + (lam/2) (||W~||^2 + ||V||^2),

and by the envelope theorem its gradient is the partial gradient in ``W~`` at the minimising
``V, c`` (Golub and Pereyra's variable projection, in Kaufman's form): one forward pass, one
``(h+1) x (h+1)`` solve and one backward pass per evaluation. SciPy's L-BFGS-B runs on it to
convergence (``gtol = ftol = 0``, at most ``--max-evals`` evaluations or ``--time-cap``
seconds) from the same start as ``fit`` (``seed``'s ``N(0, 1/d)`` hidden weights), at the
same ridge (``fit``'s default ``l2=None``).

For each data set, width and seed the script runs, in one process on one thread, the
converged peer ``MLPRegressor(solver="lbfgs", max_iter=5000, max_fun=50000, tol=0,
alpha=1e-4)`` (the speed issue's "converged L-BFGS", ReLU so slope 0), ``fit`` with its
defaults (``max_iter`` 1000) and the variable-projection L-BFGS, and reports each one's time
to first reach the peer's final training MSE (never: inf) and its final MSE. Writes
``results/<name>.json``, ``.md`` and ``.png``.

Usage::

    python benchmarks/varpro.py [--datasets ...] [--hidden 16 64] [--seeds 0 1 2]
    python benchmarks/varpro.py --quick      # housing, h 16, seed 0, short runs
    python benchmarks/varpro.py --from-json benchmarks/results/varpro.json  # the report
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import harness.args
import numpy as np
from harness.datasets import DATASETS, HELD_OUT, load
from harness.jobs import run_jobs
from harness.record import machine_info
from harness.report import pyplot, rebuild, save_figure, write_report
from harness.report import table as markdown_table

import relu_altmin

#: The converged peer's settings (benchmarks/training.py's ``sklearn_lbfgs_conv``).
PEER = {"max_iter": 5000, "max_fun": 50000, "tol": 0.0, "alpha": 1e-4}


class ReducedProblem:
    """The reduced objective ``phi(W~)`` and its gradient, every evaluation timed."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, hidden: int, lam: float) -> None:
        self.Xt = np.c_[X, np.ones(len(X))]
        self.Y = Y[:, None] if Y.ndim == 1 else Y
        self.hidden, self.lam = hidden, lam
        self.trace: list[tuple[float, float]] = []  # (seconds, training MSE) per evaluation
        self.began = time.perf_counter()

    def __call__(self, w: np.ndarray) -> tuple[float, np.ndarray]:
        n, h = len(self.Xt), self.hidden
        Wt = w.reshape(h, -1)
        Z = self.Xt @ Wt.T
        D = (Z > 0).astype(float)
        Hb = np.c_[D * Z, np.ones(n)]
        penalty = np.r_[np.full(h, n * self.lam), 0.0]
        theta = np.linalg.solve(Hb.T @ Hb + np.diag(penalty), Hb.T @ self.Y)
        E = Hb @ theta - self.Y
        mse = float(np.sum(E * E)) / n
        V = theta[:h]
        value = 0.5 * mse + 0.5 * self.lam * (float(np.sum(Wt * Wt)) + float(np.sum(V * V)))
        grad = ((E @ V.T) * D).T @ self.Xt / n + self.lam * Wt
        self.trace.append((time.perf_counter() - self.began, mse))
        return value, grad.ravel()


def run_varpro(X: np.ndarray, y: np.ndarray, hidden: int, seed: int, lam: float,
               max_evals: int, time_cap: float) -> dict[str, Any]:
    """L-BFGS-B on the reduced problem from ``fit``'s default start."""
    from scipy.optimize import minimize

    d = X.shape[1]
    start = np.random.default_rng(seed).standard_normal((hidden, d + 1)) / math.sqrt(d)
    problem = ReducedProblem(X, y, hidden, lam)

    def capped(w: np.ndarray) -> tuple[float, np.ndarray]:
        if time.perf_counter() - problem.began > time_cap:
            raise TimeoutError
        return problem(w)

    try:
        minimize(capped, start.ravel(), jac=True, method="L-BFGS-B",
                 options={"maxfun": max_evals, "maxiter": max_evals, "gtol": 0.0, "ftol": 0.0,
                          "maxcor": 20})
    except TimeoutError:
        pass
    return {"trace": problem.trace, "seconds": problem.trace[-1][0],
            "loss": min(loss for _, loss in problem.trace), "evaluations": len(problem.trace)}


def run_peer(X: np.ndarray, y: np.ndarray, hidden: int, seed: int) -> dict[str, Any]:
    """The converged ``MLPRegressor(solver="lbfgs")``: its final MSE and wall time."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    model = MLPRegressor(hidden_layer_sizes=(hidden,), solver="lbfgs", random_state=seed,
                         **PEER)
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    seconds = time.perf_counter() - began
    return {"loss": float(np.mean((model.predict(X) - y) ** 2)), "seconds": seconds}


def time_to(trace: list[tuple[float, float]], target: float) -> float:
    """First time a trace's MSE is at or below ``target`` (inf if never)."""
    return next((t for t, loss in trace if loss <= target), math.inf)


def run_cell(name: str, hidden: int, seed: int, max_iter: int, max_evals: int,
             time_cap: float) -> dict[str, Any]:
    split = load(name, seed)
    X, y = split.X_train, split.y_train
    peer = run_peer(X, y, hidden, seed)
    result = relu_altmin.fit(X, y, hidden, seed=seed, max_iter=max_iter)
    fit_trace = [(r.seconds, r.loss) for r in result.history]
    varpro = run_varpro(X, y, hidden, seed, result.l2, max_evals, time_cap)
    out = {"dataset": name, "hidden": hidden, "seed": seed, "n": len(X),
           "peer_loss": peer["loss"], "peer_seconds": peer["seconds"],
           "fit_loss": result.loss, "fit_seconds": fit_trace[-1][0],
           "fit_to_peer": time_to(fit_trace, peer["loss"]),
           "varpro_loss": varpro["loss"], "varpro_seconds": varpro["seconds"],
           "varpro_evaluations": varpro["evaluations"],
           "varpro_to_peer": time_to(varpro["trace"], peer["loss"])}
    return out


def cells(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (data set, h): medians over the seeds."""
    keys = sorted({(r["dataset"], r["hidden"]) for r in runs}, key=str)
    table = []
    for dataset, hidden in keys:
        group = [r for r in runs if (r["dataset"], r["hidden"]) == (dataset, hidden)]

        def median(field: str, group: list[dict[str, Any]] = group) -> float:
            return float(np.median([r[field] for r in group]))

        table.append({"dataset": dataset, "hidden": hidden, "seeds": len(group),
                      **{f: median(f) for f in ("peer_seconds", "fit_to_peer", "varpro_to_peer",
                                                "peer_loss", "fit_loss", "varpro_loss")}})
    return table


def markdown(report: dict[str, Any]) -> str:
    m, table = report["machine"], cells(report["runs"])
    fit_wins = sum(c["fit_to_peer"] <= c["peer_seconds"] for c in table)
    vp_wins = sum(c["varpro_to_peer"] <= c["peer_seconds"] for c in table)
    vp_first = sum(c["varpro_to_peer"] < c["fit_to_peer"] for c in table)
    lines = [
        "# Variable-projection L-BFGS against the alternation (small data)", "",
        f"Generated by `benchmarks/varpro.py` on {m['date']} ({m['cpu']}, one thread per "
        f"process, {report['config']['workers']} processes; relu-altmin "
        f"{m['versions'].get('relu_altmin')}). Slope 0, `fit` defaults with `max_iter="
        f"{report['config']['max_iter']}`; the reduced problem at `fit`'s ridge from `fit`'s "
        "start; the peer is the converged `MLPRegressor(solver=\"lbfgs\")`. Medians over the "
        "seeds per cell; times in seconds, inf = never reached.", "",
        f"- `fit` reaches the peer's final MSE within the peer's wall time on **{fit_wins} of "
        f"{len(table)}** cells; variable projection on **{vp_wins} of {len(table)}**.",
        f"- Variable projection reaches it before `fit` on **{vp_first} of {len(table)}** "
        "cells.", "",
        *markdown_table(
            ["data set", "h", "peer MSE", "peer s", "fit to peer", "VarPro to peer", "fit MSE",
             "VarPro MSE"], "lrrrrrrr",
            [[c["dataset"], c["hidden"], f"{c['peer_loss']:.4g}", f"{c['peer_seconds']:.2f}",
              f"{c['fit_to_peer']:.2f}", f"{c['varpro_to_peer']:.2f}", f"{c['fit_loss']:.4g}",
              f"{c['varpro_loss']:.4g}"] for c in table]),
    ]
    return "\n".join(lines) + f"\n\n![times]({report['name']}.png)\n"


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    table = cells(runs)
    fig, ax = pyplot().subplots(figsize=(7, 3.5))
    labels = [f"{c['dataset']} h{c['hidden']}" for c in table]
    for field, marker in (("fit_to_peer", "o"), ("varpro_to_peer", "x")):
        ratios = [c[field] / c["peer_seconds"] for c in table]
        ax.plot(range(len(table)), [r if math.isfinite(r) else np.nan for r in ratios],
                marker, label=f"{field.split('_')[0]}: time to peer / peer time")
    ax.axhline(1.0, color="grey", linestyle=":")
    ax.set_yscale("log")
    ax.set_xticks(range(len(table)), labels, rotation=60, ha="right", fontsize=7)
    ax.legend(fontsize=7)
    save_figure(fig, path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = harness.args.parser(__doc__, harness.args.parent(
        "varpro (varpro_quick with --quick)", workers=1))
    regression = [d for d in DATASETS + HELD_OUT if d not in ("digits", "breast_cancer")]
    parser.add_argument("--datasets", nargs="+", default=regression)
    parser.add_argument("--hidden", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-iter", type=int, default=1000)
    parser.add_argument("--max-evals", type=int, default=20000)
    parser.add_argument("--time-cap", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.datasets, args.hidden, args.seeds = ["housing"], [16], [0]
        args.max_iter, args.max_evals, args.time_cap = 20, 200, 10.0
    if args.from_json:
        rebuild(args, markdown, plot)
        return
    name = harness.args.report_name(args, "varpro_quick" if args.quick else "varpro")
    jobs = [(run_cell, (d, h, s, args.max_iter, args.max_evals, args.time_cap))
            for d in args.datasets for h in args.hidden for s in args.seeds]
    runs, seconds = run_jobs(jobs, args.workers, lambda r: (
        f"{r['dataset']} h{r['hidden']} s{r['seed']}: peer {r['peer_seconds']:.2f}s, fit "
        f"{r['fit_to_peer']:.2f}s, varpro {r['varpro_to_peer']:.2f}s"))
    report = {"name": name, "machine": machine_info(), "seconds": seconds,
              "config": {**harness.args.settings(args), "peer": PEER}, "runs": runs}
    write_report(args.out, name, report, markdown(report), plot)


if __name__ == "__main__":
    main(sys.argv[1:])
