"""The gradient baselines (``relu_altmin.baselines``) against PyTorch and plain transcriptions.

The reference model, loss and gradients here are written in PyTorch with autograd, independent
of ``relu_altmin._model``: the loss is ``L = (1/2n)||Y - F||^2 + (l2/2)(||W||^2 + ||b||^2 +
||V||^2)`` (``torch.nn.MSELoss`` has no 1/2 and averages over outputs too, so it is not used).
Every method is followed step by step from the same start, in float64, to 1e-10.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _bounds import gamma
from conftest import to_numpy
from hypothesis import event, given, note
from hypothesis import strategies as st
from strategies import EPS64, Problem, problems
from test_properties import numpy_forward

import relu_altmin
from relu_altmin import TwoLayerNet, baselines
from relu_altmin._model import Params, augment, forward, gradients

torch = pytest.importorskip("torch")

RTOL = 1e-10
NAMES = ("W", "b", "V", "c")


# ----------------------------------------------------------------------------- reference model

def torch_loss(p: dict, X, Y, slope: float, skip: bool, l2: float):
    """``L`` of docs/design.md §2 written out in PyTorch; ``p`` maps W, b, V, c to tensors
    or None."""
    W = p["W"] + torch.eye(*p["W"].shape, dtype=torch.float64) if skip else p["W"]
    Z = X @ W.T
    if p["b"] is not None:
        Z = Z + p["b"]
    H = torch.where(Z > 0, Z, slope * Z)  # the derivative at a tie is the slope: inactive
    F = H @ p["V"]
    if p["c"] is not None:
        F = F + p["c"]
    penalty = sum((p[name] ** 2).sum() for name in ("W", "b", "V") if p[name] is not None)
    return ((Y - F) ** 2).sum() / (2 * X.shape[0]) + 0.5 * l2 * penalty


def torch_gradients(arrays: dict, X: np.ndarray, Y: np.ndarray, slope: float, skip: bool,
                    l2: float) -> dict:
    """Autograd's gradient of ``L`` at ``arrays`` (NumPy in, NumPy out)."""
    p = {name: None if a is None else torch.tensor(a, dtype=torch.float64, requires_grad=True)
         for name, a in arrays.items()}
    torch_loss(p, torch.tensor(X), torch.tensor(Y), slope, skip, l2).backward()
    return {name: None if t is None else t.grad.numpy() for name, t in p.items()}


@st.composite
def settings_for_a_run(draw, *, max_n: int = 16):
    """A problem, an ``l2`` and a random starting network, all NumPy float64."""
    prob = draw(problems(max_n=max_n))
    rng = np.random.default_rng(prob.seed + 1)
    n, d = prob.X.shape
    h = prob.hidden
    Y = np.reshape(prob.y, (n, -1))
    k = Y.shape[1]
    x_rms = math.sqrt(np.mean(prob.X**2)) + 1e-300
    y_rms = math.sqrt(np.mean(Y**2)) + 1e-300
    # Pre-activations of order 1, outputs of the order of y.
    start = {"W": rng.standard_normal((h, d)) / (math.sqrt(d) * x_rms),
             "b": 0.3 * rng.standard_normal(h) if prob.bias else None,
             "V": y_rms * rng.standard_normal((h, k)) / math.sqrt(h),
             "c": y_rms * rng.standard_normal(k) if prob.bias else None}
    l2 = draw(st.sampled_from([0.0, 1e-3, 0.1]))
    return prob, start, l2


def start_network(xp, prob: Problem, start: dict) -> TwoLayerNet:
    one_d = prob.y.ndim == 1
    V = start["V"][:, 0] if one_d else start["V"]
    c = None if start["c"] is None else (start["c"][0] if one_d else start["c"])
    return TwoLayerNet(xp.asarray(start["W"]),
                       None if start["b"] is None else xp.asarray(start["b"]),
                       xp.asarray(V), None if c is None else xp.asarray(c),
                       negative_slope=prob.negative_slope, skip=prob.skip)


