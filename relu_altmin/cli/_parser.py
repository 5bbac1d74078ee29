"""The ``argparse`` parser of ``relu-altmin``: one function per command, shared option groups."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import __version__
from .._options import SOLVERS
from .._ridge import AUTO_L2_RULES
from .._steps import STEPS
from ._commands import (
    DEMO_ADAM_EPOCHS,
    DEMO_ADAM_RATES,
    FIT_HIDDEN,
    cmd_bench,
    cmd_demo,
    cmd_fit,
    cmd_predict,
)

if TYPE_CHECKING:  # build_parser's add_subparsers action; argparse names no public type
    Commands = argparse._SubParsersAction[argparse.ArgumentParser]


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid integer {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
        return value
    parse.__name__ = "int"
    return parse


def _ridge(text: str) -> float | str:
    """``--l2``: ``auto``, ``auto_1se`` or a float >= 0."""
    if text in AUTO_L2_RULES:
        return text
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected one of {AUTO_L2_RULES} or a number, got {text!r}") from None
    if not value >= 0.0 or value == float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be one of {AUTO_L2_RULES} or finite and >= 0, got {text}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if not 0.0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be finite and > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``argparse`` parser of ``relu-altmin`` and its four commands.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(
        prog="relu-altmin",
        description="Train two-layer ReLU-like networks by exact alternating least squares.",
        epilog="Exit status: 0 success, 1 an output file could not be written, 2 a bad "
               "command line or input file, 130 interrupted. See docs/cli.md.")
    parser.add_argument("--version", action="version", version=f"relu-altmin {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_fit(commands)
    _add_predict(commands)
    _add_demo(commands)
    _add_bench(commands)
    return parser


def _training_options(p: argparse.ArgumentParser, hidden: int, slope: float) -> None:
    p.add_argument("--hidden", type=_int_at_least(1), default=hidden, metavar="H",
                   help=f"hidden units (default {hidden})")
    p.add_argument("--negative-slope", type=float, default=slope, metavar="A",
                   help=f"activation slope below 0, in [0, 1) (default {slope})")
    p.add_argument("--max-iter", type=_int_at_least(0), default=100, metavar="N",
                   help="most iterations (default 100)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="initialisation seed (default 0)")
    p.add_argument("--step", choices=STEPS, default="joint",
                   help="hidden step: damped Gauss-Newton over both layers (joint, the "
                        "default), damped hidden layer alone (damped), or the paper's "
                        "undamped step (exact)")
    p.add_argument("--no-reinit", dest="reinit", action="store_false",
                   help="stop at the first stall instead of re-initialising the least useful "
                        "unit there (fit's reinit=False)")
    p.add_argument("--solver", choices=SOLVERS, default="auto",
                   help="hidden-step solver: dense, matrix-free conjugate gradients (cg), or "
                        "dense up to 500 unknowns (any for --step exact) while it fits in "
                        "1 GiB, else cg (auto, the default)")
    p.add_argument("--l2", type=_ridge, default=None, metavar="L2",
                   help="ridge on both layers, in standardised units, or 'auto' to choose it "
                        "from the data by generalised cross-validation, to predict (default: "
                        "1e-8, the least training loss)")
    p.add_argument("--no-standardize", dest="standardize", action="store_false",
                   help="fit on the data as given instead of centring and scaling the "
                        "columns and targets inside fit (fit's standardize=False); the "
                        "network takes raw inputs either way")
    p.add_argument("--n-jobs", type=int, default=None, metavar="J",
                   help="threads for BLAS and the Numba kernels while fitting: a positive "
                        "count, -1 all cores, -2 all but one (default: from the problem's "
                        "size, one thread on small data)")
    p.add_argument("--quiet", action="store_true",
                   help="no progress on standard error")


def _output_options(p: argparse.ArgumentParser, plot: str | None) -> None:
    p.add_argument("--json", action="store_true",
                   help="print one JSON document on standard output and nothing else")
    if plot is not None:
        p.add_argument("--plot", metavar="PATH", help=plot + " (needs matplotlib)")


def _data_options(p: argparse.ArgumentParser, optional: bool) -> None:
    p.add_argument("data", nargs="?" if optional else None,
                   help="CSV (optional header row) or .npy table; by default the last "
                        "column is the target"
                        + (" (default: the embedded diabetes data)" if optional else ""))
    p.add_argument("--targets", metavar="FILE",
                   help="targets in a separate CSV or .npy file")
    p.add_argument("--n-targets", type=_int_at_least(1), default=1, metavar="K",
                   help="number of trailing target columns in DATA (default 1)")


def _add_fit(commands: Commands) -> None:
    fit_p = commands.add_parser("fit", help="train on a CSV or .npy table, write a .npz network",
                                description="Train on a table and write the network.")
    _data_options(fit_p, optional=False)
    fit_p.add_argument("--out", default="network.npz", metavar="PATH",
                       help="the network, an .npz file (default network.npz)")
    fit_p.add_argument("--init", metavar="NETWORK",
                       help="continue from this network (an .npz written by fit); --hidden and "
                            "--negative-slope default to its own")
    _training_options(fit_p, hidden=FIT_HIDDEN, slope=0.0)
    # None: not given; cmd_fit takes --init's values, else the defaults above.
    fit_p.set_defaults(hidden=None, negative_slope=None)
    _output_options(fit_p, "save the training MSE per iteration (log scale) as PNG")
    fit_p.set_defaults(run=cmd_fit)


def _add_predict(commands: Commands) -> None:
    predict = commands.add_parser("predict", help="predict with a network written by fit",
                                  description="Evaluate a network written by fit.")
    predict.add_argument("network", help=".npz written by `relu-altmin fit`")
    predict.add_argument("data", help="CSV or .npy table of inputs")
    predict.add_argument("--out", metavar="PATH",
                         help="write to .csv, .txt or .npy instead of standard output")
    _output_options(predict, None)
    predict.set_defaults(run=cmd_predict)


def _add_demo(commands: Commands) -> None:
    demo = commands.add_parser("demo", help="train on the embedded diabetes data",
                               description="Train on the embedded diabetes data, then compare "
                                           "with full-batch Adam from the same start.")
    _training_options(demo, hidden=32, slope=0.1)
    demo.add_argument("--no-adam", action="store_true",
                      help="skip the side-by-side against full-batch Adam")
    _output_options(demo, "save the training MSE per iteration (log scale) as PNG")
    demo.set_defaults(run=cmd_demo)


def _add_bench(commands: Commands) -> None:
    bench = commands.add_parser(
        "bench", help="compare fit with full-batch Adam over a learning-rate grid",
        description="Train with fit and with full-batch Adam (relu_altmin.baselines, one run "
                    "per learning rate) from the same start; report training MSE, seconds "
                    "and when fit reaches Adam's best MSE.")
    _data_options(bench, optional=True)
    _training_options(bench, hidden=32, slope=0.1)
    bench.add_argument("--lr", type=_positive_float, nargs="+", default=list(DEMO_ADAM_RATES),
                       metavar="LR", help="Adam learning rates (default "
                       + " ".join(f"{lr:g}" for lr in DEMO_ADAM_RATES) + ")")
    bench.add_argument("--epochs", type=_int_at_least(0), default=DEMO_ADAM_EPOCHS, metavar="E",
                       help=f"full-batch Adam epochs per rate (default {DEMO_ADAM_EPOCHS})")
    _output_options(bench, "save training MSE against seconds (log scale), every run, as PNG")
    bench.set_defaults(run=cmd_bench)
