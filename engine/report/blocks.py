"""A small document model: the report is laid out once as blocks, then written as HTML or
Markdown, so both formats always carry the same content in the same order."""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.report.content import Figure
from engine.showable import spelled_out


@dataclass(frozen=True)
class Span:
    """A run of inline text: ``text``, ``code``, ``strong``, ``em``, ``status`` (a verdict
    word shown as a badge), ``link`` (to an anchor in the same document)."""

    kind: str
    text: str
    target: str = ""  # anchor id, for links


Inline = tuple[Span, ...]


def t(text: str) -> Span:
    return Span("text", text)


def code(text: str) -> Span:
    return Span("code", text)


def strong(text: str) -> Span:
    return Span("strong", text)


def em(text: str) -> Span:
    return Span("em", text)


def status(word: str) -> Span:
    return Span("status", word)


def link(text: str, anchor: str) -> Span:
    return Span("link", text, anchor)


def inline(*parts: Span | str) -> Inline:
    """Spans from a mix of spans and plain strings.

    Parameters
    ----------
    *parts
        Spans, kept as they are, and strings, which become plain-text spans.

    Returns
    -------
    Inline
        A tuple of :class:`Span`.
    """
    return tuple(p if isinstance(p, Span) else t(p) for p in parts)


@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass(frozen=True)
class Para:
    content: Inline


@dataclass(frozen=True)
class Callout:
    """A boxed paragraph: ``info``, ``warn`` or ``loud`` (a conflict the reader must not miss)."""

    kind: str
    content: Inline


@dataclass(frozen=True)
class Bullets:
    items: tuple[Inline, ...]
    nav: bool = False  # the table of contents (HTML wraps it in <nav>)


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[Inline, ...], ...]
    numeric: tuple[int, ...] = ()  # column indexes to right-align
    css: str = ""
    row_ids: tuple[str, ...] = ()  # anchor per row (HTML only), empty for none


@dataclass(frozen=True)
class KeyValues:
    pairs: tuple[tuple[str, Inline], ...]
    headers: tuple[str, str] = ("", "")


@dataclass(frozen=True)
class Code:
    """Code as it ran; a control or direction character in it is spelled out, never obeyed by the reader's viewer."""

    text: str
    lang: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "text", spelled_out(self.text))


@dataclass(frozen=True)
class Image:
    figure: Figure


@dataclass(frozen=True)
class Details:
    """Collapsed content: HTML ``<details>``, which GitHub's Markdown renders too."""

    summary: str
    blocks: tuple[Block, ...] = field(default=())
    anchor: str = ""


Block = Heading | Para | Callout | Bullets | Table | KeyValues | Code | Image | Details
