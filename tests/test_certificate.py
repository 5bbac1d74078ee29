"""Property tests of the nonsmooth (Clarke) stationarity certificate
(``critical_point_residuals(..., nonsmooth=True)``, ``relu_altmin._certificate``).

Kinks are built exactly: a kinked unit has integer weights (first feature weight 1) and its
tied rows have integer features with the first one solving ``x~ . w~ = 0``, so every product
and partial sum of the pre-activation is an exact integer and ``z`` is exactly 0; a *nudged*
tie adds ``+-2**e`` to that feature, ``2**e`` the smallest power of two above
``eps * sum |x~_m w~_m|``, which keeps every partial sum exact and leaves ``z = +-2**e``: not
0, but inside the tie tolerance ``(d~ + 1) eps (|x~| . |w~|)`` (for ``d~ >= 2``). Powers of two
rescale ``X`` and the weights without rounding. All other rows and units are Gaussian, far from
any kink. Every property runs on each backend of the ``xp`` fixture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from _bounds import (
    State,
    gamma,
    gradient_rounding,
    ratio,
    relative,
    relative_bound,
    residual_agreement,
    scale_rounding,
)
from hypothesis import assume, given, note
from hypothesis import strategies as st
from scipy.optimize import lsq_linear
from strategies import EPS64, problems, slopes

import relu_altmin
from relu_altmin._certificate import BOX_KKT_RTOL


@dataclass(frozen=True)
class Kinked:
    """A network and data, in NumPy float64, with exact ties on the units in ``kinked``."""

    X: np.ndarray
    Y: np.ndarray  # n x k
    Wt: np.ndarray  # h x d~, [W, b]
    V: np.ndarray  # h x k
    c: np.ndarray | None
    slope: float
    bias: bool
    skip: bool
    l2: float
    slopes: np.ndarray | None = None  # n x h: slopes on the ties whose gradient vanishes

    @property
    def effective(self) -> np.ndarray:
        """``Wt + S``: the weights the pre-activations use."""
        if not self.skip:
            return self.Wt
        S = np.eye(*self.Wt.shape)
        return self.Wt + S

    @property
    def Xt(self) -> np.ndarray:
        return np.c_[self.X, np.ones(len(self.X))] if self.bias else self.X

    def network(self, xp) -> relu_altmin.TwoLayerNet:
        d = self.X.shape[1]
        return relu_altmin.TwoLayerNet(
            xp.asarray(self.Wt[:, :d]), xp.asarray(self.Wt[:, d]) if self.bias else None,
            xp.asarray(self.V), None if self.c is None else xp.asarray(self.c),
            negative_slope=self.slope, skip=self.skip)

    def residuals(self, xp, nonsmooth: bool) -> dict[str, float]:
        return relu_altmin.critical_point_residuals(
            self.network(xp), xp.asarray(self.X), xp.asarray(self.Y), l2=self.l2,
            nonsmooth=nonsmooth)

    def state(self) -> State:
        d = self.X.shape[1]
        arrays = {"W": self.Wt[:, :d], "b": self.Wt[:, d] if self.bias else None,
                  "V": self.V, "c": self.c}
        return State.of(self.X, self.Y, arrays, self.slope, self.skip, self.l2)


def tied_rows(rng, w: np.ndarray, bias: bool, count: int, nudge: bool) -> np.ndarray:
    """``count`` rows ``x`` with ``x~ . w`` exactly 0, or exactly ``+-2**e`` when ``nudge``
    (module docstring); ``w`` has integer entries and ``w[0] == 1``."""
    d = len(w) - bias
    rows = rng.choice([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0], size=(count, d))
    rest = rows[:, 1:] @ w[1:d] + (w[d] if bias else 0.0)
    rows[:, 0] = -rest
    if nudge and len(w) >= 2:
        size = np.abs(rows[:, 1:]) @ np.abs(w[1:d]) + (abs(w[d]) if bias else 0.0) + np.abs(rest)
        nonzero = size > 0
        e = np.ceil(np.log2(np.where(nonzero, size, 1.0))) - 52
        rows[:, 0] += np.where(nonzero, rng.choice([-1.0, 1.0], size=count) * 2.0**e, 0.0)
    return rows


@st.composite
def kinked_layouts(draw, *, one_unit: bool, rows_per_weight: int = 0):
    """Inputs, weights and slope with exact ties: on one unit (``one_unit``) or on any; at
    least ``rows_per_weight`` Gaussian rows per hidden weight (and 3)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    d = draw(st.integers(1, 3))
    skip = draw(st.booleans())
    h = d if skip else draw(st.integers(1, 3))
    bias = draw(st.booleans()) or (one_unit and d == 1)  # one unit: some x~ on a tie is not 0
    dt = d + bias
    if one_unit:
        kinked = [draw(st.integers(0, h - 1))]
    else:
        kinked = [j for j in range(h) if draw(st.booleans())] or [0]
    nudge = draw(st.booleans())
    We = rng.standard_normal((h, dt))
    rows = [rng.standard_normal((rows_per_weight * h * dt + draw(st.integers(3, 12)), d))]
    ties = []  # (unit, its tied rows)
    for j in kinked:
        We[j] = np.r_[1.0, rng.integers(-3, 4, size=dt - 1)]
        start = sum(map(len, rows))
        rows.append(tied_rows(rng, We[j], bias, draw(st.integers(1, 3)), nudge))
        ties.append((j, np.arange(start, start + len(rows[-1]))))
    scale = 2.0 ** draw(st.integers(-4, 4))  # exact: X up, feature weights down
    X = np.concatenate(rows) * scale
    We[:, :d] /= scale
    Wt = We - np.eye(h, dt) if skip else We
    return rng, X, Wt, ties, len(rows[0]), draw(slopes), bias, skip


