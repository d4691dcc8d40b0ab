"""The report as one self-contained HTML file: inline CSS, images as base64 PNG data URIs,
no network reference of any kind. Readable on a phone (fluid layout, tables scroll
sideways inside their own box) and printable (print CSS opens every collapsed section)."""

from __future__ import annotations

import base64
import html

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

STATUS_CLASS = {
    "kept": "good",
    "pass": "good",
    "approved": "good",
    "yes": "good",
    "discarded": "neutral",
    "skipped": "neutral",
    "cancelled": "neutral",
    "warning": "warn",
    "warn": "warn",
    "failed_gate": "bad",
    "crashed": "bad",
    "rejected": "bad",
    "fail": "bad",
    "blocker": "bad",
    "no": "bad",
    "credible": "good",
    "not_credible": "bad",
    "failed": "bad",
}

CSS = """
:root { --fg:#1d1d1f; --muted:#5f6368; --line:#d9dce1; --bg:#ffffff; --soft:#f5f6f8; --accent:#0b5cad;
  --good:#0f7b3f; --good-bg:#e4f4ea; --warn:#8a5a00; --warn-bg:#fff3d6; --bad:#a4251a; --bad-bg:#fde7e4;
  --neutral:#4a4f57; --neutral-bg:#eceef1; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin:0; background:var(--bg); color:var(--fg);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  overflow-wrap: break-word; }
main { max-width: 1200px; margin: 0 auto; padding: 16px 20px 48px; }
h1 { font-size: 1.6rem; line-height:1.25; margin: 0.4em 0 0.3em; }
h2 { font-size: 1.3rem; margin: 1.8em 0 0.5em; padding-top: 0.3em; border-top: 2px solid var(--line); }
h3 { font-size: 1.08rem; margin: 1.4em 0 0.4em; }
h4 { font-size: 1rem; margin: 1.2em 0 0.3em; }
p { margin: 0.5em 0; }
a { color: var(--accent); }
code { font: 0.88em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  background: var(--soft); padding: 0.05em 0.3em; border-radius: 3px; overflow-wrap: anywhere; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
  overflow-x: auto; font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace; }
pre code { background: none; padding: 0; font: inherit; overflow-wrap: normal; }
pre.wrap { white-space: pre-wrap; overflow-wrap: anywhere; }
pre .add { color: var(--good); background: var(--good-bg); display: block; }
pre .del { color: var(--bad); background: var(--bad-bg); display: block; }
pre .hunk { color: var(--accent); display: block; }
ul { padding-left: 1.3em; margin: 0.4em 0; }
li { margin: 0.2em 0; }
nav ul { columns: 2 16em; padding-left: 1.1em; }
.table-wrap { overflow-x: auto; -webkit-overflow-scrolling: touch; margin: 0.6em 0; border: 1px solid var(--line);
  border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { text-align: left; vertical-align: top; padding: 6px 9px; border-bottom: 1px solid var(--line); }
th { background: var(--soft); font-weight: 600; white-space: nowrap; }
tr:last-child td { border-bottom: none; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
table.iterations td:nth-child(3) { min-width: 15em; }
table.iterations td:nth-child(4) { min-width: 9em; }
table.iterations td:nth-child(8) { min-width: 9em; }
table.iterations th:first-child, table.iterations td:first-child { position: sticky; left: 0; background: var(--bg); }
table.iterations th:first-child { background: var(--soft); }
td code { overflow-wrap: normal; }
table.estimate td:first-child { font-weight: 600; white-space: nowrap; }
dl.kv { display: grid; grid-template-columns: minmax(8em, max-content) 1fr; gap: 4px 16px; margin: 0.6em 0; }
dl.kv dt { font-weight: 600; color: var(--muted); }
dl.kv dd { margin: 0; min-width: 0; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 0 0.45em; border-radius: 999px; font-size: 0.85em; font-weight: 600;
  white-space: nowrap; background: var(--neutral-bg); color: var(--neutral); }
.badge.good { background: var(--good-bg); color: var(--good); }
.badge.warn { background: var(--warn-bg); color: var(--warn); }
.badge.bad { background: var(--bad-bg); color: var(--bad); }
.callout { border-left: 4px solid var(--accent); background: #eef4fb; padding: 8px 12px; margin: 0.7em 0; border-radius: 4px; }
.callout.warn { border-color: #d49a00; background: var(--warn-bg); }
.callout.loud { border-color: var(--bad); background: var(--bad-bg); font-weight: 500; }
figure { margin: 0.6em 0 1.2em; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: 0.9em; margin-top: 0.3em; }
details { border: 1px solid var(--line); border-radius: 6px; margin: 0.4em 0; padding: 0 12px; }
details[open] { padding-bottom: 8px; }
summary { cursor: pointer; padding: 8px 0; font-weight: 600; overflow-wrap: anywhere; }
.meta { color: var(--muted); font-size: 0.92em; }
footer { margin-top: 3em; color: var(--muted); font-size: 0.85em; }
@media (max-width: 640px) {
  body { font-size: 14px; }
  main { padding: 10px 12px 32px; }
  h1 { font-size: 1.3rem; }
  h2 { font-size: 1.15rem; }
  dl.kv { grid-template-columns: 1fr; gap: 0; }
  dl.kv dd { margin-bottom: 6px; }
  nav ul { columns: 1; }
  table.iterations td:nth-child(3) { min-width: 11em; }
  pre { font-size: 11.5px; }
}
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; }
  nav { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  h3, h4 { break-after: avoid; page-break-after: avoid; }
  figure, .callout, tr, dl.kv { break-inside: avoid; page-break-inside: avoid; }
  .table-wrap { overflow: visible; border: none; }
  table { font-size: 8.5pt; }
  th, td { white-space: normal !important; min-width: 0 !important; padding: 3px 5px; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; overflow: visible; font-size: 8pt; }
  details { border: none; padding: 0; }
  details > summary { list-style: none; }
  details > summary::-webkit-details-marker { display: none; }
  .badge { border: 1px solid currentColor; }
}
"""

