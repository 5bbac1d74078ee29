"""Generalisation: held-out error of the scikit-learn estimators against scikit-learn's MLPs.

Issue 28, item 5. **Regression**: for each data set of ``harness.datasets`` (the five of the
training benchmark, ``DATASETS``, and the held-out CPS 1988 and Housing; 80/20 split of
``load(name, seed)``, standardised features; standardised targets, or the class coding of
digits (one-hot) and breast cancer (+-1) as the training benchmark fits them), width ``h`` and
seed, the held-out MSE and the fit's wall time of

- ``AnalyticReLURegressor(hidden=h, random_state=seed, **config)`` for every estimator
  configuration of :data:`CONFIGS` (a config whose keywords the installed estimator does not
  take, or that raises on a cell, is recorded as unavailable there, not a crash);
- ``MLPRegressor(hidden_layer_sizes=(h,), random_state=seed)`` (Adam, defaults) and the same
  with ``solver="lbfgs"``;
- ``GridSearchCV(AnalyticReLURegressor(hidden=h, random_state=seed), {"l2": GRID}, cv=3)``
  scored by MSE, its time including the refit on all training rows.

A regression **cell** is ``(data set, h)``; its ratio for a method is the median over the
seeds of ``held-out MSE / min(MLP Adam's, MLP L-BFGS's)`` of the same seed, and its time
ratio the median over the seeds of ``fit seconds / GridSearchCV seconds``. Target (``TARGET``):
the defaults' ratio at most 1.05 on at least 75 % of the cells, and the default fit under a
quarter of GridSearchCV's time.

**Classification**: breast cancer, digits and wine (scikit-learn's), 5-fold
``StratifiedKFold(shuffle=True, random_state=seed)`` accuracy of
``Pipeline([StandardScaler(), estimator])`` for ``AnalyticReLUClassifier(hidden=h,
random_state=seed, **config)`` and ``MLPClassifier(hidden_layer_sizes=(h,),
random_state=seed)``. A classifier cell is ``(data set, h)``, its accuracy the mean over the
seeds of the 5-fold mean; it passes when a config's is at least MLPClassifier's, on at least
75 % of the cells.

Every fit runs on one thread (``harness.jobs.run_jobs``: worker processes of one thread each),
one job per (data set, h, seed, method). Writes ``<out>/<name>.json``, ``.md`` and ``.png``;
``--from-json`` rewrites the last two from the first. The parts live in
``generalisation_parts/``.

Usage::

    python benchmarks/generalisation.py [--regression ...] [--classification ...]
        [--hidden 16 64] [--seeds 0 1 2]
        [--configs default auto ...] [--max-train-rows N] [--workers 2] [--out DIR]
    python benchmarks/generalisation.py --quick     # diabetes and wine, h 16, seed 0
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import harness.args
from generalisation_parts.cells import (
    classification_cells,
    group_runs,
    headline,
    regression_cells,
)
from generalisation_parts.report import markdown, plot
from generalisation_parts.runners import run_classification, run_regression
from generalisation_parts.settings import (
    CLASSIFICATION,
    CONFIGS,
    GRID,
    GRID_SEARCH,
    MLP_CLASSIFIER,
    MLPS,
    REGRESSION,
    TARGET,
)
from harness.jobs import run_jobs
from harness.record import machine_info
from harness.report import rebuild, write_report


def _ordered_jobs(args: argparse.Namespace, same: dict[str, str]) -> list[tuple[Any, tuple]]:
    """Every job, the costliest first (so that two workers finish together); none for the
    configs of ``same``."""
    configs = [c for c in args.configs if c not in same]
    jobs: list[tuple[float, Any, tuple]] = []
    train_rows = {"diabetes": 354, "digits": 1438, "breast_cancer": 455, "friedman1": 4000,
                  "boston": 405, "cps1988": 22524, "housing": 437}
    class_rows = {"breast_cancer": 569, "digits": 1797, "wine": 178}
    for h in args.hidden:
        for seed in args.seeds:
            for name in args.regression:
                n = train_rows.get(name, 1000)
                if args.max_train_rows is not None:
                    n = min(n, args.max_train_rows)
                for method in (*configs, *MLPS, GRID_SEARCH):
                    cost = n * h * (16 if method == GRID_SEARCH else 1)
                    jobs.append((cost, run_regression,
                                 (name, h, seed, method, args.max_iter, args.max_train_rows)))
            for name in args.classification:
                for method in (*configs, MLP_CLASSIFIER):
                    jobs.append((5 * class_rows[name] * h, run_classification,
                                 (name, h, seed, method, args.max_iter)))
    jobs.sort(key=lambda job: -job[0])
    return [(function, job_args) for _, function, job_args in jobs]


def available_configs(names: list[str]) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """The configs the installed estimators can be built with, the others and why not, and
    the configs that build the same estimators as an earlier one (``{config: earlier}``: run
    once, reported under both names)."""
    from relu_altmin.sklearn import AnalyticReLUClassifier, AnalyticReLURegressor

    ok: list[str] = []
    skipped: dict[str, str] = {}
    same: dict[str, str] = {}
    params: dict[str, list[dict[str, Any]]] = {}
    for name in names:
        try:
            built = [cls(hidden=2, **CONFIGS[name]).get_params()
                     for cls in (AnalyticReLURegressor, AnalyticReLUClassifier)]
        except (TypeError, ValueError) as exc:
            skipped[name] = f"{type(exc).__name__}: {exc}"
            print(f"config {name} unavailable: {skipped[name]}", flush=True)
            continue
        twin = next((other for other, p in params.items() if p == built), None)
        if twin is not None:
            same[name] = twin
            print(f"config {name} builds the same estimators as {twin}: run once", flush=True)
        params[name] = built
        ok.append(name)
    return ok, skipped, same


def describe(r: dict[str, Any]) -> str:
    head = f"{r['dataset']} h{r['hidden']} s{r['seed']} {r['method']}"
    if "unavailable" in r:
        return f"{head}: unavailable ({r['unavailable'][:80]})"
    score = f"mse {r['mse']:.4f}" if "mse" in r else f"accuracy {r['accuracy']:.4f}"
    return f"{head}: {score}, {r['seconds']:.2f} s"


def main(argv: list[str] | None = None) -> None:
    parser = harness.args.parser(__doc__, harness.args.parent(
        "generalisation (generalisation_quick with --quick)", workers=2))
    parser.add_argument("--regression", nargs="*", default=list(REGRESSION),
                        choices=REGRESSION, metavar="DATASET",
                        help=f"data sets of the regression part (default: {' '.join(REGRESSION)})")
    parser.add_argument("--classification", nargs="*", default=list(CLASSIFICATION),
                        choices=CLASSIFICATION, metavar="DATASET",
                        help="data sets of the classifier part (default: "
                             f"{' '.join(CLASSIFICATION)})")
    parser.add_argument("--hidden", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    parser.add_argument("--max-train-rows", type=int, default=None,
                        help="cut regression training sets to this many rows (default: all)")
    parser.add_argument("--max-iter", type=int, default=None,
                        help="max_iter of every AnalyticReLU fit (default: the estimator's)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: diabetes and wine, h 16, seed 0, max_iter 5")
    args = parser.parse_args(argv)
    if args.from_json:
        rebuild(args, markdown, plot)
        return
    if args.quick:
        args.regression, args.classification = ["diabetes"], ["wine"]
        args.hidden, args.seeds = [16], [0]
        args.max_iter = 5 if args.max_iter is None else args.max_iter
    name = harness.args.report_name(
        args, "generalisation_quick" if args.quick else "generalisation")
    args.configs, skipped, same = available_configs(args.configs)
    runs, seconds = run_jobs(_ordered_jobs(args, same), args.workers, describe)
    runs = group_runs(runs, same)
    reg = regression_cells(runs, args.configs)
    clf = classification_cells(runs, args.configs)
    report: dict[str, Any] = {
        "name": name, "machine": machine_info(), "seconds": seconds,
        "config": {**harness.args.settings(args), "target": TARGET, "grid": GRID,
                   "config_kwargs": {c: CONFIGS[c] for c in args.configs},
                   "configs_unavailable": skipped, "configs_same": same},
        "headline": headline(reg, clf, args.configs), "regression_cells": reg,
        "classifier_cells": clf, "runs": runs}
    write_report(args.out, name, report, markdown(report), plot)
    for config, h in report["headline"].items():
        print(f"{config}: {h}")


if __name__ == "__main__":
    main(sys.argv[1:])