def effective_start(prob: Problem, start: dict) -> dict:
    """The start :func:`train` uses: given output weights replace ``init.V``, and then (as in
    ``fit``) the fixed output bias is 0."""
    if prob.train_output:
        return start
    return {**start, "V": np.reshape(prob.output_weights, start["V"].shape),
            "c": None if start["c"] is None else np.zeros_like(start["c"])}


def trainable(prob: Problem) -> tuple[str, ...]:
    names = ("W", "b", "V", "c") if prob.train_output else ("W", "b")
    return tuple(name for name in names if prob.bias or name in ("W", "V"))


def smoothness(prob: Problem, start: dict, l2: float) -> float:
    """The curvature scale of ``L`` at the start, of its largest row, so that it is one of
    any minibatch's loss too: with the pattern held, row ``i``'s Gauss-Newton term is at most
    ``||x~_i||^2 (||V||^2 + ||W~||^2) + 1`` and its residual term (the W-V cross block,
    ``E_i D_i x~_i``) at most ``||E_i|| ||x~_i||``. Steps are chosen well below 1/it."""
    net = effective_start(prob, start)
    X, Y = prob.X, np.reshape(prob.y, (prob.X.shape[0], -1))
    W = net["W"] + (np.eye(*net["W"].shape) if prob.skip else 0.0)
    F = numpy_forward(net, X, prob.negative_slope, prob.skip)
    x2 = np.sum(X**2, axis=1) + (1.0 if prob.bias else 0.0)
    w2 = float(np.sum(W**2)) + (0.0 if net["b"] is None else float(np.sum(net["b"] ** 2)))
    rows = (x2 * (float(np.sum(net["V"] ** 2)) + w2) + 1.0
            + np.linalg.norm(F - Y, axis=1) * np.sqrt(x2))
    return float(np.max(rows)) + l2 + 1e-300


def run_train(xp, prob: Problem, start: dict, l2: float, method: str, lr: float, epochs: int,
              **options) -> tuple[baselines.FitResult, list[dict]]:
    """Train on ``xp``; return the result and every epoch's parameters (iteration 0 first)."""
    seen = [effective_start(prob, start)]

    def keep(record, net):
        assert record.iteration == len(seen)
        seen.append(numpy_parameters(net, prob))

    if not prob.train_output:
        options["output_weights"] = xp.asarray(prob.output_weights)
    result = baselines.train(
        xp.asarray(prob.X), xp.asarray(prob.y), prob.hidden, method=method, lr=lr,
        epochs=epochs, negative_slope=prob.negative_slope, l2=l2, bias=prob.bias,
        skip=prob.skip, train_output=prob.train_output, init=start_network(xp, prob, start),
        seed=prob.seed, callback=keep, **options)
    return result, seen


def numpy_parameters(net: TwoLayerNet, prob: Problem) -> dict:
    n = prob.X.shape[0]
    k = np.reshape(prob.y, (n, -1)).shape[1]
    out = {name: None if getattr(net, name) is None else to_numpy(getattr(net, name))
           for name in NAMES}
    out["V"] = np.reshape(out["V"], (prob.hidden, k))
    if out["c"] is not None:
        out["c"] = np.reshape(out["c"], (k,))
    return out


def assert_same_path(ours: list[dict], reference: list[dict], rtol: float = RTOL) -> None:
    assert len(ours) == len(reference)
    for epoch, (a, b) in enumerate(zip(ours, reference, strict=True)):
        for name in NAMES:
            if b[name] is None:
                assert a[name] is None
                continue
            err = float(np.linalg.norm(a[name] - b[name]))
            scale = float(np.linalg.norm(b[name]))
            note(f"epoch {epoch} {name}: |ours - reference| = {err:.3e}, |reference| = "
                 f"{scale:.3e}")
            assert err <= rtol * scale + 1e-300, (epoch, name, err, scale)


# ----------------------------------------------------------------------------- gradients

