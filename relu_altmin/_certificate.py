"""A nonsmooth (Clarke) stationarity certificate for the hidden layer (``docs/method.md``,
"Kinks").

Where a pre-activation ``z_ij`` is 0 the loss has a kink, and the gradient with the tie
convention (slope ``a`` on a tie) need not vanish at a point that no small step improves. On a
tie the slope ``s_ij`` of unit ``j`` at row ``i`` may be anything in ``[a, 1]``; ``F`` does not
depend on it (``H_ij = s_ij z_ij = 0``), and the hidden gradient of unit ``j`` is affine in its
own tied slopes::

    g_j(s) = g_j0 + sum_{i in T_j} (s_ij - d_ij) rho_ij xt_i / n,   rho = (F - Y) V^T

(``g_j0`` the gradient of :func:`relu_altmin._model.gradients`, ``d_ij`` the tie convention's
slope). The minimum-norm element of that set is one small box-constrained least-squares problem
per unit, solved here for all units at once; the point is Clarke-stationary in the hidden layer
when every minimum vanishes.

**Ties.** Entry ``(i, j)`` is tied when ``|z_ij| <= tau_ij``,
``tau_ij = (d~ + 1) eps (|Xt| |Wt + S|^T)_ij``: the computed ``z_ij = fl(xt_i . (Wt_j + S_j))``
differs from the exact one by at most ``gamma_d~ (|xt_i| . |Wt_j + S_j|)`` for any order of
summation, ``gamma_m = m u / (1 - m u)``, ``u = eps / 2``, and forming ``Wt + S`` adds
``u (|xt_i| . |Wt_j + S_j|)``; ``(d~ + 1) eps`` is twice that first-order bound, which covers
the second-order terms and the rounding of the bound itself. Within ``tau`` the sign of ``z`` is
not determined by the computation, so either side's slope is a valid one.

**Scope.** The set of slopes is the box ``[a, 1]^{T_j}``. Each of its corners is the gradient of
a piece of the loss next to the point when the tied rows ``xt_i`` of each unit are linearly
independent (at most ``d~`` ties per unit, in general position), and the box's image is then
exactly the Clarke subdifferential of ``L`` in ``Wt``; with more ties (e.g. a unit whose weights
are all zero ties on every row) it contains it, so a vanishing minimum is a necessary condition
and a positive one rules stationarity out.
"""

from __future__ import annotations

import math
from typing import Any

from array_api_compat import device

from ._model import (
    Forward,
    Gradients,
    Params,
    error_sums,
    forward,
    residual_ratios,
    scale_gradients,
    sum_squares,
)

#: Iterations of :func:`box_least_squares` beyond ``3 t``, ``t`` the most ties of one unit.
BOX_MAX_ITER = 20
#: Optimality tolerance of :func:`box_least_squares`, relative to ``||M_j||_F ||residual_j||``.
BOX_KKT_RTOL = 1e-12


def tie_tolerance(Xt: Any, params: Params, eps: float, xp: Any) -> Any:
    """``tau = (d~ + 1) eps (|Xt| |Wt + S|^T)`` (n x h): the rounding error a computed
    pre-activation may carry (module docstring); ``eps`` of the dtype ``Z`` was computed in."""
    W = params.Wt if params.S is None else params.Wt + params.S
    return ((Xt.shape[1] + 1) * eps) * (xp.abs(Xt) @ xp.abs(W).T)


def _gather_ties(tied: Any, arrays: tuple[Any, ...], xp: Any) -> tuple[Any, ...]:
    """Each unit's tied rows, padded to ``t``, the largest count of one unit.

    ``tied`` (n x h, bool). Returns ``valid`` (h x t, 1.0 on a tied row, 0.0 on padding), the
    row indices (h x t) and, for each n x h array in ``arrays``, its entries there (h x t).
    """
    n, h = tied.shape
    count = xp.sum(xp.astype(tied, xp.int64), axis=0)
    t = int(xp.max(count))
    order = xp.argsort(xp.astype(tied, xp.int32), axis=0, descending=True, stable=True)
    index = order[:t, :].T  # h x t
    dev = device(tied)
    valid = xp.arange(t, device=dev)[None, :] < count[:, None]
    flat = xp.reshape(index + n * xp.arange(h, device=dev)[:, None], (-1,))
    picked = tuple(xp.reshape(xp.take(xp.reshape(a.T, (-1,)), flat), (h, t)) for a in arrays)
    return (xp.astype(valid, arrays[0].dtype), index, *picked)


def _norms(a: Any, xp: Any) -> Any:
    """Euclidean norms of the rows of ``a`` (h x m)."""
    return xp.sqrt(xp.sum(a * a, axis=1))


