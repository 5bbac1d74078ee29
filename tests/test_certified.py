"""``benchmarks/certified.py`` counts what it says: its ``--quick`` run writes a complete
report, and its counting and summary functions agree with counts made here from scratch on
synthetic records."""

from __future__ import annotations

import itertools
import json
import math
import re
import statistics

import numpy as np
from conftest import benchmark_script
from hypothesis import given
from hypothesis import strategies as st

certified = benchmark_script("certified")

VARIANTS = ("default", "plain")
STOPS = ("critical_point", "no_progress", "max_iter")
#: Residual values on both sides of, and exactly at, every tolerance the script uses.
RESIDUALS = st.one_of(
    st.sampled_from([0.0, 1e-16, 1e-12, 1e-9, 1e-8, 2e-8, 1e-7, 1e-6, 1.5e-6, 1e-3, 1.0]),
    st.floats(0.0, 10.0, allow_nan=False))
TOLS = (1e-8, 1e-6)


@st.composite
def records(draw):
    """A run record as ``run_one`` writes it, with synthetic numbers."""
    ordinary = {k: draw(RESIDUALS, label=f"ordinary {k}") for k in ("W", "b", "V", "c")}
    nonsmooth = {**ordinary, "W": draw(RESIDUALS, label="nonsmooth W"),
                 "b": draw(RESIDUALS, label="nonsmooth b")}
    n_ties = draw(st.integers(0, 50))
    return {"dataset": draw(st.sampled_from(["diabetes", "boston"])),
            "hidden": draw(st.sampled_from([16, 64])), "slope": draw(st.sampled_from([0.0, 0.1])),
            "seed": draw(st.integers(0, 2)), "variant": draw(st.sampled_from(VARIANTS)),
            "stop_reason": draw(st.sampled_from(STOPS)), "iterations": draw(st.integers(0, 300)),
            "mse": draw(st.floats(0.0, 2.0)), "ordinary": ordinary, "nonsmooth": nonsmooth,
            "ties": {"entries": 100, "rounding": n_ties},
            "certified": certified.certified_flags(ordinary, nonsmooth, TOLS)}


def brute_counts(runs, variant):
    """The summary of one variant, counted here without the script's helpers."""
    mine = [r for r in runs if r["variant"] == variant]
    counts = {"fits": len(mine),
              "ended": sum(r["stop_reason"] == "critical_point" for r in mine),
              "by_nonsmooth": sum(r["stop_reason"] == "critical_point"
                                  and max(r["ordinary"].values()) > certified.FIT_TOL
                                  for r in mine), "at": {}}
    for tol in TOLS:
        o = [max(r["ordinary"].values()) <= tol for r in mine]
        n = [max(r["nonsmooth"].values()) <= tol for r in mine]
        counts["at"][certified.tol_key(tol)] = {
            "ordinary": sum(o), "nonsmooth": sum(n),
            "either": sum(a or b for a, b in zip(o, n, strict=True))}
    return counts


# summarise, summary_lines, certified_flags, cells and cell_summary against counts made here.
@given(st.lists(records(), min_size=1, max_size=30))
def test_counts_and_summaries_match_a_count_from_scratch(runs):
    summary = certified.summarise(runs, TOLS)
    assert list(summary) == list(dict.fromkeys(r["variant"] for r in runs))
    lines = certified.summary_lines(summary)
    assert len(lines) == len(summary)
    for variant, line in zip(summary, lines, strict=True):
        expected = brute_counts(runs, variant)
        assert summary[variant] == expected
        assert f"**{variant}**: {expected['ended']} of {expected['fits']} fits end certified" \
            in line
        for key, c in expected["at"].items():
            assert f"at tol {key}: {c['either']} by either residual" in line
    grouped = certified.cells(runs)
    assert sum(len(rs) for cell in grouped.values() for rs in cell.values()) == len(runs)
    for variant in summary:
        expected = brute_counts(runs, variant)
        parts = [certified.cell_summary(cell[variant]) for cell in grouped.values()
                 if variant in cell]
        assert sum(p["seeds"] for p in parts) == expected["fits"]
        assert sum(p["ended"] for p in parts) == expected["ended"]
        assert sum(p["by_nonsmooth"] for p in parts) == expected["by_nonsmooth"]
        for key, c in expected["at"].items():
            assert sum(p["at"][key] for p in parts) == c["either"]
    for (name, h, slope), cell in grouped.items():
        for variant, rs in cell.items():
            assert all((r["dataset"], r["hidden"], r["slope"], r["variant"])
                       == (name, h, slope, variant) for r in rs)
            assert [r["seed"] for r in rs] == sorted(r["seed"] for r in rs)
            s = certified.cell_summary(rs)
            assert s["iterations"] == statistics.median(r["iterations"] for r in rs)
            assert s["ordinary"] == statistics.median(
                max(r["ordinary"]["W"], r["ordinary"]["b"]) for r in rs)
            assert s["nonsmooth"] == statistics.median(
                max(r["nonsmooth"]["W"], r["nonsmooth"]["b"]) for r in rs)
            assert s["stops"] == sorted({r["stop_reason"] for r in rs})