def numpy_forward(kp: Kinked) -> tuple[np.ndarray, ...]:
    """``Xt, Z, D, H, F`` of the model's definition (a tie is inactive), in plain NumPy."""
    Xt = kp.Xt
    Z = Xt @ kp.effective.T
    D = np.where(Z > 0, 1.0, kp.slope)
    H = D * Z
    return Xt, Z, D, H, H @ kp.V + (0.0 if kp.c is None else kp.c)


def denominators(kp: Kinked) -> tuple[float, float]:
    """The ``W`` and ``b`` denominators of ``critical_point_residuals`` (docs/method.md)."""
    n, d = kp.X.shape
    y_scale = np.linalg.norm(kp.V) * np.linalg.norm(kp.Y) / n
    return (y_scale * np.linalg.norm(kp.X) + kp.l2 * np.linalg.norm(kp.Wt[:, :d]) + 1e-300,
            y_scale * math.sqrt(n) + kp.l2 * np.linalg.norm(kp.Wt[:, d:]) + 1e-300)


def numpy_ratios(kp: Kinked, g: np.ndarray) -> dict[str, float]:
    d = kp.X.shape[1]
    w_den, b_den = denominators(kp)
    out = {"W": float(np.linalg.norm(g[:, :d])) / w_den}
    if kp.bias:
        out["b"] = float(np.linalg.norm(g[:, d])) / b_den
    return out


def reference(kp: Kinked) -> tuple[dict[str, float], dict[str, float]]:
    """Ordinary and exact nonsmooth ``W``/``b`` residuals, written out independently.

    Per unit, the tied rows (``|z| <= (d~ + 1) eps |x~| . |w~|``) and SciPy's bounded-variable
    least squares minimise ``ratio_W**2 + ratio_b**2`` of the unit's gradient row
    ``g0_j + sum_i delta_i rho_ij x~_i / n`` over ``delta_i in [a - d_ij, 1 - d_ij]``.
    """
    Xt, Z, D, _, F = numpy_forward(kp)
    n, dt = Xt.shape
    rho = (F - kp.Y) @ kp.V.T
    g0 = (D * rho).T @ Xt / n + kp.l2 * kp.Wt
    w_den, b_den = denominators(kp)
    weights = np.r_[np.ones(kp.X.shape[1]), [w_den / b_den] if kp.bias else []]
    tau = (dt + 1) * EPS64 * (np.abs(Xt) @ np.abs(kp.effective).T)
    g = g0.copy()
    for j in range(g.shape[0]):
        T = np.abs(Z[:, j]) <= tau[:, j]
        if T.any():
            M = (rho[T, j][:, None] * Xt[T]).T / n
            fit = lsq_linear(weights[:, None] * M, -weights * g0[j],
                             bounds=(kp.slope - D[T, j], 1.0 - D[T, j]), method="bvls",
                             tol=1e-15)
            g[j] = g0[j] + M @ fit.x
    return numpy_ratios(kp, g0), numpy_ratios(kp, g)


