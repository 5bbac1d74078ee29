"""Two escapes from where ``fit`` stalls, measured: negative curvature and a slope homotopy.

The plain alternation (``fit(reinit=False)``, otherwise defaults, ``max_iter`` 1000 by default
here) stops on ``no_progress`` on the small benchmark cells (h = 16) at losses above what tuned
Adam or L-BFGS reach from the same start (``docs/training.md``). This script measures two ways
out that the "beyond the paper" issue leaves open; neither is part of ``fit``. (The escape
``fit`` does take by default, re-initialising a unit at each stall, is measured by
``training.py``; every ``fit`` here runs with ``PLAIN``, without it.)

- ``negative_curvature``: at the stall, the gradient and the eigenvalues of the full Hessian
  (``W``, ``b``, ``V``, ``c``) of the penalised loss with the activation pattern held fixed
  (``torch.autograd``; docs/design.md §2's loss with ``D`` constant). If the smallest eigenvalue is
  negative, the true loss is searched along both signs of its eigenvector (step lengths
  ``1e-4 .. 10`` times the parameter norm, 30 points); from the best point found ``fit``
  runs again, and this repeats while the loss falls (``--rounds`` at most).
- ``continuation``: ``fit`` at a large leak first, then at smaller ones, each from the last
  network (``--slopes``, ``--slope-iters`` iterations each), ending with a full ``fit`` at the
  cell's slope; against the plain ``fit`` from the same seed. A linear network (slope 1) has no
  spurious local minima; the question is whether following it down avoids the poor ones.

At the stall each negative-curvature run also records where the fit stands (``stall``): how
many pre-activations sit on their kink (``|z| <= KINK_RTOL max|Z|``) and a histogram of
``log10(|z| / max|Z|)``; the MSE the fixed-pattern model promises at its minimiser over
``W, b`` (``V``, ``c`` held: the paper's full step); the best true MSE along the ray to that
minimiser (fractions ``1, 1/2, ..., 2**-40``, where the backtracking stops at ``2**-29``) and
along the negative fixed-pattern gradient (steps ``1e-12 .. 0.1`` times the parameter norm).

Each data set is split and standardised as in ``training.py`` (``harness/datasets.py``), for
each seed.
Runs go to ``--jobs`` processes (one thread each); times are for comparison within a row only.
Writes ``<out>/escapes.json`` (machine, configuration, every run), ``<out>/escapes.md`` (median
tables) and ``<out>/escapes.png``.

Usage::

    python benchmarks/escapes.py [--datasets boston diabetes friedman1 digits] [--hidden 16]
        [--slopes-cells 0 0.1] [--seeds 0 1 2] [--continuation-seeds 0 .. 9] [--jobs 2]
    python benchmarks/escapes.py --from-json benchmarks/results/escapes.json  # the report
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import harness.args
import numpy as np
from harness.datasets import load
from harness.jobs import run_jobs
from harness.peers.ours import PLAIN
from harness.record import machine_info
from harness.report import pyplot, rebuild, save_figure, write_report

import relu_altmin

SLOPE_SCHEDULE = (0.9, 0.7, 0.5, 0.35, 0.25, 0.15, 0.1, 0.05, 0.02)
LINE_SEARCH = np.geomspace(1e-4, 10.0, 30)
#: A pre-activation is on its kink when ``|z| <= KINK_RTOL * max|Z|``; drawn at random, about
#: ``2 KINK_RTOL`` of the entries would be, i.e. none at these sizes.
KINK_RTOL = 1e-9
RAY_FRACTIONS = 2.0 ** -np.arange(41)
GRADIENT_STEPS = np.geomspace(1e-12, 0.1, 45)
#: Bins of ``log10(|z| / max|Z|)`` (an exact zero counts in the first).
KINK_BINS = np.arange(-16.0, 0.25, 0.5)


def flat(net: relu_altmin.TwoLayerNet) -> list[np.ndarray]:
    """``[W, b, V, c]`` of a biased network, ``V`` as ``h x k`` and ``c`` as ``k``."""
    V = np.asarray(net.V)
    return [np.asarray(net.W), np.asarray(net.b), V.reshape(V.shape[0], -1),
            np.asarray(net.c).reshape(-1)]


def pattern(X: np.ndarray, W: np.ndarray, b: np.ndarray, slope: float) -> np.ndarray:
    """The activation pattern ``D`` (1 where ``z > 0``, else ``slope``) of ``Z = X W^T + b``."""
    return np.where(X @ W.T + b > 0, 1.0, slope)


def mse(X: np.ndarray, Y: np.ndarray, parts: list[np.ndarray], slope: float,
        held: np.ndarray | None = None) -> float:
    """Training MSE ``(1/n)||F - Y||^2``; with ``held``, a pattern ``D``, of the fixed-pattern
    model ``F = (D * Z) V + c``."""
    W, b, V, c = parts
    Z = X @ W.T + b
    H = np.where(Z > 0, Z, slope * Z) if held is None else held * Z
    return float(np.mean(np.sum((H @ V + c - Y) ** 2, axis=1)))


def objective(X: np.ndarray, Y: np.ndarray, parts: list[np.ndarray], slope: float,
              l2: float) -> float:
    """The penalised loss ``L`` of docs/design.md §2 with the true activation."""
    W, b, V, _ = parts
    return 0.5 * mse(X, Y, parts, slope) + 0.5 * l2 * float(
        np.sum(W**2) + np.sum(b**2) + np.sum(V**2))


def fixed_pattern_derivatives(X: np.ndarray, Y: np.ndarray, parts: list[np.ndarray],
                              theta: np.ndarray, slope: float,
                              l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian of ``L`` over ``theta`` (``parts`` flattened into one vector) with
    the pattern ``D`` of ``parts`` held."""
    import torch

    W, b, _, _ = parts
    D = torch.from_numpy(pattern(X, W, b, slope))
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    shapes = [p.shape for p in parts]
    sizes = [p.size for p in parts]

    def loss(theta: Any) -> Any:
        pieces = zip(torch.split(theta, sizes), shapes, strict=True)
        Wt, bt, Vt, ct = (p.reshape(s) for p, s in pieces)
        F = (D * (Xt @ Wt.T + bt)) @ Vt + ct
        return (0.5 * ((F - Yt) ** 2).sum() / X.shape[0]
                + 0.5 * l2 * ((Wt**2).sum() + (bt**2).sum() + (Vt**2).sum()))

    at = torch.from_numpy(theta)
    grad = torch.autograd.functional.jacobian(loss, at).numpy()
    hess = torch.autograd.functional.hessian(loss, at).numpy()
    return grad, hess


