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

``--versus-adam`` (project issue 24; ``benchmarks/_adam.py``) compares ``fit`` with minibatch
``torch.optim.Adam`` at equal wall time on data in memory, targets from a teacher of
``--teacher`` (256) units, wider than the students, so that no run reaches the noise floor:
per cell (``--n`` 1e5 1e6 x ``--hidden`` 32 128, or ``--cells``) and budget (``--budgets``
60 300 s), ``fit`` with sampled and with all-row curvature, and Adam at every batch size x
learning rate (``--batches`` 256 1024 4096 x ``--lrs`` 1e-3 3e-3 1e-2), each in its own
single-threaded process, ``--workers`` at a time; ``scale_adam`` by default. ``--adam-from
JSON`` runs only the ``--adam-keep`` best Adam configurations of that report per cell (and
merges its runs in); ``--from-json`` rewrites a report's ``.md`` and ``.png``.

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
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import _adam
import numpy as np
from _common import machine_info, one_thread, torch_adam

RESULTS = Path(__file__).resolve().parent / "results"
D, SLOPE, TEACHER = 32, 0.1, 32
TARGET_BYTES = 4 * 2**30  # the target: peak memory under 4 GiB for 1e7 x 32 x 32


def make_data(n: int, seed: int = 0, teacher: int = TEACHER) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian inputs and the outputs of a leaky-ReLU teacher of ``teacher`` units plus 10%
    noise, standardised."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, D))
    W = rng.standard_normal((teacher, D)) / np.sqrt(D)
    a = rng.standard_normal(teacher)
    # in one piece while the teacher's activations are small (the data the other modes
    # measured); a wide teacher on many rows, in blocks of 2**24 activations
    block = n if n * teacher <= 2**27 else max(1, 2**24 // teacher)
    parts = []
    for start in range(0, n, block):
        Z = X[start:start + block] @ W.T
        parts.append(np.where(Z > 0, Z, SLOPE * Z) @ a)
    y = np.concatenate(parts)
    y = y + 0.1 * y.std() * rng.standard_normal(n)
    return X, (y - y.mean()) / y.std()


def write_data(directory: Path, n: int, block: int = 1_000_000) -> tuple[Path, Path]:
    """``make_data``'s model on disk: float32 ``X.npy`` (n, D) and ``y.npy`` (n,) in
    ``directory``, written ``block`` rows at a time (never the whole set in memory); kept if
    files of these shapes exist. The teacher is drawn once (seed 0); block ``i`` draws its
    inputs from seed ``(1, i)`` and its noise from ``(2, i)``. ``y`` is standardised in place
    with statistics summed over the blocks: raw teacher outputs first, then the noise (10% of
    their standard deviation), then the rescaling."""
    from numpy.lib.format import open_memmap

    directory.mkdir(parents=True, exist_ok=True)
    x_path, y_path = directory / "X.npy", directory / "y.npy"
    if _is_array(x_path, (n, D)) and _is_array(y_path, (n,)):
        return x_path, y_path
    teacher = np.random.default_rng(0)
    W = teacher.standard_normal((TEACHER, D)) / np.sqrt(D)
    a = teacher.standard_normal(TEACHER)
    x_part, y_part = directory / "X.partial.npy", directory / "y.partial.npy"
    X = open_memmap(x_part, mode="w+", dtype=np.float32, shape=(n, D))
    y = open_memmap(y_part, mode="w+", dtype=np.float32, shape=(n,))
    blocks = [(i, start, min(start + block, n)) for i, start in enumerate(range(0, n, block))]

    def moments(values: np.ndarray) -> np.ndarray:
        return np.array([values.size, values.sum(), values @ values])

    sums = np.zeros(3)
    for i, start, stop in blocks:
        Xb = np.random.default_rng((1, i)).standard_normal((stop - start, D)).astype(np.float32)
        X[start:stop] = Xb
        Z = Xb.astype(np.float64) @ W.T
        yb = np.where(Z > 0, Z, SLOPE * Z) @ a
        y[start:stop] = yb
        sums += moments(yb)
    noise = 0.1 * np.sqrt(sums[2] / sums[0] - (sums[1] / sums[0]) ** 2)
    sums[:] = 0
    for i, start, stop in blocks:
        yb = y[start:stop] + noise * np.random.default_rng((2, i)).standard_normal(stop - start)
        y[start:stop] = yb
        sums += moments(yb)
    mean = sums[1] / sums[0]
    std = np.sqrt(sums[2] / sums[0] - mean**2)
    for _, start, stop in blocks:
        y[start:stop] = (y[start:stop] - mean) / std
    X.flush()
    y.flush()
    del X, y
    os.replace(x_part, x_path)
    os.replace(y_part, y_path)
    return x_path, y_path


def _is_array(path: Path, shape: tuple[int, ...]) -> bool:
    """Whether ``path`` is a float32 ``.npy`` of this shape."""
    try:
        a = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return False
    return a.shape == shape and a.dtype == np.float32


class MemorySampler(threading.Thread):
    """Samples this process's resident memory every ``interval`` seconds from
    ``/proc/self/status``: the peaks of its anonymous pages (its own allocations) and of its
    file-backed pages (memory-mapped files, shared libraries). Sampling can miss a short peak,
    and a Numba kernel holding the GIL delays the samples; ``ru_maxrss`` is the exact total."""

    def __init__(self, interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.interval, self.anon, self.file = interval, 0, 0
        self.done = threading.Event()

    def sample(self) -> None:
        try:
            with open("/proc/self/status") as f:
                fields = dict(line.split(":", 1) for line in f if line.startswith("Rss"))
        except OSError:
            return
        kib = {key: int(value.split()[0]) * 1024 for key, value in fields.items()}
        self.anon = max(self.anon, kib.get("RssAnon", 0))
        self.file = max(self.file, kib.get("RssFile", 0) + kib.get("RssShmem", 0))

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.sample()

    def stop(self) -> dict:
        self.done.set()
        self.join()
        self.sample()
        return {"peak_anon_gb": self.anon / 1e9 or None, "peak_file_gb": self.file / 1e9 or None}


def peak_gb() -> float:
    """This process's peak resident memory so far, in GB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def run_fit(n: int, hidden: int, solver: str, iters: int) -> dict:
    import relu_altmin

    X, y = make_data(n)
    relu_altmin.fit(X[:8], y[:8], 2, max_iter=1)  # compile the Numba kernel outside the timings
    result = relu_altmin.fit(X, y, hidden, negative_slope=SLOPE, seed=0, max_iter=iters,
                             solver=solver, tol=0.0)
    return {**fit_summary(result), "peak_gb": peak_gb()}


def fit_summary(result: Any) -> dict:
    """What a run records of a ``FitResult``: losses, seconds and CG work per iteration."""
    steps = result.history[1:]
    per_iteration = [b.seconds - a.seconds for a, b in zip(result.history, steps, strict=False)]
    return {
        "solver": result.solver, "loss": result.loss, "start_loss": result.history[0].loss,
        "seconds": result.history[-1].seconds,
        "seconds_per_iteration": float(np.median(per_iteration)) if steps else None,
        "cg_iterations": [rec.cg_iterations for rec in steps],
        "solves": [rec.solves for rec in steps], "losses": [rec.loss for rec in result.history],
    }


def run_adam(n: int, hidden: int, seconds: float, lr: float) -> dict:
    import torch

    import relu_altmin

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    X, y = make_data(n)
    start = relu_altmin.fit(X, y, hidden, negative_slope=SLOPE, seed=0, max_iter=0).network
    final, epochs, elapsed = torch_adam(start, X, y, lr, SLOPE, seconds=seconds)
    return {"lr": lr, "loss": final, "epochs": epochs, "seconds": elapsed,
            "peak_gb": peak_gb()}


def run_streamed_fit(directory: str, hidden: int, solver: str, iters: int) -> dict:
    import relu_altmin

    sampler = MemorySampler()
    sampler.start()
    X = np.load(Path(directory) / "X.npy", mmap_mode="r")
    y = np.load(Path(directory) / "y.npy", mmap_mode="r")
    # compile the Numba kernels outside the timings, on rows in memory
    relu_altmin.fit(np.array(X[:64]), np.array(y[:64]), 2, max_iter=1, solver=solver)
    began = time.perf_counter()
    result = relu_altmin.fit(X, y, hidden, negative_slope=SLOPE, seed=0, max_iter=iters,
                             tol=0.0, solver=solver, progress=True)
    total = time.perf_counter() - began
    # fit's default chunk for a memmap (make_rows's rule: the widest per-row temporary)
    from relu_altmin._rows import CHUNK_ELEMENTS
    chunk_rows = max(1, CHUNK_ELEMENTS // max(D + 1, hidden, 1))
    return {
        **fit_summary(result), "seconds_with_setup": total,
        "times": [rec.seconds for rec in result.history], "stop_reason": result.stop_reason,
        "chunk_rows": chunk_rows, "peak_gb": peak_gb(), **sampler.stop(),
    }


def run_streamed_adam(directory: str, hidden: int, seconds: float, lr: float) -> dict:
    import torch

    import relu_altmin

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    X = np.load(Path(directory) / "X.npy", mmap_mode="r")
    y = np.load(Path(directory) / "y.npy", mmap_mode="r")
    start = relu_altmin.fit(X, y, hidden, negative_slope=SLOPE, seed=0, max_iter=0).network
    # full batch: the float32 data in memory; the float32 start makes torch_adam run in float32
    final, epochs, elapsed = torch_adam(start, np.array(X), np.array(y), lr, SLOPE,
                                        seconds=seconds)
    return {"lr": lr, "loss": final, "epochs": epochs, "seconds": elapsed,
            "peak_gb": peak_gb()}


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


def write_streamed_report(report: dict, name: str) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=2))
    machine = report["machine"]
    lines = [
        f"# `fit` streamed from disk: n = {report['n']}, h in {report['hidden']} "
        f"(d = {D}, slope {SLOPE})",
        "",
        f"Generated by `benchmarks/scale.py --streamed` on {machine['date']} ({machine['cpu']}, "
        f"{machine['cores']} cores; relu-altmin {machine['versions']['relu_altmin']}, "
        f"numpy {machine['versions']['numpy']}, torch {machine['versions']['torch']}). "
        f"Data: float32 `X.npy` and `y.npy`, {report['data_gb']:.2f} GB on disk, read by "
        f"`fit` as `numpy.memmap` in row chunks. {report['iters']} iterations of `fit` "
        f"(default joint step) per run, {report['threads']} thread(s) each. Adam: full-batch "
        "`torch.optim.Adam` in float32 with the data loaded into memory (its memory is not "
        "the target), for the CG fit's wall time at each learning rate.",
        "",
        "| n | h | p = h(d+1) | solver | chunk rows | s / iteration | CG products / iteration "
        "| peak GB | own GB (sampled) | mapped GB (sampled) | start MSE | final MSE "
        "| Adam best MSE (lr, epochs) |",
        "|---:|---:|---:|---|---:|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    verdicts = []
    for row in report["rows"]:
        for index, solver in enumerate(report["solvers"]):
            cell = row.get(solver)
            head = f"| {row['n']} | {row['hidden']} | {row['p']} | {solver} |"
            if cell is None or "error" in cell:
                error = cell["error"] if cell else "not run"
                lines.append(f"{head} failed: {error} | | | | | | | | |")
                verdicts.append(f"{solver} at h = {row['hidden']}: failed")
                continue
            adam = row.get("adam_best") if index == 0 else None
            adam_text = (f"{adam['loss']:.4g} ({adam['lr']:g}, {adam['epochs']})"
                         if adam else "")

            def gb(value: float | None) -> str:
                return "" if value is None else f"{value:.2f}"

            lines.append(
                f"{head} {cell['chunk_rows'] or ''} | {cell['seconds_per_iteration']:.3g} | "
                f"{', '.join(map(str, cell['cg_iterations']))} | {cell['peak_gb']:.2f} | "
                f"{gb(cell['peak_anon_gb'])} | {gb(cell['peak_file_gb'])} | "
                f"{cell['start_loss']:.4g} | {cell['loss']:.4g} | {adam_text} |")
            peak = cell["peak_gb"] * 1e9
            verdicts.append(f"{solver} at h = {row['hidden']}: {peak / 2**30:.2f} GiB, "
                            f"{'met' if peak < TARGET_BYTES else 'NOT met'}")
    lines += [
        "",
        f"**Target (peak memory under 4 GiB)**: {'; '.join(verdicts)}.",
        "",
        "Peak GB is the fit process's `ru_maxrss` (interpreter, NumPy, Numba and the chunk "
        "buffers included), which also counts the pages of the memory-mapped data files read "
        "so far: file-backed pages the kernel may drop under pressure, up to the files' "
        f"{report['data_gb']:.2f} GB. The two sampled columns split it (every 50 ms from "
        "`/proc/self/status`, so a short peak can be missed): own is the peak of the "
        "process's anonymous memory (`RssAnon`), mapped that of its file-backed pages "
        "(`RssFile`, the data files and shared libraries). Chunk rows: `fit`'s default, "
        "`2**22` elements of the widest per-row temporary.",
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    labels, bars = [], []
    for row in report["rows"]:
        for solver in report["solvers"]:
            cell = row.get(solver)
            if cell is None or "error" in cell:
                continue
            label = f"{solver}, h = {row['hidden']}"
            left.plot(cell["times"], cell["losses"], marker="o", label=f"fit {label}")
            labels.append(label)
            bars.append((cell["peak_gb"], cell["peak_anon_gb"] or 0.0))
        adam = row.get("adam_best")
        if adam:
            left.plot([adam["seconds"]], [adam["loss"]], marker="*", markersize=12,
                      linestyle="none",
                      label=f"Adam h = {row['hidden']} (lr {adam['lr']:g}), final")
    left.set(xlabel="seconds (after the data scan)", ylabel="training MSE", yscale="log")
    left.legend()
    left.grid(True, which="both", alpha=0.3)
    positions = np.arange(len(labels))
    right.bar(positions - 0.2, [b[0] for b in bars], 0.4, label="peak RSS (ru_maxrss)")
    right.bar(positions + 0.2, [b[1] for b in bars], 0.4, label="own memory (sampled)")
    right.axhline(TARGET_BYTES / 1e9, color="red", linestyle="--", label="4 GiB target")
    right.set_xticks(positions, labels)
    right.set(ylabel="GB")
    right.legend()
    fig.suptitle(f"fit streamed from disk: n = {report['n']}, d = {D}")
    fig.tight_layout()
    fig.savefig(RESULTS / f"{name}.png", dpi=120)


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
    write_streamed_report(report, name)


def versus_cell(kind: str, values: list[str]) -> dict:
    """One ``--versus-adam`` run in this process, on one thread: ``vfit N H TEACHER BUDGET
    METHOD`` or ``vadam N H TEACHER BUDGET LR BATCH``."""
    one_thread()
    n, hidden, teacher, budget = int(values[0]), int(values[1]), int(values[2]), float(values[3])
    X, y = make_data(n, teacher=teacher)
    if kind == "vfit":
        return _adam.run_fit(X, y, hidden, SLOPE, budget, _adam.FIT_METHODS[values[4]])
    return _adam.run_adam(X, y, hidden, SLOPE, budget, float(values[4]), int(values[5]))


def versus_adam(args: argparse.Namespace) -> None:
    """``--versus-adam``: fit against minibatch Adam at equal wall time (``_adam.py``); each
    run in its own single-threaded process (``--cell vfit|vadam``)."""
    settings = _adam.configure(args, D, SLOPE)

    def run_cell(job: dict) -> dict:
        head = [str(job["n"]), str(job["hidden"]), str(args.teacher), repr(job["budget"])]
        if job["method"] == "adam":
            return in_subprocess(1, "vadam", *head, repr(job["lr"]), str(job["batch"]))
        return in_subprocess(1, "vfit", *head, job["method"])

    _adam.versus(args, run_cell, settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    parser.add_argument("--name", default=None,
                        help="results file stem (default scale_wide; scale_rows with --long, "
                        "scale_streamed with --streamed, scale_adam with --versus-adam)")
    _adam.options(parser, RESULTS)
    parser.add_argument("--cell", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
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
        versus_adam(args)
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
    write_report(report, name)


if __name__ == "__main__":
    main()
