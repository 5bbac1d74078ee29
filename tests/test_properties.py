"""Property tests of the trainer: the critical-point conditions of docs/design.md §2, and
invariances.

Every property runs on each backend of the ``xp`` fixture (NumPy, array-api-strict, PyTorch
CPU, and CuPy where a GPU exists). Rounding bounds come from ``tests/_bounds.py``: each is set by
the sizes of the terms a result is summed from. They hold for any seed: ``HYPOTHESIS_PROFILE=
thorough`` (tests/conftest.py, docs/design.md §5) draws ten thousands of examples.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pytest
from _bounds import (
    EPS64,
    State,
    forward_error,
    gamma,
    gauss_newton_chain,
    gauss_newton_magnitudes,
    gauss_newton_terms,
    inverse_form,
    least_eigenvalue,
    lu_pivoted,
    lu_residual,
    lu_solve_accepted,
    objective_error,
    objective_rise,
    output_residual,
    output_ridge,
    output_suboptimality,
    ratio,
    relative,
    residual_tolerance,
)
from conftest import to_numpy
from hypothesis import event, example, given, note
from hypothesis import strategies as st
from strategies import Problem, problems

import relu_altmin
from relu_altmin._fit import _network
from relu_altmin._model import Params, augment, forward, gradients
from relu_altmin._policy import redraw_unit
from relu_altmin._problem import TrainingProblem
from relu_altmin._rows import make_rows
from relu_altmin._steps import MU_GROW, MU_INIT, MU_MIN, MU_SHRINK, MU_SWITCH, STEPS
from relu_altmin._systems import HiddenSystem

#: Damping values the damped-step properties are checked at.
mus = st.floats(1e-8, 1e4).map(lambda m: float(m))


@dataclass(frozen=True)
class TracedFit(relu_altmin.FitResult):
    """``fit``'s result and the network of each of its history's records, as NumPy arrays
    (:func:`numpy_arrays`): the rounding bounds of a record are set by its network's terms."""

    networks: tuple[dict, ...] = field(default=(), repr=False, compare=False)


def run_fit(xp, prob: Problem, **overrides) -> TracedFit:
    """``relu_altmin.fit`` on the problem, with the network of every record (a ``callback``
    given is called too). ``standardize=False`` unless overridden: these properties check the
    algorithm's internal problem (critical points of the ridge on the given data via
    ``critical_point_residuals(..., l2=result.l2)``), which standardisation replaces by the
    ridge of the standardised problem (tests/test_standardize.py)."""
    kwargs = {"standardize": False, **prob.kwargs, **overrides}
    if not prob.train_output:
        kwargs["output_weights"] = xp.asarray(prob.output_weights)
    callback, seen = kwargs.pop("callback", None), []

    def trace(record, network):
        seen.append(numpy_arrays(network))
        return None if callback is None else callback(record, network)

    result = relu_altmin.fit(xp.asarray(prob.X), xp.asarray(prob.y), prob.hidden,
                             callback=trace, **kwargs)
    # Iteration 0 has no callback: it is the start, what max_iter=0 returns.
    start = (result if kwargs.get("max_iter", 100) == 0
             else run_fit(xp, prob, **{**overrides, "max_iter": 0, "callback": None}))
    values = {name: getattr(result, name) for name in relu_altmin.FitResult.__dataclass_fields__}
    return TracedFit(**values, networks=(numpy_arrays(start.network), *seen))


def hidden_system(kind, xp, prob: Problem, params: Params, l2: float, *, joint: bool,
                  chunk_rows: int | None = None):
    """``kind.build`` (``HiddenSystem`` or ``MatrixFreeSystem``) at ``params`` on the problem's
    rows: in memory, or streamed ``chunk_rows`` rows at a time."""
    X = xp.asarray(prob.X)
    Y = xp.asarray(np.reshape(prob.y, (prob.X.shape[0], -1)))
    rows = make_rows(X, Y, prob.bias, params.Wt.shape[0], chunk_rows)
    rows.scan()
    state = TrainingProblem(rows, prob.negative_slope, l2, True).evaluate(params)
    return kind.build(rows, params, prob.negative_slope, l2, state, joint=joint)


def numpy_hidden(net_arrays: dict, X: np.ndarray, slope: float, skip: bool) -> np.ndarray:
    """The hidden features of the network's definition, written out in plain NumPy."""
    W = net_arrays["W"] + (np.eye(X.shape[1]) if skip else 0.0)
    Z = X @ W.T
    if net_arrays["b"] is not None:
        Z = Z + net_arrays["b"]
    return np.where(Z > 0, Z, slope * Z)


def numpy_forward(net_arrays: dict, X: np.ndarray, slope: float, skip: bool) -> np.ndarray:
    """The network's definition, written out in plain NumPy."""
    F = numpy_hidden(net_arrays, X, slope, skip) @ net_arrays["V"]
    return F if net_arrays["c"] is None else F + net_arrays["c"]


def numpy_arrays(net: relu_altmin.TwoLayerNet) -> dict:
    return {name: None if getattr(net, name) is None else to_numpy(getattr(net, name))
            for name in ("W", "b", "V", "c")}


def regularisations(trace: float) -> list[float]:
    """The ridges ``delta`` ``solve_regularised`` may add to a system of trace ``trace``: none,
    then from ``m eps mean(diag A)`` by factors of 100 (its docstring), eleven retries."""
    return [0.0] + [EPS64 * trace * 100.0**j for j in range(11)]


def state_of(prob: Problem, arrays: dict, l2: float) -> State:
    """The network ``arrays`` (:func:`numpy_arrays`) on the problem's rows, for ``_bounds``."""
    return State.of(prob.X, prob.y, arrays, prob.negative_slope, prob.skip, l2)


