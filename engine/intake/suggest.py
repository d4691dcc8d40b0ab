"""Suggested roles for every column, each with the evidence behind it.

The classic mistakes of a causal analysis are visible in the data before any model runs:
a post-treatment name, a column the treatment predicts far better than the pre-treatment
columns do (a mediator or descendant), a column that reproduces the outcome (leakage), a
row key, a date or free text that no model can use as is. Each check here is simple and
cross-validated where it fits something, and every suggestion carries the numbers that
triggered it; the principal decides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import KFold, cross_val_predict
from sklearn.tree import DecisionTreeRegressor

from engine.intake.csvfile import FALSE_WORDS, TRUE_WORDS, CsvTable, IntakeError
from engine.intake.dictionary import ColumnDecision, Role, decide
from engine.problem import OutcomeType

SAMPLE_ROWS = 20_000
"""Suggestions on larger data are computed on a random sample of this many rows (stated)."""
MAX_LEVELS = 30  # a text column with more levels is too many one-hot columns to be a control
FOLDS = 5
SEED = 0

MEDIATOR_GAIN = 0.25  # the treatment adds this much cross-validated R² to the pre-treatment columns' fit
# ^ a strong confounder is predicted by the treatment too (a logistic slope of 1 on a standardised
#   column gives about 0.16); the post-treatment columns of the shipped data gain 0.33 and 0.40
MEDIATOR_Z = 3.0  # a post-treatment column this associated with the outcome (partial correlation) is a mediator
LEAK_AUC = 0.97  # one column ranks a binary outcome this well: the outcome in disguise
LEAK_R2 = 0.95  # one column explains a continuous outcome this well
RECONSTRUCT_R2 = 0.98  # with the other columns it reproduces the outcome almost exactly

POST_WORDS = (
    "after", "post", "follow", "future", "next", "later", "open", "click", "redeem", "convert",
    "purchas", "revenue", "respon", "uptake", "used", "accept", "cancel", "churn", "death", "died",
    "outcome", "result", "final", "end",
)  # fmt: skip
PRE_WORDS = ("prior", "pre", "baseline", "before", "previous", "prev", "last", "initial", "lag", "hist")
WINDOW = re.compile(r"^\d+(d|day|days|w|wk|m|mo|month|months|y|yr)$")
YEAR_SPAN = re.compile(r"^\d{2}$")
ORACLE = re.compile(
    r"(^|_)(true_?propensity|propensity_true|potential|counterfactual|oracle|truth|ite|cate)(_|$)"
    r"|_if_(treated|control|untreated)$|^(y|mu|m)_?[01]$",
    re.IGNORECASE,
)
ID_WORDS = frozenset({"id", "uuid", "guid", "key", "index", "idx", "row"})


class ColumnKind(StrEnum):
    """What a column holds, as far as a model is concerned."""

    BINARY = "binary"
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"  # text with at most MAX_LEVELS levels
    HIGH_CARDINALITY = "many levels"
    FREE_TEXT = "free text"
    DATE = "date"
    IDENTIFIER = "identifier"
    CONSTANT = "constant"


@dataclass(frozen=True)
class ColumnSuggestion:
    """What the checks suggest for one column, and why."""

    name: str
    kind: ColumnKind
    summary: str  # what the column holds, in a few words
    missing: int
    suggested: ColumnDecision
    evidence: tuple[str, ...]  # each check that fired, with its numbers

    @property
    def flagged(self) -> bool:
        """Whether the checks found more than 'a pre-treatment confounder, as far as we can tell'."""
        return self.suggested.role is not Role.CONFOUNDER


@dataclass(frozen=True)
class OutcomeGuess:
    """The outcome type the data suggest, and what it was read from."""

    outcome_type: OutcomeType
    looks_like: str  # "binary", "count" or "continuous"
    evidence: str


@dataclass(frozen=True)
class Suggestions:
    """The suggestions for every column but the treatment and the outcome."""

    columns: tuple[ColumnSuggestion, ...]
    rows: int
    sampled: int | None  # rows used when the data had more than SAMPLE_ROWS
    outcome: OutcomeGuess

    def get(self, name: str) -> ColumnSuggestion | None:
        """The suggestion for one column.

        Parameters
        ----------
        name
            A column name.

        Returns
        -------
        ColumnSuggestion or None
            None for the treatment, the outcome and unknown names.
        """
        return next((c for c in self.columns if c.name == name), None)

    @property
    def sample_note(self) -> str:
        if self.sampled is None:
            return f"suggestions computed on all {self.rows:,} rows"
        return f"suggestions computed on a random sample of {self.sampled:,} of {self.rows:,} rows"


# --------------------------------------------------------------------------- treatment and outcome


def treatment_values(col: pd.Series, treated_value: str | None) -> tuple[np.ndarray, str | None]:
    """The treatment as 0/1 (NaN where missing), and the rule that made it so.

    Parameters
    ----------
    col
        The raw treatment column.
    treated_value
        The raw value that means "treated"; needed unless the column is already 0/1.

    Returns
    -------
    (numpy.ndarray, str or None)
        The 0/1 treatment and the recoding rule (None when the column was 0/1 already).

    Raises
    ------
    IntakeError
        When the column is not 0/1 and no treated value is given, or the value never occurs.
    """
    present = col.dropna()
    levels = sorted(present.unique(), key=str)
    if treated_value is None:
        numeric = pd.to_numeric(present, errors="coerce")
        if numeric.notna().all() and set(numeric.unique()) == {0.0, 1.0}:
            return pd.to_numeric(col, errors="coerce").to_numpy(dtype=float), None
        shown = ", ".join(repr(_plain(v)) for v in levels[:6]) + (", …" if len(levels) > 6 else "")
        raise IntakeError(
            f"the treatment {col.name!r} must be binary 0/1; it holds {len(levels)} values ({shown}). "
            "Give the treated value (--treated-value VALUE) to set treatment = 1 where the column equals VALUE and 0 elsewhere"
        )
    matches = present.astype(str).str.strip() == str(treated_value).strip()
    if _is_number(treated_value):
        matches |= pd.to_numeric(present, errors="coerce") == float(treated_value)
    word = str(treated_value).strip().lower()
    if word in TRUE_WORDS | FALSE_WORDS:  # yes/no was read as 1/0 (csvfile records it): the word names its number
        matches |= pd.to_numeric(present, errors="coerce") == float(word in TRUE_WORDS)
    if not matches.any():
        shown = ", ".join(repr(_plain(v)) for v in levels[:6])
        raise IntakeError(f"--treated-value {treated_value!r} never occurs in {col.name!r} (values: {shown})")
    if matches.all():
        raise IntakeError(f"every row of {col.name!r} equals {treated_value!r}: nobody would be untreated")
    t = np.full(len(col), np.nan)
    t[col.notna().to_numpy()] = matches.to_numpy(dtype=float)
    return t, f"{col.name} = 1 where the original column equals {treated_value!r}, 0 for its other values"


def guess_outcome(col: pd.Series) -> OutcomeGuess:
    """Binary, count or continuous, read from the values.

    Parameters
    ----------
    col
        The outcome column.

    Returns
    -------
    OutcomeGuess

    Raises
    ------
    IntakeError
        When the outcome is not numeric.
    """
    values = col.dropna()
    if not pd.api.types.is_numeric_dtype(values):
        raise IntakeError(
            f"the outcome {col.name!r} is text (e.g. {values.iloc[0]!r}); the outcome must be a number, "
            "or a yes/no or true/false column (read as 1/0)"
        )
    levels = np.unique(values.to_numpy(dtype=float))
    if set(levels) == {0.0, 1.0}:
        share = float(values.mean())
        return OutcomeGuess(OutcomeType.BINARY, "binary", f"values 0 and 1 only ({share:.0%} are 1)")
    whole = bool(np.all(levels == np.round(levels)))
    if whole and levels.min() >= 0 and len(levels) > 2:
        return OutcomeGuess(
            OutcomeType.COUNT,
            "count",
            f"whole numbers from {levels.min():g} to {levels.max():g}: a count (negative binomial, log link; the "
            "effect is a difference in expected counts). Choose continuous if the numbers are a measurement",
        )
    return OutcomeGuess(
        OutcomeType.CONTINUOUS,
        "continuous",
        f"{len(levels):,} distinct values from {levels.min():g} to {levels.max():g}",
    )


def binary_candidates(frame: pd.DataFrame) -> list[str]:
    """Columns that could be the treatment, likeliest first.

    Parameters
    ----------
    frame
        The data.

    Returns
    -------
    list of str
        Every column with exactly two values; those named like a treatment (``treat``,
        ``arm``, ``t``…) first.
    """
    names = []
    for name in frame.columns:
        values = frame[name].dropna()
        if values.nunique() == 2:
            names.append(name)
    words = ("treat", "assign", "arm", "group", "exposed", "intervention")
    return sorted(names, key=lambda n: (not any(w in n.lower() for w in words) and n.lower() not in ("t", "w", "d"), n))


# --------------------------------------------------------------------------- the checks


def suggest(table: CsvTable, treatment: str, outcome: str, treated_value: str | None = None) -> Suggestions:
    """Suggest a role for every column but ``treatment`` and ``outcome``, with evidence.

    Parameters
    ----------
    table
        The data as :func:`~engine.intake.csvfile.read_csv` read it.
    treatment, outcome
        The columns the question is about.
    treated_value
        How to make the treatment 0/1 (see :func:`treatment_values`).

    Returns
    -------
    Suggestions

    Raises
    ------
    IntakeError
        When the treatment or outcome is not a column, or cannot be used.
    """
    frame = table.frame
    for part, name in (("treatment", treatment), ("outcome", outcome)):
        if name not in frame.columns:
            raise IntakeError(f"the {part} {name!r} is not a column; the columns are {', '.join(frame.columns)}")
    if treatment == outcome:
        raise IntakeError(f"the treatment and the outcome are the same column ({treatment!r}); pick two")
    rows = len(frame)
    sampled = None
    if rows > SAMPLE_ROWS:
        frame = frame.sample(SAMPLE_ROWS, random_state=SEED)
        sampled = SAMPLE_ROWS
    t_all, _ = treatment_values(frame[treatment], treated_value)
    guess = guess_outcome(table.frame[outcome])
    keep = ~np.isnan(t_all) & frame[outcome].notna().to_numpy()
    frame, t = frame[keep], t_all[keep]
    y = frame[outcome].to_numpy(dtype=float)
    others = [c for c in frame.columns if c not in (treatment, outcome)]
    kinds = {name: column_kind(frame[name]) for name in others}

    evidence: dict[str, list[str]] = {name: [] for name in others}
    role: dict[str, Role] = {}
    for name in others:
        kind = kinds[name]
        if ORACLE.search(name):
            role[name] = Role.ORACLE
            evidence[name].append("the name reads like simulation truth (a propensity or potential outcome)")
        elif kind in (ColumnKind.IDENTIFIER, ColumnKind.CONSTANT, ColumnKind.DATE, ColumnKind.FREE_TEXT):
            role[name] = Role.IDENTIFIER if kind is ColumnKind.IDENTIFIER else Role.UNUSED
            evidence[name].append(_kind_evidence(frame[name], kind))
        elif kind is ColumnKind.HIGH_CARDINALITY:
            role[name] = Role.UNUSED
            evidence[name].append(_kind_evidence(frame[name], kind))
        word = _post_word(name)
        if word and name not in role:
            evidence[name].append(f"the name ({word!r}) suggests it is measured after treatment")

    usable = [n for n in others if n not in role]
    named_post = {n for n in usable if evidence[n]}
    pre = [n for n in usable if n not in named_post]
    features = {n: _encode(frame[n], kinds[n]) for n in usable}

    for name in usable:
        leak = _single_column_leak(features[name], y, guess.outcome_type)
        if leak:
            evidence[name].append(leak)
            role[name] = Role.LEAKAGE
    pre = [n for n in pre if n not in role]
    if guess.outcome_type is OutcomeType.CONTINUOUS:
        # Greedy: the column whose addition reproduces the outcome best goes first, so its partner
        # (wt71 beside wt82 = wt71 + outcome) is judged without it.
        while found := _reconstruction(features, [n for n in usable if n not in role], pre, y):
            name, note = found
            evidence[name].append(note)
            role[name] = Role.LEAKAGE
            pre = [n for n in pre if n != name]
    for name in usable:
        if name in role or kinds[name] is ColumnKind.CATEGORICAL:
            continue
        post = _post_treatment_evidence(frame[name], t, features, [p for p in pre if p != name])
        if post or name in named_post:
            evidence[name].extend(post)
            base = np.column_stack([t, *(features[p] for p in pre if p != name)])
            r, z = _partial_correlation(y, features[name], base)
            mediates = abs(z) >= MEDIATOR_Z
            evidence[name].append(
                f"given treatment and the pre-treatment columns it correlates {r:+.2f} with the outcome (z = {z:.1f}): "
                + (
                    "tied to the outcome, so a mediator (or a collider): forbidden either way"
                    if mediates
                    else "no sign it is tied to the outcome, so a descendant"
                )
            )
            role[name] = Role.MEDIATOR if mediates else Role.DESCENDANT

    columns = []
    for name in others:
        kind = kinds[name]
        missing = int(table.frame[name].isna().sum())
        notes = list(evidence[name])
        pre_word = _pre_word(name)
        if name not in role and pre_word:
            notes.append(f"the name ({pre_word!r}) suggests it is measured before treatment")
        if missing:
            notes.append(f"{missing:,} missing ({missing / rows:.1%}): rows missing it are dropped or the intake stops")
        chosen = role.get(name, Role.CONFOUNDER)
        if chosen is Role.CONFOUNDER and not notes:
            notes.append("no sign of post-treatment timing: assumed measured before treatment; confirm")
        reason = "; ".join(evidence[name] if chosen is not Role.CONFOUNDER else notes)
        columns.append(
            ColumnSuggestion(
                name=name,
                kind=kind,
                summary=_summary(frame[name], kind),
                missing=missing,
                suggested=decide(name, chosen, reason, categorical=kind is ColumnKind.CATEGORICAL),
                evidence=tuple(notes),
            )
        )
    return Suggestions(tuple(columns), rows, sampled, guess)


def column_kind(col: pd.Series) -> ColumnKind:
    """What a column holds, as far as a model is concerned.

    Parameters
    ----------
    col
        One column of the data.

    Returns
    -------
    ColumnKind
        Constant, binary, numeric, identifier (a row key), date, free text, categorical
        (text with at most :data:`MAX_LEVELS` levels) or many levels.
    """
    values = col.dropna()
    distinct = values.nunique()
    if distinct <= 1:
        return ColumnKind.CONSTANT
    tokens = set(_tokens(str(col.name)))
    if pd.api.types.is_numeric_dtype(values):
        if distinct == 2:
            return ColumnKind.BINARY
        whole = bool(np.all(values.to_numpy(dtype=float) == np.round(values.to_numpy(dtype=float))))
        if (tokens & ID_WORDS and whole) or (
            whole and distinct == len(values) and len(values) >= 20 and _is_sequence(values)
        ):
            return ColumnKind.IDENTIFIER
        return ColumnKind.NUMERIC
    text = values.astype(str)
    if _looks_like_dates(text):
        return ColumnKind.DATE
    if distinct == len(values) and len(values) >= 20 and (tokens & ID_WORDS or text.str.len().mean() < 40):
        return ColumnKind.IDENTIFIER
    if tokens & ID_WORDS and distinct > MAX_LEVELS:
        return ColumnKind.IDENTIFIER
    if text.str.split().str.len().mean() > 3 and distinct > MAX_LEVELS:
        return ColumnKind.FREE_TEXT
    if distinct == 2:
        return ColumnKind.BINARY
    return ColumnKind.CATEGORICAL if distinct <= MAX_LEVELS else ColumnKind.HIGH_CARDINALITY


def _is_sequence(values: pd.Series) -> bool:
    """A row number: consecutive whole numbers, in any order."""
    v = np.sort(values.to_numpy(dtype=float))
    return bool(np.all(np.diff(v) == 1))


def _looks_like_dates(text: pd.Series) -> bool:
    sample = text.head(200)
    if not sample.str.contains(r"\d").all() or not sample.str.contains(r"[-/:.]").all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.9)


def _kind_evidence(col: pd.Series, kind: ColumnKind) -> str:
    values = col.dropna()
    if kind is ColumnKind.IDENTIFIER:
        return f"an identifier: {values.nunique():,} distinct values in {len(values):,} rows, no causal content"
    if kind is ColumnKind.CONSTANT:
        shown = repr(_plain(values.iloc[0])) if len(values) else "missing"
        return f"constant: every row is {shown}, so it cannot adjust for anything"
    if kind is ColumnKind.DATE:
        return f"a date (e.g. {values.iloc[0]!r}): usable only once encoded, e.g. as days since an origin, and only if it precedes treatment"
    if kind is ColumnKind.FREE_TEXT:
        return (
            f"free text ({values.nunique():,} distinct, e.g. {str(values.iloc[0])[:40]!r}): a model cannot use it as is"
        )
    return (
        f"text with {values.nunique():,} levels: as a control it would add {values.nunique() - 1:,} one-hot columns; "
        "group rare levels into a coarser column first"
    )


def _summary(col: pd.Series, kind: ColumnKind) -> str:
    values = col.dropna()
    if kind is ColumnKind.NUMERIC:
        v = values.to_numpy(dtype=float)
        return f"numeric, {values.nunique():,} values, {v.min():g} to {v.max():g}"
    if kind is ColumnKind.BINARY:
        levels = sorted(values.unique(), key=str)
        return f"binary {'/'.join(str(_plain(v)) for v in levels)}, {float((values == levels[-1]).mean()):.0%} {_plain(levels[-1])}"
    if kind is ColumnKind.CATEGORICAL:
        shown = ", ".join(str(v) for v in values.value_counts().index[:3])
        return f"text, {values.nunique()} levels ({shown}{', …' if values.nunique() > 3 else ''})"
    return f"{kind}, {values.nunique():,} distinct"


def _tokens(name: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1_\2", name)
    spaced = re.sub(r"([A-Za-z])(\d)", r"\1_\2", spaced)
    return [t for t in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if t]


def _post_word(name: str) -> str | None:
    tokens = _tokens(name)
    for i, token in enumerate(tokens):
        if token.startswith(POST_WORDS):
            return token
        if WINDOW.match(token) or (i and YEAR_SPAN.match(token) and YEAR_SPAN.match(tokens[i - 1])):
            return token if WINDOW.match(token) else f"{tokens[i - 1]}_{token}"
    return None


def _pre_word(name: str) -> str | None:
    return next((t for t in _tokens(name) if t in PRE_WORDS), None)


def _encode(col: pd.Series, kind: ColumnKind) -> np.ndarray:
    """The column as model inputs for the checks: standardised, missing values at the mean."""
    if kind is ColumnKind.CATEGORICAL or (kind is ColumnKind.BINARY and not pd.api.types.is_numeric_dtype(col)):
        dummies = pd.get_dummies(col.astype("string"), drop_first=True, dtype=float).to_numpy()
        return dummies
    v = col.to_numpy(dtype=float)
    v = np.where(np.isnan(v), np.nanmean(v), v)
    sd = v.std()
    return ((v - v.mean()) / sd if sd > 0 else v - v.mean()).reshape(-1, 1)


def _cv_r2(target: np.ndarray, X: np.ndarray) -> float:
    """Cross-validated R² of a ridge fit; 0 for no inputs."""
    if X.shape[1] == 0 or len(target) < 2 * FOLDS:  # too few rows to cross-validate: no evidence either way
        return 0.0
    folds = KFold(FOLDS, shuffle=True, random_state=SEED)
    predicted = cross_val_predict(Ridge(alpha=1.0), X, target, cv=folds)
    return _r2(target, predicted)


def _r2(target: np.ndarray, predicted: np.ndarray) -> float:
    total = float(np.sum((target - target.mean()) ** 2))
    return 1.0 - float(np.sum((target - predicted) ** 2)) / total if total > 0 else 0.0


def _r2_gain(target: np.ndarray, base: np.ndarray, extra: np.ndarray) -> float:
    return _cv_r2(target, np.column_stack([base, extra])) - _cv_r2(target, base)


def _stack(features: dict[str, np.ndarray], names: list[str], n: int) -> np.ndarray:
    return np.column_stack([features[name] for name in names]) if names else np.empty((n, 0))


def _post_treatment_evidence(
    col: pd.Series, t: np.ndarray, features: dict[str, np.ndarray], pre: list[str]
) -> list[str]:
    """A column the treatment predicts far better than the pre-treatment columns do, or one that only varies when treated."""
    notes = []
    if pd.api.types.is_numeric_dtype(col):
        values, labels = col.to_numpy(dtype=float), None
    else:  # a text column with two values ("M"/"F", "yes"/"no"): its codes, shown by label
        coded = pd.Categorical(col)
        values, labels = np.where(coded.codes < 0, np.nan, coded.codes).astype(float), list(coded.categories)
    observed = ~np.isnan(values)
    untreated, treated = values[observed & (t == 0)], values[observed & (t == 1)]
    if len(untreated) and len(treated) and np.unique(untreated).size == 1 and np.unique(treated).size > 1:
        share = float(np.mean(treated != untreated[0]))
        value = f"{untreated[0]:g}" if labels is None else repr(str(labels[int(untreated[0])]))
        notes.append(
            f"it only varies among the treated: {value} for all {len(untreated):,} untreated, "
            f"different for {share:.0%} of the treated"
        )
    target = values[observed]
    base = _stack(features, pre, len(values))[observed]
    without = _cv_r2(target, base)
    with_t = _cv_r2(target, np.column_stack([base, t[observed]]))
    if with_t - without >= MEDIATOR_GAIN:
        notes.append(
            f"the treatment predicts it far better than the pre-treatment columns do: cross-validated R² "
            f"{without:.2f} without the treatment, {with_t:.2f} with it (a very strong driver of treatment "
            "shows this too: check when it was measured)"
        )
    return notes


def _single_column_leak(x: np.ndarray, y: np.ndarray, outcome_type: OutcomeType) -> str | None:
    """A column that predicts the outcome almost perfectly on its own."""
    if x.shape[1] != 1:
        return None
    if outcome_type is OutcomeType.BINARY:
        auc = roc_auc_score(y, x[:, 0])
        auc = max(auc, 1 - auc)
        if auc >= LEAK_AUC:
            return f"it predicts the outcome almost perfectly on its own (AUC {auc:.3f}): the outcome in disguise, or leakage"
        return None
    if len(y) < 2 * FOLDS:
        return None  # too few rows to cross-validate
    folds = KFold(FOLDS, shuffle=True, random_state=SEED)
    tree = DecisionTreeRegressor(max_leaf_nodes=32, random_state=SEED)
    alone = _r2(y, cross_val_predict(tree, x, y, cv=folds))
    if alone >= LEAK_R2:
        return f"it predicts the outcome almost perfectly on its own (cross-validated R² {alone:.3f}): leakage"
    return None


def _reconstruction(
    features: dict[str, np.ndarray], candidates: list[str], pre: list[str], y: np.ndarray
) -> tuple[str, str] | None:
    """The column that, with the pre-treatment columns, reproduces the outcome almost exactly (the best such)."""
    best: tuple[float, str, str] | None = None
    all_pre = _cv_r2(y, _stack(features, pre, len(y)))  # what any candidate among the pre columns reaches
    for name in candidates:
        if name in pre and all_pre < RECONSTRUCT_R2:
            continue
        base = _stack(features, [p for p in pre if p != name], len(y))
        together = all_pre if name in pre else _cv_r2(y, np.column_stack([base, features[name]]))
        if together < RECONSTRUCT_R2:
            continue
        without = _cv_r2(y, base)
        if together - without >= 0.1 and (best is None or together - without > best[0]):
            note = (
                f"with the other columns it reproduces the outcome almost exactly (cross-validated R² {together:.3f}, "
                f"{without:.2f} without it): it contains the outcome"
            )
            best = (together - without, name, note)
    return None if best is None else (best[1], best[2])


def _partial_correlation(y: np.ndarray, x: np.ndarray, base: np.ndarray) -> tuple[float, float]:
    """Correlation of ``y`` and ``x`` after least-squares adjustment for ``base``, and its z statistic."""
    design = np.column_stack([np.ones(len(y)), base])
    residual_y = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    residual_x = x[:, 0] - design @ np.linalg.lstsq(design, x[:, 0], rcond=None)[0]
    denominator = float(np.linalg.norm(residual_y) * np.linalg.norm(residual_x))
    r = float(residual_y @ residual_x) / denominator if denominator > 0 else 0.0
    dof = max(len(y) - design.shape[1] - 1, 1)
    z = r * np.sqrt(dof / max(1 - r * r, 1e-12))
    return r, float(z)


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def default_decisions(suggestions: Suggestions) -> tuple[ColumnDecision, ...]:
    """Every suggestion taken as is.

    Parameters
    ----------
    suggestions
        The suggestions for every column.

    Returns
    -------
    tuple of ColumnDecision
        What ``--accept-suggestions`` and the form's "accept all" would decide.
    """
    return tuple(c.suggested for c in suggestions.columns)