@given(settings_for_a_run(max_n=24))
def test_gradients_equal_autograd(xp, case):
    prob, start, l2 = case
    net = start_network(xp, prob, start)
    params = Params.from_network(net, xp)
    Xt = augment(xp.asarray(prob.X), prob.bias, xp)
    Y = xp.asarray(np.reshape(prob.y, (prob.X.shape[0], -1)))
    g = gradients(Xt, Y, params, forward(Xt, params, prob.negative_slope, xp), l2, xp)
    expected = torch_gradients(start, prob.X, np.reshape(prob.y, (prob.X.shape[0], -1)),
                               prob.negative_slope, prob.skip, l2)
    gWt = to_numpy(g.Wt)
    d = prob.X.shape[1]
    ours = {"W": gWt[:, :d], "b": gWt[:, d] if prob.bias else None, "V": to_numpy(g.V),
            "c": None if g.c is None else to_numpy(g.c)}
    # The error is rounding in sums of n terms, relative to the size of those terms.
    assert_same_path([ours], [expected], rtol=RTOL)


# ----------------------------------------------------------------------------- torch.optim

def torch_path(prob: Problem, start: dict, l2: float, epochs: int, make_optimizer,
               batch_size: int | None = None) -> list[dict]:
    """Train the PyTorch reference, one ``optimizer.step()`` per batch, same batches as ours."""
    n = prob.X.shape[0]
    X = torch.tensor(prob.X)
    Y = torch.tensor(np.reshape(prob.y, (n, -1)))
    first = effective_start(prob, start)
    names = trainable(prob)
    p = {name: None if a is None else torch.tensor(a, requires_grad=name in names)
         for name, a in first.items()}
    optimizer = make_optimizer([p[name] for name in names])
    rng = np.random.default_rng(prob.seed)  # init is given, so the permutations start at once
    path = [first]
    for _ in range(epochs):
        if batch_size is None or batch_size >= n:
            batches = [np.arange(n)]
        else:
            order = rng.permutation(n)
            batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
        for idx in batches:
            index = torch.as_tensor(idx)
            optimizer.zero_grad()
            torch_loss(p, X[index], Y[index], prob.negative_slope, prob.skip, l2).backward()
            optimizer.step()
        path.append({name: None if t is None else t.detach().numpy().copy()
                     for name, t in p.items()})
    return path


# (method, our options, the torch optimizer, whether the run is minibatch)
TORCH_CASES = {
    "gd": ("gd", {}, lambda lr: lambda ps: torch.optim.SGD(ps, lr=lr), False),
    "heavy_ball": ("heavy_ball", {"momentum": 0.9},
                   lambda lr: lambda ps: torch.optim.SGD(ps, lr=lr, momentum=0.9), False),
    "nesterov": ("nesterov", {"momentum": 0.8},
                 lambda lr: lambda ps: torch.optim.SGD(ps, lr=lr, momentum=0.8, nesterov=True),
                 False),
    "sgd": ("sgd", {}, lambda lr: lambda ps: torch.optim.SGD(ps, lr=lr), True),
    "sgd-momentum": ("sgd", {"momentum": 0.7},
                     lambda lr: lambda ps: torch.optim.SGD(ps, lr=lr, momentum=0.7), True),
    "sgd-nesterov": ("sgd", {"momentum": 0.6, "nesterov": True},
                     lambda lr: lambda ps: torch.optim.SGD(ps, lr=lr, momentum=0.6,
                                                           nesterov=True), True),
    "adam": ("adam", {"betas": (0.8, 0.99), "eps": 1e-7},
             lambda lr: lambda ps: torch.optim.Adam(ps, lr=lr, betas=(0.8, 0.99), eps=1e-7),
             False),
    "adam-minibatch": ("adam", {},
                       lambda lr: lambda ps: torch.optim.Adam(ps, lr=lr), True),
}