def split_arrays(prob: Problem, params: Params) -> dict:
    """:func:`numpy_arrays` of internal parameters (``Wt = [W, b]``)."""
    Wt, d = to_numpy(params.Wt), prob.X.shape[1]
    return {"W": Wt[:, :d], "b": Wt[:, d] if prob.bias else None, "V": to_numpy(params.V),
            "c": None if params.c is None else to_numpy(params.c)}


def default_l2(prob: Problem) -> float:
    """``fit``'s ridge for ``l2=None`` on the problem's rows: ``1e-8 mean(Xt^2)``."""
    Xt = np.c_[prob.X, np.ones(len(prob.X))] if prob.bias else prob.X
    return relu_altmin.DEFAULT_L2_FACTOR * float(np.mean(Xt**2))


def output_tolerance(prob: Problem, arrays: dict, l2: float | None = None) -> float:
    """Largest output-layer residual (``grad_norm_V``: the larger of the ``V`` and ``c``
    residuals) the output solve may leave at the network ``arrays`` for the ridge ``l2``
    (default: ``fit``'s).

    ``_bounds.residual_tolerance`` with the ridge ``solve_regularised`` added, read off the
    solution (``_bounds.output_ridge``, which fails if no ridge it may add explains it): the
    rounding of ``Hb^T Hb`` and ``Hb^T Y``, the LU backward error, ``delta |theta|``, and the
    rounding of the gradient and its scale as ``critical_point_residuals`` computes them.
    """
    state = state_of(prob, arrays, default_l2(prob) if l2 is None else l2)
    ridge = output_ridge(state)
    tol = residual_tolerance(state, ridge=ridge)
    note(f"output ridge {ridge:.3e}, tolerances V {tol['V']:.3e} c {tol.get('c', 0.0):.3e}")
    return max(tol["V"], tol.get("c", 0.0))


# Condition 1: after every output step the output-layer gradient vanishes.
@pytest.mark.parametrize("step", STEPS)
@given(problems(allow_known_output=False))
def test_output_step_is_critical_in_output_layer(xp, step, prob):
    seen = []
    run_fit(xp, prob, max_iter=3, step=step,
            callback=lambda rec, net: seen.append((rec, numpy_arrays(net))))
    start = run_fit(xp, prob, max_iter=0)
    seen.insert(0, (start.history[0], numpy_arrays(start.network)))
    for record, arrays in seen:
        tol = output_tolerance(prob, arrays, start.l2)
        note(f"iteration {record.iteration}: grad V {record.grad_norm_V:.3e}, tol {tol:.3e}, "
             f"ratio {record.grad_norm_V / tol:.2e}")
        assert record.grad_norm_V <= tol


# Condition 1 where the output system is numerically singular: a unit duplicated and the hidden
# weights scaled up until ``n l2`` is lost in ``Hb^T Hb``'s rounding, so that
# solve_regularised adds its ridge; the residual is then ``delta theta`` and must be within
# output_tolerance, ridge included.
@given(problems(allow_known_output=False, allow_skip=False), st.integers(0, 12))
def test_output_solve_is_critical_with_its_ridge(xp, prob, log_scale):
    _, _, params, _, l2 = start_state(xp, prob)
    Wt = to_numpy(params.Wt).copy()
    Wt[-1] = Wt[0]
    params = params.replace(Wt=xp.asarray(Wt * 10.0**log_scale))
    X, y = xp.asarray(prob.X), xp.asarray(prob.y)
    rows = make_rows(X, y, prob.bias, prob.hidden, None)
    rows.scan()
    solved = TrainingProblem(rows, prob.negative_slope, l2, True).output_solved(params)
    net = _network(solved, prob.X.shape[1], prob.negative_slope, False, xp.float64,
                   np.ndim(prob.y), xp)
    residuals = relu_altmin.critical_point_residuals(net, X, y, l2=l2)
    residual = max(residuals["V"], residuals.get("c", 0.0))
    arrays = numpy_arrays(net)
    tol = output_tolerance(prob, arrays, l2)
    plain = residual_tolerance(state_of(prob, arrays, l2))  # the bound without the ridge
    event(f"residual above the bound without the ridge: "
          f"{residual > max(plain['V'], plain.get('c', 0.0))}")
    note(f"residual {residual:.3e}, tolerance {tol:.3e}, ratio {residual / tol:.2e}")
    assert residual <= tol


