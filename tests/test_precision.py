"""The precision policy (``fit(precision=...)``, docs/method.md, "Precision"): float32 rows are
reduced in float32 block by block, every sum over blocks and every loss in float64, and
``precision="float64"`` is the float64 fit of the same values."""

from __future__ import annotations

import numpy as np
import pytest
from _bounds import State
from conftest import to_numpy
from hypothesis import given
from hypothesis import strategies as st

import relu_altmin
from relu_altmin._model import Params
from relu_altmin._problem import TrainingProblem
from relu_altmin._rows import BLOCK_ROWS, FLOAT32_MIN_ROWS, make_rows

EPS32 = float(np.finfo(np.float32).eps)
EPS64 = float(np.finfo(np.float64).eps)


def gamma(n: int, eps: float) -> float:
    return n * eps / (1.0 - n * eps)


@st.composite
def integer_states(draw):
    """Integer rows and weights on which every float32 product and every float32 sum within a
    block of ``BLOCK_ROWS`` rows is exact, while the sums over all rows are not representable
    in float32 (beyond ``2**24``): an evaluation is then exact if and only if every sum that
    crosses a block, and every squared error, is accumulated in float64.

    ``X``, ``W`` and ``V`` in {-1, 1}, ``b`` in {0, 1}, ``d <= 2``: ``|H| <= 3``, ``|F| <= 9``;
    targets ``560..580`` plus noise in [-4, 4], so ``547 <= |E| <= 593``: a block's gradient
    sums are at most ``3 * 593 * 8192 < 2**24``, while at least 4 blocks make a sum over rows
    of ``E`` (the output bias's gradient) exceed ``4 * 8192 * 547 > 2**24``."""
    d, h, k = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 2))
    n = draw(st.integers(4 * BLOCK_ROWS, 5 * BLOCK_ROWS - 1))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.choice([-1.0, 1.0], size=(n, d))
    offset = draw(st.integers(560, 580))
    Y = offset + rng.integers(-4, 5, size=(n, k)).astype(np.float64)
    Wt = np.c_[rng.choice([-1.0, 1.0], size=(h, d)), rng.integers(0, 2, size=h)]
    V = rng.choice([-1.0, 1.0], size=(h, k))
    return X, Y, Wt, V, np.zeros(k)


@given(integer_states())
def test_float32_sums_are_exact_where_float64_sums_are(xp, state):
    """The same evaluation on float32 and float64 rows agrees bit for bit on integer data
    (above): fails if a block's squared error, or a sum across blocks, stays in float32, or if
    the rows are not cut into blocks."""
    X, Y, Wt, V, c = state
    params = Params(*(xp.asarray(a) for a in (Wt,)), None, xp.asarray(V), xp.asarray(c), True)
    evaluations = []
    for dtype in (np.float32, np.float64):
        rows = make_rows(xp.asarray(X.astype(dtype)), xp.asarray(Y.astype(dtype)), True,
                         Wt.shape[0], None)
        assert rows.work == getattr(xp, dtype.__name__)
        evaluations.append(TrainingProblem(rows, 0.0, 0.0, True).evaluate(params))
    low, high = evaluations
    assert low.loss == high.loss and low.h_norm == high.h_norm
    for name in ("Wt", "V", "c"):
        a, b = getattr(low.grad, name), getattr(high.grad, name)
        assert a.dtype == xp.float64, name
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b), err_msg=name)


@st.composite
def small_problems(draw):
    n, d, h = draw(st.integers(2, 40)), draw(st.integers(1, 4)), draw(st.integers(1, 5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1e-2, 1.0, 1e2]))
    X = scale * rng.standard_normal((n, d))
    y = rng.standard_normal(n) if draw(st.booleans()) else rng.standard_normal((n, 2))
    return X.astype(np.float32), y.astype(np.float32), h, draw(st.sampled_from([0.0, 0.1])), \
        draw(st.integers(0, 2**16))


@given(small_problems())
def test_float32_loss_is_the_returned_networks(xp, problem):
    """A float32 fit returns a float32 network whose float64 training MSE on the float32 data
    is ``FitResult.loss``, to the rounding of a float32 forward pass (each output off by at
    most ``gamma_32(d~ + h + 5)`` times its terms, ``_bounds.State.U``) and of a float64 sum."""
    X, y, h, slope, seed = problem
    result = relu_altmin.fit(xp.asarray(X), xp.asarray(y), h, negative_slope=slope, seed=seed,
                             max_iter=3, standardize=False, precision="data")
    net = result.network
    assert all(a is None or a.dtype == xp.float32 for a in (net.W, net.b, net.V, net.c))
    assert net.predict(xp.asarray(X)).dtype == xp.float32
    arrays = {name: None if getattr(net, name) is None
              else to_numpy(getattr(net, name)).astype(np.float64) for name in "WbVc"}
    s = State.of(X.astype(np.float64), y.astype(np.float64), arrays, slope, False, 0.0)
    e = gamma(s.Wt.shape[1] + s.Wt.shape[0] + 5, EPS32) * s.U
    sse = float(np.sum(s.E**2))
    bound = float(np.sum((2 * np.abs(s.E) + e) * e)) + gamma(s.E.size + 1, EPS64) * sse
    assert abs(result.loss * s.n - sse) <= bound


@pytest.mark.parametrize("precision", ["float64", "auto"])
@given(problem=small_problems())
def test_float32_with_precision_float64_is_the_float64_fit(xp, precision, problem):
    """``precision="float64"``, and ``"auto"`` below ``FLOAT32_MIN_ROWS`` rows: float32 data is
    promoted end to end; the network equals that of the float64 fit of the same values, cast
    to float32, bit for bit."""
    X, y, h, slope, seed = problem
    kwargs = dict(negative_slope=slope, seed=seed, max_iter=2)
    net32 = relu_altmin.fit(xp.asarray(X), xp.asarray(y), h, precision=precision,
                            **kwargs).network
    net64 = relu_altmin.fit(xp.asarray(X.astype(np.float64)), xp.asarray(y.astype(np.float64)),
                            h, **kwargs).network
    for name in ("W", "b", "V", "c"):
        a, b = getattr(net32, name), getattr(net64, name)
        assert a.dtype == xp.float32
        np.testing.assert_array_equal(to_numpy(a), to_numpy(b).astype(np.float32), err_msg=name)


@pytest.mark.parametrize(("rows", "precision", "float32"), [
    (FLOAT32_MIN_ROWS - 1, "auto", False), (FLOAT32_MIN_ROWS, "auto", True),
    (FLOAT32_MIN_ROWS - 1, "data", True), (FLOAT32_MIN_ROWS, "float64", False)])
def test_precision_auto_keeps_float32_from_the_row_threshold(rows, precision, float32):
    X = np.ones((rows, 2), dtype=np.float32)
    for x, y in ((X, np.ones(rows, dtype=np.float32)), (X, np.ones(rows))):
        work = make_rows(x, y, True, 2, None, precision).work
        # float32 X with float64 y is float64 work whatever the precision
        assert work == (np.float32 if float32 and y.dtype == np.float32 else np.float64)


def test_precision_is_validated():
    X, y = relu_altmin.load_diabetes()
    with pytest.raises(ValueError, match="precision must be one of"):
        relu_altmin.fit(X, y, 2, precision="float32")
