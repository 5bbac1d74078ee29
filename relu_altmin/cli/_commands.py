"""One function per command: ``fit``, ``predict``, ``demo`` and ``bench``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from .._data import load_diabetes
from .._model import TwoLayerNet
from ._errors import CommandError, Interrupted, _show
from ._files import (
    ARRAY_SUFFIXES,
    TEXT_SUFFIXES,
    _check_output,
    _write,
    load_network,
    read_table,
    save_network,
)
from ._plots import _plot_format, _short, save_loss_plot
from ._report import _describe, _print_json, _print_reached, _print_summary, fit_summary
from ._training import (
    _run_adam,
    _run_fit,
    _training_data,
    _uninterrupted,
    _warm_up,
    fit_options,
)

#: ``relu-altmin fit``'s default ``--hidden`` (without ``--init``).
FIT_HIDDEN = 32
#: ``demo``'s side-by-side and ``bench``'s default grid: full-batch Adam from fit's start.
DEMO_ADAM_RATES = (1e-3, 3e-3, 1e-2, 3e-2)
DEMO_ADAM_EPOCHS = 2000


def cmd_demo(args: argparse.Namespace) -> None:
    """``relu-altmin demo``: fit the embedded diabetes data, then Adam from the same start."""
    if args.plot:
        _plot_format(args.plot)
    X, y = load_diabetes()
    if not args.json:
        print(f"diabetes data (embedded): {X.shape[0]} samples, {X.shape[1]} features, "
              f"standardised; {args.hidden} hidden units, negative slope "
              f"{args.negative_slope}")
    options = fit_options(args)
    _warm_up(X, y, options)
    result = _uninterrupted(_run_fit(X, y, options, args.quiet))
    comparison = None if args.no_adam else _run_adam(X, y, options, result, DEMO_ADAM_RATES,
                                                     DEMO_ADAM_EPOCHS, args.quiet)
    if args.plot:
        save_loss_plot(args.plot, [("relu-altmin fit", [r.iteration for r in result.history],
                                    [r.loss for r in result.history])],
                       xlabel="iteration", title="relu-altmin demo\ndiabetes (embedded)")
    if args.json:
        _print_json({"command": "demo", "data": _describe(X, y, "diabetes (embedded)"),
                     "hidden": args.hidden, "negative_slope": args.negative_slope,
                     "seed": args.seed, "step": args.step, "reinit": args.reinit,
                     "fit": fit_summary(result),
                     "adam": comparison})
        return
    _print_summary(result)
    if comparison is None:
        return
    best = next(run for run in comparison["runs"] if run["lr"] == comparison["best_lr"])
    print(f"\nside by side, same start ({DEMO_ADAM_EPOCHS} full-batch Adam epochs, best of "
          f"learning rates {', '.join(f'{lr:g}' for lr in DEMO_ADAM_RATES)}):")
    print(f"  {'method':<22} {'training MSE':>12} {'seconds':>8}")
    print(f"  {'relu-altmin fit':<22} {result.loss:12.6g} {result.history[-1].seconds:8.2f}")
    name = f"Adam (lr {best['lr']:g})"
    print(f"  {name:<22} {best['loss']:12.6g} {best['seconds']:8.2f}")
    _print_reached(comparison, result)


def cmd_fit(args: argparse.Namespace) -> None:
    """``relu-altmin fit``: train on a table (from ``--init`` if given), write the network to
    ``--out``; Ctrl-C writes the network trained so far and ends with ``Interrupted``."""
    _check_output(args.out, "--out", (".npz",))
    if args.plot:
        _plot_format(args.plot)
    init = None if args.init is None else load_network(args.init)
    X, y, source = _training_data(args)
    if init is not None:
        _check_init(args, init, X, y)
    args.hidden = FIT_HIDDEN if args.hidden is None else args.hidden
    args.negative_slope = 0.0 if args.negative_slope is None else args.negative_slope
    result = _run_fit(X, y, fit_options(args, init), args.quiet)
    _write(args.out, "--out", lambda: save_network(result.network, args.out))
    if args.plot:
        save_loss_plot(args.plot, [("relu-altmin fit", [r.iteration for r in result.history],
                                    [r.loss for r in result.history])],
                       xlabel="iteration", title=f"relu-altmin fit\n{_short(source)}")
    if args.json:
        _print_json({"command": "fit", "data": _describe(X, y, source), "hidden": args.hidden,
                     "negative_slope": args.negative_slope, "seed": args.seed,
                     "step": args.step, "reinit": args.reinit, **fit_summary(result),
                     "network": args.out})
    else:
        _print_summary(result)
        print(f"network written to {_show(args.out)}")
    if result.stop_reason == "interrupted":
        raise Interrupted(f"after {result.n_iter} iterations; the network trained so far "
                          f"(training MSE {result.loss:.6g}) was written to {_show(args.out)}")


def _check_init(args: argparse.Namespace, init: TwoLayerNet, X: np.ndarray,
                y: np.ndarray) -> None:
    """Refuse an ``--init`` network that does not fit the data or ``--hidden``; take
    ``--hidden`` and ``--negative-slope`` from it when they are not given."""
    where = f"--init {_show(args.init)}"
    k = 1 if y.ndim == 1 else y.shape[1]
    if init.n_features != X.shape[1]:
        raise CommandError(f"{where}: the network takes {init.n_features} features but the "
                           f"data has {X.shape[1]}")
    if init.n_outputs != k:
        raise CommandError(f"{where}: the network has {init.n_outputs} output(s) but the data "
                           f"has {k} target(s)")
    if args.hidden is not None and args.hidden != init.n_hidden:
        raise CommandError(f"{where}: the network has {init.n_hidden} hidden units, not "
                           f"--hidden {args.hidden}")
    args.hidden = init.n_hidden
    if args.negative_slope is None:
        args.negative_slope = init.negative_slope


def cmd_predict(args: argparse.Namespace) -> None:
    """``relu-altmin predict``: evaluate a saved network on a table."""
    if args.out is not None:
        _check_output(args.out, "--out", TEXT_SUFFIXES + ARRAY_SUFFIXES)
    net = load_network(args.network)
    X = read_table(args.data)
    if X.shape[1] != net.n_features:
        raise CommandError(f"{_show(args.data)}: has {X.shape[1]} columns but the network "
                           f"takes {net.n_features} features")
    predictions = net.predict(X)
    table = np.reshape(predictions, (X.shape[0], -1))
    if args.out is None:
        if args.json:
            _print_json({"command": "predict", "n_samples": X.shape[0],
                         "n_outputs": net.n_outputs, "predictions": predictions})
        else:
            np.savetxt(sys.stdout, table, delimiter=",", fmt="%.17g")
        return
    if Path(args.out).suffix.lower() in ARRAY_SUFFIXES:
        _write(args.out, "--out", lambda: np.save(args.out, predictions))
    else:
        _write(args.out, "--out",
               lambda: np.savetxt(args.out, table, delimiter=",", fmt="%.17g"))
    if args.json:
        _print_json({"command": "predict", "n_samples": X.shape[0],
                     "n_outputs": net.n_outputs, "out": args.out})


def cmd_bench(args: argparse.Namespace) -> None:
    """``relu-altmin bench``: ``fit`` against Adam over a learning-rate grid, same start."""
    if args.plot:
        _plot_format(args.plot)
    X, y, source = _training_data(args)
    if not args.json:
        print(f"data: {source}: {X.shape[0]} samples, {X.shape[1]} features, "
              f"{1 if y.ndim == 1 else y.shape[1]} target{'' if y.ndim == 1 else 's'}")
    options = fit_options(args)
    _warm_up(X, y, options)
    result = _uninterrupted(_run_fit(X, y, options, args.quiet))
    comparison = _run_adam(X, y, options, result, args.lr, args.epochs, args.quiet)
    if args.plot:
        curves = [("relu-altmin fit", [r.seconds for r in result.history],
                   [r.loss for r in result.history])]
        curves += [(f"Adam lr {run['lr']:g}", run["times"], run["losses"])
                   for run in comparison["runs"]]
        save_loss_plot(args.plot, curves, xlabel="seconds",
                       title=f"relu-altmin bench, same start\n{_short(source)}")
    if args.json:
        _print_json({"command": "bench", "data": _describe(X, y, source),
                     "hidden": args.hidden, "negative_slope": args.negative_slope,
                     "seed": args.seed, "step": args.step, "reinit": args.reinit,
                     "fit": fit_summary(result),
                     "adam": comparison})
        return
    print(f"{args.hidden} hidden units, negative slope {args.negative_slope:g}, l2 "
          f"{result.l2:.3g}, all from the same start (seed {args.seed})\n")
    print(f"  {'method':<16} {'setting':<28} {'training MSE':>12} {'seconds':>8}")
    setting = f"{result.n_iter} iterations ({result.stop_reason})"
    print(f"  {'relu-altmin fit':<16} {setting:<28} "
          f"{result.loss:12.6g} {result.history[-1].seconds:8.2f}")
    for run in comparison["runs"]:
        mark = " *" if run["lr"] == comparison["best_lr"] else ""
        setting = f"lr {run['lr']:g}, {run['epochs']} epochs"
        print(f"  {'Adam':<16} {setting:<28} {run['loss']:12.6g} {run['seconds']:8.2f}{mark}")
    print(f"\n  * best Adam: lr {comparison['best_lr']:g}, training MSE "
          f"{comparison['best_loss']:.6g} in {comparison['best_seconds']:.2f} s")
    _print_reached(comparison, result)