@pytest.mark.parametrize("case_name", list(TORCH_CASES))
@given(case=settings_for_a_run(), batch_size=st.integers(1, 6))
def test_follows_torch_optim(xp, case_name, case, batch_size):
    prob, start, l2 = case
    method, options, torch_optimizer, minibatch = TORCH_CASES[case_name]
    if method == "adam":
        # Adam moves every coordinate by about lr: a small fraction of the parameters' size.
        lr = 0.01 * min(math.sqrt(np.mean(start[name] ** 2)) for name in ("W", "V"))
    else:
        lr = 0.2 / smoothness(prob, start, l2)
    batch = batch_size if minibatch else None
    if batch is not None:
        options = {**options, "batch_size": batch}
    epochs = 3 if minibatch else 6
    result, ours = run_train(xp, prob, start, l2, method, lr, epochs, **options)
    assert result.stop_reason == "max_iter"
    reference = torch_path(prob, start, l2, epochs, torch_optimizer(lr), batch)
    assert_same_path(ours, reference)


# ----------------------------------------------------------------------------- transcriptions

def nesterov_schedule_path(x0: dict, grad, lr: float, epochs: int) -> list[dict]:
    """Su, Boyd and Candès' form of Nesterov's method.

    ``x_t = y_{t-1} - lr g(y_{t-1})``, ``y_t = x_t + (t-1)/(t+2) (x_t - x_{t-1})``, ``y_0 = x_0``.
    """
    x_prev, y, path = x0, x0, [x0]
    for t in range(1, epochs + 1):
        g = grad(y)
        x = {name: y[name] - lr * g[name] for name in y}
        beta = (t - 1) / (t + 2)
        y = {name: x[name] + beta * (x[name] - x_prev[name]) for name in x}
        x_prev = x
        path.append(x)
    return path


def two_step_path(x0: dict, grad, lr_hidden: float, lr_output: float, epochs: int) -> list:
    """p -= lr_hidden g on W and b, p -= lr_output g on V and c."""
    path = [x0]
    for _ in range(epochs):
        g = grad(path[-1])
        rate = {"W": lr_hidden, "b": lr_hidden, "V": lr_output, "c": lr_output}
        path.append({name: a - rate[name] * g[name] for name, a in path[-1].items()})
    return path


def polyak_path(x0: dict, grad, lr: float, momentum: float, epochs: int) -> list[dict]:
    """Polyak's heavy ball: p_{t+1} = p_t - lr g(p_t) + momentum (p_t - p_{t-1}), p_{-1} = p_0."""
    path = [x0]
    previous = x0
    for _ in range(epochs):
        current = path[-1]
        g = grad(current)
        path.append({name: current[name] - lr * g[name]
                     + momentum * (current[name] - previous[name]) for name in current})
        previous = current
    return path


@pytest.mark.parametrize("method", ["nesterov_schedule", "two_step", "heavy_ball"])
@given(case=settings_for_a_run())
def test_follows_numpy_transcription(xp, method, case):
    prob, start, l2 = case
    n = prob.X.shape[0]
    Y = np.reshape(prob.y, (n, -1))
    first = effective_start(prob, start)
    names = trainable(prob)

    def grad(p: dict) -> dict:
        full = {**first, **p}
        g = torch_gradients(full, prob.X, Y, prob.negative_slope, prob.skip, l2)
        return {name: g[name] for name in names}

    lr = 0.2 / smoothness(prob, start, l2)
    epochs = 6
    x0 = {name: first[name] for name in names}
    if method == "nesterov_schedule":
        expected = nesterov_schedule_path(x0, grad, lr, epochs)
        options = {}
    elif method == "two_step":
        # Unequal rates, so that swapping or sharing them shows.
        expected = two_step_path(x0, grad, lr, 0.3 * lr, epochs)
        options = {"lr_hidden": lr, "lr_output": 0.3 * lr}
    else:
        expected = polyak_path(x0, grad, lr, 0.9, epochs)
        options = {"momentum": 0.9}
    result, ours = run_train(xp, prob, start, l2, method, lr, epochs, **options)
    assert result.stop_reason == "max_iter"
    expected = [{**first, **p} for p in expected]
    # Polyak's unrolled form rounds differently from the buffer form: a looser tolerance.
    assert_same_path(ours, expected, rtol=RTOL if method != "heavy_ball" else 1e-8)


# ----------------------------------------------------------------------------- behaviour

