"""The training benchmark's plots: loss versus time, one PNG per data set."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from harness.report import pyplot, save_figure

from .checks import best_of, by_config, lbfgs_targets
from .runs import Run
from .settings import PEER_ORDER

#: Line styles by method-name prefix, the most specific first.
PLOT_STYLE = {
    "altmin_damped": {"color": "tab:brown", "lw": 1.6},
    "altmin_exact": {"color": "tab:pink", "lw": 1.6},
    "altmin_cg": {"color": "dimgray", "lw": 1.4, "ls": "--"},
    "altmin_dense": {"color": "dimgray", "lw": 1.4, "ls": ":"},
    "altmin_all_rows": {"color": "tab:cyan", "lw": 1.4, "ls": "--"},
    "altmin_no_endgame": {"color": "tab:purple", "lw": 1.4, "ls": ":"},
    "altmin": {"color": "black", "lw": 2.2},
    "torch_adam": {"color": "tab:blue"},
    "torch_sgd": {"color": "tab:orange"},
    "torch_lbfgs_conv": {"color": "tab:olive"},
    "torch_lbfgs": {"color": "tab:green"},
    "scipy_trf": {"color": "tab:red"},
    "sklearn_lbfgs_conv": {"color": "tab:cyan", "marker": "P", "ms": 9, "ls": "none"},
    "sklearn_lbfgs": {"color": "tab:purple", "marker": "*", "ms": 10, "ls": "none"},
    "ours_": {"color": "tab:gray", "lw": 0.8, "ls": "--"},
}


def plots(runs: list[Run], out: Path, name: str) -> list[Path]:
    """One PNG per data set: loss versus time (log-log) for the first seed, every method.

    Where the converged L-BFGS runs ran, the seed's target loss (:func:`lbfgs_targets`) is a
    dotted line.
    """
    plt = pyplot()
    written = []
    configs = by_config(runs)
    for dataset in dict.fromkeys(k[0] for k in configs):
        keys = sorted(k for k in configs if k[0] == dataset)
        cols = min(len(keys), 2)
        rows = math.ceil(len(keys) / cols)
        fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.6 * rows), squeeze=False)
        for ax, key in zip(axes.flat, keys, strict=False):
            seed = min(configs[key])
            group = configs[key][seed]
            for method in PEER_ORDER:
                if method.startswith("torch_adam") or method.startswith("torch_sgd"):
                    best = best_of(group, method[:10])
                    if best is None or best.method != method:
                        continue  # only the better of full batch and minibatch
                rs = [r for r in group if r.method == method]
                if not rs or not rs[0].trace:
                    continue
                r = rs[0]
                style = next(v for k, v in PLOT_STYLE.items() if method.startswith(k))
                t = np.maximum([p[0] for p in r.trace], 1e-4)
                loss = np.maximum([p[1] for p in r.trace], 1e-12)
                label = method + (f" (lr {r.lr:g})" if r.lr is not None else "")
                ax.plot(t, loss, label=label, zorder=3 if method == "altmin" else 2, **style)
            found = lbfgs_targets(configs[key])
            if found is not None and seed in found[1]:
                ax.axhline(max(found[1][seed], 1e-12), color="gray", ls=":", lw=1.2,
                           label=f"target ({found[0]})")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{dataset}, h={key[1]}, slope {key[2]:g}, seed {seed}", fontsize=9)
            ax.set_xlabel("wall time (s)", fontsize=8)
            ax.set_ylabel("training MSE", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(True, which="major", alpha=0.3)
        for ax in list(axes.flat)[len(keys):]:
            ax.set_visible(False)
        handles, labels = {}, {}
        for ax in axes.flat:
            for hnd, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                base = lab.split(" (")[0]
                handles.setdefault(base, hnd)
                labels.setdefault(base, base)
        ncol = 5 if cols > 1 else 3
        legend_rows = math.ceil(len(handles) / ncol)
        fig.legend(list(handles.values()), list(labels.values()), loc="lower center",
                   ncol=ncol, fontsize=7, frameon=False)
        fig.tight_layout(rect=(0, (0.15 * legend_rows + 0.1) / (3.6 * rows), 1, 1))
        path = out / f"{name}_{dataset}.png"
        save_figure(fig, path, dpi=72, tight=False)
        written.append(path)
    return written
