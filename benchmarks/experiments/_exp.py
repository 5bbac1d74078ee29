"""Helpers shared by the convergence experiments: backends, data, distances, output files.

Every experiment draws its data with NumPy's ``Generator`` (the array API has no randomness)
and moves it to the chosen backend with ``xp.asarray``; the library then runs wherever the
arrays live (NumPy on the CPU, CuPy on a GPU with ``--backend cupy``, the array API's strict
reference namespace on the CPU with ``--backend array_api_strict``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from harness.peers.common import to_numpy
from harness.record import machine_info

RESULTS = Path(__file__).parent / "results"
#: The experiments reproduce the paper's alternation: the full fixed-pattern least-squares
#: step (backtracked), not ``fit``'s default damped step.
PAPER_STEP = "exact"
BACKENDS = ("numpy", "array_api_strict", "cupy")


def base_parser(doc: str | None) -> argparse.ArgumentParser:
    """Arguments every experiment takes: ``--seed``, ``--full``, ``--backend``, ``--out``."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0, help="seed of all random draws")
    parser.add_argument("--full", action="store_true",
                        help="paper-size runs (meant for a GPU with --backend cupy)")
    parser.add_argument("--backend", choices=BACKENDS, default="numpy",
                        help="array library the data lives in (cupy runs on the GPU; "
                             "array_api_strict checks that a script uses only the array API)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    return parser


def namespace(backend: str) -> Any:
    """The array module for ``backend``: NumPy, CuPy, or the array API's reference
    ``array_api_strict`` on the CPU, which refuses anything outside the standard (mixing its
    arrays with NumPy's, say) and so checks on any machine that a script runs on CuPy too."""
    if backend == "cupy":
        import cupy

        return cupy
    if backend == "array_api_strict":
        import array_api_strict

        return array_api_strict
    return np


def relu(z: np.ndarray) -> np.ndarray:
    return np.maximum(z, 0.0)


def rel_dist(W: Any, W_star: np.ndarray) -> float:
    """``||W - W*||_F / ||W*||_F``."""
    return float(np.linalg.norm(to_numpy(W) - W_star) / np.linalg.norm(W_star))


def perturb(W_star: np.ndarray, rel: float, rng: np.random.Generator) -> np.ndarray:
    """A start at relative Frobenius distance exactly ``rel`` from ``W_star``, random direction."""
    E = rng.standard_normal(W_star.shape)
    return W_star + rel * np.linalg.norm(W_star) * E / np.linalg.norm(E)


def contraction(dist: list[float], floor: float = 1e-12, skip: int = 0) -> float | None:
    """Per-iteration contraction factor: exp of the slope of a least-squares line through
    ``log dist`` over the iterations from ``skip`` on whose distance is above ``floor``
    (the flat tail at machine precision, or at the noise level, is left out)."""
    pts = [(t, math.log(v)) for t, v in enumerate(dist) if t >= skip and v > floor]
    if len(pts) < 3:
        pts = [(t, math.log(max(v, 1e-300))) for t, v in enumerate(dist[:3])]
        if len(pts) < 2:
            return None
    t, y = np.array(pts).T
    return float(math.exp(np.polyfit(t, y, 1)[0]))


def write(name: str, out: Path, args: argparse.Namespace, payload: dict, fig: Any) -> None:
    """``out/name.json`` (args, machine, ``payload``) and ``out/name.png`` (``fig``)."""
    out.mkdir(parents=True, exist_ok=True)
    record = {"experiment": name, "args": {k: (str(v) if isinstance(v, Path) else v)
                                           for k, v in vars(args).items()},
              "machine": machine_info(), **payload}
    (out / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    fig.savefig(out / f"{name}.png", dpi=80)
    print(f"wrote {out / name}.json and .png")
