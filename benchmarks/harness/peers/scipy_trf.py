"""SciPy's ``least_squares(method="trf")`` as a peer, on the residuals with their analytic
Jacobian (docs/design.md §2)."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import scipy.optimize

from ..datasets import Split
from .common import Start, TimeUp, Trace, as_2d, mse, predict

TRF_MAX_NFEV, TRF_EXACT_FLOPS = 300, 1e9


class Residuals:
    """Residuals ``(F - Y) / sqrt(n)`` of the network and their analytic Jacobian.

    The parameters are packed as ``theta = [vec(Wt), vec(V), c]`` with ``Wt = [W, b]`` (h x
    d~), all row-major. With ``D = sigma'(Z)`` and ``H = D * Z`` (docs/design.md §2):
    ``dF[i,o]/dWt[j,a] = V[j,o] D[i,j] Xt[i,a]``, ``dF[i,o]/dV[j,p] = H[i,j] [o = p]`` and
    ``dF[i,o]/dc[p] = [o = p]``. Then ``0.5 ||r||^2`` is half the training MSE.
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, hidden: int, slope: float) -> None:
        self.Xt = np.column_stack([X, np.ones(X.shape[0])])
        self.Y = Y
        self.h, self.slope = hidden, slope
        self.n, self.k = Y.shape
        self.dt = self.Xt.shape[1]
        self.scale = 1.0 / math.sqrt(self.n)

    def pack(self, start: Start) -> np.ndarray:
        return np.concatenate([np.column_stack([start.W, start.b]).ravel(), start.V.ravel(),
                               start.c])

    def unpack(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        hw, hk = self.h * self.dt, self.h * self.k
        return (theta[:hw].reshape(self.h, self.dt), theta[hw:hw + hk].reshape(self.h, self.k),
                theta[hw + hk:])

    def network(self, theta: np.ndarray) -> tuple[np.ndarray, ...]:
        Wt, V, c = self.unpack(theta)
        return Wt[:, :-1], Wt[:, -1], V, c

    def _hidden(self, Wt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Z = self.Xt @ Wt.T
        D = np.where(Z > 0, 1.0, self.slope)
        return D, D * Z

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        Wt, V, c = self.unpack(theta)
        _, H = self._hidden(Wt)
        return ((H @ V + c - self.Y) * self.scale).ravel()

    def jacobian(self, theta: np.ndarray) -> np.ndarray:
        Wt, V, _ = self.unpack(theta)
        D, H = self._hidden(Wt)
        n, k, h, dt = self.n, self.k, self.h, self.dt
        JW = (V.T[None, :, :, None] * D[:, None, :, None] * self.Xt[:, None, None, :])
        JV = np.zeros((n, k, h, k))
        for o in range(k):
            JV[:, o, :, o] = H
        Jc = np.broadcast_to(np.eye(k), (n, k, k))
        J = np.concatenate([JW.reshape(n * k, h * dt), JV.reshape(n * k, h * k),
                            Jc.reshape(n * k, k)], axis=1)
        J *= self.scale
        return J


def run_trf(split: Split, hidden: int, slope: float, start: Start,
            time_cap: float) -> dict[str, Any]:
    """``least_squares(method="trf")`` from ``start``, exact or LSMR trust-region solves by
    size, stopped at ``time_cap`` seconds at the best point so far."""
    problem = Residuals(split.X_train, as_2d(split.y_train), hidden, slope)
    theta0 = problem.pack(start)
    m, p = problem.n * problem.k, theta0.size
    exact = min(m, p) ** 2 * max(m, p) <= TRF_EXACT_FLOPS
    trace: Trace = []
    best = [math.inf, theta0]
    t0 = time.perf_counter()

    def fun(theta: np.ndarray) -> np.ndarray:
        if time.perf_counter() - t0 > time_cap:
            raise TimeUp
        r = problem.residuals(theta)
        value = float(r @ r)  # the training MSE
        if value < best[0]:
            best[0], best[1] = value, theta.copy()
        trace.append((time.perf_counter() - t0, best[0]))
        return r

    info: dict[str, Any] = {"tr_solver": "exact" if exact else "lsmr", "jacobian_shape": [m, p]}
    try:
        result = scipy.optimize.least_squares(
            fun, theta0, jac=problem.jacobian, method="trf", ftol=1e-12, xtol=1e-12,
            gtol=1e-12, max_nfev=TRF_MAX_NFEV, tr_solver="exact" if exact else "lsmr")
        theta = result.x
        info.update(status=int(result.status), nfev=int(result.nfev),
                    njev=int(result.njev or 0))
    except TimeUp:
        theta = best[1]
        info.update(status="time cap", time_cap_s=time_cap)
    seconds = time.perf_counter() - t0
    arrays = problem.network(theta)
    return {"train_mse": mse(predict(split.X_train, *arrays, slope), split.y_train),
            "test_mse": mse(predict(split.X_test, *arrays, slope), split.y_test),
            "seconds": seconds, "trace": trace, "info": info}
