"""What each session commit says, and who it says wrote it.

``git log`` alone must tell the story to someone without the app: the subject names the
iteration, its outcome and its hypothesis; the body holds the rationale, the decision and
who made it, the verdict and the numbers behind it. Trailers (``Workbench-Iteration``,
``Workbench-Loop``, ``Workbench-Status``) let scripts and the history screen filter
without parsing prose, e.g. ``git log --grep 'Workbench-Status: kept'``.

Authors follow aider: the agent that wrote the change is the author, unless the principal
edited the diff (then the principal is); the harness is always the committer.
"""

from __future__ import annotations

import textwrap

from git import Actor

from engine.iteration import IterationRecord
from engine.records import Decision, DecisionKind, Metrics, Verdict

SUBJECT_WIDTH = 72
BODY_WIDTH = 76
PRINCIPAL_FALLBACK = Actor("principal", "principal@workbench")
"""The principal's identity when git config has no user.name/user.email."""


def agent_actor(agent: str) -> Actor:
    """The git identity of an agent backend, e.g. ``heuristic agent <heuristic@agents.workbench>``.

    Parameters
    ----------
    agent
        The backend's name; the e-mail's local part keeps letters, digits, ``-``, ``_`` and ``.``
        of its lower-cased form (others become ``-``).

    Returns
    -------
    git.Actor
    """
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in agent.strip().lower()) or "unknown"
    return Actor(f"{agent} agent", f"{slug}@agents.workbench")


def iteration_author(record: IterationRecord, principal: Actor) -> Actor:
    """Who wrote the change that ran: the principal if they wrote or edited it, else the agent.

    Parameters
    ----------
    record
        The iteration.
    principal
        The principal's git identity.

    Returns
    -------
    git.Actor
    """
    if record.decision.edited or record.proposal.agent == "principal":
        return principal
    return agent_actor(record.proposal.agent)


def iteration_subject(record: IterationRecord) -> str:
    """``iter 3: kept — add quadratic terms of continuous controls`` (at most 72 characters).

    Parameters
    ----------
    record
        The iteration; the hypothesis's whitespace is collapsed and it is cut with an ellipsis
        to fit.

    Returns
    -------
    str
    """
    head = f"iter {record.number}: {record.status} — "
    return head + _shorten(_headline(record.proposal.hypothesis), SUBJECT_WIDTH - len(head))


def iteration_message(record: IterationRecord) -> str:
    """Subject, a body with every number a reviewer needs, and trailers.

    Parameters
    ----------
    record
        The iteration.

    Returns
    -------
    str
        The whole commit message: the subject, fields wrapped at 76 columns (hypothesis,
        rationale, agent, guard findings, compile, decision, verdict and its numbers, timings,
        seeds, data hash), then the ``Workbench-Iteration``, ``Workbench-Loop`` and
        ``Workbench-Status`` trailers; it ends with a newline.
    """
    p = record.proposal
    lines = [iteration_subject(record), ""]
    lines += _field("Hypothesis", p.hypothesis)
    lines += _field("Rationale", p.rationale)
    agent = p.agent + (f" (move {p.move})" if p.move else "")
    lines += _field("Agent", f"{agent}; edits {p.file}")
    lines += _findings(record)
    if record.compile is not None:
        c = record.compile
        if c.ok:
            free = f", {c.n_free} free parameters" if c.n_free is not None else ""
            lines += _field("Compile", f"ok in {c.seconds:.1f} s{free}")
        else:
            lines += _field("Compile", f"failed in {c.seconds:.1f} s: {c.error or 'unknown error'}")
    lines += _field("Decision", _decision(record.decision))
    if record.verdict is not None:
        lines += _verdict(record.verdict)
    if record.timings:
        lines += _field("Timings", ", ".join(f"{k} {v:.1f} s" for k, v in record.timings.items()))
    if record.seeds:
        lines += _field("Seeds", ", ".join(f"{k} {v}" for k, v in record.seeds.items()))
    if record.data_hash:
        lines += _field("Data", f"sha256:{record.data_hash[:16]}")
    lines += [
        "",
        f"Workbench-Iteration: {record.number}",
        f"Workbench-Loop: {p.loop.value}",
        f"Workbench-Status: {record.status}",
    ]
    return "\n".join(lines) + "\n"


