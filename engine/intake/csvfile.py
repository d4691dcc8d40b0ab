"""Read a CSV as people actually save them, and say what was done to it.

Real exports come with a byte-order mark or in Windows-1252, delimited by semicolons or
tabs, with quoted fields, ``1,234.50`` thousands separators, ``yes``/``no`` and
``TRUE``/``FALSE`` as text. Each is detected, converted to what the engine reads (UTF-8,
commas, numbers) and recorded as a sentence, so the problem folder says how its
``data.csv`` was made. Anything that cannot be used is an :class:`IntakeError` that
names the file and says what to do.
"""

from __future__ import annotations

import csv
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from engine.errors import WorkbenchError
from engine.problem import MISSING_WORDS

SNIFF_BYTES = 64 * 1024
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")  # latin-1 decodes any byte: the last resort
DELIMITERS = ",;\t|"
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
TRUE_WORDS = frozenset({"true", "yes", "y", "t"})
FALSE_WORDS = frozenset({"false", "no", "n", "f"})
THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$|^[+-]?\d+(\.\d+)?$")
DECIMAL_COMMA = re.compile(r"^[+-]?\d{1,3}(\.\d{3})*(,\d+)?$|^[+-]?\d+(,\d+)?$")
MAGIC = {
    b"PK\x03\x04": "a zip archive (an Excel .xlsx?)",
    b"\xd0\xcf\x11\xe0": "an old Excel .xls file",
    b"PAR1": "a Parquet file",
    b"\x1f\x8b": "gzip-compressed",
}


class IntakeError(WorkbenchError):
    """A CSV or a set of decisions cannot become a problem folder."""


@dataclass(frozen=True)
class SourceFile:
    """Where the data came from: enough to find and verify the original."""

    path: str
    bytes: int
    sha256: str
    encoding: str
    delimiter: str
    rows: int
    columns: int


@dataclass(frozen=True)
class CsvTable:
    """A CSV read into a frame of numbers and text, with what was converted on the way."""

    frame: pd.DataFrame
    source: SourceFile
    conversions: tuple[str, ...]


