"""Bad input (docs/design.md §6): a clear error naming the argument, raised before any work."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import to_numpy

import relu_altmin
from relu_altmin import TwoLayerNet, critical_point_residuals, fit


@pytest.fixture
def data(xp):
    rng = np.random.default_rng(0)
    return xp.asarray(rng.standard_normal((12, 3))), xp.asarray(rng.standard_normal(12))


@pytest.fixture
def no_work(monkeypatch):
    """Make every solve fail loudly, so an error raised by validation proves it came first."""
    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the input was validated")

    monkeypatch.setattr("relu_altmin._problem.output_solve", forbidden)
    monkeypatch.setattr("relu_altmin._problem.TrainingProblem.evaluate", forbidden)
    monkeypatch.setattr("relu_altmin._systems.HiddenSystem.build", forbidden)
    monkeypatch.setattr("relu_altmin._systems.MatrixFreeSystem.build", forbidden)


def bad_fit_cases(xp, X, y):
    """(description, call, exception, words the message must contain)."""
    n, d = X.shape
    X_nan = xp.where(xp.arange(n)[:, None] == 0, xp.nan, X)
    y_inf = xp.where(xp.arange(n) == 1, xp.inf, y)
    return [
        ("1-D X", lambda: fit(X[:, 0], y, 2), ValueError, "X must be 2-D"),
        ("0 rows", lambda: fit(X[:0, :], y[:0], 2), ValueError, "X must have at least one row"),
        ("0 columns", lambda: fit(X[:, :0], y, 2), ValueError, "X must have at least one column"),
        ("y too short", lambda: fit(X, y[:-1], 2), ValueError, "y must have shape"),
        ("3-D y", lambda: fit(X, xp.reshape(y, (n, 1, 1)), 2), ValueError, "y must have shape"),
        ("NaN in X", lambda: fit(X_nan, y, 2), ValueError, "X contains NaN or inf"),
        ("inf in y", lambda: fit(X, y_inf, 2), ValueError, "y contains NaN or inf"),
        ("integer X", lambda: fit(xp.astype(X, xp.int64), y, 2), TypeError, "X must have a real"),
        ("boolean y", lambda: fit(X, y > 0, 2), TypeError, "y must have a real"),
        ("list X", lambda: fit(to_numpy(X).tolist(), y, 2), TypeError, "X must be an array"),
        ("hidden 0", lambda: fit(X, y, 0), ValueError, "hidden must be >= 1"),
        ("hidden float", lambda: fit(X, y, 2.0), TypeError, "hidden must be an integer"),
        ("hidden bool", lambda: fit(X, y, True), TypeError, "hidden must be an integer"),
        ("slope 1", lambda: fit(X, y, 2, negative_slope=1.0), ValueError, "negative_slope"),
        ("slope < 0", lambda: fit(X, y, 2, negative_slope=-0.1), ValueError, "negative_slope"),
        ("slope NaN", lambda: fit(X, y, 2, negative_slope=float("nan")), ValueError,
         "negative_slope"),
        ("slope str", lambda: fit(X, y, 2, negative_slope="0.1"), TypeError, "negative_slope"),
        ("l2 < 0", lambda: fit(X, y, 2, l2=-1.0), ValueError, "l2 must be finite and >= 0"),
        ("l2 inf", lambda: fit(X, y, 2, l2=float("inf")), ValueError, "l2 must be finite"),
        ("tol < 0", lambda: fit(X, y, 2, tol=-1e-3), ValueError, "tol must be finite"),
        ("max_iter < 0", lambda: fit(X, y, 2, max_iter=-1), ValueError, "max_iter must be >= 0"),
        ("solver", lambda: fit(X, y, 2, solver="sgd"), ValueError, "solver must be one of"),
        ("max_dense_bytes < 0", lambda: fit(X, y, 2, max_dense_bytes=-1), ValueError,
         "max_dense_bytes must be >= 0"),
        ("max_dense_bytes float", lambda: fit(X, y, 2, max_dense_bytes=1e9), TypeError,
         "max_dense_bytes must be an integer"),
        ("n_jobs 0", lambda: fit(X, y, 2, n_jobs=0), ValueError, "n_jobs must not be 0"),
        ("n_jobs float", lambda: fit(X, y, 2, n_jobs=1.5), TypeError, "n_jobs must be an int"),
        ("curvature_rows 0", lambda: fit(X, y, 2, curvature_rows=0), ValueError,
         "curvature_rows must be >= 1"),
        ("step", lambda: fit(X, y, 2, step="newton"), ValueError, "step must be one of"),
        ("step None", lambda: fit(X, y, 2, step=None), ValueError, "step must be one of"),
        ("bias str", lambda: fit(X, y, 2, bias="yes"), TypeError, "bias must be a bool"),
        ("skip width", lambda: fit(X, y, d + 1, skip=True), ValueError, "skip=True needs"),
        ("known output missing", lambda: fit(X, y, 2, train_output=False), ValueError,
         "train_output=False needs output_weights"),
        ("known output shape", lambda: fit(X, y, 2, train_output=False,
                                           output_weights=xp.ones((3, 1), dtype=X.dtype)),
         ValueError, "output_weights must have shape"),
        ("output weights unused", lambda: fit(X, y, 2, output_weights=xp.ones(2, dtype=X.dtype)),
         ValueError, "output_weights is only used"),
        ("init shape", lambda: fit(X, y, 2, init=xp.ones((2, d + 2), dtype=X.dtype)), ValueError,
         "init must have shape"),
        ("init string", lambda: fit(X, y, 2, init="row"), ValueError,
         "init must be a TwoLayerNet, an array or 'rows'"),
        ("init rows skip", lambda: fit(X, y, d, init="rows", skip=True), ValueError,
         "init='rows' does not apply with skip=True"),
        ("init net width", lambda: fit(X, y, 3, init=TwoLayerNet(
            xp.ones((2, d), dtype=X.dtype), None, xp.ones(2, dtype=X.dtype), None)), ValueError,
         "init has 2 hidden units"),
        ("seed", lambda: fit(X, y, 2, seed="zero"), TypeError, "seed must be"),
        ("negative seed", lambda: fit(X, y, 2, seed=-1), ValueError, "seed must be a non-neg"),
        ("callback", lambda: fit(X, y, 2, callback=3), TypeError, "callback must be callable"),
    ]


def test_fit_rejects_bad_input_before_any_work(xp, data, no_work):
    X, y = data
    for description, call, exc, words in bad_fit_cases(xp, X, y):
        with pytest.raises(exc, match=words):
            call()
        assert description  # every case ran


def test_mixed_namespaces_are_rejected(no_work):
    torch = pytest.importorskip("torch")
    X = np.ones((4, 2))
    with pytest.raises(TypeError, match="X, y must come from one array library"):
        fit(X, torch.ones(4, dtype=torch.float64), 2)
    with pytest.raises(TypeError, match="one array library"):
        fit(X, np.ones(4), 2, init=torch.ones((2, 2), dtype=torch.float64))


def test_network_rejects_inconsistent_parameters(xp):
    W, V = xp.ones((2, 3), dtype=xp.float64), xp.ones(2, dtype=xp.float64)
    with pytest.raises(ValueError, match=r"b must have shape \(2,\)"):
        TwoLayerNet(W, xp.ones(3, dtype=xp.float64), V, None)
    with pytest.raises(ValueError, match="V must have shape"):
        TwoLayerNet(W, None, xp.ones(3, dtype=xp.float64), None)
    with pytest.raises(ValueError, match="c must have shape"):
        TwoLayerNet(W, None, V, xp.ones(2, dtype=xp.float64))
    with pytest.raises(TypeError, match="V has dtype"):
        TwoLayerNet(W, None, xp.ones(2, dtype=xp.float32), None)
    with pytest.raises(ValueError, match="skip=True needs"):
        TwoLayerNet(W, None, V, None, skip=True)
    net = TwoLayerNet(W, None, V, None)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 3\)"):
        net.predict(xp.ones((4, 2), dtype=xp.float64))
    with pytest.raises(ValueError, match="y must have 1 outputs"):
        critical_point_residuals(net, xp.ones((4, 3), dtype=xp.float64),
                                 xp.ones((4, 2), dtype=xp.float64))


def test_singular_systems_are_regularised(xp):
    """l2=0 with a dead unit, a zero feature and duplicated features: no LinAlgError."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((10, 2))
    X = np.c_[X, X[:, :1], np.zeros(10)]  # a duplicate and an all-zero column
    y = rng.standard_normal(10)
    init = np.c_[rng.standard_normal((3, 4)), np.zeros(3)]
    init[0] = 0.0
    init[0, -1] = -1.0  # bias -1, no weights: this unit never fires (ReLU)
    result = fit(xp.asarray(X), xp.asarray(y), 3, l2=0.0, init=xp.asarray(init), max_iter=5)
    assert np.isfinite(result.loss)
    for name in ("W", "b", "V", "c"):
        assert np.all(np.isfinite(to_numpy(getattr(result.network, name))))


