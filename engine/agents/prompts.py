"""Prompt texts for the Claude agent (:mod:`engine.agents.anthropic`); its tools are in :mod:`engine.agents.tools`.

Three roles, three system prompts:

- the **orchestrator** reads the whole :class:`~engine.agents.base.AgentContext` (contract,
  agent-visible PROBLEM.md, PROGRAM.md, the current best file and its metrics, the recent
  history as a table with verdicts and the reviewer's words) and picks one hypothesis;
- the **coder** starts from a fresh context — only the hypothesis, the contract, the data's
  column names, the current file and the rules the guard and compile check enforce — and
  writes the whole new file through a tool;
- the **critic** reviews the latest verdict.

The model-contract rules are built from the guard's own tables
(:mod:`engine.guard.tables`) and the spec schema (:mod:`engine.design.spec`), so a prompt
cannot drift from what the guard blocks. Everything here is built from the context only:
``truth.json`` is never read, and PROBLEM.md arrives already stripped of its reviewer-only
sections.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.agents.base import AgentContext, DataSummary
from engine.agents.tools import Plan
from engine.iteration import IterationRecord
from engine.problem import Contract, Gates, OutcomeType
from engine.records import CompileResult, Loop, Metrics, Proposal, blocker_codes

HISTORY_ROWS = 15
"""How many recent iterations the orchestrator sees as table rows (older ones are counted)."""
CELL_CHARS = 110  # a table cell is clipped to this many characters
REASON_CHARS = 300  # a reviewer's reason is clipped to this many characters
ERROR_CHARS = 1000
"""A failed check's error line, clipped: model code writes its own messages (a raise can carry data rows)."""

# --------------------------------------------------------------------------- system prompts

ORCHESTRATOR_SYSTEM = """\
You are the research lead of a causal-inference workbench. A human principal supervises you.
You propose ONE change per iteration to one file; a fixed harness measures it; the principal
approves or rejects it; every iteration is recorded.

- model loop: the file is model.py, a PyMC model of the expected outcome mu. The harness
  samples it with nutpie, applies convergence gates, scores it by PSIS-LOO ELPD, and computes
  the causal effect itself by intervention on the treatment container t. The effect is never
  the score: do not steer towards an effect size you expect.
- design loop: the file is analysis.toml, a doubly-robust design-based analysis. It is judged
  by design diagnostics (balance, overlap, placebo outcomes, refuters) and a critic.

How to choose:
- Follow PROGRAM.md: its objective, keep rule and search heuristic.
- Read the history. Never repeat an idea that was rejected, discarded, failed a gate or
  crashed unless you change what made it fail, and say what you changed. A reviewer's
  reason is an instruction from the principal: respect it.
- One idea per iteration, so its effect can be attributed. Build complexity gradually.
- After a failed gate, simplify (fewer parameters, tighter priors, non-centred hierarchies)
  before adding anything new. After a crash, read the reason and avoid its cause.
- Use only the allowed controls. Forbidden columns (mediators, post-treatment, leakage,
  oracle) never appear in any file, not even in a string.

Answer only by calling the plan_next_step tool."""

CODER_SYSTEM_MODEL = """\
You write model.py files for a Bayesian causal-inference harness (PyMC 5, nutpie sampler).
You receive a hypothesis, instructions, the causal contract, the data's column names and the
current model.py. Write the complete new model.py that implements the hypothesis, changing
only what the instructions ask for. Keep the file short, vectorised and well commented;
start it with a docstring of one or two sentences that says what the model is.

{rules}

Answer only by calling the submit_model tool with the whole file."""

CODER_SYSTEM_DESIGN = """\
You write analysis.toml files for a design-based causal analysis (EconML doubly-robust
learners with cross-fitting, propensity diagnostics, refuters). You receive a hypothesis,
instructions, the causal contract and the current analysis.toml. Write the complete new
analysis.toml that implements the hypothesis, changing only what the instructions ask for,
and keep a short comment on each line as the current file does.

{rules}

Answer only by calling the submit_analysis tool with the whole file."""