# Conditions 2 and 3: the hidden solve zeroes the fixed-pattern gradient, and the true
# gradient too whenever the solve leaves the pattern unchanged.
@given(problems())
def test_hidden_step_is_critical_for_its_pattern(xp, prob):
    start = run_fit(xp, prob, max_iter=0)
    X64 = xp.asarray(prob.X)
    Y = xp.asarray(np.reshape(prob.y, (prob.X.shape[0], -1)))
    params = Params.from_network(start.network, xp).astype(xp.float64, xp)
    Xt = augment(X64, prob.bias, xp)
    slope = prob.negative_slope
    fw = forward(Xt, params, slope, xp)
    hidden = ("W", "b") if prob.bias else ("W",)
    n, l2 = prob.X.shape[0], start.l2
    for attempt in range(8):
        step = hidden_system(HiddenSystem, xp, prob, params, l2, joint=False).step(0.0)
        solved = params.replace(Wt=params.Wt + step)
        state = state_of(prob, split_arrays(prob, solved), l2)
        tol = residual_tolerance(state, previous=state_of(prob, split_arrays(prob, params), l2),
                                 step_norm=float(np.linalg.norm(to_numpy(step))))
        # solve_regularised solves (G + n l2 I + delta I) dw = -n grad_W L: the fixed-pattern
        # gradient at the solution is then -delta dw / n, with delta 0 or a documented ridge.
        JW, _ = reference_jacobian(Xt, Y, params, fw)
        regularisation = regularisations(float(np.sum(JW**2)) + n * l2 * JW.shape[1])
        dw = to_numpy(step)
        grad = to_numpy(gradients(Xt, Y, solved, forward(Xt, solved, slope, xp, D=fw.D), l2,
                                  xp).Wt)
        delta = min(regularisation, key=lambda t: np.linalg.norm(grad + t * dw / n))
        fixed = relative(state, {"Wt": grad + delta * dw / n})
        note(f"attempt {attempt}: fixed-pattern residuals {fixed} (ridge added {delta:.3e}), "
             f"tolerances {tol}")
        event(f"solve regularised: {delta > 0}")
        assert all(fixed[key] <= tol[key] for key in hidden)
        fw_star = forward(Xt, solved, slope, xp)
        if bool(xp.all(fw_star.D == fw.D)):
            event("pattern unchanged: true gradient checked")
            grad = to_numpy(gradients(Xt, Y, solved, fw_star, l2, xp).Wt)
            true = relative(state, {"Wt": grad + delta * dw / n})
            assert all(true[key] <= tol[key] for key in hidden)
            return
        params, fw = solved, fw_star
    event("pattern still moving after 8 solves")


# Condition 4: at a fixed point of the (paper's) alternation the whole gradient vanishes.
# The plain alternation (reinit=False) stops there; with reinit the fit would redraw a unit.
@given(problems())
def test_fixed_point_is_critical(xp, prob):
    result = run_fit(xp, prob, max_iter=100, tol=0.0, step="exact", reinit=False)
    last = result.history[-1]
    if not (result.stop_reason == "no_progress" and last.step == 1.0
            and last.pattern_flips == 0):
        event(f"no smooth fixed point reached ({result.stop_reason}, step {last.step})")
        return
    event("fixed point reached")
    residuals = relu_altmin.critical_point_residuals(
        result.network, xp.asarray(prob.X), xp.asarray(prob.y), l2=result.l2)
    if not prob.train_output:  # the output layer is given, not solved for
        residuals = {k: v for k, v in residuals.items() if k in ("W", "b")}
    # The last step moved no parameter by more than 4 eps relative (``_policy.unchanged``):
    # the hidden solve, set up there, and the output solve after it.
    arrays = numpy_arrays(result.network)
    state = state_of(prob, arrays, result.l2)
    theta = np.r_[state.V.ravel(), () if state.c is None else state.c]
    tol = residual_tolerance(state, step_norm=4 * EPS64 * float(np.linalg.norm(state.Wt)),
                             output_change=4 * EPS64 * float(np.linalg.norm(theta)),
                             ridge=output_ridge(state) if prob.train_output else 0.0)
    note(f"residuals {residuals}, tolerances {tol}")
    assert all(value <= tol[key] for key, value in residuals.items())


def record_states(prob: Problem, result) -> list[State]:
    """The state of each history record: from :class:`TracedFit`'s networks; for a result of
    ``fit`` itself (or a standardised one, whose objective is not that of its network on the
    given rows) the returned network stands in for every record."""
    networks = getattr(result, "networks", ())
    if result.standardization is not None or len(networks) != len(result.history):
        networks = (numpy_arrays(result.network),) * len(result.history)
    return [state_of(prob, arrays, result.l2) for arrays in networks]


def rise_allowances(prob: Problem, result) -> list[float]:
    """For each record after the first, how far rounding may raise its objective above the
    previous record's (``_bounds.objective_rise``)."""
    states = record_states(prob, result)
    return [objective_rise(before, after, prob.negative_slope, prob.skip, prob.train_output)
            for before, after in itertools.pairwise(states)]


def assert_descends_between_reinits(prob: Problem, result) -> None:
    """The objective never rises, by more than rounding, except at an iteration that starts
    from a re-initialised unit; the fit returns a recorded state, of least objective up to the
    rises the history shows.

    Without rounding the returned objective is the least recorded. ``StallPolicy`` returns the
    best state at the end of a round (a stall, or the last record), so with rounding it is at
    most the least over records of their objective plus the rises after them in their round.
    """
    history = result.history
    objectives = [rec.objective for rec in history]
    note(f"objectives {objectives}, reinit units {[r.reinit_unit for r in history]}")
    reach = list(objectives)  # a record's objective plus the rises after it in its round
    for i, allowance in enumerate(rise_allowances(prob, result), start=1):
        before, after = history[i - 1], history[i]
        if after.reinit_unit >= 0:  # a new round
            continue
        assert after.objective <= before.objective + allowance, (i, allowance)
        rise = max(after.objective - before.objective, 0.0)
        start = max((j for j in range(i + 1) if history[j].reinit_unit >= 0), default=0)
        for j in range(start, i):
            reach[j] += rise
    # Each reach is a sum of at most len(history) nonnegative terms, so its rounding is at most
    # gamma(len(history)) relative: the last record of a round that rose, reached exactly by
    # objective + rise, may be a few ulps above its computed reach.
    limit = min(reach) * (1.0 + gamma(len(history)))
    returned = {rec.loss for rec in history if rec.objective <= limit}
    note(f"returned loss {result.loss}, losses within reach {returned}")
    assert result.loss in returned


