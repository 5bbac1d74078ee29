"""Which start: the output layer's start decides where L-BFGS and ``fit`` end; a ridge path.

On digits the better converged L-BFGS of the "beyond the paper" comparison is scikit-learn's
``MLPRegressor``, which starts from its own random network and ends far below ``fit`` and
torch's L-BFGS from the benchmark's shared start (``docs/training.md``). This script separates
the start from the optimiser. For each seed (the data split as in ``training.py``), three
starts:

- ``fit``: the benchmark's shared start, ``fit(..., max_iter=0)``: ``W, b ~ N(0, 1/d)``, then
  the output layer ``V, c`` solved exactly (its ridge problem);
- ``glorot``: ``MLPRegressor``'s own start for ``random_state=seed``: every layer's weights,
  then its biases, uniform on ``±sqrt(6 / (fan_in + fan_out))`` from one ``RandomState``
  (:func:`glorot`; the script checks that MLPRegressor from it ends exactly where its own run
  does);
- ``glorot_solved``: ``glorot``'s ``W, b`` with ``V, c`` solved exactly, as ``fit`` does;

and three optimisers run to convergence from each: ``sklearn_lbfgs`` (``MLPRegressor``'s
L-BFGS-B, warm-started, the ``sklearn_lbfgs_conv`` settings; ReLU only, so at slope 0 only;
its own run, from its own start, at every slope, as in ``training.py``),
``torch_lbfgs`` (``torch.optim.LBFGS``, the ``torch_lbfgs_conv`` settings and time cap) and
``altmin`` (``relu_altmin.fit(reinit=False)``, the plain alternation, ``--max-iter``
iterations at most). ``fit`` solves the output
layer before its first step, so from ``glorot`` it runs exactly as from ``glorot_solved`` and
is run once.

``ridge_path`` is one way for ``fit`` to keep a small output layer at the start: from the
``fit`` start, ``fit`` with ``l2`` = ``--path-l2``, times ``--path-factor``, ... while above
its default ridge, ``--path-iters`` iterations each (each from the last network; a large
ridge shrinks the exactly solved ``V``), then ``fit`` with its defaults (``--max-iter``).
Its trace is timed from the first stage; *t→own* is when it first reaches the MSE of
``MLPRegressor``'s own run on that seed.

Runs go to ``--jobs`` processes of one thread each; times compare within a row only. Writes
``<out>/<name>.json`` (machine, configuration, every run), ``<out>/<name>.md`` and
``<out>/<name>.png``; ``--from-json <name>.json`` rewrites the last two from the first.

Usage::

    python benchmarks/starts.py [--datasets digits] [--hidden 16 64] [--slopes 0]
        [--seeds 0 1 2] [--path-l2 1e-2] [--path-factor 0.1] [--path-iters 10] [--jobs 2]
        [--name starts]
    python benchmarks/starts.py --slopes 0.1 --name starts_leaky
    python benchmarks/starts.py --from-json benchmarks/results/starts.json
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path
from typing import Any

import harness.args
import numpy as np
from harness.datasets import Split, load
from harness.jobs import run_jobs
from harness.peers.common import Device, Start, first_time_at, thin
from harness.peers.ours import PLAIN, run_altmin
from harness.peers.sklearn_mlp import SKLEARN_LBFGS, run_sklearn
from harness.peers.torch_optim import TORCH_LBFGS, run_lbfgs
from harness.record import machine_info
from harness.report import pyplot, rebuild, save_figure, write_report
from sklearn.utils import check_random_state

import relu_altmin

STARTS = ("fit", "glorot", "glorot_solved")
OPTIMISERS = ("sklearn_lbfgs", "torch_lbfgs", "altmin")
#: ``fit`` re-solves the output layer first: from ``glorot`` it is the run from this start.
ALTMIN_SAME_AS = {"glorot": "glorot_solved"}
LBFGS_TIME_CAP = 120.0


def glorot(split: Split, hidden: int, slope: float, seed: int) -> Start:
    """``MLPRegressor``'s start for ``random_state=seed``: for the hidden, then the output
    layer, weights ``(fan_in, fan_out)`` then biases from one ``RandomState``, uniform on
    ``±sqrt(6 / (fan_in + fan_out))`` (Glorot; scikit-learn's factor 6 for ReLU)."""
    rs = check_random_state(seed)
    d, k = split.X_train.shape[1], (1 if split.y_train.ndim == 1 else split.y_train.shape[1])
    drawn = []
    for fan_in, fan_out in ((d, hidden), (hidden, k)):
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        drawn += [rs.uniform(-bound, bound, (fan_in, fan_out)), rs.uniform(-bound, bound, fan_out)]
    W_in, b, V, c = drawn
    W = W_in.T.copy()
    return Start(W, b, V, c, relu_altmin.TwoLayerNet(W, b, V, c, negative_slope=slope))


def start_for(name: str, split: Split, hidden: int, slope: float, seed: int) -> Start:
    if name == "fit":
        return Start.from_fit(split, hidden, slope, seed)
    drawn = glorot(split, hidden, slope, seed)
    if name == "glorot":
        return drawn
    return Start.from_fit(split, hidden, slope, seed, init=np.column_stack([drawn.W, drawn.b]))


def path_l2s(l2_start: float, factor: float, l2_default: float) -> list[float]:
    """The ridge path: ``l2_start * factor**i`` while above ``l2_default`` (none if
    ``l2_start <= l2_default``)."""
    l2s = []
    while l2_start > l2_default:
        l2s.append(l2_start)
        l2_start *= factor
    return l2s


def ridge_path(split: Split, hidden: int, slope: float, seed: int, l2_start: float,
               factor: float, iters: int, max_iter: int) -> dict[str, Any]:
    """``fit`` along :func:`path_l2s` (``iters`` iterations each), then with its defaults."""
    X, y = split.X_train, split.y_train
    l2s = path_l2s(l2_start, factor, relu_altmin.fit(X, y, hidden, seed=seed, max_iter=0).l2)
    trace: list[tuple[float, float]] = []
    stages = []
    net = None
    t0 = time.perf_counter()
    for l2 in [*l2s, None]:
        offset = time.perf_counter() - t0
        result = relu_altmin.fit(X, y, hidden, negative_slope=slope, l2=l2, init=net,
                                 seed=seed if net is None else None,
                                 max_iter=iters if l2 is not None else max_iter, **PLAIN)
        trace += [(offset + r.seconds, r.loss) for r in result.history]
        net = result.network
        stages.append({"l2": result.l2, "mse": result.loss, "iterations": result.n_iter,
                       "stop_reason": result.stop_reason})
    return {"train_mse": result.loss, "seconds": time.perf_counter() - t0, "trace": trace,
            "info": {"stages": stages}}


def one_run(name: str, hidden: int, slope: float, seed: int, start: str, optimiser: str,
            cfg: dict[str, Any]) -> dict[str, Any]:
    """One optimiser from one start (``start="own"``: MLPRegressor's own run)."""
    split = load(name, seed)
    if optimiser == "ridge_path":
        out = ridge_path(split, hidden, slope, seed, cfg["path_l2"], cfg["path_factor"],
                         cfg["path_iters"], cfg["max_iter"])
    elif optimiser == "sklearn_lbfgs":
        given = None if start == "own" else start_for(start, split, hidden, slope, seed)
        out = run_sklearn(split, hidden, slope, seed, **SKLEARN_LBFGS["sklearn_lbfgs_conv"],
                          start=given)
    elif optimiser == "torch_lbfgs":
        out = run_lbfgs(split, slope, start_for(start, split, hidden, slope, seed),
                        Device.for_backend("numpy"), **TORCH_LBFGS["torch_lbfgs_conv"],
                        time_cap=cfg["lbfgs_time_cap"])
    else:
        # fit solves the output layer itself: it takes only a hidden layer, its own from the
        # seed ("fit") or scikit-learn's ("glorot_solved").
        drawn = None if start == "fit" else glorot(split, hidden, slope, seed)
        out = run_altmin(split, hidden, slope, seed,
                         {"init": None if drawn is None else np.column_stack([drawn.W, drawn.b]),
                          "max_iter": cfg["max_iter"], **PLAIN}, Device.for_backend("numpy"))
    return {"dataset": name, "hidden": hidden, "slope": slope, "seed": seed, "start": start,
            "optimiser": optimiser, "train_mse": out["train_mse"], "seconds": out["seconds"],
            "trace": thin(out["trace"]), "info": out["info"]}


def jobs_for(args: argparse.Namespace) -> list[tuple[Any, ...]]:
    cfg = {k: getattr(args, k) for k in ("path_l2", "path_factor", "path_iters", "max_iter",
                                          "lbfgs_time_cap")}
    jobs = []
    for name in args.datasets:
        for hidden in args.hidden:
            for slope in args.slopes:
                for seed in args.seeds:
                    cell = (name, hidden, slope, seed)
                    pairs = [(s, o) for o in OPTIMISERS for s in STARTS
                             if not (o == "sklearn_lbfgs" and slope != 0.0)
                             and not (o == "altmin" and s in ALTMIN_SAME_AS)]
                    pairs += [("own", "sklearn_lbfgs"), ("fit", "ridge_path")]
                    jobs += [(*cell, s, o, cfg) for s, o in pairs]
    # The longest runs first, so the processes finish together.
    return sorted(jobs, key=lambda j: (j[5] != "torch_lbfgs", -j[1]))


def grouped(runs: list[dict[str, Any]]) -> dict[tuple, dict[int, dict[tuple[str, str], dict]]]:
    """``(data set, h, slope) -> seed -> (start, optimiser) -> run``."""
    cells: dict[tuple, dict[int, dict[tuple[str, str], dict]]] = {}
    for r in runs:
        key = (r["dataset"], r["hidden"], r["slope"])
        cells.setdefault(key, {}).setdefault(r["seed"], {})[(r["start"], r["optimiser"])] = r
    return dict(sorted(cells.items()))


def lookup(seed_runs: dict[tuple[str, str], dict], start: str,
           optimiser: str) -> dict[str, Any] | None:
    if optimiser == "altmin":
        start = ALTMIN_SAME_AS.get(start, start)
    return seed_runs.get((start, optimiser))


def own_reproduced(seed_runs: dict[tuple[str, str], dict]) -> bool | None:
    """Whether MLPRegressor from :func:`glorot` ended where its own run did (to 1e-12)."""
    own, drawn = seed_runs.get(("own", "sklearn_lbfgs")), seed_runs.get(("glorot", "sklearn_lbfgs"))
    if own is None or drawn is None:
        return None
    return abs(own["train_mse"] - drawn["train_mse"]) <= 1e-12 * own["train_mse"]


def median_of(seeds: dict[int, dict], start: str, optimiser: str, key: str) -> float | None:
    values = [r[key] for s in seeds.values() if (r := lookup(s, start, optimiser)) is not None]
    return statistics.median(values) if values else None


def fmt(value: float | None, spec: str = ".4g") -> str:
    return "-" if value is None else "never" if math.isinf(value) else format(value, spec)


def markdown(runs: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    m, cfg = meta["machine"], meta["config"]
    lines = ["# Which start: L-BFGS and fit from three starts", "",
             f"Generated by `benchmarks/starts.py` on {m['date']}; {m['cpu']} ({m['cores']} "
             f"cores), Python {m['python']}, relu-altmin {m['versions']['relu_altmin']}, "
             f"NumPy {m['versions']['numpy']}, torch {m['versions']['torch']}, scikit-learn "
             f"{m['versions']['scikit_learn']}; {cfg['jobs']} processes of one thread; "
             f"{cfg['total_seconds'] / 60:.1f} min in all.", "",
             "Starts: `fit` (the benchmark's: `W, b ~ N(0, 1/d)`, output layer solved exactly), "
             "`glorot` (MLPRegressor's own random network), `glorot_solved` (its `W, b`, output "
             "layer solved exactly). Optimisers run to convergence: MLPRegressor's L-BFGS-B "
             "(slope 0 only), torch's L-BFGS (time cap "
             f"{cfg['lbfgs_time_cap']:g} s) and `fit` (max_iter {cfg['max_iter']}; it solves "
             "the output layer first, so from `glorot` it is the `glorot_solved` run). "
             "`ridge_path`: `fit` from the `fit` start with l2 = "
             f"{cfg['path_l2']:g} * {cfg['path_factor']:g}^i while above its default, "
             f"{cfg['path_iters']} iterations each, then with its defaults.", ""]
    for (name, h, slope), seeds in grouped(runs).items():
        lines += [f"## {name}, h = {h}, slope {slope:g}", "",
                  "Median final training MSE (median seconds) over "
                  f"{len(seeds)} seeds:", "",
                  "| start | " + " | ".join(OPTIMISERS) + " |",
                  "|---|" + "---:|" * len(OPTIMISERS)]
        for start in STARTS:
            cells = []
            for opt in OPTIMISERS:
                mse_ = median_of(seeds, start, opt, "train_mse")
                cells.append("-" if mse_ is None else
                             f"{mse_:.4g} ({median_of(seeds, start, opt, 'seconds'):.3g} s)")
            lines.append(f"| {start} | " + " | ".join(cells) + " |")
        lines += ["", "Per seed (MSE):", "",
                  "| seed | " + " | ".join(f"{s}: {o}" for s in STARTS for o in OPTIMISERS)
                  + " | MLPRegressor own | own reproduced | ridge_path | its s | t→own |",
                  "|---:|" + "---:|" * (len(STARTS) * len(OPTIMISERS)) + "---:|---|---:|---:|---:|"]
        for seed, s in sorted(seeds.items()):
            row = [fmt(r["train_mse"]) if (r := lookup(s, st, o)) else "-"
                   for st in STARTS for o in OPTIMISERS]
            own, path = s.get(("own", "sklearn_lbfgs")), s.get(("fit", "ridge_path"))
            reached = (first_time_at([tuple(p) for p in path["trace"]], own["train_mse"])
                       if own and path else None)
            reproduced = own_reproduced(s)
            row += [fmt(own["train_mse"]) if own else "-",
                    "-" if reproduced is None else "yes" if reproduced else "**no**",
                    fmt(path["train_mse"]) if path else "-",
                    fmt(path["seconds"], ".3g") if path else "-",
                    "-" if own is None else fmt(math.inf if reached is None else reached, ".3g")]
            lines.append(f"| {seed} | " + " | ".join(row) + " |")
        if slope != 0.0:
            lines += ["", "MLPRegressor's own run is a ReLU network (it has no leaky ReLU), as "
                      "`sklearn_lbfgs_conv` in `training.py`."]
        plain = [lookup(s, "fit", "altmin") for s in seeds.values()]
        paths = [s.get(("fit", "ridge_path")) for s in seeds.values()]
        pairs = [(a, p) for a, p in zip(plain, paths, strict=True) if a and p]
        if pairs:
            lower = sum(p["train_mse"] < a["train_mse"] for a, p in pairs)
            med = {f"{which}_{key}": statistics.median(pair[i][key] for pair in pairs)
                   for i, which in enumerate(("plain", "path"))
                   for key in ("train_mse", "seconds")}
            lines += ["", f"`ridge_path` ends below `fit` from the same start on {lower} of "
                      f"{len(pairs)} seeds (median {med['path_train_mse']:.4g} against "
                      f"{med['plain_train_mse']:.4g}; {med['path_seconds']:.3g} s against "
                      f"{med['plain_seconds']:.3g} s).", ""]
    return "\n".join(lines) + "\n"


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    cells = grouped(runs)
    fig, axes = pyplot().subplots(1, len(cells), figsize=(5.5 * len(cells), 4), squeeze=False)
    columns = [*STARTS, "MLPRegressor own", "ridge_path"]
    for ax, ((name, h, slope), seeds) in zip(axes[0], cells.items(), strict=True):
        for i, opt in enumerate(OPTIMISERS):
            for j, start in enumerate(STARTS):
                values = [r["train_mse"] for s in seeds.values()
                          if (r := lookup(s, start, opt)) is not None]
                ax.scatter([j + 0.2 * (i - 1)] * len(values), values, color=f"C{i}",
                           label=opt if j == 0 else None)
        own = [s[("own", "sklearn_lbfgs")]["train_mse"] for s in seeds.values()
               if ("own", "sklearn_lbfgs") in s]
        ax.scatter([3] * len(own), own, color="C0", marker="x")
        path_mse = [s[("fit", "ridge_path")]["train_mse"] for s in seeds.values()
                    if ("fit", "ridge_path") in s]
        ax.scatter([4] * len(path_mse), path_mse, color="C2", marker="^", label="ridge_path")
        ax.set_xticks(range(len(columns)), columns, rotation=20)
        ax.set_yscale("log")
        ax.set_ylabel("final training MSE")
        ax.set_title(f"{name} h={h} slope={slope:g}")
        ax.legend(fontsize=7)
    save_figure(fig, path, dpi=80)


def main(argv: list[str] | None = None) -> None:
    parser = harness.args.parser(__doc__, harness.args.parent("starts", workers=2))
    parser.add_argument("--datasets", nargs="+", default=["digits"])
    parser.add_argument("--hidden", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--slopes", type=float, nargs="+", default=[0.0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-iter", type=int, default=1000)
    parser.add_argument("--lbfgs-time-cap", type=float, default=LBFGS_TIME_CAP)
    parser.add_argument("--path-l2", type=float, default=1e-2)
    parser.add_argument("--path-factor", type=float, default=0.1)
    parser.add_argument("--path-iters", type=int, default=10)
    args = parser.parse_args(argv)
    if not 0.0 < args.path_factor < 1.0:
        parser.error("--path-factor must be in (0, 1)")
    if args.from_json is not None:
        rebuild(args, lambda saved: markdown(saved["runs"], saved), plot)
        return
    args.name = harness.args.report_name(args, "starts")
    runs, seconds = run_jobs(
        [(one_run, job) for job in jobs_for(args)], args.workers,
        lambda run: (f"{run['dataset']} h={run['hidden']} slope={run['slope']:g} "
                     f"seed={run['seed']} {run['start']} {run['optimiser']}: "
                     f"{run['train_mse']:.4g} in {run['seconds']:.1f} s"))
    options = harness.args.settings(args)
    config = {**{k: v for k, v in options.items() if k not in ("out", "workers")},
              "jobs": args.workers, "total_seconds": seconds}
    meta = {"machine": machine_info(), "config": config}
    write_report(args.out, args.name, {"benchmark": "starts", **meta, "runs": runs},
                 markdown(runs, meta), plot)


if __name__ == "__main__":
    main()