CRITIC_SYSTEM = """\
You are the critic of a causal-inference workbench. After each verdict you write a short,
structured review for the principal, who must decide how much to trust the estimate:
credibility (high / medium / low) with the diagnostics behind it; what the estimate measures
and how it differs from the estimand the contract asks for (trimming turns an ATE into an
overlap effect, ATO); blind spots (confounders the plan does not mention, misfit, measurement,
selection); and at least one alternative measurement or modelling strategy. If a Bayesian and
a doubly-robust estimate are both given and their intervals barely overlap, say so loudly.
Be concrete and brief; cite numbers from the record. You never know the true effect.

Answer only by calling the submit_critique tool."""


REVIEWER_SYSTEM = """\
You are the reviewer of a causal-inference workbench. An agent proposed a change to a file;
the guard and the compile check have run. Before the principal decides, read the proposal
against the causal contract, PROBLEM.md and PROGRAM.md and say: does the file still answer the
contract's estimand for its population (trimming, filtering or reweighting can drift it); is any
column used against its stated role (forbidden, pre-treatment only, or a row filter on a
post-treatment variable); does the code implement the stated hypothesis, or something else; and
how likely the change fits noise. Advise approve, approve with care, or do not approve. Be concrete
and brief; quote the lines you mean. You never know the true effect.

Answer only by calling the submit_proposal_review tool."""


# --------------------------------------------------------------------------- rules from the guard


KNOWLEDGE_DIR = Path(__file__).parent / "knowledge"
GUIDE_FILE = "pymc_modelling.md"


def modelling_guide(notes: str = "") -> str:
    """The coder's modelling knowledge: the shipped PyMC/nutpie guide, then the problem's own notes.

    Parameters
    ----------
    notes
        The problem folder's ``MODELLING.md`` (empty when it has none).

    Returns
    -------
    str
        Markdown for the coder's system prompt.
    """
    guide = (KNOWLEDGE_DIR / GUIDE_FILE).read_text(encoding="utf-8").strip()
    if notes.strip():
        guide += "\n\n# This problem's own modelling notes (MODELLING.md)\n\n" + notes.strip()
    return guide


