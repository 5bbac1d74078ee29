"""The table of docs/notes/2026-12-06-classifier-ridge.md, from the screen's log
(``2026-12-06-classifier-ridge.jsonl``) and MLPClassifier's accuracy in the committed
``benchmarks/results/generalisation.json`` (the mean over its seeds 0-2):
``python docs/notes/classifier_ridge_table.py``."""

import json
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
report = json.loads((HERE.parent.parent / "benchmarks/results/generalisation.json").read_text())
peers: dict[tuple[str, int], list[float]] = {}
for run in report["runs"]:
    if run["part"] == "classification":
        peers.setdefault((run["dataset"], run["hidden"]), []).append(
            run["methods"]["mlp"]["accuracy"])
rows = [json.loads(line) for line in (HERE / "2026-12-06-classifier-ridge.jsonl").open()]
ridges = list(dict.fromkeys(r["l2"] for r in rows))
print("| data set | h | MLPClassifier | " + " | ".join(f"l2 {r}" for r in ridges)
      + " | `auto`'s choices (median) |")
print("|---|---:|---:|" + "---:|" * len(ridges) + "---:|")
for name, h in dict.fromkeys((r["data"], r["h"]) for r in rows):
    peer = float(np.mean(peers[(name, h)]))
    cells = []
    for ridge in ridges:
        r = next((x for x in rows if (x["data"], x["h"], x["l2"]) == (name, h, ridge)), None)
        cells.append("not run" if r is None else
                     f"{r['acc']:.4f}" + ("" if r["acc"] >= peer else " ✗"))
    auto = next(x for x in rows if (x["data"], x["h"], x["l2"]) == (name, h, "auto"))
    print(f"| {name} | {h} | {peer:.4f} | " + " | ".join(cells)
          + f" | {auto['chosen_median']:.2g} |")
