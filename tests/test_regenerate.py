"""Every committed benchmark report rebuilds from its JSON, byte for byte.

``benchmarks/regenerate.py`` lists which script rebuilds each ``benchmarks/results/<stem>.md``
(``--from-json``); here each one is rebuilt into a temporary folder (Markdown only) and compared
with the committed file, so a change to a report writer that would change a committed report
shows up here, and so does a committed report no script can rebuild.
"""

from __future__ import annotations

import pytest
from conftest import BENCHMARKS, benchmark_script

regenerate = benchmark_script("regenerate", "benchmark_regenerate")


def test_every_committed_report_has_a_script():
    committed = {path.stem for path in (BENCHMARKS / "results").glob("*.md")}
    assert committed == set(regenerate.REPORTS)


@pytest.mark.parametrize("stem", sorted(regenerate.REPORTS))
def test_report_rebuilds_from_its_json(stem, tmp_path):
    rebuilt = regenerate.regenerate(stem, tmp_path)
    assert rebuilt.read_bytes() == (BENCHMARKS / "results" / f"{stem}.md").read_bytes(), (
        f"{' '.join(regenerate.command(stem))} no longer gives the committed {stem}.md")
