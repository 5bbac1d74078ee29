"""Measurements behind the lab note of 2026-12-07 on the endgame's rounds and the digits cells.

Each mode appends JSON lines (one per fit) to ``docs/notes/2026-12-07-endgame-rounds-<mode>.jsonl``
on the training benchmark's splits (``benchmarks/harness/datasets.py``), one thread::

    python docs/notes/endgame_rounds.py rounds [--dataset housing] [--hidden 64] [--slopes 0 0.1]
    python docs/notes/endgame_rounds.py handover [--dataset digits] [--hidden 16] [--k 20 200]
        [--slopes 0] [--time-cap inf] [--init rows]
    python docs/notes/endgame_rounds.py warm [--dataset digits] [--hidden 16] [--n 10 30 100]
    python docs/notes/endgame_rounds.py starts [--dataset digits] [--hidden 16 64]

- ``rounds``: ``fit`` (``max_iter`` 20000) with the endgame as it is (``rounds``: a unit
  redrawn and the units balanced again at each of its stalls), with its first stall ending
  the fit (``one_round``, the endgame before the rounds), and with rounds that do not
  balance the units again (``no_rebalance``), each by patching the code as it is.
- ``handover``: ``fit`` with the endgame forced to start after ``k`` iterations of the
  alternation (a patched stall policy says ``"no_progress"`` from then on), ``max_iter``
  20000: does an earlier endgame reach scikit-learn's digits loss? ``--init rows`` starts
  from ``fit(init="rows")`` (recorded as ``"init"``; the note of 2026-12-07 on the start
  through the rows).
- ``warm``: scikit-learn's L-BFGS-B (``MLPRegressor``, its own start) for ``n`` iterations,
  then ``fit`` from its hidden layer (``init``), ``max_iter`` 1000: does ``fit`` keep the
  basin a joint gradient method starts into?
- ``starts``: ``MLPRegressor``'s L-BFGS-B to convergence from four starts: the hidden layer of
  scikit-learn (Glorot uniform) or of ``fit`` (``N(0, 1/d)``), each with scikit-learn's small
  random output layer or with the output layer solved exactly (least squares, as ``fit``
  starts).

MSE is the benchmark's, ``(1/n) ||Y - F||_F^2`` on the training rows.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import pathlib
import sys
import time
import warnings

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "benchmarks"))

from harness.datasets import load  # noqa: E402

import relu_altmin  # noqa: E402
from relu_altmin import _policy  # noqa: E402

SEEDS = (0, 1, 2)


def write(mode: str, row: dict) -> None:
    print(row, flush=True)
    with open(HERE / f"2026-12-07-endgame-rounds-{mode}.jsonl", "a") as out:
        out.write(json.dumps(row) + "\n")


def rounds(dataset: str, hidden: int, slopes: list[float]) -> None:
    from relu_altmin import _fit

    observe, start = _policy.StallPolicy.observe, _fit._endgame_start

    def one_round(policy, history, previous, params, state, xp):
        decision = observe(policy, history, previous, params, state, xp)
        if policy.window_rtol == 0 and decision == _policy.REINITIALISE:
            return "no_progress"  # the endgame's first stall ends it (its best is kept)
        return decision

    for variant in ("rounds", "one_round", "no_rebalance"):
        for slope in slopes:
            for seed in SEEDS:
                calls = []

                def balanced_once(problem, params, state, calls=calls):
                    calls.append(1)  # the handover balances; the redraws do not
                    return start(problem, params, state) if len(calls) == 1 else (params, state)

                _policy.StallPolicy.observe = one_round if variant == "one_round" else observe
                _fit._endgame_start = balanced_once if variant == "no_rebalance" else start
                split = load(dataset, seed)
                t0 = time.perf_counter()
                result = relu_altmin.fit(split.X_train, split.y_train, hidden,
                                         negative_slope=slope, seed=seed, max_iter=20000)
                write("rounds", {"dataset": dataset, "hidden": hidden, "slope": slope,
                                 "seed": seed, "variant": variant, "mse": result.loss,
                                 "iterations": result.n_iter,
                                 "endgame_iterations": sum(r.endgame for r in result.history),
                                 "endgame_redraws": sum(r.endgame and r.reinit_unit >= 0
                                                        for r in result.history),
                                 "stop": result.stop_reason,
                                 "seconds": time.perf_counter() - t0})
    _policy.StallPolicy.observe, _fit._endgame_start = observe, start


def forced_handover(observe, k: int):
    """The stall policy's ``observe`` (the unpatched ``observe`` given), saying
    ``"no_progress"`` to the alternation from its ``k``-th iteration on: the endgame then
    starts from the best state."""

    def forced(policy, history, previous, params, state, xp):
        decision = observe(policy, history, previous, params, state, xp)
        if policy.window_rtol > 0 and len(history) - 1 >= k and decision in (
                _policy.CONTINUE, _policy.REINITIALISE):
            if policy.best is None or state.objective < policy.best[1].objective:
                policy.best = (params, state)
            return "no_progress"  # the alternation's end: the endgame starts
        return decision

    return forced


def handover(dataset: str, hidden: int, ks: list[int], slopes: list[float],
             time_cap: float, init: str | None) -> None:
    observe = _policy.StallPolicy.observe
    for slope, k in itertools.product(slopes, ks):
        _policy.StallPolicy.observe = forced_handover(observe, k)
        for seed in SEEDS:
            split = load(dataset, seed)
            t0 = time.perf_counter()
            result = relu_altmin.fit(split.X_train, split.y_train, hidden,
                                     negative_slope=slope, seed=seed, max_iter=20000,
                                     init=init,
                                     callback=lambda record, net: record.seconds > time_cap)
            write("handover", {"dataset": dataset, "hidden": hidden, "slope": slope,
                               "time_cap_s": None if math.isinf(time_cap) else time_cap,
                               **({"init": init} if init else {}),
                               "seed": seed, "k": k,
                               "mse": result.loss, "iterations": result.n_iter,
                               "endgame_iterations": sum(r.endgame for r in result.history),
                               "stop": result.stop_reason,
                               "seconds": time.perf_counter() - t0})
    _policy.StallPolicy.observe = observe


def warm(dataset: str, hidden: int, ns: list[int]) -> None:
    from sklearn.neural_network import MLPRegressor

    warnings.simplefilter("ignore")
    for seed in SEEDS:
        split = load(dataset, seed)
        for n in ns:
            model = MLPRegressor(hidden_layer_sizes=(hidden,), solver="lbfgs", alpha=1e-10,
                                 max_iter=n, max_fun=50000, tol=0.0, random_state=seed)
            model.fit(split.X_train, split.y_train)
            warm_mse = float(np.sum((model.predict(split.X_train) - split.y_train) ** 2)
                             / split.X_train.shape[0])
            init = np.column_stack([model.coefs_[0].T, model.intercepts_[0]])
            t0 = time.perf_counter()
            result = relu_altmin.fit(split.X_train, split.y_train, hidden, seed=seed,
                                     max_iter=1000, init=init)
            write("warm", {"dataset": dataset, "hidden": hidden, "seed": seed, "n": n,
                           "warm_mse": warm_mse, "mse": result.loss,
                           "iterations": result.n_iter, "stop": result.stop_reason,
                           "seconds": time.perf_counter() - t0})


def starts(dataset: str, hidden: int) -> None:
    from sklearn.neural_network import MLPRegressor

    warnings.simplefilter("ignore")
    for seed in SEEDS:
        split = load(dataset, seed)
        X, Y = split.X_train, split.y_train
        d, k = X.shape[1], Y.shape[1]
        rng = np.random.RandomState(seed)  # MLPRegressor's draws for its Glorot start
        bound_w, bound_v = np.sqrt(6 / (d + hidden)), np.sqrt(6 / (hidden + k))
        glorot = (rng.uniform(-bound_w, bound_w, (d, hidden)).T,
                  rng.uniform(-bound_w, bound_w, hidden))
        random_output = (rng.uniform(-bound_v, bound_v, (hidden, k)),
                         rng.uniform(-bound_v, bound_v, k))
        drawn = np.random.default_rng(seed).standard_normal((hidden, d + 1)) / np.sqrt(d)
        normal = (drawn[:, :d], drawn[:, d])  # fit's default start, N(0, 1/d)

        for hidden_name, (W, b) in (("glorot", glorot), ("normal", normal)):
            exact = solved(X, Y, W, b)
            for output_name, (V, c) in (("random", random_output), ("solved", exact)):
                model = MLPRegressor(hidden_layer_sizes=(hidden,), solver="lbfgs",
                                     alpha=1e-10, max_iter=1, random_state=seed,
                                     warm_start=True).fit(X, Y)
                model.coefs_, model.intercepts_ = [W.T.copy(), V.copy()], [b.copy(), c.copy()]
                model.set_params(max_iter=5000, max_fun=50000, tol=0.0)
                t0 = time.perf_counter()
                model.fit(X, Y)
                write("starts", {"dataset": dataset, "hidden": hidden, "seed": seed,
                                 "hidden_start": hidden_name, "output_start": output_name,
                                 "mse": float(np.sum((model.predict(X) - Y) ** 2) / X.shape[0]),
                                 "iterations": int(model.n_iter_),
                                 "seconds": time.perf_counter() - t0})


def solved(X: np.ndarray, Y: np.ndarray, W: np.ndarray,
           b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The output layer's least-squares solve on the ReLU features of ``(W, b)``."""
    H = np.column_stack([np.maximum(X @ W.T + b, 0.0), np.ones(X.shape[0])])
    theta = np.linalg.lstsq(H, Y, rcond=None)[0]
    return theta[:W.shape[0]], theta[W.shape[0]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["rounds", "handover", "warm", "starts"])
    parser.add_argument("--dataset", default=None, help="default: housing for rounds, "
                        "else digits")
    parser.add_argument("--hidden", type=int, nargs="+", default=None,
                        help="default: 64 for rounds, else 16")
    parser.add_argument("--slopes", type=float, nargs="+", default=None,
                        help="default: 0 and 0.1 for rounds, 0 for handover")
    parser.add_argument("--time-cap", type=float, default=math.inf,
                        help="handover: stop a fit after an iteration past this many seconds "
                             "(the benchmark's cap is 60; default: none)")
    parser.add_argument("--k", type=int, nargs="+", default=[20, 200])
    parser.add_argument("--init", choices=["rows"], default=None,
                        help="handover: fit's init (default: its default start)")
    parser.add_argument("--n", type=int, nargs="+", default=[10, 30, 100])
    args = parser.parse_args()
    dataset = args.dataset or ("housing" if args.mode == "rounds" else "digits")
    for hidden in args.hidden or ([64] if args.mode == "rounds" else [16]):
        if args.mode == "rounds":
            rounds(dataset, hidden, args.slopes or [0.0, 0.1])
        elif args.mode == "handover":
            handover(dataset, hidden, args.k, args.slopes or [0.0], args.time_cap, args.init)
        elif args.mode == "warm":
            warm(dataset, hidden, args.n)
        else:
            starts(dataset, hidden)


if __name__ == "__main__":
    main()
