"""The training benchmark's grid: every selected peer on every configuration."""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from harness.datasets import Split, load
from harness.peers import PEERS, Case
from harness.peers import common as budget
from harness.peers.common import Device, Start, as_2d, first_time_at
from harness.peers.ours import ALTMIN_STEPS, BASELINE_METHODS, BASELINES_ERROR, baselines
from harness.peers.scipy_trf import TRF_MAX_NFEV
from harness.peers.sklearn_mlp import SKLEARN_ALPHA, SKLEARN_LBFGS
from harness.peers.torch_optim import (
    LBFGS_HISTORY,
    LBFGS_MAX_ITER,
    TORCH_LBFGS,
    torch_data,
    torch_forward,
    torch_params,
)
from harness.record import day_stamp, dumps, machine_info

import relu_altmin

from .runs import Run, as_json
from .settings import DEFAULT_METHODS, PEER_ORDER


@dataclass(frozen=True)
class Plan:
    """What to run on one ``(data set, hidden, slope, seed)``: the peers and the grids."""

    methods: tuple[str, ...]
    lrs: tuple[float, ...]
    baseline_lrs: tuple[float, ...]


def methods_for(slope: float, methods: Iterable[str]) -> tuple[str, ...]:
    """The selected methods that apply at ``slope``, in ``PEER_ORDER``.

    ``sklearn_lbfgs`` runs at slope 0 only (``sklearn_lbfgs_conv`` runs at every slope, marked),
    our baselines only when :mod:`relu_altmin.baselines` imports.
    """
    chosen = set(methods)
    return tuple(m for m in PEER_ORDER if m in chosen
                 and not (m == "sklearn_lbfgs" and slope != 0.0)
                 and not (m in BASELINE_METHODS and baselines is None))


def run_method(method: str, case: Case, plan: Plan) -> Run:
    """One peer of :data:`harness.peers.PEERS` on ``case``, tuned over its learning-rate grid
    where it has one (the best by final training MSE)."""
    base = {"dataset": case.split.name, "hidden": case.hidden, "slope": case.slope,
            "seed": case.seed, "method": method}
    peer = PEERS[method]
    if peer.grid is None:
        return Run(**base, **peer.run(case, None))
    grid = plan.lrs if peer.grid == "torch" else plan.baseline_lrs
    results = {lr: peer.run(case, lr) for lr in grid}
    best = min(grid, key=lambda lr: (results[lr]["train_mse"], lr))
    return Run(**base, **results[best], lr=best,
               lr_grid={f"{lr:g}": results[lr]["train_mse"] for lr in grid},
               tuning_seconds=sum(r["seconds"] for r in results.values()))


def annotate(runs: list[Run]) -> None:
    """Fill in each run's time to reach the best peer's (and best Adam's) final training MSE.

    The peers are all methods but the ``altmin`` variants.
    """
    groups: dict[tuple[str, int, float, int], list[Run]] = {}
    for r in runs:
        groups.setdefault((*r.key(), r.seed), []).append(r)
    for group in groups.values():
        peers = [r.train_mse for r in group if r.method not in ALTMIN_STEPS]
        adam = [r.train_mse for r in group if r.method.startswith("torch_adam")]
        target = min(peers, default=math.inf)
        adam_target = min(adam, default=math.inf)
        for r in group:
            r.time_to_best_peer = first_time_at(r.trace, target) if math.isfinite(target) \
                else None
            r.time_to_best_adam = first_time_at(r.trace, adam_target) \
                if math.isfinite(adam_target) else None


def selected_methods(args: argparse.Namespace) -> list[str]:
    """``--methods``, or the default methods with our baselines narrowed by ``--baselines``."""
    if args.methods is not None:
        return [m for m in PEER_ORDER if m in args.methods]
    return [m for m in DEFAULT_METHODS
            if m not in BASELINE_METHODS or m in args.baselines]


def _config(args: argparse.Namespace, methods: list[str], device: Device) -> dict[str, Any]:
    """The run's settings, as recorded in the outputs."""
    baseline_names = [m for m in methods if m in BASELINE_METHODS]
    return {
        "datasets": list(args.datasets), "hidden": list(args.hidden),
        "slopes": list(args.slopes), "seeds": list(args.seeds), "methods": methods,
        "learning_rates": list(args.lrs), "baseline_learning_rates": list(args.baseline_lrs),
        "baselines": baseline_names if baselines is not None else [],
        "baselines_error": BASELINES_ERROR,
        "full_batch_epochs": budget.FULL_EPOCHS, "minibatch_epochs": budget.MINIBATCH_EPOCHS,
        "batch_size": budget.BATCH, "momentum": budget.MOMENTUM, "lbfgs_max_iter": LBFGS_MAX_ITER,
        "lbfgs_history": LBFGS_HISTORY, "torch_lbfgs": TORCH_LBFGS,
        "lbfgs_time_cap_s": args.lbfgs_time_cap, "sklearn_lbfgs": SKLEARN_LBFGS,
        "altmin_max_iter": args.altmin_max_iter, "altmin_time_cap_s": args.altmin_time_cap,
        "trf_max_nfev": TRF_MAX_NFEV, "trf_time_cap_s": args.trf_time_cap,
        "sklearn_alpha": SKLEARN_ALPHA, "threads": args.threads, "quick": args.quick,
        "backend": device.backend, "torch_device": device.torch_device,
        "preset": "lbfgs_target" if args.lbfgs_target else "quick" if args.quick else None,
        "note": args.note,
    }