def start_state(xp, prob: Problem, output_scale: float = 1.0):
    """The fit's start as internal float64 parameters, its forward pass and its ridge.

    ``output_scale`` multiplies the solved output layer, so that its gradient is not zero.
    """
    start = run_fit(xp, prob, max_iter=0)
    X64 = xp.asarray(prob.X)
    Y = xp.asarray(np.reshape(prob.y, (prob.X.shape[0], -1)))
    params = Params.from_network(start.network, xp).astype(xp.float64, xp)
    params = params.replace(V=output_scale * params.V)
    Xt = augment(X64, prob.bias, xp)
    return Xt, Y, params, forward(Xt, params, prob.negative_slope, xp), start.l2


def reference_jacobian(Xt, Y, params, fw):
    """Jacobian of ``vec(F)`` (row-major ``n x k``) in ``[vec(Wt), [V; c] by output column]``.

    Written from docs/design.md §2 with einsum, independently of the package's system assembly:
    ``dF[i,m]/dWt[j,a] = V[j,m] D[i,j] Xt[i,a]``, ``dF[i,m]/dV[l,m'] = [m = m'] H[i,l]``,
    ``dF[i,m]/dc[m'] = [m = m']``.
    """
    Xt, D, H, V = (to_numpy(a) for a in (Xt, fw.D, fw.H, params.V))
    n, k = to_numpy(Y).shape
    Hb = H if params.c is None else np.c_[H, np.ones(n)]
    JW = np.einsum("jm,ij,ia->imja", V, D, Xt).reshape(n * k, -1)
    Jt = np.einsum("mq,il->imql", np.eye(k), Hb).reshape(n * k, -1)
    return JW, Jt


def damped_problem_check(A, x, b, J, state, b_terms, mu, note_text):
    """Backward error of the solve ``A x = b`` against a bound from the sizes of the terms.

    The package forms its own ``A`` and ``b`` and solves by LU; the test forms them again. So
    ``A x - b`` is at most the LU residual (``_bounds.lu_residual``), plus twice (both
    sides) the rounding of ``A`` (sums of ``N + 2`` products of ``|J|`` entries, ``N``
    residuals) times ``|x|`` and of ``b``: ``J^T E`` with each ``E`` entry known only to
    ``gamma(state.sums)`` times its terms ``state.U`` (a difference of nearly equal terms near
    a critical point), and ``b_terms`` (the sizes of ``b``'s other terms) to the same.
    """
    N = J.shape[0]
    residual = np.linalg.norm(A @ x - b)
    absJ = np.abs(J)
    bound = (np.linalg.norm(lu_residual(A, x[:, None]))
             + 2 * gamma(N + 2) * np.linalg.norm((absJ.T @ absJ + np.abs(A)) @ np.abs(x))
             + 2 * gamma(state.sums) * (np.linalg.norm(absJ.T @ state.U.ravel()) + b_terms))
    note(f"{note_text}: mu {mu:.3e}, residual {residual:.3e}, bound {bound:.3e}")
    assert residual <= bound


# The damped step solves the damped fixed-pattern problem of docs/design.md §2 exactly:
# (G + mu diag(G) + n l2 I) w = r + mu diag(G) w_t, with G and r written out independently.
@given(problems(), mus, st.floats(0.5, 2.0))
def test_damped_step_solves_damped_problem(xp, prob, mu, output_scale):
    Xt, Y, params, fw, l2 = start_state(xp, prob, output_scale)
    n = prob.X.shape[0]
    w_t = to_numpy(params.Wt).ravel()
    w = w_t + to_numpy(hidden_system(HiddenSystem, xp, prob, params, l2, joint=False)
                       .step(mu)).ravel()
    JW, _ = reference_jacobian(Xt, Y, params, fw)
    G = JW.T @ JW
    # r = J_W^T (Y - F + J_W w_t): the fixed-pattern model is linear in w (docs/design.md §2).
    E = (to_numpy(Y) - to_numpy(fw.F)).ravel()
    r = JW.T @ E + G @ w_t
    damping = mu * np.diag(G)
    A = G + np.diag(damping) + n * l2 * np.eye(G.shape[0])
    # w = w_t + dw is formed in floating point: its rounding, eps |w_t|, enters A w too.
    terms = np.linalg.norm((np.abs(G) + np.abs(A)) @ np.abs(w_t))
    state = state_of(prob, split_arrays(prob, params), l2)
    damped_problem_check(A, w, r + damping * w_t, JW, state, terms, mu, "damped")


# The joint step solves the damped Gauss-Newton problem of both layers: minimise
# (1/2n)||Y - F - J d||^2 + (l2/2)(||Wt + dW||^2 + ||V + dV||^2) + (mu/2n) sum diag(G) dW^2.
@given(problems(allow_known_output=False), mus, st.floats(0.5, 2.0))
def test_joint_step_solves_damped_gauss_newton_problem(xp, prob, mu, output_scale):
    Xt, Y, params, fw, l2 = start_state(xp, prob, output_scale)
    n, k = to_numpy(Y).shape
    JW, Jt = reference_jacobian(Xt, Y, params, fw)
    J = np.c_[JW, Jt]
    p, q = JW.shape[1], Jt.shape[1]
    V = to_numpy(params.V)
    theta_t = V if params.c is None else np.r_[V, to_numpy(params.c)[None, :]]
    penalised = np.r_[np.ones(p), np.tile(np.r_[np.ones(V.shape[0]),
                                                 np.zeros(theta_t.shape[0] - V.shape[0])], k)]
    current = np.r_[to_numpy(params.Wt).ravel(), theta_t.T.ravel()]
    A = J.T @ J + np.diag(np.r_[mu * np.diag(JW.T @ JW), np.zeros(q)] + n * l2 * penalised)
    E = (to_numpy(Y) - to_numpy(fw.F)).ravel()
    b = J.T @ E - n * l2 * penalised * current
    x = to_numpy(hidden_system(HiddenSystem, xp, prob, params, l2, joint=True)
                 .solution(mu))[:, 0]
    damped_problem_check(A, x, b, J, state_of(prob, split_arrays(prob, params), l2),
                         n * l2 * np.linalg.norm(current), mu, "joint")