def model_rules(contract: Contract, gates: Gates) -> str:
    """The model contract and the guard's rules, as the coder must follow them.

    Built from :mod:`engine.guard.tables`, so what the prompt forbids is what the guard blocks.

    Parameters
    ----------
    contract
        The causal contract: outcome type, estimand, forbidden columns.
    gates
        The convergence gates and keep rule to state.

    Returns
    -------
    str
        The text that fills ``{rules}`` in :data:`CODER_SYSTEM_MODEL`.
    """
    from engine.guard import tables as T

    harness = sorted(
        name.removeprefix("pymc.")
        for name, (code, _) in T.REFERENCE_RISKS.items()
        if code == "harness-overreach" and name.startswith("pymc.")
    )
    obsolete = "; ".join(
        f"{name.replace('pymc.', 'pm.')} → {fix}"
        for name, fix in T.OBSOLETE_ATTRIBUTES.items()
        if name in ("pymc.MutableData", "pymc.ConstantData", "pymc.Bound")
    )
    keywords = ", ".join(f"{old}= → {new}" for old, new in T.OBSOLETE_KEYWORDS.items())
    likelihood = {
        OutcomeType.BINARY: "For this binary outcome mu is a probability in (0, 1) (e.g. pm.math.invlogit of a linear\n"
        '  predictor) and the likelihood is pm.Bernoulli("y", p=mu, observed=data.y, dims="obs")',
        OutcomeType.COUNT: "For this count outcome mu is the expected count (pm.math.exp of a linear predictor) and the\n"
        '  likelihood is e.g. pm.NegativeBinomial("y", mu=mu, alpha=phi, observed=data.y, dims="obs")\n'
        "  (Poisson when there is no overdispersion; y stays whole numbers)",
        OutcomeType.CONTINUOUS: "For this continuous outcome the likelihood is e.g.\n"
        '  pm.Normal("y", mu=mu, sigma=sigma, observed=data.y, dims="obs") (Student-t, per-arm sigma\n'
        "  and so on are fine; y stays on its original scale)",
    }[contract.outcome_type]
    forbidden = ", ".join(f"{f.name} ({f.reason.value})" for f in contract.forbidden)
    forbidden_rule = (
        f"- Never name a forbidden column anywhere in code, not even in a string: {forbidden}.\n" if forbidden else ""
    )
    return f"""\
The model contract (the harness relies on it; the compile check enforces it):
- Define build_model(data) and return a pm.Model. Do all the work inside it.
- Register the treatment as a data container: t = pm.Data("t", data.t, dims="obs"), and build
  mu from that t (never from data.t directly), so the harness can set t to all ones and all
  zeros and compute the {contract.estimand.value} from the change in mu.
- Define the expected outcome as mu = pm.Deterministic("mu", ..., dims="obs"), one value per
  unit, depending on t. {likelihood}.
- Exactly one observed variable, named "y", observed=data.y. No discrete parameters.
- Use coords {{"obs": np.arange(data.n), ...}} and dims, as the current file does.

What `data` holds (only the allowed controls ever reach the model):
- data.X: pandas DataFrame of the design matrix (continuous controls standardised to mean 0
  and SD 1, binary 0/1, categorical one-hot with the first level dropped); data.X.columns
  are the names listed below.
- data.t (0/1 numpy array), data.y (numpy array, original scale), data.n (number of units).
- data.continuous, data.binary: tuples of column names of data.X.
- data.X_continuous, data.X_binary: numpy arrays of those columns.
- data.spline_basis(name, n_basis=6, degree=3): centred cubic B-spline basis of one
  continuous column, shape (n, n_basis - 1), already without an intercept column.

The guard scans the file before anyone reads it; these are blockers:
- Imports only from: {", ".join(T.ALLOWED_IMPORTS)}. The usual header is
  `import numpy as np`, `import pymc as pm`, `import pytensor.tensor as pt`.
- No file, network or process access; no open, eval, exec, compile, __import__, globals,
  locals, vars, input; no dunder attributes; no pickle.
- The harness samples and computes the effect, not the model: never call
  {", ".join(f"pm.{n}" for n in harness)}, and never name a variable, Deterministic or
  function after an estimand ({", ".join(sorted(T.EFFECT_NAMES))}).
- PyMC 5 only: no pymc3, theano or aesara; {obsolete}; keywords {keywords}; no mutable=.
{forbidden_rule}- The outcome (data.y, {contract.outcome!r}) appears only in observed= of the likelihood or in
  scalar summaries for prior scales (data.y.mean(), data.y.std()); never as a predictor.
- Keep every row in its order: no filtering, dropna, query, head, sample or reordering.
- No while loops and no Python loops over units; loops over a handful of columns are fine.

Sampling advice: nutpie needs a smooth posterior. Put priors on the outcome's scale
(e.g. y_scale = data.y.std()), give interactions, quadratic and spline terms tighter priors
than main effects, use non-centred parametrisations for hierarchical scales, and prefer fewer
parameters. The harness's gates are R-hat < {gates.rhat_max:g}, bulk ESS > {gates.ess_bulk_min:g},
tail ESS > {gates.ess_tail_min:g} and fewer than {gates.divergence_rate_max:.1%} divergent transitions;
{gates.keep_rule()}."""


