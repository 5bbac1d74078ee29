"""The two-layer network, its forward pass, loss and gradients (docs/design.md §2).

Internally the hidden layer is held as ``Wt = [W, b]`` (h x d~) acting on ``Xt = [X, 1]``
(n x d~), and the outputs as a 2-D ``V`` (h x k) with ``c`` of shape (k,) or ``None``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from array_api_compat import array_namespace, device

from ._validation import (
    check_array,
    check_data,
    check_nonnegative,
    check_slope,
    common_namespace,
    untracked,
)


class TwoLayerNet:
    """A two-layer network ``f(x) = V^T sigma((W + S) x + b) + c`` with a ReLU-like sigma.

    ``sigma(z) = z`` for ``z > 0`` and ``negative_slope * z`` otherwise; ``S`` is the identity
    when ``skip=True`` (skip connection, needs as many hidden units as features) and zero
    otherwise.

    All arrays must share one namespace, device and real floating dtype. They are stored as
    given (not copied).

    Parameters
    ----------
    W : array, shape (h, d)
        Hidden weights.
    b : array, shape (h,), or None
        Hidden bias; ``None`` for a network without one.
    V : array, shape (h, k) or (h,)
        Output weights. A 1-D ``V`` makes a single-output network whose ``predict`` returns a
        1-D array.
    c : array, shape (k,) (or () for a 1-D ``V``), or None
        Output bias; ``None`` for a network without one.
    negative_slope : float, default 0.0
        Slope of the activation for negative inputs, in [0, 1); 0 is the ReLU.
    skip : bool, default False
        Add the identity to ``W`` in the pre-activations.
    """

    def __init__(
        self, W: Any, b: Any | None, V: Any, c: Any | None, *,
        negative_slope: float = 0.0, skip: bool = False,
    ) -> None:
        arrays = {"W": W, "V": V}
        if b is not None:
            arrays["b"] = b
        if c is not None:
            arrays["c"] = c
        xp = common_namespace(arrays)
        for name, a in arrays.items():
            check_array(a, name, xp, finite=True)
            if a.dtype != W.dtype:
                raise TypeError(f"{name} has dtype {a.dtype} but W has {W.dtype}; they must match")
            if device(a) != device(W):
                raise ValueError(f"{name} is on device {device(a)} but W is on {device(W)}")
        if W.ndim != 2:
            raise ValueError(f"W must be 2-D (hidden, features), got shape {tuple(W.shape)}")
        h, d = W.shape
        if h < 1 or d < 1:
            raise ValueError(f"W must have at least one row and column, got shape {tuple(W.shape)}")
        if b is not None and tuple(b.shape) != (h,):
            raise ValueError(f"b must have shape ({h},), got {tuple(b.shape)}")
        if V.ndim not in (1, 2) or V.shape[0] != h:
            raise ValueError(f"V must have shape ({h},) or ({h}, k), got {tuple(V.shape)}")
        if c is not None and tuple(c.shape) != tuple(V.shape[1:]):
            raise ValueError(f"c must have shape {tuple(V.shape[1:])} to match V, got "
                             f"{tuple(c.shape)}")
        if not isinstance(skip, bool):
            raise TypeError(f"skip must be a bool, got {type(skip).__name__}")
        if skip and h != d:
            raise ValueError(f"skip=True needs as many hidden units as features; W is {h}x{d}")
        self.W, self.b, self.V, self.c = W, b, V, c
        self.negative_slope = check_slope(negative_slope)
        self.skip = skip

    @property
    def n_hidden(self) -> int:
        """Number of hidden units ``h``."""
        return int(self.W.shape[0])

    @property
    def n_features(self) -> int:
        """Number of input features ``d``."""
        return int(self.W.shape[1])

    @property
    def n_outputs(self) -> int:
        """Number of outputs ``k`` (1 for a 1-D ``V``)."""
        return 1 if self.V.ndim == 1 else int(self.V.shape[1])

    def predict(self, X: Any, /) -> Any:
        """Evaluate the network on the rows of ``X``.

        Parameters
        ----------
        X : array, shape (n, d)
            Inputs, in the network's namespace and on its device.

        Returns
        -------
        array, shape (n, k), or (n,) when ``V`` is 1-D
        """
        xp = common_namespace({"X": X, "W": self.W})
        check_array(X, "X", xp, finite=True)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise ValueError(f"X must have shape (n, {self.n_features}), got {tuple(X.shape)}")
        if device(X) != device(self.W):
            raise ValueError(f"X is on device {device(X)} but the network is on {device(self.W)}")
        params = Params.from_network(self, xp)
        F = forward(augment(X, params.bias, xp), params, self.negative_slope, xp).F
        return F[:, 0] if self.V.ndim == 1 else F

    @staticmethod
    def _import_torch() -> Any:
        """The ``torch`` module, or an ``ImportError`` saying how to install it."""
        try:
            import torch
        except ImportError as error:
            raise ImportError("TwoLayerNet.to_torch and TwoLayerNet.from_torch need PyTorch: "
                              "pip install torch") from error
        return torch

    def to_torch(self) -> Any:
        """The network as a PyTorch module computing the same function.

        Returns ``torch.nn.Sequential(Linear(d, h), act, Linear(h, k))`` with ``act``
        ``torch.nn.ReLU()`` when ``negative_slope`` is 0, else
        ``torch.nn.LeakyReLU(negative_slope)``. A skip connection is folded into the first
        layer's weight (``W + I``); a network without ``b`` (``c``) gets a first (second) layer
        with ``bias=False``; a 1-D ``V`` gives ``Linear(h, 1)``, whose outputs have shape
        ``(n, 1)`` where :meth:`predict` returns ``(n,)``. The module's outputs equal
        :meth:`predict`'s to rounding (the sums are taken in another order).

        The parameters are copies. A network holding torch tensors gives a module on their
        device and in their dtype; any other arrays (NumPy, array-api-strict, CuPy, Dask) give
        a module on the CPU in the same dtype.

        Returns
        -------
        torch.nn.Sequential

        Raises
        ------
        ImportError
            PyTorch is not installed.

        See Also
        --------
        from_torch : the inverse.
        """
        torch = self._import_torch()
        import numpy as np
        from array_api_compat import is_cupy_array, is_dask_array

        def tensor(a: Any) -> Any:  # copied into the parameters below
            if isinstance(a, torch.Tensor):
                return a.detach()
            if is_dask_array(a):
                a = a.compute()
            if is_cupy_array(a):
                a = a.get()
            host = a if isinstance(a, (np.ndarray, np.generic)) else np.from_dlpack(a)
            # A writable copy in native byte order, which torch.from_numpy needs.
            return torch.from_numpy(np.array(host, dtype=host.dtype.newbyteorder("="),
                                             copy=True))

        W, V = tensor(self.W), tensor(self.V)
        if self.skip:
            W = W + torch.eye(self.n_hidden, dtype=W.dtype, device=W.device)
        V = V[:, None] if V.ndim == 1 else V
        h, d, k = self.n_hidden, self.n_features, int(V.shape[1])
        kwargs = {"dtype": W.dtype, "device": W.device}
        # skip_init: no random initialisation (which would draw from torch's global generator).
        first = torch.nn.utils.skip_init(torch.nn.Linear, d, h, bias=self.b is not None,
                                         **kwargs)
        second = torch.nn.utils.skip_init(torch.nn.Linear, h, k, bias=self.c is not None,
                                          **kwargs)
        with torch.no_grad():
            first.weight.copy_(W)
            second.weight.copy_(V.T)
            if self.b is not None:
                first.bias.copy_(tensor(self.b))
            if self.c is not None:
                second.bias.copy_(torch.reshape(tensor(self.c), (k,)))
        slope = self.negative_slope
        act = torch.nn.ReLU() if slope == 0 else torch.nn.LeakyReLU(slope)
        return torch.nn.Sequential(first, act, second)

    @classmethod
    def from_torch(cls, module: Any, /, *, skip: bool = False,
                   one_d: bool = False) -> TwoLayerNet:
        """The network of a PyTorch module shaped like :meth:`to_torch`'s output.

        Parameters
        ----------
        module : torch.nn.Sequential
            Exactly ``(torch.nn.Linear(d, h), act, torch.nn.Linear(h, k))`` with ``act`` a
            ``torch.nn.ReLU`` (slope 0) or a ``torch.nn.LeakyReLU`` whose ``negative_slope``
            is in [0, 1); either layer may lack a bias. Both layers' parameters must share
            one real floating dtype and one device.
        skip : bool, default False
            Return a network with a skip connection: ``W`` is the first layer's weight minus
            the identity (needs ``h == d``). It computes the module's function to rounding.
        one_d : bool, default False
            Return a 1-D ``V`` (and a 0-D ``c``), whose :meth:`predict` returns 1-D outputs;
            needs ``k == 1``.

        Returns
        -------
        TwoLayerNet
            Holding torch tensors on the module's device and in its dtype: detached copies,
            so training either afterwards leaves the other alone.

        Raises
        ------
        ImportError
            PyTorch is not installed.
        TypeError
            ``module`` is not a ``torch.nn.Sequential``, a layer has the wrong type, or the
            parameters' dtypes differ or are not real floating; ``skip`` or ``one_d`` is not a
            bool.
        ValueError
            The layers' number or sizes do not fit (or do not fit ``skip`` or ``one_d``), the
            slope is outside [0, 1), or the parameters are not finite or not on one device.
        """
        torch = cls._import_torch()
        for name, flag in (("skip", skip), ("one_d", one_d)):
            if not isinstance(flag, bool):
                raise TypeError(f"{name} must be a bool, got {type(flag).__name__}")
        nn = torch.nn
        if not isinstance(module, nn.Sequential):
            raise TypeError("module must be a torch.nn.Sequential(Linear, ReLU or LeakyReLU, "
                            f"Linear), got {type(module).__name__}")
        layers = list(module)
        if len(layers) != 3:
            raise ValueError("module must have 3 layers (Linear, ReLU or LeakyReLU, Linear), "
                             f"got {len(layers)}: "
                             f"{', '.join(type(layer).__name__ for layer in layers)}")
        first, act, second = layers
        for index, layer in ((0, first), (2, second)):
            if type(layer) is not nn.Linear:
                raise TypeError(f"layer {index} of module must be a torch.nn.Linear, got "
                                f"{type(layer).__name__}")
        if type(act) is nn.ReLU:
            slope = 0.0
        elif type(act) is nn.LeakyReLU:
            slope = float(act.negative_slope)
            if not 0.0 <= slope < 1.0:
                raise ValueError(f"layer 1 of module is a LeakyReLU with negative_slope {slope}; "
                                 "it must be in [0, 1)")
        else:
            raise TypeError("layer 1 of module must be a torch.nn.ReLU or torch.nn.LeakyReLU, "
                            f"got {type(act).__name__}")
        if second.in_features != first.out_features:
            raise ValueError(f"layer 2 of module takes {second.in_features} inputs but layer 0 "
                             f"has {first.out_features} outputs")
        if one_d and second.out_features != 1:
            raise ValueError(f"one_d=True needs a single output, but layer 2 of module has "
                             f"{second.out_features}")
        params = {"layer 0 weight": first.weight, "layer 0 bias": first.bias,
                  "layer 2 weight": second.weight, "layer 2 bias": second.bias}
        present = {name: p for name, p in params.items() if p is not None}
        for name, p in present.items():
            if not p.is_floating_point():
                raise TypeError(f"module's {name} must have a real floating dtype, got {p.dtype}")
            if p.dtype != first.weight.dtype:
                raise TypeError(f"module's {name} has dtype {p.dtype} but its layer 0 weight "
                                f"has {first.weight.dtype}; they must match")
            if p.device != first.weight.device:
                raise ValueError(f"module's {name} is on device {p.device} but its layer 0 "
                                 f"weight is on {first.weight.device}")
            if not bool(torch.isfinite(p).all()):
                raise ValueError(f"module's {name} contains NaN or inf")
        W, Vt = first.weight.detach().clone(), second.weight.detach().clone()
        b, c = (None if p is None else p.detach().clone() for p in (first.bias, second.bias))
        if skip:
            if W.shape[0] != W.shape[1]:
                raise ValueError("skip=True needs as many hidden units as features; layer 0 "
                                 f"of module is Linear({W.shape[1]}, {W.shape[0]})")
            W = W - torch.eye(W.shape[0], dtype=W.dtype, device=W.device)
        V = Vt.T.contiguous()
        if one_d:
            V = V[:, 0]
            c = None if c is None else torch.reshape(c, ())
        return cls(W, b, V, c, negative_slope=slope, skip=skip)

    def __repr__(self) -> str:
        return (f"TwoLayerNet(n_features={self.n_features}, n_hidden={self.n_hidden}, "
                f"n_outputs={self.n_outputs}, negative_slope={self.negative_slope}, "
                f"skip={self.skip}, bias={self.b is not None}, dtype={self.W.dtype})")


@dataclass(frozen=True)
class Params:
    """Packed parameters: ``Wt = [W, b]`` (h x d~), offset ``S`` (h x d~), ``V`` (h x k)."""

    Wt: Any
    S: Any | None
    V: Any
    c: Any | None
    bias: bool

    @staticmethod
    def from_network(net: TwoLayerNet, xp: Any) -> Params:
        bias = net.b is not None
        Wt = xp.concat([net.W, net.b[:, None]], axis=1) if bias else net.W  # type: ignore[index]
        V = net.V[:, None] if net.V.ndim == 1 else net.V
        c = None if net.c is None else xp.reshape(net.c, (V.shape[1],))
        S = identity_offset(net.n_hidden, bias, xp, Wt.dtype, device(Wt)) if net.skip else None
        return Params(Wt, S, V, c, bias)

    def replace(self, **changes: Any) -> Params:
        return Params(**{**self.__dict__, **changes})

    def astype(self, dtype: Any, xp: Any) -> Params:
        """A copy with every array cast to ``dtype``."""
        def cast(a: Any) -> Any:
            return None if a is None else xp.astype(untracked(a), dtype, copy=True)

        return Params(cast(self.Wt), cast(self.S), cast(self.V), cast(self.c), self.bias)


def identity_offset(h: int, bias: bool, xp: Any, dtype: Any, dev: Any) -> Any:
    """``S = [I, 0]``: the identity on the features, zero on the bias column."""
    eye = xp.eye(h, dtype=dtype, device=dev)
    return xp.concat([eye, xp.zeros((h, 1), dtype=dtype, device=dev)], axis=1) if bias else eye


def augment(X: Any, bias: bool, xp: Any) -> Any:
    """``Xt = [X, 1]`` with a bias, else ``X``."""
    if not bias:
        return X
    return xp.concat([X, xp.ones((X.shape[0], 1), dtype=X.dtype, device=device(X))], axis=1)


def activation_pattern(Z: Any, negative_slope: float, xp: Any) -> Any:
    """``D = sigma'(Z)``: 1 where ``Z > 0``, ``negative_slope`` elsewhere (a tie is inactive)."""
    a = negative_slope
    return a + (1.0 - a) * xp.astype(Z > 0, Z.dtype)