def box_least_squares(g: Any, M: Any, lo: Any, hi: Any, xp: Any) -> Any:
    """Minimise ``||g_j + M_j delta_j||`` over ``lo_j <= delta_j <= hi_j`` for every ``j``.

    Parameters
    ----------
    g : array, shape (h, m)
    M : array, shape (h, m, t)
    lo, hi : array, shape (h, t)
        Bounds with ``lo <= hi`` and ``delta = 0`` on a bound of each entry (``lo = 0`` or
        ``hi = 0``; ``lo = hi = 0`` fixes an entry).
    xp : namespace

    Returns
    -------
    array, shape (h, t)
        A feasible ``delta``; the residual at it is never larger than at ``delta = 0``.

    Notes
    -----
    Lawson and Hanson's active-set method with bounds (Stark and Parker's BVLS), run for all
    problems in lock step. From ``delta = 0`` with every entry held at its bound, each
    iteration solves the least-squares problem in the free entries (``pinv``, so a
    rank-deficient ``M_j`` is fine). Where that solution is feasible it is taken, and the held
    entry whose gradient most violates the optimality conditions is freed; where it is not,
    ``delta`` moves towards it up to the first bound met, and the entries on a bound are held
    again; a step that would raise the residual (rounding, when ``delta`` is already optimal
    on its free set) is not taken, and counts as a feasible solution. A problem is done when no
    held entry's gradient violates the conditions by more than
    ``BOX_KKT_RTOL * ||M_j||_F * ||g_j + M_j delta_j||`` (rounding); the loop ends when all are
    done or after ``BOX_MAX_ITER + 3 t`` iterations (the method usually needs a few more than
    the number of free entries at the solution). Every iterate is feasible and no step raises a
    residual. Exact to rounding unless a unit's tied rows are nearly parallel: with columns
    of ``M_j`` equal to within 1e-6 and scaled over 1e-3..1e3 the residual found was at most
    4e-5 (relative) above SciPy's ``lsq_linear(method="bvls")`` in 600 random problems.
    """
    h, _, t = M.shape
    dtype, dev = g.dtype, device(g)
    Mt = xp.permute_dims(M, (0, 2, 1))
    size = xp.sqrt(xp.sum(M * M, axis=(1, 2)))
    labels = xp.arange(t, device=dev)
    delta = xp.zeros((h, t), dtype=dtype, device=dev)
    free = xp.zeros((h, t), dtype=xp.bool, device=dev)
    done = xp.zeros(h, dtype=xp.bool, device=dev)
    for _ in range(BOX_MAX_ITER + 3 * t):
        r = g + (M @ delta[:, :, None])[:, :, 0]
        mask = xp.astype(free, dtype)
        p = -mask * (xp.linalg.pinv(M * mask[:, None, :]) @ r[:, :, None])[:, :, 0]
        target = xp.where(p > 0, hi, lo)
        outside = free & (xp.abs(p) > xp.abs(target - delta))
        blocked = xp.any(outside, axis=1)
        ratio = xp.where(outside, (target - delta) / xp.where(outside, p, 1.0), 1.0)
        alpha = xp.clip(xp.min(ratio, axis=1), min=0.0, max=1.0)
        hit = outside & (ratio <= alpha[:, None])
        step = xp.where(hit, target, xp.clip(delta + alpha[:, None] * p, min=lo, max=hi))
        worse = _norms(g + (M @ step[:, :, None])[:, :, 0], xp) > _norms(r, xp)
        keep = (done | worse)[:, None]
        delta = xp.where(keep, delta, step)
        free = xp.where(keep, free, free & xp.logical_not(hit))
        blocked = blocked & xp.logical_not(worse)  # no better point: optimal on its free set
        r = g + (M @ delta[:, :, None])[:, :, 0]
        grad = (Mt @ r[:, :, None])[:, :, 0]
        held = xp.logical_not(free) & (lo < hi)
        violation = (xp.where(held & (delta <= lo), -grad, 0.0)
                     + xp.where(held & (delta >= hi), grad, 0.0))
        converged = xp.max(violation, axis=1) <= BOX_KKT_RTOL * size * _norms(r, xp)
        release = xp.logical_not(blocked | done | converged)
        worst = xp.argmax(violation, axis=1)
        free = free | (release[:, None] & (labels[None, :] == worst[:, None]))
        done = done | (xp.logical_not(blocked) & converged)
        if bool(xp.all(done)):
            break
    return delta


