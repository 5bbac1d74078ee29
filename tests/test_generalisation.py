"""benchmarks/generalisation.py: a quick run writes every cell, the headline and the plot."""

from __future__ import annotations

import json

from conftest import benchmark_script

generalisation = benchmark_script("generalisation")


def test_quick_run_writes_every_cell_and_the_headline(tmp_path):
    generalisation.main(["--quick", "--workers", "1", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "generalisation_quick.json").read_text())
    configs = report["config"]["configs"]
    assert "default" in configs
    assert set(configs) | set(report["config"]["configs_unavailable"]) == set(
        generalisation.CONFIGS)
    run_reg, run_clf = report["runs"]
    assert (run_reg["part"], run_reg["dataset"], run_reg["hidden"], run_reg["seed"]) == (
        "regression", "diabetes", 16, 0)
    assert (run_clf["part"], run_clf["dataset"]) == ("classification", "wine")
    assert set(run_reg["methods"]) == {*configs, "mlp_adam", "mlp_lbfgs", "grid_search"}
    assert set(run_clf["methods"]) == {*configs, "mlp"}
    (reg,) = report["regression_cells"]
    (clf,) = report["classifier_cells"]
    assert clf["accuracy"]["mlp"] == run_clf["methods"]["mlp"]["accuracy"]
    for method in (*configs, "grid_search"):
        result = run_reg["methods"][method]
        assert "unavailable" in result or reg["ratio"][method] == result["mse"] / min(
            run_reg["methods"]["mlp_adam"]["mse"], run_reg["methods"]["mlp_lbfgs"]["mse"])
    assert reg["time_ratio"]["default"] == (run_reg["methods"]["default"]["seconds"]
                                            / run_reg["methods"]["grid_search"]["seconds"])
    for method in (*configs, "mlp"):
        result = run_clf["methods"][method]
        assert "unavailable" in result or len(result["fold_accuracies"]) == 5
    assert set(report["headline"]) == {*configs, "grid_search"}
    assert report["headline"]["default"]["regression_cells"] == 1
    assert report["headline"]["default"]["classifier_cells"] == 1
    markdown = (tmp_path / "generalisation_quick.md").read_text()
    assert markdown == generalisation.markdown(report)
    assert "## Headline" in markdown and "| `default` |" in markdown
    assert "| diabetes | 16 |" in markdown and "| wine | 16 |" in markdown
    assert (tmp_path / "generalisation_quick.png").stat().st_size > 0


def test_headline_counts_a_missing_config_as_a_miss():
    cells = [{"ratio": {"default": 1.0}, "time_ratio": {"default": 0.1}, "unavailable": {}},
             {"ratio": {}, "time_ratio": {}, "unavailable": {"default": "ValueError: too big"}},
             {"ratio": {"default": 1.2}, "time_ratio": {"default": 0.3}, "unavailable": {}}]
    clf = [{"accuracy": {"default": 0.9, "mlp": 0.9}, "unavailable": {}},
           {"accuracy": {"mlp": 0.9}, "unavailable": {"default": "ValueError"}}]
    head = generalisation.headline(cells, clf, ["default"])["default"]
    assert (head["regression_within"], head["regression_cells"], head["time_under"]) == (1, 3, 1)
    assert (head["regression_unavailable"], head["classifier_unavailable"]) == (1, 1)
    assert (head["classifier_at_least_mlp"], head["classifier_cells"]) == (1, 2)