def fixed_pattern_minimiser(X: np.ndarray, Y: np.ndarray, parts: list[np.ndarray],
                            slope: float, l2: float) -> tuple[np.ndarray, np.ndarray]:
    """``W, b`` minimising ``L`` with the pattern ``D`` of ``parts`` and ``V``, ``c`` held (the
    paper's full step), by least squares on the ridge-stacked system ``[J / sqrt(n);
    sqrt(l2) I] w = [(Y - c) / sqrt(n); 0]``, ``J[(m, i), (j, a)] = V[j, m] D[i, j] Xt[i, a]``."""
    W, b, V, c = parts
    n, h = X.shape[0], W.shape[0]
    Xt = np.hstack([X, np.ones((n, 1))])
    D = pattern(X, W, b, slope)
    J = (V.T[:, None, :, None] * D[None, :, :, None] * Xt[None, :, None, :]).reshape(
        V.shape[1] * n, h * Xt.shape[1])
    system = np.vstack([J / np.sqrt(n), np.sqrt(l2) * np.eye(J.shape[1])])
    rhs = np.concatenate([(Y - c).T.ravel() / np.sqrt(n), np.zeros(J.shape[1])])
    w = np.linalg.lstsq(system, rhs, rcond=None)[0].reshape(h, Xt.shape[1])
    return w[:, :-1], w[:, -1]


