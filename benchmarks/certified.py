"""How many fits on the benchmark's data sets now end certified (issue 25, item 3).

``fit`` stops with ``stop_reason="critical_point"`` when the ordinary relative residuals
(``critical_point_residuals``) are at most ``tol``, or, at a fixed point of the alternation with
the rows in memory, when the nonsmooth (Clarke) hidden residual is: ``W`` and ``b`` minimised
over the slopes in ``[a, 1]`` of the pre-activations tied within rounding
(``critical_point_residuals(..., nonsmooth=True)``, ``relu_altmin/_certificate.py``).

For every data set of ``harness/datasets.py`` (split and standardised for the seed), hidden
width, negative slope and seed this script runs two variants from the same start:

- ``default``: ``fit(X, y, h, negative_slope=slope, seed=seed)`` with its defaults
  (``--max-iter``, default 100), re-initialising a unit at each stall;
- ``plain``: the same with ``reinit=False`` (the plain alternation, which stops at its first
  fixed point; ``--plain-max-iter``, default 300).

For each fit it records the stop reason, iterations, training MSE, the ordinary and the
nonsmooth residuals (``l2=result.l2``), how many pre-activations are tied at the certificate's
rounding tolerance (``relu_altmin._certificate.tie_tolerance``) and within ``1e-10``, ``1e-8``
and ``1e-6`` relative (``|z_ij| / (||x~_i|| ||w~_j||)``, ``x~ = [x, 1]``, ``w~ = [w, b]``),
whether it ended certified (``stop_reason == "critical_point"``), and whether it would be
certified at ``tol`` ``1e-8`` and ``1e-6`` by the ordinary residuals, the nonsmooth ones, or
either (every residual, ``W``, ``b``, ``V`` and ``c``, at most ``tol``).

Runs go to ``--workers`` processes of one thread each. Writes ``<out>/<name>.json`` (machine,
configuration, every run), ``<out>/<name>.md`` (summary lines and a table of medians over the
seeds) and ``<out>/<name>.png`` (ordinary against nonsmooth hidden residual).

Usage::

    python benchmarks/certified.py                      # the full grid
    python benchmarks/certified.py --quick --out /tmp   # diabetes, h 16, seed 0, max_iter 5
    python benchmarks/certified.py --seeds 0 --hidden 16 --datasets diabetes boston
    python benchmarks/certified.py --from-json benchmarks/results/certified.json  # re-render
"""

from __future__ import annotations

import inspect
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import harness.args
import numpy as np
from harness.datasets import DATASETS, load
from harness.jobs import run_jobs
from harness.peers.ours import PLAIN
from harness.record import machine_info
from harness.report import pyplot, rebuild, save_figure, write_report

import relu_altmin
from relu_altmin._certificate import tie_tolerance
from relu_altmin._model import Params, augment, forward

#: The two variants: ``fit``'s keywords beyond the cell's.
VARIANTS: dict[str, dict[str, Any]] = {"default": {}, "plain": dict(PLAIN)}
#: Tolerances at which a fit "would be certified".
TOLS = (1e-8, 1e-6)
#: Relative tie thresholds on ``|z_ij| / (||x~_i|| ||w~_j||)``.
REL_TIES = (1e-10, 1e-8, 1e-6)
#: ``fit``'s own ``tol`` (read from its signature: the runs use the default).
FIT_TOL = float(inspect.signature(relu_altmin.fit).parameters["tol"].default)
#: Residual keys of the hidden layer.
HIDDEN = ("W", "b")


# --------------------------------------------------------------------------------------------
# Counting and summarising (pure functions of the records; tests/test_certified.py).


def tie_key(rel: float) -> str:
    """The record key of the count within ``rel`` relative."""
    return f"rel_{rel:g}"


def tol_key(tol: float) -> str:
    """The record key of the flags at ``tol``."""
    return f"{tol:g}"


