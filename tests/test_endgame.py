"""Property tests of the endgame (``relu_altmin._endgame``; docs/method.md, "The endgame"):
the balancing leaves the network's function and equalises each unit's layers, the two-loop
recursion is the L-BFGS inverse update, and the endgame only lowers the objective, with the
output layer solved at every record, after an alternation it leaves as it was; its rounds
redraw a unit only at its own stalls and start again from balanced units."""

from __future__ import annotations

import dataclasses
import math
import types

import numpy as np
import pytest
from _bounds import EPS64, gamma, ratio
from conftest import to_numpy
from hypothesis import event, given, note
from hypothesis import strategies as st
from strategies import problems
from test_properties import numpy_arrays, output_tolerance, run_fit

from relu_altmin import _endgame, _fit, _policy
from relu_altmin._model import Params, augment, forward


def drifted_params(xp, prob, rng: np.random.Generator) -> Params:
    """A random network on ``prob``'s shapes whose units sit at scales ``10^u``,
    ``u ~ U(-3, 3)``, along the layers' rescaling (``Wt_j * a``, ``V_j / a``), with some units
    zero in one layer."""
    h, dt = prob.hidden, prob.X.shape[1] + int(prob.bias)
    k = 1 if prob.y.ndim == 1 else prob.y.shape[1]
    a = 10.0 ** rng.uniform(-3.0, 3.0, h)
    Wt = rng.standard_normal((h, dt)) * a[:, None]
    V = rng.standard_normal((h, k)) / a[:, None]
    dead = rng.random(h) < 0.2
    Wt[dead & (rng.random(h) < 0.5)] = 0.0
    V[dead & (Wt[:, 0] != 0.0)] = 0.0
    c = rng.standard_normal(k) if prob.bias else None
    return Params(xp.asarray(Wt), None, xp.asarray(V), None if c is None else xp.asarray(c),
                  prob.bias)


# Balancing is a reparametrisation: the outputs agree to the rounding of the two forward
# passes (each output a sum over units of |V_j| act(|Xt| |Wt_j|) terms, each computed to
# gamma(d~ + h + 3) of them: the scaled weights round once more), the units' two layers have
# equal norms to their rounding, and the penalty ||Wt||^2 + ||V||^2 does not rise (the
# arithmetic-geometric mean inequality, to rounding).
@given(problems(allow_known_output=False, allow_skip=False), st.integers(0, 2**32 - 1))
def test_balanced_keeps_the_network_and_equalises_the_layers(xp, prob, seed):
    params = drifted_params(xp, prob, np.random.default_rng(seed))
    result = _endgame.balanced(params, xp)
    Xt = augment(xp.asarray(prob.X), prob.bias, xp)
    before = to_numpy(forward(Xt, params, prob.negative_slope, xp).F)
    after = to_numpy(forward(Xt, result, prob.negative_slope, xp).F)
    Wt, V = to_numpy(params.Wt), to_numpy(params.V)
    Wb, Vb = to_numpy(result.Wt), to_numpy(result.V)
    Xt_abs = np.abs(to_numpy(Xt))
    size = (Xt_abs @ np.abs(Wt).T) @ np.abs(V) + (0.0 if params.c is None
                                                   else np.abs(to_numpy(params.c)))
    bound = 2 * gamma(Xt_abs.shape[1] + prob.hidden + 6) * size
    note(f"output distance / bound {ratio(after - before, bound):.3e}")
    assert np.all(np.abs(after - before) <= bound)
    w, v = np.linalg.norm(Wt, axis=1), np.linalg.norm(V, axis=1)
    live = (w > 0) & (v > 0)
    event(f"{int(np.sum(~live))} unit(s) with a zero layer")
    wb, vb = np.linalg.norm(Wb, axis=1), np.linalg.norm(Vb, axis=1)
    # sqrt, division and products: a handful of roundings on each side of each norm
    slack = gamma(2 * max(Wt.shape[1], V.shape[1]) + 12)
    assert np.all(np.abs(wb[live] - vb[live]) <= slack * (wb[live] + vb[live]))
    np.testing.assert_array_equal(Wb[~live], Wt[~live])
    np.testing.assert_array_equal(Vb[~live], V[~live])
    penalty_before = float(np.sum(Wt**2) + np.sum(V**2))
    penalty_after = float(np.sum(Wb**2) + np.sum(Vb**2))
    assert penalty_after <= penalty_before * (1 + slack)


