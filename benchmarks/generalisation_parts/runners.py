"""The generalisation benchmark's runs: one method on one (data set, h, seed), its held-out
MSE (regression) or cross-validated accuracy (classification) and its time."""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
from harness.datasets import load
from harness.peers.sklearn_mlp import MLP_REGRESSORS, mlp_classifier, mlp_regressor

from .settings import CONFIGS, CV_FOLDS, GRID, GRID_FOLDS, GRID_SEARCH, MLP_CLASSIFIER


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

    from relu_altmin.sklearn import AnalyticReLURegressor

    split = _regression_split(name, seed, max_train_rows)
    out: dict[str, Any] = {"part": "regression", "dataset": name, "hidden": hidden,
                           "seed": seed, "method": method, "rows": split.X_train.shape[0]}
    try:
        if method in MLP_REGRESSORS:
            estimator: Any = mlp_regressor(method, hidden, seed)
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
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from relu_altmin.sklearn import AnalyticReLUClassifier

    X, y = _classification_data(name)
    out: dict[str, Any] = {"part": "classification", "dataset": name, "hidden": hidden,
                           "seed": seed, "method": method, "rows": X.shape[0]}
    try:
        if method == MLP_CLASSIFIER:
            estimator: Any = mlp_classifier(hidden, seed)
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
