"""Thread discipline: the demo fit with the library's default threads against one thread.

The demo fit (``relu_altmin.fit`` on ``relu_altmin.load_diabetes()``, 442 x 10, 32 units,
slope 0.1, seed 0, ``max_iter`` 100) runs in a fresh process per measurement, in two
configurations: ``default`` (the thread variables below removed from the environment, ``fit``
with its default ``n_jobs``) and ``one`` (``OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
MKL_NUM_THREADS=1 NUMBA_NUM_THREADS=1``). Each runs on the idle machine and beside 1 and 2 busy
processes (pure-Python loops, one core each, started before and killed after), ``--repeats``
times, the configurations interleaved; the medians are compared. Two times are kept: the
whole process's wall time, and the fit's own inside it (after one warm-up fit in the same
process: interpreter start, imports and JIT compilation excluded). The issue's targets
(``TARGETS``): default / one thread <= 1.0 idle and <= 1.5 beside two busy processes.

``--sizes N ...`` instead sweeps Gaussian data of the demo's shape (d = 10, h = 32) over
``N`` rows on the idle machine, ``all`` cores (``n_jobs=-1`` where ``fit`` takes it) against
``one``: where more threads start to pay is ``relu_altmin._threads.WORK_PER_THREAD``.

Writes ``<out>/<name>.json`` (machine, configuration, every run), ``.md`` and ``.png``.

Usage::

    python benchmarks/threads.py [--repeats 5]          # threads.*
    python benchmarks/threads.py --quick                # threads_quick.*: 1 repeat, 20 iterations
    python benchmarks/threads.py --sizes 4420 44200 442000  # threads_sizes.*: 5 iterations
    python benchmarks/threads.py --from-json benchmarks/results/threads.json  # the report
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import harness.args
import numpy as np
from harness.record import machine_info
from harness.report import pyplot, rebuild, save_figure, write_report

DEMO = {"hidden": 32, "negative_slope": 0.1, "seed": 0}
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                    "NUMBA_NUM_THREADS")
#: Busy processes beside the fit -> the largest median ratio default / one thread allowed.
TARGETS = {0: 1.0, 2: 1.5}
BUSY_LOOP = "while True: pass"


def cell(data: str, config: str, max_iter: int) -> dict[str, Any]:
    """One measurement, in this process: a warm-up fit, then the timed fit.

    ``data`` is ``diabetes`` or ``gaussian-N`` (N rows, the demo's shape); ``config`` ``all``
    asks ``fit`` for every core.
    """
    import numba

    import relu_altmin

    X, y = load_data(data)
    kwargs: dict[str, Any] = dict(DEMO, max_iter=max_iter)
    if config == "all" and "n_jobs" in inspect.signature(relu_altmin.fit).parameters:
        kwargs["n_jobs"] = -1
    relu_altmin.fit(X, y, **dict(kwargs, max_iter=min(max_iter, 2)))  # JIT, caches
    began = time.perf_counter()
    result = relu_altmin.fit(X, y, **kwargs)
    n, d = X.shape
    return {"fit_seconds": time.perf_counter() - began, "n_iter": result.n_iter,
            "loss": result.loss, "work": n * DEMO["hidden"] * (d + 2),
            "numba_threads": numba.config.NUMBA_NUM_THREADS}


def load_data(data: str) -> tuple[np.ndarray, np.ndarray]:
    import relu_altmin

    X, y = relu_altmin.load_diabetes()
    if data == "diabetes":
        return X, y
    rng = np.random.default_rng(0)
    X = rng.standard_normal((int(data.removeprefix("gaussian-")), X.shape[1]))
    return X, np.tanh(X @ rng.standard_normal(X.shape[1]))


def environment(config: str) -> dict[str, str]:
    """The subprocess's environment: the thread variables removed, or set to 1 for ``one``."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    if config == "one":
        env.update(dict.fromkeys(THREAD_VARIABLES, "1"))
    return env


def in_subprocess(data: str, config: str, max_iter: int) -> dict[str, Any]:
    """``cell`` in a fresh process; adds its wall time (start, imports and JIT included)."""
    began = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--cell", data, config, str(max_iter)],
                          capture_output=True, text=True, check=True, env=environment(config))
    run = json.loads(done.stdout.strip().splitlines()[-1])
    return dict(run, data=data, config=config, wall_seconds=time.perf_counter() - began)


@contextmanager
def busy(processes: int) -> Any:
    """``processes`` pure-Python loops (one core each) running for the ``with`` block."""
    children = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(processes)]
    try:
        time.sleep(0.2 if children else 0.0)  # let them get going
        yield
    finally:
        for child in children:
            child.kill()
            child.wait()


def measure(max_iter: int, repeats: int, loads: list[int],
            data: list[str] | None = None, configs: tuple[str, ...] = ("default", "one"),
            ) -> dict[str, Any]:
    """Every run (each load, each repeat, the configurations interleaved) and the medians."""
    runs = []
    for load in loads:
        with busy(load):
            for repeat in range(repeats):
                for d in data or ["diabetes"]:
                    for config in configs:
                        run = dict(in_subprocess(d, config, max_iter), busy=load, repeat=repeat)
                        print(f"busy {load} {d} {config} #{repeat}: fit {run['fit_seconds']:.3f}"
                              f" s, process {run['wall_seconds']:.2f} s", flush=True)
                        runs.append(run)
    return {"max_iter": max_iter, "repeats": repeats, "loads": loads,
            "runs": runs, "summary": summarise(runs, configs)}


