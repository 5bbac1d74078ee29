"""``benchmarks/scale.py --versus-adam`` (issue 24): the verdict "fit <= best Adam", the
gradient-epoch cost, and the whole path on a tiny cell.

The verdict and the cost are the report's claims, so they are checked as properties of the
functions that compute them on synthetic run records; the script is run end to end once.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

from conftest import BENCHMARKS, benchmarks_on_path
from hypothesis import given
from hypothesis import strategies as st

benchmarks_on_path()
from harness.peers.torch_optim import CHECKPOINTS  # noqa: E402
from scale_parts import versus_adam as _adam  # noqa: E402

CELLS = [(1000, 2), (1000, 3), (5000, 2)]
BUDGETS = [1.0, 2.0]
CONFIGS = [(256, 1e-2), (1024, 3e-3), (4096, 1e-3), (1024, 1e-2)]
#: Few distinct values, so that ties between fit and Adam (and between Adam runs) are common.
LOSSES = st.sampled_from([0.05, 0.1, 0.1 + 1e-12, 0.2, 0.3])


@st.composite
def run_records(draw):
    """Run records as ``versus_adam_driver.versus`` writes them (the fields the verdict
    reads), in any order: per cell and budget maybe each ``fit`` variant and 0-4 Adam runs;
    some failed (a failed run's ``mse`` must be ignored, so it gets one)."""
    runs = []
    for (n, hidden), budget in [(c, b) for c in CELLS for b in BUDGETS]:
        base = {"n": n, "hidden": hidden, "budget": budget}
        for method in _adam.FIT_METHODS:
            if draw(st.booleans()):
                runs.append({**base, "method": method, "mse": draw(LOSSES)})
        for batch, lr in draw(st.lists(st.sampled_from(CONFIGS), max_size=4, unique=True)):
            run = {**base, "method": "adam", "batch": batch, "lr": lr, "mse": draw(LOSSES)}
            if draw(st.integers(0, 4)) == 0:
                run["error"] = "failed"
            runs.append(run)
    return draw(st.permutations(runs))


# fit <= best Adam exactly when the fit's MSE is at or below every Adam run's of the same cell
# and budget; the best Adam run is one of them with the least MSE; failed runs do not count.
@given(run_records())
def test_verdict_is_fit_at_or_below_every_adam_run(runs):
    rows = _adam.verdicts(runs)
    assert [(r["n"], r["hidden"], r["budget"]) for r in rows] == sorted(
        {_adam.cell_key(r) for r in runs})
    for row in rows:
        same = [r for r in runs if _adam.cell_key(r) == (row["n"], row["hidden"], row["budget"])
                and "error" not in r]
        adam = [r for r in same if r["method"] == "adam"]
        if adam:
            best = min(r["mse"] for r in adam)
            assert row["best_adam"]["mse"] == best
            assert {**row["best_adam"], "method": "adam"} in [
                {k: r[k] for k in ("batch", "lr", "mse", "method")} for r in adam]
        else:
            assert row["best_adam"] is None
        for method in _adam.FIT_METHODS:
            fit = [r for r in same if r["method"] == method]
            assert row[f"{method}_mse"] == (fit[0]["mse"] if fit else None)
            expected = (all(fit[0]["mse"] <= r["mse"] for r in adam)
                        if fit and adam else None)
            assert row[f"{method}_le_best_adam"] is expected


# A trace's value at the budget is its lowest loss at or before the budget.
@given(st.lists(st.tuples(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.0]), LOSSES),
                min_size=1, max_size=8), st.sampled_from([0.5, 1.0, 2.0]))
def test_at_budget_is_the_lowest_loss_by_then(points, budget):
    trace = [list(p) for p in sorted(points, key=lambda p: p[0])]
    within = [loss for seconds, loss in trace if seconds <= budget]
    assert _adam.at_budget(trace, budget) == (min(within) if within else trace[0][1])


SECONDS = st.floats(1e-4, 1e2)


# fit's cost: its median seconds per iteration over one gradient pass. Iterations of k passes
# each cost k, whatever the unit of time and whatever one slow iteration among 3+ costs.
@given(SECONDS, st.floats(0.1, 50.0), st.integers(2, 30), st.floats(1.0, 1e3),
       st.sampled_from(list(_adam.FIT_METHODS)))
def test_gradient_epochs_of_fit_iterations(gradient, k, iterations, slow, method):
    run = {"method": method, "gradient_seconds": gradient,
           "iteration_seconds": [k * gradient] * iterations + [slow * k * gradient]}
    assert math.isclose(_adam.gradient_epochs(run), k, rel_tol=1e-9)
    scaled = {**run, "gradient_seconds": 3 * gradient,
              "iteration_seconds": [3 * t for t in run["iteration_seconds"]]}
    assert math.isclose(_adam.gradient_epochs(scaled), k, rel_tol=1e-9)
    assert _adam.gradient_epochs({**run, "iteration_seconds": []}) is None
    assert _adam.gradient_epochs({**run, "error": "failed"}) is None


