"""Running ``fit`` and the Adam baseline with a command's settings and progress."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

import numpy as np

from .._data import load_diabetes
from .._fit import FitResult, fit_with
from .._model import TwoLayerNet
from .._options import FitOptions
from ..baselines import train
from ._errors import CommandError, _show
from ._files import read_table
from ._progress import Progress


def _training_data(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, str]:
    """``X``, ``y`` (1-D for one target) and a description, from ``args.data``."""
    if args.data is None:
        X, y = load_diabetes()
        return X, y, "diabetes (embedded, standardised)"
    if args.targets is not None and args.n_targets != 1:
        raise CommandError("--n-targets is for targets inside DATA; with --targets every "
                           "column of the targets file is a target")
    table = read_table(args.data)
    if args.targets is not None:
        X, Y = table, read_table(args.targets)
        if Y.shape[0] != X.shape[0]:
            raise CommandError(f"{_show(args.targets)}: has {Y.shape[0]} rows but "
                               f"{_show(args.data)} has {X.shape[0]}")
    else:
        if table.shape[1] <= args.n_targets:
            raise CommandError(f"{_show(args.data)}: needs more than {args.n_targets} "
                               f"column(s) (the last {args.n_targets} are the target); it has "
                               f"{table.shape[1]}")
        X, Y = table[:, :-args.n_targets], table[:, -args.n_targets:]
    return X, (Y[:, 0] if Y.shape[1] == 1 else Y), _show(args.data)


#: The options a command line may set: ``fit``'s, less the start (``--init`` is a path).
_FIT_OPTIONS = frozenset(f.name for f in fields(FitOptions)) - {"init", "skip"}


def fit_options(args: argparse.Namespace, init: TwoLayerNet | None = None) -> FitOptions:
    """``fit``'s options from the command line: every parsed option named like one of them
    (``--hidden``, ``--negative-slope``, ``--max-iter``, ``--seed``, ``--step``,
    ``--no-reinit``, ``--solver``, ``--l2``, ``--no-standardize``, ``--n-jobs``), starting
    from ``init`` (with its skip connection) if given. Checked here, before any work, with
    ``fit``'s messages."""
    given = {name: value for name, value in vars(args).items() if name in _FIT_OPTIONS}
    return FitOptions(**given, init=init, skip=init is not None and init.skip)


def _run_fit(X: np.ndarray, y: np.ndarray, options: FitOptions, quiet: bool) -> FitResult:
    """``fit`` with the command's options, its progress on stderr unless ``--quiet``."""
    if quiet:
        return fit_with(X, y, options)
    with Progress(options.max_iter, "fit") as bar:
        result = fit_with(X, y, replace(options, callback=bar))
        bar.finish(result)
    return result


def _uninterrupted(result: FitResult) -> FitResult:
    """``result``, unless Ctrl-C ended it: then the ``KeyboardInterrupt`` goes on (status 130).
    Only ``relu-altmin fit`` keeps what an interrupted run trained."""
    if result.stop_reason == "interrupted":
        raise KeyboardInterrupt
    return result


def _warm_up(X: np.ndarray, y: np.ndarray, options: FitOptions) -> None:
    """Compile the Numba kernels (seconds, once per installation: cached) before timing."""
    _uninterrupted(fit_with(X[:4], y[:4], FitOptions(
        hidden=2, negative_slope=options.negative_slope, max_iter=1, seed=0, step=options.step,
        solver=options.solver)))


def _run_adam(X: np.ndarray, y: np.ndarray, options: FitOptions, result: FitResult,
              rates: Sequence[float], epochs: int, quiet: bool) -> dict[str, Any]:
    """Full-batch Adam from ``fit``'s start, one run per learning rate, and the comparison."""
    start = fit_with(X, y, FitOptions(
        hidden=options.hidden, negative_slope=options.negative_slope, seed=options.seed,
        max_iter=0, standardize=options.standardize)).network
    runs: list[dict[str, Any]] = []
    for lr in rates:
        settings: dict[str, Any] = {
            "method": "adam", "lr": lr, "epochs": epochs, "negative_slope": options.negative_slope,
            "l2": result.l2, "init": start}
        if quiet:
            adam = train(X, y, options.hidden, **settings)
        else:
            with Progress(epochs, f"adam lr {lr:g}", every=max(1, epochs // 10),
                          unit="epoch") as bar:
                adam = train(X, y, options.hidden, callback=bar, **settings)
                bar.finish(adam)
        _uninterrupted(adam)
        runs.append({"lr": lr, "loss": adam.loss, "seconds": adam.history[-1].seconds,
                     "epochs": adam.n_iter, "stop_reason": adam.stop_reason,
                     "losses": [record.loss for record in adam.history],
                     "times": [record.seconds for record in adam.history]})
    best = min(runs, key=lambda run: run["loss"])
    reached = next((record for record in result.history if record.loss <= best["loss"]), None)
    return {"epochs": epochs, "runs": runs, "best_lr": best["lr"], "best_loss": best["loss"],
            "best_seconds": best["seconds"],
            "fit_seconds_to_best": None if reached is None else reached.seconds,
            "fit_iterations_to_best": None if reached is None else reached.iteration}