@st.composite
def stationary_kinks(draw, *, minimum: bool):
    """Exact ties, with targets ``Y`` such that given slopes on the ties zero the gradient.

    With ``minimum``: a local minimum in the hidden layer at ties of one unit ``j0``, critical
    in ``V`` and ``c``. Pick slopes ``s_i`` inside ``(a, 1)`` for its tied rows ``T`` and
    residuals ``E_i = r_i V_j0 / ||V_j0||**2`` there, ``r_i > 0``, so ``rho_ij0 = r_i > 0``;
    then solve (least norm) for the residuals ``E`` of the Gaussian rows such that, with the
    slopes ``s`` on ``T`` and the pattern ``D`` elsewhere, the hidden gradient
    ``(1/n) (s * E V^T)^T Xt + l2 Wt``, the output gradient ``H^T E / n + l2 V`` and ``E^T 1``
    (with ``c``) all vanish, and set ``Y = F - E``. The tie convention's gradient is then
    ``-(1/n) sum_T (s_i - d_ij0) r_i x~_i``, not zero, while ``s`` gives a Clarke subgradient
    that is. It is a minimum in ``Wt`` (``V``, ``c`` held): for a small step ``Delta`` no
    Gaussian row changes side, ``F`` is linear in ``Delta`` on every row but ``T``, and a row
    of ``T`` adds ``sigma(t_i) V_j0``, ``t_i = Delta_j0 . x~_i``; the loss changes by
    ``(1/n) sum_T r_i (sigma(t_i) - s_i t_i)`` (>= 0, as ``a <= s_i <= 1`` and ``r_i > 0``)
    plus squares (the rows' and the ridge's), so it never falls.

    Without: ties on any units, ``E`` on the ties Gaussian (``rho`` of either sign), the zeroing
    slopes drawn from ``[a - (1 - a), 2 - a]`` (so about a third below the box, a third in it
    and a third above) and Gaussian noise of a drawn size added to ``Y``: the minimum over the
    box is then 0 or not, attained inside or on its faces.
    """
    rng, X, Wt, ties, n_free, slope, bias, skip = draw(
        kinked_layouts(one_unit=minimum, rows_per_weight=3))
    n, h, k = len(X), Wt.shape[0], draw(st.integers(1, 2))
    scale_y = 2.0 ** draw(st.integers(-4, 4))
    V = rng.standard_normal((h, k)) * scale_y
    c = rng.standard_normal(k) * scale_y if draw(st.booleans()) else None
    kp = Kinked(X, np.zeros((n, k)), Wt, V, c, slope, bias, skip,
                draw(st.sampled_from([0.0, 1e-6, 1e-2])))
    Xt, _, D, H, F = numpy_forward(kp)
    free, tied = slice(0, n_free), slice(n_free, n)
    s = D.copy()
    E_tied = rng.standard_normal((n - n_free, k)) * scale_y
    for j, T in ties:
        s[T, j] = slope + (1.0 - slope) * rng.uniform(*((0.25, 0.75) if minimum else (-1, 2)),
                                                      size=len(T))
        if minimum:
            E_tied = (rng.uniform(0.5, 2.0, size=(len(T), 1)) * scale_y * V[j] / (V[j] @ V[j]))
    blocks = [np.einsum("ij,jl,im->jmil", s[free], V, Xt[free]),
              np.einsum("ij,ab->jaib", H[free], np.eye(k))]
    rhs = [-n * kp.l2 * Wt - np.einsum("ij,ij,im->jm", s[tied], E_tied @ V.T, Xt[tied]),
           -n * kp.l2 * V - H[tied].T @ E_tied]
    if c is not None:
        blocks.append(np.broadcast_to(np.eye(k)[:, None, :], (k, n_free, k)))
        rhs.append(-E_tied.sum(axis=0))
    A = np.concatenate([b.reshape(-1, n_free * k) for b in blocks])
    r = np.concatenate([b.ravel() for b in rhs])
    x = np.linalg.lstsq(A, r, rcond=None)[0]
    # Tiny slopes on inactive Gaussian rows can leave no solution: x then overflows.
    with np.errstate(over="ignore", invalid="ignore"):
        scale = np.linalg.norm(r) + np.linalg.norm(A) * np.linalg.norm(x)
        assume(np.isfinite(scale) and np.linalg.norm(A @ x - r) <= 1e-9 * scale)
    # A nearly singular system gives huge residuals on the free rows (|Y| up to 1e63 against
    # ties of size 1, found by the thorough profile): the ties' terms are then rounding.
    assume(np.linalg.norm(x) <= 1e6 * np.sqrt(n) * scale_y)
    E = np.concatenate([x.reshape(n_free, k), E_tied])
    noise = 0.0 if minimum else draw(st.sampled_from([0.0, 1e-6, 1e-3, 1.0]))
    Y = F - E + noise * scale_y * rng.standard_normal(E.shape)
    return Kinked(X, Y, Wt, V, c, slope, bias, skip, kp.l2, s)