@given(settings_for_a_run(max_n=24))
def test_gd_with_a_small_step_decreases_the_loss(xp, case):
    prob, start, l2 = case
    lr = 0.1 / smoothness(prob, start, l2)
    result, _ = run_train(xp, prob, start, l2, "gd", lr, 15)
    objectives = [record.objective for record in result.history]
    note(f"lr {lr}, objectives {objectives}, gradient norms "
         f"{[(r.grad_norm_W, r.grad_norm_V) for r in result.history]}")
    # Near an interpolating solution the loss is rounding noise: (eps ||Y||)^2 / n, give or take.
    scale = float(np.sum(prob.y**2)) / prob.X.shape[0]
    floor = 1e-24 * scale
    # The descent lemma holds within a pattern: an epoch that flips a pre-activation's sign
    # crosses a kink, where the gradient jumps and the loss may rise (found by the thorough
    # profile: 148.78 to 148.91 as the hidden gradient jumped from 0.16 to 0.85).
    for before, after, record in zip(objectives[:-1], objectives[1:], result.history[1:],
                                     strict=True):
        if record.pattern_flips:
            event("an epoch crossed a kink")
            continue
        assert after <= before * (1 + 8 * EPS64) + floor
    # A strict decrease in the first epoch where it flips nothing and its first-order
    # decrease, lr ||g||^2 (at least half of it realised at lr <= 1 / curvature), stands out
    # of the objective's rounding, that of a sum of n k squares (gamma(n k + 2) of it, twice:
    # before and after). A gradient whose step its parameters' ulps absorb moves nothing
    # (found by the thorough profile: a unit off at slope 4e-81, whose relative V-gradient is
    # 1 and absolute 1e-82).
    n, k = np.reshape(prob.y, (prob.X.shape[0], -1)).shape
    g = torch_gradients(effective_start(prob, start), prob.X,
                        np.reshape(prob.y, (n, k)), prob.negative_slope, prob.skip, l2)
    drop = lr * sum(float(np.sum(g[name] ** 2)) for name in trainable(prob))
    if not result.history[1].pattern_flips and drop / 2 > 2 * gamma(n * k + 2) * objectives[0]:
        assert objectives[1] < objectives[0]


def test_default_start_is_fits_start(xp):
    rng = np.random.default_rng(3)
    X, y = xp.asarray(rng.standard_normal((20, 3))), xp.asarray(rng.standard_normal(20))
    init = xp.asarray(rng.standard_normal((4, 3)))
    known = xp.ones(4, dtype=xp.float64)
    for kwargs in ({"seed": 5}, {"init": init}, {"seed": 6, "negative_slope": 0.1, "l2": 0.01},
                   {"seed": 7, "train_output": False, "output_weights": known}):
        ours = baselines.train(X, y, 4, method="gd", lr=0.1, epochs=0, **kwargs)
        # standardize=False: the baselines train on the data as given, from that fit's start.
        theirs = relu_altmin.fit(X, y, 4, max_iter=0, standardize=False,
                                 **{"l2": 0.0, **kwargs})
        assert ours.n_iter == 0 and ours.stop_reason == "max_iter"
        assert ours.history[0].loss == theirs.history[0].loss
        for name in NAMES:
            np.testing.assert_array_equal(to_numpy(getattr(ours.network, name)),
                                          to_numpy(getattr(theirs.network, name)))


