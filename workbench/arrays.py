"""Loading an iteration's per-draw arrays for the verdict screen's plots.

NumPy only (imported inside the function), so no PyMC or ArviZ loads in the app process.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.iteration import IterationRecord
    from screens.verdict import IterationArrays


def load_iteration_arrays(session: Any, record: IterationRecord) -> IterationArrays:
    """Per-draw effect and per-observation Pareto k saved beside the history, when present.

    Looks for ``effect_draws.npy`` (chains × draws) and ``pareto_k.npy`` in the iteration's
    artifacts folder; NumPy only, so no PyMC or ArviZ loads in the app process.
    """
    import numpy as np

    from engine.store.files import EFFECT_DRAWS_FILE, PARETO_K_FILE
    from screens.verdict import IterationArrays

    folder = Path(session.path) / "artifacts" / f"{record.number:04d}"
    found: dict[str, Any] = {}
    for name, key in ((EFFECT_DRAWS_FILE, "effect_draws"), (PARETO_K_FILE, "pareto_k")):
        path = folder / name
        if path.is_file():
            found[key] = np.load(path, allow_pickle=False)
    note = "" if found else "not saved"
    return IterationArrays(note=note, **found)