@dataclass(frozen=True)
class Slack:
    """How far the nonsmooth residuals the package computes may be from the exact ones, all
    relative (``critical_point_residuals``' scale); see :func:`slack`."""

    gradient: dict[str, float]  # the gradients' rounding, tied slopes' terms included
    excess: float  # of hidden(): the box solve's minimum above the exact one
    distance: float  # of W and b each: the box solve's residual from the exact minimiser's
    relative: float  # relative rounding of the sizes the residuals are divided by


def slack(kp: Kinked) -> Slack:
    """The rounding of the nonsmooth residuals at ``kp``, from the sizes of their terms.

    Gradients: :func:`_bounds.gradient_rounding`; the tied rows add ``M_j delta_j`` with
    ``|delta| <= 1 - a`` and ``M_j`` from the computed ``rho``, at most ``(1 - a)`` times the
    same terms, summed over ``t`` more: ``(2 - a) gamma(N + t + 2)`` in all.

    Box solve (``box_least_squares``), per unit in the weighted norm it minimises, ``t_j``
    ties, box widths ``1 - a``: it stops when the held entries' optimality conditions are
    violated by at most ``v = BOX_KKT_RTOL ||M_j|| ||r_j||``, which leaves the objective
    ``||r||^2 / 2`` at most ``v ||delta - delta*||_1 <= v t_j (1 - a)`` above its minimum over
    the box, so ``||r|| - ||r*|| <= 2 BOX_KKT_RTOL ||M_j|| t_j (1 - a)``; its free entries are
    a pseudo-inverse solve, exact for ``M_j + dM``, ``||dM|| <= 2 p eps ||M_j||`` (the SVD's
    backward error, ``p = max(d~, t_j)``, and ``pinv``'s cut-off of as much), which adds at
    most ``2 ||dM|| sqrt(t_j) (1 - a)`` (both solutions lie in the box). The minimiser's
    residual ``r*`` is unique (the least-norm point of a convex set), and any ``r`` of the set
    has ``||r - r*||^2 <= ||r||^2 - ||r*||^2``: a distance of ``sqrt(e (2 ||g0_j|| + e))``
    for an excess ``e``, as ``||r*|| <= ||g0_j||``. SciPy's BVLS (``tol=1e-15``) in
    :func:`reference` is taken to be no less exact.
    """
    s = kp.state()
    Xt, Z, D, _, F = numpy_forward(kp)
    n, dt = Xt.shape
    tied = np.abs(Z) <= (dt + 1) * EPS64 * (np.abs(Xt) @ np.abs(kp.effective).T)
    counts = tied.sum(axis=0)
    errors = gradient_rounding(s)
    errors["Wt"] = errors["Wt"] * ((2 - kp.slope) * gamma(s.sums + int(counts.max()) + 2)
                                   / gamma(s.sums))
    rho = (F - kp.Y) @ kp.V.T
    g0 = (D * rho).T @ Xt / n + kp.l2 * kp.Wt
    w_den, b_den = denominators(kp)
    w = np.r_[np.ones(kp.X.shape[1]), [w_den / b_den] if kp.bias else []]
    excess, distance = np.zeros(len(counts)), np.zeros(len(counts))
    for j, t in enumerate(counts):
        if t:
            T = tied[:, j]
            size = np.linalg.norm(w[:, None] * (rho[T, j][:, None] * Xt[T]).T / n)
            excess[j] = (2 * BOX_KKT_RTOL * t + 4 * max(dt, t) * EPS64 * math.sqrt(t)) * (
                (1 - kp.slope) * size)
            distance[j] = math.sqrt(excess[j] * (2 * np.linalg.norm(w * g0[j]) + excess[j]))
    rel = scale_rounding(s)
    floor = (1 - rel) * w_den
    return Slack(relative_bound(s, errors), float(np.linalg.norm(excess)) / floor,
                 float(np.linalg.norm(distance)) / floor, 3 * rel)


