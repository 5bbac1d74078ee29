"""The ``relu-altmin`` command line: ``demo``, ``fit`` and ``predict``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from . import __version__
from ._data import load_diabetes
from ._fit import SOLVERS, STEPS, fit
from ._model import TwoLayerNet, critical_point_residuals
from .baselines import train


class CommandError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def read_table(path: str) -> np.ndarray:
    """A 2-D float64 array from ``.npy`` or CSV (one optional header row)."""
    file = Path(path)
    if not file.is_file():
        raise CommandError(f"{path}: no such file")
    try:
        if file.suffix == ".npy":
            table = np.load(file, allow_pickle=False)
        else:
            with file.open() as f:
                first = f.readline()
            table = np.loadtxt(file, delimiter=",", skiprows=0 if _numeric(first) else 1,
                               ndmin=2)
    except (ValueError, OSError) as exc:
        raise CommandError(f"{path}: cannot read a numeric table ({exc})") from None
    if table.ndim == 1:
        table = table[:, None]
    if table.ndim != 2 or table.size == 0:
        raise CommandError(f"{path}: expected a non-empty 2-D table, got shape {table.shape}")
    if not np.issubdtype(table.dtype, np.number) or np.iscomplexobj(table):
        raise CommandError(f"{path}: expected real numbers, got dtype {table.dtype}")
    return np.asarray(table, dtype=np.float64)


def _numeric(line: str) -> bool:
    try:
        [float(field) for field in line.split(",")]
    except ValueError:
        return False
    return True


def save_network(net: TwoLayerNet, path: str) -> None:
    """Write a NumPy network to ``.npz`` (``W``, ``V``, ``b``, ``c`` and the activation)."""
    arrays = {"W": net.W, "V": net.V, "negative_slope": np.float64(net.negative_slope),
              "skip": np.bool_(net.skip)}
    if net.b is not None:
        arrays["b"] = net.b
    if net.c is not None:
        arrays["c"] = net.c
    np.savez(path, **arrays)


def load_network(path: str) -> TwoLayerNet:
    """Read a network written by :func:`save_network`."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return TwoLayerNet(data["W"], data["b"] if "b" in data else None, data["V"],
                               data["c"] if "c" in data else None,
                               negative_slope=float(data["negative_slope"]),
                               skip=bool(data["skip"]))
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise CommandError(f"{path}: not a relu-altmin network ({exc})") from None


def _progress_fit(X: np.ndarray, y: np.ndarray, args: argparse.Namespace):
    return fit(X, y, args.hidden, negative_slope=args.negative_slope, max_iter=args.max_iter,
               seed=args.seed, step=args.step, solver=args.solver, progress=not args.quiet)


def _print_summary(result, X: np.ndarray, y: np.ndarray) -> None:
    residuals = critical_point_residuals(result.network, X, y, l2=result.l2)
    print(f"final training MSE {result.loss:.6g} after {result.n_iter} iterations "
          f"({result.stop_reason}, {result.history[-1].seconds:.2f} s)")
    print("critical-point residuals: "
          + ", ".join(f"{name} {value:.2e}" for name, value in residuals.items()))


#: The side-by-side of ``demo``: full-batch Adam from the same start, best of these rates.
DEMO_ADAM_RATES = (1e-3, 3e-3, 1e-2, 3e-2)
DEMO_ADAM_EPOCHS = 2000


def cmd_demo(args: argparse.Namespace) -> None:
    X, y = load_diabetes()
    print(f"diabetes data (embedded): {X.shape[0]} samples, {X.shape[1]} features, "
          f"standardised; {args.hidden} hidden units, negative slope {args.negative_slope}")
    # Compile the Numba kernel first (seconds, once per installation: it is cached) so
    # that the timings below are the method's.
    fit(X[:4], y[:4], 2, negative_slope=args.negative_slope, max_iter=1, seed=0)
    result = _progress_fit(X, y, args)
    _print_summary(result, X, y)
    if args.no_adam:
        return
    start = fit(X, y, args.hidden, negative_slope=args.negative_slope, seed=args.seed,
                max_iter=0).network
    runs = {lr: train(X, y, args.hidden, method="adam", lr=lr, epochs=DEMO_ADAM_EPOCHS,
                      negative_slope=args.negative_slope, l2=result.l2, init=start)
            for lr in DEMO_ADAM_RATES}
    best = min(runs, key=lambda lr: runs[lr].loss)
    adam = runs[best]
    print(f"\nside by side, same start ({DEMO_ADAM_EPOCHS} full-batch Adam epochs, best of "
          f"learning rates {', '.join(f'{lr:g}' for lr in DEMO_ADAM_RATES)}):")
    print(f"  {'method':<22} {'training MSE':>12} {'seconds':>8}")
    print(f"  {'relu-altmin fit':<22} {result.loss:12.6g} {result.history[-1].seconds:8.2f}")
    print(f"  {f'Adam (lr {best:g})':<22} {adam.loss:12.6g} {adam.history[-1].seconds:8.2f}")
    reached = next((rec.seconds for rec in result.history if rec.loss <= adam.loss), None)
    if reached is None:
        print("  relu-altmin did not reach Adam's training MSE")
    else:
        print(f"  relu-altmin reached Adam's training MSE after {reached:.2f} s")