@dataclass(frozen=True)
class Forward:
    """Intermediates of one forward pass."""

    Z: Any  # pre-activations Xt (Wt + S)^T, n x h
    D: Any  # activation pattern, n x h
    H: Any  # hidden features D * Z, n x h
    F: Any  # outputs H V + c, n x k


def forward(
    Xt: Any, params: Params, negative_slope: float, xp: Any, D: Any | None = None,
) -> Forward:
    """Forward pass; a given ``D`` holds the pattern fixed (the hidden step's model)."""
    Z = pre_activations(Xt, params)
    if D is None:
        D = activation_pattern(Z, negative_slope, xp)
    H = D * Z
    F = H @ params.V
    if params.c is not None:
        F = F + params.c
    return Forward(Z, D, H, F)


def pre_activations(Xt: Any, params: Params) -> Any:
    """``Z = Xt (Wt + S)^T``."""
    return Xt @ (params.Wt if params.S is None else params.Wt + params.S).T


def sum_squares(a: Any, xp: Any) -> Any:
    """``sum a^2``, accumulated in float64 whatever the dtype of ``a`` (a loss decides)."""
    a = xp.astype(a, xp.float64, copy=False)
    return xp.sum(a * a)


def mse(F: Any, Y: Any, xp: Any) -> float:
    """Training MSE ``(1/n) ||Y - F||_F^2`` as a Python float."""
    return float(sum_squares(Y - F, xp)) / Y.shape[0]


