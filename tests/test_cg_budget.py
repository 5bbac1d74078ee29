"""Property tests of conjugate gradients' adaptive budget: the tolerance stop, Martens'
progress stop and the warm start (``relu_altmin._systems.conjugate_gradients``,
``relu_altmin._steps.CG_WARM_START``; docs/method.md, "Matrix-free solves").

Systems are symmetric positive definite with a drawn spectrum (condition up to 1e4; 1e6 for
the stop's growing window), on every backend of the ``xp`` fixture. What the stop and the
start may change is *when* CG stops and *where* it starts, never its iterates: the properties
compare with CG run without them, bit for bit where the operations are the same, else within
the rounding of the updates that differ.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _bounds import gamma, ratio
from conftest import to_numpy
from hypothesis import event, given, note
from hypothesis import strategies as st
from strategies import problems
from test_properties import run_fit

from relu_altmin import _steps, _systems
from relu_altmin._systems import conjugate_gradients


@st.composite
def spd_systems(draw, max_m: int = 12, max_condition: float = 1e4
                ) -> tuple[np.ndarray, np.ndarray]:
    """``A = Q diag(lambda) Q^T`` (``Q`` orthogonal, ``lambda`` log-uniform over a drawn
    condition number up to ``max_condition``) and ``b``, ``m`` from 1 to ``max_m``."""
    m = draw(st.integers(1, max_m))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    condition = 10.0 ** draw(st.floats(0.0, math.log10(max_condition)))
    Q, _ = np.linalg.qr(rng.standard_normal((m, m)))
    spectrum = condition ** rng.uniform(0.0, 1.0, m) * 10.0 ** draw(st.floats(-3.0, 3.0))
    A = (Q * spectrum) @ Q.T
    return (A + A.T) / 2, rng.standard_normal(m) * 10.0 ** draw(st.floats(-3.0, 3.0))


class Run:
    """``conjugate_gradients`` on ``A x = b`` (identity preconditioner) in namespace ``xp``,
    recording the residual each step preconditions and each product's input and output."""

    def __init__(self, xp, A: np.ndarray, b: np.ndarray):
        self.xp, self.A_xp, self.b_xp = xp, xp.asarray(A), xp.asarray(b)
        self.residuals: list[np.ndarray] = []
        self.products: list[tuple[np.ndarray, np.ndarray]] = []

    def __call__(self, **kwargs) -> tuple[np.ndarray, int]:
        self.residuals.clear()
        self.products.clear()

        def apply(v):
            q = self.A_xp @ v
            self.products.append((to_numpy(v), to_numpy(q)))
            return q

        def precondition(r):
            self.residuals.append(to_numpy(r))
            return r

        x, iterations = conjugate_gradients(apply, self.b_xp, precondition, self.xp, **kwargs)
        return to_numpy(x), iterations


def recursive_models(run: Run, m: int) -> list[tuple[float, float]]:
    """The model values as CG from 0 tracks them (the documented rule: ``q(x_0) = 0`` and each
    step lowers it by ``alpha r^T z / 2``), recomputed from the recorded steps: each value
    with a bound on its distance from CG's own (``alpha`` and ``r^T z`` are dot products of
    ``m`` terms, ``gamma(m)`` each; the running sum ``gamma(j)`` of its terms; both
    computations so, hence twice). Where ``r^T r`` underflows to 0 CG's does too (a sum of
    squares, in any order), and the step lowers nothing."""
    models, value, size = [(0.0, 0.0)], 0.0, 0.0
    for j, (r, (d, q)) in enumerate(zip(run.residuals, run.products, strict=False), start=1):
        rz = float(r @ r)
        drop = rz / float(d @ q) * rz / 2 if rz > 0 else 0.0
        value, size = value - drop, size + drop
        models.append((value, 2 * (gamma(3 * m + 3) + gamma(j + 1)) * size))
    return models


