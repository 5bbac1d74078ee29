"""Teacher recovery with skip connections (identity offset), k = d.

Teacher ``y = sum_j relu((e_j + w*_j) . x)`` with ``x ~ N(0, I_d)`` and a small ``W*``
(Gaussian, rescaled to spectral norm ``--teacher-norm``); the student is the same network
(``skip=True``, output weights all ones, no bias). For each ``n`` of a grid, the probability
(over ``--trials`` draws) that alternating minimisation (``fit(train_output=False)``) and
full-batch gradient descent recover ``W*`` (relative error < 1e-2), each from the identity
start (``W = 0``) and from a random start (entries ``N(0, 1/d)``); also up to a permutation
of the units, which leaves the function unchanged. At the largest ``n``, the
training and test loss per iteration/epoch of each method and start.

Writes ``results/skip_connections.json`` and ``results/skip_connections.png``.

Usage::

    python benchmarks/experiments/skip_connections.py [--seed 0] [--trials 5]
    python benchmarks/experiments/skip_connections.py --full --backend cupy   # GPU, d = 20
"""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _exp import PAPER_STEP, base_parser, namespace, rel_dist, relu, to_numpy, write
from scipy.optimize import linear_sum_assignment

import relu_altmin
from relu_altmin import baselines

SUCCESS = 1e-2
STARTS = ("identity", "random")
METHODS = ("altmin", "gd")


def teacher_weights(d: int, norm: float, rng: np.random.Generator) -> np.ndarray:
    W = rng.standard_normal((d, d))
    return W * (norm / np.linalg.norm(W, 2))


def sample(n: int, W_star: np.ndarray, rng: np.random.Generator):
    X = rng.standard_normal((n, W_star.shape[1]))
    return X, relu(X @ (W_star + np.eye(len(W_star))).T).sum(axis=1)


def perm_dist(W, W_star: np.ndarray) -> float:
    """Relative distance of ``I + W`` to ``I + W*`` up to a permutation of the units (rows):
    with output weights all ones, permuting the rows of ``I + W`` leaves the function as is."""
    U, U_star = to_numpy(W) + np.eye(len(W_star)), W_star + np.eye(len(W_star))
    cost = ((U[:, None, :] - U_star[None, :, :]) ** 2).sum(axis=2)
    rows, cols = linear_sum_assignment(cost)
    return float(np.sqrt(cost[rows, cols].sum()) / np.linalg.norm(W_star))