def objective(F: Any, Y: Any, params: Params, l2: float, xp: Any) -> float:
    """The penalised loss ``L = (1/2n)||Y - F||^2 + (l2/2)(||Wt||^2 + ||V||^2)``
    (docs/design.md §2)."""
    return objective_from(mse(F, Y, xp), params, l2, xp)


def objective_from(loss: float, params: Params, l2: float, xp: Any) -> float:
    """``L`` from the training MSE ``loss``."""
    penalty = float(sum_squares(params.Wt, xp) + sum_squares(params.V, xp)) if l2 else 0.0
    return 0.5 * loss + 0.5 * l2 * penalty


@dataclass(frozen=True)
class Gradients:
    Wt: Any  # h x d~
    V: Any  # h x k
    c: Any | None  # k


def gradients(Xt: Any, Y: Any, params: Params, fw: Forward, l2: float, xp: Any) -> Gradients:
    """Gradients of ``L`` (docs/design.md §2) at the forward pass ``fw`` (its pattern ``D``
    is used)."""
    _, gWt, gV, gc, _ = error_sums(Xt, Y, params, fw)
    return scale_gradients(gWt, gV, gc, params, l2, Y.shape[0])


def error_sums(Xt: Any, Y: Any, params: Params, fw: Forward) -> tuple[Any, ...]:
    """Sums over the rows of ``fw`` (``E = F - Y``): ``||E||^2``, ``(D * E V^T)^T Xt``,
    ``H^T E``, ``E^T 1`` (``None`` without output bias) and ``||H||^2``."""
    xp = array_namespace(Xt, Y)
    E = fw.F - Y
    return (sum_squares(E, xp), hidden_sums(Xt, fw.D, E, params.V), fw.H.T @ E,
            None if params.c is None else xp.sum(E, axis=0), sum_squares(fw.H, xp))


