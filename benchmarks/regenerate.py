"""Rebuild every committed report in ``results/`` from its JSON, without running anything.

Each ``results/<stem>.md`` is written by one script, and ``--from-json`` rebuilds it::

    python benchmarks/<script>.py --from-json benchmarks/results/<stem>.json

:data:`REPORTS` says which script that is for every committed report. ``--check`` rebuilds the
Markdown into a temporary folder and compares it, byte for byte, with the committed file (what
``tests/test_regenerate.py`` holds CI to); without it the reports are rewritten in ``--out``
(plots too, unless ``--no-plot``).

Usage::

    python benchmarks/regenerate.py --check              # every committed report
    python benchmarks/regenerate.py training scale_wide   # rewrite these in results/
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import sys
import tempfile
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

#: Committed report stem -> the script that rebuilds it with ``--from-json``.
REPORTS: dict[str, str] = {
    "certified": "certified",
    "core_vs_adam": "core_vs_adam",
    "escapes": "escapes",
    "generalisation": "generalisation",
    "generalisation_configs": "generalisation",
    "gn_product": "gn_product",
    "kernels": "kernels",
    "kernels_target": "kernels",
    "precision": "precision",
    "raw_features": "raw_features",
    "scale_adam": "scale",
    "scale_adam_60": "scale",
    "scale_adam_progressive": "scale",
    "scale_adam_progressive_300": "scale",
    "scale_adam_reuse_60": "scale",
    "scale_adam_reuse_300": "scale",
    "scale_adam_warm_60": "scale",
    "scale_adam_fast_60": "scale",
    "scale_adam_fast_300": "scale",
    "scale_adam_2026-12-07_60": "scale",
    "scale_adam_2026-12-07_300": "scale",
    "scale_adam_2026-12-07_grid_60": "scale",
    "scale_adam_2026-12-07_grid_300_1e6x32": "scale",
    "scale_rows": "scale",
    "scale_streamed": "scale",
    "scale_wide": "scale",
    "starts": "starts",
    "starts_boston": "starts",
    "starts_leaky": "starts",
    "threads": "threads",
    "training": "training",
    "training_h16_relu_long": "training",
    "training_lbfgs": "training",
    "training_lbfgs_digits_relu": "training",
    "training_lbfgs_steps": "training",
    "training_lbfgs_warm": "training",
    "training_lbfgs_fast": "training",
    "training_quick": "training",
    "varpro": "varpro",
}


def command(stem: str) -> list[str]:
    """The command line that rebuilds ``results/<stem>.md`` from ``results/<stem>.json``."""
    return ["python", f"benchmarks/{REPORTS[stem]}.py", "--from-json",
            f"benchmarks/results/{stem}.json"]


def script(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` loaded as module ``benchmark_<name>`` (so that ``kernels.py``
    stays apart from ``relu_altmin.kernels``), with ``benchmarks/`` on ``sys.path``."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    module_name = f"benchmark_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while it executes
    spec.loader.exec_module(module)
    return module


def regenerate(stem: str, out: Path, plot: bool = False) -> Path:
    """Rebuild ``results/<stem>``'s report in ``out`` (quietly); returns the Markdown's path."""
    argv = ["--from-json", str(RESULTS / f"{stem}.json"), "--out", str(out), "--name", stem,
            *([] if plot else ["--no-plot"])]
    with contextlib.redirect_stdout(io.StringIO()):
        script(REPORTS[stem]).main(argv)
    return out / f"{stem}.md"


def differing(stems: list[str]) -> list[str]:
    """The stems whose rebuilt Markdown differs from the committed file."""
    with tempfile.TemporaryDirectory() as folder:
        return [stem for stem in stems
                if regenerate(stem, Path(folder)).read_bytes()
                != (RESULTS / f"{stem}.md").read_bytes()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("stems", nargs="*", metavar="STEM",
                        help="reports to rebuild (default: every one of REPORTS)")
    parser.add_argument("--check", action="store_true",
                        help="compare the rebuilt Markdown with the committed files; write "
                             "nothing")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-plot", action="store_true", help="write the Markdown only")
    args = parser.parse_args(argv)
    stems = args.stems or list(REPORTS)
    unknown = [stem for stem in stems if stem not in REPORTS]
    if unknown:
        parser.error(f"no committed report {', '.join(unknown)}; known: {', '.join(REPORTS)}")
    if args.check:
        bad = differing(stems)
        for stem in stems:
            print(f"{'DIFFERS' if stem in bad else 'same'}  {' '.join(command(stem))}")
        return 1 if bad else 0
    for stem in stems:
        print(f"wrote {regenerate(stem, args.out, plot=not args.no_plot)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
