"""``torch.optim`` peers: Adam and SGD (full batch and minibatch), L-BFGS, and the plain Adam
loops of the scale benchmarks."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ..datasets import Split
from .common import (
    BATCH,
    FULL_EPOCHS,
    MINIBATCH_EPOCHS,
    MOMENTUM,
    Device,
    Start,
    TimeUp,
    Trace,
    as_2d,
    finite_or_inf,
    mse,
    predict,
)

LBFGS_MAX_ITER, LBFGS_HISTORY = 2000, 20
#: torch L-BFGS settings: the capped run and the one run to convergence (plus a time cap).
TORCH_LBFGS: dict[str, dict[str, Any]] = {
    "torch_lbfgs": {"max_iter": LBFGS_MAX_ITER, "tolerance_grad": 1e-10,
                    "tolerance_change": 1e-14},
    "torch_lbfgs_conv": {"max_iter": 20000, "tolerance_grad": 1e-12, "tolerance_change": 1e-15},
}
#: Full training-MSE evaluations per minibatch-Adam budget (plus the start).
CHECKPOINTS = 20
TORCH_METHODS = ("torch_adam_full", "torch_adam_mb64", "torch_sgd_full", "torch_sgd_mb64")


def torch_params(start: Start, device: Device) -> list[torch.Tensor]:
    """The start's ``W, b, V, c`` as float64 leaf tensors on the torch device."""
    return [torch.tensor(a, dtype=torch.float64, device=device.torch_device, requires_grad=True)
            for a in (start.W, start.b, start.V, start.c)]


def torch_data(split: Split, device: Device) -> tuple[torch.Tensor, torch.Tensor]:
    """The training inputs and 2-D targets as tensors on the torch device."""
    return (torch.from_numpy(split.X_train).to(device.torch_device),
            torch.from_numpy(as_2d(split.y_train)).to(device.torch_device))


def torch_forward(X: torch.Tensor, params: Sequence[torch.Tensor], slope: float) -> torch.Tensor:
    """The network's output ``F`` (n x k) in torch."""
    W, b, V, c = params
    return torch.nn.functional.leaky_relu(X @ W.T + b, slope) @ V + c


def _torch_result(split: Split, params: Sequence[torch.Tensor], slope: float, seconds: float,
                  trace: Trace, info: dict[str, Any]) -> dict[str, Any]:
    with torch.no_grad():
        arrays = [p.detach().cpu().numpy() for p in params]
    if not all(np.all(np.isfinite(a)) for a in arrays):
        train = test = math.inf
    else:
        train = finite_or_inf(mse(predict(split.X_train, *arrays, slope), split.y_train))
        test = finite_or_inf(mse(predict(split.X_test, *arrays, slope), split.y_test))
    return {"train_mse": train, "test_mse": test, "seconds": seconds, "trace": trace,
            "info": info}


def run_torch(name: str, split: Split, slope: float, seed: int, start: Start,
              lr: float, device: Device) -> dict[str, Any]:
    """Adam or SGD (momentum 0.9), full batch or minibatch 64, on ``mse_loss`` (mean).

    Every recorded loss is read back with ``float``, which waits for the device."""
    X, Y = torch_data(split, device)
    n, k = Y.shape
    params = torch_params(start, device)
    if name.startswith("torch_adam"):
        optimiser = torch.optim.Adam(params, lr=lr)
    else:
        optimiser = torch.optim.SGD(params, lr=lr, momentum=MOMENTUM)
    minibatch = name.endswith("mb64")
    epochs = MINIBATCH_EPOCHS if minibatch else FULL_EPOCHS
    generator = torch.Generator().manual_seed(seed)
    trace: Trace = []
    clock = 0.0  # training time only: the per-epoch evaluation of a minibatch run is excluded
    diverged = False
    tic = time.perf_counter()
    for _ in range(epochs):
        if minibatch:
            order = torch.randperm(n, generator=generator).to(device.torch_device)
            for first in range(0, n, BATCH):
                idx = order[first:first + BATCH]
                optimiser.zero_grad()
                loss = torch.nn.functional.mse_loss(torch_forward(X[idx], params, slope), Y[idx])
                loss.backward()
                optimiser.step()
            clock += time.perf_counter() - tic
            with torch.no_grad():
                value = k * float(torch.nn.functional.mse_loss(torch_forward(X, params, slope),
                                                               Y))
            trace.append((clock, value))
            tic = time.perf_counter()
        else:
            optimiser.zero_grad()
            loss = torch.nn.functional.mse_loss(torch_forward(X, params, slope), Y)
            value = k * float(loss.detach())  # the loss at the point before this step
            trace.append((clock + time.perf_counter() - tic, value))
            loss.backward()
            optimiser.step()
        if not math.isfinite(value):
            diverged = True
            break
    device.synchronize()
    clock += time.perf_counter() - tic
    result = _torch_result(split, params, slope, clock, trace, {"epochs": epochs,
                                                                "diverged": diverged})
    if not minibatch and not diverged:
        result["trace"].append((clock, result["train_mse"]))
    return result