def hidden_sums(Xt: Any, D: Any, E: Any, V: Any) -> Any:
    """``(D * E V^T)^T Xt`` (h x d~): the gradient's hidden part for the errors ``E``, and the
    Gauss-Newton product's. With one output it is ``V * D^T (E * Xt)``, which forms no n x h
    array (1.3x faster at 17 000 rows and h = 128, one thread: the passes over such arrays
    cost as much as the products)."""
    if V.shape[1] == 1:
        return V * ((E * Xt).T @ D).T
    return (D * (E @ V.T)).T @ Xt


def scale_gradients(gWt: Any, gV: Any, gc: Any | None, params: Params, l2: float,
                    n: int) -> Gradients:
    """The gradients of docs/design.md §2 from the row sums of :func:`error_sums`."""
    return Gradients(gWt / n + l2 * params.Wt, gV / n + l2 * params.V,
                     None if gc is None else gc / n)


def loss_sums(Xt: Any, Y: Any, params: Params, negative_slope: float) -> tuple[Any]:
    """One chunk's ``||F - Y||^2`` at ``params``, as :func:`error_sums` sums it (so the
    objective from it equals :class:`Evaluation`'s to the last bit): a backtracking trial
    needs only that."""
    xp = array_namespace(Xt, Y)
    return (sum_squares(forward(Xt, params, negative_slope, xp).F - Y, xp),)


