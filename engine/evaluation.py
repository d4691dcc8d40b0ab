"""Ground truth of semi-synthetic problems, read for the report's evaluation appendix only.

``truth.json`` holds the true effects a simulation was built with. A real analysis has
no such file, and an agent must never see it: the agents, the loop and the harness do not
import this module (a test enforces it), the sandbox refuses to open the file, and the
session never copies it. Only :mod:`engine.report` reads it, after the fact, to say how far
each estimate landed from the truth.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from engine.errors import ProblemError

TRUTH_FILE = "truth.json"

_KEYS = {"ATE": "ate", "ATT": "att", "ATC": "atc"}
"""Estimand label → the key that holds its true value (ATO and trimmed estimands have none)."""


@dataclass(frozen=True)
class Truth:
    """The true average effects of a semi-synthetic problem.

    ``values`` maps an estimand label (ATE, ATT, ATC) to its true value; ``n_units`` is the
    number of unit-level effects the file lists (0 when it lists none).
    """

    source: str
    values: dict[str, float]
    n_units: int = 0

    def for_estimand(self, label: str) -> float | None:
        """The true value of ``label``, or None when the file has none (e.g. ATO, ATT-trimmed).

        Parameters
        ----------
        label
            An estimand label, in any case.

        Returns
        -------
        float or None
        """
        return self.values.get(label.upper())


@dataclass(frozen=True)
class Scored:
    """One estimate against the truth: its error and whether its interval covers the truth."""

    label: str  # what was estimated, e.g. "model #4" or "doubly robust #6"
    estimand: str
    estimate: float
    low: float
    high: float
    interval: str  # "94 % HDI" or "95 % CI"
    truth: float | None
    error: float | None  # estimate − truth
    covered: bool | None

    @property
    def abs_error(self) -> float | None:
        return None if self.error is None else abs(self.error)


def load_truth(problem_path: str | Path) -> Truth | None:
    """Read ``truth.json`` from a problem folder, for evaluation after the fact.

    Parameters
    ----------
    problem_path
        The problem folder (not a session: sessions never hold the truth).

    Returns
    -------
    Truth or None
        None when the folder has no ``truth.json`` (every real analysis).

    Raises
    ------
    ProblemError
        The file exists but is not valid JSON with numeric ``ate``/``att``/``atc`` values.
    """
    path = Path(problem_path) / TRUTH_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ProblemError(path, f"not valid JSON ({exc}); regenerate it with the folder's make_data.py") from exc
    if not isinstance(raw, dict):
        raise ProblemError(path, "expected a JSON object with 'ate', 'att' and 'atc'")
    values: dict[str, float] = {}
    for label, key in _KEYS.items():
        value = raw.get(key)
        if value is None:
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            raise ProblemError(path, f"{key!r} must be a finite number, not {value!r}")
        values[label] = float(value)
    ite = raw.get("ite")
    return Truth(source=str(raw.get("source", "")), values=values, n_units=len(ite) if isinstance(ite, list) else 0)


def score(label: str, estimand: str, estimate: float, low: float, high: float, interval: str, truth: Truth) -> Scored:
    """Compare one estimate and its interval with the true value of its estimand.

    Parameters
    ----------
    label
        What was estimated (``model #4``), copied to the result.
    estimand
        The estimand's label; it chooses the true value.
    estimate, low, high
        The estimate and its interval.
    interval
        The interval's name (``94 % HDI``), copied to the result.
    truth
        The problem's true effects.

    Returns
    -------
    Scored
        With ``truth``, ``error`` and ``covered`` None when the truth has no value for the estimand.

    Examples
    --------
    >>> t = Truth("test", {"ATE": 4.0})
    >>> s = score("model #1", "ATE", 4.2, 3.9, 4.5, "94 % HDI", t)
    >>> round(s.error, 6), s.covered
    (0.2, True)
    >>> score("dr #2", "ATO", 4.2, 3.9, 4.5, "95 % CI", t).truth is None
    True
    """
    true = truth.for_estimand(estimand)
    if true is None:
        return Scored(label, estimand, estimate, low, high, interval, None, None, None)
    return Scored(label, estimand, estimate, low, high, interval, true, estimate - true, low <= true <= high)