# by_nonsmooth, over every stop and every residual on, just inside or just outside FIT_TOL:
# the nonsmooth certificate stopped the fit when it ended certified with an ordinary residual
# above FIT_TOL, whatever its nonsmooth residuals are (they share V and c with the ordinary).
def test_by_nonsmooth_reads_the_ordinary_residuals_at_the_threshold():
    tol = certified.FIT_TOL
    values = (0.0, math.nextafter(tol, 0.0), tol, math.nextafter(tol, math.inf))
    for stop, W, b, V, c, nW, nb in itertools.product(STOPS, *[values] * 6):
        run = {"stop_reason": stop, "ordinary": {"W": W, "b": b, "V": V, "c": c},
               "nonsmooth": {"W": nW, "b": nb, "V": V, "c": c}}
        assert certified.by_nonsmooth(run) == (stop == "critical_point"
                                               and max(W, b, V, c) > tol), run


# tie_counts: entries put exactly on, just inside and just outside each threshold.
@given(st.integers(1, 12), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_tie_counts_count_each_threshold(n, h, seed):
    rng = np.random.default_rng(seed)
    x_norms, w_norms = rng.uniform(0.1, 10.0, n), rng.uniform(0.1, 10.0, h)
    scale = np.outer(x_norms, w_norms)
    rels = (1e-10, 1e-8, 1e-6)
    factors = np.array([0.0, 1e-12, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1.0])
    Z = (rng.choice(factors, size=(n, h)) * scale * rng.choice([-1.0, 1.0], size=(n, h)))
    tau = rng.choice([0.0, 1e-9], size=(n, h)) * scale
    counts = certified.tie_counts(Z, tau, x_norms, w_norms, rels)
    assert counts["entries"] == n * h
    expected_rounding = sum(abs(Z[i, j]) <= tau[i, j] for i in range(n) for j in range(h))
    assert counts["rounding"] == expected_rounding
    for rel in rels:
        expected = sum(abs(Z[i, j]) <= rel * scale[i, j] for i in range(n) for j in range(h))
        assert counts[certified.tie_key(rel)] == expected
    assert [counts[certified.tie_key(r)] for r in rels] == sorted(
        counts[certified.tie_key(r)] for r in rels)


# The whole script, --quick: every fit is recorded, and the report is the script's own
# rendering of them (regenerated here from the JSON), with its summary lines and table.
def test_quick_run_writes_its_report(tmp_path):
    certified.main(["--quick", "--workers", "1", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "certified.json").read_text())
    runs, config = saved["runs"], saved["config"]
    assert config["quick"] and config["datasets"] == ["diabetes"] and config["hidden"] == [16]
    assert config["seeds"] == [0] and config["max_iter"] == config["plain_max_iter"] == 5
    assert len(runs) == len(config["slopes"]) * len(certified.VARIANTS)
    for r in runs:
        assert r["iterations"] <= 5
        assert r["stop_reason"] in ("critical_point", "no_progress", "max_iter")
        assert set(r["nonsmooth"]) == set(r["ordinary"]) == {"W", "b", "V", "c"}
        assert r["nonsmooth"]["V"] == r["ordinary"]["V"]
        assert 0 <= r["ties"]["rounding"] <= r["ties"]["entries"] == r["ties"]["entries"]
        assert r["ties"]["entries"] == 16 * int(r["shape"].split("x")[0])
        assert r["certified"] == certified.certified_flags(r["ordinary"], r["nonsmooth"])
    assert saved["summary"] == json.loads(json.dumps(certified.summarise(runs)))
    assert saved["machine"]["date"] and saved["machine"]["versions"]["relu_altmin"]
    text = (tmp_path / "certified.md").read_text()
    assert text == certified.markdown(runs, {"machine": saved["machine"], "config": config})
    found = re.findall(r"\*\*(\w+)\*\*: (\d+) of (\d+) fits end certified", text)
    assert [(v, int(m)) for v, _, m in found] == [(v, 2) for v in certified.VARIANTS]
    sections = text.split("\n## ")
    assert [s.splitlines()[0] for s in sections[1:]] == ["Summary", "Per cell", "Ties"]
    tables = sections[2].split("\n### ")[1:]
    assert [t.splitlines()[0] for t in tables] == list(certified.VARIANTS)
    for table in tables:  # one row per data set, h and slope
        rows = [line for line in table.splitlines() if line.startswith("| diabetes | 16 |")]
        assert [row.split(" | ")[2] for row in rows] == [f"{a:g}" for a in config["slopes"]]
    ties = [line for line in sections[3].splitlines() if line.startswith("| diabetes | 16 |")]
    assert len(ties) == len(runs)
    assert (tmp_path / "certified.png").stat().st_size > 0
    certified.main(["--from-json", str(tmp_path / "certified.json"), "--out", str(tmp_path),
                    "--name", "again"])
    assert (tmp_path / "again.md").read_text() == text
    assert json.loads((tmp_path / "again.json").read_text()) == saved
