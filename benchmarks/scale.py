"""Scale benchmark: wide hidden layers (matrix-free CG hidden step) and long data.

For each cell (rows ``n`` x width ``h``), ``fit`` runs ``--iters`` iterations on synthetic
regression data (Gaussian ``X``, ``d = 32`` features, targets from a random 32-unit leaky-ReLU
teacher plus noise) with ``solver="cg"`` and, where the dense system fits in ``--dense-budget``
bytes, with ``solver="dense"`` from the same start. ``p = h (d + 1)`` hidden unknowns; the
default joint step adds ``h + 1`` output unknowns. Full-batch ``torch.optim.Adam`` (float64,
the same start: ``fit``'s random hidden layer with its least-squares output layer) then runs
for the same wall time as the CG fit at each learning rate of ``--adam-lrs``; its best final
training MSE is reported beside ours.

``--streamed`` trains from disk: the data (``n = 1e7`` rows by default, float32) is written
block by block to ``X.npy`` and ``y.npy`` in ``--data-dir`` (reused when their shapes match),
and ``fit`` reads them as ``numpy.memmap`` in row chunks, never whole; Adam (the same loop,
float32, data loaded into memory) gets the CG fit's wall time.

Every run is its own process, so its peak resident memory (``ru_maxrss``) is its own: the
interpreter and NumPy (about 0.1 GB) included, and, for ``--streamed``, the pages of the
memory-mapped files read so far (file-backed: the kernel can drop them at any time); the
process's own (anonymous) memory is also sampled. Writes ``results/<name>.json``, ``.md`` and
``.png``: ``scale_wide`` by default, ``scale_rows`` with ``--long``, ``scale_streamed`` with
``--streamed``.

``--versus-adam`` (project issue 24; ``scale_parts/versus_adam*.py``) compares ``fit`` with
minibatch ``torch.optim.Adam`` at equal wall time on data in memory, targets from a teacher of
``--teacher`` (256) units, wider than the students, so that no run reaches the noise floor:
per cell (``--n`` 1e5 1e6 x ``--hidden`` 32 128, or ``--cells``) and budget (``--budgets``
60 300 s), ``fit`` with sampled and with all-row curvature, and Adam at every batch size x
learning rate (``--batches`` 256 1024 4096 x ``--lrs`` 1e-3 3e-3 1e-2), each in its own
single-threaded process, ``--workers`` at a time; ``scale_adam`` by default. ``--adam-from
JSON`` runs only the ``--adam-keep`` best Adam configurations of that report per cell (and
merges its runs in). ``--from-json`` rewrites any of these reports' ``.md`` and ``.png`` from its
``.json`` (the kind of report is read from the JSON). The parts live in ``scale_parts/``.

Usage::

    python benchmarks/scale.py                      # p about 1e3, 1e4, 1e5 at n = 10000
    python benchmarks/scale.py --long               # n = 1e5 and 1e6 rows at h = 32
    python benchmarks/scale.py --streamed           # n = 1e7 rows at h = 32, from disk
    python benchmarks/scale.py --hidden 30 300 --n 2000 --iters 2 --name scale_wide_quick
    python benchmarks/scale.py --streamed --n 200000 --iters 2 --data-dir /tmp/rs_smoke \\
        --name scale_streamed_smoke
    python benchmarks/scale.py --versus-adam --budgets 60 --workers 2 --name scale_adam_60
    python benchmarks/scale.py --versus-adam --budgets 300 --workers 2 \\
        --adam-from benchmarks/results/scale_adam_60.json       # writes scale_adam.*
    python benchmarks/scale.py --versus-adam --quick          # n 20000, h 8, 3 s: a smoke run
"""


from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import harness.args
import numpy as np
from harness.jobs import one_thread
from harness.record import load, machine_info
from harness.report import rebuild, write_report
from scale_parts import report as scale_report
from scale_parts import versus_adam, versus_adam_driver
from scale_parts.data import SLOPE, TARGET_BYTES, D, make_data, write_data
from scale_parts.runners import (
    run_adam,
    run_fit,
    run_streamed_adam,
    run_streamed_fit,
)
from scale_parts.versus_adam_report import markdown as versus_markdown
from scale_parts.versus_adam_report import plot as versus_plot
from scale_parts.versus_adam_report import prepared


def write(report: dict, args: argparse.Namespace, default: str, streamed: bool = False) -> None:
    """``<name>.json``, ``.md`` and ``.png`` of a wide, long or streamed report in ``--out``."""
    name = harness.args.report_name(args, default)
    markdown = scale_report.streamed_markdown if streamed else scale_report.markdown
    plot = scale_report.streamed_plot if streamed else scale_report.plot
    write_report(args.out, name, report, markdown(report), None, indent=2, newline=False)
    plot(report, args.out / f"{name}.png")