def design_rules(contract: Contract) -> str:
    """The ``analysis.toml`` schema and its contract checks, from :mod:`engine.design.spec`.

    Parameters
    ----------
    contract
        The causal contract: estimand, controls, placebo candidates, forbidden columns.

    Returns
    -------
    str
        The text that fills ``{rules}`` in :data:`CODER_SYSTEM_DESIGN`.
    """
    from engine.design.spec import (
        KNOWN_KEYS,
        MAX_FOLDS,
        MAX_MIN_PROPENSITY,
        MIN_FOLDS,
        Estimator,
        OutcomeLearner,
        PropensityLearner,
    )
    from engine.problem import Estimand

    def choices(enum) -> str:
        return " | ".join(f'"{m.value}"' for m in enum)

    placebo = ", ".join(contract.placebo_candidates) or "none"
    forbidden = ", ".join(f"{f.name} ({f.reason.value})" for f in contract.forbidden) or "none"
    return f"""\
analysis.toml is flat TOML with exactly these keys (any other key is a blocker): {", ".join(KNOWN_KEYS)}.
- estimand = {choices(Estimand)} (the contract asks for "{contract.estimand.value}"; changing it changes the
  question and the reviewer is warned).
- covariates = "all" (every allowed control) or a list of allowed controls: {", ".join(contract.controls)}.
  The treatment, the outcome and forbidden columns are never covariates.
- propensity_learner = {choices(PropensityLearner)} ("auto" picks logistic or gradient boosting by the
  cross-validated log-loss of the treatment; the run's notes say which)
- outcome_learner = {choices(OutcomeLearner)}
- estimator = {choices(Estimator)} ("linear_dr" is LinearDRLearner, the AIPW estimate; "dr" is DRLearner)
- folds = a whole number from {MIN_FOLDS} to {MAX_FOLDS} (cross-fitting folds)
- trim = [low, high], two numbers with 0 <= low < 0.5 < high <= 1: keep units whose propensity lies
  in [low, high]. [0.0, 1.0] keeps everyone; any trimming turns the estimand into an overlap
  effect (ATO), which the reviewer is warned about.
- placebo_outcomes = a list of columns fixed before treatment (allowed: {placebo}); the effect on
  them should be null.
- seed = a whole number >= 0.
- min_propensity = a number from 0 to {MAX_MIN_PROPENSITY:g}: propensities are clipped to [m, 1 - m] in the
  weights (0.01 caps a weight at 99; raise it when the sanity net or overlap fails).
Every run also has a sanity net: the DR estimate beside the outcome-model-only and weighting-only
estimates; a DR estimate far from both, or with an interval wider than the outcome's SD, is not credible.
Forbidden columns never appear anywhere in the file: {forbidden}."""


# --------------------------------------------------------------------------- context pieces


def contract_text(contract: Contract) -> str:
    """The causal contract in a few lines.

    Parameters
    ----------
    contract
        The causal contract.

    Returns
    -------
    str
        A Markdown list: treatment, outcome, estimand, allowed controls, then the categorical,
        pre-treatment and forbidden columns when there are any.
    """
    lines = [
        f"- treatment: {contract.treatment} (0/1)",
        f"- outcome: {contract.outcome} ({contract.outcome_type.value})",
        f"- estimand: {contract.estimand.value}",
        f"- allowed controls: {', '.join(contract.controls)}",
    ]
    if contract.categorical:
        lines.append(f"- categorical controls (one-hot encoded in data.X): {', '.join(contract.categorical)}")
    if contract.pretreatment:
        lines.append(f"- pre-treatment, not controls (placebo outcomes only): {', '.join(contract.pretreatment)}")
    if contract.forbidden:
        lines.append("- FORBIDDEN, never used anywhere:")
        lines.extend(f"  - {f.name}: {f.reason.value}" + (f" ({f.note})" if f.note else "") for f in contract.forbidden)
    return "\n".join(lines)


def data_text(data: DataSummary) -> str:
    """Sizes and the design matrix's column names; never a value.

    Parameters
    ----------
    data
        The data's summary.

    Returns
    -------
    str
        :meth:`~engine.agents.base.DataSummary.describe` (with a note when nearly all outcomes
        are positive), then the columns of ``data.X`` in order.
    """
    extra = " At least 95 % of outcomes are positive." if data.outcome_mostly_positive else ""
    return f"{data.describe()}{extra}\nColumns of data.X, in order: {', '.join(data.columns)}."


def _num(value: float | None, fmt: str = ".1f") -> str:
    return "–" if value is None else format(value, fmt)


