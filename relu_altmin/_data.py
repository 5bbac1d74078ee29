"""The embedded default dataset."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np


def load_diabetes(*, standardize: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The diabetes data of Efron, Hastie, Johnstone and Tibshirani (2004), shipped in the package.

    442 patients, 10 baseline variables (age, sex, body-mass index, blood pressure, six
    serum measurements) and a quantitative measure of disease progression one year later:
    the same raw values as scikit-learn's ``load_diabetes(scaled=False)`` (BSD-3-Clause).

    Parameters
    ----------
    standardize : bool, default True
        Centre and scale every column (features and target) to zero mean and unit variance.

    Returns
    -------
    X : numpy.ndarray, shape (442, 10), float64
    y : numpy.ndarray, shape (442,), float64
    """
    source = resources.files("relu_altmin").joinpath("data/diabetes.csv.gz")
    with source.open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", skiprows=1)
    if standardize:
        table = (table - table.mean(axis=0)) / table.std(axis=0)
    return table[:, :-1], table[:, -1]