def test_history_records(xp):
    rng = np.random.default_rng(4)
    X, y = rng.standard_normal((30, 2)), rng.standard_normal((30, 2))
    nets = []
    result = baselines.train(xp.asarray(X), xp.asarray(y), 5, method="sgd", lr=0.05, epochs=4,
                             batch_size=7, momentum=0.5, l2=0.01, seed=1,
                             callback=lambda record, net: nets.append(net))
    assert [r.iteration for r in result.history] == [0, 1, 2, 3, 4]
    assert [r.step for r in result.history] == [0.0, 0.05, 0.05, 0.05, 0.05]
    assert result.loss == result.history[-1].loss and not result.converged
    start = baselines.train(xp.asarray(X), xp.asarray(y), 5, method="sgd", lr=0.05, epochs=0,
                            l2=0.01, seed=1).network
    nets.insert(0, start)

    def pattern(net):
        return to_numpy(xp.matmul(xp.asarray(X), net.W.T) + net.b) > 0

    for record, before, after in zip(result.history[1:], nets[:-1], nets[1:], strict=True):
        assert record.pattern_flips == int(np.sum(pattern(before) != pattern(after)))
        F = to_numpy(after.predict(xp.asarray(X)))
        loss = float(np.mean(np.sum((F - y) ** 2, axis=1)))
        penalty = sum(float(np.sum(to_numpy(getattr(after, n)) ** 2)) for n in ("W", "b", "V"))
        assert record.loss == pytest.approx(loss, rel=1e-12)
        assert record.objective == pytest.approx(0.5 * loss + 0.005 * penalty, rel=1e-12)
        res = relu_altmin.critical_point_residuals(after, xp.asarray(X), xp.asarray(y), l2=0.01)
        assert record.grad_norm_W == pytest.approx(max(res["W"], res["b"]), rel=1e-9)
        assert record.grad_norm_V == pytest.approx(max(res["V"], res["c"]), rel=1e-9)
    assert sum(r.pattern_flips for r in result.history) > 0  # the count was exercised


def test_two_step_records_the_hidden_rate(xp):
    rng = np.random.default_rng(5)
    X, y = xp.asarray(rng.standard_normal((10, 2))), xp.asarray(rng.standard_normal(10))
    result = baselines.train(X, y, 3, method="two_step", lr=0.1, lr_output=0.2, epochs=2, seed=0)
    assert [r.step for r in result.history] == [0.0, 0.1, 0.1]


def test_float32_in_float32_out(xp):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((16, 3)).astype(np.float32)
    y = rng.standard_normal(16).astype(np.float32)
    kwargs = dict(method="adam", lr=0.01, epochs=3, seed=2, batch_size=5)
    low = baselines.train(xp.asarray(X), xp.asarray(y), 4, **kwargs).network
    high = baselines.train(xp.asarray(X.astype(np.float64)), xp.asarray(y.astype(np.float64)),
                           4, **kwargs).network
    for name in NAMES:
        assert getattr(low, name).dtype == xp.float32
        # The work is float64 in both runs: only the final cast differs.
        np.testing.assert_array_equal(to_numpy(getattr(low, name)),
                                      to_numpy(getattr(high, name)).astype(np.float32))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_divergence_stops_at_the_last_finite_epoch(xp, dtype):
    rng = np.random.default_rng(7)
    X = xp.asarray(rng.standard_normal((20, 3)), dtype=getattr(xp, dtype))
    y = xp.asarray(rng.standard_normal(20), dtype=getattr(xp, dtype))
    result = baselines.train(X, y, 4, method="gd", lr=1e4, epochs=200, seed=0)
    assert result.stop_reason == "diverged" and result.n_iter < 200
    assert all(math.isfinite(r.objective) for r in result.history)
    for name in NAMES:  # finite after the cast to the inputs' dtype, too
        assert np.all(np.isfinite(to_numpy(getattr(result.network, name))))


def test_callback_stops(xp):
    rng = np.random.default_rng(8)
    X, y = xp.asarray(rng.standard_normal((12, 2))), xp.asarray(rng.standard_normal(12))
    result = baselines.train(X, y, 3, method="nesterov_schedule", lr=0.01, epochs=10, seed=0,
                             callback=lambda record, net: record.iteration == 2)
    assert result.stop_reason == "callback" and result.n_iter == 2


def test_progress_prints_one_line_per_epoch(xp, capsys):
    rng = np.random.default_rng(10)
    X, y = xp.asarray(rng.standard_normal((12, 2))), xp.asarray(rng.standard_normal(12))
    baselines.train(X, y, 3, method="gd", lr=0.01, epochs=4, seed=0, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].split()[:3] == ["iter", "loss", "(MSE)"]
    assert [int(line.split()[0]) for line in lines[1:-1]] == [0, 1, 2, 3, 4]
    assert lines[-1].startswith("stopped: max_iter after 4 epochs")


