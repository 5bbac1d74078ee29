"""``fit(early_stopping=True)``: the network returned is the one of the lowest validation MSE,
the history records the validation MSE, and the fit stops after ``n_iter_no_change``
iterations without improvement."""

from __future__ import annotations

import numpy as np
import pytest
from _bounds import folded_mse_gap, ratio
from hypothesis import given, note
from hypothesis import strategies as st

import relu_altmin
from relu_altmin._early_stopping import EARLY_STOPPING_RTOL, validation_split

EPS64 = float(np.finfo(np.float64).eps)


def held_out_rows(X, y, fraction, seed):
    """The validation rows ``fit(seed=seed, early_stopping=True)`` holds out."""
    return validation_split(X, y, fraction, np.random.default_rng(seed).spawn(1)[0])


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(12, 60), d=st.integers(1, 4),
       hidden=st.integers(1, 6), fraction=st.sampled_from([0.1, 0.25, 0.5]),
       patience=st.integers(1, 4), l2=st.sampled_from([None, "auto"]),
       standardize=st.booleans())
def test_the_network_of_the_lowest_validation_loss_is_returned(seed, n, d, hidden, fraction,
                                                               patience, l2, standardize):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(X @ rng.standard_normal(d)) + 0.3 * rng.standard_normal(n)
    result = relu_altmin.fit(X, y, hidden, seed=seed, l2=l2, standardize=standardize,
                             early_stopping=True, validation_fraction=fraction,
                             n_iter_no_change=patience, max_iter=30)
    _, _, X_val, y_val = held_out_rows(X, y, fraction, seed)
    losses = [r.validation_loss for r in result.history]
    assert all(loss is not None for loss in losses)
    returned = float(np.mean((result.network.predict(X_val) - y_val) ** 2))
    # The fit's validation MSE (its network on the standardised rows, in raw units) against
    # ours (the folded network on raw rows): _bounds.folded_mse_gap; the standardised network
    # unfolded from the returned one has its sizes within 6 roundings.
    s = result.standardization
    net = result.network if s is None else s.standardized_network(result.network)
    arrays = {name: getattr(net, name) for name in ("W", "b", "V", "c")}
    maps = ((np.zeros(d), np.ones(d), np.zeros(1), np.ones(1)) if s is None else
            (s.x_shift, s.x_scale, s.y_shift, s.y_scale))
    gap = folded_mse_gap(X_val, y_val, result.network.predict(X_val), arrays, net.skip, maps,
                         extra=0 if s is None else 6)
    note(f"validation loss error / bound {ratio(returned - min(losses), gap):.3e}")
    assert abs(returned - min(losses)) <= gap
    # Iterations in a row without improvement, after each record: the fit stops at the first
    # record where it reaches ``patience`` (and only there, if it stops early).
    since_best, best, stalls = 0, losses[0], []
    for loss in losses[1:]:
        since_best = since_best + 1 if loss >= (1.0 - EARLY_STOPPING_RTOL) * best else 0
        best = min(best, loss)
        stalls.append(since_best)
    assert all(count < patience for count in stalls[:-1])
    assert (result.stop_reason == "early_stopping") == (bool(stalls) and stalls[-1] >= patience)


def test_without_early_stopping_no_validation_loss_is_recorded():
    X, y = relu_altmin.load_diabetes()
    result = relu_altmin.fit(X[:100], y[:100], 4, seed=0, max_iter=3)
    assert all(r.validation_loss is None for r in result.history)


@pytest.mark.parametrize("kwargs, match", [
    ({"validation_fraction": 0.0}, "validation_fraction"),
    ({"validation_fraction": 1.0}, "validation_fraction"),
    ({"n_iter_no_change": 0}, "n_iter_no_change"),
    ({"chunk_rows": 10}, "early_stopping"),
])
def test_bad_early_stopping_options_are_refused(kwargs, match):
    X, y = relu_altmin.load_diabetes()
    with pytest.raises(ValueError, match=match):
        relu_altmin.fit(X, y, 4, early_stopping=True, **kwargs)
    with pytest.raises(TypeError, match="early_stopping"):
        relu_altmin.fit(X, y, 4, early_stopping=1)
