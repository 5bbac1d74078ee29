"""Benchmark the masked Gram kernels against the BLAS path.

Useful throughput counts ``n*h^2*d^2`` multiply-adds per second (the size of the problem, not
the work a backend chose to do), so a backend that exploits symmetry and sparsity shows up as
faster. The BLAS path materialises the row-wise Khatri-Rao product ``K = D ⊙ X`` (n x h*d) and
computes ``K.T @ K`` (NumPy sends that to SYRK). Peak extra memory is what ``tracemalloc`` sees
during one call (NumPy reports its allocations to it, and the Numba kernel allocates its work
buffers with NumPy) minus the output; on a GPU it is the analytic size of the temporaries.

Every cell warms up (JIT compilation, caches), then times ``--repeats`` calls of each backend,
interleaved so that load on the machine hits them alike, and keeps the median. Cells whose BLAS
path needs more than ``--memory-budget`` bytes or more than ``--max-work`` multiply-adds are
skipped, and listed as skipped in the output.

Examples::

    python benchmarks/kernels.py --quick            # the target cell and a small grid
    python benchmarks/kernels.py                    # the full grid, capped
    python benchmarks/kernels.py --n 20000 --h 32 --d 32 --repeats 7
    python benchmarks/kernels.py --gpu-target       # on a GPU: the CUDA target cell only
    python benchmarks/kernels.py --from-json benchmarks/results/kernels.json  # the report

On a machine with a usable CUDA device (CuPy installed), every cell also times the CUDA kernel
(``masked_gram`` on CuPy arrays) and CuPy's cuBLAS path, with CUDA events; ``--backends none``
leaves the CPU backends out.
"""

from __future__ import annotations

import datetime
import itertools
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness.args
import harness.record
import numpy as np
from harness.record import cpu_model
from harness.report import pyplot, rebuild, save_figure, write_report
from relu_altmin.kernels import masked_gram

TARGET = {"n": 20000, "h": 32, "d": 32}
#: The GPU target cell: the CUDA kernel within ``GPU_LEAKY_FACTOR`` of CuPy's cuBLAS path on
#: leaky patterns and faster than it on ReLU patterns (0/1, where it skips rows).
GPU_TARGET = {"n": 100_000, "h": 64, "d": 64}
GPU_LEAKY_FACTOR = 2.0
CPU_BACKENDS = ("numba", "blas", "reference")
PAUSE = 0.05  # seconds between timed calls: lets idle BLAS/OpenMP threads stop spinning
#: A one-minute load average above this fraction of the cores at the start means other work
#: shares the machine: the report then says that its times are inflated (on 2026-11-23 a
#: load of 2 on 2 cores made every call 2 to 40 times slower than on the idle machine).
BUSY_LOAD_FRACTION = 0.5


def make_problem(n: int, h: int, d: int, slope: float, dtype: str, seed: int = 0):
    """Gaussian data and the pattern of a random hidden layer (each unit fires about half the
    time): ``D = 1`` where the pre-activation is positive, else ``slope``."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((h, d))
    D = np.where(X @ W.T > 0, 1.0, slope)
    return X.astype(dtype), D.astype(dtype)


def blas_path(xp: Any) -> Callable:
    def run(X, D):
        n, d = X.shape
        K = xp.reshape(D[:, :, None] * X[:, None, :], (n, D.shape[1] * d))
        return K.T @ K

    return run


def cpu_backends(names: list[str]) -> dict[str, Callable]:
    available = {
        "numba": lambda X, D: masked_gram(X, D, backend="numba"),
        "reference": lambda X, D: masked_gram(X, D, backend="reference"),
        "blas": blas_path(np),
    }
    return {name: available[name] for name in names if name in available}


def usable_cupy():
    try:
        import cupy

        cupy.zeros(1).sum().item()
    except Exception:  # no cupy, no driver, no device
        return None
    return cupy


def time_cpu(fn: Callable, X, D) -> float:
    time.sleep(PAUSE)
    start = time.perf_counter()
    fn(X, D)
    return time.perf_counter() - start


def peak_extra_bytes(fn: Callable, X, D) -> tuple[int, int]:
    """(peak bytes traced during one call, bytes of the returned array)."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    G = fn(X, D)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, G.nbytes


def time_gpu(cupy, fn: Callable, X, D) -> float:
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    start.record()
    fn(X, D)
    stop.record()
    stop.synchronize()
    return cupy.cuda.get_elapsed_time(start, stop) / 1e3