def bfgs_inverse(pairs, p: int) -> np.ndarray:
    """The L-BFGS inverse Hessian written out: ``H = gamma I`` (the newest pair's ``s^T y /
    y^T y``), then for each pair, oldest first, ``H = (I - rho s y^T) H (I - rho y s^T) +
    rho s s^T``."""
    s, y = pairs[-1]
    H = (s @ y) / (y @ y) * np.eye(p)
    for s, y in pairs:
        rho = 1.0 / (s @ y)
        left = np.eye(p) - rho * np.outer(s, y)
        H = left @ H @ left.T + rho * np.outer(s, s)
    return H


# The two-loop recursion applies the inverse update the pairs define. The pairs come from a
# symmetric positive definite A (condition up to 1e3), y = A s, so s^T y > 0; the products
# of the recursion round to gamma(4 m (p + 2)) of their magnitudes, which the factors
# (1 + rho ||s|| ||y||) of each update amplify at most once each, twice over.
@given(st.integers(1, 8), st.integers(1, 25), st.integers(0, 2**32 - 1))
def test_two_loop_is_the_lbfgs_inverse_update(xp, p, m, seed):
    rng = np.random.default_rng(seed)
    m = min(m, _endgame.MEMORY)
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    A = (Q * 10.0 ** rng.uniform(0.0, 3.0, p)) @ Q.T
    pairs = [(s, A @ s) for s in rng.standard_normal((m, p))]
    g = rng.standard_normal(p)
    step = _endgame.LbfgsStep(types.SimpleNamespace(xp=xp))
    for s, y in pairs:
        step.pairs.append((xp.asarray(s), xp.asarray(y), 1.0 / float(s @ y)))
    got = to_numpy(step.direction(xp.asarray(g)))
    kept = pairs[-_endgame.MEMORY:]
    H = bfgs_inverse(kept, p)
    growth = math.prod((1 + np.linalg.norm(s) * np.linalg.norm(y) / (s @ y))**2 for s, y in kept)
    scale = (kept[-1][0] @ kept[-1][1]) / (kept[-1][1] @ kept[-1][1])
    bound = gamma(4 * len(kept) * (p + 2)) * growth * max(scale, np.linalg.norm(H, 2)) \
        * np.linalg.norm(g)
    note(f"distance / bound {np.linalg.norm(got + H @ g) / bound:.3e}")
    assert np.linalg.norm(got + H @ g) <= bound


def untimed(history) -> list:
    """The records without their wall times."""
    return [dataclasses.replace(record, seconds=0.0) for record in history]


@pytest.fixture
def early_endgame(monkeypatch):
    """Stalls after 2 iterations that lower the objective by less than 1e-3, and the first
    stall ends the alternation (so small fits reach the endgame within a few iterations)."""
    monkeypatch.setattr(_policy, "REINIT_WINDOW", 2)
    monkeypatch.setattr(_policy, "REINIT_PATIENCE", 0)


# The endgame continues where the alternation stopped: the records before it are the ones
# endgame=False gives (the same floats), its first record is at most the least objective
# recorded before it, each of its records lowers the objective strictly or moves nothing
# (step 0), every record has the output layer solved, and the fit returns its last state.
@given(problems(allow_known_output=False))
def test_endgame_descends_from_where_the_alternation_stopped(xp, early_endgame, prob):
    result = run_fit(xp, prob, max_iter=30)
    plain = run_fit(xp, prob, max_iter=30, endgame=False)
    history = result.history
    games = [i for i, record in enumerate(history) if record.endgame]
    event("the endgame ran" if games else f"no endgame ({result.stop_reason})")
    if not games:
        assert untimed(result.history) == untimed(plain.history)
        return
    first = games[0]
    assert games == list(range(first, len(history)))
    assert untimed(history[:first]) == untimed(plain.history[:first])
    assert plain.stop_reason == "no_progress" and len(plain.history) == first
    assert history[first].objective <= min(r.objective for r in history[:first])
    for before, after in zip(history[first:], history[first + 1:], strict=False):
        if after.step > 0:
            assert after.objective < before.objective
        else:
            assert after.objective == before.objective
    for record, arrays in zip(history[first:], result.networks[first:], strict=True):
        assert record.grad_norm_V <= output_tolerance(prob, arrays, result.l2)
        assert record.mu == 0.0 and record.cg_iterations == 0 and record.reinit_unit == -1
    assert result.loss == history[-1].loss
    np.testing.assert_array_equal(numpy_arrays(result.network)["W"], result.networks[-1]["W"])


