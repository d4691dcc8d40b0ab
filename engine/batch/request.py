"""What the principal asked a batch to do, typed: the command's flags and the TUI's dialog, parsed once.

:func:`parse_request` turns ``--by``, ``--vary``, ``--checks`` and ``--trim`` (or the dialog's
fields) into a :class:`BatchRequest`, with one set of words for every mistake; nothing here
reads the data or the session (:mod:`engine.batch.plan` does, when it plans the request).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from engine.errors import BatchError
from engine.records import Loop

DESIGN_SETTINGS = ("trim", "min_propensity", "propensity_learner", "outcome_learner", "estimator", "folds", "seed")
"""``analysis.toml`` keys a design batch may vary."""

SAMPLING_SETTINGS = ("seed", "draws", "tune")
"""The sampling settings a model batch may vary (``problem.toml``'s, within its bounds)."""
MODEL_SETTINGS = (*SAMPLING_SETTINGS, "prior_scale")
"""Settings a model batch may vary: the sampling settings, and the prior scale of a model the
offline agent generated (its code declares the spec it renders; hand-written priors live in the
code, and are edited there)."""


class Checks(StrEnum):
    """How much of the design run each task does."""

    FULL = "full"  # the estimate, every diagnostic, refuter, placebo outcome and the sensitivity analysis
    ESTIMATE = "estimate"  # the estimate with balance and overlap only: quick curves (sweeps, many partitions)


@dataclass(frozen=True)
class Setting:
    """One value of a varied setting, as the principal typed it: ``trim=0.05``."""

    name: str
    value: str

    @property
    def text(self) -> str:
        return f"{self.name}={self.value}"


@dataclass(frozen=True)
class BatchRequest:
    """What the principal asked for (``workbench batch`` flags), before it is planned."""

    loop: Loop = Loop.DESIGN
    by: str | None = None
    vary: tuple[Setting, ...] = ()
    checks: Checks = Checks.FULL
    trim: tuple[float, float] | None = None  # the population rule for partitions; None: the spec's own trim

    @property
    def describe(self) -> str:
        parts = [f"{self.loop.value} loop"]
        if self.by:
            parts.append(f"by {self.by}")
        if self.vary:
            parts.append(f"varying {self.vary[0].name} over {', '.join(s.value for s in self.vary)}")
        return ", ".join(parts)


def parse_vary(text: str, loop: Loop) -> tuple[Setting, ...]:
    """``trim=0,0.01,0.05`` → one :class:`Setting` per value.

    Parameters
    ----------
    text
        ``NAME=V1,V2,...``.
    loop
        Which loop the batch runs: it decides which names are allowed.

    Returns
    -------
    tuple of Setting

    Raises
    ------
    BatchError
        No ``=``, an unknown name, no values, or a value repeated.

    Examples
    --------
    >>> [s.text for s in parse_vary("trim=0, 0.05", Loop.DESIGN)]
    ['trim=0', 'trim=0.05']
    """
    allowed = DESIGN_SETTINGS if loop is Loop.DESIGN else MODEL_SETTINGS
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep:
        raise BatchError(f"--vary {text!r}: write NAME=V1,V2,… (e.g. trim=0,0.05,0.1)")
    if name not in allowed:
        raise BatchError(f"--vary: the {loop.value} loop cannot vary {name!r}; choose one of {', '.join(allowed)}")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not items:
        raise BatchError(f"--vary {name}: give at least one value after '=' (e.g. {name}=0,0.05)")
    repeated = sorted({v for v in items if items.count(v) > 1})
    if repeated:
        raise BatchError(f"--vary {name}: {', '.join(repeated)} given more than once")
    return tuple(Setting(name, v) for v in items)


def parse_request(
    loop: str, by: str | None, vary: str | None, checks: str = "full", trim: str | None = None
) -> BatchRequest:
    """The typed request from what the principal typed (the command's flags, the TUI's dialog).

    Parameters
    ----------
    loop
        ``design`` or ``model``.
    by
        The partition column, or None / empty.
    vary
        ``NAME=V1,V2,…``, or None / empty.
    checks
        ``full`` or ``estimate``.
    trim
        The pooled population's bounds for a partitioned batch (``t`` or ``low,high``), or None.

    Returns
    -------
    BatchRequest

    Raises
    ------
    BatchError
        Nothing to batch, ``trim`` without a partition, or a malformed setting or trim.
    """
    kind = Loop(loop)
    by = (by or "").strip() or None
    vary = (vary or "").strip() or None
    if by is None and vary is None:
        raise BatchError("nothing to batch: give a partition column (--by), a setting to vary (--vary), or both")
    if trim and by is None:
        raise BatchError("a trim sets the pooled population of a partitioned batch: give a partition column too")
    return BatchRequest(
        loop=kind,
        by=by,
        vary=parse_vary(vary, kind) if vary else (),
        checks=Checks(checks),
        trim=parse_trim(trim) if trim else None,
    )


def parse_trim(text: str) -> tuple[float, float]:
    """``0.05`` → (0.05, 0.95); ``0.05,0.9`` → (0.05, 0.9).

    Parameters
    ----------
    text
        One number ``t`` (keep propensities in [t, 1 − t]) or ``low,high``.

    Returns
    -------
    tuple of float

    Raises
    ------
    BatchError
        Not numbers, outside [0, 1], or low ≥ high.
    """
    parts = [p.strip() for p in text.split(",")]
    try:
        numbers = [float(p) for p in parts]
    except ValueError:
        raise BatchError(f"trim {text!r}: give a number t (keeps [t, 1 − t]) or low,high, e.g. 0.05") from None
    if len(numbers) == 1:
        low, high = numbers[0], 1.0 - numbers[0]
    elif len(numbers) == 2:
        low, high = numbers
    else:
        raise BatchError(f"trim {text!r}: give one number or two (low,high)")
    if not (0.0 <= low < high <= 1.0) or not all(math.isfinite(x) for x in (low, high)):
        raise BatchError(f"trim {text!r}: need 0 ≤ low < high ≤ 1 (a single t must be below 0.5)")
    return round(low, 12), round(high, 12)