def from_json(args: argparse.Namespace) -> None:
    """``--from-json``: the report of any kind, rebuilt from its JSON without running."""
    saved = load(args.from_json)
    if "runs" in saved:  # --versus-adam
        rebuild(args, lambda r: versus_markdown(prepared(r)), versus_plot)
        return
    streamed = "data_dir" in saved
    rebuild(args, scale_report.streamed_markdown if streamed else scale_report.markdown, None)
    if not args.no_plot:
        plot = scale_report.streamed_plot if streamed else scale_report.plot
        plot(saved, args.out / f"{harness.args.report_name(args, '')}.png")


def adam_runs(args: argparse.Namespace, kind: str, *cell: str, seconds: float) -> dict:
    """Adam runs (``--cell kind *cell seconds lr``) at every ``--adam-lrs``, for ``seconds``
    each: ``{"adam": [...], "adam_best": the lowest final loss or None}``."""
    adam = [in_subprocess(args.threads, kind, *cell, str(seconds), str(lr))
            for lr in args.adam_lrs]
    valid = [a for a in adam if "error" not in a]
    return {"adam": adam, "adam_best": min(valid, key=lambda a: a["loss"]) if valid else None}


def in_subprocess(threads: int, *args: str, echo: bool = False) -> dict:
    """Run one cell in a fresh process (its own peak memory) with ``threads`` BLAS/OpenMP/torch
    threads; its last stdout line is JSON. ``echo`` copies its stderr (progress) here live."""
    env = {**os.environ, **{name: str(threads) for name in (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}}
    command = [sys.executable, __file__, "--cell", *args]
    if echo:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) as child:
            out: list[str] = []
            reader = threading.Thread(target=lambda: out.append(child.stdout.read()))
            reader.start()
            err = []
            for line in child.stderr:
                sys.stderr.write(line)
                err.append(line)
            reader.join()
            returncode, stdout, stderr = child.wait(), out[0], "".join(err)
    else:
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
        returncode, stdout, stderr = done.returncode, done.stdout, done.stderr
    if returncode != 0:
        return {"error": stderr.strip().splitlines()[-1] if stderr.strip() else "failed"}
    return json.loads(stdout.strip().splitlines()[-1])


def streamed(args: argparse.Namespace) -> None:
    """``--streamed``: write the data once, then fit from the memory-mapped files."""
    if len(args.n) != 1:
        raise SystemExit("--streamed takes one --n (the data files hold one size)")
    n, directory = args.n[0], Path(args.data_dir)
    began = time.perf_counter()
    x_path, y_path = write_data(directory, n)
    print(f"data in {directory} ({time.perf_counter() - began:.1f} s)", file=sys.stderr)
    data_gb = (x_path.stat().st_size + y_path.stat().st_size) / 1e9
    rows = []
    for hidden in args.hidden:
        row: dict = {"n": n, "hidden": hidden, "p": hidden * (D + 1)}
        for solver in args.solvers:
            row[solver] = in_subprocess(args.threads, "sfit", str(directory), str(hidden),
                                        solver, str(args.iters), echo=True)
        budget_from = next((row[s] for s in args.solvers if "error" not in row[s]), None)
        if budget_from is not None:
            row.update(adam_runs(args, "sadam", str(directory), str(hidden),
                                 seconds=budget_from["seconds"]))
        print(json.dumps(row), flush=True)
        rows.append(row)
    name = args.name or "scale_streamed"
    report = {"benchmark": name, "n": n, "hidden": args.hidden, "d": D,
              "negative_slope": SLOPE, "iters": args.iters, "threads": args.threads,
              "solvers": args.solvers, "adam_lrs": args.adam_lrs, "data_dir": str(directory),
              "data_gb": data_gb, "target_bytes": TARGET_BYTES,
              "target_met": all(row[s].get("peak_gb", np.inf) * 1e9 < TARGET_BYTES
                                for row in rows for s in args.solvers),
              "machine": machine_info(), "rows": rows}
    write(report, args, name, streamed=True)


def versus_cell(kind: str, values: list[str]) -> dict:
    """One ``--versus-adam`` run in this process, on one thread: ``vfit N H TEACHER BUDGET
    METHOD`` or ``vadam N H TEACHER BUDGET LR BATCH``."""
    one_thread()
    n, hidden, teacher, budget = int(values[0]), int(values[1]), int(values[2]), float(values[3])
    X, y = make_data(n, teacher=teacher)
    if kind == "vfit":
        return versus_adam.run_fit(X, y, hidden, SLOPE, budget,
                                   versus_adam.FIT_METHODS[values[4]])
    return versus_adam.run_adam(X, y, hidden, SLOPE, budget, float(values[4]), int(values[5]))


