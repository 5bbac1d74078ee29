"""Momentum and two-step-size gradient descent on an over-parameterised two-layer ReLU net.

``n`` Gaussian inputs (normalised to the unit sphere) with random labels ``y ~ N(0, 1)``, a
two-layer ReLU net without biases of width ``m >> n``, started at ``W`` with ``N(0, 1/d)``
entries and ``V`` with ``+-1/sqrt(m)`` entries (not ``fit``'s least-squares output layer,
which would fit the random labels at once when ``m >= n``). Full-batch training of both layers:

- gradient descent, heavy ball and Nesterov (constant momentum ``--momentum``) and Nesterov
  with the ``(t-1)/(t+2)`` schedule, each with GD's best step of a grid, or the largest
  smaller step of the grid where the method does not diverge;
  the log training loss per iteration;
- ``"two_step"`` gradient descent with separate steps for the hidden and the output layer
  (the best pair of a grid), and how far the weights moved: ``||W_T - W_0||/||W_0||`` and
  ``||V_T - V_0||/||V_0||``.

Writes ``results/momentum_overparam.json`` and ``results/momentum_overparam.png``.

Usage::

    python benchmarks/experiments/momentum_overparam.py [--seed 0] [--epochs 1000]
    python benchmarks/experiments/momentum_overparam.py --full --backend cupy   # GPU
"""

from __future__ import annotations

import itertools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _exp import base_parser, namespace, to_numpy, write

import relu_altmin
from relu_altmin import baselines


def rel_move(a, a0: np.ndarray) -> float:
    return float(np.linalg.norm(to_numpy(a) - a0) / np.linalg.norm(a0))