def clarke_residuals(kp: Kinked) -> dict[str, float]:
    """The residuals of the gradient at the constructed tied slopes ``kp.slopes`` (an element
    of the Clarke subdifferential), computed here in float64."""
    Xt, _, _, H, F = numpy_forward(kp)
    n = len(Xt)
    E = F - kp.Y
    grads = {"Wt": (kp.slopes * (E @ kp.V.T)).T @ Xt / n + kp.l2 * kp.Wt,
             "V": H.T @ E / n + kp.l2 * kp.V}
    if kp.c is not None:
        grads["c"] = E.sum(axis=0) / n
    return relative(kp.state(), grads)


def hidden(residuals: dict[str, float]) -> float:
    """``sqrt(ratio_W**2 + ratio_b**2)``: what each unit's minimisation lowers."""
    return math.hypot(residuals["W"], residuals.get("b", 0.0))


# (a) Away from kinks the certificate is the ordinary residual.
@given(problems(allow_known_output=False), st.sampled_from([0.0, 1e-3]))
def test_smooth_point_nonsmooth_equals_ordinary(xp, prob, l2):
    rng = np.random.default_rng(prob.seed)
    n, d = prob.X.shape
    scale = float(np.sqrt(np.mean(prob.X**2)))
    W = rng.standard_normal((prob.hidden, d)) / (scale * math.sqrt(d))
    b = rng.standard_normal(prob.hidden) if prob.bias else None
    Y = np.reshape(prob.y, (n, -1))
    kp = Kinked(prob.X, Y, W if b is None else np.c_[W, b],
                rng.standard_normal((prob.hidden, Y.shape[1])), rng.standard_normal(Y.shape[1]),
                prob.negative_slope, prob.bias, prob.skip, l2)
    Xt, Z, *_ = numpy_forward(kp)
    margin = np.abs(Z) / (np.abs(Xt) @ np.abs(kp.effective).T + 1e-300)
    assume(margin.min() > 1e6 * EPS64)  # no pre-activation within 1e6 / (d~ + 1) tolerances
    ordinary, nonsmooth = kp.residuals(xp, False), kp.residuals(xp, True)
    note(f"ordinary {ordinary}, nonsmooth {nonsmooth}")
    assert nonsmooth.keys() == ordinary.keys()
    # Both are the relative gradient norms at the same point (no tied row), computed by two
    # paths: within _bounds.residual_agreement of each other.
    agree = residual_agreement(kp.state(), {key: max(value, nonsmooth[key])
                                            for key, value in ordinary.items()})
    for key, value in ordinary.items():
        note(f"{key} error / bound {ratio(nonsmooth[key] - value, agree[key]):.3e}")
        assert abs(nonsmooth[key] - value) <= agree[key], key


# (b) At a kink that no small step of the hidden layer improves, the certificate vanishes.
@given(stationary_kinks(minimum=True))
def test_kink_minimum_is_certified(xp, kp):
    ordinary, nonsmooth = kp.residuals(xp, False), kp.residuals(xp, True)
    sl, clarke = slack(kp), clarke_residuals(kp)
    # Ours and the package's rounding of the gradients, and the package's box solve.
    bound = (1 + sl.relative) * (hidden(clarke) + 2 * hidden(sl.gradient) + sl.excess)
    note(f"ordinary {ordinary}, nonsmooth {nonsmooth}, clarke {clarke}, {sl}")
    # The construction's tie-convention gradient must stand out of the rounding: where the
    # least-norm residuals of the free rows are huge (a nearly singular system, found by the
    # thorough profile: |Y| ~ 1e12 against ties of size 1), it is a kink at rounding level.
    assume(hidden(reference(kp)[0]) > 1e3 * bound)
    assert hidden(nonsmooth) <= bound
    for key in ("V", "c"):
        if key in ordinary:
            assert nonsmooth[key] <= (1 + sl.relative) * (clarke[key] + 2 * sl.gradient[key])
    assert hidden(ordinary) > 100 * bound
    assert {k: nonsmooth[k] for k in ("V", "c") if k in ordinary} == \
        {k: ordinary[k] for k in ("V", "c") if k in ordinary}


