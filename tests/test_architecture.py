"""ARCHITECTURE.md's module map names every module, and only modules that exist."""

from __future__ import annotations

import re

from conftest import ROOT

PACKAGES = ("engine", "screens", "workbench")


def test_module_map_is_complete_and_current() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    listed = set(re.findall(r"^\| `((?:engine|screens|workbench)/[\w/]+\.py)` \|", text, flags=re.M))
    present = {
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }
    assert sorted(present - listed) == [], "modules missing from ARCHITECTURE.md"
    assert sorted(listed - present) == [], "ARCHITECTURE.md lists modules that do not exist"
