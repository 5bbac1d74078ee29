"""The registry of benchmark peers (``benchmarks/harness/peers``): every registered runner runs
on a tiny problem from the common start and reports what the training benchmark records."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from conftest import benchmarks_on_path

benchmarks_on_path()
from harness.datasets import Split  # noqa: E402
from harness.peers import PEERS, Case  # noqa: E402
from harness.peers.common import Device, Start, mse  # noqa: E402
from harness.peers.ours import baselines  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The peers on one torch thread, as the benchmark runs them (and fast beside other load)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def case() -> Case:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = np.maximum(X @ np.array([1.0, -0.5, 0.25]), 0.0) + 0.1 * rng.standard_normal(40)
    split = Split("tiny", X[:30], y[:30], X[30:], y[30:], True)
    start = Start.from_fit(split, 2, 0.1, 0)
    return Case(split, 2, 0.1, 0, start, Device.for_backend("numpy"), altmin_max_iter=5,
                lbfgs_time_cap=2.0, trf_time_cap=2.0)


@pytest.mark.parametrize("name", list(PEERS))
def test_every_peer_runs_and_reports(name, case):
    if name.startswith("ours_") and baselines is None:
        pytest.skip("relu_altmin.baselines does not import")
    peer = PEERS[name]
    result = peer.run(case, None if peer.grid is None else 1e-2)
    assert set(result) >= {"train_mse", "test_mse", "seconds", "trace", "info"}
    assert result["trace"] and result["seconds"] >= 0.0
    assert not math.isnan(result["train_mse"])  # a diverged gradient run reports inf
    if peer.grid is None and not name.startswith("sklearn"):  # sklearn: its own start
        start_mse = mse(case.start.net.predict(case.split.X_train), case.split.y_train)
        assert result["train_mse"] <= start_mse * (1 + 1e-9)


# The training benchmark's driver takes its peers from the registry: a tiny grid writes every
# run, and --from-json rebuilds the same report from what it wrote.
def test_training_driver_runs_registered_peers(tmp_path):
    from conftest import benchmark_script

    training = benchmark_script("training", "benchmark_training")
    common = ["--out", str(tmp_path), "--name", "tiny"]
    training.main(["--datasets", "diabetes", "--hidden", "2", "--slopes", "0.1", "--seeds", "0",
                   "--methods", "altmin", "altmin_cg", "scipy_trf", "--altmin-max-iter", "3",
                   "--trf-time-cap", "2", *common])
    report = (tmp_path / "tiny.json").read_text()
    markdown = (tmp_path / "tiny.md").read_text()
    assert [r["method"] for r in json.loads(report)["runs"]] == ["altmin", "altmin_cg",
                                                               "scipy_trf"]
    assert (tmp_path / "tiny_diabetes.png").stat().st_size > 0
    training.main(["--from-json", str(tmp_path / "tiny.json"), "--no-plot", *common])
    assert (tmp_path / "tiny.md").read_text() == markdown