def run(xp, method, X, y, W0, W_star, args, test=None):
    """One fit; the relative distance (and train/test loss with ``test``) per iteration."""
    d = X.shape[1]
    dist, train, held = [], [], []

    def watch(rec, net):
        dist.append(rel_dist(net.W, W_star))
        train.append(rec.loss)
        if test is not None:
            held.append(float(np.mean((to_numpy(net.predict(test[0])) - test[1]) ** 2)))

    common = dict(train_output=False, output_weights=xp.ones(d, dtype=xp.float64), skip=True,
                  bias=False, init=None if W0 is None else xp.asarray(W0), callback=watch)
    Xx, yx = xp.asarray(X), xp.asarray(y)
    if method == "altmin":
        res = relu_altmin.fit(Xx, yx, d, l2=0.0, tol=0.0, max_iter=args.iters,
                              step=PAPER_STEP, **common)
    else:
        res = baselines.train(Xx, yx, d, method="gd", lr=args.lr, epochs=args.epochs, **common)
    start = res.history[0]
    # the callback sees iterations 1, 2, ...; prepend the start
    W_start = np.zeros((d, d)) if W0 is None else W0
    dist.insert(0, rel_dist(W_start, W_star))
    train.insert(0, start.loss)
    if test is not None:
        F = relu(to_numpy(test[0]) @ (W_start + np.eye(d)).T).sum(axis=1)
        held.insert(0, float(np.mean((F - test[1]) ** 2)))
    return dist, train, held, res.stop_reason, perm_dist(res.network.W, W_star)


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--d", type=int, default=None, help="dimension = width (default 10)")
    parser.add_argument("--ns", type=int, nargs="+", default=None,
                        help="sample sizes (default 50..400; --full 200..1700 with d = 20)")
    parser.add_argument("--trials", type=int, default=None,
                        help="trials per n (default 5; --full 20)")
    parser.add_argument("--teacher-norm", type=float, default=0.3,
                        help="spectral norm of W*")
    parser.add_argument("--iters", type=int, default=50, help="alternating iterations")
    parser.add_argument("--epochs", type=int, default=None,
                        help="gradient-descent epochs (default 1500; --full 5000)")
    parser.add_argument("--lr", type=float, default=None,
                        help="gradient-descent step (default 0.5 at d = 10, 0.25 with --full: "
                             "the largest of 1, 0.5, 0.25 with which GD does not diverge)")
    parser.add_argument("--n-test", type=int, default=2000, help="test samples")
    args = parser.parse_args()
    full = args.full
    args.d = args.d or (20 if full else 10)
    args.ns = args.ns or (list(range(200, 1701, 100)) if full
                          else [50, 100, 150, 200, 250, 300, 400])
    args.trials = args.trials or (20 if full else 5)
    args.epochs = args.epochs or (5000 if full else 1500)
    args.lr = args.lr or (0.25 if full else 0.5)
    xp = namespace(args.backend)
    rng = np.random.default_rng(args.seed)
    d = args.d

    prob = {m: {s: [] for s in STARTS} for m in METHODS}
    pprob = {m: {s: [] for s in STARTS} for m in METHODS}
    t0 = time.perf_counter()
    for n in args.ns:
        wins = {(m, s): 0 for m in METHODS for s in STARTS}
        pwins = dict(wins)
        for _ in range(args.trials):
            W_star = teacher_weights(d, args.teacher_norm, rng)
            X, y = sample(n, W_star, rng)
            W_rand = rng.standard_normal((d, d)) / np.sqrt(d)
            for m in METHODS:
                for s in STARTS:
                    out = run(xp, m, X, y, None if s == "identity" else W_rand, W_star,
                              args)
                    wins[m, s] += out[0][-1] < SUCCESS
                    pwins[m, s] += out[4] < SUCCESS
        for m in METHODS:
            for s in STARTS:
                prob[m][s].append(wins[m, s] / args.trials)
                pprob[m][s].append(pwins[m, s] / args.trials)
        print(f"n={n}: " + ", ".join(f"{m}/{s} {prob[m][s][-1]:.2f} "
                                     f"(perm. {pprob[m][s][-1]:.2f})"
                                     for m in METHODS for s in STARTS))
    grid_sec = time.perf_counter() - t0

    n = args.ns[-1]
    W_star = teacher_weights(d, args.teacher_norm, rng)
    X, y = sample(n, W_star, rng)
    Xte, yte = sample(args.n_test, W_star, rng)
    W_rand = rng.standard_normal((d, d)) / np.sqrt(d)
    curves = {}
    for m in METHODS:
        for s in STARTS:
            dist, train, held, why, pd = run(xp, m, X, y, None if s == "identity" else W_rand,
                                         W_star, args, test=(xp.asarray(Xte), yte))
            curves[f"{m}/{s}"] = {"distance": dist, "train_loss": train, "test_loss": held,
                                  "stop_reason": why, "final_distance_up_to_perm": pd}
            print(f"n={n} {m}/{s}: final distance {dist[-1]:.2e}, train {train[-1]:.2e}, "
                  f"test {held[-1]:.2e}, up to perm. {pd:.2e} after {len(dist) - 1} ({why})")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    styles = {"altmin": "o", "gd": "s"}
    for i, m in enumerate(METHODS):
        for j, s in enumerate(STARTS):
            color = f"C{2 * i + j}"
            ax1.plot(args.ns, prob[m][s], styles[m] + "-", color=color, ms=4,
                     label=f"{m}, {s} start")
            ax1.plot(args.ns, pprob[m][s], styles[m] + ":", color=color, ms=3, mfc="none",
                     label=f"{m}, {s} (up to perm.)")
    ax1.set_xlabel("n")
    ax1.set_ylabel("P(recovery)")
    ax1.set_title(f"(a) d = k = {d}, ||W*||_2 = {args.teacher_norm:g}, {args.trials} trials")
    ax1.legend(fontsize=8)
    colors = {"altmin/identity": "C0", "altmin/random": "C1", "gd/identity": "C2",
              "gd/random": "C3"}
    for key, c in curves.items():
        floor = 1e-32
        ax2.loglog(np.arange(1, len(c["train_loss"]) + 1),
                   np.maximum(c["train_loss"], floor), "-", color=colors[key],
                   label=f"{key} train")
        ax2.loglog(np.arange(1, len(c["test_loss"]) + 1),
                   np.maximum(c["test_loss"], floor), ":", color=colors[key],
                   label=f"{key} test")
    ax2.set_xlabel("1 + iteration / epoch")
    ax2.set_ylabel("MSE")
    ax2.set_title(f"(b) loss at n = {n}")
    ax2.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    write("skip_connections", args.out, args, {
        "d": d, "ns": args.ns, "trials": args.trials, "success_threshold": SUCCESS,
        "probability": prob, "probability_up_to_permutation": pprob, "grid_seconds": grid_sec,
        "curves_at_largest_n": curves,
    }, fig)


if __name__ == "__main__":
    main()