# An endgame that records no step (the alternation ended at max_iter's last iteration)
# leaves the fit as endgame=False ends it: the best network seen, not the last one. One
# re-initialisation may pass before the alternation ends (REINIT_PATIENCE 1), so the last
# state need not be the best.
@given(problems(allow_known_output=False))
def test_endgame_without_a_step_returns_the_best(xp, monkeypatch, prob):
    monkeypatch.setattr(_policy, "REINIT_WINDOW", 2)
    monkeypatch.setattr(_policy, "REINIT_PATIENCE", 1)
    plain = run_fit(xp, prob, max_iter=40, endgame=False)
    if plain.stop_reason != "no_progress":
        event(f"the alternation did not end ({plain.stop_reason})")
        return
    event("the last state is the best" if plain.loss == plain.history[-1].loss
          else "a re-initialisation left the last state above the best")
    result = run_fit(xp, prob, max_iter=plain.n_iter)
    assert untimed(result.history) == untimed(plain.history)
    assert result.loss == plain.loss
    np.testing.assert_array_equal(numpy_arrays(result.network)["W"],
                                  numpy_arrays(plain.network)["W"])


def moved_nothing(before: Params, after: Params) -> bool:
    """Whether ``after`` is ``before`` to ``4 eps`` relative in each of its hidden layer, output
    weights and output biases: the stall policy's fixed point."""
    return all(a is None or float(np.sum((to_numpy(b) - to_numpy(a)) ** 2))
               <= (4 * EPS64) ** 2 * float(np.sum(to_numpy(a) ** 2))
               for a, b in ((before.Wt, after.Wt), (before.V, after.V), (before.c, after.c)))


# The endgame's rounds: each of its stalls (a step that moved nothing, to rounding, or a
# critical point above the best) redraws a unit, never slow progress; L-BFGS then starts
# afresh from the redrawn network with its units balanced and the output solved again, where
# that lowers the objective (else from the redrawn network; a skip connection's units are
# never balanced); within a round each record lowers the objective strictly or moves nothing;
# an endgame that ends without progress redrew a unit first (REINIT_PATIENCE 2); the fit
# returns the lowest objective recorded.
@given(problems(allow_known_output=False))
def test_endgame_rounds_redraw_at_its_stalls(xp, monkeypatch, prob):
    monkeypatch.setattr(_policy, "REINIT_WINDOW", 2)
    monkeypatch.setattr(_policy, "REINIT_PATIENCE", 2)
    monkeypatch.setattr(_endgame, "WINDOW", 2)  # L-BFGS stops after 2 steps below 1e-3
    monkeypatch.setattr(_endgame, "RTOL", 1e-3)
    steps, redrawn = [], []  # each endgame step (problem, from, to, fresh?); each redraw
    take, redraw = _endgame.LbfgsStep.take, _fit.redraw_unit

    def take_spy(step, params, state):
        fresh = not step.objectives  # an empty L-BFGS memory: the first step of a round
        outcome = take(step, params, state)
        steps.append((step.problem, params, outcome.params, fresh))
        return outcome

    def redraw_spy(problem, params, *args):
        drawn = redraw(problem, params, *args)
        redrawn.append(drawn[0])
        return drawn

    monkeypatch.setattr(_endgame.LbfgsStep, "take", take_spy)
    monkeypatch.setattr(_fit, "redraw_unit", redraw_spy)
    result = run_fit(xp, prob, max_iter=40)
    history = result.history
    games = [i for i, record in enumerate(history) if record.endgame]
    redraws = [i for i in games if history[i].reinit_unit >= 0]
    event(f"{min(len(redraws), 2)} redraws in the endgame" if games
          else f"no endgame ({result.stop_reason})")
    if not games:
        return
    assert len(steps) == len(games)
    if result.stop_reason == "no_progress":  # the first stall of two allowed redraws
        assert redraws
    tol = prob.kwargs.get("tol", 1e-8)
    for i in redraws:
        stalled, (_, before, after, _) = history[i - 1], steps[i - 1 - games[0]]
        assert (max(stalled.grad_norm_W, stalled.grad_norm_V) <= tol
                or moved_nothing(before, after))
    for before, after in zip(history[games[0]:], history[games[0] + 1:], strict=False):
        if after.reinit_unit >= 0:
            continue
        if after.step > 0:
            assert after.objective < before.objective
        else:
            assert after.objective == before.objective
    firsts = [(problem, start) for problem, start, _, fresh in steps if fresh]
    assert len(firsts) == 1 + len(redraws)
    alternation = sum(record.reinit_unit >= 0 for record in history[:games[0]])
    for (problem, first), drawn in zip(firsts[1:], redrawn[alternation:][:len(redraws)],
                                       strict=True):
        expected = drawn
        if drawn.S is None:
            again = problem.output_solved(_endgame.balanced(drawn, xp))
            if problem.evaluate(again).objective < problem.evaluate(drawn).objective:
                expected = again
        np.testing.assert_array_equal(to_numpy(first.Wt), to_numpy(expected.Wt))
        np.testing.assert_array_equal(to_numpy(first.V), to_numpy(expected.V))
    lowest = min(history, key=lambda record: record.objective)
    assert result.loss == lowest.loss