def metrics_text(metrics: Metrics | None) -> str:
    """The current best's measurements in one or two lines.

    Parameters
    ----------
    metrics
        What the harness measured, or None when nothing was.

    Returns
    -------
    str
        The measured values joined by semicolons; ``not measured yet`` for None, ``no metrics
        recorded`` when no value is set.
    """
    if metrics is None:
        return "not measured yet"
    parts = []
    if metrics.elpd is not None:
        parts.append(f"ELPD {_num(metrics.elpd)} ± {_num(metrics.elpd_se)}")
    if metrics.p_loo is not None:
        parts.append(f"p_loo {_num(metrics.p_loo)}")
    if metrics.pareto_k_bad is not None:
        parts.append(
            f"{metrics.pareto_k_bad} observations with Pareto k > 0.7 (max {_num(metrics.pareto_k_max, '.2f')})"
        )
    if metrics.effect is not None:
        e = metrics.effect
        parts.append(
            f"{e.estimand} {e.mean:.3g} (sd {e.sd:.2g}, {e.interval_name} [{e.hdi_low:.3g}, {e.hdi_high:.3g}])"
        )
    if metrics.rhat_max is not None:
        parts.append(f"max R-hat {metrics.rhat_max:.3f}")
    if metrics.ess_bulk_min is not None:
        parts.append(f"min ESS bulk {metrics.ess_bulk_min:.0f} / tail {_num(metrics.ess_tail_min, '.0f')}")
    if metrics.divergences is not None:
        parts.append(f"{metrics.divergences} divergences")
    return "; ".join(parts) or "no metrics recorded"


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, keeping the head and the tail.

    Parameters
    ----------
    text
        Any text (may be empty).
    limit
        The length to cut to.

    Returns
    -------
    str
        ``text`` when it fits; else its head and tail around a note of how many characters
        were cut, at most ``limit`` characters in all for limits of 60 or more.
    """
    text = text or ""
    if len(text) <= limit:
        return text
    keep = max(limit - 40, 20)
    head, tail = keep * 2 // 3, keep - keep * 2 // 3
    return f"{text[:head]} … [{len(text) - head - tail} characters cut] … {text[-tail:]}" if tail else text[:limit]


def _cell(text: str, limit: int = CELL_CHARS) -> str:
    one_line = " ".join((text or "").split()).replace("|", "/")
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def _verdict_cell(record: IterationRecord) -> str:
    verdict = record.verdict
    if verdict is None:
        return record.decision.kind.value
    failed = [g.describe() for g in verdict.gates if not g.passed]
    text = verdict.kind.value
    if failed:
        text += ": " + "; ".join(failed)
    elif verdict.reason:
        text += ": " + verdict.reason
    return text


def _metrics_cell(metrics: Metrics | None) -> str:
    if metrics is None:
        return ""
    parts = []
    if metrics.elpd is not None:
        parts.append(f"{metrics.elpd:.1f}±{_num(metrics.elpd_se)}")
    if metrics.delta_elpd is not None:
        parts.append(f"Δ{metrics.delta_elpd:+.1f}±{_num(metrics.delta_se)}")
    if metrics.effect is not None:
        e = metrics.effect
        parts.append(f"{e.estimand} {e.mean:.3g} [{e.hdi_low:.3g}, {e.hdi_high:.3g}]")
    if metrics.rhat_max is not None:
        parts.append(f"R̂ {metrics.rhat_max:.3f}")
    if metrics.divergences:
        parts.append(f"{metrics.divergences} div")
    return ", ".join(parts)


def _decision_cell(record: IterationRecord) -> str:
    d = record.decision
    text = f"{d.kind.value} by {d.decider}"
    if d.edited:
        text += " (edited)"
    if d.override:
        text += f" (override: {d.override})"
    if d.reason:
        text += f': "{d.reason}"'
    blockers = blocker_codes(record.findings)
    if blockers:
        text += f" [guard: {', '.join(blockers)}]"
    return text


def history_text(context: AgentContext, rows: int = HISTORY_ROWS) -> str:
    """The loop's recent iterations as a Markdown table, plus every reviewer reason ever given.

    Parameters
    ----------
    context
        Its loop's history is shown.
    rows
        How many recent iterations get a row; older ones are only counted.

    Returns
    -------
    str
        The table, every reason the principal (not a policy) gave for a rejection, and the
        principal's edits among the rows shown as diffs; one sentence when the loop has no
        iteration yet.
    """
    history = context.loop_history
    if not history:
        return "No iteration of this loop has been recorded yet."
    older = history[:-rows] if len(history) > rows else ()
    recent = history[-rows:]
    lines: list[str] = []
    if older:
        counts: dict[str, int] = {}
        for r in older:
            counts[r.status] = counts.get(r.status, 0) + 1
        listed = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(counts.items()))
        lines.append(f"{len(older)} earlier iterations are not shown ({listed}).")
    lines.append("| # | idea (agent) | hypothesis | decision | verdict | ELPD, ΔELPD, effect, R-hat |")
    lines.append("|---|---|---|---|---|---|")
    for r in recent:
        p = r.proposal
        idea = f"{p.move or '-'} ({p.agent})"
        lines.append(
            f"| {r.number} | {_cell(idea, 40)} | {_cell(p.hypothesis)} | {_cell(_decision_cell(r))} | "
            f"{_cell(_verdict_cell(r))} | {_cell(_metrics_cell(r.verdict.metrics if r.verdict else None))} |"
        )
    said = [
        r
        for r in context.history  # every loop: a reason given about the design can speak to the model too
        if r.decision.reason and r.decision.kind.value == "rejected" and not r.decision.decider.startswith("policy:")
    ]
    if said:
        lines.append("")
        lines.append("Every reason the principal gave when rejecting a proposal, in either loop (respect these):")
        lines.extend(
            f"- iteration {r.number} ({r.proposal.loop.value} loop, {r.proposal.move or r.proposal.agent}): "
            f'"{clip(r.decision.reason, REASON_CHARS)}"'
            for r in said
        )
    edited = [r for r in recent if r.edited]
    if edited:
        from engine.records import unified_diff

        lines.append("")
        lines.append("The principal edited these proposals before they ran; what ran is the edit (build on it):")
        for r in edited:
            edit = unified_diff(r.proposal.new_source, r.source, r.proposal.file)
            lines += [f"- iteration {r.number}:", "```diff", clip(edit.rstrip(), 1500), "```"]
    return "\n".join(lines)


# --------------------------------------------------------------------------- user messages


def orchestrator_prompt(context: AgentContext) -> str:
    """Everything the orchestrator may see, as one message (:func:`orchestrator_blocks` joined).

    Parameters
    ----------
    context
        What the agent may see.

    Returns
    -------
    str
        Markdown: contract, data, PROBLEM.md, PROGRAM.md, the current best file with its
        metrics, the loop's history and what the critics said.
    """
    return "\n\n".join(orchestrator_blocks(context))


def orchestrator_blocks(context: AgentContext) -> tuple[str, str]:
    """The orchestrator's message in two blocks: what stays the same all session, then what changes.

    The first block (contract, data, PROBLEM.md, PROGRAM.md) is a prompt-cache breakpoint:
    every later call of the session reads it from the cache at a tenth of the price.

    Parameters
    ----------
    context
        What the agent may see.

    Returns
    -------
    tuple of str
        (stable, changing) Markdown.
    """
    loop = context.loop
    stable = f"""\
