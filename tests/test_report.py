"""The session report from a real session: every iteration, the recorded numbers, images,
no network references, the Markdown's figure files, the evaluation appendix only where a
truth exists, and the CLI.

The module's session is made once with the real loop (nutpie at 2 × 150 draws, the real
design run, the real git store): the baseline and one proposal under ``--approve ignore-guard``,
a proposal the principal rejects, one design iteration. It takes one to two minutes.
The gates of that IHDP copy are relaxed (R-hat < 1.1, ESS > 50) so that 300 draws can
keep a model; the keep rule is the same.
"""

from __future__ import annotations

import ast
import base64
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROBLEMS, ROOT

from engine.iteration import IterationRecord
from engine.records import Decision, DecisionKind, Loop, Proposal
from engine.report import build_report, render_html, render_markdown, write_report
from engine.report import text as fmt

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SMALL = {"chains": 2, "draws": 150, "tune": 150}
REJECTION = "too many parameters for 747 children; simplify first"


def _relaxed_copy(name: str, dest: Path) -> Path:
    """A copy of a shipped problem whose convergence gates 300 draws can pass."""
    folder = dest / name
    shutil.copytree(PROBLEMS / name, folder, ignore=shutil.ignore_patterns("__pycache__"))
    toml = folder / "problem.toml"
    text = re.sub(r"ess_bulk_min = \d+", "ess_bulk_min = 50", toml.read_text())
    text = re.sub(r"ess_tail_min = \d+", "ess_tail_min = 50", text)
    text = re.sub(r"rhat_max = [\d.]+", "rhat_max = 1.1", text)
    toml.write_text(text)
    return folder


@pytest.fixture(scope="module")
def report_session(tmp_path_factory) -> Path:
    """A real IHDP session: 2 model iterations (ignore-guard), 1 rejected by the principal, 1 design iteration."""
    from engine.headless import HeadlessRun
    from engine.launch import open_workbench
    from engine.loop import RunOptions

    root = tmp_path_factory.mktemp("report")
    problem = _relaxed_copy("ihdp", root)
    workbench = open_workbench(problem, sessions_root=root / "sessions", options=RunOptions(sampling_overrides=SMALL))
    with workbench.session:
        HeadlessRun(workbench, policy="ignore-guard", loop=Loop.MODEL).run(2)
        reviewed = workbench.propose(Loop.MODEL)
        workbench.execute(reviewed, Decision(DecisionKind.REJECTED, "principal", REJECTION))
        HeadlessRun(workbench, policy="ignore-guard", loop=Loop.DESIGN).run(1)
        path = workbench.session.path
    return path


@pytest.fixture(scope="module")
def records(report_session) -> list[IterationRecord]:
    from engine.store import Session

    with Session.open(report_session, readonly=True) as session:
        return session.iterations()


@pytest.fixture(scope="module")
def report(report_session):
    return build_report(report_session)


@pytest.fixture(scope="module")
def html(report) -> str:
    return render_html(report)


@pytest.fixture(scope="module")
def written(report_session, tmp_path_factory) -> list[Path]:
    return write_report(report_session, tmp_path_factory.mktemp("out"))


def _section(document: str, anchor: str, next_anchor: str) -> str:
    start = document.index(f'id="{anchor}"')
    return document[start : document.index(f'id="{next_anchor}"', start)]


# --------------------------------------------------------------------------- content


def test_the_session_has_what_the_report_must_show(records) -> None:
    statuses = [r.status for r in records]
    assert len(records) == 4
    assert [r.proposal.loop for r in records] == [Loop.MODEL] * 3 + [Loop.DESIGN]
    assert statuses[2] == "rejected"
    assert "kept" in statuses[:2], "the relaxed gates should let a 300-draw model be kept"
    assert records[3].design is not None and records[3].critique is not None


def test_every_iteration_is_in_the_report(report, records, html) -> None:
    assert [row.number for row in report.iterations] == [r.number for r in records]
    markdown = render_markdown(report)
    for r in records:
        assert f'id="iter-{r.number}"' in html and f'id="row-{r.number}"' in html
        assert f"[{r.number}](#iter-{r.number})" in markdown
        assert f"#{r.number} · " in markdown
    for row in report.iterations:
        assert row.commit and len(row.commit) == 40
        assert fmt.short(row.commit) in html


