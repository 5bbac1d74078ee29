"""What the commands print: ``--json`` documents and the plain-text summaries."""

from __future__ import annotations

import dataclasses
import json
import math
import sys
from typing import Any

import numpy as np

from .._fit import FitResult


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready Python: NumPy scalars unwrapped, non-finite floats as None."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _print_json(document: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(_plain(document), allow_nan=False) + "\n")
    sys.stdout.flush()


def fit_summary(result: FitResult) -> dict[str, Any]:
    """The JSON form of a :class:`~relu_altmin.FitResult`, as ``--json`` prints it.

    Parameters
    ----------
    result : FitResult

    Returns
    -------
    dict
        ``loss`` (final training MSE), ``iterations``, ``stop_reason``, ``converged``,
        ``residuals`` (relative gradient norms), ``l2``, ``solver``, ``seconds`` (wall time of
        the run) and ``history``: one dict per :class:`~relu_altmin.IterationRecord`,
        iteration 0 first, so ``len(history) == iterations + 1``.
    """
    return {"loss": result.loss, "iterations": result.n_iter,
            "stop_reason": result.stop_reason, "converged": result.converged,
            "residuals": dict(result.residuals), "l2": result.l2, "solver": result.solver,
            "seconds": result.history[-1].seconds,
            "history": [dataclasses.asdict(record) for record in result.history]}


def _describe(X: np.ndarray, y: np.ndarray, source: str) -> dict[str, Any]:
    return {"source": source, "n_samples": X.shape[0], "n_features": X.shape[1],
            "n_targets": 1 if y.ndim == 1 else y.shape[1]}


def _print_summary(result: FitResult) -> None:
    print(f"final training MSE {result.loss:.6g} after {result.n_iter} iterations "
          f"({result.stop_reason}, {result.history[-1].seconds:.2f} s)")
    print("critical-point residuals: "
          + ", ".join(f"{name} {value:.2e}" for name, value in result.residuals.items()))


def _print_reached(comparison: dict[str, Any], result: FitResult) -> None:
    if comparison["fit_seconds_to_best"] is None:
        print(f"  relu-altmin did not reach Adam's training MSE in {result.n_iter} iterations")
    else:
        print(f"  relu-altmin reached Adam's training MSE after "
              f"{comparison['fit_seconds_to_best']:.2f} s (iteration "
              f"{comparison['fit_iterations_to_best']})")
