"""The ``relu-altmin`` command line: ``fit``, ``predict``, ``demo`` and ``bench``.

Every command prints its results on standard output (or, with ``--json``, one JSON document
and nothing else) and its progress on standard error. A bad command line, an unreadable or
malformed file or an invalid setting ends with one line ``relu-altmin COMMAND: error: ...``
on standard error and exit status 2; an output file that cannot be written with status 1.
``docs/cli.md`` lists every option, message and exit status.

The package splits it by concern: ``_errors`` (exit statuses, ``CommandError``), ``_files``
(input tables, ``.npz`` networks, output files), ``_progress``, ``_plots``, ``_report``
(``--json`` and the text summaries), ``_training`` (running ``fit`` and Adam), ``_commands``
(one function per command), ``_parser`` (``argparse``); ``main`` is here.
"""

from __future__ import annotations

import sys
import warnings

from .._fit import FitInterrupted
from ._commands import (
    DEMO_ADAM_EPOCHS,
    DEMO_ADAM_RATES,
    FIT_HIDDEN,
    cmd_bench,
    cmd_demo,
    cmd_fit,
    cmd_predict,
)
from ._errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    Interrupted,
    _one_line,
)
from ._files import ARRAY_SUFFIXES, TEXT_SUFFIXES, load_network, read_table, save_network
from ._parser import build_parser
from ._plots import PLOT_INSTALL, save_loss_plot
from ._progress import Progress
from ._report import fit_summary

__all__ = [
    "ARRAY_SUFFIXES", "DEMO_ADAM_EPOCHS", "DEMO_ADAM_RATES", "EXIT_FAILURE", "EXIT_INTERRUPTED",
    "EXIT_OK", "EXIT_USAGE", "FIT_HIDDEN", "PLOT_INSTALL", "TEXT_SUFFIXES", "CommandError",
    "Interrupted", "Progress", "build_parser", "cmd_bench", "cmd_demo", "cmd_fit", "cmd_predict",
    "fit_summary", "load_network", "main", "read_table", "save_loss_plot", "save_network",
]


def main(argv: list[str] | None = None) -> int:
    """Run ``relu-altmin`` with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Parameters
    ----------
    argv : list of str, optional
        The arguments after the program name.

    Returns
    -------
    int
        0 on success, 1 when an output could not be written (or memory ran out), 2 for bad
        input (``argparse`` exits with 2 itself for a bad command line), 130 on Ctrl-C.
    """
    args = build_parser().parse_args(argv)
    prefix = f"relu-altmin {args.command}: error:"
    try:
        with warnings.catch_warnings():  # an interrupted run is reported below, in one line
            warnings.simplefilter("ignore", FitInterrupted)
            args.run(args)
    except Interrupted as exc:
        print(f"relu-altmin {args.command}: interrupted {_one_line(exc)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except CommandError as exc:
        print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        return exc.status
    except (ValueError, TypeError) as exc:  # the checks of the settings (FitOptions, fit)
        print(f"{prefix} {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print(f"{prefix} out of memory (try fewer --hidden units or --solver cg)",
              file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print(f"relu-altmin {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `relu-altmin predict ... | head`
        sys.stderr.close()
        return EXIT_OK
    return EXIT_OK