def start_message(problem_name: str, shown_path: str, question: str, data_hash: str, files: list[str]) -> str:
    """The message of a session's first commit.

    Parameters
    ----------
    problem_name
        The problem's name.
    shown_path
        The problem folder as shown to the user.
    question
        The causal question.
    data_hash
        The SHA-256 of the data file.
    files
        The files the session starts with.

    Returns
    -------
    str
        Subject, ``Question``, ``Files`` and ``Data`` fields, and ``Workbench-Status: start``.
    """
    lines = [f"session: start {problem_name} from {shown_path}", ""]
    lines += _field("Question", question)
    lines += _field("Files", ", ".join(files))
    lines += _field("Data", f"sha256:{data_hash}")
    lines += ["", "Workbench-Status: start"]
    return "\n".join(lines) + "\n"


def edit_message(filename: str, message: str) -> str:
    """A principal's save: ``edit PROGRAM.md: <their words>``.

    Parameters
    ----------
    filename
        The file the principal saved.
    message
        Their words: the first line joins the subject, the rest becomes the body.

    Returns
    -------
    str
        The commit message, ending with the ``Workbench-Status: edit`` trailer.
    """
    message = message.strip()
    subject, _, body = message.partition("\n")
    text = f"edit {filename}: {subject}" if subject else f"edit {filename}"
    if body.strip():
        text += "\n\n" + body.strip()
    return text + "\n\nWorkbench-Status: edit\n"


# --------------------------------------------------------------------------- pieces


def _headline(text: str) -> str:
    first = " ".join(text.split()).rstrip(".")
    if len(first) > 1 and first[0].isupper() and first[1].islower():
        first = first[0].lower() + first[1:]  # "Add quadratic…" reads as "add quadratic…"
    return first or "(no hypothesis)"


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 1)].rstrip() + "…"


def _field(label: str, value: str) -> list[str]:
    value = " ".join(str(value).split())
    if not value:
        return []
    return textwrap.wrap(
        f"{label}: {value}", BODY_WIDTH, subsequent_indent="  ", break_on_hyphens=False, break_long_words=False
    )


def _findings(record: IterationRecord) -> list[str]:
    if not record.findings:
        return _field("Guard", "clean")
    blockers = sum(1 for f in record.findings if f.is_blocker)
    lines = _field("Guard", f"{blockers} blocker(s), {len(record.findings) - blockers} warning(s)")
    for finding in record.findings:
        lines += textwrap.wrap(str(finding), BODY_WIDTH, initial_indent="  - ", subsequent_indent="    ")
    return lines


def _decision(d: Decision) -> str:
    verb = {DecisionKind.APPROVED: "approved", DecisionKind.REJECTED: "rejected", DecisionKind.SKIPPED: "skipped"}[
        d.kind
    ]
    text = f"{verb} by {d.decider}"
    if d.edited:
        text += ", after the principal edited the diff"
    if d.override:
        text += f"; blocker overridden: {d.override}"
    if d.reason:
        text += f" — {d.reason}"
    return text


def _verdict(v: Verdict) -> list[str]:
    m: Metrics = v.metrics
    lines = _field("Verdict", f"{v.kind.value} — {v.reason}")
    if m.elpd is not None:
        extra = []
        if m.p_loo is not None:
            extra.append(f"p_loo {m.p_loo:.1f}")
        if m.pareto_k_bad is not None:
            extra.append(f"Pareto k > 0.7: {m.pareto_k_bad}")
        if m.pareto_k_max is not None:
            extra.append(f"max k {m.pareto_k_max:.2f}")
        tail = f" ({'; '.join(extra)})" if extra else ""
        lines += _field("ELPD", f"{m.elpd:.1f} ± {_f(m.elpd_se, '.1f')}{tail}")
    if m.delta_elpd is not None:
        lines += _field("ΔELPD vs best", f"{m.delta_elpd:+.1f} ± {_f(m.delta_se, '.1f')}")
    if m.effect is not None:
        e = m.effect
        lines += _field(
            e.estimand,
            f"{e.mean:.3f} [{e.hdi_low:.3f}, {e.hdi_high:.3f}] {e.interval_name}, width {e.width:.3f}, sd {e.sd:.3f}",
        )
    conv = []
    if m.rhat_max is not None:
        conv.append(f"R-hat max {m.rhat_max:.3f}")
    if m.ess_bulk_min is not None or m.ess_tail_min is not None:
        conv.append(f"ESS bulk {_f(m.ess_bulk_min, '.0f')} / tail {_f(m.ess_tail_min, '.0f')}")
    if m.divergences is not None:
        rate = f" ({m.divergence_rate:.2%})" if m.divergence_rate is not None else ""
        conv.append(f"divergences {m.divergences}{rate}")
    if m.n_draws is not None:
        conv.append(f"{m.n_draws} draws")
    if conv:
        lines += _field("Convergence", ", ".join(conv))
    failed = [g for g in v.gates if not g.passed]
    if failed:
        lines += _field("Failed gates", "; ".join(g.describe() for g in failed))
    return lines


def _f(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)
