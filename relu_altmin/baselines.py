"""Gradient baselines on the same model, loss and start as :func:`relu_altmin.fit`.

Full-batch gradient descent, heavy ball, Nesterov (constant momentum or the ``(t-1)/(t+2)``
schedule), minibatch SGD, Adam, and gradient descent with one step size per layer, written once
against the array API with the analytic gradients of docs/design.md §2. The update rules follow
``torch.optim`` exactly (see :func:`train`), so a run can be checked step by step against
PyTorch.

Usage::

    from relu_altmin import baselines

    result = baselines.train(X, y, 16, method="adam", lr=1e-2, epochs=500, seed=0)
"""

from __future__ import annotations

import math
import numbers
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any, cast

import numpy as np
from array_api_compat import device

from ._fit import (
    FitInterrupted,
    FitResult,
    IterationRecord,
    _network,
    _print_progress,
    _start,
    fit,
    make_record,
)
from ._model import (
    Params,
    TwoLayerNet,
    augment,
    forward,
    gradients,
    identity_offset,
    mse,
    objective,
    relative_residuals,
)
from ._options import ModelOptions
from ._validation import check_choice, check_data, check_int

#: The methods :func:`train` knows.
METHODS = ("gd", "heavy_ball", "nesterov", "nesterov_schedule", "sgd", "adam", "two_step")

# Which methods read each optional setting; anything else set away from its default is an error.
_USES = {
    "batch_size": ("sgd", "adam"),
    "momentum": ("heavy_ball", "nesterov", "sgd"),
    "nesterov": ("sgd",),
    "betas": ("adam",),
    "eps": ("adam",),
    "lr_hidden": ("two_step",),
    "lr_output": ("two_step",),
}


