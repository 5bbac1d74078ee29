"""Time one Gauss-Newton product: the fused Numba kernel against the NumPy expression.

``relu_altmin.kernels.gauss_newton_product`` (backend "numba") against
``relu_altmin._systems._gauss_newton_product`` (the array-API expression the matrix-free
solver uses, on NumPy), both single-threaded (Numba and BLAS held to one thread), on the
problem a CG iteration of the hidden step sees: data ``Xt = [X, 1]`` (n x (d + 1)), a leaky
pattern (slope 0.1, units firing about half the time), one output (k = 1), with and without
the joint (output-layer) part. Repeats of the two are interleaved so that load on the machine
hits them alike; the median is kept and reported with the useful throughput
``(4 n h (d~ + k) + 4 n m k) / time`` (m = h + 1 with the joint part, else 0).

Writes ``benchmarks/results/gn_product.{json,md,png}`` with the machine, versions, date and the
load average before and after::

    python benchmarks/gn_product.py --quick      # n in {400, 1000, 5000}, 7 repeats
    python benchmarks/gn_product.py              # n up to 50000, 15 repeats
    python benchmarks/gn_product.py --from-json benchmarks/results/gn_product.json  # the report
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness.args
import numpy as np
from harness.record import machine_info
from harness.report import pyplot, rebuild, save_figure, write_report


def make_problem(n: int, d: int, h: int, joint: bool, k: int = 1, seed: int = 0,
                 slope: float = 0.1) -> tuple[Any, ...]:
    """``(Xt, D, V, dW, Hb, dT)`` as the matrix-free hidden step has them (float64)."""
    rng = np.random.default_rng(seed)
    Xt = np.concatenate([rng.standard_normal((n, d)), np.ones((n, 1))], axis=1)
    W = rng.standard_normal((h, d + 1)) / np.sqrt(d)
    Z = Xt @ W.T
    D = np.where(Z > 0, 1.0, slope)
    V = rng.standard_normal((h, k))
    dW = rng.standard_normal((h, d + 1))
    Hb = dT = None
    if joint:
        Hb = np.concatenate([D * Z, np.ones((n, 1))], axis=1)
        dT = rng.standard_normal((h + 1, k))
    return Xt, D, V, dW, Hb, dT


def flops(n: int, d: int, h: int, joint: bool, k: int = 1) -> int:
    """Useful flops of one product (multiply-adds count two)."""
    m = h + 1 if joint else 0
    return 4 * n * h * (d + 1 + k) + 4 * n * m * k


def methods() -> dict[str, Callable[..., Any]]:
    from relu_altmin.kernels import gauss_newton_product

    from relu_altmin._systems import _gauss_newton_product

    def fused(Xt: Any, D: Any, V: Any, dW: Any, Hb: Any, dT: Any) -> Any:
        return gauss_newton_product(Xt, D, V, dW, Hb, dT, backend="numba")

    def numpy_expression(Xt: Any, D: Any, V: Any, dW: Any, Hb: Any, dT: Any) -> Any:
        return _gauss_newton_product(Xt, D, Hb, V, dW, dT)

    return {"fused": fused, "numpy": numpy_expression}


def run_cell(n: int, d: int, h: int, joint: bool, repeats: int) -> dict:
    problem = make_problem(n, d, h, joint)
    runs = methods()
    first = {name: fn(*problem) for name, fn in runs.items()}  # compiles; checks agreement
    scale = np.abs(first["numpy"][0]).max() or 1.0
    agree = float(np.abs(first["fused"][0] - first["numpy"][0]).max() / scale)
    times: dict[str, list[float]] = {name: [] for name in runs}
    # Enough calls per sample that one sample takes about a millisecond or more.
    t0 = time.perf_counter()
    runs["numpy"](*problem)
    inner = max(1, int(1e-3 / max(time.perf_counter() - t0, 1e-7)))
    for _ in range(repeats):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            for _ in range(inner):
                fn(*problem)
            times[name].append((time.perf_counter() - t0) / inner)
    work = flops(n, d, h, joint)
    cell: dict[str, Any] = {"n": n, "d": d, "h": h, "k": 1, "joint": joint, "flops": work,
                            "inner_calls": inner, "max_rel_difference": agree}
    for name, ts in times.items():
        median = statistics.median(ts)
        cell[name] = {"median_s": median, "min_s": min(ts), "gflops": work / median / 1e9,
                      "times_s": ts}
    cell["speedup"] = cell["numpy"]["median_s"] / cell["fused"]["median_s"]
    return cell


def write_markdown(report: dict) -> str:
    info = report["machine"]
    lines = [
        "# Gauss-Newton product: fused Numba kernel vs the NumPy expression",
        "",
        f"{info['date']} · {info['cpu']} ({info['cores']} cores) · Python {info['python']} · "
        f"NumPy {info['versions'].get('numpy')} · Numba {info['versions'].get('numba')} · "
        f"one thread (Numba and BLAS) · {report['repeats']} interleaved repeats, median"
        + (" · `--quick`" if report["quick"] else ""),
        "",
        f"Load average at start {info['loadavg_start'][0]:.2f}, at end "
        f"{info['loadavg_end'][0]:.2f} on {info['cores']} cores.",
    ]
    if info["loadavg_start"][0] > 0.5 * (info["cores"] or 1):
        lines += ["", "**Busy machine:** other work was running; times are noisy and the "
                  "ratios (both methods timed alike, interleaved) are the numbers to read."]
    lines += [
        "",
        "| n | d | h | joint | fused (µs) | NumPy (µs) | speedup | fused GFLOP/s "
        "| NumPy GFLOP/s | max rel. diff |",
        "|---:|---:|---:|:--|---:|---:|---:|---:|---:|---:|",
    ]
    for c in report["runs"]:
        lines.append(
            f"| {c['n']} | {c['d']} | {c['h']} | {'yes' if c['joint'] else 'no'} "
            f"| {c['fused']['median_s'] * 1e6:.0f} | {c['numpy']['median_s'] * 1e6:.0f} "
            f"| {c['speedup']:.2f}x | {c['fused']['gflops']:.1f} | {c['numpy']['gflops']:.1f} "
            f"| {c['max_rel_difference']:.1e} |")
    lines.append("")
    return "\n".join(lines)


def plot(runs: list[dict], path: Path) -> None:
    fig, ax = pyplot().subplots(figsize=(7, 4))
    keys = sorted({(c["d"], c["h"], c["joint"]) for c in runs})
    for d, h, joint in keys:
        cells = sorted((c for c in runs if (c["d"], c["h"], c["joint"]) == (d, h, joint)),
                       key=lambda c: c["n"])
        ax.plot([c["n"] for c in cells], [c["speedup"] for c in cells], marker="o",
                linestyle="-" if joint else "--",
                label=f"d={d}, h={h}{', joint' if joint else ''}")
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("rows n")
    ax.set_ylabel("speedup (NumPy time / fused time)")
    ax.set_title("Gauss-Newton product, one thread, k = 1")
    ax.legend(fontsize=7, ncol=2)
    save_figure(fig, path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = harness.args.parser(__doc__, harness.args.parent("gn_product"))
    parser.add_argument("--quick", action="store_true",
                        help="n in {400, 1000, 5000} and 7 repeats")
    parser.add_argument("--n", type=int, nargs="+", default=[400, 1000, 5000, 50000])
    parser.add_argument("--d", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--h", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args(argv)
    if args.from_json:
        rebuild(args, write_markdown, plot)
        return 0
    if args.quick:
        args.n, args.repeats = [n for n in args.n if n <= 5000], min(args.repeats, 7)

    import numba
    from threadpoolctl import threadpool_limits

    numba.set_num_threads(1)
    info = machine_info()
    info["loadavg_start"] = os.getloadavg()
    runs = []
    with threadpool_limits(limits=1):
        for n in args.n:
            for d in args.d:
                for h in args.h:
                    for joint in (False, True):
                        cell = run_cell(n, d, h, joint, args.repeats)
                        runs.append(cell)
                        print(f"n={n} d={d} h={h} joint={joint}: fused "
                              f"{cell['fused']['median_s'] * 1e6:.0f} µs, NumPy "
                              f"{cell['numpy']['median_s'] * 1e6:.0f} µs, "
                              f"{cell['speedup']:.2f}x", flush=True)
    info["loadavg_end"] = os.getloadavg()
    report = {"machine": info, "quick": args.quick, "repeats": args.repeats, "runs": runs}
    write_report(args.out, harness.args.report_name(args, "gn_product"), report,
                 write_markdown(report), plot)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
