"""What every peer runner shares: the starting network, the device, predictions and traces.

torch is imported only where a torch device is used (the experiments import
:func:`to_numpy` from here).

A run's ``trace`` is a list of ``(seconds, training MSE)``; :func:`thin` keeps at most
``TRACE_POINTS`` of them for the JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import relu_altmin

from ..datasets import Split

#: The gradient methods' budgets: full-batch and minibatch epochs, the batch and momentum.
FULL_EPOCHS, MINIBATCH_EPOCHS, BATCH = 2000, 200, 64
MOMENTUM = 0.9
TRACE_POINTS = 120
#: Losses reach a target within this relative tolerance: :func:`thin` keeps 11 significant
#: digits, so a trace read back from the JSON reaches the targets the live run's reached.
MATCH_RTOL = 1e-9
Trace = list[tuple[float, float]]
BACKENDS = ("numpy", "torch", "cupy")


class TimeUp(Exception):
    """Raised inside a peer's objective once its wall-time cap has passed."""


def to_numpy(a: Any) -> Any:
    """A NumPy copy of a NumPy, CuPy or PyTorch array."""
    if hasattr(a, "get"):  # CuPy
        return a.get()
    if hasattr(a, "detach"):  # PyTorch
        return a.detach().cpu().numpy()
    return np.asarray(a)


@dataclass(frozen=True)
class Device:
    """Where the array-API methods (``altmin``, ``ours_*``) and the torch peers run."""

    backend: str  # one of BACKENDS
    xp: Any  # the array module of the data fit and the baselines get
    torch_device: str  # "cpu" or "cuda"

    @staticmethod
    def for_backend(backend: str) -> Device:
        """The device of ``backend`` (``numpy``, ``torch`` or ``cupy``)."""
        if backend == "numpy":
            return Device("numpy", np, "cpu")
        if backend == "torch":
            import torch

            return Device("torch", torch, "cuda" if torch.cuda.is_available() else "cpu")
        import cupy

        cupy.zeros(1).sum().item()  # fails here, with the reason, when no GPU is usable
        return Device("cupy", cupy, "cuda")

    def array(self, a: np.ndarray) -> Any:
        """``a`` (float64 NumPy) on this device, in its array module."""
        if self.backend == "torch":
            import torch

            return torch.from_numpy(a).to(self.torch_device)
        return self.xp.asarray(a)

    def network(self, net: relu_altmin.TwoLayerNet) -> relu_altmin.TwoLayerNet:
        """A NumPy network on this device (the same arrays for ``numpy``)."""
        def move(a: Any) -> Any:
            return None if a is None else self.array(np.asarray(a))

        return relu_altmin.TwoLayerNet(move(net.W), move(net.b), move(net.V), move(net.c),
                                       negative_slope=net.negative_slope)

    def synchronize(self) -> None:
        """Wait for the device's queued work (before reading a clock)."""
        if self.torch_device == "cuda":
            import torch

            torch.cuda.synchronize()
        if self.backend == "cupy":
            self.xp.cuda.Device().synchronize()


@dataclass(frozen=True)
class Start:
    """The common starting network as 2-D float64 NumPy arrays."""

    W: np.ndarray  # h x d
    b: np.ndarray  # h
    V: np.ndarray  # h x k
    c: np.ndarray  # k
    net: relu_altmin.TwoLayerNet

    @staticmethod
    def from_fit(split: Split, hidden: int, slope: float, seed: int,
                 init: np.ndarray | None = None) -> Start:
        """``fit``'s start: hidden weights from ``seed`` (or ``init``, ``h x (d + 1)``), then
        the output layer solved exactly."""
        net = relu_altmin.fit(split.X_train, split.y_train, hidden, negative_slope=slope,
                              seed=seed, init=init, max_iter=0).network
        V = np.asarray(net.V, dtype=np.float64)
        c = np.atleast_1d(np.asarray(net.c, dtype=np.float64))
        return Start(np.array(net.W, dtype=np.float64), np.array(net.b, dtype=np.float64),
                     V.reshape(V.shape[0], -1).copy(), c.copy(), net)


def as_2d(y: np.ndarray) -> np.ndarray:
    """``y`` as a matrix (a vector becomes one column)."""
    return y[:, None] if y.ndim == 1 else y


def predict(X: np.ndarray, W: np.ndarray, b: np.ndarray, V: np.ndarray, c: np.ndarray,
            slope: float) -> np.ndarray:
    """Network output ``F`` (n x k) for 2-D ``V``."""
    with np.errstate(all="ignore"):  # a diverged run's overflow is reported as "diverged"
        Z = X @ W.T + b
        return np.where(Z > 0, Z, slope * Z) @ V + c


def mse(F: np.ndarray, Y: np.ndarray) -> float:
    """``(1/n)||Y - F||_F^2``."""
    with np.errstate(all="ignore"):
        return float(np.sum((as_2d(Y) - as_2d(F)) ** 2) / Y.shape[0])


def first_index_at(trace: Trace, target: float) -> int | None:
    """Index of the first entry of ``trace`` whose loss is at most ``target`` (within a
    relative ``MATCH_RTOL``); None if never."""
    bound = target * (1.0 + MATCH_RTOL)
    return next((i for i, (_, loss) in enumerate(trace) if loss <= bound), None)


def first_time_at(trace: Trace, target: float) -> float | None:
    """First time in ``trace`` at which the loss is at most ``target`` (within a relative
    ``MATCH_RTOL``); None if never."""
    i = first_index_at(trace, target)
    return None if i is None else trace[i][0]


def thin(trace: Trace, points: int = TRACE_POINTS) -> Trace:
    """At most ``points`` entries, log-spaced in index, keeping the first and last.

    Losses keep 11 significant digits so that times to a target read from the JSON agree with
    the live run's (:func:`first_index_at` matches losses to a relative ``MATCH_RTOL``).
    """
    if len(trace) <= points:
        return [(float(f"{t:.4g}"), float(f"{v:.11g}")) for t, v in trace]
    idx = np.unique(np.concatenate([[0], np.geomspace(1, len(trace) - 1, points - 1)
                                    .astype(int), [len(trace) - 1]]))
    return [(float(f"{trace[i][0]:.4g}"), float(f"{trace[i][1]:.11g}")) for i in idx]


def finite_or_inf(value: float) -> float:
    """``value``, or inf when it is NaN or infinite (a diverged run)."""
    return value if math.isfinite(value) else math.inf
