"""Griffe extensions for the API reference (registered in ``mkdocs.yml``).

``KernelsSubpackage`` documents ``kernels/`` as ``relu_altmin.kernels``, where it is
installed. ``pyproject.toml`` maps that subpackage to the directory ``kernels/``
(``package-dir``). Griffe, which mkdocstrings uses to read the sources, finds packages by
directory, so in the repository (and in an editable install) it sees ``relu_altmin/`` without
its ``kernels`` subpackage. This extension loads ``kernels/`` and attaches it to
``relu_altmin`` under its installed name, so ``::: relu_altmin.kernels.masked_gram`` works.
From a regular install, where the subpackage is in place, it does nothing.

``SphinxRoles`` turns the Sphinx roles of the numpydoc docstrings (``:func:`fit```,
``:class:`~relu_altmin.FitResult```) into links to the documented objects. The links are
optional cross-references: a name that the reference does not document stays code, without
a warning.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe

REPO = Path(__file__).resolve().parents[2]

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|attr|data|obj|exc):`(~?)([\w.]+?)(\(\))?`")


class KernelsSubpackage(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != "relu_altmin" or "kernels" in pkg.members:
            return
        kernels = griffe.GriffeLoader(
            search_paths=[REPO],
            docstring_parser=loader.docstring_parser,
            docstring_options=loader.docstring_options,
        ).load("kernels")
        pkg.set_member("kernels", kernels)

    on_package_loaded = on_package  # the event's name before griffe 2


class SphinxRoles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name == "relu_altmin":
            _rewrite(pkg)

    on_package_loaded = on_package  # the event's name before griffe 2


def _rewrite(obj: griffe.Object) -> None:
    if obj.docstring is not None:
        obj.docstring.value = _ROLE.sub(lambda match: _link(obj, match), obj.docstring.value)
    for member in obj.members.values():
        if not member.is_alias and member.parent is obj:
            _rewrite(member)  # type: ignore[arg-type]


def _link(obj: griffe.Object, match: re.Match[str]) -> str:
    short, name, call = match.group(1), match.group(2), match.group(3) or ""
    title = (name.rsplit(".", 1)[-1] if short else name) + call
    try:
        identifier = obj.resolve(name)
    except Exception:  # not in scope: assume a name of the package's top level
        identifier = name if name.startswith("relu_altmin") else f"relu_altmin.{name}"
    return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'