def train(
    X: Any, y: Any, hidden: int, *,
    method: str,
    lr: float,
    epochs: int,
    batch_size: int | None = None,
    momentum: float = 0.0,
    nesterov: bool = False,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    lr_hidden: float | None = None,
    lr_output: float | None = None,
    negative_slope: float = 0.0,
    l2: float = 0.0,
    bias: bool = True,
    init: TwoLayerNet | Any | None = None,
    seed: int | np.random.Generator | None = None,
    train_output: bool = True,
    output_weights: Any | None = None,
    skip: bool = False,
    callback: Callable[[IterationRecord, TwoLayerNet], Any] | None = None,
    progress: bool = False,
) -> FitResult:
    """Train a two-layer network on the square loss by a first-order gradient method.

    The loss is that of :func:`relu_altmin.fit`, ``L = (1/2n)||Y - F||^2 + (l2/2)(||W||^2 +
    ||b||^2 + ||V||^2)`` (the output bias ``c`` is not penalised), and its gradients are the
    analytic ones of docs/design.md §2. A minibatch step uses the same ``L`` on the batch (``n`` the
    batch size). By default every method starts where ``fit`` starts.

    Parameters
    ----------
    X : array, shape (n, d)
        Inputs: NumPy, CuPy, PyTorch or any array-API array; training runs where they live.
    y : array, shape (n,) or (n, k)
        Targets, same namespace and device as ``X``.
    hidden : int
        Number of hidden units ``h >= 1``.
    method : {"gd", "heavy_ball", "nesterov", "nesterov_schedule", "sgd", "adam", "two_step"}
        The update rule, with ``g`` the gradient, ``p`` a parameter and ``t = 1, 2, ...`` the
        step:

        - ``"gd"``: ``p -= lr g``; ``torch.optim.SGD(lr=lr)``.
        - ``"heavy_ball"`` (Polyak): ``b = momentum b + g`` (``b = g`` on the first step),
          ``p -= lr b``; ``torch.optim.SGD(lr=lr, momentum=momentum)``. Unrolled,
          ``p_{t+1} = p_t - lr g_t + momentum (p_t - p_{t-1})``: Polyak's heavy ball with step
          ``lr`` and momentum ``momentum``.
        - ``"nesterov"``: as ``"heavy_ball"`` but ``p -= lr (g + momentum b)``;
          ``torch.optim.SGD(lr=lr, momentum=momentum, nesterov=True)``.
        - ``"nesterov_schedule"``: Nesterov's method with the momentum schedule
          ``(t-1)/(t+2)`` (Su, Boyd and Candès' form): ``x_t = y_{t-1} - lr g(y_{t-1})``,
          ``y_t = x_t + (t-1)/(t+2) (x_t - x_{t-1})``, ``y_0 = x_0`` the start. Gradients are
          taken at ``y``; the history and the returned network are the ``x`` iterates.
        - ``"sgd"``: minibatch SGD, ``torch.optim.SGD(lr=lr, momentum=momentum,
          nesterov=nesterov)``, one step per batch.
        - ``"adam"``: ``torch.optim.Adam(lr=lr, betas=betas, eps=eps)``: ``m = b1 m + (1 - b1)
          g``, ``v = b2 v + (1 - b2) g^2`` (both start at 0), ``p -= lr m_hat / (sqrt(v_hat) +
          eps)`` with ``m_hat = m / (1 - b1^t)``, ``v_hat = v / (1 - b2^t)``. Full batch
          unless ``batch_size`` is given.
        - ``"two_step"``: gradient descent with step ``lr_hidden`` on ``W`` and ``b`` and
          ``lr_output`` on ``V`` and ``c``.

    lr : float
        Learning rate, finite and > 0 (for ``"two_step"``, the default of both layers' rates).
    epochs : int
        Passes over the data, ``>= 0``: one step each for the full-batch methods,
        ``ceil(n / batch_size)`` steps for a minibatch method.
    batch_size : int or None, default None
        Minibatch size for ``"sgd"`` and ``"adam"``. Each epoch draws a permutation of the
        samples with ``numpy.random.Generator.permutation`` (from ``seed``) and steps through
        it in batches of ``batch_size``, the last one smaller when ``batch_size`` does not
        divide ``n`` (``torch``'s ``DataLoader(shuffle=True)``). ``None``, or ``batch_size >=
        n``, is full batch, in order, with no shuffling.
    momentum : float, default 0.0
        Momentum in [0, 1) for ``"heavy_ball"``, ``"nesterov"`` and ``"sgd"`` (0 is ``"gd"``).
    nesterov : bool, default False
        Nesterov momentum for ``"sgd"`` (as ``torch.optim.SGD``).
    betas : (float, float), default (0.9, 0.999)
        Adam's decay rates, each in [0, 1).
    eps : float, default 1e-8
        Adam's denominator offset, finite and > 0 (unlike ``torch``, 0 is refused: a unit
        with an exactly zero gradient would step by 0/0).
    lr_hidden, lr_output : float or None, default None
        The two step sizes of ``"two_step"``; ``None`` is ``lr``.
    negative_slope : float, default 0.0
        Activation slope for negative inputs, in [0, 1); 0 is the ReLU.
    l2 : float, default 0.0
        Ridge ``lambda`` on ``W``, ``b`` and ``V`` in the loss (a term of the loss, not
        ``torch``'s ``weight_decay``; for SGD the two agree).
    bias : bool, default True
        Hidden bias ``b`` and output bias ``c``; ``False`` drops both.
    init : TwoLayerNet or array, optional
        Start from this network (all of ``W``, ``b``, ``V``, ``c``; a missing bias starts at
        0), or from these hidden weights, shape (h, d), or (h, d + 1) with the bias as last
        column, with the output layer of ``fit``'s start. Default: ``fit``'s start for
        ``seed`` on the data as given (the baselines do not standardise), i.e.
        ``fit(X, y, hidden, ..., max_iter=0, standardize=False).network``: random ``[W, b]``,
        then the exact least-squares (ridge ``l2``) output layer. On standardised data it is
        the default ``fit``'s start up to rounding; pass ``init=fit(..., max_iter=0).network``
        to start from exactly that.
    seed : int, numpy.random.Generator or None
        Seeds the default initialisation (the same as ``fit(seed=seed)``) and then the
        minibatch permutations. A Generator passed here is advanced.
    train_output : bool, default True
        ``False`` keeps the output layer fixed and trains only ``W`` and ``b``: at
        ``output_weights`` with output bias 0, or at ``init.V`` and ``init.c`` (as ``fit``).
    output_weights : array, shape (h, k) or (h,), optional
        The known output layer for ``train_output=False`` (default: ``init.V``).
    skip : bool, default False
        Pre-activations ``(W + I) x + b``: a skip connection. Needs ``hidden == d``.
    callback : callable, optional
        Called as ``callback(record, network)`` after every epoch; a truthy return stops
        training with ``stop_reason="callback"``.
    progress : bool, default False
        Print one line per epoch to stderr.

    Returns
    -------
    FitResult
        ``history`` holds one :class:`~relu_altmin.IterationRecord` per epoch, starting with
        the start as iteration 0: ``loss`` the training MSE and ``objective`` the loss ``L``
        on the whole data after the epoch, ``step`` the learning rate (``lr_hidden`` for
        ``"two_step"``; 0 for iteration 0), ``pattern_flips`` the entries of the ``n x h``
        activation pattern that changed during the epoch, ``grad_norm_W`` and ``grad_norm_V``
        the relative gradient norms of :func:`~relu_altmin.critical_point_residuals`.
        ``stop_reason`` is ``"max_iter"`` (all ``epochs`` ran), ``"callback"``,
        ``"diverged"`` (the loss or a parameter became NaN or inf, or a parameter too large
        for the inputs' dtype; the history and the network end at the epoch before) or
        ``"interrupted"`` (a ``KeyboardInterrupt``, Ctrl-C, during the epochs: as for
        :func:`relu_altmin.fit`, a :class:`~relu_altmin.FitInterrupted` warning, and the
        history and the network end at the last completed epoch).
        ``converged`` is always False: these methods run a fixed number of epochs.

    Notes
    -----
    Like ``fit``, the computation is in float64 whatever the inputs' dtype, and the trained
    network is cast back to it: the baselines then differ from ``fit`` only in the method.
    Every array stays in the inputs' namespace and on their device; nothing passed in is
    modified.
    """
    start_time = time.perf_counter()
    xp, X64, Y = check_data(X, y)
    out_dtype = xp.result_type(X.dtype, y.dtype)
    options = ModelOptions(
        hidden=hidden, negative_slope=negative_slope, l2=l2, bias=bias, seed=seed, init=init,
        train_output=train_output, output_weights=output_weights, skip=skip, callback=callback,
        progress=progress)
    check_choice(method, "method", METHODS)
    lr = _check_positive(lr, "lr")
    epochs = check_int(epochs, "epochs", 0)
    settings = _check_settings(method, batch_size, momentum, nesterov, betas, eps, lr_hidden,
                               lr_output)
    n, d = X64.shape
    options.check_features(d)
    slope, lam = options.negative_slope, cast(float, options.l2)  # l2: a float, checked

    rng = options.generator()
    params = _start_params(X, X64, Y, y.ndim, xp, options, rng)
    Xt = augment(X64, options.bias, xp)
    fw = forward(Xt, params, slope, xp)
    obj = objective(fw.F, Y, params, lam, xp)
    trainable = ("Wt", "V", "c") if options.train_output and options.bias \
        else ("Wt", "V") if options.train_output else ("Wt",)
    optimizer = _make_optimizer(method, settings, lr,
                                {name: getattr(params, name) for name in trainable}, xp)
    batch = settings["batch_size"]
    batch = None if batch is None or batch >= n else batch
    step_size = settings["lr_hidden"] or lr

    def record(iteration: int, step: float, flips: int) -> IterationRecord:
        return make_record(relative_residuals(Xt, Y, params, fw, lam, xp), mse(fw.F, Y, xp), obj,
                           options.train_output, iteration=iteration,
                           seconds=time.perf_counter() - start_time, step=step, flips=flips)

    history = [record(0, 0.0, 0)]
    if options.progress:
        _print_progress(history[0], header=True)
    stop_reason = "max_iter"
    dev = device(X64)
    # Parameters beyond this would not survive the cast back to the caller's dtype.
    limit = float(xp.finfo(out_dtype).max)
    # The last recorded state and the length of the history that ends with its record: what a
    # KeyboardInterrupt returns (replaced in one assignment once the record is appended).
    kept = (params, fw, obj, len(history))
    # A diverging run overflows on the way to inf; that is detected below, not warned about.
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            for epoch in range(1, epochs + 1):
                # One transfer of the epoch's permutation; batches are slices of it on the
                # device.
                order = None if batch is None else xp.asarray(rng.permutation(n), device=dev)
                for first in range(0, n, batch or n):
                    if order is None:
                        Xb, Yb = Xt, Y
                    else:
                        # batch is an int here (order is set); the slice stays in bounds:
                        # array API
                        idx = order[first:min(first + batch, n)]  # type: ignore[operator]
                        Xb, Yb = xp.take(Xt, idx, axis=0), xp.take(Y, idx, axis=0)
                    at = params.replace(**optimizer.point())
                    g = gradients(Xb, Yb, at, forward(Xb, at, slope, xp), lam, xp)
                    optimizer.step({name: getattr(g, name) for name in trainable})
                trial = params.replace(**optimizer.iterate())
                fw_new = forward(Xt, trial, slope, xp)
                obj_new = objective(fw_new.F, Y, trial, lam, xp)
                if not (math.isfinite(obj_new) and _within(optimizer.iterate(), limit, xp)):
                    stop_reason = "diverged"
                    break
                flips = int(xp.sum(xp.astype(fw_new.D != fw.D, xp.int64)))
                params, fw, obj = trial, fw_new, obj_new
                history.append(record(epoch, step_size, flips))
                kept = (params, fw, obj, len(history))
                if options.progress:
                    _print_progress(history[-1])
                if options.callback is not None and options.callback(history[-1], _network(
                        params, d, slope, options.skip, out_dtype, y.ndim, xp)):
                    stop_reason = "callback"
                    break
        except KeyboardInterrupt:
            params, fw, obj, recorded = kept
            del history[recorded:]
            stop_reason = "interrupted"
        residuals = relative_residuals(Xt, Y, params, fw, lam, xp)
    if options.progress:
        print(f"stopped: {stop_reason} after {len(history) - 1} epochs; "
              f"loss {history[-1].loss:.6e}", file=sys.stderr)
    if stop_reason == "interrupted":
        warnings.warn(f"train interrupted (KeyboardInterrupt) after {len(history) - 1} epochs; "
                      "returning the network trained so far", FitInterrupted, stacklevel=2)
    return FitResult(
        network=_network(params, d, slope, options.skip, out_dtype, y.ndim, xp),
        loss=history[-1].loss, history=tuple(history), converged=False,
        stop_reason=stop_reason, l2=lam, residuals=residuals)


