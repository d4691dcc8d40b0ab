"""User keymaps: where the app looks for one, and reading it into binding id → key(s).

Plain Python (no Textual): :meth:`textual.app.App.set_keymap` applies the result.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

DEFAULT_KEYMAP_PATH = Path("~/.config/causal-workbench/keymap.toml")


def load_keymap(path: Path | None = None) -> dict[str, str]:
    """Read ``[keymap]`` from a TOML file: binding id → key(s), e.g. ``"review.approve" = "A"``.

    Returns an empty mapping when the file does not exist.
    """
    path = (path or DEFAULT_KEYMAP_PATH).expanduser()
    if not path.is_file():
        return {}
    from engine.errors import WorkbenchError

    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise WorkbenchError(f"{path}: TOML syntax error ({exc}); fix it or remove the file") from exc
    table = raw.get("keymap", raw)
    return {str(k): str(v) for k, v in table.items() if isinstance(v, str)}