@pytest.mark.parametrize("method", baselines.METHODS)
def test_nothing_passed_in_is_modified(xp, method):
    rng = np.random.default_rng(9)
    arrays = {"X": rng.standard_normal((12, 3)), "y": rng.standard_normal(12),
              "W": rng.standard_normal((3, 3)), "b": rng.standard_normal(3),
              "V": rng.standard_normal(3), "c": np.asarray(0.5), "known": np.ones(3)}
    given_arrays = {name: xp.asarray(a.copy()) for name, a in arrays.items()}
    init = TwoLayerNet(*(given_arrays[name] for name in ("W", "b", "V", "c")), skip=True)
    options = {"momentum": 0.5} if method in ("heavy_ball", "nesterov", "sgd") else {}
    if method in ("sgd", "adam"):
        options["batch_size"] = 5
    for train_output in (True, False):
        if not train_output:
            options["output_weights"] = given_arrays["known"]
        baselines.train(given_arrays["X"], given_arrays["y"], 3, method=method, lr=0.01,
                        epochs=3, init=init, skip=True, l2=0.1, train_output=train_output,
                        **options)
    for name, a in arrays.items():
        np.testing.assert_array_equal(to_numpy(given_arrays[name]), a)


# ----------------------------------------------------------------------------- bad input

@pytest.fixture
def no_work(monkeypatch):
    """Make every start and every gradient fail, so an error proves validation came first."""
    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the input was validated")

    for name in ("fit", "_start", "gradients", "forward"):
        monkeypatch.setattr(f"relu_altmin.baselines.{name}", forbidden)


def bad_train_cases(xp, X, y):
    """(call, exception, words the message must contain), all caught by train's own checks."""
    def train(**overrides):
        kwargs = {"method": "gd", "lr": 0.1, "epochs": 3, **overrides}
        data = {"X": X, "y": y, "hidden": 2}
        for name in ("X", "y", "hidden"):
            data[name] = kwargs.pop(name, data[name])
        return lambda: baselines.train(data["X"], data["y"], data["hidden"], **kwargs)

    n = X.shape[0]
    return [
        (train(method="lbfgs"), ValueError,
         r"method must be one of \('gd', 'heavy_ball', 'nesterov', 'nesterov_schedule', "
         r"'sgd', 'adam', 'two_step'\)"),
        (train(lr=0.0), ValueError, "lr must be finite and > 0"),
        (train(lr=-1.0), ValueError, "lr must be finite and > 0"),
        (train(lr=float("nan")), ValueError, "lr must be finite"),
        (train(lr=float("inf")), ValueError, "lr must be finite"),
        (train(lr="0.1"), TypeError, "lr must be a positive real number"),
        (train(lr=True), TypeError, "lr must be"),
        (train(epochs=-1), ValueError, "epochs must be >= 0"),
        (train(epochs=2.0), TypeError, "epochs must be an integer"),
        (train(method="sgd", batch_size=0), ValueError, "batch_size must be >= 1"),
        (train(method="sgd", batch_size=2.5), TypeError, "batch_size must be an integer"),
        (train(batch_size=4), ValueError, "batch_size is only used with method 'sgd' or 'adam'"),
        (train(method="heavy_ball", momentum=1.0), ValueError, r"momentum must be in \[0, 1\)"),
        (train(method="sgd", momentum=-0.1), ValueError, "momentum must be in"),
        (train(method="sgd", momentum="0.9"), TypeError, "momentum must be a real number"),
        (train(momentum=0.9), ValueError, "momentum is only used with method 'heavy_ball'"),
        (train(method="adam", momentum=0.9), ValueError, "momentum is only used"),
        (train(method="sgd", nesterov="yes"), TypeError, "nesterov must be a bool"),
        (train(method="heavy_ball", nesterov=True), ValueError,
         "nesterov is only used with method 'sgd'"),
        (train(method="adam", betas=(0.9,)), TypeError, "betas must be a pair"),
        (train(method="adam", betas=0.9), TypeError, "betas must be a pair"),
        (train(method="adam", betas=(1.0, 0.9)), ValueError, r"betas\[0\] must be in"),
        (train(method="adam", betas=(0.9, -0.5)), ValueError, r"betas\[1\] must be in"),
        (train(method="sgd", betas=(0.5, 0.5)), ValueError, "betas is only used with method"),
        (train(method="adam", eps=0.0), ValueError, "eps must be finite and > 0"),
        (train(eps=1e-6), ValueError, "eps is only used with method 'adam'"),
        (train(method="two_step", lr_hidden=-1.0), ValueError, "lr_hidden must be finite"),
        (train(method="two_step", lr_output=float("inf")), ValueError, "lr_output must be"),
        (train(lr_hidden=0.1), ValueError, "lr_hidden is only used with method 'two_step'"),
        (train(method="adam", lr_output=0.1), ValueError, "lr_output is only used"),
        (train(X=X[:, 0]), ValueError, "X must be 2-D"),
        (train(y=y[:-1]), ValueError, "y must have shape"),
        (train(X=xp.where(xp.arange(n)[:, None] == 0, xp.nan, X)), ValueError,
         "X contains NaN or inf"),
        (train(y=xp.astype(y, xp.int64)), TypeError, "y must have a real floating dtype"),
        (train(X=to_numpy(X).tolist()), TypeError, "X must be an array"),
        (train(hidden=0), ValueError, "hidden must be >= 1"),
        (train(negative_slope=1.0), ValueError, "negative_slope"),
        (train(l2=-1.0), ValueError, "l2 must be finite and >= 0"),
        (train(l2=None), TypeError, "l2 must be a non-negative real number"),
        (train(bias="yes"), TypeError, "bias must be a bool"),
        (train(train_output=1), TypeError, "train_output must be a bool"),
        (train(progress=None), TypeError, "progress must be a bool"),
        (train(seed="zero"), TypeError, "seed must be"),
        (train(seed=-1), ValueError, "seed must be a non-negative int"),
        (train(callback=3), TypeError, "callback must be callable"),
        (train(hidden=X.shape[1] + 1, skip=True), ValueError, "skip=True needs"),
        (train(output_weights=xp.ones(2, dtype=X.dtype)), ValueError,
         "output_weights is only used with train_output=False"),
    ]