def run_versus_adam(args: argparse.Namespace) -> None:
    """``--versus-adam``: fit against minibatch Adam at equal wall time
    (``scale_parts/versus_adam*.py``); each run in its own single-threaded process (``--cell
    vfit|vadam``)."""
    settings = versus_adam_driver.configure(args, D, SLOPE)

    def run_cell(job: dict) -> dict:
        head = [str(job["n"]), str(job["hidden"]), str(args.teacher), repr(job["budget"])]
        if job["method"] == "adam":
            return in_subprocess(1, "vadam", *head, repr(job["lr"]), str(job["batch"]))
        return in_subprocess(1, "vfit", *head, job["method"])

    versus_adam_driver.versus(args, run_cell, settings)


def main(argv: list[str] | None = None) -> None:
    parser = harness.args.parser(__doc__, harness.args.parent(
        "scale_wide; scale_rows with --long, scale_streamed with --streamed, scale_adam with "
        "--versus-adam", workers=1))
    parser.add_argument("--hidden", type=int, nargs="+", default=None,
                        help="widths (default: p = 33 h about 1e3, 1e4, 1e5; 32 with "
                        "--streamed)")
    parser.add_argument("--n", type=int, nargs="+", default=None,
                        help="rows (default 10000; 1e7 with --streamed, which takes one)")
    parser.add_argument("--long", action="store_true",
                        help="long data: n = 1e5 and 1e6 at h = 32, written to scale_rows.*")
    parser.add_argument("--streamed", action="store_true",
                        help="data on disk (float32 .npy in --data-dir), read by fit as "
                        "memmaps in row chunks; written to scale_streamed.*")
    parser.add_argument("--data-dir", default="/tmp/relu_altmin_scale",
                        help="--streamed: where X.npy and y.npy are written and reused "
                        "(default /tmp/relu_altmin_scale)")
    parser.add_argument("--solvers", nargs="+", choices=["cg", "dense"],
                        default=["cg", "dense"],
                        help="--streamed: hidden-step solvers; Adam gets the first one's "
                        "wall time (default cg dense)")
    parser.add_argument("--iters", type=int, default=3, help="fit iterations (default 3)")
    parser.add_argument("--dense-budget", type=float, default=4e9,
                        help="bytes the dense runs may use (24 m^2; default 4e9)")
    parser.add_argument("--adam-lrs", type=float, nargs="+", default=[1e-3, 1e-2])
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS, OpenMP, Numba and torch threads of every run (default 1)")
    versus_adam_driver.options(parser)
    parser.add_argument("--cell", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.from_json and not args.versus_adam:
        from_json(args)
        return
    if args.cell:  # one run, in this process: fit N H SOLVER ITERS | adam N H SECONDS LR
        kind, *values = args.cell  # | sfit DIR H SOLVER ITERS | sadam DIR H SECONDS LR
        if kind in ("vfit", "vadam"):  # | vfit N H TEACHER BUDGET METHOD | vadam ... LR BATCH
            out = versus_cell(kind, values)
        elif kind == "fit":
            out = run_fit(int(values[0]), int(values[1]), values[2], int(values[3]))
        elif kind == "sfit":
            out = run_streamed_fit(values[0], int(values[1]), values[2], int(values[3]))
        elif kind == "sadam":
            out = run_streamed_adam(values[0], int(values[1]), float(values[2]),
                                    float(values[3]))
        else:
            out = run_adam(int(values[0]), int(values[1]), float(values[2]), float(values[3]))
        print(json.dumps(out))
        return

    if args.versus_adam:
        run_versus_adam(args)
        return
    if args.streamed:
        args.n, args.hidden = args.n or [10_000_000], args.hidden or [32]
        streamed(args)
        return
    args.n, args.hidden = args.n or [10_000], args.hidden or [30, 303, 3030]
    if args.long:
        args.n, args.hidden = [100_000, 1_000_000], [32]
    name = args.name or ("scale_rows" if args.long else "scale_wide")
    rows = []
    for n, hidden in itertools.product(args.n, args.hidden):
        p = hidden * (D + 1)
        unknowns = p + hidden + 1
        row: dict = {"n": n, "hidden": hidden, "p": p, "unknowns": unknowns}
        cell = (str(n), str(hidden))
        row["cg"] = in_subprocess(args.threads, "fit", *cell, "cg", str(args.iters))
        if 24 * unknowns**2 <= args.dense_budget:
            row["dense"] = in_subprocess(args.threads, "fit", *cell, "dense", str(args.iters))
        if "error" not in row["cg"]:
            row.update(adam_runs(args, "adam", *cell, seconds=row["cg"]["seconds"]))
        print(json.dumps(row), flush=True)
        rows.append(row)
    report = {"benchmark": name, "n": args.n, "hidden": args.hidden, "d": D,
              "negative_slope": SLOPE,
              "iters": args.iters, "threads": args.threads, "dense_budget": args.dense_budget,
              "adam_lrs": args.adam_lrs, "machine": machine_info(), "rows": rows}
    write(report, args, name)


if __name__ == "__main__":
    main()