def minimum_norm_hidden_gradient(Xt: Any, Y: Any, params: Params, fw: Forward, g0: Any,
                                 slope: float, eps: float, xp: Any,
                                 weights: Any | None = None) -> Any:
    """The hidden gradient of least norm over the tied entries' slopes in ``[a, 1]``.

    Parameters
    ----------
    Xt : array, shape (n, d~)
    Y : array, shape (n, k)
    params : Params
    fw : Forward
        The forward pass at ``params`` with the tie convention's pattern.
    g0 : array, shape (h, d~)
        The gradient of ``L`` in ``Wt`` at ``fw`` (:func:`relu_altmin._model.gradients`).
    slope : float
        The activation's negative slope ``a``.
    eps : float
        Machine epsilon of the dtype the pre-activations are computed in (:func:`tie_tolerance`).
    xp : namespace
    weights : array, shape (d~,), optional
        Positive column weights: the norm minimised is ``||g_j * weights||``. Default ones.

    Returns
    -------
    array, shape (h, d~)
        ``g0`` plus, for each tied entry, ``(s_ij - d_ij) rho_ij xt_i / n`` at the minimising
        slopes; ``g0`` itself when nothing is tied. Memory ``O(h t d~)``, ``t`` the largest
        number of tied rows of one unit.
    """
    tied = xp.abs(fw.Z) <= tie_tolerance(Xt, params, eps, xp)
    if not bool(xp.any(tied)):
        return g0
    n, dt = Xt.shape
    rho = (fw.F - Y) @ params.V.T
    valid, index, rho_t, d_t = _gather_ties(tied, (rho, fw.D), xp)
    h, t = index.shape
    rows = xp.reshape(xp.take(Xt, xp.reshape(index, (-1,)), axis=0), (h, t, dt))
    M = xp.permute_dims(rows * (valid * rho_t / n)[:, :, None], (0, 2, 1))  # h x d~ x t
    w = xp.ones(dt, dtype=g0.dtype, device=device(g0)) if weights is None else weights
    delta = box_least_squares(g0 * w, M * w[:, None], (slope - d_t) * valid,
                              (1.0 - d_t) * valid, xp)
    return g0 + (M @ delta[:, :, None])[:, :, 0]


def nonsmooth_ratios(Xt: Any, Y: Any, params: Params, slope: float, l2: float, xp: Any, *,
                     eps: float | None = None) -> dict[str, float]:
    """:func:`relu_altmin._model.relative_residuals` with the hidden gradient replaced by its
    least-norm element over the tied slopes: the nonsmooth residuals, from rows in memory.

    Parameters
    ----------
    Xt : array, shape (n, d~)
        Inputs with the bias column when ``params.bias``.
    Y : array, shape (n, k)
    params : Params
    slope : float
        The activation's negative slope ``a``.
    l2 : float
        The ridge ``lambda`` of the loss.
    xp : namespace
    eps : float, optional
        Machine epsilon for the tie tolerance; default that of ``Xt``'s dtype.

    Returns
    -------
    dict
        The keys and normalisation of :func:`relu_altmin._model.residual_ratios`; ``V`` and
        ``c`` are the ordinary ones. Each unit minimises ``ratio_W^2 + ratio_b^2`` of its own
        row (the ``d~``-vector norm with the bias entry weighted by the ratio of the two
        denominators), which keeps the result invariant to rescaling ``X``.
    """
    n = Y.shape[0]
    d = Xt.shape[1] - 1 if params.bias else Xt.shape[1]
    fw = forward(Xt, params, slope, xp)
    _, gWt, gV, gc, h_squares = error_sums(Xt, Y, params, fw)
    g = scale_gradients(gWt, gV, gc, params, l2, n)
    x_norm = math.sqrt(float(sum_squares(Xt[:, :d], xp)))
    y_norm = math.sqrt(float(sum_squares(Y, xp)))
    weights = None
    if params.bias:
        def norm(a: Any) -> float:
            return math.sqrt(float(sum_squares(a, xp)))

        # The denominators of residual_ratios for W and b.
        v_scale = norm(params.V) * y_norm / n
        w_den = v_scale * x_norm + l2 * norm(params.Wt[:, :d]) + 1e-300
        b_den = v_scale * math.sqrt(n) + l2 * norm(params.Wt[:, d]) + 1e-300
        weights = xp.concat([xp.ones(d, dtype=Xt.dtype, device=device(Xt)),
                             xp.full(1, w_den / b_den, dtype=Xt.dtype, device=device(Xt))])
    eps = float(xp.finfo(Xt.dtype).eps) if eps is None else eps
    gW = minimum_norm_hidden_gradient(Xt, Y, params, fw, g.Wt, slope, eps, xp, weights)
    return residual_ratios(Gradients(gW, g.V, g.c), params, l2, n, x_norm, y_norm,
                           math.sqrt(float(h_squares)), xp)
