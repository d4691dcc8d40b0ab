"""The report as GitHub-flavoured Markdown: pipe tables, fenced code, ``<details>`` for
long parts, GitHub alerts for warnings, and figures as PNG files in a folder beside the
``.md`` referenced by relative path (code-hosting sites do not show data URIs)."""

from __future__ import annotations

import re

from engine.report.blocks import (
    Block,
    Bullets,
    Callout,
    Code,
    Details,
    Heading,
    Image,
    Inline,
    KeyValues,
    Para,
    Table,
)
from engine.report.content import Report

FIGURES_DIR = "figures"
ALERTS = {"info": "NOTE", "warn": "WARNING", "loud": "CAUTION"}
MARKS = {  # plain symbols (not emoji): they show in any font a code-hosting site or terminal uses
    "kept": "✓",
    "pass": "✓",
    "yes": "✓",
    "approved": "✓",
    "warn": "⚠",
    "warning": "⚠",
    "cancelled": "–",
    "failed_gate": "✗",
    "crashed": "✗",
    "rejected": "✗",
    "fail": "✗",
    "blocker": "✗",
    "no": "✗",
}
_ESCAPE = re.compile(r"([\\`*_|])")
"""Inline marks: emphasis, code and table cells."""
_LINE_START = re.compile(
    r"(?m)^([ \t]*)(\[|#{1,6}(?=[ \t]|$)|[-+](?=[ \t]|$)|-+(?=[ \t]*$)|=+(?=[ \t]*$)|~{3,}|\d{1,9}(?=[.)](?:[ \t]|$)))"
)
"""What makes a line a heading, a list, a rule or a fence when text from a record holds newlines."""


def render_markdown(report: Report, figures_dir: str = FIGURES_DIR) -> str:
    """The report as Markdown that renders on a code-hosting site.

    Parameters
    ----------
    report
        From :func:`engine.report.build_report`.
    figures_dir
        Folder, relative to the ``.md`` file, where :func:`engine.report.write_report`
        puts each figure as ``<name>.png``.

    Returns
    -------
    str
    """
    from engine.report.layout import layout

    parts = [_block(b, figures_dir) for b in layout(report)]
    footer = (
        f"---\n\n_Written by causal-workbench from session `{report.session_id}` at {report.generated_at}; "
        f"figures are in `{figures_dir}/` beside this file._"
    )
    return "\n\n".join(p for p in parts if p) + "\n\n" + footer + "\n"


def _text(text: str, lines: bool = True) -> str:
    """``text`` shown as it is; ``lines=False`` in a table cell, where no line starts a block."""
    text = _ESCAPE.sub(r"\\\1", text)
    if "](" in text:  # a link or an image (``![pixel](https://…)``); an interval ``[3.4, 4.6]`` stays as it is
        text = text.replace("[", "\\[").replace("]", "\\]")
    if lines:
        text = _LINE_START.sub(lambda m: m.group(1) + _escape_start(m.group(2)), text)
    return text.replace("<", "&lt;").replace(">", "&gt;")


def _escape_start(mark: str) -> str:
    """``\\#`` for a mark; ``1\\.`` for an ordered list's number (CommonMark escapes the dot, not the digits)."""
    return f"{mark}\\" if mark[0].isdigit() else f"\\{mark}"


def _code_span(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def _inline(content: Inline, in_table: bool = False) -> str:
    out = []
    for span in content:
        if span.kind == "code":
            piece = _code_span(span.text)
            if in_table:
                piece = piece.replace("|", "\\|")
        elif span.kind in ("strong", "em"):
            piece = _emphasis(span.text, "**" if span.kind == "strong" else "_")
        elif span.kind == "status":
            mark = MARKS.get(span.text)
            word = _text(span.text.replace("_", " "), not in_table)
            piece = f"{mark} {word}" if mark else word
        elif span.kind == "link":
            piece = f"[{_text(span.text, not in_table)}](#{span.target})"
        else:
            piece = _text(span.text, not in_table)
        out.append(piece)
    text = "".join(out)
    if in_table:
        text = " ".join(text.split())
    return text


def _emphasis(text: str, mark: str) -> str:
    """``**bold**`` with any surrounding spaces outside the marks (CommonMark ignores ``**bold **``)."""
    core = text.strip()
    if not core:
        return _text(text)
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return f"{lead}{mark}{_text(core)}{mark}{trail}"


def _anchor(name: str) -> str:
    return f'<a id="{name}" name="{name}"></a>'


def _block(block: Block, figures_dir: str) -> str:
    if isinstance(block, Heading):
        heading = f"{'#' * block.level} {block.text}"
        return f"{_anchor(block.anchor)}\n\n{heading}" if block.anchor else heading
    if isinstance(block, Para):
        return _inline(block.content)
    if isinstance(block, Callout):
        lines = _inline(block.content).splitlines() or [""]
        return "\n".join([f"> [!{ALERTS.get(block.kind, 'NOTE')}]"] + [f"> {line}" for line in lines])
    if isinstance(block, Bullets):
        return "\n".join(f"- {_inline(item)}" for item in block.items)
    if isinstance(block, Table):
        return _table(block.headers, [[_inline(c, True) for c in row] for row in block.rows], block.numeric)
    if isinstance(block, KeyValues):
        if any(block.headers):
            return _table(block.headers, [[_text(k, False), _inline(v, True)] for k, v in block.pairs], ())
        return "\n".join(f"- **{_text(k)}:** {_inline(v)}" for k, v in block.pairs)
    if isinstance(block, Code):
        return _fence(block.text, block.lang)
    if isinstance(block, Image):
        f = block.figure
        return f"![{_text(f.title)}]({figures_dir}/{f.filename})\n\n_{_text(f.caption)}_"
    if isinstance(block, Details):
        inner = "\n\n".join(_block(b, figures_dir) for b in block.blocks)
        # one line: a blank line would end the HTML block and let the rest render as Markdown (an image, a heading)
        summary = " ".join(block.summary.split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        head = f"{_anchor(block.anchor)}\n" if block.anchor else ""
        return f"{head}<details>\n<summary>{summary}</summary>\n\n{inner}\n\n</details>"
    raise TypeError(f"unknown block {type(block).__name__}")


def _table(headers: tuple[str, ...], rows: list[list[str]], numeric: tuple[int, ...]) -> str:
    numeric_set = set(numeric)
    head = "| " + " | ".join(_text(h, False) or " " for h in headers) + " |"
    rule = "|" + "|".join("---:" if i in numeric_set else "---" for i in range(len(headers))) + "|"
    body = ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def _fence(text: str, lang: str) -> str:
    longest = max((len(m) for m in re.findall(r"^\s*(`{3,})", text, flags=re.M)), default=0)
    fence = "`" * max(3, longest + 1)
    body = text if text.endswith("\n") else text + "\n"
    return f"{fence}{lang}\n{body}{fence}"