def draw_start(rng: np.random.Generator, m: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """The start of width ``m``: ``W`` with ``N(0, 1/d)`` entries, ``V`` with ``±1/sqrt(m)``."""
    return (rng.standard_normal((m, d)) / np.sqrt(d),
            rng.choice([-1.0, 1.0], size=m) / np.sqrt(m))


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--n", type=int, default=None, help="samples (default 50; --full 1000)")
    parser.add_argument("--d", type=int, default=None, help="inputs (default 10; --full 100)")
    parser.add_argument("--m", type=int, default=None,
                        help="width (default 2000; --full 20000)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="iterations (default 1000; --full 5000)")
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-2, 2e-2, 4e-2, 8e-2],
                        help="step grid for GD (the best final loss sets the common step)")
    parser.add_argument("--lrs-hidden", type=float, nargs="+", default=[4.0, 16.0, 64.0])
    parser.add_argument("--lrs-output", type=float, nargs="+", default=[1e-2, 4e-2])
    parser.add_argument("--widths", type=int, nargs="*", default=[],
                        help="also run two-step GD at these widths, each from its own start, "
                             "with the best hidden step and the output step scaled by m/width, "
                             "and record how far the weights move")
    args = parser.parse_args()
    full = args.full
    args.n = args.n or (1000 if full else 50)
    args.d = args.d or (100 if full else 10)
    args.m = args.m or (20_000 if full else 2000)
    args.epochs = args.epochs or (5000 if full else 1000)
    xp = namespace(args.backend)
    rng = np.random.default_rng(args.seed)
    n, d, m = args.n, args.d, args.m
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.standard_normal(n)
    W0, V0 = draw_start(rng, m, d)
    Xx, yx = xp.asarray(X), xp.asarray(y)

    def train(method, lr, W0=W0, V0=V0, **kw):
        init = relu_altmin.TwoLayerNet(xp.asarray(W0), None, xp.asarray(V0), None)
        res = baselines.train(Xx, yx, W0.shape[0], method=method, lr=lr, epochs=args.epochs,
                              bias=False, init=init, **kw)
        loss = [r.loss for r in res.history]
        ok = res.stop_reason != "diverged" and loss[-1] <= loss[0]
        return res, loss, ok

    def two_step_summary(lh, lo, loss, res, W0, V0):
        moved = {"W": rel_move(res.network.W, W0), "V": rel_move(res.network.V, V0)}
        print(f"two_step m={W0.shape[0]} ({lh:g}, {lo:g}): loss {loss[0]:.3e} -> "
              f"{loss[-1]:.3e}; ||W-W0||/||W0|| = {moved['W']:.3e}, ||V-V0||/||V0|| = "
              f"{moved['V']:.3e}")
        return {"lr_hidden": lh, "lr_output": lo, "final_loss": loss[-1],
                "initial_loss": loss[0], "relative_move": moved}

    gd = {}
    for lr in args.lrs:
        res, loss, ok = train("gd", lr)
        gd[lr] = (loss[-1] if ok else np.inf)
        print(f"gd lr={lr:g}: final loss {loss[-1]:.3e} ({res.stop_reason})")
    lr = min(gd, key=gd.get)
    curves, summary = {}, {"lr": lr, "gd_final_loss_per_lr": {str(k): v for k, v in gd.items()}}
    for name, method, kw in (("GD", "gd", {}),
                             ("heavy ball", "heavy_ball", {"momentum": args.momentum}),
                             ("Nesterov", "nesterov", {"momentum": args.momentum}),
                             ("Nesterov (t-1)/(t+2)", "nesterov_schedule", {})):
        # GD's best step, or the largest smaller step of the grid where the method is stable
        for step in sorted((s for s in args.lrs if s <= lr), reverse=True):
            res, loss, ok = train(method, step, **kw)
            if ok:
                break
        curves[f"{name}, step {step:g}"] = loss
        below = [t for t, v in enumerate(loss) if v < 1e-6 * loss[0]]
        summary[name] = {"lr": step, "final_loss": loss[-1], "stop_reason": res.stop_reason,
                         "iterations_to_1e-6_relative": below[0] if below else None}
        print(f"{name} (step {step:g}): final loss {loss[-1]:.3e} ({res.stop_reason}); "
              f"loss/loss0 < 1e-6 at {below[0] if below else None}")

    best = None
    for lh, lo in itertools.product(args.lrs_hidden, args.lrs_output):
        res, loss, ok = train("two_step", lh, lr_hidden=lh, lr_output=lo)
        print(f"two_step hidden={lh:g} output={lo:g}: final loss {loss[-1]:.3e}")
        if ok and (best is None or loss[-1] < best[2][-1]):
            best = (lh, lo, loss, res)
    lh, lo, loss, res = best
    curves[f"two-step GD ({lh:g}, {lo:g})"] = loss
    summary["two_step"] = two_step_summary(lh, lo, loss, res, W0, V0)
    sweep = []
    for width in args.widths:
        # Each width its own start, drawn like the main one, from (seed, width). The output
        # layer's kernel sum_j relu(w_j.x) relu(w_j.x') grows like the width while the hidden
        # layer's (entries of V ~ 1/sqrt(m)) does not: a width-consistent output step is ~1/m.
        Ww, Vw = draw_start(np.random.default_rng([args.seed, width]), width, d)
        lo_w = lo * m / width
        res, loss, _ = train("two_step", lh, Ww, Vw, lr_hidden=lh, lr_output=lo_w)
        sweep.append({"m": width, **two_step_summary(lh, lo_w, loss, res, Ww, Vw)})
    summary["width_sweep"] = sweep

    fig, axes = plt.subplots(1, 2 if sweep else 1, figsize=(12 if sweep else 6.5, 4),
                             squeeze=False)
    ax = axes[0, 0]
    for name, loss in curves.items():
        ax.semilogy(np.clip(loss, 1e-32, 1e3), label=name)
    ax.set_xlabel("iteration")
    ax.set_ylabel("training MSE")
    ax.set_title(f"random labels, n={n}, d={d}, width m={m}")
    ax.legend(fontsize=8)
    if sweep:
        ax = axes[0, 1]
        widths = [r["m"] for r in sweep]
        for layer in ("W", "V"):
            ax.loglog(widths, [r["relative_move"][layer] for r in sweep], "o-",
                      label=f"||{layer} - {layer}0|| / ||{layer}0||")
        ax.set_xlabel("width m")
        ax.set_title(f"two-step GD, {args.epochs} iterations: how far the weights move")
        ax.legend(fontsize=8)
    fig.tight_layout()
    write("momentum_overparam", args.out, args, {"n": n, "d": d, "m": m, "curves": curves,
                                                 "summary": summary}, fig)


if __name__ == "__main__":
    main()
