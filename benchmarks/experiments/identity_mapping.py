"""Two-phase SGD on the identity-mapping network ``f(x) = ||relu((I + W)^T x)||_1``.

The network of Li & Yuan (2017): ``d`` ReLU units with an identity skip, output weights all
ones, no bias (``skip=True``; the library's rows ``W`` are the columns of their ``W``).
Gaussian inputs ``x ~ N(0, I_d)`` and a teacher ``W*`` of spectral norm ``--teacher-norm``
(<= 0.6). From a random start of spectral norm ``--init-norm``:

- minibatch SGD (batch 200, step 1e-3) on the identity-mapping net, recording the loss and
  ``||W_t - W*||_F`` per epoch: a first phase where the loss falls but the distance does not,
  then convergence;
- the same SGD on the same teacher without the identity (``skip=False``, teacher weights
  ``I + W*``) from the same random start ``W0`` (now the whole weight matrix, as in a
  standard initialisation; started at ``I + W0`` it would follow exactly the same path as
  the skip net, since the gradient does not see the constant shift);
- the analytic trainer, ``fit(train_output=False, skip=True)``, on the same data and start.

Writes ``results/identity_mapping.json`` and ``results/identity_mapping.png``.

Usage::

    python benchmarks/experiments/identity_mapping.py [--seed 0] [--epochs 300]
    python benchmarks/experiments/identity_mapping.py --full --backend cupy   # GPU
"""

from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from _exp import PAPER_STEP, base_parser, namespace, relu, to_numpy, write

import relu_altmin
from relu_altmin import baselines


def spectral(d: int, norm: float, rng: np.random.Generator) -> np.ndarray:
    W = rng.standard_normal((d, d))
    return W * (norm / np.linalg.norm(W, 2))


def main() -> None:
    parser = base_parser(__doc__)
    parser.add_argument("--d", type=int, default=None, help="dimension (default 20; --full 100)")
    parser.add_argument("--n", type=int, default=None,
                        help="training samples (default 20000; --full 200000)")
    parser.add_argument("--teacher-norm", type=float, default=0.6, help="||W*||_2")
    parser.add_argument("--init-norm", type=float, default=0.6, help="||W_0||_2")
    parser.add_argument("--epochs", type=int, default=None,
                        help="SGD epochs (default 300; --full 1000)")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--iters", type=int, default=30, help="analytic-trainer iterations")
    args = parser.parse_args()
    full = args.full
    args.d = args.d or (100 if full else 20)
    args.n = args.n or (200_000 if full else 20_000)
    args.epochs = args.epochs or (1000 if full else 300)
    xp = namespace(args.backend)
    rng = np.random.default_rng(args.seed)
    d, n = args.d, args.n
    eye = np.eye(d)
    W_star = spectral(d, args.teacher_norm, rng)
    W0 = spectral(d, args.init_norm, rng)
    X = rng.standard_normal((n, d))
    y = relu(X @ (eye + W_star).T).sum(axis=1)
    Xx, yx, ones = xp.asarray(X), xp.asarray(y), xp.ones(d, dtype=xp.float64)
    norm = float(np.linalg.norm(W_star))

    curves = {}
    for name, skip, start, target in (("sgd, identity mapping", True, W0, W_star),
                                      ("sgd, no identity", False, W0, eye + W_star),
                                      ("alternating min.", True, W0, W_star)):
        dist, loss = [float(np.linalg.norm(start - target)) / norm], []

        def watch(rec, net, target=target, dist=dist, loss=loss):
            dist.append(float(np.linalg.norm(to_numpy(net.W) - target)) / norm)
            loss.append(rec.loss)

        t0 = time.perf_counter()
        common = dict(train_output=False, output_weights=ones, skip=skip, bias=False,
                      init=xp.asarray(start), callback=watch)
        if name.startswith("sgd"):
            res = baselines.train(Xx, yx, d, method="sgd", lr=args.lr, epochs=args.epochs,
                                  batch_size=args.batch_size, seed=args.seed, **common)
        else:
            res = relu_altmin.fit(Xx, yx, d, l2=0.0, tol=0.0, max_iter=args.iters,
                                  step=PAPER_STEP, **common)
        loss.insert(0, res.history[0].loss)
        sec = time.perf_counter() - t0
        # phase I: epochs until the distance first drops below its starting value by 10 %
        below = [t for t, v in enumerate(dist) if v < 0.9 * dist[0]]
        curves[name] = {"distance": dist, "loss": loss, "seconds": sec,
                        "stop_reason": res.stop_reason,
                        "max_distance": max(dist), "argmax_distance": int(np.argmax(dist)),
                        "first_epoch_distance_below_0.9_start": below[0] if below else None,
                        "loss_at_that_epoch_over_start": (loss[below[0]] / loss[0]
                                                          if below else None)}
        print(f"{name}: distance {dist[0]:.3f} -> max {max(dist):.3f} (epoch "
              f"{int(np.argmax(dist))}) -> {dist[-1]:.3e}; loss {loss[0]:.3e} -> "
              f"{loss[-1]:.3e}; first below 0.9x start at {below[0] if below else None}; "
              f"{sec:.1f}s")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, c in curves.items():
        style = "o-" if name.startswith("alt") else "-"
        ax1.semilogy(c["distance"], style, ms=3, label=name)
        ax2.semilogy(c["loss"], style, ms=3, label=name)
    ax1.set_ylabel(r"$\|W_t - W^*\|_F / \|W^*\|_F$")
    ax2.set_ylabel("training MSE")
    for ax in (ax1, ax2):
        ax.set_xlabel("epoch (SGD) / iteration (alt. min.)")
        ax.legend(fontsize=8)
    ax1.set_title(f"d={d}, n={n}, ||W*||={args.teacher_norm:g}, ||W0||={args.init_norm:g}")
    ax2.set_title(f"SGD batch {args.batch_size}, step {args.lr:g}")
    fig.tight_layout()
    write("identity_mapping", args.out, args, {"d": d, "n": n, "curves": curves}, fig)


if __name__ == "__main__":
    main()
