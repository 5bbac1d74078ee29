"""Export to PyTorch (issue 25, item 4): ``TwoLayerNet.to_torch`` and ``TwoLayerNet.from_torch``.

``to_torch()`` is ``Sequential(Linear(d, h), ReLU or LeakyReLU, Linear(h, k))`` computing the
network's function (skip connection folded into the first weight), on the network's device and
in its dtype; ``from_torch`` reads such a module back, exactly. Properties on drawn networks
(shapes, slopes, biases, outputs, skip, dtypes, array libraries), then trained networks, then
the modules that must be refused.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from _bounds import gamma, network_forward_error, ratio
from conftest import to_numpy
from hypothesis import given, note
from hypothesis import strategies as st
from strategies import slopes

import relu_altmin
from relu_altmin import TwoLayerNet

torch = pytest.importorskip("torch")

BACKENDS = ["numpy", "array_api_strict", "torch"]


def as_backend(a: np.ndarray | None, backend: str) -> Any:
    if a is None:
        return None
    if backend == "torch":
        return torch.from_numpy(np.array(a))
    if backend == "array_api_strict":
        return pytest.importorskip("array_api_strict").asarray(a)
    return a


@dataclass(frozen=True)
class Case:
    """A drawn network and inputs, with its parameters in NumPy (in the network's dtype)."""

    net: TwoLayerNet
    backend: str
    X: np.ndarray
    W: np.ndarray
    b: np.ndarray | None
    V: np.ndarray
    c: np.ndarray | None

    def inputs(self) -> Any:
        return as_backend(self.X, self.backend)

    def tolerance(self, extra: int = 0) -> np.ndarray:
        """Bound on ``|module(X) - predict(X)|``, per entry: each is within
        ``_bounds.network_forward_error`` of the exact outputs (forward error of the two
        layers, in the network's dtype and in any summation order: torch's and the
        package's), so they are within the sum. ``extra``: roundings of the first layer's
        weights made beforehand by one of the two (``from_torch``'s ``(W + I) - I``, 2)."""
        return sum(network_forward_error(self.X, self.W, self.b, self.V, self.c, self.net.skip,
                                         float(np.finfo(self.W.dtype).eps), more)
                   for more in (0, extra))


@st.composite
def cases(draw, backends=BACKENDS) -> Case:
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    d = draw(st.integers(1, 5))
    skip = draw(st.booleans())
    h = d if skip else draw(st.integers(1, 5))
    k = draw(st.integers(1, 3))
    one_d = k == 1 and draw(st.booleans())
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    backend = draw(st.sampled_from(backends))
    scale = 10.0 ** draw(st.integers(-2, 2))
    n = draw(st.integers(1, 16))
    X = (scale * rng.standard_normal((n, d))).astype(dtype)
    W = (rng.standard_normal((h, d)) / scale).astype(dtype)
    b = rng.standard_normal(h).astype(dtype) if draw(st.booleans()) else None
    V = rng.standard_normal((h,) if one_d else (h, k)).astype(dtype)
    c = rng.standard_normal(() if one_d else (k,)).astype(dtype) \
        if draw(st.booleans()) else None
    if c is not None and c.ndim == 0:
        c = np.asarray(c)
    net = TwoLayerNet(*(as_backend(a, backend) for a in (W, b, V, c)),
                      negative_slope=draw(slopes), skip=skip)
    return Case(net, backend, X, W, b, V, c)


def check_structure(module, case: Case) -> None:
    h, d = case.W.shape
    k = 1 if case.V.ndim == 1 else case.V.shape[1]
    assert isinstance(module, torch.nn.Sequential) and len(module) == 3
    first, act, second = module
    assert type(first) is torch.nn.Linear and type(second) is torch.nn.Linear
    assert (first.in_features, first.out_features) == (d, h)
    assert (second.in_features, second.out_features) == (h, k)
    assert (first.bias is None) == (case.b is None)
    assert (second.bias is None) == (case.c is None)
    if case.net.negative_slope == 0:
        assert type(act) is torch.nn.ReLU
    else:
        assert type(act) is torch.nn.LeakyReLU
        assert act.negative_slope == case.net.negative_slope
    want_dtype = torch.float32 if case.W.dtype == np.float32 else torch.float64
    device = case.net.W.device if case.backend == "torch" else torch.device("cpu")
    for p in module.parameters():
        assert p.dtype == want_dtype and p.device == device


@given(case=cases())
def test_to_torch_predicts_like_the_network(case):
    rng_state = torch.random.get_rng_state()
    module = case.net.to_torch()
    # Building the layers drew nothing from torch's global generator.
    assert torch.equal(torch.random.get_rng_state(), rng_state)
    check_structure(module, case)
    with torch.no_grad():
        got = to_numpy(module(torch.from_numpy(case.X))).astype(np.float64)
    want = to_numpy(case.net.predict(case.inputs())).astype(np.float64)
    want = want.reshape(len(case.X), -1)
    note(f"output error / bound {ratio(got - want, case.tolerance()):.3e}")
    assert np.all(np.abs(got - want) <= case.tolerance())


@given(case=cases())
def test_from_torch_round_trips(case):
    net = case.net
    module = net.to_torch()
    back = TwoLayerNet.from_torch(module, skip=net.skip, one_d=net.V.ndim == 1)
    assert back.negative_slope == net.negative_slope and back.skip == net.skip
    arrays = {"W": case.W, "b": case.b, "V": case.V, "c": case.c}
    for name, want in arrays.items():
        got = getattr(back, name)
        if want is None:
            assert got is None
            continue
        assert isinstance(got, torch.Tensor) and not got.requires_grad
        assert tuple(got.shape) == want.shape and to_numpy(got).dtype == want.dtype
        if name != "W" or not net.skip:
            assert np.array_equal(to_numpy(got), want), name
    if net.skip:  # (W + I) - I: W to rounding, the function to rounding
        # fl(fl(W + I) - I) - W = (W + I) d1 (1 + d2) + W d2, |d| <= eps: within
        # gamma(2) (|W| + I), entry by entry
        eps = float(np.finfo(case.W.dtype).eps)
        W = case.W.astype(np.float64)
        unfolded = to_numpy(back.W).astype(np.float64)
        assert np.all(np.abs(unfolded - W) <= gamma(2, eps) * (np.abs(W) + np.eye(len(W))))
    X = torch.from_numpy(case.X)
    got = to_numpy(back.predict(X)).astype(np.float64).reshape(len(case.X), -1)
    want = to_numpy(net.predict(case.inputs())).astype(np.float64).reshape(len(case.X), -1)
    # (W + I) - I, then + I again in predict: two more roundings of the first layer's weights
    tolerance = case.tolerance(extra=2 if net.skip else 0)
    note(f"round trip error / bound {ratio(got - want, tolerance):.3e}")
    assert np.all(np.abs(got - want) <= tolerance)
    # Copies both ways: changing the module leaves the networks alone, and back.
    with torch.no_grad():
        for p in module.parameters():
            p.add_(1.0)
    for name, want in arrays.items():
        if want is not None:
            assert np.array_equal(to_numpy(getattr(net, name)), want), name
            if name != "W" or not net.skip:
                assert np.array_equal(to_numpy(getattr(back, name)), want), name


@pytest.mark.parametrize(("backend", "one_d", "bias", "skip", "slope", "float32"), [
    ("numpy", True, True, False, 0.1, False),
    ("numpy", False, False, False, 0.0, True),
    ("numpy", True, True, True, 0.2, False),
    ("torch", True, True, False, 0.0, True),
    ("torch", False, True, True, 0.1, False),
])
def test_trained_network_round_trips(backend, one_d, bias, skip, slope, float32):
    X, y = relu_altmin.load_diabetes()
    X, y = X[:120], (y[:120] if one_d else np.c_[y[:120], X[:120, 0] * X[:120, 1]])
    dtype = np.float32 if float32 else np.float64
    X, y = X.astype(dtype), y.astype(dtype)
    result = relu_altmin.fit(as_backend(X, backend), as_backend(y, backend), 10,
                             negative_slope=slope, bias=bias, skip=skip, seed=0, max_iter=4)
    net = result.network
    module = net.to_torch()
    with torch.no_grad():
        out = to_numpy(module(torch.from_numpy(X)))
    want = to_numpy(net.predict(as_backend(X, backend)))
    assert out.shape == (len(X), 1 if one_d else 2)
    eps = float(np.finfo(dtype).eps)
    case = Case(net, backend, X, *(None if a is None else to_numpy(a)
                                   for a in (net.W, net.b, net.V, net.c)))
    tolerance = case.tolerance().reshape(want.shape)
    assert np.all(np.abs(out.reshape(want.shape) - want) <= tolerance)
    back = TwoLayerNet.from_torch(module, skip=skip, one_d=one_d)
    assert back.negative_slope == slope and back.n_outputs == net.n_outputs
    for name in ("b", "V", "c") + (() if skip else ("W",)):
        want_p, got_p = getattr(net, name), getattr(back, name)
        assert (got_p is None) == (want_p is None)
        if want_p is not None:
            assert np.array_equal(to_numpy(got_p), to_numpy(want_p)), name
    got = to_numpy(back.predict(torch.from_numpy(X)))
    assert np.all(np.abs(got - want) <= case.tolerance(extra=2 if skip else 0).reshape(
        want.shape))
    # The round trip keeps the critical-point residuals of the fit.
    residuals = relu_altmin.critical_point_residuals(back, torch.from_numpy(X),
                                                     torch.from_numpy(y), l2=result.l2)
    expected = relu_altmin.critical_point_residuals(net, as_backend(X, backend),
                                                    as_backend(y, backend), l2=result.l2)
    for key, value in expected.items():
        assert residuals[key] == pytest.approx(value, rel=1e-3, abs=1e-3 * eps ** 0.5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device for torch")
def test_to_torch_stays_on_the_gpu():
    rng = np.random.default_rng(0)
    net = TwoLayerNet(*(torch.from_numpy(a).cuda() for a in (
        rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(4).astype(np.float32),
        rng.standard_normal((4, 2)).astype(np.float32), rng.standard_normal(2).astype(np.float32),
    )), negative_slope=0.1)
    module = net.to_torch()
    assert all(p.device == net.W.device and p.dtype == torch.float32
               for p in module.parameters())
    X = torch.from_numpy(rng.standard_normal((5, 3)).astype(np.float32)).cuda()
    torch.testing.assert_close(module(X).detach(), net.predict(X))
    back = TwoLayerNet.from_torch(module)
    assert back.W.device == net.W.device and torch.equal(back.V, net.V)


def bad_modules():
    nn = torch.nn
    f64 = {"dtype": torch.float64}
    nan = nn.Linear(2, 3)
    with torch.no_grad():
        nan.weight[0, 0] = float("nan")
    return [
        ("linear alone", nn.Linear(2, 3), {}, TypeError, "must be a torch.nn.Sequential"),
        ("two layers", nn.Sequential(nn.Linear(2, 3), nn.ReLU()), {}, ValueError,
         "must have 3 layers .* got 2: Linear, ReLU"),
        ("four layers", nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1), nn.ReLU()),
         {}, ValueError, "must have 3 layers"),
        ("tanh", nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)), {}, TypeError,
         "layer 1 of module must be a torch.nn.ReLU or torch.nn.LeakyReLU, got Tanh"),
        ("identity first", nn.Sequential(nn.Identity(), nn.ReLU(), nn.Linear(3, 1)), {},
         TypeError, "layer 0 of module must be a torch.nn.Linear, got Identity"),
        ("bilinear last", nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Bilinear(3, 3, 1)), {},
         TypeError, "layer 2 of module must be a torch.nn.Linear, got Bilinear"),
        ("sizes", nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(4, 1)), {}, ValueError,
         "layer 2 of module takes 4 inputs but layer 0 has 3 outputs"),
        ("slope 1", nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(1.0), nn.Linear(3, 1)), {},
         ValueError, "LeakyReLU with negative_slope 1.0; it must be in"),
        ("slope < 0", nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(-0.1), nn.Linear(3, 1)), {},
         ValueError, "negative_slope -0.1"),
        ("dtypes", nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1, **f64)), {},
         TypeError, "layer 2 weight has dtype torch.float64 but its layer 0 weight has "
         "torch.float32"),
        ("complex", nn.Sequential(nn.Linear(2, 3, dtype=torch.complex64), nn.ReLU(),
                                  nn.Linear(3, 1, dtype=torch.complex64)), {}, TypeError,
         "layer 0 weight must have a real floating dtype"),
        ("devices", nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1, device="meta")),
         {}, ValueError, "layer 2 weight is on device meta but its layer 0 weight is on cpu"),
        ("nan", nn.Sequential(nan, nn.ReLU(), nn.Linear(3, 1)), {}, ValueError,
         "layer 0 weight contains NaN or inf"),
        ("one_d with 2 outputs", nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 2)),
         {"one_d": True}, ValueError, "one_d=True needs a single output"),
        ("skip not square", nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)),
         {"skip": True}, ValueError, r"skip=True needs as many .* Linear\(2, 3\)"),
        ("skip not bool", nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Linear(3, 1)),
         {"skip": 1}, TypeError, "skip must be a bool"),
    ]