def summarise(runs: list[dict[str, Any]], configs: tuple[str, ...]) -> list[dict[str, Any]]:
    """Per (busy, data): median seconds of each configuration and first / last ratios."""
    rows = []
    for key in dict.fromkeys((r["busy"], r["data"]) for r in runs):
        row: dict[str, Any] = {"busy": key[0], "data": key[1],
                               "work": next(r["work"] for r in runs if r["data"] == key[1])}
        for what in ("fit_seconds", "wall_seconds"):
            medians = {c: statistics.median(r[what] for r in runs
                                            if (r["busy"], r["data"], r["config"]) == (*key, c))
                       for c in configs}
            row[what] = medians
            row[f"{what}_ratio"] = medians[configs[0]] / medians[configs[-1]]
        target = TARGETS.get(key[0]) if key[1] == "diabetes" else None
        row["target"] = target
        row["meets_target"] = None if target is None else row["fit_seconds_ratio"] <= target
        rows.append(row)
    return rows


def markdown(report: dict[str, Any]) -> str:
    m, (first, last) = report["machine"], report["configs"]
    lines = [f"# Threads: the {report['title']}, `{first}` against `{last}`", "",
             f"{m['date']}; {m['cpu']} ({m['cores']} cores), Python {m['python']}, "
             f"relu-altmin {m['versions']['relu_altmin']}, NumPy {m['versions']['numpy']}, "
             f"Numba {m['versions']['numba']}; `max_iter` {report['max_iter']}; medians of "
             f"{report['repeats']} fresh processes per cell. Fit: the timed fit inside the "
             "process (after a warm-up fit); process: its whole wall time.", "",
             f"| busy processes | data | work | fit s `{first}` | fit s `{last}` | ratio | "
             f"process s `{first}` | process s `{last}` | ratio | target | met |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in report["summary"]:
        fit, wall = r["fit_seconds"], r["wall_seconds"]
        target = "" if r["target"] is None else f"<= {r['target']:g}"
        met = {None: "", True: "yes", False: "**no**"}[r["meets_target"]]
        lines.append(f"| {r['busy']} | {r['data']} | {r['work']:.2g} | {fit[first]:.3f} | "
                     f"{fit[last]:.3f} | {r['fit_seconds_ratio']:.2f} | {wall[first]:.2f} | "
                     f"{wall[last]:.2f} | {r['wall_seconds_ratio']:.2f} | {target} | {met} |")
    return "\n".join(lines) + "\n"


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    configs = list(dict.fromkeys(r["config"] for r in runs))
    cells = list(dict.fromkeys((r["busy"], r["data"]) for r in runs))
    fig, ax = pyplot().subplots(figsize=(max(5, 1.5 * len(cells)), 4))
    for i, config in enumerate(configs):
        medians = [statistics.median(r["fit_seconds"] for r in runs
                                     if (r["busy"], r["data"], r["config"]) == (*c, config))
                   for c in cells]
        ax.bar(np.arange(len(cells)) + 0.4 * i, medians, width=0.4, label=config)
    ax.set_xticks(np.arange(len(cells)) + 0.2, [f"busy {b}\n{d}" for b, d in cells])
    ax.set_yscale("log")
    ax.set_ylabel("fit seconds (median)")
    ax.legend()
    save_figure(fig, path, dpi=80)


def main(argv: list[str] | None = None) -> None:
    parser = harness.args.parser(__doc__, harness.args.parent(
        "threads, threads_quick or threads_sizes"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-iter", type=int, default=None,
                        help="fit iterations (default 100; 20 with --quick, 5 with --sizes)")
    parser.add_argument("--loads", type=int, nargs="+", default=[0, 1, 2],
                        help="busy processes beside the fit (default 0 1 2)")
    parser.add_argument("--quick", action="store_true", help="1 repeat, 20 iterations")
    parser.add_argument("--sizes", type=int, nargs="+",
                        help="sweep Gaussian rows, all cores against one, idle machine")
    parser.add_argument("--cell", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.from_json:
        rebuild(args, markdown, plot)
        return
    if args.cell:
        print(json.dumps(cell(args.cell[0], args.cell[1], int(args.cell[2]))))
        return
    if args.quick:
        args.repeats = 1
    args.max_iter = args.max_iter or (5 if args.sizes else 20 if args.quick else 100)
    if args.sizes:
        report = measure(args.max_iter, args.repeats, [0], [f"gaussian-{n}" for n in args.sizes],
                         ("all", "one"))
        title, name = "size sweep (Gaussian rows, d = 10, h = 32)", "threads_sizes"
    else:
        report = measure(args.max_iter, args.repeats, args.loads)
        title, name = "demo fit (diabetes, h = 32, slope 0.1)", "threads"
    name = harness.args.report_name(args, name + "_quick" if args.quick else name)
    configs = ("all", "one") if args.sizes else ("default", "one")
    report = {"benchmark": name, "title": title, "configs": configs, "machine": machine_info(),
              **report}
    write_report(args.out, name, report, markdown(report), plot)
    print(markdown(report))


if __name__ == "__main__":
    main()
