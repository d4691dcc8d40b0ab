"""Loading a problem folder: ``problem.toml`` parsed and checked, the data file read and validated.

:func:`load_problem` reads everything, collects every problem it finds (each with what
to do about it) and raises them together as one :class:`~engine.errors.ProblemError`, or
returns a frozen :class:`~engine.problem.Problem`. ``truth.json`` is never read here; see
:mod:`engine.evaluation`.
"""

from __future__ import annotations

import csv
import tomllib
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from engine.errors import ProblemError
from engine.problem import (
    EDITABLE_FILES,
    MISSING_WORDS,
    PROBLEM_FILE,
    SESSION_NAME,
    Contract,
    Estimand,
    ForbiddenReason,
    ForbiddenVariable,
    Gates,
    OutcomeType,
    Problem,
    SamplingSettings,
    TieBreak,
    read_utf8,
    sampling_issue,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def load_problem(path: str | Path) -> Problem:
    """Load and validate a problem folder.

    Parameters
    ----------
    path
        The folder holding ``problem.toml``.

    Returns
    -------
    Problem

    Raises
    ------
    ProblemError
        Listing every problem found, each with what to do about it.
    """
    root = Path(path).resolve()
    toml_path = root / PROBLEM_FILE
    if not root.is_dir():
        raise ProblemError(root, "no such folder; pass a problem folder such as problems/ihdp")
    if not toml_path.is_file():
        raise ProblemError(root, f"{PROBLEM_FILE} is missing; every problem folder needs one")
    try:
        raw = tomllib.loads(read_utf8(toml_path))
    except tomllib.TOMLDecodeError as exc:
        raise ProblemError(toml_path, f"TOML syntax error: {exc}") from exc

    issues: list[str] = []
    header = _table(raw, "problem", issues)
    contract = parse_contract(_table(raw, "contract", issues), issues)
    gates = parse_gates(raw.get("gates", {}), issues)
    sampling = _parse_dataclass(SamplingSettings, raw.get("sampling", {}), "sampling", issues)
    data_name = header.get("data", "data.csv")
    for required in ("name", "question"):
        if not isinstance(header.get(required), str) or not header.get(required):
            issues.append(f"[problem] needs a non-empty string '{required}'")
    if isinstance(header.get("name"), str) and header["name"] and not SESSION_NAME.match(header["name"]):
        issues.append(
            f"[problem] name = {header['name']!r} cannot start a session id (sessions are named "
            "<name>-<date>-<time>, a folder name): use letters, digits, '-', '_' and '.', "
            "starting with a letter or digit, at most 64 characters"
        )
    if not isinstance(data_name, str) or not data_name:
        issues.append(f'[problem] data must name the data file (e.g. "data.csv"), not {data_name!r}')
        data_name = "data.csv"
    for name in EDITABLE_FILES:
        if not (root / name).is_file():
            issues.append(f"{name} is missing from the problem folder; create it (see problems/ihdp for an example)")
    if issues or contract is None:
        raise ProblemError(toml_path, issues)

    data_file = root / data_name
    data = read_data(data_file)
    issues.extend(validate_data(data, contract))
    if issues:
        raise ProblemError(root, issues)
    return Problem(
        path=root,
        name=header["name"],
        title=header.get("title", header["name"]),
        question=header["question"],
        kind=header.get("kind", "observational"),
        contract=contract,
        gates=gates,
        sampling=sampling,
        data_file=data_file,
        data=data,
    )


DELIMITERS = {";": "semicolon", "\t": "tab", "|": "pipe"}
"""Delimiters other than the comma that a data file is sometimes saved with."""


def read_data(data_file: Path) -> pd.DataFrame:
    """Read a data CSV, turning parser failures into a :class:`ProblemError`.

    The header is read first, so a file saved with another delimiter or a header naming
    a column twice is named as such (pandas would read one wide column, or rename the
    second ``bw`` to ``bw.1``).

    Parameters
    ----------
    data_file
        The CSV file.

    Returns
    -------
    pandas.DataFrame
        At least one row.

    Raises
    ------
    ProblemError
        When the file is missing or unreadable, looks delimited by something other than
        commas, names a column twice, does not parse, or has no rows.
    """
    if not data_file.is_file():
        raise ProblemError(data_file, "data file is missing; run the folder's make_data.py to regenerate it")
    try:
        with open(data_file, encoding="utf-8", newline="") as fh:
            header_line = fh.readline()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemError(data_file, f"cannot read the header: {exc}; save the file as UTF-8 CSV") from exc
    header = next(csv.reader([header_line]), [])
    if len(header) == 1:
        for delimiter, word in DELIMITERS.items():
            if delimiter in header_line:
                shown = repr(delimiter).strip("'")
                raise ProblemError(
                    data_file,
                    f"the header is one column holding {header_line.count(delimiter)} '{shown}' characters: the file "
                    f"looks {word}-delimited, but the workbench reads comma-separated CSV. Re-save it with commas, "
                    f"e.g. pd.read_csv(path, sep='{shown}').to_csv(path, index=False)",
                )
    counts = Counter(name.strip() for name in header)
    duplicates = [name for name, n in counts.items() if n > 1]
    if duplicates:
        where = "; ".join(
            f"{name!r} at columns {', '.join(str(i + 1) for i, h in enumerate(header) if h.strip() == name)}"
            for name in duplicates
        )
        raise ProblemError(
            data_file,
            f"duplicate column names in the header: {where}; rename or drop the duplicate so each name is one column",
        )
    try:
        # only an empty field is missing; "NA" or "." is missing only in a column of numbers (_numbers_if_numeric)
        frame = pd.read_csv(data_file, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise ProblemError(data_file, f"cannot parse CSV: {exc}. Check the delimiter and quoting") from exc
    if frame.empty:
        raise ProblemError(data_file, "the CSV has a header but no rows")
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = _numbers_if_numeric(frame[name])
    return frame


def _numbers_if_numeric(col: pd.Series) -> pd.Series:
    """A text column as numbers when every value but the missing words (:data:`MISSING_WORDS`) is one."""
    text = col.astype("string").str.strip()
    missing = text.str.lower().isin(MISSING_WORDS).fillna(False)
    values = text[~missing].dropna()
    if values.empty or pd.to_numeric(values, errors="coerce").isna().any():
        return col
    return pd.to_numeric(text.where(~missing), errors="coerce")


def parse_contract(table: dict[str, Any], issues: list[str]) -> Contract | None:
    """Parse the ``[contract]`` table, appending what is wrong to ``issues``.

    Parameters
    ----------
    table
        The ``[contract]`` table as TOML parsed it.
    issues
        Where each problem is appended, as a sentence that says what to do.

    Returns
    -------
    Contract or None
        None when the table is empty or lacks a string ``treatment`` or ``outcome``; a
        contract with issues may still be returned (defaults stand in for bad values).
    """
    if not table:
        return None
    try:
        estimand = Estimand(str(table.get("estimand", "ATE")).upper())
    except ValueError:
        issues.append(f"[contract] estimand must be one of ATE, ATT, ATO, not {table.get('estimand')!r}")
        estimand = Estimand.ATE
    try:
        outcome_type = OutcomeType(table.get("outcome_type", "continuous"))
    except ValueError:
        allowed = ", ".join(repr(t.value) for t in OutcomeType)
        issues.append(f"[contract] outcome_type must be one of {allowed}, not {table.get('outcome_type')!r}")
        outcome_type = OutcomeType.CONTINUOUS
    forbidden: list[ForbiddenVariable] = []
    for entry in table.get("forbidden", []):
        if not isinstance(entry, dict) or "name" not in entry:
            issues.append("each [[contract.forbidden]] entry needs a 'name' and a 'reason'")
            continue
        try:
            reason = ForbiddenReason(entry.get("reason", ""))
        except ValueError:
            allowed = ", ".join(r.value for r in ForbiddenReason)
            issues.append(f"forbidden variable {entry['name']!r}: reason must be one of {allowed}")
            continue
        forbidden.append(ForbiddenVariable(entry["name"], reason, entry.get("note", "")))

    def names(key: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            issues.append(f"[contract] {key} must be a list of column names")
            return ()
        return tuple(value)

    for key in ("treatment", "outcome"):
        if not isinstance(table.get(key), str):
            issues.append(f"[contract] needs '{key}', the name of a data column")
    if not isinstance(table.get("treatment"), str) or not isinstance(table.get("outcome"), str):
        return None
    contract = Contract(
        treatment=table["treatment"],
        outcome=table["outcome"],
        outcome_type=outcome_type,
        estimand=estimand,
        controls=names("controls"),
        categorical=names("categorical"),
        forbidden=tuple(forbidden),
        pretreatment=names("pretreatment"),
        ignore=names("ignore"),
    )
    issues.extend(contract_issues(contract))
    return contract


def contract_issues(contract: Contract) -> list[str]:
    """Logical errors in a contract that need no data to find.

    Parameters
    ----------
    contract
        The contract.

    Returns
    -------
    list of str
        Empty controls; a control that is forbidden; the treatment or outcome listed as a
        control or as forbidden; a categorical column that is not a control; duplicated controls.
    """
    issues: list[str] = []
    forbidden = contract.forbidden_names
    if not contract.controls:
        issues.append("[contract] controls is empty; list the pre-treatment confounders the model may use")
    for name in contract.controls:
        if name in forbidden:
            reason = contract.forbidden_reason(name)
            assert reason is not None  # forbidden_names is built from the same contract.forbidden entries
            issues.append(
                f"{name!r} is listed as an allowed control but is forbidden ({reason.reason}); remove it from controls"
            )
    for role in ("treatment", "outcome"):
        name = getattr(contract, role)
        if name in contract.controls:
            issues.append(f"the {role} {name!r} is also listed as a control; remove it from controls")
        if name in forbidden:
            issues.append(f"the {role} {name!r} is also listed as forbidden; remove it from forbidden")
    for name in contract.categorical:
        if name not in contract.controls:
            issues.append(f"categorical column {name!r} is not an allowed control; add it to controls or drop it")
    duplicates = sorted({c for c in contract.controls if contract.controls.count(c) > 1})
    if duplicates:
        issues.append(f"controls lists {', '.join(duplicates)} more than once")
    return issues


def validate_data(frame: pd.DataFrame, contract: Contract) -> list[str]:
    """Check the data against the contract: columns present, types, missing values.

    Parameters
    ----------
    frame
        The data, as read by :func:`read_data`.
    contract
        The contract.

    Returns
    -------
    list of str
        One sentence per problem: a named column missing, a column without a role, infinite
        values, a treatment (or binary outcome) not coded 0/1, missing values in the outcome or
        a control, a non-numeric outcome or non-categorical control. Empty when the data fits.
    """
    issues: list[str] = []
    columns = set(frame.columns)
    # Forbidden names need not be in the data: oracle columns, for one, live only in truth.json,
    # and naming them lets the guard catch code that reaches for them.
    required = {contract.treatment, contract.outcome, *contract.controls, *contract.pretreatment, *contract.ignore}
    for name in sorted(required - columns):
        issues.append(f"column {name!r} is named in problem.toml but the data has no such column")
    for name in sorted(columns - required - contract.forbidden_names):
        issues.append(
            f"column {name!r} has no role in problem.toml; list it under controls, forbidden, pretreatment or ignore"
        )
    roles = [("treatment", contract.treatment), ("outcome", contract.outcome)]
    roles += [("control", name) for name in contract.controls if name not in contract.categorical]
    roles += [("pre-treatment column", name) for name in contract.pretreatment]
    for role, name in roles:
        if name in columns:
            issues.extend(_infinite_issues(frame[name], role, name))
    if contract.treatment in columns:
        issues.extend(_binary_issues(frame[contract.treatment], "treatment", contract.treatment))
    if contract.outcome in columns:
        y = frame[contract.outcome]
        missing = int(y.isna().sum())
        if missing:
            issues.append(
                f"outcome {contract.outcome!r} has {missing} missing values; drop those rows in make_data.py "
                "(complete-case analysis) or impute them before the workbench sees the data"
            )
        elif not pd.api.types.is_numeric_dtype(y):
            issues.append(f"outcome {contract.outcome!r} is not numeric (dtype {y.dtype})")
        elif contract.outcome_type is OutcomeType.BINARY:
            issues.extend(_binary_issues(y, "binary outcome", contract.outcome))
        elif contract.outcome_type is OutcomeType.COUNT:
            issues.extend(_count_issues(y, contract.outcome))
    for name in contract.controls:
        if name not in columns:
            continue
        col = frame[name]
        if col.isna().any():
            issues.append(f"control {name!r} has {int(col.isna().sum())} missing values; impute or drop those rows")
        if name not in contract.categorical and not pd.api.types.is_numeric_dtype(col):
            issues.append(f"control {name!r} is not numeric; list it under categorical or encode it")
    return issues


def _infinite_issues(col: pd.Series, role: str, name: str) -> list[str]:
    """``inf`` and ``-inf`` read as numbers: name the column and the rows, before any model sees them."""
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return []
    rows = np.flatnonzero(np.isinf(col.to_numpy(dtype=float))) + 1
    if not len(rows):
        return []
    shown = ", ".join(str(r) for r in rows[:8]) + (f" and {len(rows) - 8} more" if len(rows) > 8 else "")
    return [
        f"{role} {name!r} has {len(rows)} infinite value{'s' if len(rows) > 1 else ''} (inf or -inf) in data "
        f"row{'s' if len(rows) > 1 else ''} {shown} (row 1 is the line after the header); make them finite "
        "numbers or drop those rows in make_data.py"
    ]


def _count_issues(col: pd.Series, name: str) -> list[str]:
    values = col.to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0) | (values != np.round(values)))
    if len(bad):
        return [
            f"count outcome {name!r} must be whole numbers >= 0; data row {bad[0] + 1} holds {values[bad[0]]:g} "
            f'({len(bad)} such rows); use outcome_type = "continuous" or fix those values'
        ]
    if not values.any():
        return [f"count outcome {name!r} is 0 everywhere; there is nothing to model"]
    return []


def _binary_issues(col: pd.Series, role: str, name: str) -> list[str]:
    if col.isna().any():
        return [f"{role} {name!r} has {int(col.isna().sum())} missing values; drop those rows"]
    if not pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return [f"{role} {name!r} must be coded 0/1, but it is {col.dtype}"]
    levels = sorted(pd.unique(col.astype(float)))
    if levels != [0.0, 1.0]:
        shown = ", ".join(f"{v:g}" for v in levels[:6]) + (", …" if len(levels) > 6 else "")
        return [f"{role} {name!r} must be binary, coded 0/1 with both values present; found values {shown}"]
    return []


def _table(raw: dict[str, Any], key: str, issues: list[str]) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        issues.append(f"problem.toml needs a [{key}] table")
        return {}
    return value


def parse_gates(table: Any, issues: list[str]) -> Gates:
    """The ``[gates]`` table of ``problem.toml`` (missing keys take their defaults); problems go to ``issues``.

    Parameters
    ----------
    table
        The ``[gates]`` table as TOML parsed it (anything else is an issue).
    issues
        Where each problem is appended; a bad value keeps its default.

    Returns
    -------
    Gates
    """
    gates: Gates = _parse_dataclass(Gates, table, "gates", issues)
    return gates


def _parse_dataclass(cls: type[DataclassInstance], table: Any, section: str, issues: list[str]) -> Any:
    if not isinstance(table, dict):
        issues.append(f"[{section}] must be a table")
        return cls()
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(table) - known)
    if unknown:
        issues.append(f"[{section}] has unknown keys {', '.join(unknown)}; known keys: {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    for key in known & set(table):
        value = table[key]
        default: Any = cls.__dataclass_fields__[key].default  # every field of Gates and SamplingSettings has one
        if isinstance(default, TieBreak):
            try:
                values[key] = TieBreak(value)
            except ValueError:
                choices = ", ".join(t.value for t in TieBreak)
                issues.append(f"[{section}] {key} must be one of {choices}, not {value!r}")
            continue
        if cls is SamplingSettings:
            issue = sampling_issue(key, value, f"[{section}] {key}")
            if issue:
                issues.append(issue)
            else:
                values[key] = int(value)
            continue
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            issues.append(f"[{section}] {key} must be a positive number, not {value!r}")
            continue
        values[key] = type(default)(value)
    return cls(**values)