def run_cell(cell: dict, backends: dict[str, Callable], repeats: int, cupy) -> dict:
    n, h, d = cell["n"], cell["h"], cell["d"]
    X, D = make_problem(n, h, d, cell["slope"], cell["dtype"])
    times: dict[str, list[float]] = {name: [] for name in backends}
    for fn in backends.values():  # warm up: JIT compilation, first-touch of buffers
        fn(X, D)
    for _ in range(repeats):
        for name, fn in backends.items():
            times[name].append(time_cpu(fn, X, D))
    result = dict(cell, work=n * h * h * d * d, firing=float((D == 1).mean()), backends={})
    for name, fn in backends.items():
        peak, out_bytes = peak_extra_bytes(fn, X, D)
        seconds = statistics.median(times[name])
        result["backends"][name] = dict(
            seconds=seconds, times=times[name], throughput=result["work"] / seconds,
            peak_bytes=peak, output_bytes=out_bytes, extra_bytes=peak - out_bytes,
            memory="tracemalloc",
        )
    if cupy is not None:
        Xg, Dg = cupy.asarray(X), cupy.asarray(D)
        itemsize, p = X.dtype.itemsize, h * d
        gpu = {"cuda": (lambda X, D: masked_gram(X, D), 0),
               "cupy-blas": (blas_path(cupy), n * p * itemsize)}
        for name, (fn, extra) in gpu.items():
            fn(Xg, Dg)
            cupy.cuda.Device().synchronize()
            t = [time_gpu(cupy, fn, Xg, Dg) for _ in range(repeats)]
            seconds = statistics.median(t)
            result["backends"][name] = dict(
                seconds=seconds, times=t, throughput=result["work"] / seconds,
                peak_bytes=extra + p * p * itemsize, output_bytes=p * p * itemsize,
                extra_bytes=extra, memory="analytic",
            )
    blas = result["backends"].get("blas")
    cublas = result["backends"].get("cupy-blas")
    for name, stats in result["backends"].items():
        stats["speedup_vs_blas"] = blas["seconds"] / stats["seconds"] if blas else None
        if name in ("cuda", "cupy-blas"):
            stats["speedup_vs_cublas"] = cublas["seconds"] / stats["seconds"]
    return result


def machine_info() -> dict:
    import numba

    cpu = cpu_model()
    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "numba": numba.__version__}
    cupy = usable_cupy()
    if cupy is not None:
        versions["cupy"] = cupy.__version__
        gpu = cupy.cuda.runtime.getDeviceProperties(0)["name"]
        versions["gpu"] = gpu.decode() if isinstance(gpu, bytes) else gpu
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu, "cores": os.cpu_count(), "numba_threads": numba.get_num_threads(),
        "threading_layer": _threading_layer(), "platform": platform.platform(),
        "versions": versions, "loadavg_start": os.getloadavg(),
    }


def _threading_layer() -> str:
    import numba

    try:
        return numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        return "not initialised"


def cells_from_args(args) -> tuple[list[dict], list[dict]]:
    if args.gpu_target:
        grid = [dict(GPU_TARGET)]
    elif args.quick:
        grid = [dict(TARGET)] + [
            {"n": n, "h": h, "d": d}
            for n, h, d in itertools.product([1000, 10000], [8, 32], [8, 32])
        ]
    else:
        grid = [{"n": n, "h": h, "d": d} for n, h, d in itertools.product(args.n, args.h, args.d)]
    cells, skipped = [], []
    for base, slope, dtype in itertools.product(grid, args.slopes, args.dtypes):
        cell = dict(base, slope=slope, dtype=dtype)
        n, p = cell["n"], cell["h"] * cell["d"]
        blas_bytes = (n * p + p * p) * np.dtype(dtype).itemsize
        if blas_bytes > args.memory_budget:
            skipped.append(dict(cell, reason=f"BLAS path needs {blas_bytes / 2**30:.1f} GiB"))
        elif n * p * p > args.max_work:
            skipped.append(dict(cell, reason=f"BLAS path is {n * p * p:.1e} multiply-adds"))
        else:
            cells.append(cell)
    return cells, skipped


def busy_warning(info: dict) -> str | None:
    """A warning when the machine was busy before the benchmark started, else None."""
    load, cores = info["loadavg_start"][0], info["cores"]
    if load <= BUSY_LOAD_FRACTION * cores:
        return None
    return (f"**Busy machine:** the load average was {load:.2f} on {cores} cores before the "
            "run started, so other work shared the cores: absolute times are inflated; compare "
            "only the ratios measured in this run, or re-run on an idle machine.")


def write_markdown(report: dict, path: Path) -> None:
    """The Markdown of ``report`` (:func:`markdown`) written to ``path``."""
    path.write_text(markdown(report))


