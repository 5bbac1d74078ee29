"""Regression benchmarks of ``relu_altmin.fit`` for airspeed velocity (asv): wall time, peak
memory and the training MSE reached, on two small data sets the package ships or generates.

Each benchmark fits from a fixed seed on one thread, so a change in the numbers between two
commits is a change in the code. The research grids (peers, scale, GPU) are the scripts in
``benchmarks/``.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

import relu_altmin

#: (data set, hidden units): diabetes (442 x 10, shipped) and Friedman #1 (2000 x 10, made).
CASES = [("diabetes", 16), ("diabetes", 64), ("friedman1", 16)]
MAX_ITER = 30


def data(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``name``: the shipped diabetes data, or Friedman #1 generated from seed 0
    (2000 rows, noise 1, standardised)."""
    if name == "diabetes":
        return relu_altmin.load_diabetes()
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(2000, 10))
    y = (10 * np.sin(np.pi * X[:, 0] * X[:, 1]) + 20 * (X[:, 2] - 0.5) ** 2 + 10 * X[:, 3]
         + 5 * X[:, 4] + rng.standard_normal(2000))
    return (X - X.mean(0)) / X.std(0), (y - y.mean()) / y.std()


class Fit:
    """``fit(X, y, hidden, seed=0, max_iter=30)`` with the defaults, and with ``l2="auto"``."""

    params = (CASES, [None, "auto"])
    param_names = ("case", "l2")
    timeout = 300

    def setup(self, case: tuple[str, int], l2: str | None) -> None:
        self.X, self.y = data(case[0])
        self.limits = threadpool_limits(limits=1)
        # Compile the Numba kernels outside the measurement (each benchmark runs in a fresh
        # process).
        relu_altmin.fit(self.X[:20], self.y[:20], 2, max_iter=1, seed=0, n_jobs=1, l2=l2)

    def teardown(self, case: tuple[str, int], l2: str | None) -> None:
        self.limits.restore_original_limits()

    def _fit(self, case: tuple[str, int], l2: str | None) -> relu_altmin.FitResult:
        return relu_altmin.fit(self.X, self.y, case[1], seed=0, max_iter=MAX_ITER, l2=l2,
                               n_jobs=1)

    def time_fit(self, case: tuple[str, int], l2: str | None) -> None:
        self._fit(case, l2)

    def peakmem_fit(self, case: tuple[str, int], l2: str | None) -> None:
        self._fit(case, l2)

    def track_train_mse(self, case: tuple[str, int], l2: str | None) -> float:
        return self._fit(case, l2).loss

    track_train_mse.unit = "MSE"  # type: ignore[attr-defined]  # asv reads it