def test_numbers_equal_the_session_records(report, records, html) -> None:
    markdown = render_markdown(report)
    for row, record in zip(report.iterations, records):
        assert (row.hypothesis, row.decider, row.status) == (
            record.proposal.hypothesis,
            record.decision.decider,
            record.status,
        )
        assert row.seconds == record.timings.get("total")
        if record.proposal.loop is Loop.MODEL and record.verdict is not None:
            m = record.verdict.metrics
            assert (row.elpd, row.elpd_se, row.delta_elpd, row.delta_se) == (
                m.elpd,
                m.elpd_se,
                m.delta_elpd,
                m.delta_se,
            )
            assert (row.rhat_max, row.ess_bulk_min, row.divergences) == (m.rhat_max, m.ess_bulk_min, m.divergences)
            assert row.effect == m.effect
            for document in (html, markdown):
                assert fmt.effect_text(m.effect) in document
                assert fmt.pm(m.elpd, m.elpd_se) in document
                assert fmt.num(m.rhat_max, ".3f") in document
    rejected = report.iterations[2]
    assert rejected.reason == REJECTION and rejected.decider == "principal"
    assert REJECTION in html and REJECTION in markdown


def test_the_final_estimate_is_the_kept_model_beside_the_design_run(report, records, html) -> None:
    kept = [r for r in records if r.proposal.loop is Loop.MODEL and r.status == "kept"][-1]
    design = records[3].design
    final = report.final
    assert final.bayes == kept.verdict.metrics.effect and final.bayes_iteration == kept.number
    assert final.dr == design.estimate and final.dr_iteration == 4
    section = _section(html, "estimate", "credibility")
    assert fmt.effect_numbers(final.bayes)[0] in section
    assert fmt.effect_numbers(final.dr.as_effect())[0] in section
    assert "Bayesian model" in section and "Doubly robust" in section and final.dr.estimand in section


def test_the_critic_and_design_tables_come_from_the_record(report, records, html) -> None:
    critique = records[3].critique
    assert report.credibility.critique == critique and report.credibility.critique_recorded
    credibility = _section(html, "credibility", "iterations")
    assert f"Credibility {critique.credibility}" in credibility
    assert critique.estimand_note.split(".")[0] in credibility.replace("&#x27;", "'")
    design = _section(html, "design", "code")
    for refuter in report.design.result.refuters:
        assert refuter.title in design
    for diagnostic in report.design.result.diagnostics():
        assert f"<td>{diagnostic.name}</td>" in design


def test_the_model_critics_review_of_the_final_model_is_shown(report, records, html) -> None:
    focus = next(r for r in records if r.number == report.focus_iteration)
    review = focus.model_review  # recorded by the loop with the verdict
    assert review is not None and report.credibility.model_review == review
    credibility = _section(html, "credibility", "iterations")
    assert f"The model critic: {review.credibility} credibility." in credibility


def test_the_final_model_and_its_diff_from_the_baseline(report, report_session) -> None:
    from engine.store import Session

    with Session.open(report_session, readonly=True) as session:
        assert report.code.final_model == session.best_source(Loop.MODEL)
    assert report.code.baseline_model == (PROBLEMS / "ihdp" / "model.py").read_text()
    assert report.code.model_diff.startswith("--- a/model.py")
    assert report.code.final_analysis is not None


def test_reproducibility_names_commits_seeds_versions_and_commands(report, report_session, html) -> None:
    r = report.reproducibility
    assert r.best_commit == report.iterations[report.final.bayes_iteration - 1].commit
    assert r.seeds == {"sampling": 20261122} and r.draws == 300
    assert r.data_hash == r.data_hash_now
    texts = [c.text for c in r.commands]
    assert any("show best:model.py > model.py && workbench check" in t for t in texts)
    assert any(
        t.startswith(f"workbench run --resume {report_session}") and "--chains 2 --draws 150" in t for t in texts
    )
    for version in r.versions.values():
        assert version in html


# --------------------------------------------------------------------------- images and self-containment


def test_images_are_real_pngs_embedded_in_the_html(report, html) -> None:
    from PIL import Image

    names = {f.name for f in report.figures}
    assert {
        "elpd_trajectory",
        "effect_forest",
        "effect_trace_rank",
        "pareto_k",
        "love_plot",
        "overlap",
        "trimming",
        "evaluation",
    } <= names
    embedded = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(embedded) == len(report.figures)
    for data in embedded:
        png = base64.b64decode(data)
        assert png.startswith(PNG_MAGIC)
        with Image.open(io.BytesIO(png)) as image:
            image.load()
            assert image.width > 300 and image.height > 150


def test_a_session_without_batches_has_no_batches_section(report, html) -> None:
    # The Batches section and its entry in the contents appear only when the session ran a batch
    # (tests/test_report_batch.py reports on one that did).
    assert report.batches == ()
    assert 'id="batches"' not in html and 'href="#batches"' not in html


