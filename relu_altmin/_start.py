"""The start through the rows (``init="rows"``; ``docs/method.md``, "The start"): each hidden
unit a hyperplane through the data, normal to one sample row.

Unit ``j`` takes the direction of a sample row ``x_i`` (less the sample's mean when the units
have a bias) at unit norm, and, with a bias, the offset that makes it active on
``START_ACTIVE`` of the sample's rows: a unit that starts by responding to the rows near one
row. Measured against ``N(0, 1/d)`` draws on the small-data grid
(``docs/notes/2026-12-07-start-through-the-rows.md``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from array_api_compat import device

from ._rows import Rows

#: Rows of the uniform sample the start reads (all rows when there are fewer).
START_ROWS = 2000
#: Fraction of the sample's rows on which each unit starts active.
START_ACTIVE = 0.2


def through_rows(rows: Rows, drawn: Any, rng: np.random.Generator) -> Any:
    """Hidden weights ``Wt`` (h x d~, float64) of the start through the rows.

    ``drawn`` is the ``N(0, 1/d)`` draw of the same shape: the units beyond the sample's
    rows, and those whose row is the sample's mean, keep it. With a bias (last column of
    ``Wt``) the offset of each unit lies midway between the two sample projections that
    leave ``max(1, round(START_ACTIVE * m))`` of the ``m`` rows on its positive side."""
    xp, d, hidden = rows.xp, rows.d, drawn.shape[0]
    blocks = rows.sample(START_ROWS, rng).in_memory() or []  # a sample is held in memory
    m = sum(Xt.shape[0] for Xt, _ in blocks)
    if m < 2:
        return drawn
    X = xp.concat([xp.astype(Xt[:, :d], xp.float64) for Xt, _ in blocks], axis=0)
    units = min(hidden, m)
    picked = xp.asarray(np.sort(rng.choice(m, size=units, replace=False)), device=device(X))
    directions = xp.take(X, picked, axis=0)
    if rows.bias:
        directions = directions - xp.mean(X, axis=0)
    norms = xp.linalg.vector_norm(directions, axis=1)
    usable = norms > 0.0
    W = directions / xp.where(usable, norms, 1.0)[:, None]
    if rows.bias:
        above = min(max(1, round(START_ACTIVE * m)), m - 1)
        z = xp.sort(X @ W.T, axis=0)  # m x units, ascending
        b = -0.5 * (z[m - above - 1, :] + z[m - above, :])
        W = xp.concat([W, b[:, None]], axis=1)
    W = xp.where(usable[:, None], W, drawn[:units, :])
    return xp.concat([W, drawn[units:, :]], axis=0) if units < hidden else W
