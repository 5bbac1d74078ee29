"""The training benchmark's targets, computed from the runs: against Adam and SGD
(:func:`target_check`) and against converged L-BFGS (:func:`lbfgs_check`)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from typing import Any

from harness.peers.common import MATCH_RTOL, first_index_at, first_time_at
from harness.peers.ours import ALTMIN_STEPS

from .runs import Run
from .settings import INTERPOLATION, LBFGS_LOSS_FRACTION, LBFGS_TIME_FRACTION


def different_days(a: Run, b: Run) -> bool:
    """Whether two runs were made on different days, so a ratio of their times mixes runs."""
    return a.info.get("day") != b.info.get("day")


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else math.nan


def best_of(group: list[Run], prefix: str) -> Run | None:
    """The run with the lowest final training MSE among methods starting with ``prefix``."""
    candidates = [r for r in group if r.method.startswith(prefix)]
    return min(candidates, key=lambda r: r.train_mse) if candidates else None


def run_of(group: list[Run], method: str) -> Run | None:
    """The run of exactly ``method`` in ``group``; None if it did not run."""
    return next((r for r in group if r.method == method), None)


def by_config(runs: list[Run]) -> dict[tuple[str, int, float], dict[int, list[Run]]]:
    out: dict[tuple[str, int, float], dict[int, list[Run]]] = {}
    for r in runs:
        out.setdefault(r.key(), {}).setdefault(r.seed, []).append(r)
    return out


def target_check(runs: list[Run]) -> dict[str, Any]:
    """The issue's target, per width and slope, from medians over seeds.

    For each ``(data set, width, slope)``: ``loss_win`` when the median final training MSE of
    ``altmin`` is below the median of the best-tuned Adam (best of full batch and minibatch
    over the learning-rate grid) and of the best-tuned SGD; ``speedup`` the median over seeds
    of (wall time of that best Adam run) / (time ``altmin`` takes to reach its final training
    MSE), 0 when it never does; ``across_days`` when, for some seed, the two runs of that
    ratio were made on different days; ``seconds_per_iteration`` the median of ``altmin``'s
    wall time over its iterations, ``budget_iterations`` the median of how many such
    iterations fit in a tenth of the best Adam run's time (what a 10x speed-up allows), and
    ``iterations_to_adam`` the median iteration at which ``altmin`` first reaches that run's
    MSE (inf = never; read from traces that keep every iteration). Each is None when no seed's
    run records what it needs. A width passes when, at every slope, at least 4 of the 5 data
    sets (all but one of those run) have ``loss_win`` and at least as many have
    ``speedup >= 10``.
    """
    cells = []
    for (name, hidden, slope), seeds in sorted(by_config(runs).items()):
        alt, adam, sgd, speed, per_iteration, budget, needed = [], [], [], [], [], [], []
        across_days = False
        for group in seeds.values():
            a = run_of(group, "altmin")
            ad, sg = best_of(group, "torch_adam"), best_of(group, "torch_sgd")
            if a is None or ad is None or sg is None:
                continue
            alt.append(a.train_mse)
            adam.append(ad.train_mse)
            sgd.append(sg.train_mse)
            t = a.time_to_best_adam
            speed.append(ad.seconds / t if t else 0.0)
            across_days |= different_days(a, ad)
            iterations = a.info.get("iterations")
            if iterations:
                per_iteration.append(a.seconds / iterations)
                budget.append(ad.seconds / 10.0 / per_iteration[-1])
            if iterations is not None and len(a.trace) == iterations + 1:  # one per iteration
                reached = first_index_at(a.trace, ad.train_mse)
                needed.append(math.inf if reached is None else reached)
        if not alt:
            continue
        cells.append({"dataset": name, "hidden": hidden, "slope": slope, "seeds": len(alt),
                      "altmin": median(alt), "adam": median(adam), "sgd": median(sgd),
                      "loss_win": median(alt) < min(median(adam), median(sgd)),
                      "speedup": median(speed), "across_days": across_days,
                      "seconds_per_iteration": median(per_iteration) if per_iteration else None,
                      "budget_iterations": median(budget) if budget else None,
                      "iterations_to_adam": median(needed) if needed else None})
    verdicts = {}
    for hidden in sorted({c["hidden"] for c in cells}):
        per_slope = {}
        for slope in sorted({c["slope"] for c in cells if c["hidden"] == hidden}):
            mine = [c for c in cells if c["hidden"] == hidden and c["slope"] == slope]
            need = max(len(mine) - 1, 1) if len(mine) < 5 else 4
            wins = sum(c["loss_win"] for c in mine)
            fast = sum(c["speedup"] >= 10 for c in mine)
            per_slope[f"{slope:g}"] = {"datasets": len(mine), "needed": need,
                                       "loss_wins": wins, "speedups_10x": fast,
                                       "pass": wins >= need and fast >= need}
        verdicts[str(hidden)] = {"per_slope": per_slope,
                                 "pass": all(v["pass"] for v in per_slope.values())}
    return {"cells": cells, "widths": verdicts}


def lbfgs_targets(seeds: dict[int, list[Run]]) -> tuple[str, dict[int, float]] | None:
    """The better converged L-BFGS of one configuration and each seed's target loss.

    Parameters
    ----------
    seeds : dict
        Seed -> the runs of one ``(data set, width, slope)``.

    Returns
    -------
    tuple or None
        The method among ``torch_lbfgs_conv`` and ``sklearn_lbfgs_conv`` with the lower median
        final training MSE, and seed -> target: that run's final training MSE, or
        ``INTERPOLATION`` times the variance of the training targets when the run got below
        it. None when neither ran.
    """
    conv = {m: {s: r for s, g in seeds.items() if (r := run_of(g, m)) is not None}
            for m in ("torch_lbfgs_conv", "sklearn_lbfgs_conv")}
    medians = {m: median(r.train_mse for r in rs.values()) for m, rs in conv.items() if rs}
    if not medians:
        return None
    best = min(medians, key=medians.__getitem__)
    return best, {s: max(r.train_mse, INTERPOLATION * r.info["target_variance"])
                  for s, r in conv[best].items()}


def lbfgs_check(runs: list[Run]) -> dict[str, Any]:
    """The converged-L-BFGS target for every ``altmin`` variant, per configuration.

    For each ``(data set, width, slope)`` and variant, over the seeds where both the variant
    and the better L-BFGS (:func:`lbfgs_targets`) ran: ``loss_pass`` when the variant's median
    final training MSE is at most the median target, ``time_pass`` when its median time to
    first reach its seed's target (inf when it never does) is at most the median wall time of
    that L-BFGS run; ``across_days`` when, for some seed, the two runs were made on different
    days. Losses match within a relative ``MATCH_RTOL`` (:func:`first_time_at`).
    """
    tol = 1.0 + MATCH_RTOL
    cells = []
    for (name, hidden, slope), seeds in sorted(by_config(runs).items()):
        found = lbfgs_targets(seeds)
        if found is None:
            continue
        best, targets = found
        cell: dict[str, Any] = {"dataset": name, "hidden": hidden, "slope": slope,
                                "best_lbfgs": best, "lbfgs": {}, "altmin": {}}
        for method in ("torch_lbfgs_conv", "sklearn_lbfgs_conv"):
            rs = [r for g in seeds.values() if (r := run_of(g, method)) is not None]
            if rs:
                cell["lbfgs"][method] = {
                    "seeds": len(rs), "train_mse": median(r.train_mse for r in rs),
                    "seconds": median(r.seconds for r in rs),
                    "time_capped": sum(r.info.get("stop") == "time cap" for r in rs),
                    "relu_only": any("network" in r.info for r in rs)}
        for variant in ALTMIN_STEPS:
            rows = [(a, run_of(seeds[s], best), t) for s, t in targets.items()
                    if (a := run_of(seeds[s], variant)) is not None]
            if not rows:
                continue
            alt = median(a.train_mse for a, _, _ in rows)
            target = median(t for _, _, t in rows)
            reach = [first_time_at(a.trace, t) for a, _, t in rows]
            to_target = median(math.inf if x is None else x for x in reach)
            lbfgs_seconds = median(r.seconds for _, r, _ in rows)
            floor = sum(t > r.train_mse for _, r, t in rows)  # the L-BFGS interpolated
            across_days = any(different_days(a, r) for a, r, _ in rows)
            cell["altmin"][variant] = {
                "seeds": len(rows), "train_mse": alt, "target": target,
                "time_capped": sum(a.info.get("stop") == "time cap" for a, _, _ in rows),
                "lbfgs_interpolates": floor, "lbfgs_seconds": lbfgs_seconds,
                "time_to_target": to_target, "loss_pass": alt <= target * tol,
                "time_pass": to_target <= lbfgs_seconds, "across_days": across_days}
        cells.append(cell)
    summary = {}
    for variant in ALTMIN_STEPS:
        mine = [c["altmin"][variant] for c in cells if variant in c["altmin"]]
        if mine:
            loss, time_ = sum(v["loss_pass"] for v in mine), sum(v["time_pass"] for v in mine)
            summary[variant] = {"cells": len(mine), "loss": loss, "time": time_,
                                "both": sum(v["loss_pass"] and v["time_pass"] for v in mine),
                                "floor": sum(bool(v["lbfgs_interpolates"]) for v in mine),
                                "time_target": time_ >= LBFGS_TIME_FRACTION * len(mine),
                                "loss_target": loss >= LBFGS_LOSS_FRACTION * len(mine)}
    return {"cells": cells, "summary": summary}