def stalled(models: list[tuple[float, float]], i: int, window: int, tol: float) -> int:
    """Martens' test at step ``i`` on the recomputed ``models``: +1 surely holds, -1 surely
    not, 0 too close to tell apart from the rounding (or not yet ``i > k``: -1)."""
    k = max(window, i // 10)
    if not i > k:
        return -1
    (early, e_early), (late, e_late) = models[i - k], models[i]
    margin = (early - late) - k * tol * abs(late)
    slack = e_early + e_late + k * tol * e_late
    return 1 if margin < -slack else (-1 if margin > slack else 0)


# The progress stop chooses when CG stops, never what it computes: its iterate is the one CG
# without the stop reaches in as many products, bit for bit.
@given(spd_systems(), st.floats(1e-4, 0.2), st.integers(1, 6), st.integers(1, 40))
def test_progress_stop_keeps_the_iterates(xp, system, tol, window, max_iter):
    A, b = system
    run = Run(xp, A, b)
    x, iterations = run(rtol=0.0, max_iter=max_iter, progress_tol=tol, window=window)
    assert 0 <= iterations <= max_iter
    x_plain, plain = run(rtol=0.0, max_iter=iterations)
    assert plain == iterations
    np.testing.assert_array_equal(x, x_plain)


# The stop is Martens' test on the model values CG tracks: CG stops at the first step where
# the model fell over the last k = max(window, i // 10) steps by less than k tol |q(x_i)|, and
# goes on while it did not (steps where rounding could decide either way are not judged).
# Systems up to 60 unknowns and condition 1e6 let CG run past 10 (window + 1) steps, where the
# window grows with i.
@given(spd_systems(60, 1e6), st.floats(-10.0, -1.0).map(lambda e: 10.0**e), st.integers(1, 3))
def test_progress_stop_is_martens_test(xp, system, tol, window):
    A, b = system
    m = b.size
    run = Run(xp, A, b)
    max_iter = 4 * m + 20
    _, iterations = run(rtol=0.0, max_iter=max_iter, progress_tol=tol, window=window)
    if iterations == 0:
        return
    models = recursive_models(run, m)
    for i in range(1, iterations):
        assert stalled(models, i, window, tol) <= 0, f"went on past a stall at step {i}"
    if iterations == max_iter:
        event("stopped at max_iter (a stall there stops it just the same)")
        return
    _, plain = run(rtol=0.0, max_iter=iterations + 1)
    if plain == iterations:
        event("CG ended by itself (no curvature left)")
        return
    verdict = stalled(models, iterations, window, tol)
    event(f"stopped {'after' if iterations > 10 * (window + 1) else 'before'} the window grew")
    assert verdict >= 0, "stopped without a stall"


def model(A: np.ndarray, b: np.ndarray, x: np.ndarray) -> tuple[float, float]:
    """``q(x) = x^T A x / 2 - b^T x`` in float64 and a bound on the distance between two
    computations of it as CG and this do (each within ``gamma(2 m + 2)`` of the terms'
    sizes ``|x|^T |A| |x| / 2 + |b|^T |x|``, twice that for both)."""
    size = float(np.abs(x) @ np.abs(A) @ np.abs(x)) / 2 + float(np.abs(b) @ np.abs(x))
    return float(x @ A @ x) / 2 - float(b @ x), 2 * gamma(2 * b.size + 2) * size


# A warm start is kept where the model is lower there than at 0, and then CG continues as CG
# on the start's residual system: x = x0 + (CG on A d = b - A x0 from 0), to the rounding of
# the updates of x; a start not kept costs its product and changes nothing else.
@given(spd_systems(), st.floats(-2.0, 2.0), st.floats(0.0, 2.0), st.integers(0, 2**32 - 1),
       st.integers(2, 30))
def test_warm_start_is_cg_on_the_residual_system(xp, system, along, off, seed, max_iter):
    A, b = system
    m = b.size
    noise = np.random.default_rng(seed).standard_normal(m)
    x0 = along * np.linalg.solve(A, b) + off * noise * float(np.linalg.norm(b)) / max(
        float(np.linalg.norm(A @ noise)), 1e-300)
    value, rounding = model(A, b, x0)
    run = Run(xp, A, b)
    x, iterations = run(rtol=0.0, max_iter=max_iter, x0=xp.asarray(x0))
    if abs(value) <= rounding:
        event("start's model too close to 0 to tell")
        return
    if value > 0:
        event("start not kept")
        x_cold, cold = run(rtol=0.0, max_iter=max_iter - 1)
        assert iterations == cold + 1
        np.testing.assert_array_equal(x, x_cold)
        return
    event("start kept")
    residual_xp = xp.asarray(b) - xp.asarray(A) @ xp.asarray(x0)
    shifted = Run(xp, A, to_numpy(residual_xp))
    shifted.b_xp = residual_xp
    d, cold = shifted(rtol=0.0, max_iter=max_iter - 1)
    assert iterations == cold + 1
    # |alpha| |p| per step, alpha = r^T r / p^T q. Where r^T r underflows to 0 CG's does too
    # (a sum of squares is 0 exactly when each square is, in any order): alpha is 0, or CG
    # stopped there; either way x did not move.
    taken = [(float(r @ r), float(p @ q), p)
             for r, (p, q) in zip(shifted.residuals, shifted.products, strict=False)]
    if any(rz > 0 and pq == 0 for rz, pq, _ in taken):
        event("a step's curvature underflowed: alpha not known")
        return
    steps = sum(abs(rz / pq) * np.abs(p) for rz, pq, p in taken if rz > 0)
    bound = gamma(cold + 2) * (np.abs(x0) + np.abs(d) + steps)
    note(f"{cold} steps: distance / bound {ratio(x - (x0 + d), bound):.3e}")
    assert np.all(np.abs(x - (x0 + d)) <= bound)


# The tolerance stop: CG returns after the first step whose recursively updated residual is at
# most rtol ||b||, and not before. rtol is drawn just below a recorded residual (by a factor
# from 1.01 to 1.4), so a stop looser by half would end a step early.
@given(spd_systems(), st.integers(1, 40), st.floats(1.01, 1.4))
def test_cg_stops_at_its_tolerance(xp, system, step, factor):
    A, b = system
    m = b.size
    run = Run(xp, A, b)
    _, plain = run(rtol=0.0, max_iter=2 * m + 5)
    residuals = [float(np.linalg.norm(r)) for r in run.residuals]  # r_0 = b, r_1, ...
    step = min(step, plain, len(residuals) - 1)
    if step == 0:
        event("CG took no step")
        return
    b_norm = float(np.linalg.norm(b))
    rtol = residuals[step] / (factor * b_norm)
    # CG's norms and rtol ||b|| are each within gamma(m + 2) of these (relative).
    margin = 2 * gamma(m + 2)
    threshold = rtol * b_norm

    def first(limit: float) -> int:
        return next((j for j in range(1, len(residuals)) if j <= plain
                     and residuals[j] <= limit), plain)

    earliest, latest = first(threshold * (1 + margin)), first(threshold * (1 - margin))
    _, iterations = run(rtol=rtol, max_iter=2 * m + 5)
    note(f"stopped after {iterations} steps; first residual below: {earliest}..{latest}")
    assert earliest <= iterations <= latest


# A start whose residual already meets the tolerance is returned as it is, for one product.
@given(spd_systems(), st.floats(1e-12, 1e-3))
def test_warm_start_at_the_solution_costs_one_product(xp, system, rtol):
    A, b = system
    x0 = np.linalg.solve(A, b)
    residual = float(np.linalg.norm(b - A @ x0))
    # This and CG's computed residual are each within gamma(m + 1) (|b| + |A| |x0|) of b - A x0.
    slack = 2 * gamma(b.size + 1) * float(np.linalg.norm(np.abs(b) + np.abs(A) @ np.abs(x0)))
    if residual + slack > 0.5 * rtol * float(np.linalg.norm(b)):
        event("the solve's own residual is above the tolerance")
        return
    x, iterations = Run(xp, A, b)(rtol=rtol, max_iter=30, x0=xp.asarray(x0))
    assert iterations == 1
    np.testing.assert_array_equal(x, x0)


# A damped CG step starts each solve at CG_WARM_START times the solution of its last accepted
# step, from 0 at its first step and after a restart (a re-initialised unit).
@pytest.mark.parametrize("step", ["joint", "damped"])
@given(problems(allow_known_output=False))
def test_damped_steps_start_cg_from_their_last_accepted_solution(monkeypatch, step, prob):
    calls: list[tuple[object, object, np.ndarray]] = []
    original_solve = _systems.MatrixFreeSystem.solve
    original_take = _steps.DampedStep.take
    original_restart = _steps.DampedStep.restart

    def solve(self, mu, start=None):
        solution, iterations = original_solve(self, mu, start)
        if mu > 0:  # a damped solve (the paper's step, once switched, solves at mu = 0)
            calls.append(("solve", None if start is None else to_numpy(start),
                          to_numpy(solution)))
        return solution, iterations

    def take(self, params, state):
        outcome = original_take(self, params, state)
        calls.append(("take", not self.switched, None))  # accepted a damped solve
        return outcome

    def restart(self):
        calls.append(("restart", None, None))
        original_restart(self)

    monkeypatch.setattr(_systems.MatrixFreeSystem, "solve", solve)
    monkeypatch.setattr(_steps.DampedStep, "take", take)
    monkeypatch.setattr(_steps.DampedStep, "restart", restart)
    run_fit(np, prob, step=step, solver="cg")
    last_accepted, latest = None, None
    for kind, first, second in calls:
        if kind == "solve":
            if last_accepted is None:
                assert first is None
            else:
                np.testing.assert_array_equal(first, _steps.CG_WARM_START * last_accepted)
            latest = second
        elif kind == "take":
            if first:
                last_accepted = latest
        else:
            last_accepted = None
    event(f"warm starts: {sum(c[0] == 'solve' and c[1] is not None for c in calls) > 0}")