def _check_positive(value: Any, name: str) -> float:
    """A finite real number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive real number, got {type(value).__name__}")
    if not 0.0 < float(value) < float("inf"):
        raise ValueError(f"{name} must be finite and > 0, got {value}")
    return float(value)


def _check_unit_interval(value: Any, name: str) -> float:
    """A real number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number in [0, 1), got {type(value).__name__}")
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return float(value)


def _check_settings(method: str, batch_size: Any, momentum: Any, nesterov: Any, betas: Any,
                    eps: Any, lr_hidden: Any, lr_output: Any) -> dict[str, Any]:
    """Validate the method's own settings; refuse one that ``method`` would silently ignore."""
    settings: dict[str, Any] = {
        "batch_size": None if batch_size is None else check_int(batch_size, "batch_size", 1),
        "momentum": _check_unit_interval(momentum, "momentum"),
        "eps": _check_positive(eps, "eps"),
        "lr_hidden": None if lr_hidden is None else _check_positive(lr_hidden, "lr_hidden"),
        "lr_output": None if lr_output is None else _check_positive(lr_output, "lr_output"),
    }
    if not isinstance(nesterov, bool):
        raise TypeError(f"nesterov must be a bool, got {type(nesterov).__name__}")
    settings["nesterov"] = nesterov
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise TypeError(f"betas must be a pair of real numbers, got {betas!r}")
    settings["betas"] = (_check_unit_interval(betas[0], "betas[0]"),
                         _check_unit_interval(betas[1], "betas[1]"))
    defaults = {"batch_size": None, "momentum": 0.0, "nesterov": False, "betas": (0.9, 0.999),
                "eps": 1e-8, "lr_hidden": None, "lr_output": None}
    for name, users in _USES.items():
        if method not in users and settings[name] != defaults[name]:
            allowed = " or ".join(repr(m) for m in users)
            raise ValueError(f"{name} is only used with method {allowed}, not {method!r}")
    return settings