def run_lbfgs(split: Split, slope: float, start: Start, device: Device,
              max_iter: int = LBFGS_MAX_ITER, tolerance_grad: float = 1e-10,
              tolerance_change: float = 1e-14, time_cap: float = math.inf) -> dict[str, Any]:
    """``torch.optim.LBFGS`` (strong Wolfe, full batch) in one ``step`` of ``max_iter``.

    The closure raises ``TimeUp`` once ``time_cap`` seconds have passed; the run then ends at
    the best point it evaluated (a line-search trial may have left the parameters elsewhere).
    """
    X, Y = torch_data(split, device)
    k = Y.shape[1]
    params = torch_params(start, device)
    max_eval = int(1.25 * max_iter)
    optimiser = torch.optim.LBFGS(params, lr=1.0, max_iter=max_iter, max_eval=max_eval,
                                  tolerance_grad=tolerance_grad,
                                  tolerance_change=tolerance_change, history_size=LBFGS_HISTORY,
                                  line_search_fn="strong_wolfe")
    trace: Trace = []
    best = math.inf
    best_params = [p.detach().clone() for p in params]
    t0 = time.perf_counter()

    def closure() -> torch.Tensor:
        nonlocal best
        if time.perf_counter() - t0 > time_cap:
            raise TimeUp
        optimiser.zero_grad()
        loss = torch.nn.functional.mse_loss(torch_forward(X, params, slope), Y)
        loss.backward()
        # The best point so far: line-search trials may rise.
        value = k * float(loss.detach())
        if value < best:
            best = value
            for kept, p in zip(best_params, params, strict=True):
                kept.copy_(p.detach())
        trace.append((time.perf_counter() - t0, best))
        return loss

    try:
        optimiser.step(closure)
        stop = None
    except TimeUp:
        with torch.no_grad():
            for kept, p in zip(best_params, params, strict=True):
                p.copy_(kept)
        stop = "time cap"
    device.synchronize()
    seconds = time.perf_counter() - t0
    state = optimiser.state[optimiser._params[0]]
    iterations, evaluations = int(state.get("n_iter", 0)), int(state.get("func_evals", 0))
    if stop is None:
        stop = ("max_iter" if iterations >= max_iter else "max_eval"
                if evaluations >= max_eval else "tolerance")
    info = {"iterations": iterations, "evaluations": evaluations, "stop": stop}
    if stop == "time cap":
        info["time_cap_s"] = time_cap
    return _torch_result(split, params, slope, seconds, trace, info)


def torch_adam(net: Any, X: Any, y: Any, lr: float, slope: float, *, epochs: int | None = None,
               seconds: float = math.inf) -> tuple[float, int, float]:
    """Full-batch ``torch.optim.Adam`` (in ``X``'s dtype) on the training MSE of a leaky-ReLU
    network, from ``net`` (a ``TwoLayerNet`` with biases and 1-D ``V``), for ``epochs`` epochs or
    until ``seconds`` of wall time have passed.

    Returns (final MSE, epochs run, training seconds).
    """
    params = [torch.tensor(np.asarray(a), requires_grad=True)
              for a in (net.W, net.b, net.V, net.c)]
    W, b, V, c = params
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    optimiser = torch.optim.Adam(params, lr=lr)

    def loss() -> Any:
        return torch.mean((torch.nn.functional.leaky_relu(Xt @ W.T + b, slope) @ V + c - yt) ** 2)

    began, done = time.perf_counter(), 0
    while (epochs is None or done < epochs) and time.perf_counter() - began < seconds:
        optimiser.zero_grad()
        loss().backward()
        optimiser.step()
        done += 1
    elapsed = time.perf_counter() - began
    with torch.no_grad():
        return float(loss()), done, elapsed


def minibatch_adam(net: Any, X: np.ndarray, y: np.ndarray, lr: float, batch: int,
                   slope: float, seconds: float, *, checkpoints: int = CHECKPOINTS,
                   seed: int = 0) -> dict:
    """``torch.optim.Adam`` on batches of ``batch`` rows of a fresh permutation each epoch
    (the last batch of an epoch may be short), from ``net``, for ``seconds`` of training time;
    the full training MSE every ``seconds / checkpoints`` training seconds, off the clock."""
    params = [torch.tensor(np.asarray(a), requires_grad=True)
              for a in (net.W, net.b, net.V, net.c)]
    W, b, V, c = params
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    optimiser = torch.optim.Adam(params, lr=lr)
    generator = torch.Generator().manual_seed(seed)
    n, every = len(y), seconds / checkpoints

    def mse(Xb: Any, yb: Any) -> Any:
        return torch.mean((torch.nn.functional.leaky_relu(Xb @ W.T + b, slope) @ V + c - yb) ** 2)

    def evaluate() -> float:
        with torch.no_grad():
            return float(mse(Xt, yt))

    trace, trained, steps, rows, position, due = [[0.0, evaluate()]], 0.0, 0, 0, n, every
    lap = time.perf_counter()
    while trained < seconds:
        if position >= n:
            order, position = torch.randperm(n, generator=generator), 0
        index = order[position:position + batch]
        position += batch
        optimiser.zero_grad()
        mse(Xt[index], yt[index]).backward()
        optimiser.step()
        steps, rows = steps + 1, rows + len(index)
        now = time.perf_counter()
        trained, lap = trained + now - lap, now
        if trained >= due or trained >= seconds:
            trace.append([trained, evaluate()])
            while due <= trained:
                due += every
            lap = time.perf_counter()
    return {"trace": trace, "final_loss": trace[-1][1], "steps": steps, "rows_seen": rows,
            "epochs": rows / n, "training_seconds": trained,
            "seconds_per_step": trained / max(steps, 1)}
