"""Teacher recovery by alternating minimisation with a known output layer.

Gaussian inputs ``x ~ N(0, I_d)``, a planted teacher ``y = sum_j v*_j relu(w*_j . x)`` with
unit-norm Gaussian rows ``w*_j``, known signs ``v*_j in {+1, -1}`` and no biases (optional
label noise). The student has the teacher's architecture and output layer.

(a) From a start at relative distance ``--start-dist`` of ``W*``: ``||W_t - W*||_F/||W*||_F``
    per iteration of alternating minimisation (``fit(train_output=False)``) and per epoch of
    full-batch gradient descent with the best step of a grid, on the same data and start; the
    per-iteration contraction factor of each (a line fitted to log distance).
(b) Probability of exact recovery (relative error < 1e-2) of alternating minimisation over
    ``n / (d k^2)`` and ``k``, ``--trials`` per cell: a heatmap.

Writes ``results/teacher_recovery.json`` and ``results/teacher_recovery.png``.

Usage::

    python benchmarks/experiments/teacher_recovery.py [--seed 0] [--trials 6]
    python benchmarks/experiments/teacher_recovery.py --full --backend cupy   # GPU
"""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _exp import PAPER_STEP, base_parser, contraction, namespace, perturb, rel_dist, relu, write

import relu_altmin
from relu_altmin import baselines

SUCCESS = 1e-2


def teacher(n: int, d: int, k: int, noise: float, rng: np.random.Generator):
    """Inputs, labels, ``W*`` (unit-norm rows) and ``v*`` (random signs, both present if k>1)."""
    W = rng.standard_normal((k, d))
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    v = rng.choice([-1.0, 1.0], size=k)
    if k > 1:
        v[0], v[1] = 1.0, -1.0
    X = rng.standard_normal((n, d))
    y = relu(X @ W.T) @ v + noise * rng.standard_normal(n)
    return X, y, W, v


def altmin(xp, X, y, W0, v, W_star, max_iter):
    """Alternating minimisation from ``W0``; relative distance per iteration and seconds."""
    dist = [rel_dist(W0, W_star)]
    t0 = time.perf_counter()
    res = relu_altmin.fit(xp.asarray(X), xp.asarray(y), len(v), train_output=False,
                          output_weights=xp.asarray(v), bias=False, init=xp.asarray(W0),
                          l2=0.0, tol=0.0, max_iter=max_iter, step=PAPER_STEP,
                          callback=lambda rec, net: dist.append(rel_dist(net.W, W_star)))
    return dist, time.perf_counter() - t0, res