# The problem (the same for every step of this session)

## Causal contract
{contract_text(context.contract)}

## Data (names and counts only)
{data_text(context.data)}

## PROBLEM.md
{context.problem_text.strip()}

## PROGRAM.md
{context.program_text.strip()}"""
    changing = f"""\
# Next step for the {loop.value} loop (file: {loop.file})

## Current best {loop.file}
Measured: {metrics_text(context.best_metrics)}
```{"python" if loop is Loop.MODEL else "toml"}
{context.best_source.rstrip()}
```

## History of this loop (most recent last)
{history_text(context)}
{reviews_text(context)}
Decide the single next change to {loop.file} and call plan_next_step."""
    return stable, changing


def reviews_text(context: AgentContext, last: int = 2) -> str:
    """What the critics said about the loop's latest judged iterations, for the next plan.

    Parameters
    ----------
    context
        Its loop's history is read.
    last
        How many judged iterations, newest last.

    Returns
    -------
    str
        A Markdown section (empty when no iteration was reviewed): the offline model review
        (credibility, Pareto k, ESS, triangulation against the design estimate) and the
        agent critic's review of each.
    """
    judged = [r for r in context.loop_history if r.model_review is not None or (r.agent_review and r.agent_review.text)]
    if not judged:
        return ""
    lines = ["", "## What the critics said about the latest runs (answer them in your plan)"]
    for r in judged[-last:]:
        lines.append(f"### Iteration {r.number}")
        if r.model_review is not None:
            lines.append(clip(r.model_review.markdown().strip(), 1500))
        if r.agent_review is not None and r.agent_review.text:
            lines.append("Critic: " + clip(r.agent_review.text.strip(), 1200))
    return "\n".join(lines) + "\n"


def coder_prompt(context: AgentContext, plan: Plan) -> str:
    """The coder's fresh context: the plan, the contract, the columns and the current file.

    Parameters
    ----------
    context
        The proposal's context; only its loop, contract, data and current file are used.
    plan
        The orchestrator's plan: its hypothesis and instructions.

    Returns
    -------
    str
        Markdown, ending with the tool to submit the file with.
    """
    loop = context.loop
    fence = "python" if loop is Loop.MODEL else "toml"
    return f"""\
