"""The causal guard: a static scan of proposed code before any human reads it or anything runs.

``scan_model`` reads a proposed ``model.py`` as a syntax tree; ``scan_analysis`` reads a
proposed ``analysis.toml`` as keys and values. Both check the text against the problem's
causal contract and return typed :class:`~engine.records.Finding` records (blockers and
warnings, each with a stable ``code``, a line and a message that says what to do). Neither
imports PyMC, runs the code, or raises on any input text.
"""

from __future__ import annotations

from engine.guard.analysis import scan_analysis
from engine.guard.codes import FINDING_CODES
from engine.guard.model import scan_model
from engine.guard.tables import ALLOWED_IMPORTS

__all__ = ["ALLOWED_IMPORTS", "FINDING_CODES", "scan_analysis", "scan_model"]