def _start_params(
    X: Any, X64: Any, Y: Any, y_ndim: int, xp: Any, options: ModelOptions,
    rng: np.random.Generator,
) -> Params:
    """The float64 starting parameters: ``options.init`` whole, or ``fit``'s start."""
    d, k = X64.shape[1], Y.shape[1]
    hidden, bias, skip = options.hidden, options.bias, options.skip
    if isinstance(options.init, TwoLayerNet):
        # Every layer from ``init``; with ``train_output=False`` this is ``fit``'s own start.
        Wt, V, c = _start(X, xp, options.init, hidden, d, k, bias, skip, rng, False,
                          None if options.train_output else options.output_weights, y_ndim == 1)
        S = identity_offset(hidden, bias, xp, xp.float64, device(X64)) if skip else None
        return Params(Wt, S, V, c, bias)
    start = fit(X64, Y[:, 0] if y_ndim == 1 else Y, hidden,
                negative_slope=options.negative_slope, l2=options.l2, bias=bias, max_iter=0,
                seed=rng, init=options.init, train_output=options.train_output,
                output_weights=options.output_weights, skip=skip, standardize=False)
    return Params.from_network(start.network, xp)  # float64: fit was given float64 data


def _within(arrays: dict[str, Any], limit: float, xp: Any) -> bool:
    """Every entry finite and below ``limit`` in magnitude (NaN fails the comparison)."""
    return all(bool(xp.all(xp.abs(a) < limit)) for a in arrays.values())


