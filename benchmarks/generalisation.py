"""Generalisation: held-out error of the scikit-learn estimators against scikit-learn's MLPs.

Issue 28, item 5. **Regression**: for each data set of ``_datasets`` (the five of the training
benchmark, ``DATASETS``, and the held-out CPS 1988 and Housing; 80/20 split of ``load(name,
seed)``, standardised features; standardised targets, or the class coding of digits (one-hot)
and breast cancer (+-1) as the training benchmark fits them), width ``h`` and seed, the
held-out MSE and the fit's wall time of

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

Every fit runs on one thread (``_common.run_jobs``: worker processes of one thread each), one
job per (data set, h, seed, method). Writes ``<out>/<name>.json``, ``.md`` and ``.png``.

Usage::

    python benchmarks/generalisation.py [--regression ...] [--classification ...]
        [--hidden 16 64] [--seeds 0 1 2]
        [--configs default auto ...] [--max-train-rows N] [--workers 2] [--out DIR]
    python benchmarks/generalisation.py --quick     # diabetes and wine, h 16, seed 0
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _common import machine_info, run_jobs, write_report
from _datasets import DATASETS, HELD_OUT, load

RESULTS = Path(__file__).resolve().parent / "results"

#: The estimator configurations: keyword arguments of ``AnalyticReLU*`` beyond ``hidden`` and
#: ``random_state``. ``default`` is the estimator's defaults, whatever they are.
CONFIGS: dict[str, dict[str, Any]] = {
    "default": {},
    "auto": {"l2": "auto"},
    "l2_none": {"l2": None},
    "early_stopping": {"early_stopping": True},
    "auto+es": {"l2": "auto", "early_stopping": True},
}
#: The data sets of the regression part (every one of ``_datasets``) and of the classifier's.
REGRESSION = (*DATASETS, *HELD_OUT)
CLASSIFICATION = ("breast_cancer", "digits", "wine")
#: GridSearchCV's ridges and folds.
GRID = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
GRID_FOLDS = 3
CV_FOLDS = 5
#: Peers of the regression and classification parts (besides the configs).
MLPS = ("mlp_adam", "mlp_lbfgs")
GRID_SEARCH = "grid_search"
MLP_CLASSIFIER = "mlp"
#: A regression cell passes when its ratio is at most ``ratio``, the time target when the
#: default fit takes less than ``time`` of GridSearchCV's; both on ``fraction`` of the cells.
TARGET = {"ratio": 1.05, "time": 0.25, "fraction": 0.75}


def _estimator_kwargs(config: str, max_iter: int | None) -> dict[str, Any]:
    kwargs = dict(CONFIGS[config])
    if max_iter is not None:
        kwargs["max_iter"] = max_iter
    return kwargs


def _fit_facts(estimator: Any) -> dict[str, Any]:
    """What an AnalyticReLU fit chose: its ridge, iterations and stop reason."""
    return {key: _plain(getattr(estimator, attribute, None)) for key, attribute in
            (("l2", "l2_"), ("n_iter", "n_iter_"), ("stop_reason", "stop_reason_"))}


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _unavailable(exc: Exception) -> dict[str, Any]:
    return {"unavailable": f"{type(exc).__name__}: {exc}"}


def _regression_split(name: str, seed: int, max_train_rows: int | None) -> Any:
    split = load(name, seed)
    if max_train_rows is not None and split.X_train.shape[0] > max_train_rows:
        # The training rows are in a random order already (load's permutation).
        split = type(split)(split.name, split.X_train[:max_train_rows],
                            split.y_train[:max_train_rows], split.X_test, split.y_test,
                            split.regression)
    return split


def run_regression(name: str, hidden: int, seed: int, method: str, max_iter: int | None,
                   max_train_rows: int | None) -> dict[str, Any]:
    """One method on one (data set, h, seed): held-out MSE and fit seconds."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV
    from sklearn.neural_network import MLPRegressor

    from relu_altmin.sklearn import AnalyticReLURegressor

    split = _regression_split(name, seed, max_train_rows)
    out: dict[str, Any] = {"part": "regression", "dataset": name, "hidden": hidden,
                           "seed": seed, "method": method, "rows": split.X_train.shape[0]}
    try:
        if method == "mlp_adam":
            estimator: Any = MLPRegressor(hidden_layer_sizes=(hidden,), random_state=seed)
        elif method == "mlp_lbfgs":
            estimator = MLPRegressor(hidden_layer_sizes=(hidden,), random_state=seed,
                                     solver="lbfgs")
        elif method == GRID_SEARCH:
            base = AnalyticReLURegressor(hidden=hidden, random_state=seed,
                                         **_estimator_kwargs("default", max_iter))
            estimator = GridSearchCV(base, {"l2": GRID}, cv=GRID_FOLDS,
                                     scoring="neg_mean_squared_error")
        else:
            estimator = AnalyticReLURegressor(hidden=hidden, random_state=seed,
                                              **_estimator_kwargs(method, max_iter))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            began = time.perf_counter()
            estimator.fit(split.X_train, split.y_train)
            out["seconds"] = time.perf_counter() - began
    except (TypeError, ValueError) as exc:
        return {**out, **_unavailable(exc)}
    out["mse"] = float(np.mean((estimator.predict(split.X_test) - split.y_test) ** 2))
    if method == GRID_SEARCH:
        out["best_l2"] = estimator.best_params_["l2"]
        out.update(_fit_facts(estimator.best_estimator_))
    elif method in CONFIGS:
        out.update(_fit_facts(estimator))
    else:
        out["n_iter"] = int(estimator.n_iter_)
    return out


