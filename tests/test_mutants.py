"""The mutation net stays attached: every mutant of ``tests/mutants.py`` still names one
function and one place inside it (a refactor that moves or rewrites the code must carry its
mutants along; running them is ``python tests/mutants.py``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("mutants", Path(__file__).with_name("mutants.py"))
mutants = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mutants)


@pytest.mark.parametrize("mutant", mutants.MUTANTS, ids=[m[0] for m in mutants.MUTANTS])
def test_mutant_applies_to_one_place(mutant):
    _name, function, original, broken, tests = mutant
    _path, source, broken_source = mutants.mutated(function, original, broken)
    assert broken_source != source
    assert len(broken_source) - len(source) == len(broken) - len(original)
    compile(broken_source, str(_path), "exec")  # a change of meaning, not a syntax error
    assert tests.strip()


def test_text_outside_the_function_is_not_a_match(tmp_path, monkeypatch):
    """The same text elsewhere in the file does not count: only the named function's."""
    package = tmp_path / "relu_altmin"
    package.mkdir()
    (package / "m.py").write_text("def f():\n    return 1\n\n\ndef g():\n    return 1\n")
    monkeypatch.setattr(mutants, "ROOT", tmp_path)
    mutants._definitions.cache_clear()
    try:
        _, _, broken = mutants.mutated("g", "return 1", "return 2")
        assert broken == "def f():\n    return 1\n\n\ndef g():\n    return 2\n"
        with pytest.raises(LookupError, match="0 times"):
            mutants.mutated("f", "return 2", "return 3")
        with pytest.raises(LookupError, match="defined 0 times"):
            mutants.mutated("h", "return 1", "return 2")
    finally:
        mutants._definitions.cache_clear()