def stall_diagnosis(X: np.ndarray, Y: np.ndarray, parts: list[np.ndarray], grad: np.ndarray,
                    slope: float, l2: float) -> dict[str, Any]:
    """Where ``fit`` stopped: pre-activations on their kinks, the fixed-pattern model's
    promise, and the best true MSE along the ray to its minimiser and along ``-grad``."""
    W, b, V, c = parts
    Z = np.abs(X @ W.T + b)
    ratio = Z / Z.max()
    W_star, b_star = fixed_pattern_minimiser(X, Y, parts, slope, l2)
    start = objective(X, Y, parts, slope, l2)
    ray = [[W + s * (W_star - W), b + s * (b_star - b), V, c] for s in RAY_FRACTIONS]
    ray_values = [objective(X, Y, trial, slope, l2) for trial in ray]
    best = int(np.argmin(ray_values))
    theta = np.concatenate([p.ravel() for p in parts])
    direction = -grad / np.linalg.norm(grad) * np.linalg.norm(theta)
    descent = [split_like(theta + t * direction, parts) for t in GRADIENT_STEPS]
    descent_values = [objective(X, Y, trial, slope, l2) for trial in descent]
    lowest = int(np.argmin(descent_values))
    log_ratio = np.log10(np.maximum(ratio, 10.0**KINK_BINS[0])).ravel()
    return {"entries": int(Z.size), "on_kink": int(np.sum(ratio <= KINK_RTOL)),
            "kink_histogram": np.histogram(log_ratio, KINK_BINS)[0].tolist(),
            "mse": mse(X, Y, parts, slope),
            "model_mse": mse(X, Y, [W_star, b_star, V, c], slope,
                             held=pattern(X, W, b, slope)),
            "full_step_mse": mse(X, Y, ray[0], slope),
            "ray_mse": mse(X, Y, ray[best], slope) if ray_values[best] < start else None,
            "ray_fraction": float(RAY_FRACTIONS[best]) if ray_values[best] < start else 0.0,
            "gradient_mse": (mse(X, Y, descent[lowest], slope)
                             if descent_values[lowest] < start else None),
            "gradient_step": float(GRADIENT_STEPS[lowest])
            if descent_values[lowest] < start else 0.0}


def split_like(theta: np.ndarray, parts: list[np.ndarray]) -> list[np.ndarray]:
    cuts = np.cumsum([p.size for p in parts])[:-1]
    return [t.reshape(p.shape) for t, p in zip(np.split(theta, cuts), parts, strict=True)]


def negative_curvature(name: str, hidden: int, slope: float, seed: int, max_iter: int,
                       rounds: int) -> dict[str, Any]:
    """Stall, then up to ``rounds`` of (eigen-direction line search, refit) while ``L`` falls."""
    split = load(name, seed)
    X, y = split.X_train, split.y_train
    Y = y.reshape(len(y), -1)
    t0 = time.perf_counter()
    result = relu_altmin.fit(X, y, hidden, negative_slope=slope, seed=seed, max_iter=max_iter,
                             **PLAIN)
    run = {"kind": "negative_curvature", "dataset": name, "hidden": hidden, "slope": slope,
           "seed": seed, "fit_mse": result.loss, "fit_seconds": time.perf_counter() - t0,
           "fit_stop_reason": result.stop_reason, "fit_iterations": result.n_iter,
           "rounds": []}
    net, mse = result.network, result.loss
    for _ in range(rounds):
        t1 = time.perf_counter()
        parts = flat(net)
        theta = np.concatenate([p.ravel() for p in parts])
        grad, hess = fixed_pattern_derivatives(X, Y, parts, theta, slope, result.l2)
        if "stall" not in run:
            t_stall = time.perf_counter()
            run["stall"] = stall_diagnosis(X, Y, parts, grad, slope, result.l2)
            t1 += time.perf_counter() - t_stall  # a measurement, not part of the escape's cost
        eigenvalues, vectors = np.linalg.eigh(hess)
        start = objective(X, Y, parts, slope, result.l2)
        best, best_theta = start, None
        if eigenvalues[0] < 0:
            for sign in (1.0, -1.0):
                for t in LINE_SEARCH * np.linalg.norm(theta):
                    candidate = theta + sign * t * vectors[:, 0]
                    value = objective(X, Y, split_like(candidate, parts), slope, result.l2)
                    if value < best:
                        best, best_theta = value, candidate
        record = {"grad_norm": float(np.linalg.norm(grad)), "lambda_min": float(eigenvalues[0]),
                  "lambda_max": float(eigenvalues[-1]),
                  "objective": start, "searched_objective": best,
                  "search_seconds": time.perf_counter() - t1}
        run["rounds"].append(record)
        if best_theta is None:
            break
        W, b, V, c = split_like(best_theta, parts)
        shape = np.asarray(net.V).shape
        t2 = time.perf_counter()
        refit = relu_altmin.fit(
            X, y, hidden, negative_slope=slope, max_iter=max_iter, **PLAIN,
            init=relu_altmin.TwoLayerNet(W, b, V.reshape(shape), c.reshape(np.shape(net.c)),
                                         negative_slope=slope))
        record.update(refit_mse=refit.loss, refit_seconds=time.perf_counter() - t2,
                      refit_stop_reason=refit.stop_reason)
        if refit.loss >= mse:
            break
        net, mse = refit.network, refit.loss
    run["final_mse"] = mse
    return run