@pytest.mark.parametrize(("module", "kwargs", "error", "match"),
                         [case[1:] for case in bad_modules()],
                         ids=[case[0] for case in bad_modules()])
def test_from_torch_rejects_other_modules(module, kwargs, error, match):
    with pytest.raises(error, match=match):
        TwoLayerNet.from_torch(module, **kwargs)


def test_from_torch_reads_any_sequential_of_the_shape():
    """A module built by hand (not by to_torch) reads back: weights, biases, slope."""
    module = torch.nn.Sequential(torch.nn.Linear(3, 4, bias=False), torch.nn.LeakyReLU(0.25),
                                 torch.nn.Linear(4, 2))
    net = TwoLayerNet.from_torch(module)
    assert net.b is None and net.negative_slope == 0.25 and net.n_outputs == 2
    assert torch.equal(net.W, module[0].weight) and torch.equal(net.V, module[2].weight.T)
    X = torch.randn(7, 3)
    torch.testing.assert_close(net.predict(X), module(X).detach())


def test_torch_missing_says_how_to_install(monkeypatch):
    net = TwoLayerNet(np.ones((2, 2)), None, np.ones(2), None)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(ImportError, match="pip install torch"):
        net.to_torch()
    with pytest.raises(ImportError, match="pip install torch"):
        TwoLayerNet.from_torch(object())
