"""The engine works with no terminal: importing it never loads Textual, and its code never imports Rich."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import engine

ENGINE_MODULES = sorted(m.name for m in pkgutil.walk_packages(engine.__path__, prefix="engine."))


def test_engine_never_imports_textual() -> None:
    imports = "; ".join(f"import {name}" for name in ENGINE_MODULES)
    # Only textual is checked at run time: PyMC itself loads rich for its progress bars.
    code = f"{imports}; import sys; bad = [m for m in sys.modules if m.split('.')[0] == 'textual']; print(bad); sys.exit(bool(bad))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert result.returncode == 0, result.stdout + result.stderr


def test_engine_source_has_no_textual_imports() -> None:
    root = Path(engine.__file__).parent
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if any(
            line.strip().startswith(("import textual", "from textual", "import rich", "from rich"))
            for line in path.read_text().splitlines()
        )
    ]
    assert offenders == []
