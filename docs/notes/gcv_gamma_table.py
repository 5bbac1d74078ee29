"""The table of docs/notes/2026-12-05-gcv-gamma.md, from the screen's log
(``2026-12-05-gcv-gamma.jsonl``) and the seed-0 MLP peers of
``benchmarks/results/generalisation.json``: ``python docs/notes/gcv_gamma_table.py``."""

import json
from pathlib import Path

HERE = Path(__file__).parent
report = json.loads((HERE.parent.parent / "benchmarks/results/generalisation.json").read_text())
peers, part_key = {}, {"regression": "reg", "classification": "clf"}
for run in report["runs"]:
    m = run["methods"]
    peers[(part_key[run["part"]], run["dataset"], run["hidden"])] = (
        min(m["mlp_adam"]["mse"], m["mlp_lbfgs"]["mse"]) if run["part"] == "regression"
        else m["mlp"]["accuracy"])
rows = [json.loads(line) for line in (HERE / "2026-12-05-gcv-gamma.jsonl").open()]
gammas = sorted({r["gamma"] for r in rows})
print("| part | data set | h | MLP peer | " + " | ".join(f"gamma {g}" for g in gammas) + " |")
print("|---|---|---:|---:|" + "---:|" * len(gammas))
counts = {g: {"reg": [0, 0], "clf": [0, 0]} for g in gammas}
for part, name, h in dict.fromkeys((r["part"], r["d"], r["h"]) for r in rows):
    peer, cells = peers[(part, name, h)], []
    for g in gammas:
        r = next((x for x in rows
                  if (x["part"], x["d"], x["h"], x["gamma"]) == (part, name, h, g)), None)
        if r is None:
            cells.append("not run")
            continue
        if part == "reg":
            ok = r["mse"] / peer <= 1.05
            cell = f"{r['mse'] / peer:.3f} (l2 {r['l2']:.2g})"
        else:
            ok = r["acc"] >= peer
            cell = f"{r['acc']:.4f}"
        counts[g][part][0] += ok
        counts[g][part][1] += 1
        cells.append(cell + ("" if ok else " ✗"))
    print(f"| {'regression' if part == 'reg' else 'classifier'} | {name} | {h} | {peer:.4g} | "
          + " | ".join(cells) + " |")
print()
for g in gammas:
    (rw, rn), (cw, cn) = counts[g]["reg"], counts[g]["clf"]
    print(f"- gamma {g}: regression within 1.05x of the better MLP on {rw}/{rn} cells, "
          f"classifier accuracy at least MLPClassifier's on {cw}/{cn}")
