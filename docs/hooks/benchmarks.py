"""MkDocs hook: serve the generated benchmark results from where the scripts write them.

The benchmark scripts write their tables (``*.md``) and plots (``*.png``) under
``benchmarks/results/`` and ``benchmarks/experiments/results/``, outside ``docs/``, and the
pages in ``docs/`` link to them as ``../benchmarks/...`` so that the links also work when the
files are read in the repository. For the site this hook

* adds every generated table and plot to the site under its path in the repository
  (``benchmarks/results/training.md`` becomes the page ``benchmarks/results/training/``), so
  the tables are pages, their plots resolve as siblings, and nothing is copied by hand;
* rewrites links in the pages under ``docs/`` that reach those files through ``..`` to
  their place in the site;
* lets ``mkdocs serve`` rebuild when a benchmark rewrites its results.

Registered in ``mkdocs.yml`` under ``hooks``.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

REPO = Path(__file__).resolve().parents[2]
RESULT_DIRS = ("benchmarks/results", "benchmarks/experiments/results")
SUFFIXES = {".md", ".png", ".svg"}

# Inline links and images, ``[text](target)`` or ``[text](target "title")``, and reference
# definitions, ``[id]: target``.
_INLINE = re.compile(r"(\]\()(<?)([^)\s>]+)")
_REFERENCE = re.compile(r"^( {0,3}\[[^\]]+\]:[ \t]*)(<?)(\S+?)(?=>|\s|$)", re.MULTILINE)

_served: set[str] = set()  # repository paths of the files added to the site


def on_files(files: Files, config: Any) -> Files:
    _served.clear()
    for folder in RESULT_DIRS:
        for path in sorted((REPO / folder).glob("*")):
            if path.suffix not in SUFFIXES or not path.is_file():
                continue
            uri = path.relative_to(REPO).as_posix()
            files.append(File(uri, src_dir=str(REPO), dest_dir=config["site_dir"],
                              use_directory_urls=config["use_directory_urls"]))
            _served.add(uri)
    return files


def on_page_markdown(markdown: str, page: Page, config: Any, files: Files) -> str:
    source = page.file.abs_src_path
    if source is None:
        return markdown
    here = Path(source).parent
    page_dir = posixpath.dirname(page.file.src_uri)

    def target(url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or not parts.path or parts.path.startswith("/"):
            return url
        resolved = (here / parts.path).resolve()
        if not resolved.is_relative_to(REPO):
            return url
        uri = resolved.relative_to(REPO).as_posix()
        if uri not in _served:
            return url
        suffix = url[len(parts.path):]  # query and anchor, as written
        return posixpath.relpath(uri, page_dir or ".") + suffix

    def replace(match: re.Match[str]) -> str:
        return match.group(1) + match.group(2) + target(match.group(3))

    return _REFERENCE.sub(replace, _INLINE.sub(replace, markdown))


def on_serve(server: Any, config: Any, builder: Any) -> Any:
    for folder in RESULT_DIRS:
        if (REPO / folder).is_dir():
            server.watch(str(REPO / folder))
    return server