def markdown(report: dict) -> str:
    """The report: machine, one table of every cell, the targets and the skipped cells."""
    info = report["machine"]
    warning = busy_warning(info)
    lines = [
        "# Masked Gram kernel benchmark",
        "",
        f"{info['date']} · {info['cpu']}, {info['cores']} cores ({info['numba_threads']} Numba "
        f"threads, {info['threading_layer']} layer) · "
        + ", ".join(f"{k} {v}" for k, v in info["versions"].items())
        + f" · load average at start {info['loadavg_start'][0]:.2f}, "
        f"at end {info['loadavg_end'][0]:.2f}",
        "",
        *([warning, ""] if warning else []),
        "Time is the median of the repeats; throughput is n·h²·d² multiply-adds per second; "
        "speedup is the BLAS path's time over the backend's, in the same run; extra memory is the "
        "peak traced during one call minus the output (p² numbers).",
        "",
        "| n | h | d | slope | dtype | backend | time (ms) | GMAC/s | speedup vs BLAS "
        "| speedup vs cuBLAS | extra memory (MiB) | output (MiB) |",
        "|---:|---:|---:|---:|:--|:--|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["results"]:
        target = all(r[key] == value for key, value in TARGET.items())
        for name, s in r["backends"].items():
            label = f"**{name}**" if target else name
            lines.append(
                f"| {r['n']} | {r['h']} | {r['d']} | {r['slope']} | {r['dtype']} | {label} "
                f"| {s['seconds'] * 1e3:.1f} | {s['throughput'] / 1e9:.2f} "
                f"| {_ratio(s['speedup_vs_blas'])} | {_ratio(s.get('speedup_vs_cublas'))} "
                f"| {s['extra_bytes'] / 2**20:.2f} | {s['output_bytes'] / 2**20:.2f} |"
            )
    lines.append("")
    lines.append(f"Bold rows: the CPU target cell (n = {TARGET['n']}, h = {TARGET['h']}, "
                 f"d = {TARGET['d']}). Speedups are the BLAS path's time (NumPy on the CPU, "
                 "CuPy's cuBLAS on the GPU) over the backend's, in the same run.")
    checks = gpu_target_checks(report["results"])
    if checks:
        lines += ["", f"## GPU target (n = {GPU_TARGET['n']}, h = {GPU_TARGET['h']}, "
                      f"d = {GPU_TARGET['d']})", "",
                  f"The CUDA kernel faster than CuPy's cuBLAS path on ReLU patterns (slope 0) "
                  f"and within {GPU_LEAKY_FACTOR:g}x of it on leaky ones.", ""]
        lines += [f"- slope {c['slope']:g}, {c['dtype']}: CUDA {c['cuda_ms']:.2f} ms, cuBLAS "
                  f"{c['cublas_ms']:.2f} ms (cuBLAS / CUDA = {c['speedup']:.2f}x, needs "
                  f"{'>' if c['slope'] == 0 else '>='} {c['needed']:g}x): "
                  f"**{'pass' if c['pass'] else 'FAIL'}**" for c in checks]
    if report["skipped"]:
        lines += ["", "Skipped cells (over the memory or work cap):", ""]
        lines += [f"- n={c['n']}, h={c['h']}, d={c['d']}, slope={c['slope']}, {c['dtype']}: "
                  f"{c['reason']}" for c in report["skipped"]]
    return "\n".join(lines) + "\n"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def gpu_target_checks(results: list[dict]) -> list[dict]:
    """The GPU target per slope and dtype, from every GPU-target cell with both GPU backends:
    on ReLU patterns (slope 0) the CUDA kernel must take less time than CuPy's cuBLAS path, on
    leaky ones at most ``GPU_LEAKY_FACTOR`` times as long. ``speedup`` is cuBLAS time over CUDA
    time and ``needed`` the speedup the rule asks for."""
    checks = []
    for r in results:
        if not all(r[key] == value for key, value in GPU_TARGET.items()):
            continue
        cuda, cublas = r["backends"].get("cuda"), r["backends"].get("cupy-blas")
        if cuda is None or cublas is None:
            continue
        relu = r["slope"] == 0
        passed = (cuda["seconds"] < cublas["seconds"] if relu
                  else cuda["seconds"] <= GPU_LEAKY_FACTOR * cublas["seconds"])
        checks.append({"slope": r["slope"], "dtype": r["dtype"],
                       "speedup": cublas["seconds"] / cuda["seconds"],
                       "needed": 1.0 if relu else 1.0 / GPU_LEAKY_FACTOR,
                       "cuda_ms": cuda["seconds"] * 1e3, "cublas_ms": cublas["seconds"] * 1e3,
                       "pass": passed})
    return checks


def write_plot(report: dict, path: Path) -> None:
    fig, (left, right) = pyplot().subplots(1, 2, figsize=(12, 4.5))
    names = sorted({name for r in report["results"] for name in r["backends"]})
    for name in names:
        for dtype, marker in (("float64", "o"), ("float32", "^")):
            rows = [r for r in report["results"] if r["dtype"] == dtype and name in r["backends"]]
            work = [r["work"] for r in rows]
            left.scatter(work, [r["backends"][name]["throughput"] / 1e9 for r in rows],
                         marker=marker, label=f"{name} {dtype}", alpha=0.7)
            right.scatter(work, [r["backends"][name]["extra_bytes"]
                                 / r["backends"][name]["output_bytes"] for r in rows],
                          marker=marker, label=f"{name} {dtype}", alpha=0.7)
    left.set(xscale="log", yscale="log", xlabel="problem size n·h²·d²",
             ylabel="useful throughput (GMAC/s)", title="Throughput")
    right.set(xscale="log", yscale="symlog", xlabel="problem size n·h²·d²",
              ylabel="peak extra memory / output size", title="Peak extra memory")
    right.axhline(2, color="grey", linestyle="--", linewidth=1)
    left.legend(fontsize=7)
    fig.suptitle(f"Masked Gram matrix · {report['machine']['cpu']} · {report['machine']['date']}")
    save_figure(fig, path, dpi=120)


def main(argv: list[str] | None = None) -> int:
    parser = harness.args.parser(__doc__, harness.args.parent(
        "kernels (kernels_gpu_target with --gpu-target)"))
    parser.add_argument("--quick", action="store_true",
                        help="the target cell (20000, 32, 32) and a small grid only")
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--h", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--d", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--slopes", type=float, nargs="+", default=[0.0, 0.1])
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"],
                        choices=["float64", "float32"])
    parser.add_argument("--gpu-target", action="store_true",
                        help="the GPU target cell (100000, 64, 64) on the GPU backends only; "
                             "needs a usable CUDA device")
    parser.add_argument("--backends", nargs="+", default=list(CPU_BACKENDS),
                        choices=[*CPU_BACKENDS, "none"],
                        help="CPU backends ('none': GPU only); the GPU ones run with a GPU")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--memory-budget", type=float, default=4 * 2**30,
                        help="skip cells whose BLAS path needs more bytes than this")
    parser.add_argument("--max-work", type=float, default=2e11,
                        help="skip cells whose BLAS path needs more multiply-adds (n·p²)")
    args = parser.parse_args(argv)
    if args.from_json:
        rebuild(args, markdown, None)
        if not args.no_plot:
            name = harness.args.report_name(args, "kernels")
            write_plot(harness.record.load(args.from_json), args.out / f"{name}.png")
        return 0
    cupy = usable_cupy()
    if args.gpu_target:
        if cupy is None:
            parser.error("--gpu-target needs CuPy and a usable CUDA device")
        args.backends, args.slopes = ["none"], [0.0, 0.1]
        args.memory_budget = max(args.memory_budget, 64 * 2**30)
        args.max_work = max(args.max_work, 2e12)

    backends = cpu_backends(args.backends)
    if not backends and cupy is None:
        parser.error("no backend to run: --backends none times the GPU backends only, and "
                     "there is no usable CUDA device")
    cells, skipped = cells_from_args(args)
    report = {"machine": machine_info(), "args": vars(args), "results": [], "skipped": skipped}
    warning = busy_warning(report["machine"])
    if warning:
        print(warning.replace("**", ""), file=sys.stderr)
    for i, cell in enumerate(cells, 1):
        result = run_cell(cell, backends, args.repeats, cupy)
        report["results"].append(result)
        summary = ", ".join(f"{name} {s['seconds'] * 1e3:.1f} ms"
                            for name, s in result["backends"].items())
        print(f"[{i}/{len(cells)}] n={cell['n']} h={cell['h']} d={cell['d']} "
              f"slope={cell['slope']} {cell['dtype']}: {summary}", flush=True)
    for cell in skipped:
        print(f"skipped n={cell['n']} h={cell['h']} d={cell['d']} slope={cell['slope']} "
              f"{cell['dtype']}: {cell['reason']}")
    report["machine"]["threading_layer"] = _threading_layer()
    report["machine"]["loadavg_end"] = os.getloadavg()

    name = harness.args.report_name(args, "kernels_gpu_target" if args.gpu_target else "kernels")
    write_report(args.out, name, report, markdown(report), None, newline=False)
    write_plot(report, args.out / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