def state_sums(Xt: Any, Y: Any, params: Params, negative_slope: float,
               previous: Any | None, loss_weights: Any | None = None) -> tuple[Any, ...]:
    """One chunk's :func:`error_sums` at ``params``, and the count of pattern entries that differ
    from those of the hidden weights ``previous`` (0 when ``None``); with ``loss_weights``
    (one per output, shape (k,)) also ``sum_i sum_j w_j E_ij^2`` (the squared error in raw
    units of a standardised fit, ``w = y_scale^2``)."""
    xp = array_namespace(Xt, Y)
    fw = forward(Xt, params, negative_slope, xp)
    flips = 0
    if previous is not None:
        # D differs where the sign of Z does (negative_slope < 1)
        before = pre_activations(Xt, params.replace(Wt=previous)) > 0
        flips = xp.sum(xp.astype(before != (fw.Z > 0), xp.int64))
    if loss_weights is None:
        return (*error_sums(Xt, Y, params, fw), flips)
    E = xp.astype(fw.F - Y, xp.float64, copy=False)
    weights = xp.astype(loss_weights, xp.float64, copy=False)
    return (*error_sums(Xt, Y, params, fw), flips, xp.sum((E * E) * weights))


@dataclass(frozen=True)
class Evaluation:
    """What the fit knows about a state after one pass over the rows (:func:`state_sums`)."""

    loss: float  # training MSE
    objective: float
    grad: Gradients
    h_norm: float  # ||H||
    flips: int  # pattern entries changed from the ``previous`` weights
    #: Training MSE in raw units of ``y`` when the fit is standardised (``loss`` is then that
    #: of the standardised targets), else ``None``.
    raw_loss: float | None = None

    @property
    def reported_loss(self) -> float:
        """The training MSE in the caller's units (``FitResult.loss``, the history's)."""
        return self.loss if self.raw_loss is None else self.raw_loss

    @staticmethod
    def from_sums(sums: tuple[Any, ...], params: Params, l2: float, n: int,
                  xp: Any) -> Evaluation:
        sse, gWt, gV, gc, h_sq, flips, *weighted = sums
        loss = float(sse) / n
        return Evaluation(loss, objective_from(loss, params, l2, xp),
                          scale_gradients(gWt, gV, gc, params, l2, n), math.sqrt(float(h_sq)),
                          int(flips), float(weighted[0]) / n if weighted else None)