# Adam's cost: its seconds per epoch (n rows seen, in batches of any size) over one gradient
# pass: steps that take k passes' time per n rows cost k.
@given(SECONDS, st.floats(0.1, 50.0), st.integers(1, 10**6), st.sampled_from(_adam.BATCHES),
       st.integers(1, 10**5))
def test_gradient_epochs_of_adam_epochs(gradient, k, n, batch, steps):
    rows = steps * batch
    run = {"method": "adam", "n": n, "batch": batch, "steps": steps, "rows_seen": rows,
           "training_seconds": k * gradient * rows / n, "gradient_seconds": gradient}
    assert math.isclose(_adam.gradient_epochs(run), k, rel_tol=1e-9)


# On long data fit starts on progressive samples, whose records carry the sample's loss: the
# benchmark's trace has each such iteration's MSE on every row (the network the fit returns
# when stopped there), with the clock stopped while it is evaluated.
def test_fit_runs_are_judged_on_every_row():
    from scale_parts.data import make_data

    import relu_altmin

    X, y = make_data(60_000, 0)
    run = _adam.run_fit(X, y, 3, 0.1, 0.4, {})
    assert run["sample_records"] > 0 and run["off_clock_seconds"] > 0
    kwargs = dict(negative_slope=0.1, seed=0)
    assert math.isclose(run["trace"][0][1], relu_altmin.fit(X, y, 3, max_iter=0, **kwargs).loss,
                        rel_tol=1e-9)
    for k in range(1, min(3, run["iterations"]) + 1):
        ref = relu_altmin.fit(X, y, 3, max_iter=k, **kwargs)
        assert ref.history[k].rows is not None  # on a sample ...
        assert not math.isclose(ref.history[k].loss, ref.loss, rel_tol=1e-6)  # ... not all rows
        assert math.isclose(run["trace"][k][1], ref.loss, rel_tol=1e-9)
    assert run["mse"] == _adam.at_budget(run["trace"], 0.4)


# The whole path on a tiny cell (n = 20000: fit's default samples its curvature there), then
# a second budget with --adam-from: only the best Adam configuration reruns and the first
# report's runs are carried over; --from-json rewrites the same .md.
def test_versus_adam_writes_its_report(tmp_path):
    command = [sys.executable, str(BENCHMARKS / "scale.py"), "--versus-adam", "--quick",
               "--hidden", "3", "--budgets", "0.5", "--workers", "2", "--out", str(tmp_path)]
    subprocess.run([*command, "--name", "first"], check=True, capture_output=True)
    first = json.loads((tmp_path / "first.json").read_text())
    runs = first["runs"]
    assert [r["method"] for r in runs] == ["fit", "fit_unstaged", "fit_all_rows", "adam", "adam"]
    assert all("error" not in r for r in runs)
    start = runs[0]["trace"][0][1]
    for run in runs:
        assert run["n"] == 20_000 and run["budget"] == 0.5
        times = [t for t, _ in run["trace"]]
        assert times == sorted(times) and times[-1] >= 0.5
        assert math.isclose(run["trace"][0][1], start, rel_tol=1e-9)  # the same start
        assert run["gradient_epochs"] > 0
    for fit in runs[:3]:
        assert fit["stop_reason"] == "callback"
        assert fit["iterations"] == len(fit["trace"]) - 1 == len(fit["iteration_seconds"])
        assert fit["mse"] == _adam.at_budget(fit["trace"], 0.5)
    assert runs[0]["curvature_rows"] == runs[1]["curvature_rows"] < 20_000
    assert runs[2]["curvature_rows"] == 20_000
    for adam in runs[3:]:
        assert len(adam["trace"]) <= CHECKPOINTS + 2
        assert adam["training_seconds"] >= 0.5
        assert adam["epochs"] == adam["rows_seen"] / 20_000
    assert first["verdicts"] == _adam.verdicts(runs)
    assert f"{_adam.LABELS['fit']} ≤ best Adam" in (tmp_path / "first.md").read_text()
    assert (tmp_path / "first.png").stat().st_size > 0

    subprocess.run([*command[:-6], "--budgets", "0.6", "--methods", "adam", "--adam-from",
                    str(tmp_path / "first.json"), "--out", str(tmp_path), "--name", "second"],
                   check=True, capture_output=True)
    second = json.loads((tmp_path / "second.json").read_text())
    best = _adam.best_adam(runs)[(20_000, 3, 0.5)]
    new = [r for r in second["runs"] if r["budget"] == 0.6]
    assert [(r["method"], r["batch"], r["lr"]) for r in new] == [
        ("adam", best["batch"], best["lr"])]
    assert len(second["runs"]) == len(runs) + 1 and len(second["verdicts"]) == 2
    assert "Reduced grid" in (tmp_path / "second.md").read_text()
    markdown = (tmp_path / "second.md").read_text()
    subprocess.run([*command[:2], "--versus-adam", "--from-json", str(tmp_path / "second.json"),
                    "--out", str(tmp_path), "--name", "second"], check=True, capture_output=True)
    assert (tmp_path / "second.md").read_text() == markdown
