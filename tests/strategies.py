"""Hypothesis strategies for training problems, and tolerances derived from dtype and scale."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from _bounds import EPS64  # noqa: F401  (re-exported: the tests import it from here)
from hypothesis import strategies as st


@dataclass(frozen=True)
class Problem:
    """A small regression problem drawn by hypothesis, in NumPy float64."""

    X: np.ndarray
    y: np.ndarray  # 1-D when k == 1 and one_d, else 2-D
    hidden: int
    negative_slope: float
    bias: bool
    skip: bool
    train_output: bool
    output_weights: np.ndarray | None
    seed: int

    @property
    def kwargs(self) -> dict:
        return dict(negative_slope=self.negative_slope, bias=self.bias, skip=self.skip,
                    train_output=self.train_output, seed=self.seed)


slopes = st.one_of(st.just(0.0), st.just(0.1), st.floats(0.0, 0.9, allow_subnormal=False))


@st.composite
def problems(draw, *, max_n: int = 24, allow_skip: bool = True,
             allow_known_output: bool = True) -> Problem:
    """Data from a random teacher network plus noise; every option of ``fit`` drawn."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(1, max_n))
    d = draw(st.integers(1, 5))
    skip = allow_skip and draw(st.booleans())
    hidden = d if skip else draw(st.integers(1, 4))
    k = draw(st.integers(1, 3))
    one_d = k == 1 and draw(st.booleans())
    scale_x = 10.0 ** draw(st.integers(-2, 2))
    scale_y = 10.0 ** draw(st.integers(-2, 2))
    X = scale_x * rng.standard_normal((n, d))
    teacher = rng.standard_normal((d, 3)) / scale_x
    Y = scale_y * (np.maximum(X @ teacher, 0.0) @ rng.standard_normal((3, k))
                   + 0.1 * rng.standard_normal((n, k)))
    train_output = not (allow_known_output and draw(st.booleans()))
    output_weights = None if train_output else rng.choice([-1.0, 1.0], size=(hidden, k))
    return Problem(
        X=X, y=Y[:, 0] if one_d else Y, hidden=hidden,
        negative_slope=draw(slopes), bias=draw(st.booleans()), skip=skip,
        train_output=train_output,
        output_weights=None if output_weights is None
        else (output_weights[:, 0] if one_d else output_weights),
        seed=seed)