def tie_counts(Z: np.ndarray, tau: np.ndarray, x_norms: np.ndarray, w_norms: np.ndarray,
               rels: Iterable[float] = REL_TIES) -> dict[str, int]:
    """Pre-activations ``Z`` (n x h) tied: within the rounding tolerance ``tau`` (n x h)
    (``"rounding"``) and within each ``rel`` of ``||x~_i|| ||w~_j||`` (``tie_key(rel)``); and
    ``"entries"``, ``n h``."""
    absz = np.abs(Z)
    scale = np.outer(x_norms, w_norms)
    counts = {"entries": int(absz.size), "rounding": int(np.count_nonzero(absz <= tau))}
    for rel in rels:
        counts[tie_key(rel)] = int(np.count_nonzero(absz <= rel * scale))
    return counts


def hidden_residual(residuals: dict[str, float]) -> float:
    """The larger of the ``W`` and ``b`` residuals (``W`` alone without a bias)."""
    return max(residuals[k] for k in HIDDEN if k in residuals)


def certified_flags(ordinary: dict[str, float], nonsmooth: dict[str, float],
                    tols: Iterable[float] = TOLS) -> dict[str, dict[str, bool]]:
    """For each ``tol`` (``tol_key``): whether every ordinary residual is at most ``tol``
    (``"ordinary"``), every nonsmooth one (``"nonsmooth"``), and ``"either"``."""
    flags = {}
    for tol in tols:
        by_ordinary = max(ordinary.values()) <= tol
        by_nonsmooth = max(nonsmooth.values()) <= tol
        flags[tol_key(tol)] = {"ordinary": by_ordinary, "nonsmooth": by_nonsmooth,
                               "either": by_ordinary or by_nonsmooth}
    return flags


def ended_certified(run: dict[str, Any]) -> bool:
    """Whether the fit stopped on a certificate."""
    return run["stop_reason"] == "critical_point"


def by_nonsmooth(run: dict[str, Any], tol: float = FIT_TOL) -> bool:
    """Whether the fit ended certified although its ordinary residuals exceed ``tol``: the
    nonsmooth certificate stopped it."""
    return ended_certified(run) and max(run["ordinary"].values()) > tol


def summarise(runs: Sequence[dict[str, Any]], tols: Iterable[float] = TOLS
              ) -> dict[str, dict[str, Any]]:
    """Per variant (in the order first seen): ``fits``, ``ended`` (ended certified),
    ``by_nonsmooth`` (of those, stopped by the nonsmooth certificate) and, for each
    ``tol_key``, the fits certifiable by ``ordinary``, ``nonsmooth`` and ``either``."""
    tols = tuple(tols)
    summary: dict[str, dict[str, Any]] = {}
    for run in runs:
        s = summary.setdefault(run["variant"], {
            "fits": 0, "ended": 0, "by_nonsmooth": 0,
            "at": {tol_key(t): {"ordinary": 0, "nonsmooth": 0, "either": 0} for t in tols}})
        s["fits"] += 1
        s["ended"] += ended_certified(run)
        s["by_nonsmooth"] += by_nonsmooth(run)
        for t in tols:
            for kind, flag in run["certified"][tol_key(t)].items():
                s["at"][tol_key(t)][kind] += flag
    return summary


def summary_lines(summary: dict[str, dict[str, Any]]) -> list[str]:
    """One line per variant: ``"N of M fits end certified"`` and the counts at each tol."""
    lines = []
    for variant, s in summary.items():
        at = "; ".join(f"at tol {key}: {c['either']} by either residual ({c['ordinary']} "
                       f"ordinary, {c['nonsmooth']} nonsmooth)" for key, c in s["at"].items())
        lines.append(f"- **{variant}**: {s['ended']} of {s['fits']} fits end certified "
                     f"({s['by_nonsmooth']} by the nonsmooth certificate); would be certified "
                     f"{at}.")
    return lines


def detail_lines(runs: Sequence[dict[str, Any]]) -> list[str]:
    """Per variant: fits stopped at a fixed point and their ordinary residuals, fits with a
    pre-activation tied at the rounding tolerance, and fits whose nonsmooth hidden residual is
    below the ordinary one."""
    lines = []
    for variant in summarise(runs):
        rs = [r for r in runs if r["variant"] == variant]
        fixed = [max(r["ordinary"].values()) for r in rs if r["stop_reason"] == "no_progress"]
        spread = f", largest ordinary residual {min(fixed):.2g} to {max(fixed):.2g}" if fixed \
            else ""
        tied = sum(r["ties"]["rounding"] > 0 for r in rs)
        lower = sum(hidden_residual(r["nonsmooth"]) < hidden_residual(r["ordinary"])
                    for r in rs)
        lines.append(f"- {variant}: {len(fixed)} of {len(rs)} fits stop at a fixed point "
                     f"(`no_progress`){spread}; {tied} have a pre-activation tied at the "
                     f"rounding tolerance (at most {max(r['ties']['rounding'] for r in rs)} in "
                     f"one fit); in {lower} the nonsmooth hidden residual is below the "
                     "ordinary one.")
    return lines


