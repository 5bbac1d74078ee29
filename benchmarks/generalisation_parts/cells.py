"""The generalisation benchmark's cells: runs grouped per (data set, h), and the headline."""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from .settings import CLASSIFICATION, GRID_SEARCH, MLP_CLASSIFIER, MLPS, REGRESSION, TARGET


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


def _by_cell(runs: list[dict[str, Any]], part: str) -> dict[tuple, list[dict[str, Any]]]:
    """The runs of ``part`` per (data set, h), in their order."""
    cells: dict[tuple, list[dict[str, Any]]] = {}
    for run in runs:
        if run["part"] == part:
            cells.setdefault((run["dataset"], run["hidden"]), []).append(run)
    return cells


def regression_cells(runs: list[dict[str, Any]], configs: list[str]) -> list[dict[str, Any]]:
    """Per (data set, h): each method's median MSE ratio to the better MLP and median time
    ratio to GridSearchCV, over the seeds where both are available."""
    out = []
    for (name, h), seeds in _by_cell(runs, "regression").items():
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
    out = []
    for (name, h), seeds in _by_cell(runs, "classification").items():
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