def test_the_html_has_no_network_references(html) -> None:
    assert not re.search(r"""(?:src|href|action|poster|data)\s*=\s*["']?\s*(?:https?:)?//""", html, flags=re.I)
    assert not re.search(r"""url\(\s*["']?(?:https?:)?//""", html, flags=re.I)
    assert "@import" not in html and "<link" not in html.lower() and "<iframe" not in html.lower()
    assert not re.search(r"<script[^>]+src=", html, flags=re.I)


def test_the_html_is_readable_on_a_phone_and_printable(html) -> None:
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "@media (max-width:" in html and "@media print" in html
    assert ".table-wrap { overflow-x: auto;" in html
    assert html.count('<div class="table-wrap">') == html.count("<table")


def test_the_markdown_references_figure_files_that_exist(written) -> None:
    from PIL import Image

    markdown = next(p for p in written if p.suffix == ".md")
    html_file = next(p for p in written if p.suffix == ".html")
    assert written[:2] == [html_file, markdown]
    text = markdown.read_text()
    targets = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert targets and all(t.startswith("figures/") for t in targets)
    for target in targets:
        path = markdown.parent / target
        assert path.is_file() and path in written
        with Image.open(path) as image:
            assert image.format == "PNG"
    assert "data:image" not in text  # code-hosting sites do not show data URIs
    assert re.search(r"^\|---\|", text, flags=re.M), "GitHub pipe tables"


# --------------------------------------------------------------------------- evaluation


def test_the_evaluation_appendix_scores_estimates_against_the_truth(report, html) -> None:
    from engine.evaluation import load_truth

    truth = load_truth(PROBLEMS / "ihdp")
    assert report.evaluation is not None and report.evaluation.truth == truth.values
    rows = {row.label: row for row in report.evaluation.rows}
    sampled = [r for r in report.iterations if r.effect is not None]
    assert len(rows) == len(sampled)
    for row in report.evaluation.rows:
        if row.truth is not None:
            assert row.truth == truth.for_estimand(row.estimand)
            assert row.error == pytest.approx(row.estimate - row.truth)
            assert row.covered == (row.low <= row.truth <= row.high)
    appendix = _section(html, "evaluation", "documents")
    assert "Evaluation only" in appendix and "never shown to an agent" in appendix
    before = html[: html.index('id="evaluation"')]
    assert "truth.json" not in before


HOSTILE = "Add age² | education <script>alert(1)</script> *not* `code`"


def test_a_real_analysis_has_no_evaluation_appendix(tmp_path) -> None:
    from engine.problem_load import load_problem
    from engine.store import Session

    problem = load_problem(PROBLEMS / "lalonde")
    assert not problem.has_truth
    with Session.create(problem, tmp_path / "sessions") as session:
        source = session.current_source(Loop.MODEL)
        proposal = Proposal(Loop.MODEL, HOSTILE, "Earnings peak mid-career.", source, source, "principal")
        record = IterationRecord(
            number=1,
            proposal=proposal,
            findings=(),
            compile=None,
            decision=Decision(DecisionKind.SKIPPED, "principal", "looking at the data first"),
            verdict=None,
        )
        session.record_iteration(record, candidate_source=source)
        path = session.path
    report = build_report(path)
    page = render_html(report)
    assert report.evaluation is None and "no ground truth" in report.evaluation_note
    assert "Unavailable." in _section(page, "evaluation", "documents")
    assert report.figures == () and "<img" not in page
    assert report.final.bayes is None and report.final.dr is None
    markdown = render_markdown(report)
    assert "looking at the data first" in page and "looking at the data first" in markdown
    # Text from records is escaped: no markup gets in, and a pipe does not split a table cell.
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in markdown
    table = markdown[markdown.index("| # | loop |") :].splitlines()
    assert table[2].count(" | ") == table[0].count(" | ")
    assert "Add age² \\| education" in table[2]


def test_truth_is_read_from_the_problem_folder_and_checked(tmp_path) -> None:
    from engine.errors import ProblemError
    from engine.evaluation import load_truth, score

    assert load_truth(PROBLEMS / "lalonde") is None
    truth = load_truth(PROBLEMS / "retention_email")
    assert set(truth.values) == {"ATE", "ATT", "ATC"} and truth.n_units == 5000
    assert truth.for_estimand("ato") is None and truth.for_estimand("att") == truth.values["ATT"]
    assert score("dr #2", "ATO", 0.05, 0.04, 0.06, "95% CI", truth).error is None
    (tmp_path / "truth.json").write_text('{"ate": "four"}')
    with pytest.raises(ProblemError, match="'ate' must be a finite number"):
        load_truth(tmp_path)
    (tmp_path / "truth.json").write_text("{not json")
    with pytest.raises(ProblemError, match="not valid JSON"):
        load_truth(tmp_path)


