"""Standardisation inside :func:`relu_altmin.fit` (glmnet's convention; ``docs/method.md``,
"Standardisation").

The fit runs in the coordinates ``x_s = (x - x_shift) / x_scale`` and
``y_s = (y - y_shift) / y_scale``, mapped chunk by chunk inside the passes over the rows
(:meth:`relu_altmin._rows.Rows.standardized`), and the maps are folded into the returned
network, which takes raw inputs and returns raw outputs:

- ``W = W_s / x_scale`` (column-wise), ``b = b_s - W x_shift``;
- with a skip connection ``W + I = (W_s + I) / x_scale``, ``b = b_s - (W + I) x_shift``;
- ``V = V_s y_scale``, ``c = c_s y_scale + y_shift`` (per output).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from array_api_compat import array_namespace, device

from ._model import Params, TwoLayerNet
from ._rows import Moments, Stats

#: A centred column whose standard deviation is at most this times its mean's magnitude
#: counts as constant (the spread a constant column's computed mean leaves is rounding,
#: ``~eps |mean|``) and is left unscaled (scale 1); so is a column of zeros.
CONSTANT_RTOL = 1e-10


@dataclass(frozen=True)
class Standardization:
    """The affine maps of a fit with ``standardize=True`` (``FitResult.standardization``).

    The fit ran on ``x_s = (x - x_shift) / x_scale`` and ``y_s = (y - y_shift) / y_scale``
    and returned the network folded back to raw units. With a bias (the default) the shifts
    are the training rows' column means and the scales their standard deviations (``1/n``,
    NumPy's and glmnet's); constant columns keep scale 1. ``bias=False``: no shifts (the
    network has no bias to absorb them) and the scales are the root mean squares.
    ``train_output=False``: ``y`` is not mapped (shift 0, scale 1), as the known output
    layer is in raw units.

    Attributes
    ----------
    x_shift, x_scale : array, shape (d,)
    y_shift, y_scale : array, shape (k,)
        float64, in the caller's namespace and on its device.
    """

    x_shift: Any
    x_scale: Any
    y_shift: Any
    y_scale: Any

    @staticmethod
    def from_stats(stats: Stats, bias: bool, map_targets: bool) -> Standardization:
        """The maps from one pass's column :class:`~relu_altmin._rows.Moments`."""
        assert stats.x_moments is not None and stats.y_moments is not None
        x_shift, x_scale = _column_map(stats.x_moments, bias)
        if map_targets:
            y_shift, y_scale = _column_map(stats.y_moments, bias)
        else:
            xp = array_namespace(stats.y_moments.mean)
            y_shift = xp.zeros_like(stats.y_moments.mean)
            y_scale = xp.ones_like(stats.y_moments.mean)
        return Standardization(x_shift, x_scale, y_shift, y_scale)

    def augmented(self, bias: bool) -> tuple[Any, Any, Any, Any]:
        """The maps of the rows ``Xt = [X, 1]`` (shift 0 and scale 1 on the bias column)."""
        if not bias:
            return self.x_shift, self.x_scale, self.y_shift, self.y_scale
        xp = array_namespace(self.x_shift)
        zero = xp.zeros(1, dtype=self.x_shift.dtype, device=device(self.x_shift))
        return (xp.concat([self.x_shift, zero]), xp.concat([self.x_scale, zero + 1.0]),
                self.y_shift, self.y_scale)

    def map(self, f: Any) -> Standardization:
        """The same maps with every array passed through ``f``."""
        return Standardization(f(self.x_shift), f(self.x_scale), f(self.y_shift),
                               f(self.y_scale))

    # -- public helpers -------------------------------------------------------------------

    def inputs(self, X: Any) -> Any:
        """``(X - x_shift) / x_scale``: raw inputs in the fit's coordinates (float64)."""
        return (X - self.x_shift) / self.x_scale

    def targets(self, y: Any) -> Any:
        """``(y - y_shift) / y_scale`` (``y`` of shape (n,) or (n, k)), float64."""
        xp = array_namespace(y)
        if y.ndim == 1:
            return (y - self.y_shift[0]) / self.y_scale[0]
        return (y - xp.reshape(self.y_shift, (1, -1))) / self.y_scale

    def standardized_network(self, network: TwoLayerNet) -> TwoLayerNet:
        """A network of raw units (``FitResult.network``) in the fit's coordinates: it takes
        :meth:`inputs` and returns :meth:`targets`' units. With
        ``critical_point_residuals(s.standardized_network(net), s.inputs(X), s.targets(y),
        l2=result.l2)`` this certifies the fit's own problem, to the rounding of the round
        trip through raw units: the weights move by rounding, and a relative residual
        whose denominator vanishes (a dead unit with ``V = 0`` and ``W = 0``) can jump."""
        return self._convert(network, to_raw=False)

    def raw_network(self, network: TwoLayerNet) -> TwoLayerNet:
        """The inverse of :meth:`standardized_network`."""
        return self._convert(network, to_raw=True)

    def _convert(self, network: TwoLayerNet, to_raw: bool) -> TwoLayerNet:
        xp = array_namespace(network.W)
        params = Params.from_network(network, xp).astype(xp.float64, xp)
        maps = self.map(lambda a: xp.asarray(a, device=device(network.W)))
        params = maps.to_raw(params) if to_raw else maps.to_standardized(params)
        dtype, d = network.W.dtype, network.n_features

        def cast(a: Any) -> Any:
            return xp.astype(a, dtype, copy=True)

        V, c = params.V, params.c
        if network.V.ndim == 1:
            V, c = V[:, 0], (None if c is None else c[0])
        return TwoLayerNet(cast(params.Wt[:, :d]), cast(params.Wt[:, d]) if params.bias
                           else None, cast(V), None if c is None else cast(c),
                           negative_slope=network.negative_slope, skip=network.skip)

    # -- the folds on float64 parameters --------------------------------------------------

    def to_raw(self, params: Params) -> Params:
        """Parameters of the fit's coordinates folded into raw units."""
        Wt, V, c = self.hidden_to_raw(params.Wt, params.S, params.bias), params.V, params.c
        if V is not None:
            V = V * self.y_scale
        if c is not None:
            c = c * self.y_scale + self.y_shift
        return params.replace(Wt=Wt, V=V, c=c)

    def to_standardized(self, params: Params) -> Params:
        """Raw parameters in the fit's coordinates (the inverse of :meth:`to_raw`)."""
        Wt, V, c = self.hidden_to_standardized(params.Wt, params.S, params.bias), \
            params.V, params.c
        if V is not None:
            V = V / self.y_scale
        if c is not None:
            c = (c - self.y_shift) / self.y_scale
        return params.replace(Wt=Wt, V=V, c=c)

    def hidden_to_raw(self, Wt: Any, S: Any | None, bias: bool) -> Any:
        """``[W, b]`` of the fit's coordinates in raw units (``S`` the skip offset or None)."""
        xp = array_namespace(Wt)
        d = self.x_scale.shape[0]
        A = (Wt[:, :d] if S is None else Wt[:, :d] + S[:, :d]) / self.x_scale
        W = A if S is None else A - S[:, :d]
        if not bias:
            return W
        return xp.concat([W, (Wt[:, d] - A @ self.x_shift)[:, None]], axis=1)

    def hidden_to_standardized(self, Wt: Any, S: Any | None, bias: bool) -> Any:
        """Raw ``[W, b]`` in the fit's coordinates."""
        xp = array_namespace(Wt)
        d = self.x_scale.shape[0]
        A = Wt[:, :d] if S is None else Wt[:, :d] + S[:, :d]
        W = A * self.x_scale if S is None else A * self.x_scale - S[:, :d]
        if not bias:
            return W
        return xp.concat([W, (Wt[:, d] + A @ self.x_shift)[:, None]], axis=1)