@pytest.mark.parametrize("step", ["joint", "damped"])
@given(problems())
def test_damped_history_follows_levenberg_marquardt(xp, step, prob):
    """Accepted damped steps lower the objective strictly and mu follows the documented rule;
    once no mu <= MU_SWITCH lowers it, every later iteration is the paper's step; a
    re-initialised unit restarts mu at MU_INIT. Long enough for REINIT_WINDOW stalls. The
    endgame's records, which follow the alternation's, are test_endgame.py's."""
    result = run_fit(xp, prob, max_iter=30, step=step, tol=0.0)
    event(f"units redrawn: {any(rec.reinit_unit >= 0 for rec in result.history)}")
    event(f"endgame reached: {result.history[-1].endgame}")
    alternation = [rec for rec in result.history if not rec.endgame]
    first_mu = MU_INIT
    allowances = rise_allowances(prob, result)
    for index, (before, after) in enumerate(itertools.pairwise(alternation)):
        note(f"{after}")
        assert after.solves >= 1
        if after.reinit_unit >= 0:  # a unit was redrawn: mu restarts, the objective may rise
            first_mu = MU_INIT
        if after.mu <= MU_SWITCH:  # a damped step, accepted
            # The first solve uses the carried mu; the i-th rejection multiplies it by
            # MU_GROW 2^(i - 1), and fit multiplies solves - 1 times. With MU_GROW a power
            # of two every product is exact, but the bound holds for any: each of the
            # solves - 1 products and our power rounds once, within gamma(solves + 1).
            expected = grown(first_mu, after.solves - 1)
            assert abs(after.mu - expected) <= 2 * gamma(after.solves + 1) * expected
            assert after.step == 1.0
            if after.reinit_unit < 0:
                assert after.objective < before.objective
            first_mu = max(after.mu * MU_SHRINK, MU_MIN)
        else:  # the paper's step, after the damped ones failed up to MU_SWITCH
            assert after.mu > MU_SWITCH
            assert 0.0 <= after.step <= 1.0
            if first_mu <= MU_SWITCH:  # switched in this iteration: damped solves, then one
                expected = grown(first_mu, after.solves - 1)  # as above
                assert abs(after.mu - expected) <= 2 * gamma(after.solves + 1) * expected
            else:
                assert after.solves == 1 and after.mu == first_mu
            # The backtracking does not raise L; the output solve after it may, by rounding.
            assert after.reinit_unit >= 0 or after.objective <= before.objective + (
                allowances[index])
            first_mu = after.mu
    assert result.history[0].mu == 0.0


@given(problems())
def test_pattern_flips_count_the_sign_changes(xp, prob):
    """Each record's ``pattern_flips`` is the number of pre-activations (rows x units) whose
    sign the iteration changed, counted from the networks before and after it (an iteration
    that re-initialised a unit is left out: it counts from the network before the redraw).
    The sign of a pre-activation is that of ``H``; entries within the rounding of its terms,
    ``gamma(d~ + 2) Z`` (``_bounds.State``; with the skip offset), may go either way."""
    result = run_fit(xp, prob, max_iter=15, tol=0.0)

    def signs(net: dict) -> tuple[np.ndarray, np.ndarray]:
        s = state_of(prob, net, 0.0)
        return s.H > 0, np.abs(s.H) <= gamma(s.Xt.shape[1] + 2) * s.Z

    for record, before, after in zip(result.history[1:], result.networks[:-1],
                                     result.networks[1:], strict=True):
        if record.reinit_unit >= 0:
            continue
        (positive_0, unsure_0), (positive_1, unsure_1) = signs(before), signs(after)
        unsure = unsure_0 | unsure_1
        changed = int(np.sum((positive_0 != positive_1) & ~unsure))
        note(f"{record}")
        assert changed <= record.pattern_flips <= changed + int(np.sum(unsure))