class _Optimizer:
    """A first-order method on named float64 arrays, stepping functionally (no array is written).

    ``point()`` is where the next gradient is taken, ``iterate()`` the current estimate; they
    differ only for ``nesterov_schedule``.
    """

    def __init__(self, params: dict[str, Any]) -> None:
        self.params = dict(params)

    def point(self) -> dict[str, Any]:
        return self.params

    def iterate(self) -> dict[str, Any]:
        return self.params

    def step(self, grads: dict[str, Any]) -> None:
        raise NotImplementedError


class _SGD(_Optimizer):
    """``torch.optim.SGD`` without dampening or weight decay, with a step size per parameter."""

    def __init__(self, params: dict[str, Any], lr: dict[str, float], momentum: float,
                 nesterov: bool) -> None:
        super().__init__(params)
        self.lr, self.momentum, self.nesterov = lr, momentum, nesterov
        self.buffers: dict[str, Any] = {}

    def step(self, grads: dict[str, Any]) -> None:
        mu = self.momentum
        for name, g in grads.items():
            if mu:
                b = g if name not in self.buffers else mu * self.buffers[name] + g
                self.buffers[name] = b
                g = g + mu * b if self.nesterov else b
            self.params[name] = self.params[name] - self.lr[name] * g


class _NesterovSchedule(_Optimizer):
    """``x_t = y_{t-1} - lr g(y_{t-1})``, ``y_t = x_t + (t-1)/(t+2) (x_t - x_{t-1})``."""

    def __init__(self, params: dict[str, Any], lr: float) -> None:
        super().__init__(params)
        self.lr = lr
        self.y = dict(params)
        self.t = 0

    def point(self) -> dict[str, Any]:
        return self.y

    def step(self, grads: dict[str, Any]) -> None:
        self.t += 1
        beta = (self.t - 1) / (self.t + 2)
        for name, g in grads.items():
            x = self.y[name] - self.lr * g
            self.y[name] = x + beta * (x - self.params[name])
            self.params[name] = x


class _Adam(_Optimizer):
    """``torch.optim.Adam`` (no weight decay, no amsgrad), with its bias correction."""

    def __init__(self, params: dict[str, Any], lr: float, betas: tuple[float, float],
                 eps: float, xp: Any) -> None:
        super().__init__(params)
        self.lr, self.betas, self.eps, self.xp = lr, betas, eps, xp
        self.m: dict[str, Any] = {}
        self.v: dict[str, Any] = {}
        self.t = 0

    def step(self, grads: dict[str, Any]) -> None:
        self.t += 1
        b1, b2 = self.betas
        step_size = self.lr / (1.0 - b1**self.t)
        root_correction = math.sqrt(1.0 - b2**self.t)
        for name, g in grads.items():
            m = (1.0 - b1) * g if name not in self.m else b1 * self.m[name] + (1.0 - b1) * g
            v = (1.0 - b2) * (g * g) if name not in self.v \
                else b2 * self.v[name] + (1.0 - b2) * (g * g)
            self.m[name], self.v[name] = m, v
            denom = self.xp.sqrt(v) / root_correction + self.eps
            self.params[name] = self.params[name] - step_size * (m / denom)


def _make_optimizer(method: str, settings: dict[str, Any], lr: float, params: dict[str, Any],
                    xp: Any) -> _Optimizer:
    if method == "nesterov_schedule":
        return _NesterovSchedule(params, lr)
    if method == "adam":
        return _Adam(params, lr, settings["betas"], settings["eps"], xp)
    if method == "two_step":
        hidden_lr = settings["lr_hidden"] or lr
        output_lr = settings["lr_output"] or lr
        rates = {name: hidden_lr if name == "Wt" else output_lr for name in params}
        return _SGD(params, rates, 0.0, False)
    momentum = 0.0 if method == "gd" else settings["momentum"]
    nesterov = method == "nesterov" or settings["nesterov"]
    return _SGD(params, dict.fromkeys(params, lr), momentum, nesterov)