@pytest.fixture
def data(xp):
    rng = np.random.default_rng(0)
    return xp.asarray(rng.standard_normal((12, 3))), xp.asarray(rng.standard_normal(12))


def test_rejects_bad_input_before_any_work(xp, data, no_work):
    X, y = data
    for call, exc, words in bad_train_cases(xp, X, y):
        with pytest.raises(exc, match=words):
            call()


def test_rejects_a_bad_start(xp, data):
    """The checks on ``init`` and ``output_weights`` are ``fit``'s own, with its messages."""
    X, y = data
    d = X.shape[1]
    cases = [
        ({"init": xp.ones((2, d + 2), dtype=X.dtype)}, ValueError, "init must have shape"),
        ({"init": TwoLayerNet(xp.ones((3, d), dtype=X.dtype), None, xp.ones(3, dtype=X.dtype),
                              None)}, ValueError, "init has 3 hidden units"),
        ({"init": TwoLayerNet(xp.ones((2, d), dtype=X.dtype), None,
                              xp.ones((2, 2), dtype=X.dtype), None)}, ValueError,
         "init has 2 outputs but y has 1"),
        ({"train_output": False}, ValueError, "train_output=False needs output_weights"),
        ({"train_output": False, "output_weights": xp.ones((3, 1), dtype=X.dtype)}, ValueError,
         "output_weights must have shape"),
    ]
    for kwargs, exc, words in cases:
        with pytest.raises(exc, match=words):
            baselines.train(X, y, 2, method="gd", lr=0.1, epochs=1, **kwargs)


def test_mixed_namespaces_are_rejected():
    with pytest.raises(TypeError, match="X, y must come from one array library"):
        baselines.train(np.ones((4, 2)), torch.ones(4, dtype=torch.float64), 2, method="gd",
                        lr=0.1, epochs=1)