def grown(mu: float, rejections: int) -> float:
    """``mu`` after ``rejections`` rejected damped steps in a row (Nielsen's rule: the growth
    factor starts at ``MU_GROW`` and doubles after each rejection)."""
    return mu * MU_GROW**rejections * 2.0 ** (rejections * (rejections - 1) // 2)


def step_agreement(prob: Problem, params: Params, fw, l2: float, joint: bool, mu: float,
                   system, fitted: np.ndarray, expected: np.ndarray) -> np.ndarray | None:
    """Entrywise bound on ``|fitted - expected|``: two computations of ``W_t + dw`` with ``dw``
    the hidden part of the damped hidden-step system's solution at ``params`` (``system``:
    ours, :class:`HiddenSystem`), formed and solved each in its own order of the sums
    (threads, another BLAS); ``None`` where ``solve_regularised`` may have added a ridge.

    Each computation forms the system ``A x = b`` within ``T = gamma(N) |terms|``
    (``_bounds.gauss_newton_terms``, ``N``: ``gauss_newton_chain``) and ``b = J^T r -
    n l2 P theta`` within ``gamma(N' + 3) (|J|^T U + n l2 P |theta|)`` (the gradient's
    terms, ``N'``: :attr:`State.pair_sums`; ``/ n``, ``* n`` and the ridge term), and its LU
    solve of the computed ``M`` leaves ``|dM| <= lu_pivoted(|M|)``, so ``||A x_i - b|| <=
    ||K_i |x_i| || + ||d_b||`` with ``K_i = T + lu_pivoted(|M_i|)`` (the other's ``|M_i| <=
    |M| + 2 T``). ``||x_1 - x_2|| <= (r_1 + r_2) / lambda_min(A)`` with ``||x_2|| <= ||x_1|| +
    ||x_1 - x_2||``; each sum ``W_t + dw`` rounds once more."""
    s = state_of(prob, split_arrays(prob, params), l2)
    D = to_numpy(fw.D)
    T = gamma(gauss_newton_chain(s)) * gauss_newton_terms(s, D, joint, mu)
    matrix = to_numpy(system.matrix)
    damping = to_numpy(system.damping)
    M = matrix + np.diag(np.r_[mu * damping, np.zeros(matrix.shape[0] - damping.size)])
    x = to_numpy(system.solution(mu))[:, 0]
    least = least_eigenvalue(M)
    if not (lu_solve_accepted(np.abs(M), least, 1)
            and lu_solve_accepted(np.abs(M) + 2 * T, least - 2 * np.linalg.norm(T, 2), 1)):
        return None
    J = gauss_newton_magnitudes(s, D, joint)
    n = s.n
    theta, penalised = np.abs(s.Wt).ravel(), np.ones(s.Wt.size)
    if joint:
        outputs = s.V if s.c is None else np.r_[s.V, s.c[None, :]]
        theta = np.r_[theta, np.abs(outputs).T.ravel()]
        bias = np.r_[np.ones(s.V.shape[0]), np.zeros(outputs.shape[0] - s.V.shape[0])]
        penalised = np.r_[penalised, np.tile(bias, s.Y.shape[1])]
    b_err = np.linalg.norm(gamma(s.pair_sums + 3) * (J.T @ s.U.ravel()
                                                       + n * l2 * penalised * theta))
    exact_least = least - np.linalg.norm(T, 2)
    K1 = T + lu_pivoted(np.abs(M))
    K2 = np.linalg.norm(T + lu_pivoted(np.abs(M) + 2 * T), 2)
    if K2 >= exact_least:
        return None
    r1 = np.linalg.norm(K1 @ np.abs(x)) + b_err
    distance = (r1 + K2 * np.linalg.norm(x) + b_err) / (exact_least - K2)
    return distance + EPS64 * (np.abs(fitted) + np.abs(expected))


@pytest.mark.parametrize("step", ["joint", "damped"])
@given(problems())
def test_fit_takes_the_documented_damped_step(xp, step, prob):
    """fit's first accepted step is the start plus HiddenSystem's step at the recorded mu:
    the same computation, to the rounding of forming and solving the system in another
    order of the sums (:func:`step_agreement`; NumPy gives it bitwise, PyTorch need not)."""
    _, _, params, fw, l2 = start_state(xp, prob)
    result = run_fit(xp, prob, max_iter=1, step=step, tol=0.0)
    record = result.history[-1]
    if record.mu > MU_SWITCH:
        event("no damped step accepted: switched to the paper's step")
        return
    joint = step == "joint" and prob.train_output
    system = hidden_system(HiddenSystem, xp, prob, params, l2, joint=joint)
    expected = to_numpy(params.Wt + system.step(record.mu))
    net = result.network
    fitted = to_numpy(net.W) if net.b is None else np.c_[to_numpy(net.W), to_numpy(net.b)]
    bound = step_agreement(prob, params, fw, l2, joint, record.mu, system, fitted, expected)
    if bound is None:
        event("the solves may have added a ridge: steps not compared")
        return
    event("the solves are surely plain LU: steps compared")
    note(f"step error / bound {ratio(fitted - expected, bound):.3e}")
    assert np.all(np.abs(fitted - expected) <= bound)


@pytest.mark.parametrize("reinit", [True, False])
@pytest.mark.parametrize("step", STEPS)
@given(problems())
# Found by the thorough profile: max_iter ends the fit right after a stall's redraw, whose
# unrecorded state fit returned (its loss in no record) until _alternate returned ``kept``.
@example(Problem(X=np.array([[-1.14174477]]), y=np.array([[-0.19140339]]), hidden=1,
                 negative_slope=0.0, bias=False, skip=False, train_output=True,
                 output_weights=None, seed=8008))
def test_objective_never_increases(xp, step, reinit, prob):
    """Long enough for stalls of the REINIT_WINDOW kind, not only fixed points."""
    result = run_fit(xp, prob, max_iter=45, step=step, reinit=reinit)
    assert_descends_between_reinits(prob, result)
    redrawn = [rec.reinit_unit for rec in result.history if rec.reinit_unit >= 0]
    event(f"units redrawn: {bool(redrawn)}")
    if not (reinit and prob.train_output):
        assert redrawn == []
        assert result.loss == result.history[-1].loss
    assert all(0 <= j < prob.hidden for j in redrawn)
    if result.stop_reason == "critical_point":  # the returned network is that critical point
        assert result.loss == result.history[-1].loss
        # Ordinarily critical, or a fixed point at a kink whose nonsmooth certificate is (it
        # is at most the ordinary residual; docs/method.md, "Kinks and the nonsmooth
        # certificate"): either way the certificate is within tol.
        certificate = relu_altmin.critical_point_residuals(
            result.network, xp.asarray(prob.X), xp.asarray(prob.y), l2=result.l2,
            nonsmooth=True)
        checked = ("W", "b", "V", "c") if prob.train_output else ("W", "b")  # V given, not fit
        note(f"residuals {result.residuals}, certificate {certificate}")
        ordinary = max(v for k, v in result.residuals.items() if k in checked)
        event(f"critical point at a kink: {ordinary > 1e-8}")
        assert max(v for k, v in certificate.items() if k in checked) <= 1e-8


# Re-initialisation redraws the least useful unit and re-solves the output layer exactly.
@given(problems(allow_known_output=False), st.integers(0, 2**32 - 1))
def test_reinit_redraws_the_least_useful_unit(xp, prob, draw_seed):
    _, _, params, _, l2 = start_state(xp, prob, output_scale=1.5)
    X, y = xp.asarray(prob.X), xp.asarray(prob.y)
    rows = make_rows(X, y, prob.bias, prob.hidden, None)
    rows.scan()
    d = prob.X.shape[1]
    new, unit = redraw_unit(TrainingProblem(rows, prob.negative_slope, l2, True), params,
                            np.random.default_rng(draw_seed), d)
    before, after = to_numpy(params.Wt), to_numpy(new.Wt)
    # The unit: least ||V_j|| ||H[:, j]||, written out in NumPy (ties within rounding).
    arrays = {"W": before[:, :d], "b": before[:, d] if prob.bias else None}
    H = numpy_hidden(arrays, prob.X, prob.negative_slope, prob.skip)
    use = np.linalg.norm(to_numpy(params.V), axis=1) * np.linalg.norm(H, axis=0)
    note(f"use {use}, unit {unit}")
    assert use[unit] <= use.min() * (1 + 1e-9) + 1e-300
    # Only its row moves, to the generator's next draw of N(0, 1/d).
    expected = np.random.default_rng(draw_seed).standard_normal(before.shape[1]) / np.sqrt(d)
    np.testing.assert_array_equal(np.delete(after, unit, axis=0),
                                  np.delete(before, unit, axis=0))
    np.testing.assert_allclose(after[unit], expected, rtol=1e-15, atol=0)
    # Condition 1 for the new features: the output solve is exact.
    net = _network(new, d, prob.negative_slope, prob.skip, xp.float64, np.ndim(prob.y), xp)
    residuals = relu_altmin.critical_point_residuals(net, X, y, l2=l2)
    assert max(residuals["V"], residuals.get("c", 0.0)) <= output_tolerance(
        prob, numpy_arrays(net), l2)


def test_reinit_compares_units_without_underflow(xp):
    """Two units off at a slope of 5e-151 with output weights near 1e-144 (found by the
    thorough profile): ``||H_j||^2 ||V_j||^2`` underflows to 0 for both, ``||H_j|| ||V_j||``
    (about 1e-294) does not, and the smaller is redrawn."""
    X = np.array([[-0.15, -0.16], [-1.9, 0.2]])
    Wt = np.array([[1.0, 0.0, -0.5], [0.0, -1.0, -0.5]])  # both units off on both rows
    V = np.array([[2.0e-144], [3.0e-145]])
    slope = 5e-151
    H = slope * (np.c_[X, np.ones(2)] @ Wt.T)
    use = np.linalg.norm(H, axis=0) * np.linalg.norm(V, axis=1)
    assert np.all(use > 0) and np.all(np.sum(H**2, axis=0) * np.sum(V**2, axis=1) == 0)
    rows = make_rows(xp.asarray(X), xp.asarray(np.zeros((2, 1))), True, 2, None)
    rows.scan()
    params = Params(xp.asarray(Wt), None, xp.asarray(V), xp.asarray(np.zeros(1)), True)
    _, unit = redraw_unit(TrainingProblem(rows, slope, 0.0, True), params,
                          np.random.default_rng(0), 2)
    assert unit == int(np.argmin(use))


@given(problems())
def test_predict_matches_numpy_forward_pass(xp, prob):
    result = run_fit(xp, prob, max_iter=2)
    net = result.network
    predicted = net.predict(xp.asarray(prob.X))
    assert predicted.ndim == prob.y.ndim
    arrays = numpy_arrays(net)
    expected = numpy_forward(arrays, prob.X, prob.negative_slope, prob.skip)
    # Both are the definition computed in floating point, each within forward_error.
    bound = 2 * forward_error(state_of(prob, arrays, 0.0))
    difference = np.abs(np.reshape(to_numpy(predicted), bound.shape) - np.reshape(expected,
                                                                                 bound.shape))
    note(f"difference {difference}, bound {bound}")
    assert np.all(difference <= bound)


@given(problems(allow_skip=False), st.data())
def test_permuting_and_rescaling_units_keeps_predictions(xp, prob, data):
    net = run_fit(xp, prob, max_iter=2).network
    arrays = numpy_arrays(net)
    h = prob.hidden
    order = np.asarray(data.draw(st.permutations(range(h))))
    scales = np.asarray(data.draw(st.lists(st.floats(0.1, 10.0), min_size=h, max_size=h)))
    V = arrays["V"][order]
    changed = relu_altmin.TwoLayerNet(
        xp.asarray(arrays["W"][order] * scales[:, None]),
        None if arrays["b"] is None else xp.asarray(arrays["b"][order] * scales),
        xp.asarray(V / (scales[:, None] if V.ndim == 2 else scales)),
        None if arrays["c"] is None else xp.asarray(arrays["c"]),
        negative_slope=prob.negative_slope)
    X = xp.asarray(prob.X)
    before, after = to_numpy(net.predict(X)), to_numpy(changed.predict(X))
    # Both computed outputs are within forward_error of their networks' exact ones, and those
    # differ by the rounding of s W and V / s, 2 eps on each term of Z |V| (sigma(s z) =
    # s sigma(z) for s > 0).
    original = state_of(prob, arrays, 0.0)
    bound = (forward_error(original) + forward_error(state_of(prob, numpy_arrays(changed), 0.0))
             + gamma(2) * original.Z @ np.abs(original.V))
    difference = np.abs(np.reshape(after - before, bound.shape))
    note(f"difference {difference}, bound {bound}")
    assert np.all(difference <= bound)


@pytest.mark.parametrize("step", STEPS)
@given(problems())
def test_backends_agree_with_numpy(xp, step, prob):
    """The same start as NumPy, within rounding; and the objectives of every record are those
    of its network.

    The start's hidden weights are the same draw on every backend, and its output layer each
    backend's output solve: ``A theta = b + r`` with ``|r| <= R``
    (``_bounds.output_residual``, its ridge read off the solution). The fitted values
    ``Hb theta`` then differ from NumPy's by ``Hb A^{-1} (r - r')``, of norm at most
    ``sqrt(inverse_form(R + R'))`` (``Hb^T Hb <= A``), plus the rounding of each forward pass
    (``forward_error``); the objectives by the rounding of each (``objective_error``) plus the
    larger excess of the two over the least (``output_suboptimality``).

    After hidden steps no bound follows from rounding: the hidden problem depends on ``V``
    (through ``(D * Xt W^T) V``), so the directions in which the start's output layer is
    ill-determined (``n < p``, a tiny ridge) move its solution, and the objective, to first
    order. There each record's objective is compared with NumPy's objective of its network
    (each within ``objective_error``); the steps themselves are checked on every backend by
    the properties above.
    """
    from array_api_compat import numpy as xp_np

    start, reference = run_fit(xp, prob, max_iter=0), run_fit(xp_np, prob, max_iter=0)
    ours, theirs = (state_of(prob, numpy_arrays(r.network), reference.l2)
                    for r in (start, reference))
    np.testing.assert_array_equal(ours.Wt, theirs.Wt)  # the same draw
    fitted = excess = 0.0
    if prob.train_output:
        pairs = [(s, output_ridge(s)) for s in (ours, theirs)]
        fitted = np.sqrt(inverse_form(theirs, sum(output_residual(s, r) for s, r in pairs)))
        excess = max(output_suboptimality(s, r) for s, r in pairs)
    bound = fitted + forward_error(ours) + forward_error(theirs)
    difference = np.abs(np.reshape(to_numpy(start.network.predict(xp.asarray(prob.X))),
                                   bound.shape)
                        - np.reshape(reference.network.predict(prob.X), bound.shape))
    note(f"fitted values: difference / bound {np.max(difference / (bound + 1e-300)):.2e}")
    assert np.all(difference <= bound)
    gap = abs(start.history[0].objective - reference.history[0].objective)
    allowed = objective_error(ours) + objective_error(theirs) + excess
    note(f"start objective: difference {gap:.3e}, bound {allowed:.3e}")
    assert gap <= allowed

    result = run_fit(xp, prob, max_iter=2, step=step)
    for record, state in zip(result.history, record_states(prob, result), strict=True):
        penalty = float(np.sum(state.Wt**2) + np.sum(state.V**2))
        value = 0.5 * float(np.sum(state.E**2)) / state.n + 0.5 * result.l2 * penalty
        note(f"iteration {record.iteration}: objective {record.objective!r}, NumPy {value!r}")
        assert abs(record.objective - value) <= 2 * objective_error(state)


@given(problems(max_n=8))
def test_inputs_are_not_modified(xp, prob):
    X, y = xp.asarray(prob.X), xp.asarray(prob.y)
    init = xp.asarray(np.random.default_rng(prob.seed).standard_normal(
        (prob.hidden, prob.X.shape[1])))
    kwargs = {**prob.kwargs, "max_iter": 2, "init": init}
    if not prob.train_output:
        kwargs["output_weights"] = xp.asarray(prob.output_weights)
    copies = [to_numpy(a).copy() for a in (X, y, init)]
    result = relu_altmin.fit(X, y, prob.hidden, **kwargs)
    for original, copy in zip((X, y, init), copies, strict=True):
        np.testing.assert_array_equal(to_numpy(original), copy)
    assert type(result.network.W) is type(X)


@given(problems(max_n=8), st.sampled_from([None, 3]))
def test_tensors_that_require_grad_are_taken_as_data(prob, chunk_rows):
    """PyTorch inputs that require grad (data, a start and a known output layer, as
    ``nn.Parameter``s would), in memory or streamed: the same fit as from plain tensors, no
    autograd graph in the result, nothing accumulated in the inputs' ``.grad``."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(prob.seed)
    W0, b0 = rng.standard_normal((prob.hidden, prob.X.shape[1])), rng.standard_normal(prob.hidden)
    networks = []
    for grad in (False, True):
        def tensor(a, grad=grad):
            return torch.tensor(a, dtype=torch.float64, requires_grad=grad)

        inputs = {"X": tensor(prob.X), "y": tensor(prob.y), "W": tensor(W0), "b": tensor(b0)}
        kwargs = {**prob.kwargs, "max_iter": 2, "chunk_rows": chunk_rows,
                  "init": torch.concat([inputs["W"], inputs["b"][:, None]], dim=1)
                  if prob.bias else inputs["W"]}
        if not prob.train_output:
            kwargs["output_weights"] = inputs["V"] = tensor(prob.output_weights)
        networks.append(relu_altmin.fit(inputs["X"], inputs["y"], prob.hidden, **kwargs).network)
        assert all(a.grad is None for a in inputs.values())
    plain, tracked = networks
    for name in ("W", "b", "V", "c"):
        a, b = getattr(plain, name), getattr(tracked, name)
        if a is None:
            assert b is None
            continue
        assert not b.requires_grad, name
        np.testing.assert_array_equal(a.numpy(), b.detach().numpy(), err_msg=name)