def quadratic_problem(xp, A: np.ndarray, b: np.ndarray):
    """A stand-in for the training problem whose reduced objective is ``f(w) = w^T A w / 2 -
    b^T w`` of the hidden weights (one unit): the endgame's search sees only ``output_solved``
    and ``evaluate``."""
    A_xp, b_xp = xp.asarray(A), xp.asarray(b)

    def evaluate(params, previous=None):
        w = params.Wt[0, :]
        Aw = A_xp @ w
        return types.SimpleNamespace(
            objective=float(xp.sum(w * Aw)) / 2 - float(xp.sum(b_xp * w)),
            grad=types.SimpleNamespace(Wt=(Aw - b_xp)[None, :]))

    return types.SimpleNamespace(xp=xp, output_solved=lambda params: params, evaluate=evaluate)


# On a convex quadratic the search meets the strong Wolfe conditions (sufficient decrease,
# strictly lower, |phi'(alpha)| <= WOLFE_CURVATURE |phi'(0)|) within its evaluations, for any
# descent direction and first trial step, drawn from 1e-3 to 10 times the exact minimiser
# along the direction (below 0.1 times it the first trial decreases enough but is too short
# for the curvature condition); along an ascent direction it does not search.
@given(st.integers(1, 6), st.integers(0, 2**32 - 1), st.floats(-3.0, 1.0))
def test_search_meets_the_strong_wolfe_conditions(xp, p, seed, log_fraction):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((p, p)))
    A = (Q * 10.0 ** rng.uniform(0.0, 4.0, p)) @ Q.T
    A = (A + A.T) / 2
    b, w0 = rng.standard_normal(p), rng.standard_normal(p)
    problem = quadratic_problem(xp, A, b)
    step = _endgame.LbfgsStep(problem)
    params = Params(xp.asarray(w0[None, :]), None, xp.zeros((1, 1), dtype=xp.float64), None,
                    False)
    state = problem.evaluate(params)
    g = to_numpy(state.grad.Wt)[0]
    if not np.linalg.norm(g) > 0:
        event("started at the minimum")
        return
    M = (lambda B: B @ B.T + np.eye(p))(rng.standard_normal((p, p)))
    d = -(M @ g)
    direction = xp.asarray(d[None, :])
    minimiser = -float(g @ d) / float(d @ A @ d)
    found, evaluations = step.search(params, state, direction, 10.0**log_fraction * minimiser)
    assert found is not None and 1 <= evaluations <= _endgame.SEARCH_EVALUATIONS
    alpha, point, point_state = found
    slope0 = float(xp.sum(state.grad.Wt * direction))
    slope = float(xp.sum(point_state.grad.Wt * direction))
    note(f"alpha {alpha:.3e} after {evaluations} evaluations; slopes {slope0:.3e} {slope:.3e}")
    assert point_state.objective <= state.objective + _endgame.WOLFE_DECREASE * alpha * slope0
    assert point_state.objective < state.objective
    assert abs(slope) <= -_endgame.WOLFE_CURVATURE * slope0
    np.testing.assert_array_equal(to_numpy(point.Wt), to_numpy(params.Wt + alpha * direction))
    assert step.search(params, state, -direction, 1.0) == (None, 0)