def gd(xp, X, y, W0, v, W_star, lr, epochs):
    """Full-batch gradient descent on ``W`` from ``W0``; relative distance per epoch."""
    dist = [rel_dist(W0, W_star)]
    t0 = time.perf_counter()
    res = baselines.train(xp.asarray(X), xp.asarray(y), len(v), method="gd", lr=lr,
                          epochs=epochs, train_output=False, output_weights=xp.asarray(v),
                          bias=False, init=xp.asarray(W0),
                          callback=lambda rec, net: dist.append(rel_dist(net.W, W_star)))
    return dist, time.perf_counter() - t0, res


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--d", type=int, default=None, help="input dimension (default 20)")
    parser.add_argument("--k", type=int, default=5, help="hidden units in part (a)")
    parser.add_argument("--ratio", type=float, default=4.0,
                        help="n / (d k^2) in part (a)")
    parser.add_argument("--noise", type=float, default=0.0, help="label noise std")
    parser.add_argument("--start-dist", type=float, default=0.1,
                        help="relative distance of the start from W*")
    parser.add_argument("--iters", type=int, default=30, help="alternating iterations")
    parser.add_argument("--epochs", type=int, default=600, help="gradient-descent epochs")
    parser.add_argument("--lrs", type=float, nargs="+", default=[0.5, 1.0, 1.4, 1.7, 2.0],
                        help="gradient-descent step grid (the best final distance is kept)")
    parser.add_argument("--ks", type=int, nargs="+", default=None,
                        help="k values of the heatmap (default 2 3 4 6 8 10; --full 2..10)")
    parser.add_argument("--ratios", type=float, nargs="+", default=None,
                        help="n / (d k^2) values of the heatmap")
    parser.add_argument("--trials", type=int, default=None,
                        help="trials per heatmap cell (default 8; --full 20)")
    args = parser.parse_args()
    full = args.full
    args.d = args.d or 20
    args.ks = args.ks or (list(range(2, 11)) if full else [2, 3, 4, 6, 8, 10])
    args.ratios = args.ratios or ([0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 2, 4] if full
                                  else [0.05, 0.1, 0.2, 0.3, 0.5, 1, 2])
    args.trials = args.trials or (20 if full else 8)
    xp = namespace(args.backend)
    rng = np.random.default_rng(args.seed)
    d = args.d

    # (a) linear convergence from a good start
    k = args.k
    n = round(args.ratio * d * k * k)
    X, y, W_star, v = teacher(n, d, k, args.noise, rng)
    W0 = perturb(W_star, args.start_dist, rng)
    am_dist, am_sec, am_res = altmin(xp, X, y, W0, v, W_star, args.iters)
    runs = {}
    for lr in args.lrs:
        dist, sec, res = gd(xp, X, y, W0, v, W_star, lr, args.epochs)
        runs[lr] = (dist, sec, res.stop_reason)
        print(f"GD lr={lr}: final distance {dist[-1]:.3e} ({res.stop_reason})")
    best_lr = min(runs, key=lambda lr: runs[lr][0][-1] if runs[lr][2] != "diverged" else np.inf)
    gd_dist, gd_sec, _ = runs[best_lr]
    floor = max(1e-12, 10 * args.noise / np.sqrt(n)) if args.noise else 1e-12
    rates = {"altmin": contraction(am_dist, floor), "gd": contraction(gd_dist, floor)}
    print(f"(a) d={d} k={k} n={n}: altmin contraction {rates['altmin']:.3g}/iter "
          f"(final {am_dist[-1]:.2e}, {am_sec:.2f}s), GD lr={best_lr} contraction "
          f"{rates['gd']:.5g}/epoch (final {gd_dist[-1]:.2e}, {gd_sec:.2f}s)")

    # (b) recovery probability over n / (d k^2) and k
    prob = np.zeros((len(args.ks), len(args.ratios)))
    t0 = time.perf_counter()
    for i, kk in enumerate(args.ks):
        for j, ratio in enumerate(args.ratios):
            nn = max(round(ratio * d * kk * kk), 2)
            wins = 0
            for _ in range(args.trials):
                Xb, yb, Wb, vb = teacher(nn, d, kk, args.noise, rng)
                dist, _, _ = altmin(xp, Xb, yb, perturb(Wb, args.start_dist, rng), vb, Wb,
                                    args.iters)
                wins += min(dist) < SUCCESS and dist[-1] < SUCCESS
            prob[i, j] = wins / args.trials
        print(f"(b) k={kk}: " + " ".join(f"{p:.2f}" for p in prob[i]))
    heat_sec = time.perf_counter() - t0

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax1.semilogy(am_dist, "o-", ms=3, label=f"alternating min. ({rates['altmin']:.2g}/iter)")
    ax1.semilogy(gd_dist, "-", label=f"GD, lr={best_lr:g} ({rates['gd']:.4g}/epoch)")
    ax1.set_xscale("symlog", linthresh=30)
    ax1.set_xlabel("iteration / epoch")
    ax1.set_ylabel(r"$\|W_t - W^*\|_F / \|W^*\|_F$")
    ax1.set_title(f"(a) d={d}, k={k}, n={n}")
    ax1.legend(fontsize=8)
    im = ax2.imshow(prob, origin="lower", aspect="auto", vmin=0, vmax=1, cmap="viridis")
    ax2.set_xticks(range(len(args.ratios)), [f"{r:g}" for r in args.ratios])
    ax2.set_yticks(range(len(args.ks)), [str(kk) for kk in args.ks])
    ax2.set_xlabel(r"$n / (d k^2)$")
    ax2.set_ylabel("k")
    ax2.set_title(f"(b) P(recovery), d={d}, {args.trials} trials, start {args.start_dist:g}")
    fig.colorbar(im, ax=ax2)
    fig.tight_layout()
    write("teacher_recovery", args.out, args, {
        "convergence": {
            "d": d, "k": k, "n": n, "start_dist": args.start_dist,
            "altmin": {"distance": am_dist, "contraction_per_iter": rates["altmin"],
                       "seconds": am_sec, "stop_reason": am_res.stop_reason},
            "gd": {"lr": best_lr, "distance": gd_dist, "contraction_per_epoch": rates["gd"],
                   "seconds": gd_sec,
                   "final_distance_per_lr": {str(lr): r[0][-1] for lr, r in runs.items()},
                   "stop_reason_per_lr": {str(lr): r[2] for lr, r in runs.items()}},
        },
        "recovery": {"d": d, "ks": args.ks, "ratios": args.ratios, "trials": args.trials,
                     "success_threshold": SUCCESS, "probability": prob.tolist(),
                     "seconds": heat_sec},
    }, fig)


if __name__ == "__main__":
    main()