def test_agents_and_the_loop_never_import_the_evaluation() -> None:
    agent_path = [
        ROOT / "engine" / "agents",
        *(ROOT / "engine" / f for f in ("loop.py", "harness.py", "headless.py", "launch.py", "model_run.py")),
        *(ROOT / "engine" / "batch" / f for f in ("plan.py", "population.py", "task.py", "run.py", "cluster.py")),
    ]
    files = [p for entry in agent_path for p in ([entry] if entry.is_file() else sorted(entry.rglob("*.py")))]
    offenders = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            if any(n.startswith(("engine.evaluation", "engine.report")) for n in names):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
    code = (
        "import pkgutil, importlib, sys, engine.agents\n"
        "for m in pkgutil.walk_packages(engine.agents.__path__, 'engine.agents.'): importlib.import_module(m.name)\n"
        "import engine.loop, engine.harness, engine.headless, engine.launch, engine.model_run\n"
        "import engine.batch.plan, engine.batch.population, engine.batch.task, engine.batch.run\n"
        "bad = [m for m in sys.modules if m.startswith(('engine.evaluation', 'engine.report'))]\n"
        "print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


# --------------------------------------------------------------------------- writing and the CLI


def test_the_default_folder_stays_out_of_the_session_history(report_session) -> None:
    from engine.store import Session

    written = write_report(report_session, formats=("html",))
    assert written == [report_session / "report" / "report.html"]
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=report_session, capture_output=True, text=True
    )
    assert status.stdout == ""
    with Session.open(report_session) as session:  # a writable open cleans up unfinished writes
        assert session.recovered == ()
    assert (report_session / "report" / "report.html").is_file()


def test_an_old_session_without_the_ignore_line_gets_a_local_exclude(report_session, tmp_path) -> None:
    from engine.report.write import exclude_from_git

    copy = tmp_path / "old-session"
    shutil.copytree(report_session, copy, symlinks=True)
    (copy / ".gitignore").write_text("/artifacts/\n/.workbench/\n")
    exclude_from_git(copy, "report")
    exclude_from_git(copy, "report")
    assert (copy / ".git" / "info" / "exclude").read_text().count("/report/") == 1
    (copy / "report").mkdir(exist_ok=True)
    (copy / "report" / "x.html").write_text("x")
    status = subprocess.run(["git", "status", "--porcelain", "--", "report"], cwd=copy, capture_output=True, text=True)
    assert status.stdout == ""