# (c) The certificate is the exact minimum over the box: never above the ordinary residual,
# never below the minimum.
@given(stationary_kinks(minimum=False))
def test_nonsmooth_residual_is_the_box_minimum(xp, kp):
    ordinary, nonsmooth = kp.residuals(xp, False), kp.residuals(xp, True)
    ref_ordinary, ref_minimum = reference(kp)
    sl = slack(kp)
    note(f"ordinary {ordinary}, nonsmooth {nonsmooth}, exact minimum {ref_minimum}, {sl}")
    assert hidden(nonsmooth) <= (1 + sl.relative) * hidden(ordinary) + hidden(sl.gradient)
    assert hidden(nonsmooth) >= ((1 - sl.relative) * hidden(ref_minimum)
                                 - 2 * (hidden(sl.gradient) + sl.excess))
    for key, value in ref_minimum.items():
        assert abs(nonsmooth[key] - value) <= (
            2 * (sl.gradient[key] + sl.distance) + sl.relative * value)
        assert abs(ordinary[key] - ref_ordinary[key]) <= (
            2 * sl.gradient[key] + sl.relative * ref_ordinary[key])
    for key in ("V", "c"):
        assert nonsmooth.get(key) == ordinary.get(key)


# (d) Every backend gives NumPy's numbers.
@given(stationary_kinks(minimum=False))
def test_same_numbers_on_every_backend(xp, kp):
    from array_api_compat import numpy as xp_numpy

    expected, got = kp.residuals(xp_numpy, True), kp.residuals(xp, True)
    note(f"numpy {expected}, backend {got}")
    assert got.keys() == expected.keys()
    sl = slack(kp)
    for key, value in expected.items():
        box = sl.distance if key in ("W", "b") else 0.0
        assert abs(got[key] - value) <= 2 * (sl.gradient[key] + box) + sl.relative * value


def test_nonsmooth_must_be_a_bool():
    kp = Kinked(np.ones((2, 1)), np.ones((2, 1)), np.ones((1, 1)), np.ones((1, 1)), None, 0.0,
                False, False, 0.0)
    from array_api_compat import numpy as xp_numpy

    with pytest.raises(TypeError, match="nonsmooth"):
        relu_altmin.critical_point_residuals(kp.network(xp_numpy), np.ones((2, 1)),
                                             np.ones(2), nonsmooth=1)



def test_fit_asks_the_certificate_at_its_fixed_point(monkeypatch):
    """fit's fixed point (the plain alternation, in memory) is a critical point when the
    certificate holds there, and no_progress when it does not; streamed rows, which the
    certificate cannot read, are never certified."""
    from relu_altmin._problem import TrainingProblem

    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 6))
    Y = np.stack([np.maximum(X @ rng.standard_normal(6), 0), X[:, 0] * X[:, 1]], 1)
    kwargs = dict(seed=2, step="joint", solver="dense", reinit=False, max_iter=70)
    plain = relu_altmin.fit(X, Y, 8, **kwargs)
    assert plain.stop_reason == "no_progress"  # a fixed point, not certified
    asked = []

    def certificate(self, params):
        asked.append(params)
        return 0.0

    monkeypatch.setattr(TrainingProblem, "nonsmooth_residual", certificate)
    certified = relu_altmin.fit(X, Y, 8, **kwargs)
    assert certified.stop_reason == "critical_point" and certified.converged
    assert len(asked) == 1 and certified.n_iter == plain.n_iter
    streamed = relu_altmin.fit(X, Y, 8, chunk_rows=100, **kwargs)
    assert streamed.stop_reason == "no_progress" and len(asked) == 1

def test_policy_asks_the_certificate_only_at_fixed_points():
    """StallPolicy: a fixed point that is not critical is critical_point exactly when the
    certificate is at most tol; a moving iteration never asks."""
    from relu_altmin._policy import StallPolicy

    class Record:
        objective, grad_norm_W, grad_norm_V = 1.0, 1.0, 0.0

    X, y = relu_altmin.load_diabetes()
    params = relu_altmin._model.Params.from_network(
        relu_altmin.fit(X, y, 2, seed=0, max_iter=0).network, relu_altmin._fit.np)
    moved = params.replace(Wt=2.0 * params.Wt)
    for value, expected in ((0.5, "no_progress"), (1e-9, "critical_point")):
        asked = []

        def certify(p, value=value, asked=asked):
            asked.append(p)
            return value

        policy = StallPolicy(False, 1e-8, certify)
        assert policy.observe([Record()], params, moved, None, np) == "continue"
        assert not asked
        assert policy.observe([Record()], params, params, None, np) == expected
        assert len(asked) == 1
