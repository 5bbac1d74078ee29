"""The training benchmark's run record and its JSON: one :class:`Run` per method and
configuration, and :func:`load_runs` to read (and merge) earlier JSON files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.peers.common import Trace, thin


@dataclass
class Run:
    """One method on one configuration (the best learning rate for a tuned method)."""

    dataset: str
    hidden: int
    slope: float
    seed: int
    method: str
    train_mse: float
    test_mse: float
    seconds: float
    trace: Trace
    lr: float | None = None
    lr_grid: dict[str, float] = field(default_factory=dict)
    tuning_seconds: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    time_to_best_peer: float | None = None
    time_to_best_adam: float | None = None

    def key(self) -> tuple[str, int, float]:
        return (self.dataset, self.hidden, self.slope)


def as_json(run: Run) -> dict[str, Any]:
    """A run as its JSON object (the trace thinned)."""
    return {**run.__dict__, "trace": thin(run.trace)}


def joined_note(*notes: str | None) -> str | None:
    """The distinct non-empty ``notes`` in order, as one sentence sequence (``None`` if none)."""
    return " ".join(dict.fromkeys(n for n in notes if n)) or None


def load_runs(paths: Sequence[Path]) -> tuple[list[Run], dict[str, Any]]:
    """Runs and metadata from earlier JSON files (the first file's metadata, merged config)."""
    runs: list[Run] = []
    meta: dict[str, Any] = {}
    for path in paths:
        report = json.loads(Path(path).read_text())
        for r in report["runs"]:
            r["trace"] = [tuple(p) for p in r["trace"]]
            # Runs written before days were recorded: the file's date (its process's).
            r["info"].setdefault("day", report["machine"]["date"][:10])
            runs.append(Run(**r))
        if not meta:
            meta = {"machine": report["machine"], "config": dict(report["config"])}
        else:
            cfg = meta["config"]
            for key in ("datasets", "hidden", "slopes", "seeds", "methods", "baselines"):
                if key in cfg or key in report["config"]:
                    cfg[key] = list(dict.fromkeys([*cfg.get(key, []),
                                                   *report["config"].get(key, [])]))
            cfg["total_seconds"] += report["config"]["total_seconds"]
            cfg["note"] = joined_note(cfg.get("note"), report["config"].get("note"))
    # Keep the last occurrence of each (config, seed, method).
    unique = {(r.dataset, r.hidden, r.slope, r.seed, r.method): r for r in runs}
    return list(unique.values()), meta
