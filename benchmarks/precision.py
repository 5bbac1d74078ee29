"""Precision: float32 input under the default ``precision="auto"`` against the same data in
float64, same seed and iterations (project issue 27).

Two kinds of cell, each one process on one thread running the float64 fit, then the float32
fit of the same values (the data rounded to float32 once, so that both see the same numbers),
``--repeats`` times in turn:

- **scale**: the scale benchmark's synthetic data (``scale.make_data``: Gaussian inputs,
  ``d = 32``, a 32-unit leaky-ReLU teacher plus noise) at ``--n`` rows and widths
  ``--scale-hidden``, slope 0.1, ``--scale-iters`` iterations on every row
  (``progressive=False``, ``tol=0``): the median seconds per iteration of each dtype (the
  fastest repeat) and the final training MSE;
- **data set**: the benchmark's five data sets (training rows of split 0) at widths
  ``--hidden`` and slopes 0 and 0.1, ``--max-iter`` iterations (``tol=0``).

The issue's target (``SPEEDUP``, ``MSE_RATIO``): at ``n >= 1e5`` float32 runs each iteration at
least 1.5x faster than float64, and on every cell the float32 fit's final training MSE is
within 1 % of the float64 fit's, or lower. Writes ``results/<name>.json``, ``.md`` and ``.png``.

Usage::

    python benchmarks/precision.py                 # n 1e5 1e6 x h 32 128, five data sets
    python benchmarks/precision.py --quick         # n 20000, h 8; diabetes h 16
    python benchmarks/precision.py --backend cupy --n 1000000 --scale-hidden 128 512 \\
        --datasets --name precision_gpu            # on a GPU (gpu_session.sh's step)
    python benchmarks/precision.py --from-json benchmarks/results/precision.json  # the report
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import harness.args
import numpy as np
from harness.datasets import DATASETS, load
from harness.jobs import run_jobs
from harness.record import machine_info
from harness.report import pyplot, rebuild, save_figure, write_report

import relu_altmin
from relu_altmin._rows import FLOAT32_MIN_ROWS

#: float64 seconds per iteration / float32 seconds per iteration at least this (n >= 1e5).
SPEEDUP = 1.5
#: float32 final MSE / float64 final MSE at most this.
MSE_RATIO = 1.01
SPEED_MIN_ROWS = 100_000
SCALE_SLOPE = 0.1


def to_backend(a: np.ndarray, backend: str) -> Any:
    """``a`` as an array of ``backend``: NumPy, CuPy (on the GPU), or PyTorch (on CUDA when
    there is a device, else the CPU)."""
    if backend == "cupy":
        import cupy

        return cupy.asarray(a)
    if backend == "torch":
        import torch

        return torch.asarray(a, device="cuda" if torch.cuda.is_available() else "cpu")
    return a


def _fit(X: np.ndarray, y: np.ndarray, hidden: int, dtype: type, backend: str,
         **kwargs: Any) -> dict:
    result = relu_altmin.fit(to_backend(X.astype(dtype), backend),
                             to_backend(y.astype(dtype), backend), hidden, seed=0, tol=0.0,
                             n_jobs=1, **kwargs)
    seconds = [r.seconds for r in result.history]
    return {"loss": result.loss, "iterations": result.n_iter, "stop_reason": result.stop_reason,
            "seconds": seconds[-1],
            "per_iteration": float(np.median(np.diff(seconds))) if len(seconds) > 1 else None}


def run_cell(kind: str, source: str | int, hidden: int, slope: float, iterations: int,
             repeats: int, backend: str = "numpy") -> dict:
    """Both dtypes on one cell, ``repeats`` times in turn; the fastest repeat of each."""
    if kind == "scale":
        from scale import make_data

        X, y = make_data(int(source))
        kwargs: dict[str, Any] = {"progressive": False}
    else:
        split = load(str(source), 0)
        X, y, kwargs = split.X_train, split.y_train, {}
    # Both dtypes get the same values: the data rounded to float32 once (the float64 fit of
    # the unrounded data differs by that rounding alone, which a nonconvex fit amplifies).
    X, y = X.astype(np.float32).astype(np.float64), y.astype(np.float32).astype(np.float64)
    for dtype in (np.float64, np.float32):  # compile the kernels outside the timings
        relu_altmin.fit(to_backend(X[:64].astype(dtype), backend),
                        to_backend(y[:64].astype(dtype), backend), 2, max_iter=2)
    # float32 under the default precision="auto"; below FLOAT32_MIN_ROWS rows that is the
    # float64 fit, so float32 forced (precision="data") is measured beside it.
    variants = {"float64": (np.float64, "auto"), "float32": (np.float32, "auto")}
    if X.shape[0] < FLOAT32_MIN_ROWS:
        variants["float32_data"] = (np.float32, "data")
    fits: dict[str, list[dict]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, (dtype, precision) in variants.items():
            fits[name].append(_fit(X, y, hidden, dtype, backend, negative_slope=slope,
                                   max_iter=iterations, precision=precision, **kwargs))
    best = {name: min(runs, key=lambda r: r["seconds"]) for name, runs in fits.items()}
    run = {"kind": kind, "source": source, "backend": backend, "rows": int(X.shape[0]),
           "features": int(X.shape[1]),
           "hidden": hidden, "slope": slope, **best,
           "mse_ratio": best["float32"]["loss"] / best["float64"]["loss"]}
    for name in fits:
        if name != "float64" and best[name]["per_iteration"]:
            suffix = name[len("float32"):]
            run["speedup" + suffix] = (best["float64"]["per_iteration"]
                                       / best[name]["per_iteration"])
            run["mse_ratio" + suffix] = best[name]["loss"] / best["float64"]["loss"]
    return run


def speed_cell(run: dict) -> bool:
    return run["rows"] >= SPEED_MIN_ROWS


def passes(run: dict) -> bool:
    """The target on one cell: the MSE within 1 % (or lower) and, at n >= 1e5, the speed-up."""
    return run["mse_ratio"] <= MSE_RATIO and (not speed_cell(run) or run["speedup"] >= SPEEDUP)


def markdown(report: dict) -> str:
    runs, m = report["runs"], report["machine"]
    speed = [r for r in runs if speed_cell(r)]
    lines = [
        "# Precision: float32 input against float64, same seed and iterations", "",
        f"Generated by `benchmarks/precision.py` on {m['date']} ({m['cpu']}, {m['cores']} cores,"
        f" one thread per fit, {report['config']['workers']} at a time; relu-altmin "
        f"{m['versions'].get('relu_altmin')}, NumPy {m['versions'].get('numpy')}) in "
        f"{report['seconds'] / 60:.1f} min; arrays of `{report['config']['backend']}`"
        f"{' on ' + m['gpu'] if report['config']['backend'] != 'numpy' and m['gpu'] else ''}."
        f" Each cell runs the float64 fit, then the float32 "
        f"fit of the same values (`precision=\"auto\"`, the default), "
        f"{report['config']['repeats']} time(s) in turn; the fastest of each is shown.", "",
        f"Target: float32 at least {SPEEDUP}x faster per iteration at n >= {SPEED_MIN_ROWS:,} "
        f"rows (**{sum(r['speedup'] >= SPEEDUP for r in speed)} of {len(speed)} cells**), and "
        f"the float32 fit's final training MSE at most {MSE_RATIO}x the float64 fit's on every "
        f"cell (**{sum(r['mse_ratio'] <= MSE_RATIO for r in runs)} of {len(runs)} cells**). "
        f"Both together: **{sum(map(passes, runs))} of {len(runs)}**.", "",
        f"Below `FLOAT32_MIN_ROWS` = {FLOAT32_MIN_ROWS} rows the default `precision=\"auto\"` "
        "computes float32 data in float64 (the float32 columns then repeat the float64 fit); "
        "the last two columns force float32 there (`precision=\"data\"`): its speed-up, and "
        "its final MSE over the float64 fit's.", "",
        "| data | rows | h | slope | iterations (64 / 32) | s / iteration, float64 | "
        "float32 | speed-up | MSE float64 | MSE float32 | ratio | passes | `\"data\"` "
        "speed-up | `\"data\"` MSE ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--:|---:|---:|",
    ]
    for r in runs:
        high, low = r["float64"], r["float32"]
        forced = (f"{r['speedup_data']:.2f} | {r['mse_ratio_data']:.4f}" if "speedup_data" in r
                  else "- | -")
        lines.append(
            f"| {r['kind']} {r['source']} | {r['rows']} | {r['hidden']} | {r['slope']} | "
            f"{high['iterations']} / {low['iterations']} | {high['per_iteration']:.4g} | "
            f"{low['per_iteration']:.4g} | {r.get('speedup', float('nan')):.2f} | "
            f"{high['loss']:.6g} | {low['loss']:.6g} | {r['mse_ratio']:.4f} | "
            f"{'yes' if passes(r) else 'no'} | {forced} |")
    return "\n".join(lines) + f"\n\n![speed-ups and MSE ratios]({report['name']}.png)\n"


def plot(runs: list[dict], path: Path) -> None:
    fig, (left, right) = pyplot().subplots(1, 2, figsize=(10, 3.8))
    labels = [f"{r['source']} h{r['hidden']} a{r['slope']}" for r in runs]
    x = range(len(runs))
    left.bar(x, [r.get("speedup", 0.0) for r in runs],
             color=["C0" if speed_cell(r) else "C7" for r in runs])
    left.axhline(SPEEDUP, color="grey", linestyle=":", label=f"target {SPEEDUP}x (n >= 1e5)")
    left.set_ylabel("float64 / float32 seconds per iteration")
    right.plot(x, [r["mse_ratio"] for r in runs], "o", label="precision=\"auto\"")
    right.plot(x, [r.get("mse_ratio_data", np.nan) for r in runs], "x",
               label="float32 forced (\"data\")")
    right.set_yscale("log")
    right.axhline(MSE_RATIO, color="grey", linestyle=":", label="target")
    right.set_ylabel("float32 / float64 final training MSE")
    for ax in (left, right):
        ax.set_xticks(list(x), labels, rotation=60, ha="right", fontsize=7)
        ax.legend(fontsize=7)
    save_figure(fig, path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = harness.args.parser(__doc__, harness.args.parent(
        "precision (precision_quick with --quick)", workers=1))
    parser.add_argument("--n", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--scale-hidden", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--scale-iters", type=int, default=10)
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--hidden", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--slopes", type=float, nargs="+", default=[0.0, 0.1])
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--backend", choices=["numpy", "cupy", "torch"], default="numpy",
                        help="the arrays fit is given (cupy, torch: on the GPU)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.scale_hidden, args.scale_iters = [20_000], [8], 3
        args.datasets, args.hidden, args.slopes, args.max_iter = ["diabetes"], [16], [0.1], 5
        args.repeats = 1
    if args.from_json:
        rebuild(args, markdown, plot)
        return
    name = harness.args.report_name(args, "precision_quick" if args.quick else "precision")
    jobs = [(run_cell, ("scale", n, h, SCALE_SLOPE, args.scale_iters, args.repeats,
                        args.backend)) for n in args.n for h in args.scale_hidden]
    jobs += [(run_cell, ("data set", d, h, a, args.max_iter, args.repeats, args.backend))
             for d in args.datasets for h in args.hidden for a in args.slopes]
    runs, seconds = run_jobs(jobs, args.workers, lambda r: (
        f"{r['source']} h{r['hidden']} a{r['slope']}: speed-up {r.get('speedup', 0):.2f}, "
        f"MSE ratio {r['mse_ratio']:.4f}"))
    report = {"name": name, "machine": machine_info(), "seconds": seconds,
              "config": {**harness.args.settings(args), "speedup": SPEEDUP,
                         "mse_ratio": MSE_RATIO}, "runs": runs}
    write_report(args.out, name, report, markdown(report), plot)


if __name__ == "__main__":
    main(sys.argv[1:])