def _classification_data(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loader = {"breast_cancer": datasets.load_breast_cancer, "digits": datasets.load_digits,
              "wine": datasets.load_wine}[name]
    X, y = loader(return_X_y=True)
    return X, y


def run_classification(name: str, hidden: int, seed: int, method: str,
                       max_iter: int | None) -> dict[str, Any]:
    """One method's 5-fold cross-validated accuracy on one (data set, h, seed)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from relu_altmin.sklearn import AnalyticReLUClassifier

    X, y = _classification_data(name)
    out: dict[str, Any] = {"part": "classification", "dataset": name, "hidden": hidden,
                           "seed": seed, "method": method, "rows": X.shape[0]}
    try:
        if method == MLP_CLASSIFIER:
            estimator: Any = MLPClassifier(hidden_layer_sizes=(hidden,), random_state=seed)
        else:
            estimator = AnalyticReLUClassifier(hidden=hidden, random_state=seed,
                                               **_estimator_kwargs(method, max_iter))
        folds = StratifiedKFold(CV_FOLDS, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            began = time.perf_counter()
            scores = cross_validate(make_pipeline(StandardScaler(), estimator), X, y, cv=folds,
                                    error_score="raise", return_estimator=method in CONFIGS)
            seconds = time.perf_counter() - began
    except (TypeError, ValueError) as exc:
        return {**out, **_unavailable(exc)}
    out.update(accuracy=float(np.mean(scores["test_score"])),
               fold_accuracies=[float(a) for a in scores["test_score"]],
               seconds=seconds, fit_seconds=float(np.sum(scores["fit_time"])))
    if method in CONFIGS:
        out["l2"] = [_plain(pipe[-1].l2_) for pipe in scores["estimator"]]
    return out


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


def group_runs(results: list[dict[str, Any]],
               same: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One run per (part, data set, h, seed), its methods' results under ``methods``; a
    config of ``same`` gets a copy of its twin's result (``same_as`` says whose)."""
    runs: dict[tuple, dict[str, Any]] = {}
    for r in results:
        key = (r["part"], r["dataset"], r["hidden"], r["seed"])
        run = runs.setdefault(key, {"part": r["part"], "dataset": r["dataset"],
                                    "hidden": r["hidden"], "seed": r["seed"], "rows": r["rows"],
                                    "methods": {}})
        run["methods"][r["method"]] = {k: v for k, v in r.items() if k not in run}
    for run in runs.values():
        for config, twin in (same or {}).items():
            if twin in run["methods"]:
                run["methods"][config] = {**run["methods"][twin], "method": config,
                                          "same_as": twin}
    order = {"regression": REGRESSION, "classification": CLASSIFICATION}
    return sorted(runs.values(), key=lambda r: (r["part"] != "regression",
                                                order[r["part"]].index(r["dataset"]),
                                                r["hidden"], r["seed"]))


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def regression_cells(runs: list[dict[str, Any]], configs: list[str]) -> list[dict[str, Any]]:
    """Per (data set, h): each method's median MSE ratio to the better MLP and median time
    ratio to GridSearchCV, over the seeds where both are available."""
    cells: dict[tuple, list[dict[str, Any]]] = {}
    for run in runs:
        if run["part"] == "regression":
            cells.setdefault((run["dataset"], run["hidden"]), []).append(run)
    out = []
    for (name, h), seeds in cells.items():
        cell: dict[str, Any] = {"dataset": name, "hidden": h, "rows": seeds[0]["rows"],
                                "seeds": [r["seed"] for r in seeds], "ratio": {}, "time_ratio": {},
                                "mse": {}, "seconds": {}, "unavailable": {}}
        for method in (*configs, *MLPS, GRID_SEARCH):
            results = [r["methods"].get(method, {}) for r in seeds]
            missing = [m.get("unavailable", "not run") for m in results if "mse" not in m]
            if missing:
                cell["unavailable"][method] = missing[0]
                continue
            cell["mse"][method] = _median([m["mse"] for m in results])
            cell["seconds"][method] = _median([m["seconds"] for m in results])
            ratios, times = [], []
            for r, m in zip(seeds, results, strict=True):
                peers = [r["methods"].get(p, {}).get("mse") for p in MLPS]
                if all(p is not None for p in peers):
                    ratios.append(m["mse"] / min(peers))
                grid = r["methods"].get(GRID_SEARCH, {}).get("seconds")
                if grid:
                    times.append(m["seconds"] / grid)
            if len(ratios) == len(seeds):
                cell["ratio"][method] = _median(ratios)
            if len(times) == len(seeds):
                cell["time_ratio"][method] = _median(times)
        out.append(cell)
    return out


def classification_cells(runs: list[dict[str, Any]], configs: list[str]) -> list[dict[str, Any]]:
    """Per (data set, h): each method's accuracy, the mean over the seeds of the 5-fold mean."""
    cells: dict[tuple, list[dict[str, Any]]] = {}
    for run in runs:
        if run["part"] == "classification":
            cells.setdefault((run["dataset"], run["hidden"]), []).append(run)
    out = []
    for (name, h), seeds in cells.items():
        cell: dict[str, Any] = {"dataset": name, "hidden": h, "rows": seeds[0]["rows"],
                                "seeds": [r["seed"] for r in seeds], "accuracy": {},
                                "seconds": {}, "unavailable": {}}
        for method in (*configs, MLP_CLASSIFIER):
            results = [r["methods"].get(method, {}) for r in seeds]
            missing = [m.get("unavailable", "not run") for m in results if "accuracy" not in m]
            if missing:
                cell["unavailable"][method] = missing[0]
                continue
            cell["accuracy"][method] = statistics.fmean(m["accuracy"] for m in results)
            cell["seconds"][method] = _median([m["seconds"] for m in results])
        out.append(cell)
    return out


def headline(regression: list[dict[str, Any]], classification: list[dict[str, Any]],
             configs: list[str]) -> dict[str, Any]:
    """Per config: regression cells within ``TARGET["ratio"]`` of the better MLP, cells whose
    fit takes under ``TARGET["time"]`` of GridSearchCV's, classifier cells at least as accurate
    as MLPClassifier; an unavailable cell counts as a miss."""
    out: dict[str, Any] = {}
    for config in configs:
        within = sum(1 for c in regression
                     if c["ratio"].get(config, np.inf) <= TARGET["ratio"])
        faster = sum(1 for c in regression
                     if c["time_ratio"].get(config, np.inf) < TARGET["time"])
        accurate = sum(1 for c in classification
                       if c["accuracy"].get(config, -np.inf)
                       >= c["accuracy"].get(MLP_CLASSIFIER, np.inf))
        out[config] = {
            "regression_within": within, "regression_cells": len(regression),
            "time_under": faster,
            "regression_unavailable": sum(config in c["unavailable"] for c in regression),
            "classifier_at_least_mlp": accurate, "classifier_cells": len(classification),
            "classifier_unavailable": sum(config in c["unavailable"] for c in classification),
        }
    grid_within = sum(1 for c in regression
                      if c["ratio"].get(GRID_SEARCH, np.inf) <= TARGET["ratio"])
    out[GRID_SEARCH] = {"regression_within": grid_within, "regression_cells": len(regression)}
    return out


def _meets(count: int, total: int) -> bool:
    return total > 0 and count >= TARGET["fraction"] * total


def _fmt(value: float | None, spec: str = ".3g") -> str:
    return "n/a" if value is None else format(value, spec)


def markdown(report: dict[str, Any]) -> str:
    m, config = report["machine"], report["config"]
    configs = config["configs"]
    heads, reg, clf = report["headline"], report["regression_cells"], report["classifier_cells"]
    rows_note = (f" **`--max-train-rows {config['max_train_rows']}`**: regression data sets "
                 f"with more training rows (CPS 1988) were cut to their first "
                 f"{config['max_train_rows']} training rows (held-out rows unchanged)."
                 if config["max_train_rows"] else " Every training row was used.")
    iter_note = (f" `max_iter={config['max_iter']}` for every AnalyticReLU fit."
                 if config["max_iter"] is not None else "")
    lines = [
        "# Generalisation: the estimators' held-out error against scikit-learn's MLPs", "",
        f"Generated by `benchmarks/generalisation.py` on {m['date']} ({m['cpu']}, "
        f"{m['cores']} cores, {config['workers']} worker processes of one thread each; "
        f"relu-altmin {m['versions'].get('relu_altmin')}, scikit-learn "
        f"{m['versions'].get('scikit_learn')}) in {report['seconds'] / 60:.1f} min. Seeds "
        f"{config['seeds']}, h {config['hidden']}.{rows_note}{iter_note}", "",
        "Configurations (`AnalyticReLU*(hidden=h, random_state=seed, **config)`): "
        + ", ".join(f"`{name}` = `{CONFIGS[name]}`" for name in configs) + ".", "",
        "**Cells.** Regression: a cell is (data set, h); its ratio is the median over the seeds "
        "of held-out MSE / min(MLPRegressor() MSE, MLPRegressor(solver=\"lbfgs\") MSE) of the "
        "same seed and split (80/20, standardised features and targets), and its time ratio the "
        "median over the seeds of fit seconds / GridSearchCV seconds (GridSearchCV over `l2` in "
        f"{GRID}, cv={GRID_FOLDS}, its refit included). Classification: a cell is (data set, h); "
        f"its accuracy the mean over the seeds of the {CV_FOLDS}-fold StratifiedKFold mean "
        "accuracy (StandardScaler in a Pipeline), against MLPClassifier(hidden_layer_sizes=(h,)) "
        "on the same folds. A cell where a configuration is unavailable counts as a miss.", "",
        "## Headline", "",
        f"Target: the defaults within {TARGET['ratio']}x of the better MLP on at least "
        f"{TARGET['fraction']:.0%} of the regression cells, the default fit under "
        f"{TARGET['time']} of GridSearchCV's time, and classifier accuracy at least "
        f"MLPClassifier's on at least {TARGET['fraction']:.0%} of the classifier cells.", "",
        f"| config | regression cells within {TARGET['ratio']}x | time / GridSearchCV < "
        f"{TARGET['time']} | classifier cells >= MLPClassifier | unavailable cells |",
        "|---|---:|---:|---:|---|",
    ]
    for name in configs:
        h = heads[name]
        unavailable = h["regression_unavailable"] + h["classifier_unavailable"]
        lines.append(
            f"| `{name}` | {h['regression_within']} / {h['regression_cells']}"
            f"{_mark(h['regression_within'], h['regression_cells'])} | {h['time_under']} / "
            f"{h['regression_cells']}{_mark(h['time_under'], h['regression_cells'])} | "
            f"{h['classifier_at_least_mlp']} / {h['classifier_cells']}"
            f"{_mark(h['classifier_at_least_mlp'], h['classifier_cells'])} | "
            f"{unavailable or ''} |")
    g = heads[GRID_SEARCH]
    lines += [f"| GridSearchCV (reference) | {g['regression_within']} / {g['regression_cells']} "
              "| | | |", "",
              "(✓: meets the target's fraction; ✗: does not.)", ""]
    if reg:
        lines += ["## Regression cells", "",
                  "Median held-out MSE ratio to the better MLP (**bold**: above "
                  f"{TARGET['ratio']}); time ratio of the default fit to GridSearchCV; median "
                  "held-out MSEs of the MLPs (standardised targets).", "",
                  "| data set | h | train rows | MLP Adam MSE | MLP L-BFGS MSE | "
                  + " | ".join(f"`{c}`" for c in configs)
                  + " | GridSearchCV | default time / GridSearchCV |",
                  "|---|---:|---:|---:|---:|" + "---:|" * (len(configs) + 2)]
        for c in reg:
            ratios = [_ratio_cell(c, method) for method in (*configs, GRID_SEARCH)]
            lines.append(
                f"| {c['dataset']} | {c['hidden']} | {c['rows']} | "
                f"{_fmt(c['mse'].get('mlp_adam'), '.4f')} | "
                f"{_fmt(c['mse'].get('mlp_lbfgs'), '.4f')} | " + " | ".join(ratios)
                + f" | {_fmt(c['time_ratio'].get('default'), '.3f')} |")
        lines += ["", "Median fit seconds per cell (one thread):", "",
                  "| data set | h | " + " | ".join(f"`{c}`" for c in configs)
                  + " | MLP Adam | MLP L-BFGS | GridSearchCV |",
                  "|---|---:|" + "---:|" * (len(configs) + 3)]
        for c in reg:
            lines.append(f"| {c['dataset']} | {c['hidden']} | " + " | ".join(
                _fmt(c["seconds"].get(method), ".3g")
                for method in (*configs, *MLPS, GRID_SEARCH)) + " |")
        lines += ["", "Every run (held-out MSE; ridge chosen in brackets where one was):", "",
                  "| data set | h | seed | " + " | ".join(f"`{c}`" for c in configs)
                  + " | MLP Adam | MLP L-BFGS | GridSearchCV |",
                  "|---|---:|---:|" + "---:|" * (len(configs) + 3)]
        for run in report["runs"]:
            if run["part"] == "regression":
                lines.append(f"| {run['dataset']} | {run['hidden']} | {run['seed']} | "
                             + " | ".join(_run_cell(run["methods"].get(method, {}))
                                          for method in (*configs, *MLPS, GRID_SEARCH)) + " |")
        lines.append("")
    if clf:
        lines += ["## Classifier cells", "",
                  "Accuracy (mean over seeds and folds; **bold**: below MLPClassifier's).", "",
                  "| data set | h | rows | MLPClassifier | "
                  + " | ".join(f"`{c}`" for c in configs) + " |",
                  "|---|---:|---:|---:|" + "---:|" * len(configs)]
        for c in clf:
            mlp = c["accuracy"].get(MLP_CLASSIFIER)
            cols = []
            for method in configs:
                acc = c["accuracy"].get(method)
                text = _fmt(acc, ".4f")
                cols.append(f"**{text}**" if acc is None or mlp is None or acc < mlp else text)
            lines.append(f"| {c['dataset']} | {c['hidden']} | {c['rows']} | "
                         f"{_fmt(mlp, '.4f')} | " + " | ".join(cols) + " |")
        lines.append("")
    unavailable = [(c["dataset"], c["hidden"], method, why)
                   for c in (*reg, *clf) for method, why in c["unavailable"].items()]
    if unavailable:
        lines += ["## Unavailable", "", "| data set | h | method | why |", "|---|---:|---|---|"]
        lines += [f"| {d} | {h} | `{method}` | {why.replace('|', '/')} |"
                  for d, h, method, why in unavailable]
        lines.append("")
    for name, twin in (config.get("configs_same") or {}).items():
        lines += [f"`{name}` builds the same estimators as `{twin}` (equal `get_params()`) with "
                  "the installed package: it was run once, its results are reported under both "
                  "names.", ""]
    skipped = config.get("configs_unavailable") or {}
    if skipped:
        lines += ["Configurations the installed estimators do not take (not run): " + "; ".join(
            f"`{k}` ({v})" for k, v in skipped.items()) + ".", ""]
    return "\n".join(lines) + f"\n![held-out MSE ratios]({report['name']}.png)\n"


def _mark(count: int, total: int) -> str:
    return " ✓" if _meets(count, total) else " ✗"


def _ratio_cell(cell: dict[str, Any], method: str) -> str:
    ratio = cell["ratio"].get(method)
    if ratio is None:
        return "n/a"
    return f"**{ratio:.3f}**" if ratio > TARGET["ratio"] else f"{ratio:.3f}"


def _run_cell(result: dict[str, Any]) -> str:
    if "mse" not in result:
        return "n/a"
    l2 = result.get("best_l2", result.get("l2"))
    return f"{result['mse']:.4f}" + (f" ({l2:.2g})" if isinstance(l2, float) else "")


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    configs = [c for c in CONFIGS if any(c in r["methods"] for r in runs)]
    reg, clf = regression_cells(runs, configs), classification_cells(runs, configs)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), width_ratios=[max(len(reg), 1),
                                                                  max(len(clf), 1)])
    markers = "os^vDPX*"
    for i, method in enumerate((*configs, GRID_SEARCH)):
        xs = [j for j, c in enumerate(reg) if method in c["ratio"]]
        axes[0].plot([x + 0.06 * i for x in xs], [reg[j]["ratio"][method] for j in xs],
                     markers[i % len(markers)], label=method, alpha=0.8)
    axes[0].axhline(TARGET["ratio"], color="grey", linestyle=":", label="target")
    axes[0].set_yscale("log")
    axes[0].set_xticks(range(len(reg)), [f"{c['dataset']} h{c['hidden']}" for c in reg],
                       rotation=60, ha="right", fontsize=7)
    axes[0].set_ylabel("held-out MSE / better MLP's (median over seeds)")
    axes[0].set_title("regression", fontsize=9)
    axes[0].legend(fontsize=7)
    for i, method in enumerate(configs):
        xs = [j for j, c in enumerate(clf)
              if method in c["accuracy"] and MLP_CLASSIFIER in c["accuracy"]]
        gains = [clf[j]["accuracy"][method] - clf[j]["accuracy"][MLP_CLASSIFIER] for j in xs]
        axes[1].plot([x + 0.06 * i for x in xs], gains, markers[i % len(markers)],
                     label=method, alpha=0.8)
    axes[1].axhline(0.0, color="grey", linestyle=":")
    axes[1].set_xticks(range(len(clf)), [f"{c['dataset']} h{c['hidden']}" for c in clf],
                       rotation=60, ha="right", fontsize=7)
    axes[1].set_ylabel("accuracy - MLPClassifier's")
    axes[1].set_title("classification", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: diabetes and wine, h 16, seed 0, max_iter 5")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default=None, help="results stem (default generalisation)")
    args = parser.parse_args(argv)
    if args.quick:
        args.regression, args.classification = ["diabetes"], ["wine"]
        args.hidden, args.seeds = [16], [0]
        args.max_iter = 5 if args.max_iter is None else args.max_iter
    name = args.name or ("generalisation_quick" if args.quick else "generalisation")
    args.configs, skipped, same = available_configs(args.configs)
    runs, seconds = run_jobs(_ordered_jobs(args, same), args.workers, describe)
    runs = group_runs(runs, same)
    reg = regression_cells(runs, args.configs)
    clf = classification_cells(runs, args.configs)
    report: dict[str, Any] = {
        "name": name, "machine": machine_info(), "seconds": seconds,
        "config": {**vars(args), "out": str(args.out), "target": TARGET, "grid": GRID,
                   "config_kwargs": {c: CONFIGS[c] for c in args.configs},
                   "configs_unavailable": skipped, "configs_same": same},
        "headline": headline(reg, clf, args.configs), "regression_cells": reg,
        "classifier_cells": clf, "runs": runs}
    write_report(args.out, name, report, markdown(report), plot)
    for config, h in report["headline"].items():
        print(f"{config}: {h}")


if __name__ == "__main__":
    main(sys.argv[1:])