def cmd_fit(args: argparse.Namespace) -> None:
    table = read_table(args.data)
    if args.targets is not None:
        X, Y = table, read_table(args.targets)
        if Y.shape[0] != X.shape[0]:
            raise CommandError(f"{args.targets}: has {Y.shape[0]} rows but {args.data} has "
                               f"{X.shape[0]}")
    else:
        if table.shape[1] <= args.n_targets:
            raise CommandError(f"{args.data}: needs more than {args.n_targets} column(s) (the "
                               f"last {args.n_targets} are the target)")
        X, Y = table[:, :-args.n_targets], table[:, -args.n_targets:]
    y = Y[:, 0] if Y.shape[1] == 1 else Y
    if not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise CommandError(f"{args.data}: contains NaN or inf")
    result = _progress_fit(X, y, args)
    save_network(result.network, args.out)
    _print_summary(result, X, y)
    print(f"network written to {args.out}")


def cmd_predict(args: argparse.Namespace) -> None:
    net = load_network(args.network)
    X = read_table(args.data)
    if X.shape[1] != net.n_features:
        raise CommandError(f"{args.data}: has {X.shape[1]} columns but the network takes "
                           f"{net.n_features} features")
    predictions = net.predict(X)
    if args.out is None:
        np.savetxt(sys.stdout, np.reshape(predictions, (X.shape[0], -1)), delimiter=",",
                   fmt="%.17g")
    elif args.out.endswith(".npy"):
        np.save(args.out, predictions)
    else:
        np.savetxt(args.out, np.reshape(predictions, (X.shape[0], -1)), delimiter=",",
                   fmt="%.17g")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relu-altmin",
        description="Train two-layer ReLU-like networks by exact alternating least squares.")
    parser.add_argument("--version", action="version", version=f"relu-altmin {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def training_options(p: argparse.ArgumentParser, hidden: int, slope: float) -> None:
        p.add_argument("--hidden", type=int, default=hidden,
                       help=f"hidden units (default {hidden})")
        p.add_argument("--negative-slope", type=float, default=slope,
                       help=f"activation slope below 0, in [0, 1) (default {slope})")
        p.add_argument("--max-iter", type=int, default=100, help="iterations (default 100)")
        p.add_argument("--seed", type=int, default=0, help="initialisation seed (default 0)")
        p.add_argument("--step", choices=STEPS, default="joint",
                       help="hidden step: damped Gauss-Newton over both layers (joint, the "
                            "default), damped hidden layer alone (damped), or the paper's "
                            "undamped step (exact)")
        p.add_argument("--solver", choices=SOLVERS, default="auto",
                       help="hidden-step solver: dense, matrix-free conjugate gradients (cg), or "
                            "dense while it fits in 1 GiB (auto, the default)")
        p.add_argument("--quiet", action="store_true", help="no per-iteration progress lines")

    demo = commands.add_parser("demo", help="train on the embedded diabetes data")
    training_options(demo, hidden=32, slope=0.1)
    demo.add_argument("--no-adam", action="store_true",
                      help="skip the side-by-side against full-batch Adam")
    demo.set_defaults(run=cmd_demo)

    fit_p = commands.add_parser("fit", help="train on a CSV or .npy table, write a .npz network")
    fit_p.add_argument("data", help="CSV (optional header row) or .npy; by default the last "
                       "column is the target")
    fit_p.add_argument("--targets", help="targets in a separate CSV or .npy file")
    fit_p.add_argument("--n-targets", type=int, default=1,
                       help="number of trailing target columns in DATA (default 1)")
    fit_p.add_argument("--out", default="network.npz", help="output file (default network.npz)")
    training_options(fit_p, hidden=32, slope=0.0)
    fit_p.set_defaults(run=cmd_fit)

    predict = commands.add_parser("predict", help="predict with a network written by fit")
    predict.add_argument("network", help=".npz written by `relu-altmin fit`")
    predict.add_argument("data", help="CSV or .npy table of inputs")
    predict.add_argument("--out", help="write to CSV or .npy instead of standard output")
    predict.set_defaults(run=cmd_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``relu-altmin``; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (CommandError, ValueError, TypeError) as exc:
        print(f"relu-altmin {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `relu-altmin predict ... | head`
        sys.stderr.close()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