# Collapsed sections print expanded: open every <details> before printing, restore after.
PRINT_SCRIPT = """
(function () {
  var opened = [];
  window.addEventListener('beforeprint', function () {
    document.querySelectorAll('details:not([open])').forEach(function (d) { d.open = true; opened.push(d); });
  });
  window.addEventListener('afterprint', function () {
    opened.forEach(function (d) { d.open = false; }); opened = [];
  });
})();
"""


def render_html(report: Report) -> str:
    """The report as a single HTML document with no external references.

    Parameters
    ----------
    report
        From :func:`engine.report.build_report`.

    Returns
    -------
    str
        The document; write it as UTF-8.
    """
    from engine.report.layout import layout

    blocks = layout(report)
    title = html.escape(f"Session report: {report.title} ({report.session_id})")
    body = []
    first = True
    for block in blocks:
        if first and isinstance(block, Heading) and block.level == 1:
            body.append(f"<header>{_block(block)}</header>")
            first = False
            continue
        body.append(_block(block))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light">\n'
        f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(body)
        + f"\n<footer>Written by causal-workbench from session {html.escape(report.session_id)} at "
        f"{html.escape(report.generated_at)}. This file is self-contained: it loads nothing from a network.</footer>\n"
        f"</main>\n<script>{PRINT_SCRIPT}</script>\n</body>\n</html>\n"
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _inline(content: Inline) -> str:
    out = []
    for span in content:
        text = _e(span.text)
        if span.kind == "code":
            out.append(f"<code>{text}</code>")
        elif span.kind == "strong":
            out.append(f"<strong>{text}</strong>")
        elif span.kind == "em":
            out.append(f"<em>{text}</em>")
        elif span.kind == "status":
            css = STATUS_CLASS.get(span.text, "")
            out.append(f'<span class="badge {css}">{_e(span.text.replace("_", " "))}</span>')
        elif span.kind == "link":
            out.append(f'<a href="#{_e(span.target)}">{text}</a>')
        else:
            out.append(text)
    return "".join(out)


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        anchor = f' id="{_e(block.anchor)}"' if block.anchor else ""
        return f"<h{block.level}{anchor}>{_e(block.text)}</h{block.level}>"
    if isinstance(block, Para):
        return f"<p>{_inline(block.content)}</p>"
    if isinstance(block, Callout):
        return f'<div class="callout {_e(block.kind)}">{_inline(block.content)}</div>'
    if isinstance(block, Bullets):
        items = "<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block.items) + "</ul>"
        return f'<nav aria-label="Contents">{items}</nav>' if block.nav else items
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, KeyValues):
        items = "".join(f"<dt>{_e(k)}</dt><dd>{_inline(v)}</dd>" for k, v in block.pairs)
        return f'<dl class="kv">{items}</dl>'
    if isinstance(block, Code):
        return _code(block)
    if isinstance(block, Image):
        f = block.figure
        data = base64.b64encode(f.png).decode("ascii")
        return (
            f'<figure><img src="data:image/png;base64,{data}" alt="{_e(f.title)}" width="{f.width}" '
            f'height="{f.height}"><figcaption>{_e(f.caption)}</figcaption></figure>'
        )
    if isinstance(block, Details):
        anchor = f' id="{_e(block.anchor)}"' if block.anchor else ""
        inner = "\n".join(_block(b) for b in block.blocks)
        return f"<details{anchor}><summary>{_e(block.summary)}</summary>\n{inner}\n</details>"
    raise TypeError(f"unknown block {type(block).__name__}")


def _table(table: Table) -> str:
    numeric = set(table.numeric)
    head = "".join(
        f'<th{" class=num" if i in numeric else ""} scope="col">{_e(h)}</th>' for i, h in enumerate(table.headers)
    )
    rows = []
    for r, cells in enumerate(table.rows):
        row_id = f' id="{_e(table.row_ids[r])}"' if r < len(table.row_ids) and table.row_ids[r] else ""
        tds = "".join(f"<td{' class=num' if i in numeric else ''}>{_inline(c)}</td>" for i, c in enumerate(cells))
        rows.append(f"<tr{row_id}>{tds}</tr>")
    css = f' class="{_e(table.css)}"' if table.css else ""
    return f'<div class="table-wrap"><table{css}><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _code(block: Code) -> str:
    if block.lang != "diff":
        wrap = ' class="wrap"' if block.lang == "sh" else ""  # commands wrap on a phone; copying keeps one line
        return f'<pre{wrap}><code class="language-{_e(block.lang or "text")}">{_e(block.text)}</code></pre>'
    out = []
    for line in block.text.splitlines():
        css = ""
        if line.startswith("+") and not line.startswith("+++"):
            css = "add"
        elif line.startswith("-") and not line.startswith("---"):
            css = "del"
        elif line.startswith("@@"):
            css = "hunk"
        # A class'd span is display:block and ends its own line; a plain line needs its newline.
        out.append(f'<span class="{css}">{_e(line) or " "}</span>' if css else _e(line) + "\n")
    return f'<pre><code class="language-diff">{"".join(out)}</code></pre>'