def warm_up_device(split: Split, device: Device, X: Any, y: Any) -> None:
    """A few steps of our baselines and of torch on ``device`` (CUDA context, kernel
    compilation), so that no timed run pays for them."""
    if baselines is not None:
        for method in ("gd", "adam", "sgd"):
            baselines.train(X, y, 2, method=method, lr=1e-3, epochs=2, negative_slope=0.1,
                            seed=0, **({"batch_size": budget.BATCH} if method == "sgd" else {}))
    if device.torch_device != "cpu":
        start = Start.from_fit(split, 2, 0.1, 0)
        params = torch_params(start, device)
        optimiser = torch.optim.Adam(params)
        X_t, Y_t = torch_data(split, device)
        for _ in range(2):
            optimiser.zero_grad()
            torch.nn.functional.mse_loss(torch_forward(X_t, params, 0.1), Y_t).backward()
            optimiser.step()
    device.synchronize()


def run_grid(args: argparse.Namespace) -> tuple[list[Run], dict[str, Any]]:
    methods = selected_methods(args)
    device = Device.for_backend(args.backend)
    configs = [(name, seed, hidden, slope) for name in args.datasets for seed in args.seeds
               for hidden in args.hidden for slope in args.slopes]
    total = sum(len(methods_for(slope, methods)) for *_, slope in configs)
    variants = [kwargs for m, kwargs in ALTMIN_STEPS.items() if m in methods]
    if baselines is None:
        print(f"note: relu_altmin.baselines does not import ({BASELINES_ERROR}); "
              "running without our gradient baselines", flush=True)
    runs: list[Run] = []
    count = 0
    bench_start = time.perf_counter()
    day = day_stamp()
    splits: dict[tuple[str, int], Split] = {}
    for name, seed, hidden, slope in configs:
        if (name, seed) not in splits:
            splits[(name, seed)] = load(name, seed)
            split = splits[(name, seed)]
            # Warm-up: Numba compiles the kernels (CUDA ones too) on first use; keep that out
            # of the timings (once per setting the selected altmin variants take).
            X, y = device.array(split.X_train), device.array(split.y_train)
            for kwargs in [{}, *variants]:
                relu_altmin.fit(X, y, 2, negative_slope=0.1, seed=0, max_iter=2, **kwargs)
            if device.backend != "numpy":  # a GPU's kernels compile on first use, too
                warm_up_device(split, device, X, y)
        split = splits[(name, seed)]
        Y = as_2d(split.y_train)
        variance = float(np.mean(np.sum((Y - Y.mean(0)) ** 2, axis=1)))
        start = Start.from_fit(split, hidden, slope, seed)
        plan = Plan(methods_for(slope, methods), tuple(args.lrs), tuple(args.baseline_lrs))
        case = Case(split, hidden, slope, seed, start, device, args.altmin_max_iter,
                    args.lbfgs_time_cap, args.trf_time_cap,
                    math.inf if args.altmin_time_cap is None else args.altmin_time_cap)
        for method in plan.methods:
            count += 1
            run = run_method(method, case, plan)
            run.info["target_variance"] = variance  # for the L-BFGS target's interpolation test
            run.info["day"] = day  # the run's provenance, kept through --from-json merges
            runs.append(run)
            lr = f" lr {run.lr:g}" if run.lr is not None else ""
            print(f"[{count}/{total}] {name} ({split.shape}) h={hidden} slope={slope:g} "
                  f"seed={seed} {method:<22} train {run.train_mse:.5g}  held-out "
                  f"{run.test_mse:.5g}  {run.seconds:7.2f}s{lr}  "
                  f"[elapsed {time.perf_counter() - bench_start:.0f}s]", flush=True)
        if args.out is not None:  # partial results survive an interrupted run
            args.out.mkdir(parents=True, exist_ok=True)
            partial = {"benchmark": "training", "partial": True, "machine": machine_info(),
                       "config": {**_config(args, methods, device),
                                  "total_seconds": time.perf_counter() - bench_start},
                       "runs": [as_json(r) for r in runs]}
            (args.out / f"{args.name}.partial.json").write_text(
                dumps(partial, indent=None, newline=False))
    config = {**_config(args, methods, device),
              "total_seconds": time.perf_counter() - bench_start}
    return runs, config


# --------------------------------------------------------------------------------------------
