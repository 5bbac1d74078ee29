"""The stall diagnosis of ``benchmarks/escapes.py`` measures what its table says.

The committed explanation of where ``fit`` stops on the small cells (``docs/training.md``)
rests on two numbers the script computes: the fixed-pattern model's minimiser (the paper's
full step, by a least-squares solve of the script's own) and the count of pre-activations on
their kink. Both are checked here on random problems.
"""

from __future__ import annotations

import numpy as np
from conftest import benchmark_script
from hypothesis import given, settings
from hypothesis import strategies as st

escapes = benchmark_script("escapes")

EPS = float(np.finfo(np.float64).eps)


@st.composite
def problems(draw):
    """Data and a network: ``n`` rows, ``d`` features, ``h`` units, ``k`` outputs."""
    n, d = draw(st.integers(8, 30)), draw(st.integers(1, 4))
    h, k = draw(st.integers(1, 4)), draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, k))
    parts = [rng.standard_normal((h, d)), rng.standard_normal(h),
             rng.standard_normal((h, k)), rng.standard_normal(k)]
    return X, Y, parts, rng


# The minimiser zeroes the W, b gradient of the penalised loss with the starting pattern held
# (docs/design.md §2's fixed-pattern problem, differentiated by torch.autograd). Tolerance: a
# least-squares solve's rounding, eps times the gradient's scale ||J||(||J|| ||w|| + ||Y||)/n
# + l2 ||w||, times the conditioning that l2 >= 1e-3 allows.
@settings(max_examples=40, deadline=None)
@given(problems(), st.sampled_from([0.0, 0.01, 0.1, 0.5]), st.floats(1e-3, 1.0))
def test_fixed_pattern_minimiser_is_the_model_minimum(problem, slope, l2):
    X, Y, parts, _ = problem
    W_star, b_star = escapes.fixed_pattern_minimiser(X, Y, parts, slope, l2)
    star = [W_star, b_star, parts[2], parts[3]]
    theta = np.concatenate([p.ravel() for p in star])
    grad, _ = escapes.fixed_pattern_derivatives(X, Y, parts, theta, slope, l2)
    hidden = grad[:W_star.size + b_star.size]
    n = X.shape[0]
    J_norm = np.linalg.norm(np.hstack([X, np.ones((n, 1))])) * np.linalg.norm(parts[2])
    w_norm = np.linalg.norm(theta[:hidden.size])
    scale = J_norm * (J_norm * w_norm + np.linalg.norm(Y)) / n + l2 * w_norm
    assert np.linalg.norm(hidden) <= 1e6 * EPS * scale


# Entries put on their kink (z = 0 up to rounding) are counted, entries a millionth of the
# largest |z| away are not; the histogram covers every entry; the model's minimum is no
# higher than its value at the start, where it equals the true MSE.
@settings(max_examples=40, deadline=None)
@given(problems(), st.sampled_from([0.0, 0.1]), st.data())
def test_stall_diagnosis_counts_the_kinks(problem, slope, data):
    X, Y, parts, rng = problem
    W, b, V, c = (p.copy() for p in parts)
    h = W.shape[0]
    on = data.draw(st.lists(st.integers(0, h - 1), unique=True, max_size=h), label="on kink")
    rows = rng.choice(X.shape[0], size=h, replace=False)
    Z = X @ W.T
    scale = np.abs(Z + b).max()
    for j in range(h):
        # unit j's row rows[j]: on the kink, or 1e-6 of the largest |z| away from it
        b[j] = -Z[rows[j], j] + (0.0 if j in on else 1e-6 * scale)
    parts = [W, b, V, c]
    theta = np.concatenate([p.ravel() for p in parts])
    l2 = 1e-10
    grad, _ = escapes.fixed_pattern_derivatives(X, Y, parts, theta, slope, l2)
    stall = escapes.stall_diagnosis(X, Y, parts, grad, slope, l2)
    assert stall["on_kink"] == len(on)
    assert sum(stall["kink_histogram"]) == stall["entries"] == X.shape[0] * h
    assert stall["model_mse"] <= stall["mse"] + 2 * l2 * float(theta @ theta) + 1e3 * EPS * (
        1 + stall["mse"])