## Hypothesis
{plan.hypothesis}

## Instructions
{plan.instructions}

## Causal contract
{contract_text(context.contract)}

## Data
{data_text(context.data)}

## Current {loop.file}
```{fence}
{context.best_source.rstrip()}
```

Write the complete new {loop.file} and submit it with {"submit_model" if loop is Loop.MODEL else "submit_analysis"}."""


def repair_prompt(
    proposal: Proposal,
    compile_result: CompileResult,
    context: AgentContext | None = None,
    earlier: tuple[str, ...] = (),
) -> str:
    """The failing file with the compile check's error, traceback and hint.

    Parameters
    ----------
    proposal
        The proposal whose ``model.py`` failed.
    compile_result
        The failed check.
    context
        The proposal's context: the contract and the allowed columns go in too.
    earlier
        The errors of the earlier repair attempts of this proposal, oldest first.

    Returns
    -------
    str
        Markdown: the hypothesis, the contract and columns, the earlier attempts' errors, the
        error, the hint and clipped traceback when there are any, the file, and what to do.
    """
    parts = [
        "## Hypothesis",
        proposal.hypothesis,
        "",
    ]
    if context is not None:
        parts += [
            "## Causal contract",
            contract_text(context.contract),
            "",
            "## Data (the columns data.X holds; no other column exists for the model)",
            data_text(context.data),
            "",
        ]
    if earlier:
        parts += ["## Earlier attempts at this repair failed with (do not repeat them)"]
        parts += [f"{i}. {clip(e, 300)}" for i, e in enumerate(earlier, 1)]
        parts.append("")
    parts += [
        "## Your model.py failed the compile check (build the model, evaluate log-density and gradient)",
        f"Error: {clip(compile_result.error or 'unknown error', ERROR_CHARS)}",
    ]
    if compile_result.hint:
        parts.append(f"Hint: {clip(compile_result.hint, ERROR_CHARS)}")
    if compile_result.traceback:
        parts += ["Traceback (model.py frames):", "```", clip(compile_result.traceback.rstrip(), 4000), "```"]
    parts += [
        "",
        "## The failing model.py",
        "```python",
        proposal.new_source.rstrip(),
        "```",
        "",
        "Fix the cause with the smallest change that keeps the hypothesis, and submit the complete corrected "
        "file with submit_model.",
    ]
    return "\n".join(parts)


def proposal_review_blocks(context: AgentContext, proposal: Proposal, findings: tuple[Any, ...]) -> tuple[str, str]:
    """The reviewer's message: the stable problem block (cached), then the proposal and its checks.

    Parameters
    ----------
    context
        The context the proposal was made in.
    proposal
        The checked proposal.
    findings
        What the guard found.

    Returns
    -------
    tuple of str
        (stable, changing) Markdown.
    """
    stable, _ = orchestrator_blocks(context)
    fence = "python" if proposal.loop is Loop.MODEL else "toml"
    found = "\n".join(f"- {f.severity.value} {f.code}: {f.message}" for f in findings) or "- none"
    changing = "\n".join(
        [
            f"# Review this proposal for {proposal.file}",
            f"Hypothesis: {proposal.hypothesis}",
            f"Rationale: {clip(proposal.rationale, 1500)}",
            "",
            "## The diff against the current best",
            "```diff",
            clip(proposal.diff.rstrip(), 6000),
            "```",
            "",
            f"## The whole proposed {proposal.file}",
            f"```{fence}",
            clip(proposal.new_source.rstrip(), 8000),
            "```",
            "",
            "## What the guard found",
            found,
            "",
            "Review it and call submit_proposal_review.",
        ]
    )
    return stable, changing


def critic_prompt(context: AgentContext, record: IterationRecord) -> str:
    """The latest iteration's facts, with the contract and the plan, for the critic.

    Parameters
    ----------
    context
        The context of the record's loop (contract, data, PROBLEM.md, current best).
    record
        The iteration to review.

    Returns
    -------
    str
        Markdown with long parts clipped: contract, data, PROBLEM.md, the proposal and its
        decision, the file that ran, the verdict with its gates, the other results as JSON,
        and the current best's metrics.
    """
    p = record.proposal
    verdict = record.verdict
    lines = [
        f"# Review iteration {record.number} of the {p.loop.value} loop",
        "",
        "## Causal contract",
        contract_text(context.contract),
        "",
        "## Data",
        data_text(context.data),
        "",
        "## PROBLEM.md",
        clip(context.problem_text.strip(), 12_000),
        "",
        "## The proposal",
        f"Hypothesis: {p.hypothesis}",
        f"Rationale: {clip(p.rationale, 1500)}",
        f"Decision: {_decision_cell(record)}",
        "",
        f"## The {p.file} that ran",
        f"```{'python' if p.loop is Loop.MODEL else 'toml'}",
        clip(record.source.rstrip(), 8000),
        "```",
        "",
        "## Verdict",
    ]
    if verdict is None:
        lines.append("Not run (the proposal was not approved).")
    else:
        lines.append(f"{verdict.kind.value}: {verdict.reason}")
        lines.append(f"Metrics: {metrics_text(verdict.metrics)}")
        if verdict.metrics.delta_elpd is not None:
            delta = f"{verdict.metrics.delta_elpd:+.1f} ± {_num(verdict.metrics.delta_se)}"
            lines.append(f"ΔELPD against the previous best: {delta}")
        for g in verdict.gates:
            lines.append(f"- gate {g.describe()}")
    # The offline critics' reviews first: they are short and name the diagnostics that decided them.
    further = {
        name: value
        for name, value in (
            ("critic", record.critique),
            ("model_review", record.model_review),
            ("design", record.design),
            ("convergence", record.convergence),
            ("crash", record.crash),
        )
        if value
    }
    if further:
        lines += [
            "",
            "## Further results (JSON, clipped; 'critic' and 'model_review' are the rule-based reviews)",
            clip(_json(further), 8000),
        ]
    lines += [
        "",
        "## Current best of this loop",
        metrics_text(context.best_metrics),
        "",
        "Write the review and call submit_critique.",
    ]
    return "\n".join(lines)


def _json(value: Any) -> str:
    from engine.jsonable import to_jsonable

    return json.dumps(to_jsonable(value), ensure_ascii=False, separators=(",", ":"), default=str)