def continuation(name: str, hidden: int, slope: float, seed: int, max_iter: int,
                 slopes: list[float], slope_iters: int) -> dict[str, Any]:
    """Plain ``fit`` against the slope homotopy ``slopes -> slope`` from the same seed."""
    split = load(name, seed)
    X, y = split.X_train, split.y_train
    t0 = time.perf_counter()
    plain = relu_altmin.fit(X, y, hidden, negative_slope=slope, seed=seed, max_iter=max_iter,
                            **PLAIN)
    t1 = time.perf_counter()
    net = relu_altmin.fit(X, y, hidden, negative_slope=slope, seed=seed, max_iter=0).network
    for s in (s for s in slopes if s > slope):
        net = relu_altmin.fit(X, y, hidden, negative_slope=s, init=net,
                              max_iter=slope_iters, **PLAIN).network
    homotopy = relu_altmin.fit(X, y, hidden, negative_slope=slope, init=net, max_iter=max_iter,
                               **PLAIN)
    t2 = time.perf_counter()
    return {"kind": "continuation", "dataset": name, "hidden": hidden, "slope": slope,
            "seed": seed, "plain_mse": plain.loss, "plain_seconds": t1 - t0,
            "continuation_mse": homotopy.loss, "continuation_seconds": t2 - t1}


def cells(runs: list[dict[str, Any]], kind: str) -> dict[tuple, list[dict[str, Any]]]:
    grouped: dict[tuple, list[dict[str, Any]]] = {}
    for r in runs:
        if r["kind"] == kind:
            grouped.setdefault((r["dataset"], r["hidden"], r["slope"]), []).append(r)
    return grouped


def by_seed(runs: list[dict[str, Any]], kind: str) -> Iterator[tuple[str, int, float, dict]]:
    """``(data set, h, slope, run)`` for every run of ``kind``, cell by cell, seeds in order."""
    for (name, h, slope), rs in cells(runs, kind).items():
        for r in sorted(rs, key=lambda r: r["seed"]):
            yield name, h, slope, r


