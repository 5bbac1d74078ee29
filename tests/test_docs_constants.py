"""The documentation states the package's tuning constants as the code has them: every
``NAME = value`` in the user pages and the README names a module-level constant of
``relu_altmin`` and gives its value (so a changed constant fails here until the pages follow).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import relu_altmin

ROOT = Path(__file__).resolve().parents[1]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]  # not the dated notes
#: ``NAME = value`` with an upper-case name and a number written with digit groups
#: (``50 000``), a decimal point or an exponent (``NAME=1``, no spaces, is an environment
#: variable's setting, not a constant).
STATED = re.compile(r"\b([A-Z][A-Z0-9_]{3,}) = (\d[\d  ]*(?:\.\d+)?(?:e-?\d+)?)\b")


def constants() -> dict[str, object]:
    """Every upper-case module-level name of every ``relu_altmin`` module (one value each)."""
    found: dict[str, object] = {}
    for info in pkgutil.walk_packages(relu_altmin.__path__, "relu_altmin."):
        if info.name.endswith("__main__"):  # running it is the command line
            continue
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if name.isupper() and isinstance(value, (int, float)) and name not in found:
                found[name] = value
    return found


def stated(text: str) -> list[tuple[str, float]]:
    """The ``(NAME, value)`` pairs ``text`` states."""
    return [(name, float(re.sub(r"[  ]", "", value))) for name, value in STATED.findall(text)]


def mismatches(text: str, known: dict[str, object]) -> list[str]:
    """The statements of ``text`` that name no constant or give another value."""
    wrong = []
    for name, value in stated(text):
        if name not in known:
            wrong.append(f"{name} = {value:g}: no such constant in relu_altmin")
        elif float(known[name]) != value:  # type: ignore[arg-type]
            wrong.append(f"{name} = {value:g}: the code has {known[name]}")
    return wrong


def test_the_checker_reads_the_forms_the_pages_use():
    text = "from `STAGED_MIN_ROWS = 50 000` rows, `REINIT_RTOL = 1e-3`, AUTO_L2_GAMMA = 1.4"
    assert stated(text) == [("STAGED_MIN_ROWS", 50000.0), ("REINIT_RTOL", 1e-3),
                            ("AUTO_L2_GAMMA", 1.4)]
    known = {"STAGED_MIN_ROWS": 50_000, "REINIT_RTOL": 1e-2}
    assert mismatches(text, known) == ["REINIT_RTOL = 0.001: the code has 0.01",
                                       "AUTO_L2_GAMMA = 1.4: no such constant in relu_altmin"]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_pages_state_the_constants_the_code_has(page):
    assert mismatches(page.read_text(), constants()) == []


def test_the_pages_state_some_constants():
    """The check is not vacuous: the pages do state constants (the tuning ones of the method)."""
    names = {name for page in PAGES for name, _ in stated(page.read_text())}
    assert {"REINIT_PATIENCE", "STAGE_ITERS", "AUTO_L2_GAMMA"} <= names