def cells(runs: Sequence[dict[str, Any]]) -> dict[tuple[str, int, float], dict[str, list]]:
    """Runs grouped by ``(dataset, hidden, slope)`` then variant, in the order first seen,
    each group's runs in seed order."""
    grouped: dict[tuple[str, int, float], dict[str, list]] = {}
    for run in runs:
        cell = grouped.setdefault((run["dataset"], run["hidden"], run["slope"]), {})
        cell.setdefault(run["variant"], []).append(run)
    for cell in grouped.values():
        for rs in cell.values():
            rs.sort(key=lambda r: r["seed"])
    return grouped


def cell_summary(rs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts and medians over the seeds of one cell and variant."""
    at = {key: sum(r["certified"][key]["either"] for r in rs) for key in rs[0]["certified"]}
    return {"seeds": len(rs), "ended": sum(ended_certified(r) for r in rs),
            "by_nonsmooth": sum(by_nonsmooth(r) for r in rs), "at": at,
            "iterations": statistics.median(r["iterations"] for r in rs),
            "mse": statistics.median(r["mse"] for r in rs),
            "ordinary": statistics.median(hidden_residual(r["ordinary"]) for r in rs),
            "nonsmooth": statistics.median(hidden_residual(r["nonsmooth"]) for r in rs),
            "rounding_ties": statistics.median(r["ties"]["rounding"] for r in rs),
            "stops": sorted({r["stop_reason"] for r in rs})}


# --------------------------------------------------------------------------------------------
# One fit.


def measure(network: relu_altmin.TwoLayerNet, X: np.ndarray, y: np.ndarray,
            l2: float) -> dict[str, Any]:
    """Residuals (ordinary and nonsmooth), tie counts and certification flags at
    ``network``."""
    ordinary = relu_altmin.critical_point_residuals(network, X, y, l2=l2, nonsmooth=False)
    t0 = time.perf_counter()
    nonsmooth = relu_altmin.critical_point_residuals(network, X, y, l2=l2, nonsmooth=True)
    certificate_seconds = time.perf_counter() - t0
    params = Params.from_network(network, np).astype(np.float64, np)
    Xt = augment(np.asarray(X, dtype=np.float64), params.bias, np)
    Z = forward(Xt, params, network.negative_slope, np).Z
    W = params.Wt if params.S is None else params.Wt + params.S
    eps = max(float(np.finfo(np.asarray(network.W).dtype).eps), float(np.finfo(X.dtype).eps))
    ties = tie_counts(Z, tie_tolerance(Xt, params, eps, np), np.linalg.norm(Xt, axis=1),
                      np.linalg.norm(W, axis=1))
    return {"ordinary": {k: float(v) for k, v in ordinary.items()},
            "nonsmooth": {k: float(v) for k, v in nonsmooth.items()},
            "ties": ties, "certified": certified_flags(ordinary, nonsmooth),
            "certificate_seconds": certificate_seconds}


def run_one(name: str, hidden: int, slope: float, seed: int, variant: str,
            max_iter: int) -> dict[str, Any]:
    """One fit of ``variant`` on the cell, measured."""
    split = load(name, seed)
    X, y = split.X_train, split.y_train
    t0 = time.perf_counter()
    result = relu_altmin.fit(X, y, hidden, negative_slope=slope, seed=seed, max_iter=max_iter,
                             **VARIANTS[variant])
    seconds = time.perf_counter() - t0
    return {"dataset": name, "shape": split.shape, "hidden": hidden, "slope": slope,
            "seed": seed, "variant": variant, "max_iter": max_iter,
            "stop_reason": result.stop_reason, "iterations": result.n_iter, "mse": result.loss,
            "l2": result.l2, "fit_seconds": seconds,
            **measure(result.network, X, y, result.l2)}


# --------------------------------------------------------------------------------------------
# Report.


def _g(x: float) -> str:
    return f"{x:.2g}"


def markdown(runs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    m, cfg = meta["machine"], meta["config"]
    v = m["versions"]
    variants = list(summarise(runs))
    keys = [tol_key(t) for t in cfg["tols"]]
    grid = (f"data sets {', '.join(cfg['datasets'])}; h {', '.join(map(str, cfg['hidden']))}; "
            f"slopes {', '.join(f'{s:g}' for s in cfg['slopes'])}; "
            f"seeds {', '.join(map(str, cfg['seeds']))}")
    command = " ".join(["python benchmarks/certified.py", *cfg["argv"]])
    lines = [
        "# How many fits end certified", "",
        f"{m['date']}; {m['cpu']} ({m['cores']} cores), Python {m['python']}, relu-altmin "
        f"{v['relu_altmin']}, NumPy {v['numpy']}, SciPy {v['scipy']}, scikit-learn "
        f"{v['scikit_learn']}; {cfg['workers']} worker process"
        f"{'es' if cfg['workers'] != 1 else ''} of one thread each; "
        f"{cfg['total_seconds']:.0f} s in all.", "",
        f"Grid: {grid}{' (--quick)' if cfg['quick'] else ''}. Variants: `default` is "
        f"`fit(X, y, h, negative_slope=slope, seed=seed, max_iter={cfg['max_iter']})`, `plain` "
        f"the same with `reinit=False` and max_iter {cfg['plain_max_iter']}; fit's tol "
        f"{cfg['fit_tol']:g}. Command: `{command}`.",
        "",
        "## Summary", "",
        *summary_lines(summarise(runs, cfg["tols"])), "",
        *detail_lines(runs), "",
        "## Per cell", "",
        "Per variant: fits that end certified (`stop_reason == \"critical_point\"`; in "
        "brackets, how many by the nonsmooth certificate), fits whose ordinary or nonsmooth "
        f"residuals are all at most {' and '.join(keys)}, and medians over the seeds of the "
        "iterations, training MSE, the hidden residual (the larger of `W` and `b`) ordinary "
        "and nonsmooth, and the pre-activations tied at the rounding tolerance; stop reasons "
        "seen. One table per variant, one row per data set, h and slope.", "",
    ]
    for variant in variants:
        lines += [f"### {variant}", "",
                  "| data set | h | slope | ends certified | "
                  + " | ".join(f"at {k}" for k in keys)
                  + " | iterations | MSE | hidden residual | nonsmooth | tied | stops |",
                  "|---|---:|---:|---:|" + "---:|" * (len(keys) + 5) + "---|"]
        for (name, h, slope), cell in cells(runs).items():
            if variant not in cell:
                continue
            s = cell_summary(cell[variant])
            lines.append(f"| {name} | {h} | {slope:g} | {s['ended']}/{s['seeds']} "
                         f"({s['by_nonsmooth']}) | "
                         + " | ".join(f"{s['at'][k]}/{s['seeds']}" for k in keys)
                         + f" | {s['iterations']:g} | {s['mse']:.4g} | {_g(s['ordinary'])} | "
                         f"{_g(s['nonsmooth'])} | {s['rounding_ties']:g} | "
                         f"{', '.join(s['stops'])} |")
        lines.append("")
    rels = [tie_key(r) for r in cfg["rel_ties"]]
    lines += ["## Ties", "",
              "Medians over the seeds of the pre-activations `z_ij` tied at the certificate's "
              "rounding tolerance and within each relative threshold of `||x~_i|| ||w~_j||`, "
              "of `n h` entries, and of the seconds the nonsmooth residuals took.", "",
              "| data set | h | slope | variant | entries | rounding | "
              + " | ".join(r.replace("rel_", "rel ") for r in rels) + " | certificate s |",
              "|---|---:|---:|---|---:|---:|" + "---:|" * (len(rels) + 1)]
    for (name, h, slope), cell in cells(runs).items():
        for variant, rs in cell.items():
            med = {k: statistics.median(r["ties"][k] for r in rs)
                   for k in ("entries", "rounding", *rels)}
            secs = statistics.median(r["certificate_seconds"] for r in rs)
            lines.append(f"| {name} | {h} | {slope:g} | {variant} | {med['entries']:g} | "
                         f"{med['rounding']:g} | "
                         + " | ".join(f"{med[r]:g}" for r in rels) + f" | {secs:.2f} |")
    return "\n".join(lines) + "\n"


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    fig, ax = pyplot().subplots(figsize=(6.5, 5.5))
    floor = 1e-18
    for i, variant in enumerate(summarise(runs)):
        rs = [r for r in runs if r["variant"] == variant]
        x = np.maximum([hidden_residual(r["ordinary"]) for r in rs], floor)
        y = np.maximum([hidden_residual(r["nonsmooth"]) for r in rs], floor)
        done = np.array([ended_certified(r) for r in rs], dtype=bool)
        ax.scatter(x[~done], y[~done], color=f"C{i}", marker="o", facecolors="none",
                   label=f"{variant}: not certified ({int(np.sum(~done))})")
        ax.scatter(x[done], y[done], color=f"C{i}", marker="o",
                   label=f"{variant}: ends certified ({int(np.sum(done))})")
    values = [max(hidden_residual(r[k]), floor) for r in runs for k in ("ordinary", "nonsmooth")]
    lo, hi = min(*values, FIT_TOL) / 10, max(*values, FIT_TOL) * 10
    ax.plot([lo, hi], [lo, hi], "k:", lw=1)
    ax.axhline(FIT_TOL, color="grey", ls="--", lw=1)
    ax.axvline(FIT_TOL, color="grey", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("ordinary hidden residual (max of W, b)")
    ax.set_ylabel("nonsmooth hidden residual (max of W, b)")
    ax.set_title(f"hidden residuals at the end of each fit (dashed: fit's tol {FIT_TOL:g})")
    ax.legend(fontsize=8)
    save_figure(fig, path, dpi=80)


def main(argv: Sequence[str] | None = None) -> None:
    parser = harness.args.parser(__doc__, harness.args.parent("certified", workers=2))
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--hidden", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--slopes", type=float, nargs="+", default=[0.0, 0.1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-iter", type=int, default=100, help="the default variant's")
    parser.add_argument("--plain-max-iter", type=int, default=300,
                        help="the plain alternation's (reinit=False)")
    parser.add_argument("--quick", action="store_true",
                        help="diabetes only, h 16, seed 0, max_iter 5 (both variants)")
    args = parser.parse_args(argv)
    if args.from_json:
        print(rebuild(args, lambda saved: markdown(saved["runs"], saved), plot))
        return
    args.name = harness.args.report_name(args, "certified")
    if args.quick:
        args.datasets, args.hidden, args.seeds = args.datasets[:1], [16], [0]
        args.max_iter = args.plain_max_iter = 5
    jobs = [(run_one, (name, h, slope, seed, variant,
                       args.max_iter if variant == "default" else args.plain_max_iter))
            for name in args.datasets for h in args.hidden for slope in args.slopes
            for seed in args.seeds for variant in VARIANTS]
    runs, seconds = run_jobs(
        jobs, args.workers,
        lambda r: (f"{r['variant']} {r['dataset']} h={r['hidden']} slope={r['slope']:g} "
                   f"seed={r['seed']}: {r['stop_reason']} after {r['iterations']} in "
                   f"{r['fit_seconds']:.1f} s"))
    shown = list(sys.argv[1:] if argv is None else argv)
    config = {"datasets": args.datasets, "hidden": args.hidden, "slopes": args.slopes,
              "seeds": args.seeds, "max_iter": args.max_iter,
              "plain_max_iter": args.plain_max_iter, "quick": args.quick,
              "workers": args.workers, "fit_tol": FIT_TOL, "tols": list(TOLS),
              "rel_ties": list(REL_TIES), "argv": shown, "total_seconds": seconds}
    meta = {"machine": machine_info(), "config": config}
    report = {"benchmark": "certified", **meta, "summary": summarise(runs), "runs": runs}
    text = markdown(runs, meta)
    write_report(args.out, args.name, report, text, plot)
    print(text)


if __name__ == "__main__":
    main()