def relative_residuals(
    Xt: Any, Y: Any, params: Params, fw: Forward, l2: float, xp: Any,
) -> dict[str, float]:
    """Gradient norms relative to the scale of the problem (docs/design.md §2), from arrays in
    memory.

    See :func:`residual_ratios`.
    """
    n = Y.shape[0]
    d = Xt.shape[1] - 1 if params.bias else Xt.shape[1]
    _, gWt, gV, gc, h_squares = error_sums(Xt, Y, params, fw)
    return residual_ratios(scale_gradients(gWt, gV, gc, params, l2, n), params, l2, n,
                           math.sqrt(float(sum_squares(Xt[:, :d], xp))),
                           math.sqrt(float(sum_squares(Y, xp))), math.sqrt(float(h_squares)), xp)


def residual_ratios(g: Gradients, params: Params, l2: float, n: int, x_norm: float,
                    y_norm: float, h_norm: float, xp: Any) -> dict[str, float]:
    """Gradient norms relative to the scale of the problem (docs/design.md §2).

    Each residual is the Frobenius norm of a gradient of docs/design.md §2 divided by the size its
    formula has when the residual ``F - Y`` is as large as ``Y``:

    - ``W``: ``||V|| ||X|| ||Y|| / n + l2 ||W||``;  ``b``: ``||V|| ||Y|| / sqrt(n) + l2 ||b||``
    - ``V``: ``||H|| ||Y|| / n + l2 ||V||``;  ``c``: ``||Y|| / sqrt(n)``

    Dimensionless: invariant to rescaling ``X`` or ``Y``. ``x_norm = ||X||`` (without the bias
    column), ``y_norm = ||Y||``, ``h_norm = ||H||``.
    """
    def norm(a: Any) -> float:
        return math.sqrt(float(sum_squares(a, xp)))

    y_scale = y_norm / n

    def ratio(grad: Any, factor: float, param: Any) -> float:
        # The constant keeps 0/0 (a dead unit with zero weights, say) at 0.
        return norm(grad) / (factor * y_scale + l2 * norm(param) + 1e-300)

    d = params.Wt.shape[1] - 1 if params.bias else params.Wt.shape[1]
    vnorm = norm(params.V)
    out = {"W": ratio(g.Wt[:, :d], vnorm * x_norm, params.Wt[:, :d])}
    if params.bias:
        out["b"] = ratio(g.Wt[:, d], vnorm * math.sqrt(n), params.Wt[:, d])
    out["V"] = ratio(g.V, h_norm, params.V)
    if g.c is not None:
        out["c"] = ratio(g.c, math.sqrt(n), params.c)
    return out