def markdown(runs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    m, cfg = meta["machine"], meta["config"]
    lines = ["# Escapes from fit's stalls", "",
             f"{m['date']}; {m['cpu']} ({m['cores']} cores), Python {m['python']}, "
             f"relu-altmin {m['versions']['relu_altmin']}, NumPy {m['versions']['numpy']}, "
             f"torch {m['versions']['torch']}; {cfg['jobs']} processes of one thread; "
             f"`fit` max_iter {cfg['max_iter']}; {cfg['total_seconds']:.0f} s in all.", "",
             "## Negative curvature of the fixed-pattern loss at the stall", "",
             "Per seed: `fit`'s MSE at the stall, `||grad L||`, smallest and largest eigenvalue "
             "of the fixed-pattern Hessian (first round), and the MSE after the line searches "
             "and refits (`rounds` of them).", "",
             "| data set | h | slope | seed | stop | stall MSE | grad norm | lambda_min | "
             "lambda_max | rounds | final MSE | extra s |",
             "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, h, slope, r in by_seed(runs, "negative_curvature"):
        first = r["rounds"][0]
        extra = sum(x["search_seconds"] + x.get("refit_seconds", 0.0) for x in r["rounds"])
        refits = sum("refit_mse" in x for x in r["rounds"])
        lines.append(
            f"| {name} | {h} | {slope:g} | {r['seed']} | {r['fit_stop_reason']} | "
            f"{r['fit_mse']:.5g} | {first['grad_norm']:.2g} | {first['lambda_min']:.2g} | "
            f"{first['lambda_max']:.2g} | {refits} | {r['final_mse']:.5g} | {extra:.1f} |")
    lines += ["", "## At the stall: the pattern on its kinks", "",
              f"Per seed, at `fit`'s stall: pre-activations on their kink (`|z| <= "
              f"{KINK_RTOL:g} max|Z|`, of all `n h`); the MSE of the fixed-pattern model at its "
              "minimiser over `W, b` with `V, c` held (the paper's full step); the true MSE "
              "there; the largest relative decrease of the true MSE (`1 - MSE / stall MSE`) "
              "along the ray to it (at fraction `s`; - = none) and along the negative "
              "fixed-pattern gradient (at a step of `t` times the parameter norm). Points are "
              "chosen by the penalised loss, so a decrease can be negative by rounding.", "",
              "| data set | h | slope | seed | stall MSE | on kink | model MSE | full step MSE "
              "| decrease on the ray (s) | decrease along -gradient (t) |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, h, slope, r in by_seed(runs, "negative_curvature"):
        st = r["stall"]
        ray = ("-" if st["ray_mse"] is None else
               f"{1 - st['ray_mse'] / st['mse']:.1e} ({st['ray_fraction']:.2g})")
        down = ("-" if st["gradient_mse"] is None else
                f"{1 - st['gradient_mse'] / st['mse']:.1e} ({st['gradient_step']:.2g})")
        lines.append(f"| {name} | {h} | {slope:g} | {r['seed']} | {st['mse']:.6g} | "
                     f"{st['on_kink']} of {st['entries']} | {st['model_mse']:.5g} | "
                     f"{st['full_step_mse']:.5g} | {ray} | {down} |")
    lines += ["", "## Slope continuation against the plain fit", "",
              f"Slopes {', '.join(f'{s:g}' for s in cfg['slope_schedule'])} (those above the "
              f"cell's), {cfg['slope_iters']} iterations each, then `fit` at the cell's slope. "
              "Medians over the seeds; 'lower' counts the seeds where the continuation ends "
              "lower than the plain fit from the same seed.", "",
              "| data set | h | slope | seeds | plain MSE | continuation MSE | lower | plain s "
              "| continuation s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for (name, h, slope), rs in cells(runs, "continuation").items():
        lower = sum(r["continuation_mse"] < r["plain_mse"] for r in rs)
        med = {k: statistics.median(r[k] for r in rs) for k in (
            "plain_mse", "continuation_mse", "plain_seconds", "continuation_seconds")}
        lines.append(f"| {name} | {h} | {slope:g} | {len(rs)} | {med['plain_mse']:.5g} | "
                     f"{med['continuation_mse']:.5g} | {lower}/{len(rs)} | "
                     f"{med['plain_seconds']:.2f} | {med['continuation_seconds']:.2f} |")
    return "\n".join(lines) + "\n"


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    fig, (ax1, ax2, ax3) = pyplot().subplots(1, 3, figsize=(16, 4))
    for i, (key, rs) in enumerate(cells(runs, "negative_curvature").items()):
        ratio = [-r["rounds"][0]["lambda_min"] / r["rounds"][0]["lambda_max"] for r in rs]
        gain = [r["final_mse"] / r["fit_mse"] for r in rs]
        ax1.scatter(np.maximum(ratio, 1e-16), gain, label="{} h={} slope={:g}".format(*key),
                    color=f"C{i}")
    ax1.set_xscale("log")
    ax1.set_xlabel("-lambda_min / lambda_max at the stall")
    ax1.set_ylabel("MSE after escapes / MSE at the stall")
    ax1.set_title("negative curvature")
    ax1.legend(fontsize=7)
    for i, (key, rs) in enumerate(cells(runs, "continuation").items()):
        ax2.scatter([r["plain_mse"] for r in rs], [r["continuation_mse"] for r in rs],
                    label="{} h={} slope={:g}".format(*key), color=f"C{i}")
    lo, hi = ax2.get_xlim()
    ax2.plot([lo, hi], [lo, hi], "k:", lw=1)
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("plain fit MSE")
    ax2.set_ylabel("slope continuation MSE")
    ax2.set_title("slope continuation (below the line: lower)")
    ax2.legend(fontsize=7)
    centres = (KINK_BINS[:-1] + KINK_BINS[1:]) / 2
    for i, (key, rs) in enumerate(cells(runs, "negative_curvature").items()):
        for j, r in enumerate(rs):
            counts = np.asarray(r["stall"]["kink_histogram"], dtype=float)
            ax3.step(centres, np.where(counts > 0, counts, np.nan), where="mid", color=f"C{i}",
                     alpha=0.7, label="{} h={} slope={:g}".format(*key) if j == 0 else None)
    ax3.axvline(np.log10(KINK_RTOL), color="k", ls=":", lw=1)
    ax3.set_yscale("log")
    ax3.set_xlabel("log10(|z| / max|Z|) at the stall (left of the line: on the kink)")
    ax3.set_ylabel("pre-activations")
    ax3.set_title("pre-activations at the stall")
    ax3.legend(fontsize=7)
    save_figure(fig, path, dpi=80)


def main(argv: list[str] | None = None) -> None:
    parser = harness.args.parser(__doc__, harness.args.parent("escapes", workers=2))
    parser.add_argument("--datasets", nargs="+",
                        default=["boston", "diabetes", "friedman1", "digits"])
    parser.add_argument("--hidden", type=int, nargs="+", default=[16])
    parser.add_argument("--slopes-cells", type=float, nargs="+", default=[0.0, 0.1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="seeds of the negative-curvature runs")
    parser.add_argument("--continuation-seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--max-iter", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slope-schedule", type=float, nargs="+", default=list(SLOPE_SCHEDULE))
    parser.add_argument("--slope-iters", type=int, default=10)
    args = parser.parse_args(argv)
    if args.from_json:
        rebuild(args, lambda saved: markdown(saved["runs"], saved), plot)
        return
    name = harness.args.report_name(args, "escapes")

    grid = [(n, h, a) for n in args.datasets for h in args.hidden for a in args.slopes_cells]
    jobs = [(negative_curvature, (*cell, seed, args.max_iter, args.rounds))
            for cell in grid for seed in args.seeds]
    jobs += [(continuation, (*cell, seed, args.max_iter, args.slope_schedule, args.slope_iters))
             for cell in grid for seed in args.continuation_seeds]
    runs, seconds = run_jobs(
        jobs, args.workers, lambda run: (f"{run['kind']} {run['dataset']} h={run['hidden']} "
                                         f"slope={run['slope']:g} seed={run['seed']}"))
    options = harness.args.settings(args)
    config = {**{k: v for k, v in options.items() if k not in ("out", "name", "workers")},
              "jobs": args.workers, "total_seconds": seconds}
    meta = {"machine": machine_info(), "config": config}
    write_report(args.out, name, {"benchmark": "escapes", **meta, "runs": runs},
                 markdown(runs, meta), plot)


if __name__ == "__main__":
    main()