def test_mixed_float_dtypes_promote(xp):
    rng = np.random.default_rng(2)
    X = xp.asarray(rng.standard_normal((8, 2)).astype(np.float32))
    y = xp.asarray(rng.standard_normal(8))
    net = relu_altmin.fit(X, y, 2, max_iter=1, seed=0).network
    assert net.W.dtype == xp.float64


@pytest.mark.parametrize("seed", [367, 1, 2])
def test_rank_deficient_output_solve_is_regularised(xp, seed):
    """l2=0 with fewer samples than units: H^T H is singular. An LU solve returns no error but
    a meaningless V (about 5e15 for seed 367); the backward-error check must catch it."""
    rng = np.random.default_rng(seed)
    n, hidden, d, k = (int(rng.integers(1, 6)), 0, 0, 0)
    hidden, d, k = int(rng.integers(n + 1, 12)), int(rng.integers(1, 5)), int(rng.integers(1, 3))
    X, y = xp.asarray(rng.standard_normal((n, d))), xp.asarray(rng.standard_normal((n, k)))
    slope, bias = float(rng.choice([0.0, 0.1])), bool(rng.integers(2))
    result = fit(X, y, hidden, l2=0.0, max_iter=0, seed=seed, negative_slope=slope, bias=bias)
    assert result.residuals["V"] <= 1e-6
    assert np.abs(to_numpy(result.network.V)).max() < 1e6