def read_csv(path: Path) -> CsvTable:
    """Read ``path``, detecting encoding and delimiter and converting text that means numbers.

    Parameters
    ----------
    path
        A CSV (or TSV, semicolon-separated…) file with a header row.

    Returns
    -------
    CsvTable

    Raises
    ------
    IntakeError
        When the file is missing, binary, has one column or no rows, names a column twice
        or twice without a name, or does not parse.
    """
    path = Path(path)
    if not path.is_file():
        raise IntakeError(f"{path}: no such file; pass the path of a CSV file")
    head = path.open("rb").read(SNIFF_BYTES)
    for magic, what in MAGIC.items():
        if head.startswith(magic):
            raise IntakeError(f"{path}: this is {what}, not a CSV; export it as CSV (comma- or tab-separated text)")
    if b"\x00" in head:
        raise IntakeError(f"{path}: the file holds NUL bytes, so it is binary or UTF-16; save it as UTF-8 CSV")
    encoding = _encoding(path.read_bytes())  # the whole file: one Windows-1252 byte past the head decides it
    text = head.decode(encoding.removesuffix("-sig"), errors="ignore")
    if not text.strip():
        raise IntakeError(f"{path}: the file is empty; it needs a header row and at least one data row")
    delimiter = _delimiter(text)
    header = next(csv.reader([text.splitlines()[0]], delimiter=delimiter))
    _check_header(path, [h.strip() for h in header])
    try:
        frame = pd.read_csv(
            path,
            sep=delimiter,
            encoding=encoding,
            skipinitialspace=True,
            low_memory=False,  # one type per column, not one per chunk
            keep_default_na=False,  # only an empty field is missing here; _convert reads "NA" by the column
            na_values=[""],
        )
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise IntakeError(f"{path}: cannot parse it as {DELIMITER_NAMES[delimiter]}-separated text: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise IntakeError(f"{path}: the CSV has a header but no data rows")
    conversions: list[str] = []
    if encoding != "utf-8-sig":
        conversions.append(f"decoded from {encoding} (not valid UTF-8)")
    elif head.startswith(b"\xef\xbb\xbf"):
        conversions.append("UTF-8 byte-order mark removed")
    if delimiter != ",":
        conversions.append(f"read as {DELIMITER_NAMES[delimiter]}-separated")
    for name in frame.columns:
        if pd.api.types.is_bool_dtype(frame[name]):
            conversions.append(f"{name!r}: True/False read as 1/0")
            frame[name] = frame[name].astype(float)
        elif frame[name].dtype == object:
            frame[name] = _convert(frame[name], delimiter, conversions)
    infinite = [
        str(n)
        for n in frame.columns
        if pd.api.types.is_numeric_dtype(frame[n]) and frame[n].abs().eq(float("inf")).any()
    ]
    if infinite:
        first = infinite[0]
        row = int(frame.index[frame[first].abs().eq(float("inf"))][0]) + 2  # 1-based, after the header
        raise IntakeError(
            f"{path}: column {', '.join(infinite)} holds infinite values (the first in {first!r} on line {row}); "
            "replace them with numbers, or leave the field empty where the value is unknown"
        )
    source = SourceFile(
        path=str(path.resolve()),
        bytes=path.stat().st_size,
        sha256=file_sha256(path),
        encoding=encoding.removesuffix("-sig"),
        delimiter=DELIMITER_NAMES[delimiter],
        rows=len(frame),
        columns=frame.shape[1],
    )
    return CsvTable(frame, source, tuple(conversions))


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB blocks (a few hundred MB never sits in memory twice).

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str
        The hex digest.
    """
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _encoding(data: bytes) -> str:
    for encoding in ENCODINGS:
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return encoding
    raise AssertionError("latin-1 decodes every byte")  # pragma: no cover


def _delimiter(text: str) -> str:
    lines = text.splitlines()[:50]
    sample = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


def _check_header(path: Path, header: list[str]) -> None:
    if len(header) < 2:
        raise IntakeError(
            f"{path}: the header has one column ({header[0]!r}); a causal question needs at least a treatment, "
            "an outcome and a control. Check the delimiter (comma, semicolon, tab or pipe are detected)"
        )
    blank = [str(i + 1) for i, h in enumerate(header) if not h]
    if blank:
        raise IntakeError(f"{path}: column {', '.join(blank)} of the header has no name; name every column")
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        if name in seen:
            raise IntakeError(
                f"{path}: the header names {name!r} twice (columns {seen[name] + 1} and {i + 1}); "
                "rename one so each name is one column"
            )
        seen[name] = i


def _convert(col: pd.Series, delimiter: str, conversions: list[str]) -> pd.Series:
    """A text column as numbers when every value reads as one; the way it was read is recorded."""
    if not all(isinstance(v, str) for v in col.dropna()):  # pandas' own True/False beside empty fields
        col = col.map(lambda v: v if isinstance(v, str) or pd.isna(v) else str(v))
    missing = col.str.strip().str.lower().isin(MISSING_WORDS)
    text = col[~missing].dropna().str.strip()
    if text.empty:
        return pd.to_numeric(col, errors="coerce")
    numbers = pd.to_numeric(text, errors="coerce")
    lower = text.str.lower()
    words = set(lower.unique())
    as_numbers = numbers.notna().all()
    as_booleans = words <= TRUE_WORDS | FALSE_WORDS and bool(words & TRUE_WORDS) and bool(words & FALSE_WORDS)
    decimal_commas = delimiter != "," and text.str.match(DECIMAL_COMMA).all() and text.str.contains(",").any()
    thousands = text.str.match(THOUSANDS).all() and text.str.contains(",").any()
    if missing.any():
        marks = "/".join(sorted({repr(w) for w in col[missing].str.strip()}))
        if as_numbers or as_booleans or decimal_commas or thousands:
            conversions.append(
                f"{col.name!r}: {marks} read as missing in {int(missing.sum()):,} rows (the rest are values)"
            )
            col = col.where(~missing)
        else:
            conversions.append(
                f"{col.name!r}: {marks} kept as a value, since the column is text (leave a field empty for missing)"
            )
    if as_numbers:
        return pd.to_numeric(col.str.strip(), errors="coerce")
    if as_booleans:
        shown = "/".join(sorted(set(text.unique()), key=lambda w: w.lower() in FALSE_WORDS))
        conversions.append(f"{col.name!r}: text booleans {shown} read as 1/0")
        return col.str.strip().str.lower().map(lambda w: float(w in TRUE_WORDS) if isinstance(w, str) else w)
    if decimal_commas:
        conversions.append(
            f"{col.name!r}: decimal commas read as decimal points (e.g. {text[text.str.contains(',')].iloc[0]!r})"
        )
        return pd.to_numeric(col.str.strip().str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    if thousands:
        conversions.append(
            f"{col.name!r}: thousands separators removed (e.g. {text[text.str.contains(',')].iloc[0]!r})"
        )
        return pd.to_numeric(col.str.strip().str.replace(",", "", regex=False))
    return col.str.strip()
