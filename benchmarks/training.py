"""Training benchmark: the analytic trainer against gradient baselines and the usual peers.

Five standardised tabular data sets (``harness/datasets.py``: diabetes, digits as one-hot
regression, breast cancer with a ±1 target, Friedman #1 with n = 5000, Boston housing), two
widths, two negative slopes and several seeds. For each ``(data set, seed)`` the rows are split
once into 80 % training and 20 % held out. Every method starts from the same network, the start of
``relu_altmin.fit(seed=seed)``: a random hidden layer with its least-squares output layer
(``fit(..., max_iter=0).network``). The methods:

- ``altmin``: ``relu_altmin.fit`` with its defaults (100 iterations at most, the damped
  Gauss-Newton step over both layers, ``step="joint"``);
- ``altmin_damped`` and ``altmin_exact``: the same with ``step="damped"`` (damped hidden step,
  output layer held, then its exact solve) and ``step="exact"`` (the paper's plain alternation);
- ``altmin_cg`` and ``altmin_dense``: the defaults with ``solver="cg"`` (matrix-free hidden
  steps, truncated conjugate gradients, which ``"auto"`` picks above 500 unknowns) and with
  ``solver="dense"`` (the assembled system, which it picks up to 500), on every size;
- ``altmin_all_rows`` and ``altmin_no_endgame``: the defaults with every hidden system built on
  all rows (``curvature_rows=10**12``: no sampled curvature, which the defaults use from 2 000
  rows up) and without the endgame (``endgame=False``);
- ``ours_*``: the array-API gradient baselines of :mod:`relu_altmin.baselines` (when that
  module imports), each tuned over the learning-rate grid;
- ``torch_adam_*`` and ``torch_sgd_*``: ``torch.optim.Adam`` and ``torch.optim.SGD``
  (momentum 0.9), full batch for 2000 epochs and minibatch 64 for 200 epochs, each tuned over
  the learning-rate grid (the best final training MSE is reported);
- ``torch_lbfgs``: ``torch.optim.LBFGS``, full batch, strong-Wolfe line search, history 20,
  run until it converges or hits the cap of 2000 iterations;
- ``torch_lbfgs_conv``: the same run to convergence: at most 20000 iterations, gradient and
  change tolerances 1e-12 and 1e-15, and a wall-time cap (``--lbfgs-time-cap``, 120 s) that
  stops it cleanly at the best point so far;
- ``sklearn_lbfgs``: scikit-learn's ``MLPRegressor(solver="lbfgs")`` (ReLU only, so slope 0
  only; alpha 1e-10). It cannot take a starting network: it starts from its own random init;
- ``sklearn_lbfgs_conv``: the same run to convergence (5000 iterations, 50000 evaluations,
  ``tol=0``) at every slope; for slope > 0 it is still a ReLU network (scikit-learn has no
  leaky ReLU), which the outputs mark. Its trace is its end point only;
- ``scipy_trf``: ``scipy.optimize.least_squares(method="trf")`` on the residuals ``F - Y`` with
  their analytic Jacobian (docs/design.md §2), exact trust-region solves on small problems and
  LSMR on large ones, capped in evaluations and wall time.

Everything runs in float64 on one thread (BLAS, Numba and torch) so the timings compare
methods, not parallel efficiency. ``--backend`` says where the array-API methods (``altmin``,
``ours_*``) and the torch peers run: ``numpy`` (the default; torch on the CPU), ``torch``
(PyTorch tensors, on CUDA when torch sees a GPU) or ``cupy`` (CuPy arrays on the GPU, torch
peers on CUDA); scikit-learn and SciPy always run on the CPU. Data and starting networks are
moved to the device before the clock starts. ``--methods`` picks the methods (by default all of the
above but the ``altmin_*`` variants and the two ``*_conv`` runs).
Each run records the final training MSE ``(1/n)||Y - F||_F^2``, the held-out MSE, the wall
time and a loss-versus-time trace, from which the time to reach the best peer's final
training MSE is read. The script writes ``<out>/<name>.json`` (machine, versions, date,
configuration, every run), ``<out>/<name>.md`` (median tables and the target checks) and
``<out>/<name>_<dataset>.png`` (loss versus time, first seed). ``--from-json`` rebuilds the
tables and plots from earlier JSON files (merging them).

``--lbfgs-target`` is the preset of the "converged L-BFGS" target (issue 24, "Small data"): the
five data sets plus the two held-out ones of ``harness.datasets.HELD_OUT`` (CPS 1988, Housing), h 16
and 64, slopes 0 and 0.1, seeds 0 1 2, methods ``altmin`` (run to convergence too, on the
budget of ``torch_lbfgs_conv``: ``--altmin-max-iter 20000`` and ``--altmin-time-cap`` equal to
``--lbfgs-time-cap``; it stops earlier by its own tests),
``torch_lbfgs_conv`` and ``sklearn_lbfgs_conv``, written to ``training_lbfgs.*`` (any option
given explicitly overrides the preset). For each cell ``(data set, h, slope)`` the better of
the two converged L-BFGS runs (lower median final training MSE) sets each seed's target loss:
its final training MSE, or ``1e-4`` times the variance of the training targets
(``mean_i ||y_i - mean(y)||^2``) when it got below that (it interpolates). An ``altmin``
variant passes on loss when its median final training MSE is at most the median target, and on
time when its median time to first reach its seed's target (never = inf) is at most the median
wall time of that L-BFGS run. The target holds when the time test passes on at least
``LBFGS_TIME_FRACTION`` (75 %) of the cells and the loss test on at least
``LBFGS_LOSS_FRACTION`` (90 %). The Markdown reports every cell and both fractions; the plots
draw the target.

Usage::

    python benchmarks/training.py --quick
    python benchmarks/training.py --quick --backend cupy --name training_quick_cupy   # GPU
    python benchmarks/training.py --lbfgs-target [--lrs ...] [--lbfgs-time-cap 120]
    python benchmarks/training.py [--datasets ...] [--hidden 16 64] [--slopes 0 0.1]
        [--seeds 0 1 2] [--lrs ...] [--baseline-lrs ...] [--out benchmarks/results]
    python benchmarks/training.py --from-json results/a.json results/b.json --name training

The parts live in ``training_parts/`` (settings, the run record, the driver, the targets, the
Markdown and the plots); the peers in ``harness/peers/``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import harness.args
import torch
from harness.datasets import DATASETS, HELD_OUT
from harness.peers.common import BACKENDS
from harness.peers.ours import BASELINE_METHODS
from harness.record import dumps, machine_info
from threadpoolctl import threadpool_limits
from training_parts.checks import lbfgs_check, target_check
from training_parts.driver import annotate, run_grid
from training_parts.markdown import check_lines, lbfgs_check_lines, markdown
from training_parts.plots import plots
from training_parts.runs import Run, as_json, joined_note, load_runs
from training_parts.settings import LBFGS_PRESET, LEARNING_RATES, PEER_ORDER


def write_outputs(runs: list[Run], meta: dict[str, Any], out: Path, name: str,
                  plot: bool = True) -> None:
    """``<name>.json`` (the runs and the targets), ``<name>.md`` and, with ``plot``, one
    ``<name>_<dataset>.png`` per data set in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    annotate(runs)
    check, conv = target_check(runs), lbfgs_check(runs)
    report = {"benchmark": "training", **meta, "target_check": check, "lbfgs_check": conv,
              "runs": [as_json(r) for r in runs]}
    (out / f"{name}.json").write_text(dumps(report, indent=1, newline=False))
    (out / f"{name}.md").write_text(markdown(runs, meta, name))
    paths = plots(runs, out, name) if plot else []
    (out / f"{name}.partial.json").unlink(missing_ok=True)
    if check["cells"]:
        print("\n".join(check_lines(check)))
    if conv["cells"]:
        print("\n".join(lbfgs_check_lines(conv)))
    print(f"wrote {out / (name + '.json')}, {out / (name + '.md')} and {len(paths)} plots")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = harness.args.parser(__doc__, harness.args.parent(
        "training, training_quick or training_lbfgs", merge=True))
    parser.add_argument("--quick", action="store_true",
                        help="diabetes + breast cancer, h=16, slope 0.1, seed 0, 3 learning "
                             "rates: a few minutes on 2 cores")
    parser.add_argument("--lbfgs-target", action="store_true",
                        help="the converged L-BFGS target: the five data sets and the two "
                             "held-out ones, h 16 and 64, slopes 0 and 0.1, seeds 0 1 2, "
                             "altmin on torch_lbfgs_conv's budget (max_iter "
                             "20000, its time cap), torch_lbfgs_conv and "
                             "sklearn_lbfgs_conv, written to training_lbfgs.* (explicit "
                             "options override the preset)")
    parser.add_argument("--methods", nargs="+", choices=PEER_ORDER, default=None,
                        metavar="METHOD",
                        help=f"methods to run, of {', '.join(PEER_ORDER)} (default: all but "
                             "the altmin_* variants and the *_conv runs); "
                             "those that do not apply to a configuration are skipped")
    parser.add_argument("--datasets", nargs="+", choices=(*DATASETS, *HELD_OUT),
                        default=list(DATASETS),
                        help=f"data sets (default: {' '.join(DATASETS)}; held out: "
                             f"{' '.join(HELD_OUT)})")
    parser.add_argument("--hidden", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--slopes", type=float, nargs="+", default=[0.0, 0.1])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--lrs", type=float, nargs="+", default=list(LEARNING_RATES),
                        help="learning-rate grid of the torch Adam and SGD runs")
    parser.add_argument("--baseline-lrs", type=float, nargs="+", default=list(LEARNING_RATES),
                        help="learning-rate grid of our baselines")
    parser.add_argument("--baselines", nargs="+", default=list(BASELINE_METHODS),
                        choices=[*BASELINE_METHODS, "none"],
                        help="which of our baselines to run ('none' for none)")
    parser.add_argument("--trf-time-cap", type=float, default=60.0,
                        help="wall-time cap (s) of each least_squares run")
    parser.add_argument("--lbfgs-time-cap", type=float, default=120.0,
                        help="wall-time cap (s) of each torch_lbfgs_conv run")
    parser.add_argument("--altmin-max-iter", type=int, default=None,
                        help="max_iter of the altmin variants (default: fit's, 100)")
    parser.add_argument("--altmin-time-cap", type=float, default=None,
                        help="wall-time cap (s) of each altmin run (default none; the "
                             "--lbfgs-target preset: --lbfgs-time-cap's)")
    parser.add_argument("--backend", choices=BACKENDS, default="numpy",
                        help="where altmin and our baselines run (numpy; torch, on CUDA when "
                             "available; cupy, on the GPU) and with them the torch peers "
                             "(CPU for numpy, else CUDA when available); scikit-learn and "
                             "SciPy run on the CPU")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads for BLAS, Numba and torch")
    parser.add_argument("--note", default=None, help="a sentence recorded in the outputs")
    args = parser.parse_args(argv)
    if args.lbfgs_target:  # the preset's values, unless given explicitly
        parser.set_defaults(**LBFGS_PRESET)
        args = parser.parse_args(argv)
        if args.altmin_time_cap is None:  # altmin's budget is torch_lbfgs_conv's
            args.altmin_time_cap = args.lbfgs_time_cap
    if args.quick:
        args.datasets, args.hidden, args.slopes, args.seeds = (
            ["diabetes", "breast_cancer"], [16], [0.1], [0])
        args.lrs = args.baseline_lrs = [1e-3, 1e-2, 1e-1]
    args.name = harness.args.report_name(args, "training_quick" if args.quick else "training")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.from_json:
        runs, meta = load_runs(args.from_json)
        # A note given with --from-json describes the merge.
        meta["config"]["note"] = joined_note(meta["config"].get("note"), args.note)
        write_outputs(runs, meta, args.out, args.name, plot=not args.no_plot)
        return
    torch.set_num_threads(args.threads)
    torch.set_default_dtype(torch.float64)
    try:
        import numba

        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    except (ImportError, ValueError):
        pass
    with threadpool_limits(limits=args.threads):
        runs, config = run_grid(args)
    meta = {"machine": machine_info(), "config": config}
    write_outputs(runs, meta, args.out, args.name)


if __name__ == "__main__":
    sys.exit(main())