def critical_point_residuals(network: TwoLayerNet, X: Any, y: Any, /, *, l2: float = 0.0,
                             nonsmooth: bool = False) -> dict[str, float]:
    """Relative gradient norms of the loss at ``network``, one per parameter.

    Parameters
    ----------
    network : TwoLayerNet
    X : array, shape (n, d)
    y : array, shape (n,) or (n, k)
        Targets, shaped like the network's outputs.
    l2 : float, default 0.0
        The ridge ``lambda`` of the loss; pass ``FitResult.l2`` to check a fit.
    nonsmooth : bool, default False
        Certify nonsmooth (Clarke) stationarity of the hidden layer: ``W`` and ``b`` are then
        the residuals of the hidden gradient of least norm over the slopes in ``[a, 1]`` of the
        tied pre-activations (``V`` and ``c`` are unchanged). Entry ``z_ij`` counts as tied
        when ``|z_ij| <= (d~ + 1) eps (|x~_i| . |w~_j + s_j|)``, the rounding error of computing
        it (``d~`` features with the bias, ``eps`` of the coarser of ``X``'s and the network's
        dtypes). Equal to the ordinary residuals where nothing is tied; near machine epsilon at
        a kink that no small change of ``W`` and ``b`` improves (see
        :mod:`relu_altmin._certificate`).

    Returns
    -------
    dict
        Keys ``"W"``, ``"V"`` and, where the network has them, ``"b"`` and ``"c"``: the
        Frobenius norm of each gradient of ``L = (1/2n)||Y - F||^2 + (l2/2)(||W||^2 + ||b||^2 +
        ||V||^2)`` divided by its size when ``F - Y`` is as large as ``Y``: for ``W``,
        ``||V|| ||X|| ||Y|| / n + l2 ||W||`` (the others in :func:`relative_residuals`).
        Near machine epsilon at a well-conditioned critical point; computed in float64.
    """
    common_namespace({"network.W": network.W, "X": X, "y": y})
    xp, X64, Y64 = check_data(X, y)
    l2 = check_nonnegative(l2, "l2")
    if not isinstance(nonsmooth, bool):
        raise TypeError(f"nonsmooth must be a bool, got {type(nonsmooth).__name__}")
    if X64.shape[1] != network.n_features:
        raise ValueError(f"X must have {network.n_features} columns, got {X64.shape[1]}")
    if Y64.shape[1] != network.n_outputs:
        raise ValueError(f"y must have {network.n_outputs} outputs, got {Y64.shape[1]}")
    params = Params.from_network(network, xp).astype(xp.float64, xp)
    Xt = augment(X64, params.bias, xp)
    if nonsmooth:
        from ._certificate import nonsmooth_ratios

        eps = max(float(xp.finfo(network.W.dtype).eps), float(xp.finfo(X.dtype).eps))
        return nonsmooth_ratios(Xt, Y64, params, network.negative_slope, l2, xp, eps=eps)
    fw = forward(Xt, params, network.negative_slope, xp)
    return relative_residuals(Xt, Y64, params, fw, l2, xp)
