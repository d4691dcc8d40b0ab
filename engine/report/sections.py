"""The report's sections, in reading order, and the two pieces every section uses.

Shared by :mod:`engine.report.layout` and :mod:`engine.report.layout_design`, so a section's
title and anchor have one owner.
"""

from __future__ import annotations

from engine.report.blocks import Block, Heading, Image
from engine.report.content import Report

SECTIONS = (
    ("summary", "At a glance"),
    ("question", "The question and the contract"),
    ("estimate", "The final estimate"),
    ("credibility", "Credibility"),
    ("iterations", "Iterations"),
    ("costs", "Agent cost"),
    ("plots", "Plots"),
    ("design", "Design diagnostics"),
    ("batches", "Batches"),  # only when the session ran one
    ("code", "The final model"),
    ("reproducibility", "Reproducibility"),
    ("evaluation", "Appendix A: evaluation against the truth"),
    ("documents", "Appendix B: PROBLEM.md and PROGRAM.md"),
)


def section_heading(anchor: str) -> Heading:
    """The level-2 heading of a section, titled as :data:`SECTIONS` says.

    Parameters
    ----------
    anchor
        The section's anchor, one of :data:`SECTIONS`' first fields.

    Returns
    -------
    Heading
    """
    return Heading(2, dict(SECTIONS)[anchor], anchor)


def figure_blocks(report: Report, name: str, level: int = 3) -> list[Block]:
    """A figure under its own heading.

    Parameters
    ----------
    report
        The report whose figures are looked up.
    name
        The figure's name (its anchor is ``fig-<name>``).
    level
        The heading's level.

    Returns
    -------
    list of Block
        The heading and the image; empty when the report has no such figure.
    """
    figure = report.figure(name)
    if figure is None:
        return []
    return [Heading(level, figure.title, f"fig-{name}"), Image(figure)]
