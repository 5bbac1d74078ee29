"""The training benchmark's Markdown report."""

from __future__ import annotations

import math
from typing import Any

from harness.peers.common import MATCH_RTOL
from harness.peers.sklearn_mlp import SKLEARN_NO_LEAKY
from harness.report import fmt

from .checks import by_config, lbfgs_check, median, target_check
from .runs import Run
from .settings import (
    ACROSS_DAYS_MARK,
    ACROSS_DAYS_NOTE,
    INTERPOLATION,
    LBFGS_LOSS_FRACTION,
    LBFGS_TIME_FRACTION,
    PEER_ORDER,
)


def _iterations(value: float | None) -> str:
    """An iteration count of the target table: "never" for inf, "-" when not recorded."""
    return "never" if value == math.inf else fmt(value, "g")


def check_lines(check: dict[str, Any]) -> list[str]:
    lines = ["| data set | h | slope | seeds | altmin train MSE | best Adam | best SGD | "
             "altmin below both | speed-up to Adam's MSE | altmin s / iteration | "
             "iterations in Adam's time / 10 | iterations to Adam's MSE |",
             "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for c in check["cells"]:
        lines.append(f"| {c['dataset']} | {c['hidden']} | {c['slope']:g} | {c['seeds']} | "
                     f"{fmt(c['altmin'])} | {fmt(c['adam'])} | {fmt(c['sgd'])} | "
                     f"{'yes' if c['loss_win'] else '**no**'} | {fmt(c['speedup'], '.3g')}x"
                     f"{ACROSS_DAYS_MARK if c['across_days'] else ''} | "
                     f"{fmt(c['seconds_per_iteration'], '.2g')} | "
                     f"{fmt(c['budget_iterations'], '.3g')} | "
                     f"{_iterations(c['iterations_to_adam'])} |")
    lines.append("")
    if any(c["across_days"] for c in check["cells"]):
        lines += [ACROSS_DAYS_NOTE.format(this="altmin", other="the best Adam"), ""]
    for hidden, v in check["widths"].items():
        parts = [f"slope {s}: loss below Adam and SGD on {p['loss_wins']}/{p['datasets']}, "
                 f"≥10x sooner on {p['speedups_10x']}/{p['datasets']} (need {p['needed']})"
                 for s, p in v["per_slope"].items()]
        lines.append(f"- **h = {hidden}: {'PASS' if v['pass'] else 'FAIL'}** — "
                     + "; ".join(parts))
    return lines


def lbfgs_check_lines(check: dict[str, Any]) -> list[str]:
    """One Markdown table per ``altmin`` variant, then one summary line per variant."""
    lines: list[str] = []
    relu_only = across_days = False
    for variant in check["summary"]:
        lines += [f"### {variant}", "",
                  f"| data set | h | slope | seeds | {variant} MSE | torch_lbfgs_conv MSE | s | "
                  f"sklearn_lbfgs_conv MSE | s | best L-BFGS | target | {variant} t→target | "
                  "L-BFGS s | loss | time |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---|"]
        for c in check["cells"]:
            if variant not in c["altmin"]:
                continue
            a = c["altmin"][variant]
            tl = c["lbfgs"].get("torch_lbfgs_conv", {})
            sk = c["lbfgs"].get("sklearn_lbfgs_conv", {})
            mark = " †" if sk.get("relu_only") else ""
            relu_only |= bool(mark)
            capped = f" (cap {tl['time_capped']}/{tl['seeds']})" if tl.get("time_capped") \
                else ""
            mine_capped = f" (cap {a['time_capped']}/{a['seeds']})" if a.get("time_capped") \
                else ""
            floor = f" (floor, {a['lbfgs_interpolates']}/{a['seeds']})" \
                if a["lbfgs_interpolates"] else ""
            reach = "never" if math.isinf(a["time_to_target"]) \
                else fmt(a["time_to_target"], ".3g")
            if a["across_days"]:
                reach, across_days = reach + ACROSS_DAYS_MARK, True
            lines.append(
                f"| {c['dataset']} | {c['hidden']} | {c['slope']:g} | {a['seeds']} | "
                f"{fmt(a['train_mse'])}{mine_capped} | {fmt(tl.get('train_mse'))} | "
                f"{fmt(tl.get('seconds'), '.3g')}{capped} | {fmt(sk.get('train_mse'))}{mark} | "
                f"{fmt(sk.get('seconds'), '.3g')} | {c['best_lbfgs']} | "
                f"{fmt(a['target'])}{floor} | {reach} | {fmt(a['lbfgs_seconds'], '.3g')} | "
                f"{'PASS' if a['loss_pass'] else '**fail**'} | "
                f"{'PASS' if a['time_pass'] else '**fail**'} |")
        lines.append("")
    for variant, v in check["summary"].items():
        lines.append(f"- **{variant}: {v['both']}/{v['cells']} cells pass both** (loss "
                     f"{v['loss']}/{v['cells']}, time {v['time']}/{v['cells']})")
        n = v["cells"]
        lines.append(
            f"  - time target: median t→target ≤ L-BFGS s on {v['time']}/{n} cells "
            f"({100 * v['time'] / n:.0f} %, need ≥ {100 * LBFGS_TIME_FRACTION:g} %): "
            f"**{'PASS' if v['time_target'] else 'FAIL'}**; final-MSE target: median MSE ≤ "
            f"median target on {v['loss']}/{n} cells ({100 * v['loss'] / n:.0f} %, need ≥ "
            f"{100 * LBFGS_LOSS_FRACTION:g} %): **{'PASS' if v['loss_target'] else 'FAIL'}**"
            + (f" ({v['floor']} cell(s) use the floor)" if v.get("floor") else ""))
    if relu_only:
        lines += ["", f"† {SKLEARN_NO_LEAKY}."]
    if across_days:
        lines += ["", ACROSS_DAYS_NOTE.format(this="the altmin variant", other="the L-BFGS")]
    return lines


def settings(values: dict[str, Any]) -> str:
    """``{"max_iter": 5000, "tol": 0.0}`` as ``max_iter 5000, tol 0``."""
    return ", ".join(f"{key} {value:g}" for key, value in values.items())


def markdown(runs: list[Run], meta: dict[str, Any], name: str) -> str:
    m, cfg = meta["machine"], meta["config"]
    v = m["versions"]
    check = target_check(runs)
    conv = lbfgs_check(runs)
    lines = [
        "# Training benchmark: analytic trainer against gradient methods",
        "",
        f"Generated by `benchmarks/training.py` on {m['date']} ({m['cpu']}, {m['cores']} "
        f"cores, {cfg['threads']} thread(s) used; relu-altmin {v['relu_altmin']}, numpy "
        f"{v['numpy']}, torch {v['torch']}, scipy {v['scipy']}, scikit-learn "
        f"{v['scikit_learn']}). Data: `{name}.json`.",
        "",
        f"Configuration: data sets {', '.join(cfg['datasets'])}; h ∈ {cfg['hidden']}; "
        f"slope ∈ {cfg['slopes']}; seeds {cfg['seeds']}; "
        + (f"methods {', '.join(cfg['methods'])}; " if cfg.get("methods") else "")
        + f"torch learning rates "
        f"{cfg['learning_rates']}; our baselines: "
        + (f"{', '.join(cfg['baselines'])} over {cfg['baseline_learning_rates']}"
           if cfg["baselines"] else f"not run ({cfg['baselines_error'] or 'none selected'})")
        + f". Full batch {cfg['full_batch_epochs']} epochs, minibatch {cfg['batch_size']} for "
        f"{cfg['minibatch_epochs']} epochs, momentum {cfg['momentum']}; L-BFGS at most "
        f"{cfg['lbfgs_max_iter']} iterations; TRF at most {cfg['trf_max_nfev']} evaluations "
        f"and {cfg['trf_time_cap_s']:g} s. "
        + (f"torch_lbfgs_conv: {settings(cfg['torch_lbfgs']['torch_lbfgs_conv'])}, time "
           f"cap {cfg['lbfgs_time_cap_s']:g} s; sklearn_lbfgs_conv: "
           f"{settings(cfg['sklearn_lbfgs']['sklearn_lbfgs_conv'])}. "
           if {"torch_lbfgs_conv", "sklearn_lbfgs_conv"} & set(cfg.get("methods", [])) else "")
        + (f"altmin variants: max_iter {cfg['altmin_max_iter']}"
           + (f", time cap {cfg['altmin_time_cap_s']:g} s" if cfg.get("altmin_time_cap_s")
              is not None else "") + ". "
           if cfg.get("altmin_max_iter") is not None else "")
        + (f"Backend {cfg['backend']}: altmin and our baselines on {cfg['backend']} arrays, "
           f"the torch peers on {cfg['torch_device']}"
           + (f" ({m['gpu']})" if m.get("gpu") else "")
           + ", scikit-learn and SciPy on the CPU. "
           if cfg.get("backend", "numpy") != "numpy" else "")
        + f"Total benchmark time {cfg['total_seconds'] / 60:.1f} min.",
    ]
    if cfg.get("note"):
        lines += ["", f"**Note:** {cfg['note']}"]
    lines += [
        "",
        "Every method starts from the same network (`fit(..., max_iter=0).network`) except "
        "`sklearn_lbfgs` and `sklearn_lbfgs_conv` (MLPRegressor takes no start; they use its "
        "own initialisation, and a ReLU network whatever the slope: `sklearn_lbfgs` runs at "
        "slope 0 only, `sklearn_lbfgs_conv` at every slope, marked †). Tuned methods report "
        "their best learning rate by final training MSE; their wall time is that one run's "
        "(\"tuning\" is the whole grid). MSE is `(1/n)‖Y - F‖²_F` on standardised targets; "
        "held-out MSE on the 20 % split.",
    ]
    if conv["cells"]:
        lines += [
            "",
            "## Target: converged L-BFGS",
            "",
            "Medians over seeds. *best L-BFGS* is the converged L-BFGS run (torch or "
            "scikit-learn) with the lower median final training MSE. A seed's *target* is its "
            f"final training MSE, or {INTERPOLATION:g} times the variance of the training targets "
            "when it got below that (*floor*, on how many seeds). *t→target* is the median "
            "time the altmin variant takes to first reach its seed's target (never = ∞), "
            "*L-BFGS s* the median wall time of the best L-BFGS on those seeds (*cap*: torch "
            "or altmin runs stopped by the time cap, not by their own tests). *loss* passes "
            "when the variant's median MSE ≤ the median target (relative tolerance "
            f"{MATCH_RTOL:g}), *time* when t→target ≤ L-BFGS s. A cell is one (data set, h, "
            f"slope); the target holds when *time* passes on ≥ {100 * LBFGS_TIME_FRACTION:g} % "
            f"of the cells and *loss* on ≥ {100 * LBFGS_LOSS_FRACTION:g} %.",
            "",
            *lbfgs_check_lines(conv),
        ]
    if check["cells"]:
        lines += [
            "",
            "## Target check: Adam and SGD",
            "",
            "Medians over seeds. *Speed-up* = wall time of the best-tuned Adam run ÷ time the "
            "analytic trainer takes to reach that Adam run's final training MSE (0 = never). "
            "*s / iteration* = the analytic trainer's wall time over its iterations; "
            "*iterations in Adam's time / 10* = how many of them fit in a tenth of the best "
            "Adam run's time, the most a 10x speed-up leaves; *iterations to Adam's MSE* = "
            "the iteration at which it first reaches that Adam run's final training MSE.",
            "",
            *check_lines(check),
        ]
    lines += [
        "",
        "## Medians over seeds",
        "",
        "Train / held-out MSE and wall seconds; *t→best peer* is the time the method takes to "
        "reach the best final training MSE of the peers (every method but the altmin "
        "variants; - = never).",
        "",
    ]
    configs = by_config(runs)
    for dataset in dict.fromkeys(k[0] for k in configs):
        lines += [f"### {dataset}", "",
                  "| h | slope | method | train MSE | held-out MSE | seconds | t→best peer | "
                  "lr | tuning s |",
                  "|---:|---:|---|---:|---:|---:|---:|---:|---:|"]
        for key in sorted(k for k in configs if k[0] == dataset):
            seeds = configs[key]
            methods = [mth for mth in PEER_ORDER
                       if any(r.method == mth for g in seeds.values() for r in g)]
            for method in methods:
                rs = [r for g in seeds.values() for r in g if r.method == method]
                t_best = [r.time_to_best_peer if r.time_to_best_peer is not None else math.inf
                          for r in rs]
                mt = median(t_best)
                lrs = sorted({r.lr for r in rs if r.lr is not None})
                tuning = [r.tuning_seconds for r in rs if r.tuning_seconds is not None]
                label = f"**{method}**" if method == "altmin" else method
                if any("network" in r.info for r in rs):
                    label += " †"
                lines.append(
                    f"| {key[1]} | {key[2]:g} | {label} | "
                    f"{fmt(median(r.train_mse for r in rs))} | "
                    f"{fmt(median(r.test_mse for r in rs))} | "
                    f"{fmt(median(r.seconds for r in rs), '.3g')} | "
                    f"{'-' if math.isinf(mt) else fmt(mt, '.3g')} | "
                    f"{', '.join(f'{lr:g}' for lr in lrs) or '-'} | "
                    f"{fmt(median(tuning), '.3g') if tuning else '-'} |")
        lines.append("")
    lines += ["## Plots", "",
              *(f"![{d}]({name}_{d}.png)" for d in dict.fromkeys(k[0] for k in configs)), ""]
    return "\n".join(lines)
