"""The screen of docs/notes/2026-12-06-classifier-ridge.md: ``AnalyticReLUClassifier``'s
5-fold accuracy on one classifier cell of ``benchmarks/generalisation.py`` (its protocol:
StratifiedKFold(5, shuffle=True, random_state=seed), StandardScaler in a Pipeline, seeds 0-2)
for ``l2="auto"``, ``"auto_1se"`` and fixed ridges, one JSON line per ridge::

    python docs/notes/classifier_ridge_screen.py breast_cancer 16 auto 1e-4 1e-3 1e-2 >> LOG
"""

import json
import sys
import time

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from relu_altmin.sklearn import AnalyticReLUClassifier

LOADERS = {"breast_cancer": load_breast_cancer, "digits": load_digits, "wine": load_wine}


def main(name: str, hidden: int, ridges: list[str]) -> None:
    threadpool_limits(1)
    X, y = LOADERS[name](return_X_y=True)
    for ridge in ridges:
        l2 = ridge if ridge.startswith("auto") else float(ridge)
        accuracies, chosen = [], []
        began = time.perf_counter()
        for seed in range(3):
            estimator = AnalyticReLUClassifier(hidden=hidden, random_state=seed, l2=l2)
            scores = cross_validate(make_pipeline(StandardScaler(), estimator), X, y,
                                    cv=StratifiedKFold(5, shuffle=True, random_state=seed),
                                    return_estimator=True)
            accuracies.append(float(np.mean(scores["test_score"])))
            chosen += [float(pipe[-1].l2_) for pipe in scores["estimator"]]
        print(json.dumps({"data": name, "h": hidden, "l2": ridge,
                          "acc": float(np.mean(accuracies)),
                          "per_seed": [round(a, 4) for a in accuracies],
                          "chosen_median": float(np.median(chosen)),
                          "chosen": sorted(set(chosen)),
                          "s": round(time.perf_counter() - began, 1)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:])