def test_the_cli_writes_where_it_says(report_session, tmp_path, capsys) -> None:
    from workbench.cli import main

    out = tmp_path / "cli"
    assert (
        main(
            [
                "report",
                report_session.name,
                "--format",
                "md",
                "--out",
                str(out),
                "--sessions-root",
                str(report_session.parent),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].endswith("report.md") and Path(printed[0]).resolve() == (out / "report.md").resolve()
    assert "figures" in printed[1]
    assert not (out / "report.html").exists() and (out / "figures").is_dir()
    assert main(["report", "no-such-session", "--sessions-root", str(report_session.parent)]) == 2
    assert "no session" in capsys.readouterr().err


def test_an_unknown_format_is_refused(report_session, tmp_path) -> None:
    from engine.errors import WorkbenchError

    with pytest.raises(WorkbenchError, match="unknown report format pdf"):
        write_report(report_session, tmp_path, formats=("pdf",))


def test_records_say_how_agent_code_was_isolated(records) -> None:
    from engine.iteration import SANDBOX_INNER, SANDBOX_NAMESPACES
    from engine.sandbox import isolation_report

    expected = SANDBOX_NAMESPACES if isolation_report().namespaces else SANDBOX_INNER
    assert {r.sandbox for r in records} == {expected}


def test_iterations_run_without_namespaces_get_a_note(report_session, tmp_path) -> None:
    import json
    import shutil
    import subprocess

    from engine.iteration import SANDBOX_INNER

    copy = tmp_path / "session"
    shutil.copytree(report_session, copy)
    record_path = copy / "iterations" / "0002" / "record.json"
    data = json.loads(record_path.read_text())
    data["sandbox"] = SANDBOX_INNER
    record_path.write_text(json.dumps(data))
    git = ["git", "-C", str(copy), "-c", "core.hooksPath=/dev/null", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "commit", "-q", "-am", "as if iteration 2 ran without bubblewrap"], check=True)
    notes = build_report(copy, figures=False).notes
    assert any("Iterations 2 ran agent-written code without the namespace sandbox" in n for n in notes)
    assert not any("without the namespace sandbox" in n for n in build_report(report_session, figures=False).notes)


def test_the_report_reads_a_sessions_tie_break_as_a_rule_not_a_number() -> None:
    """A session run under ``tie_break = "simpler"`` once crashed the report (it read every gate as a float)."""
    from types import SimpleNamespace

    from engine.problem import TieBreak
    from engine.report.build import _contract

    text = (ROOT / "problems" / "ihdp" / "problem.toml").read_text(encoding="utf-8")
    text = (
        text.replace("[gates]", '[gates]\ntie_break = "simpler"')
        if "[gates]" in text
        else text + '\n[gates]\ntie_break = "simpler"\n'
    )
    session = SimpleNamespace(id="ihdp-test", read_file=lambda name: text)
    _header, _contract_read, gates = _contract(session)
    assert gates.tie_break is TieBreak.SIMPLER


def test_a_design_answer_carries_the_population_its_run_saved(report_session, records) -> None:
    """The sandboxed design run leaves its target weights beside the history; the battery scores by them."""
    from engine.batch.battery import answers
    from engine.design.support import POPULATION_FILE
    from engine.store import Session

    design = [r for r in records if r.proposal.loop is Loop.DESIGN]
    with Session.open(report_session, readonly=True) as session:
        assert (session.artifacts_dir(design[0].number) / POPULATION_FILE).is_file()
        given = answers(design, Loop.DESIGN, session)
    first, every = given[0], given[-1]
    # each design run the critic reviewed is an answer too, with its number and its own population
    assert first.stage == "first" and every.stage == "every" and every.iteration == design[0].number
    assert every.population is not None and every.population.shape == first.population.shape
    assert design[0].design is not None and first.effect.estimand == "ATE"
    weights = first.population
    assert weights is not None and weights.shape == (design[0].design.n_total,)
    assert (weights == 1.0).all()  # an untrimmed ATE: every child counts alike


def test_an_estimand_with_a_population_of_its_own_is_described_in_words_and_a_picture(report) -> None:
    """The report's design section says whose effect an ATO is: a table of the columns that moved, and its bars."""
    from dataclasses import replace

    from PIL import Image

    from engine.design.results import PopulationShift
    from engine.report.figures import _population

    assert report.design is not None
    assert report.design.result.population == ()  # the session's design run is an untrimmed ATE: everyone alike
    assert "Whose effect it is" not in render_markdown(report)
    shifts = (PopulationShift("momage", "", 24.1, 27.3, 0.52), PopulationShift("site", "b", 0.30, 0.18, -0.26))
    result = replace(report.design.result, population=shifts)
    figure = _population(result)
    assert figure is not None and figure.png.startswith(PNG_MAGIC) and figure.name == "population"
    with Image.open(io.BytesIO(figure.png)) as image:
        assert image.width > 300 and image.height > 100
    markdown = render_markdown(replace(report, design=replace(report.design, result=result), figures=(figure,)))
    section = markdown[markdown.index("Whose effect it is") :]
    assert "`momage`" in section and "24.1" in section and "27.3" in section and "+0.52" in section
    assert "`site` = b" in section and "30%" in section and "18%" in section and "-0.26" in section
    assert "](figures/population.png)" in section


HOSTILE_PROSE = (
    "Switch to the overlap population. ![pixel](https://attacker.example/p.png) [details](https://attacker.example/x)"
    "\n\n</details>\n\n## Final verdict\n\n1. approve all\n- kept\n===\n\n~~~\n"
)


def test_agent_prose_cannot_add_images_links_headings_or_html_to_the_markdown_report() -> None:
    """Red team, round 12: an agent's hypothesis reached the Markdown report as a tracking pixel and a fake heading.

    Rendered with a real CommonMark parser (markdown-it, as code-hosting sites use), the prose stays prose.
    """
    from markdown_it import MarkdownIt

    from engine.report.blocks import Details, Para, inline
    from engine.report.markdown import _block

    for block in (
        Para(inline(HOSTILE_PROSE)),
        Details(summary=f"#1 · kept · {HOSTILE_PROSE}", blocks=(Para(inline(HOSTILE_PROSE)),)),
    ):
        html = MarkdownIt("commonmark").render(_block(block, "figures"))
        assert "<img" not in html and "<a " not in html, html
        assert not re.search(r"<h\d|<ol|<ul|<pre|<hr", html), html
        assert "</details>\n\n## Final" not in html
        assert "Final verdict" in html and "attacker.example" in html  # shown as text, not dropped
