"""``scale.py --versus-adam``'s driver: its options, the plan of runs, running them (each in
its own single-threaded process) and writing the report."""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from harness.peers.torch_optim import CHECKPOINTS
from harness.record import machine_info
from harness.report import rebuild, write_report

from .versus_adam import BATCHES, FIT_METHODS, LRS, QUICK_CONFIGS, cell_key, configs_from
from .versus_adam_report import markdown, plot, prepared


def options(parser: argparse.ArgumentParser) -> None:
    """The options of ``--versus-adam`` on ``scale.py``'s parser (which has ``--n``,
    ``--hidden`` and the shared ``--out``, ``--name``, ``--workers`` and ``--from-json``)."""
    group = parser.add_argument_group("--versus-adam: fit against minibatch Adam (issue 24)")
    group.add_argument("--versus-adam", action="store_true",
                       help="fit against minibatch Adam at equal wall time; scale_adam.* "
                       "(default cells --n 100000 1000000 x --hidden 32 128)")
    group.add_argument("--quick", action="store_true",
                       help="smoke run: n 20000, h 8, 3 s, two Adam configurations")
    group.add_argument("--cells", nargs="+", metavar="NxH",
                       help="cells as rows x width, e.g. 100000x32 (instead of --n x --hidden)")
    group.add_argument("--budgets", type=float, nargs="+",
                       help="wall-time budgets in seconds (default 60 300)")
    group.add_argument("--batches", type=int, nargs="+", help="Adam batch sizes (256 1024 4096)")
    group.add_argument("--lrs", type=float, nargs="+", help="Adam learning rates (1e-3 3e-3 1e-2)")
    group.add_argument("--methods", nargs="+", default=[*FIT_METHODS, "adam"],
                       choices=[*FIT_METHODS, "adam"], help="what to run (all)")
    group.add_argument("--teacher", type=int, default=256, help="teacher units (default 256)")
    group.add_argument("--adam-from", metavar="JSON",
                       help="a scale_adam report: run only its --adam-keep best Adam "
                       "configurations per cell, and include its runs in this report")
    group.add_argument("--adam-keep", type=int, default=1,
                       help="with --adam-from: configurations kept per cell (default 1)")


def configure(args: argparse.Namespace, d: int, slope: float) -> dict:
    """Fill in ``args``'s ``--versus-adam`` defaults (``cells``, ``budgets``, ``configs``,
    ``name``) and return the report's settings."""
    quick = args.quick
    args.name = args.name or (Path(args.from_json).stem if args.from_json else
                              "scale_adam_quick" if quick else "scale_adam")
    n, hidden = args.n or ([20_000] if quick else [100_000, 1_000_000]), args.hidden or (
        [8] if quick else [32, 128])
    args.cells = ([tuple(int(v) for v in cell.split("x")) for cell in args.cells] if args.cells
                  else list(itertools.product(n, hidden)))
    args.budgets = args.budgets or ([3.0] if quick else [60.0, 300.0])
    args.configs = (list(QUICK_CONFIGS) if quick and not (args.batches or args.lrs)
                    else list(itertools.product(args.batches or BATCHES, args.lrs or LRS)))
    return {"benchmark": args.name, "d": d, "negative_slope": slope, "teacher": args.teacher,
            "noise": 0.1, "seed": 0, "dtype": "float64", "threads": 1,
            "budgets": args.budgets, "cells": args.cells, "adam_configs": args.configs}


def plan(args: Any, previous: list[dict]) -> list[dict]:
    """The runs to do: ``{"n", "hidden", "budget", "method"[, "batch", "lr"]}`` per run. With
    ``previous`` runs (``--adam-from``), Adam only in their best configurations for the cell
    (the whole grid for a cell they have no Adam run of)."""
    grid = [tuple(c) for c in args.configs]
    jobs = []
    for budget, (n, hidden) in itertools.product(args.budgets, args.cells):
        base = {"n": n, "hidden": hidden, "budget": budget}
        jobs += [{**base, "method": m} for m in FIT_METHODS if m in args.methods]
        if "adam" in args.methods:
            configs = configs_from(previous, n, hidden, args.adam_keep) if previous else grid
            jobs += [{**base, "method": "adam", "batch": b, "lr": lr}
                     for b, lr in configs or grid]
    return jobs


def identity(run: dict) -> tuple:
    return (*cell_key(run), run["method"], run.get("batch"), run.get("lr"))


def versus(args: Any, run_cell: Callable[[dict], dict], settings: dict) -> None:
    """Run ``plan``'s jobs (``run_cell`` runs one in its own process), ``args.workers`` at a
    time, and write the report (with ``--adam-from``'s runs that were not redone);
    ``--from-json``: rewrite that report instead."""
    if args.from_json:
        rebuild(args, lambda saved: markdown(prepared(saved)), plot)
        return
    previous = json.loads(Path(args.adam_from).read_text())["runs"] if args.adam_from else []
    jobs = plan(args, previous)
    runs = []
    with ThreadPoolExecutor(args.workers) as pool:
        futures = {pool.submit(run_cell, job): job for job in jobs}
        for i, future in enumerate(as_completed(futures), 1):
            run = {**futures[future], **future.result()}
            runs.append(run)
            print(f"[{i}/{len(jobs)}] {describe(run)}", flush=True)
    redone = {identity(r) for r in runs}
    runs = sorted([r for r in previous if identity(r) not in redone] + runs,
                  key=lambda r: (cell_key(r), list(FIT_METHODS).index(r["method"])
                                 if r["method"] in FIT_METHODS else 9, identity(r)[-2:]))
    report = {**settings, "budgets": sorted({r["budget"] for r in runs}),
              "adam_from": args.adam_from,
              "adam_keep": args.adam_keep if args.adam_from else None,
              "reduced": sorted({cell_key(j)[2] for j in jobs if j["method"] == "adam"})
              if args.adam_from else [],
              "checkpoints": CHECKPOINTS, "workers": args.workers, "machine": machine_info(),
              "runs": runs}
    render(report, Path(args.out), args.name)


def render(report: dict, out: Path, name: str) -> None:
    """Verdicts, ``<name>.json``, ``.md`` and ``.png`` in ``out``."""
    report = prepared(report)
    write_report(out, name, report, markdown(report), plot)


def describe(run: dict) -> str:
    what = f"n={run['n']} h={run['hidden']} {run['budget']:g}s {run['method']}"
    if run["method"] == "adam":
        what += f" batch {run['batch']} lr {run['lr']:g}"
    if "error" in run:
        return f"{what}: failed: {run['error']}"
    count = f"{run['iterations']} iterations" if "iterations" in run else (
        f"{run['epochs']:.3g} epochs")
    return f"{what}: MSE {run['mse']:.5g} ({count})"
