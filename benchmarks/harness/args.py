"""The argument parent every script's parser is built on.

``--out`` (where to write), ``--name`` (the file stem), ``--from-json`` (rebuild the report
from a committed JSON without running anything) and, for scripts that run jobs in worker
processes, ``--workers`` (also spelt ``--jobs``); ``--no-plot`` leaves a rebuilt report's plots
out.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .record import RESULTS


def parent(name: str | None, *, workers: int | None = None, merge: bool = False,
           out: Path = RESULTS) -> argparse.ArgumentParser:
    """The shared options, as a parent parser (``argparse.ArgumentParser(parents=[...])``).

    Parameters
    ----------
    name : str or None
        ``--name``'s default, for the help (the value stays None until :func:`report_name`).
    workers : int, optional
        ``--workers``'s default; without it the script has no ``--workers``.
    merge : bool
        Whether ``--from-json`` takes several files (merged) rather than one.
    out : Path
        ``--out``'s default; a rebuild from one ``--from-json`` file writes beside it instead
        (:class:`Parser` fills ``--out`` in).
    """
    shared = argparse.ArgumentParser(add_help=False)
    shared.set_defaults(default_out=out)
    group = shared.add_argument_group("output (shared by every benchmark)")
    group.add_argument("--out", type=Path, default=None,
                       help=f"where to write (default {out}; with one --from-json file, that "
                            "file's folder)")
    group.add_argument("--name", default=None,
                       help=f"results file stem (default {name or 'set by the options'}; "
                            "with --from-json, the JSON's stem)")
    group.add_argument("--from-json", type=Path, nargs="+" if merge else None, metavar="JSON",
                       help="rebuild the report (Markdown and plots) from "
                            + ("these JSON files (merged)" if merge else "this JSON")
                            + " instead of running; --name defaults to its stem")
    group.add_argument("--no-plot", action="store_true",
                       help="with --from-json: write the Markdown only, no plots")
    if workers is not None:
        group.add_argument("--workers", "--jobs", type=int, default=workers,
                           help=f"worker processes of one thread each (default {workers})")
    return shared


class Parser(argparse.ArgumentParser):
    """An argument parser that fills in ``--out`` when it is not given: the folder of the
    ``--from-json`` file, so that a report is rebuilt beside its JSON, else (a merge of several
    files, or a run) the parent's default."""

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        parsed, rest = super().parse_known_args(args, namespace)
        if getattr(parsed, "out", None) is None and hasattr(parsed, "default_out"):
            source = parsed.from_json
            beside = source is not None and not isinstance(source, list)  # not a merge
            parsed.out = Path(source).parent if beside else parsed.default_out
        if hasattr(parsed, "default_out"):
            del parsed.default_out
        return parsed, rest


def parser(doc: str | None, shared: argparse.ArgumentParser) -> Parser:
    """A script's parser: its docstring's first paragraph as description, ``shared`` (from
    :func:`parent`) as parent."""
    return Parser(description=(doc or "").split("\n\n")[0].strip(), parents=[shared])


def report_name(args: argparse.Namespace, default: str) -> str:
    """The file stem: ``--name``, else ``--from-json``'s stem, else ``default``."""
    if args.name:
        return args.name
    if args.from_json:
        first = args.from_json[0] if isinstance(args.from_json, list) else args.from_json
        return Path(first).stem
    return default


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """The options a run records: ``vars(args)`` less ``--from-json`` and ``--no-plot``,
    paths as strings."""
    return {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
            if k not in ("from_json", "no_plot")}