def _column_map(moments: Moments, centre: bool) -> tuple[Any, Any]:
    """Shift and scale of each column: mean and standard deviation (``centre``), else 0 and
    the root mean square; a constant column (``CONSTANT_RTOL``) gets scale 1.

    A column already standardised keeps its values: a mean within ``4 n eps`` of the root
    mean square of ``n`` rows is taken as 0, and a spread within ``4 n eps`` of a power of
    two as that power (dividing by it is exact, and scaling a column by a power of two
    scales its map exactly). ``4 n eps`` bounds the rounding that a map ``(x - m) / s`` from
    computed moments leaves in the moments of its result (``gamma_n`` in ``m`` and ``s``,
    ``gamma_2`` in the map, ``gamma_n`` in the new moments) when the column's mean is within
    ``sqrt(3)`` of its spread. Mapping such a column again would only round it: data
    standardised before the fit run exactly the fit of the same data given raw
    (``docs/method.md``, "Standardisation")."""
    xp = array_namespace(moments.mean)
    mean = moments.mean
    variance = moments.m2 / moments.count
    rounding = 4 * moments.count * float(xp.finfo(mean.dtype).eps)
    zero, one = xp.zeros_like(mean), xp.ones_like(mean)
    root_mean_square = xp.hypot(xp.sqrt(variance), mean)  # no overflow of mean^2
    if centre:
        centred = xp.abs(mean) <= rounding * root_mean_square
        shift, spread = xp.where(centred, zero, mean), xp.sqrt(variance)
    else:
        shift, spread = zero, root_mean_square
    constant = spread <= CONSTANT_RTOL * xp.abs(mean)
    spread = xp.where(constant, one, spread)
    power = xp.pow(2.0 * one, xp.round(xp.log2(xp.where(xp.isfinite(spread), spread, one))))
    spread = xp.where(xp.abs(spread - power) <= rounding * power, power, spread)
    return shift, spread
