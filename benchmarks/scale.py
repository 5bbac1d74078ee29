"""Scale benchmark: wide hidden layers (matrix-free CG hidden step) and long data.

For each cell (rows ``n`` x width ``h``), ``fit`` runs ``--iters`` iterations on synthetic
regression data (Gaussian ``X``, ``d = 32`` features, targets from a random 32-unit leaky-ReLU
teacher plus noise) with ``solver="cg"`` and, where the dense system fits in ``--dense-budget``
bytes, with ``solver="dense"`` from the same start. ``p = h (d + 1)`` hidden unknowns; the
default joint step adds ``h + 1`` output unknowns. Full-batch ``torch.optim.Adam`` (float64,
the same start: ``fit``'s random hidden layer with its least-squares output layer) then runs
for the same wall time as the CG fit at each learning rate of ``--adam-lrs``; its best final
training MSE is reported beside ours.

Every run is its own process, so its peak resident memory (``ru_maxrss``) is its own: the
interpreter and NumPy (about 0.1 GB) included. Writes ``results/<name>.json``, ``.md`` and
``.png``: ``scale_wide`` by default, ``scale_rows`` with ``--long``.

Usage::

    python benchmarks/scale.py                      # p about 1e3, 1e4, 1e5 at n = 10000
    python benchmarks/scale.py --long               # n = 1e5 and 1e6 rows at h = 32
    python benchmarks/scale.py --hidden 30 300 --n 2000 --iters 2 --name scale_wide_quick
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _common import machine_info

RESULTS = Path(__file__).resolve().parent / "results"
D, SLOPE, TEACHER = 32, 0.1, 32


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian inputs and a leaky-ReLU teacher's outputs plus 10% noise, standardised."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D))
    W = rng.standard_normal((TEACHER, D)) / np.sqrt(D)
    Z = X @ W.T
    y = np.where(Z > 0, Z, SLOPE * Z) @ rng.standard_normal(TEACHER)
    y = y + 0.1 * y.std() * rng.standard_normal(n)
    return X, (y - y.mean()) / y.std()


def peak_gb() -> float:
    """This process's peak resident memory so far, in GB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def run_fit(n: int, hidden: int, solver: str, iters: int) -> dict:
    import relu_altmin

    X, y = make_data(n)
    relu_altmin.fit(X[:8], y[:8], 2, max_iter=1)  # compile the Numba kernel outside the timings
    result = relu_altmin.fit(X, y, hidden, negative_slope=SLOPE, seed=0, max_iter=iters,
                             solver=solver, tol=0.0)
    steps = result.history[1:]
    per_iteration = [b.seconds - a.seconds for a, b in zip(result.history, steps, strict=False)]
    return {
        "solver": result.solver, "loss": result.loss, "start_loss": result.history[0].loss,
        "seconds": result.history[-1].seconds,
        "seconds_per_iteration": float(np.median(per_iteration)) if steps else None,
        "cg_iterations": [rec.cg_iterations for rec in steps],
        "solves": [rec.solves for rec in steps], "losses": [rec.loss for rec in result.history],
        "peak_gb": peak_gb(),
    }


def run_adam(n: int, hidden: int, seconds: float, lr: float) -> dict:
    import torch

    import relu_altmin

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    X, y = make_data(n)
    start = relu_altmin.fit(X, y, hidden, negative_slope=SLOPE, seed=0, max_iter=0).network
    params = [torch.tensor(np.asarray(a), requires_grad=True)
              for a in (start.W, start.b, start.V, start.c)]
    W, b, V, c = params
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    optimiser = torch.optim.Adam(params, lr=lr)

    def loss() -> torch.Tensor:
        return torch.mean((torch.nn.functional.leaky_relu(Xt @ W.T + b, SLOPE) @ V + c - yt) ** 2)

    began, epochs = time.perf_counter(), 0
    while time.perf_counter() - began < seconds:
        optimiser.zero_grad()
        value = loss()
        value.backward()
        optimiser.step()
        epochs += 1
    with torch.no_grad():
        final = float(loss())
    return {"lr": lr, "loss": final, "epochs": epochs, "seconds": time.perf_counter() - began,
            "peak_gb": peak_gb()}


