"""What a batch runs, decided before anything runs: one task per partition level and setting.

A batch re-runs *one fixed* analysis (the session's best ``analysis.toml`` or ``model.py``)
many times: on each level of a partition column (``--by wave``), at each value of a setting
(``--vary trim=0,0.05,0.1``), or both. Its plan is committed to the session before the first
task starts, so what every task ran (the exact file, the exact rows) is on record, and a
second run of the same command finds the plan and resumes it.

Partitions share one **population** (the OCI post's coordination): propensity and trimming
are decided once, on the pooled data, and the units trimmed there are left out of every
partition, so the partitions' estimates describe the same kind of unit. The estimand's label
follows: an ATE over a trimmed population is an ATO, an ATT becomes ATT-trimmed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from engine.batch.request import SAMPLING_SETTINGS, BatchRequest, Setting, parse_trim
from engine.errors import BatchError, SpecError
from engine.problem import Contract, Estimand, SamplingSettings
from engine.records import Loop

MAX_LEVELS = 60
"""More partitions than this is a continuous column, not a partition: bin it first."""

MIN_ROWS_PER_LEVEL = 20
"""A level with fewer units cannot carry an analysis; the plan refuses it rather than failing later."""


@dataclass(frozen=True)
class Population:
    """The units every partition analyses: decided once on the pooled data.

    ``excluded`` are row positions in the problem's data file (0-based, in file order).
    """

    trim: tuple[float, float]
    learner: str  # the propensity learner the pooled fit used ("" when nothing is trimmed)
    excluded: tuple[int, ...]
    n_total: int

    @property
    def trims(self) -> bool:
        return self.trim[0] > 0.0 or self.trim[1] < 1.0

    @property
    def rule(self) -> str:
        """The rule in words, for the plan, the screen and the report."""
        if not self.trims:
            return f"every unit ({self.n_total:,}); no trimming"
        return (
            f"units whose pooled propensity ({self.learner}) lies in [{self.trim[0]:g}, {self.trim[1]:g}]: "
            f"{len(self.excluded):,} of {self.n_total:,} excluded from every partition"
        )


@dataclass(frozen=True)
class TaskSpec:
    """One task of a batch: which rows, which setting, the exact file it runs."""

    key: str  # "wave=2", "trim=0.05", "wave=2 trim=0.05", or "all"
    level: str | None
    setting: Setting | None
    source: str  # analysis.toml as rendered with the setting, or model.py
    sampling: SamplingSettings | None  # the model loop's sampling settings (None for a design task)
    estimand_label: str  # what the estimate is of, relabelled when the population is trimmed
    n_units: int
    trim_key: str  # which population (by its trim) the task's rows come from; "" when none was decided


@dataclass(frozen=True)
class BatchPlan:
    """A planned batch: committed as ``batches/<id>/plan.json`` before any task runs."""

    id: str
    request: BatchRequest
    source: str  # the file the batch started from (before any varied setting)
    source_from: str  # where it came from, in words ("the best design, iteration 3")
    levels: tuple[str, ...]
    populations: tuple[Population, ...]
    tasks: tuple[TaskSpec, ...]
    data_hash: str
    created_at: str

    def population(self, trim_key: str) -> Population | None:
        """The pooled population decided for ``trim_key`` (see :func:`trim_key_of`).

        Parameters
        ----------
        trim_key
            A task's ``trim_key``.

        Returns
        -------
        Population or None
            None for a task whose rows were not coordinated (no ``--by``).
        """
        return next((p for p in self.populations if trim_key_of(p.trim) == trim_key), None)


def trim_key_of(trim: tuple[float, float]) -> str:
    """A population's name by its trimming bounds.

    Parameters
    ----------
    trim
        (low, high).

    Returns
    -------
    str
        e.g. ``0.05-0.95``.
    """
    return f"{trim[0]:g}-{trim[1]:g}"


def check_partition_column(frame: pd.DataFrame, contract: Contract, column: str) -> tuple[str, ...]:
    """The levels of ``column``, after checking that partitioning on it answers a causal question.

    A partition must be fixed before treatment: splitting on a mediator, a post-treatment
    column, the outcome or a leak conditions on a consequence of the treatment (selection
    bias), whatever the analysis does inside each part.

    Parameters
    ----------
    frame
        The problem's data.
    contract
        The causal contract.
    column
        The column to partition on.

    Returns
    -------
    tuple of str
        Its levels as text, in natural order (numbers numerically).

    Raises
    ------
    BatchError
        A forbidden column (with the contract's reason), the treatment or outcome, a column not in
        the data or without a pre-treatment role, too many levels, or a level too small to analyse.
    """
    forbidden = contract.forbidden_reason(column)
    if forbidden is not None:
        raise BatchError(
            f"cannot partition on {column!r}: the contract forbids it ({forbidden.reason.value}: {forbidden.note}). "
            "Splitting on a consequence of the treatment selects on it; partition on a column fixed before treatment"
        )
    if column in (contract.treatment, contract.outcome):
        role = "treatment" if column == contract.treatment else "outcome"
        raise BatchError(f"cannot partition on {column!r}: it is the {role}")
    if column not in frame.columns:
        raise BatchError(f"no column {column!r} in the data; columns: {', '.join(map(str, frame.columns))}")
    if column not in (*contract.controls, *contract.pretreatment):
        raise BatchError(
            f"cannot partition on {column!r}: the contract gives it no pre-treatment role. List it under "
            "controls or pretreatment in problem.toml (a column fixed before treatment), then try again"
        )
    values = frame[column]
    if values.isna().any():
        raise BatchError(
            f"{column!r} has {int(values.isna().sum())} missing values; a partition needs a level per unit"
        )
    levels = _natural_order(values.unique())
    if len(levels) > MAX_LEVELS:
        raise BatchError(
            f"{column!r} has {len(levels)} distinct values (more than {MAX_LEVELS}): it looks continuous; "
            "add a binned column to the data and partition on that"
        )
    counts = values.astype(str).value_counts()
    small = [f"{lv} ({counts[lv]})" for lv in levels if counts[lv] < MIN_ROWS_PER_LEVEL]
    if small:
        raise BatchError(
            f"levels of {column!r} with fewer than {MIN_ROWS_PER_LEVEL} units cannot carry an analysis: "
            f"{', '.join(small)}; merge them into a neighbouring level first"
        )
    return levels


def _natural_order(values: np.ndarray) -> tuple[str, ...]:
    try:
        ordered = sorted(values, key=float)
    except (TypeError, ValueError):
        ordered = sorted(values, key=str)
    return tuple(_level_text(v) for v in ordered)


def _level_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def level_mask(frame: pd.DataFrame, column: str, level: str) -> np.ndarray:
    """Rows of ``frame`` whose ``column`` is ``level`` (compared as text, as levels are stored).

    Parameters
    ----------
    frame
        The problem's data.
    column
        The partition column.
    level
        One of its levels, as text.

    Returns
    -------
    numpy.ndarray
        A boolean mask over the rows.
    """
    return frame[column].map(_level_text).to_numpy() == level


# --------------------------------------------------------------------------- settings applied to a file


def apply_setting(source: str, setting: Setting | None, contract: Contract) -> str:
    """The analysis spec text with one setting changed, rendered as it will run.

    Parameters
    ----------
    source
        ``analysis.toml`` text.
    setting
        The setting, or None for the file unchanged.
    contract
        Validates the result.

    Returns
    -------
    str

    Raises
    ------
    BatchError
        When the value is not valid for the setting (the spec's own message).
    """
    from engine.design.spec import parse_spec, render_spec

    if setting is None:
        return source
    spec = parse_spec(source, contract)
    try:
        value = _typed(setting, getattr(spec, setting.name))
        changed = render_spec(spec.with_(**{setting.name: value}))
        parse_spec(changed, contract)  # the spec's own checks: bounds, learner names, folds
    except (SpecError, ValueError, TypeError) as exc:
        raise BatchError(f"--vary {setting.text}: {exc}") from None
    return changed


def _typed(setting: Setting, current: Any) -> Any:
    """The setting's text as the type the spec holds (an enum, a number, trimming bounds)."""
    if setting.name == "trim":
        return parse_trim(setting.value)
    kind = type(current)
    if issubclass(kind, Enum):
        choices = [str(m.value) for m in kind]
        if setting.value not in choices:
            raise ValueError(f"{setting.value!r} is not one of {', '.join(choices)}")
        return kind(setting.value)
    try:
        return kind(setting.value)
    except ValueError:
        raise ValueError(f"{setting.value!r} is not a {kind.__name__}") from None


def apply_model_setting(source: str, setting: Setting | None) -> str:
    """``model.py`` with its prior scale set, for a model generated from a spec; otherwise unchanged.

    A prior-sensitivity sweep refits the same model with every coefficient prior scaled by each
    value. Only a file whose code the workbench can read back as a spec (its ``workbench-spec``
    line, or that spec with one setting edited by hand: :func:`engine.agents.modelgen.infer_spec`)
    can be re-rendered with another scale; a hand-written prior is the principal's to edit.

    Parameters
    ----------
    source
        ``model.py`` text.
    setting
        The varied setting, or None. Only ``prior_scale`` changes the file.

    Returns
    -------
    str
        The file each task runs: re-rendered from its spec with the new scale (docstrings and
        layout as the generator writes them).

    Raises
    ------
    BatchError
        When the value is not a positive number, or the file declares no readable spec.
    """
    if setting is None or setting.name != "prior_scale":
        return source
    from engine.agents.modelgen import infer_spec, render_model
    from engine.modelspec import spec_issues

    spec = infer_spec(source)
    if spec is None:
        raise BatchError(
            f"--vary {setting.text}: this model.py does not declare a spec the workbench can re-render "
            "(no workbench-spec line, or hand edits beyond one setting); change its priors in the code "
            "and run the batch once per version, or vary seed, draws or tune"
        )
    try:
        changed = replace(spec, prior_scale=float(setting.value))
    except ValueError:
        raise BatchError(f"--vary {setting.text}: prior_scale must be a positive number") from None
    issues = spec_issues(changed)
    if issues:
        raise BatchError(f"--vary {setting.text}: {'; '.join(issues)}")
    return render_model(changed)


def apply_sampling(sampling: SamplingSettings, setting: Setting | None) -> SamplingSettings:
    """The sampling settings with one of them changed.

    Parameters
    ----------
    sampling
        The problem's settings.
    setting
        The varied setting, or None; only ``seed``, ``draws`` and ``tune`` change the settings.

    Returns
    -------
    SamplingSettings

    Raises
    ------
    BatchError
        A value that is not a whole number within the bounds ``problem.toml`` allows.
    """
    from engine.problem import sampling_issue

    if setting is None or setting.name not in SAMPLING_SETTINGS:
        return sampling
    try:
        value = int(setting.value)
    except ValueError:
        raise BatchError(f"--vary {setting.text}: {setting.name} must be a whole number") from None
    issue = sampling_issue(setting.name, value, "--vary")
    if issue:
        raise BatchError(issue)
    return replace(sampling, **{setting.name: value})


# --------------------------------------------------------------------------- the plan


def batch_id(request: BatchRequest, source: str, data_hash: str, sampling: SamplingSettings) -> str:
    """A name that is the same whenever the same batch is asked for again (so it resumes).

    Parameters
    ----------
    request
        What was asked.
    source
        The file the batch starts from.
    data_hash
        The problem data's hash.
    sampling
        The problem's sampling settings (they change what a model batch computes).

    Returns
    -------
    str
        ``<by or sweep>-<loop>-<8 hex digits>``.
    """
    identity = json.dumps(
        {
            "loop": request.loop.value,
            "by": request.by,
            "vary": [s.text for s in request.vary],
            "checks": request.checks.value,
            "trim": request.trim,
            "source": source,
            "data": data_hash,
            "sampling": [sampling.chains, sampling.draws, sampling.tune, sampling.seed],
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    head = request.by or (request.vary[0].name if request.vary else "rerun")
    safe = "".join(c if c.isalnum() or c in "_-" else "_" for c in head)[:40]
    return f"{safe}-{request.loop.value}-{digest}"


def population_trims(request: BatchRequest, source: str, contract: Contract) -> tuple[tuple[float, float], ...]:
    """The trimming bounds whose pooled population a partitioned batch needs decided first.

    Parameters
    ----------
    request
        What was asked; only a batch ``--by`` a column coordinates its population.
    source
        The analysis spec the batch starts from (its trim, unless ``request.trim`` overrides it).
    contract
        Parses the spec.

    Returns
    -------
    tuple of (float, float)
        One pair per distinct trim among the tasks; empty without ``--by``.
    """
    if request.by is None:
        return ()
    settings: tuple[Setting | None, ...] = request.vary or (None,)
    return tuple(dict.fromkeys(task_trim(request, s, source, contract) for s in settings))


def build_plan(
    request: BatchRequest,
    *,
    plan_id: str,
    frame: pd.DataFrame,
    contract: Contract,
    source: str,
    source_from: str,
    sampling: SamplingSettings,
    populations: tuple[Population, ...],
    data_hash: str,
    created_at: str,
) -> BatchPlan:
    """Every task of the batch, with its exact file, rows and estimand label.

    Parameters
    ----------
    request
        What was asked (already validated flags).
    plan_id
        From :func:`batch_id`.
    frame
        The problem's data.
    contract
        The causal contract.
    source
        The file every task starts from.
    source_from
        Where that file came from, in words.
    sampling
        The problem's sampling settings (model loop).
    populations
        The pooled populations :func:`population_trims` asked for, decided.
    data_hash
        The data's hash, recorded with the plan.
    created_at
        ISO time of planning.

    Returns
    -------
    BatchPlan

    Raises
    ------
    BatchError
        An unusable partition column or setting value, or a level left with too few units once the
        population's exclusions are applied.
    """
    from engine.design.estimate import estimand_label

    levels: tuple[str | None, ...] = (None,)
    if request.by is not None:
        levels = check_partition_column(frame, contract, request.by)
    settings: tuple[Setting | None, ...] = request.vary or (None,)
    requested = Estimand(contract.estimand) if request.loop is Loop.MODEL else _spec_estimand(source, contract)
    by_trim = {trim_key_of(p.trim): p for p in populations}
    tasks = []
    for level in levels:
        for setting in settings:
            text = (
                apply_setting(source, setting, contract)
                if request.loop is Loop.DESIGN
                else apply_model_setting(source, setting)
            )
            task_sampling = apply_sampling(sampling, setting) if request.loop is Loop.MODEL else None
            rows = _rows(frame, request.by, level, None)
            trim_key, label = "", requested.value
            if request.by is not None:
                trim_key = trim_key_of(task_trim(request, setting, text, contract))
                population = by_trim[trim_key]
                rows = _rows(frame, request.by, level, population)
                label = estimand_label(requested, len(population.excluded))
                if request.loop is Loop.DESIGN:  # the population is decided: the task does not trim again
                    text = apply_setting(text, Setting("trim", "0,1"), contract)
            elif request.loop is Loop.DESIGN and _spec_trims(text, contract):
                label = estimand_label(requested, 1)  # the task trims its own units: ATE → ATO (if any drop)
            n = int(rows.sum())
            if level is not None and n < MIN_ROWS_PER_LEVEL:
                raise BatchError(
                    f"{request.by} = {level} keeps only {n} units once the pooled trimming excludes its "
                    f"extreme-propensity units; widen the trimming (--trim) or merge levels"
                )
            key = " ".join(p for p in (f"{request.by}={level}" if level is not None else "", _text(setting)) if p)
            tasks.append(TaskSpec(key or "all", level, setting, text, task_sampling, label, n, trim_key))
    return BatchPlan(
        id=plan_id,
        request=request,
        source=source,
        source_from=source_from,
        levels=tuple(lv for lv in levels if lv is not None),
        populations=populations,
        tasks=tuple(tasks),
        data_hash=data_hash,
        created_at=created_at,
    )


def task_trim(request: BatchRequest, setting: Setting | None, text: str, contract: Contract) -> tuple[float, float]:
    """The trim whose pooled population a partition task uses (the override, the swept value, or the spec's).

    Parameters
    ----------
    request
        What was asked.
    setting
        The task's varied setting, if any.
    text
        The analysis spec the task runs.
    contract
        Parses the spec.

    Returns
    -------
    tuple of float
    """
    from engine.design.spec import parse_spec

    if request.trim is not None:
        return request.trim
    if setting is not None and setting.name == "trim":
        return parse_trim(setting.value)
    if request.loop is Loop.DESIGN:
        return parse_spec(text, contract).trim
    return (0.0, 1.0)


def task_rows(plan: BatchPlan, task: TaskSpec, frame: pd.DataFrame) -> np.ndarray:
    """The row positions a task analyses (its level, less its population's exclusions).

    Parameters
    ----------
    plan
        The batch plan.
    task
        One of its tasks.
    frame
        The problem's data.

    Returns
    -------
    numpy.ndarray
        Integer row positions, ascending.
    """
    return np.flatnonzero(_rows(frame, plan.request.by, task.level, plan.population(task.trim_key)))


def _rows(frame: pd.DataFrame, by: str | None, level: str | None, population: Population | None) -> np.ndarray:
    """The mask of a task's rows: its level of ``by`` (every row without one), less the population's exclusions."""
    rows = np.ones(len(frame), dtype=bool) if by is None or level is None else level_mask(frame, by, level)
    if population is not None:
        rows[list(population.excluded)] = False
    return rows


def _spec_estimand(source: str, contract: Contract) -> Estimand:
    from engine.design.spec import parse_spec

    return parse_spec(source, contract).estimand


def _spec_trims(source: str, contract: Contract) -> bool:
    from engine.design.spec import parse_spec

    return parse_spec(source, contract).trims


def _text(setting: Setting | None) -> str:
    return setting.text if setting is not None else ""
