"""benchmarks/raw_features.py: the report of the raw-feature target, and its verdict."""

from __future__ import annotations

import json

from conftest import benchmark_script
from hypothesis import given
from hypothesis import strategies as st

raw_features = benchmark_script("raw_features")
from harness import datasets  # noqa: E402  (benchmark_script put benchmarks/ on the path)

losses = st.floats(1e-12, 1e3)


@given(losses, st.one_of(st.floats(0.5, 1.5), st.floats(0.999, 1.011)))
def test_a_cell_passes_exactly_within_one_percent(standardised, ratio):
    run = {"standardised": standardised, "raw": ratio * standardised}
    assert raw_features.passes(run) == (run["raw"] <= 1.01 * standardised)


def test_raw_split_is_the_standardised_split_in_its_own_units():
    raw, std = datasets.load("diabetes", 0, raw_features=True), datasets.load("diabetes", 0)
    assert raw.X_train.shape == std.X_train.shape and (raw.y_train == std.y_train).all()
    scaled = (raw.X_train - raw.X_train.mean(0)) / raw.X_train.std(0)
    assert abs(scaled - std.X_train).max() < 1e-12
    assert abs(raw.X_train - std.X_train).max() > 1.0


def test_quick_run_writes_its_report(tmp_path):
    raw_features.main(["--quick", "--workers", "1", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "raw_features_quick.json").read_text())
    (run,) = report["runs"]
    assert run["dataset"] == "diabetes" and run["ratio"] == run["raw"] / run["standardised"]
    assert run["raw_unstandardized"] > 0.0 and run["perturbed"] > 0.0
    markdown = (tmp_path / "raw_features_quick.md").read_text()
    assert markdown == raw_features.markdown(report)
    assert f"**{int(raw_features.passes(run))} of 1 cells**" in markdown
    assert (tmp_path / "raw_features_quick.png").stat().st_size > 0