def in_subprocess(threads: int, *args: str) -> dict:
    """Run one cell in a fresh process (its own peak memory) with ``threads`` BLAS/OpenMP/torch
    threads; its last stdout line is JSON."""
    env = {**os.environ, **{name: str(threads) for name in (
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")}}
    done = subprocess.run([sys.executable, __file__, "--cell", *args], capture_output=True,
                          text=True, check=False, env=env)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def write_report(report: dict, name: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2))
    machine = report["machine"]
    lines = [
        f"# `fit` at scale: n in {report['n']}, h in {report['hidden']} (d = {D}, slope {SLOPE})",
        "",
        f"Generated by `benchmarks/scale.py` on {machine['date']} ({machine['cpu']}, "
        f"{machine['cores']} cores; relu-altmin {machine['versions']['relu_altmin']}, "
        f"numpy {machine['versions']['numpy']}, torch {machine['versions']['torch']}). "
        f"{report['iters']} iterations of `fit` (default joint step) per run, "
        f"{report['threads']} thread(s) each; Adam gets the CG fit's wall time at each learning "
        "rate. Peak memory is the whole process's.",
        "",
        "| n | h | p = h(d+1) | solver | s / iteration | CG products / iteration | peak GB | "
        "start MSE | final MSE | Adam best MSE (lr, epochs) |",
        "|---:|---:|---:|---|---:|---|---:|---:|---:|---|",
    ]
    for row in report["rows"]:
        for solver in ("cg", "dense"):
            cell = row.get(solver)
            if cell is None:
                continue
            if "error" in cell:
                lines.append(f"| {row['n']} | {row['hidden']} | {row['p']} | {solver} | "
                             f"failed: {cell['error']} | | | | | |")
                continue
            adam = row.get("adam_best") if solver == "cg" else None
            adam_text = (f"{adam['loss']:.4g} ({adam['lr']:g}, {adam['epochs']})"
                         if adam else "")
            lines.append(
                f"| {row['n']} | {row['hidden']} | {row['p']} | {solver} | "
                f"{cell['seconds_per_iteration']:.3g}"
                f" | {', '.join(map(str, cell['cg_iterations']))} | {cell['peak_gb']:.2f} | "
                f"{cell['start_loss']:.4g} | {cell['loss']:.4g} | {adam_text} |")
    skipped = [row["p"] for row in report["rows"] if row.get("dense") is None]
    if skipped:
        lines += ["", f"Dense not run for p = {', '.join(map(str, skipped))}: its `24 m^2` "
                  f"bytes exceed `--dense-budget` = {report['dense_budget'] / 1e9:g} GB."]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key, label = (("n", "rows n") if len(report["n"]) > 1 else ("p", "hidden unknowns p"))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for solver, marker in (("cg", "o"), ("dense", "s")):
        rows = [r for r in report["rows"] if r.get(solver) and "error" not in r[solver]]
        xs = [r[key] for r in rows]
        left.loglog(xs, [r[solver]["seconds_per_iteration"] for r in rows], marker=marker,
                    label=solver)
        right.loglog(xs, [r[solver]["peak_gb"] for r in rows], marker=marker, label=solver)
    left.set(xlabel=label, ylabel="seconds per iteration")
    right.set(xlabel=label, ylabel="peak resident memory (GB)")
    for axis in (left, right):
        axis.legend()
        axis.grid(True, which="both", alpha=0.3)
    fig.suptitle(f"fit, d = {D}: dense against matrix-free hidden steps")
    fig.tight_layout()
    fig.savefig(RESULTS / f"{name}.png", dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[30, 303, 3030],
                        help="widths (default: p = 33 h about 1e3, 1e4, 1e5)")
    parser.add_argument("--n", type=int, nargs="+", default=[10_000],
                        help="rows (default 10000)")
    parser.add_argument("--long", action="store_true",
                        help="long data: n = 1e5 and 1e6 at h = 32, written to scale_rows.*")
    parser.add_argument("--iters", type=int, default=3, help="fit iterations (default 3)")
    parser.add_argument("--dense-budget", type=float, default=4e9,
                        help="bytes the dense runs may use (24 m^2; default 4e9)")
    parser.add_argument("--adam-lrs", type=float, nargs="+", default=[1e-3, 1e-2])
    parser.add_argument("--threads", type=int, default=1,
                        help="BLAS, OpenMP, Numba and torch threads of every run (default 1)")
    parser.add_argument("--name", default=None,
                        help="results file stem (default scale_wide, or scale_rows with --long)")
    parser.add_argument("--cell", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cell:  # one run, in this process: fit N H SOLVER ITERS | adam N H SECONDS LR
        kind, *values = args.cell
        if kind == "fit":
            out = run_fit(int(values[0]), int(values[1]), values[2], int(values[3]))
        else:
            out = run_adam(int(values[0]), int(values[1]), float(values[2]), float(values[3]))
        print(json.dumps(out))
        return

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
            budget = str(row["cg"]["seconds"])
            adam = [in_subprocess(args.threads, "adam", *cell, budget, str(lr))
                    for lr in args.adam_lrs]
            row["adam"] = adam
            valid = [a for a in adam if "error" not in a]
            row["adam_best"] = min(valid, key=lambda a: a["loss"]) if valid else None
        print(json.dumps(row), flush=True)
        rows.append(row)
    report = {"benchmark": name, "n": args.n, "hidden": args.hidden, "d": D,
              "negative_slope": SLOPE,
              "iters": args.iters, "threads": args.threads, "dense_budget": args.dense_budget,
              "adam_lrs": args.adam_lrs, "machine": machine_info(), "rows": rows}
    write_report(report, name)


if __name__ == "__main__":
    main()
