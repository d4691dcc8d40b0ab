"""The report's Batches section, on a session holding one real batch (``fixtures.batch_data``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fixtures.batch_data import batch_session, stored_batch  # noqa: F401 - a fixture

from engine.report import build_report, write_report
from engine.report import text as fmt


@pytest.fixture(scope="module")
def written(batch_session: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("batch-report")
    write_report(batch_session, out)
    return out


def test_the_report_has_a_batches_section_with_every_task(batch_session: Path, written: Path) -> None:
    batch = stored_batch(batch_session)
    plan = batch.plan
    markdown = (written / "report.md").read_text()
    assert "- [Batches](#batches)" in markdown  # in the table of contents, since the session has a batch
    section = markdown[markdown.index("## Batches") : markdown.index("## The final model")]
    assert f"### Batch {plan.id}" in section
    assert f"**Ran:** {plan.source_from}" in section
    assert f"**Population:** {plan.populations[0].rule}" in section
    assert f"**Recorded:** {len(plan.tasks)} of {len(plan.tasks)} tasks" in section
    for task in plan.tasks:
        e = batch.results[task.key].effect
        mean, low, high = fmt.effect_numbers(e)
        row = f"| `{task.key}` | {e.estimand} | {mean} | [{low}, {high}] {e.interval_name} | {task.n_units:,} |"
        assert row in section


def test_the_batch_figure_is_written_and_embedded(batch_session: Path, written: Path) -> None:
    plan = stored_batch(batch_session).plan
    figure = written / "figures" / f"batch-{plan.id}.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"](figures/batch-{plan.id}.png)" in (written / "report.md").read_text()
    html = (written / "report.html").read_text()
    start = html.index('id="batches"')
    assert "data:image/png;base64," in html[start : html.index('id="code"', start)]


def test_a_batch_with_a_partition_and_a_setting_draws_one_line_per_setting(batch_session: Path) -> None:
    from dataclasses import replace

    from engine.batch.series import EffectPoint, EffectSeries
    from engine.report.content import BatchView
    from engine.report.figures import _batch_effect

    view = build_report(batch_session).batches[0]
    (series,) = view.series
    # The same points as two settings' lines, the second hollow: the figure must draw both groups.
    hollow = tuple(EffectPoint(p.label, p.key, p.mean + 0.01, p.low, p.high, False) for p in series.points)
    both = BatchView(view.batch, (replace(series, group="trim=0"), replace(series, group="trim=0.05", points=hollow)))
    figure = _batch_effect(both)
    assert figure is not None and figure.png[:4] == b"\x89PNG" and figure.name == view.figure_name
    assert isinstance(series, EffectSeries) and "One line per value of the varied setting" in figure.caption


def test_an_unfinished_batch_says_so_and_lists_the_task_not_recorded(batch_session: Path) -> None:
    from dataclasses import replace

    from engine.report.markdown import render_markdown

    report = build_report(batch_session, figures=False)
    view = report.batches[0]
    first = view.batch.plan.tasks[0]
    partial = replace(view.batch, results={k: r for k, r in view.batch.results.items() if k != first.key})
    markdown = render_markdown(replace(report, batches=(replace(view, batch=partial),)))
    assert f"| `{first.key}` | {first.estimand_label} | — | not recorded | {first.n_units:,} |" in markdown
    total = len(view.batch.plan.tasks)
    assert f"{total - 1} of {total} tasks (unfinished: run the same batch again to resume it)" in markdown
