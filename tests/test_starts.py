"""``benchmarks/starts.py`` starts where it says: MLPRegressor's own network, and a ridge path.

The committed explanation of the digits gap (``docs/training.md``, "Which start") rests on
the script reproducing scikit-learn's own start and warm-starting MLPRegressor from a given
network, and on its ridge path ending in a fit with ``fit``'s default ridge. Checked here on
random problems.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
from conftest import BENCHMARKS, benchmark_script
from hypothesis import given, settings
from hypothesis import strategies as st

import relu_altmin

starts = benchmark_script("starts")
from harness.datasets import Split  # noqa: E402  (benchmark_script put benchmarks/ on the path)
from harness.peers.sklearn_mlp import run_sklearn  # noqa: E402

EPS = float(np.finfo(np.float64).eps)


@st.composite
def splits(draw):
    """A standardised random regression problem with ``k`` outputs (``k = 1``: 1-D)."""
    n, d, k = draw(st.integers(12, 40)), draw(st.integers(1, 4)), draw(st.integers(1, 2))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    X = rng.standard_normal((n + 5, d))
    Y = np.tanh(X @ rng.standard_normal((d, k))) + 0.1 * rng.standard_normal((n + 5, k))
    Y = Y[:, 0] if k == 1 else Y
    return Split("random", X[:n], Y[:n], X[n:], Y[n:], True)


# MLPRegressor warm-started from starts.glorot ends exactly where its own run from its own
# init does: the script draws scikit-learn's start and hands it over intact (a few L-BFGS-B
# iterations, so the end still depends on the start).
@settings(max_examples=25, deadline=None)
@given(splits(), st.integers(1, 5), st.integers(0, 2**31 - 1), st.integers(1, 8))
def test_glorot_is_mlpregressors_own_start(split, hidden, seed, max_iter):
    own = run_sklearn(split, hidden, 0.0, seed, max_iter=max_iter, max_fun=10 * max_iter,
                      tol=0.0)
    given_start = run_sklearn(split, hidden, 0.0, seed, max_iter=max_iter,
                              max_fun=10 * max_iter, tol=0.0,
                              start=starts.glorot(split, hidden, 0.0, seed))
    assert given_start["train_mse"] == own["train_mse"]
    assert given_start["info"]["iterations"] == own["info"]["iterations"]


# The path: geometric, every ridge above the default, and the next one would not be.
@given(st.floats(1e-12, 1.0), st.floats(0.01, 0.9), st.floats(1e-12, 1.0))
def test_path_l2s_descend_to_the_default(l2_start, factor, default):
    l2s = starts.path_l2s(l2_start, factor, default)
    assert all(l2 > default for l2 in l2s)
    assert (l2s[-1] * factor if l2s else l2_start) <= default
    assert all(np.isclose(b, a * factor, rtol=1e3 * EPS) for a, b in itertools.pairwise(l2s))
    assert not l2s or l2s[0] == l2_start


# Without stages the path is fit itself; with them it ends in a fit with fit's default ridge,
# and its trace runs forward in time.
@settings(max_examples=15, deadline=None)
@given(splits(), st.integers(1, 4), st.sampled_from([0.0, 0.1]), st.integers(0, 2**31 - 1),
       st.integers(1, 3))
def test_ridge_path_ends_in_the_default_fit(split, hidden, slope, seed, iters):
    default = relu_altmin.fit(split.X_train, split.y_train, hidden, seed=seed, max_iter=0).l2
    plain = relu_altmin.fit(split.X_train, split.y_train, hidden, negative_slope=slope,
                            seed=seed, max_iter=5)
    none = starts.ridge_path(split, hidden, slope, seed, default / 2, 0.5, iters, 5)
    assert none["train_mse"] == plain.loss
    assert len(none["info"]["stages"]) == 1
    path = starts.ridge_path(split, hidden, slope, seed, 1e3 * default, 0.1, iters, 5)
    stages = path["info"]["stages"]
    assert [s["l2"] for s in stages[:-1]] == starts.path_l2s(1e3 * default, 0.1, default)
    assert stages[-1]["l2"] == default
    assert path["train_mse"] == stages[-1]["mse"]
    times = [t for t, _ in path["trace"]]
    assert times == sorted(times)


# The whole script on a small cell: every run is written, MLPRegressor from the redrawn start
# reproduces its own run on each seed, and --from-json rewrites the same report.
def test_script_writes_its_report(tmp_path):
    command = [sys.executable, str(BENCHMARKS / "starts.py"), "--datasets", "diabetes",
               "--hidden", "3", "--seeds", "0", "1", "--max-iter", "10", "--lbfgs-time-cap",
               "2", "--path-iters", "2", "--jobs", "1", "--out", str(tmp_path)]
    subprocess.run(command, check=True, capture_output=True, cwd=BENCHMARKS)
    saved = json.loads((tmp_path / "starts.json").read_text())
    # per seed: 3 starts x 3 optimisers, less fit from glorot, plus own and the ridge path
    assert len(saved["runs"]) == 2 * (3 * 3 - 1 + 2)
    seeds = starts.grouped(saved["runs"])[("diabetes", 3, 0.0)]
    assert all(starts.own_reproduced(runs) for runs in seeds.values())
    report = (tmp_path / "starts.md").read_text()
    subprocess.run([*command[:2], "--from-json", str(tmp_path / "starts.json")], check=True,
                   capture_output=True, cwd=BENCHMARKS)
    assert (tmp_path / "starts.md").read_text() == report
    assert (tmp_path / "starts.png").stat().st_size > 0
