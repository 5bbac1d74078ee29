"""scikit-learn's MLPs as peers: ``MLPRegressor(solver="lbfgs")`` on the training benchmark's
start (:func:`run_sklearn`), and the estimators the generalisation benchmark compares with
(:func:`mlp_regressor`, :func:`mlp_classifier`)."""

from __future__ import annotations

import time
import warnings
from typing import Any

from ..datasets import Split
from .common import Start, mse
from .torch_optim import LBFGS_MAX_ITER

SKLEARN_ALPHA = 1e-10
#: MLPRegressor(solver="lbfgs") settings: the capped run and the one run to convergence.
SKLEARN_LBFGS: dict[str, dict[str, Any]] = {
    "sklearn_lbfgs": {"max_iter": LBFGS_MAX_ITER, "max_fun": int(1.25 * LBFGS_MAX_ITER),
                      "tol": 1e-12},
    "sklearn_lbfgs_conv": {"max_iter": 5000, "max_fun": 50000, "tol": 0.0},
}
SKLEARN_NO_LEAKY = "ReLU network, own init: sklearn has no leaky ReLU"


def run_sklearn(split: Split, hidden: int, slope: float, seed: int, max_iter: int,
                max_fun: int, tol: float, start: Start | None = None) -> dict[str, Any]:
    """``MLPRegressor(solver="lbfgs")``: a ReLU network, whatever ``slope``, from its own init
    (``start=None``) or from ``start``.

    Its trace is its end point: MLPRegressor keeps no per-iteration losses or times for L-BFGS.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    model = MLPRegressor(hidden_layer_sizes=(hidden,), activation="relu", solver="lbfgs",
                         alpha=SKLEARN_ALPHA, max_iter=max_iter, max_fun=max_fun, tol=tol,
                         random_state=seed, warm_start=start is not None)
    if start is not None:
        # warm_start continues from the weights of the last fit: one iteration creates the
        # fitted attributes, then the start replaces those weights.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.set_params(max_iter=1).fit(split.X_train, split.y_train)
        model.coefs_ = [start.W.T.copy(), start.V.copy()]
        model.intercepts_ = [start.b.copy(), start.c.copy()]
        model.set_params(max_iter=max_iter)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(split.X_train, split.y_train)
    seconds = time.perf_counter() - t0
    # scikit-learn warns with scipy's message when L-BFGS-B stops on a limit (status != 0).
    limits = [" ".join(str(w.message).splitlines()[:2]) for w in caught
              if issubclass(w.category, ConvergenceWarning)]
    train = mse(model.predict(split.X_train), split.y_train)
    info = {"iterations": int(model.n_iter_),
            "stop": limits[0] if limits else "converged (L-BFGS-B's own test)",
            "start": ("own Glorot-uniform init (MLPRegressor takes no start)" if start is None
                      else "given start (warm_start)")}
    if slope != 0.0:
        info["network"] = SKLEARN_NO_LEAKY
    return {"train_mse": train, "test_mse": mse(model.predict(split.X_test), split.y_test),
            "seconds": seconds, "trace": [(seconds, train)], "info": info}


#: The generalisation benchmark's regression peers: name -> ``MLPRegressor`` keyword arguments
#: beyond the width and the seed (Adam with its defaults, and L-BFGS).
MLP_REGRESSORS: dict[str, dict[str, Any]] = {"mlp_adam": {}, "mlp_lbfgs": {"solver": "lbfgs"}}


def mlp_regressor(name: str, hidden: int, seed: int) -> Any:
    """The ``MLPRegressor`` of :data:`MLP_REGRESSORS` ``name``, ``hidden`` units, seeded."""
    from sklearn.neural_network import MLPRegressor

    return MLPRegressor(hidden_layer_sizes=(hidden,), random_state=seed, **MLP_REGRESSORS[name])


def mlp_classifier(hidden: int, seed: int) -> Any:
    """``MLPClassifier`` with its defaults, ``hidden`` units, seeded."""
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(hidden_layer_sizes=(hidden,), random_state=seed)
