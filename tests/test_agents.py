"""Agents: the context they see, the heuristic researcher's code and learning, and replay."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from engine.agents import (
    AgentContext,
    DataSummary,
    HeuristicAgent,
    ReplayAgent,
    agent_visible_problem_text,
    build_context,
    make_agent,
)
from engine.agents.catalogue import BINARY_MOVES, CONTINUOUS_MOVES, COUNT_MOVES, reason_tags
from engine.agents.modelgen import normalise_source, render_model, spec_from_source
from engine.agents.replay import apply_unified_diff
from engine.errors import AgentError
from engine.iteration import IterationRecord
from engine.modelspec import ModelSpec, baseline_spec
from engine.problem import Contract, Estimand, OutcomeType, build_model_data
from engine.problem_load import load_problem
from engine.records import (
    CompileResult,
    Decision,
    DecisionKind,
    GateResult,
    Loop,
    Metrics,
    Proposal,
    Verdict,
    VerdictKind,
    unified_diff,
)

ROOT = Path(__file__).resolve().parents[1]
IHDP = ROOT / "problems" / "ihdp"


# --------------------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
def ihdp_problem():
    return load_problem(IHDP)


@pytest.fixture(scope="module")
def ihdp_data(ihdp_problem):
    return ihdp_problem.model_data()


@pytest.fixture(scope="module")
def binary_data():
    """A small binary-outcome problem: 2 continuous, 3 binary and one 3-level categorical control."""
    rng = np.random.default_rng(7)
    n = 80
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "tenure": rng.gamma(2.0, 3.0, n),
            "vip": rng.integers(0, 2, n),
            "mobile": rng.integers(0, 2, n),
            "urban": rng.integers(0, 2, n),
            "region": rng.choice(["north", "south", "west"], n),
            "t": rng.integers(0, 2, n),
        }
    )
    frame["renewed"] = (rng.random(n) < 0.3 + 0.2 * frame["t"]).astype(int)
    contract = Contract(
        treatment="t",
        outcome="renewed",
        outcome_type=OutcomeType.BINARY,
        estimand=Estimand.ATE,
        controls=("age", "tenure", "vip", "mobile", "urban", "region"),
        categorical=("region",),
    )
    return build_model_data(frame, contract)


@pytest.fixture(scope="module")
def count_data():
    """A small count-outcome problem (visits): overdispersed, the treatment raising the rate."""
    rng = np.random.default_rng(11)
    n = 80
    frame = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n),
            "tenure": rng.gamma(2.0, 3.0, n),
            "vip": rng.integers(0, 2, n),
            "region": rng.choice(["north", "south", "west"], n),
            "t": rng.integers(0, 2, n),
        }
    )
    frame["visits"] = rng.negative_binomial(3, 3 / (3 + np.exp(0.5 + 0.4 * frame["t"])))
    contract = Contract(
        treatment="t",
        outcome="visits",
        outcome_type=OutcomeType.COUNT,
        estimand=Estimand.ATE,
        controls=("age", "tenure", "vip", "region"),
        categorical=("region",),
    )
    return build_model_data(frame, contract)


@pytest.fixture(scope="module")
def context(ihdp_problem, ihdp_data) -> AgentContext:
    return build_context(ihdp_problem, data=ihdp_data)


RHAT_FAILED = (GateResult("rhat", 1.034, 1.01, False), GateResult("ess_bulk", 812.0, 400.0, True))


def record(
    number: int, proposal: Proposal, status: str, reason: str = "", gates: tuple = RHAT_FAILED, **metrics
) -> IterationRecord:
    """An iteration as the session store would record it, built by hand."""
    if status in ("rejected", "skipped"):
        decision, verdict = Decision(DecisionKind(status), "principal", reason), None
    else:
        decision = Decision(DecisionKind.APPROVED, "policy:auto")
        gates = gates if status == "failed_gate" else ()
        verdict = Verdict(VerdictKind(status), reason, Metrics(**metrics), gates)
    return IterationRecord(number, proposal, (), None, decision, verdict)


def step(ctx: AgentContext, proposal: Proposal, status: str, reason: str = "", **metrics) -> AgentContext:
    """Append the outcome of ``proposal`` to the context, moving the best model on when kept."""
    rec = record(len(ctx.history) + 1, proposal, status, reason, **metrics)
    return append(ctx, rec)


def append(ctx: AgentContext, rec: IterationRecord) -> AgentContext:
    status = rec.status
    best = rec.source if status == "kept" else ctx.best_source  # what ran: the principal's edit included
    return replace(ctx, history=(*ctx.history, rec), best_source=best)


def spec_of(proposal: Proposal) -> ModelSpec:
    spec = spec_from_source(proposal.new_source)
    assert spec is not None, "generated code must carry a spec line that matches it"
    return spec


# --------------------------------------------------------------------------- the context


PROBLEM_MD = """# IHDP

Home visits and test scores.

## For the reviewer only

The true ATE is 4.66; published estimates cluster near 4.

### Hidden subsection

still hidden

```
## For the reviewer only
a heading inside a code fence is text
```

## Variables

bw is birth weight.

## For the reviewer only: caveats

Another hidden note.
"""


def test_agent_visible_problem_text_strips_reviewer_sections() -> None:
    visible = agent_visible_problem_text(PROBLEM_MD)
    assert "4.66" not in visible and "still hidden" not in visible and "Another hidden note" not in visible
    assert "## Variables" in visible and "bw is birth weight." in visible
    assert visible.startswith("# IHDP\n\nHome visits and test scores.\n")


def test_context_strips_reviewer_section_whoever_builds_it(context) -> None:
    ctx = replace(context, problem_text=PROBLEM_MD)
    assert "4.66" not in ctx.problem_text and "## Variables" in ctx.problem_text


def test_context_does_not_depend_on_truth(problem_copy) -> None:
    folder = problem_copy("ihdp")
    with_truth = build_context(load_problem(folder))
    (folder / "truth.json").unlink()
    without_truth = build_context(load_problem(folder))
    assert with_truth == without_truth
    assert isinstance(with_truth.data, DataSummary)  # names and counts, not values
    assert not any(isinstance(v, (pd.DataFrame, np.ndarray)) for v in vars(with_truth).values())


def test_context_from_a_session(tmp_path, ihdp_problem) -> None:
    from engine.store.session import Session

    session = Session.create(ihdp_problem, tmp_path / "sessions", name="ihdp-test")
    try:
        session.commit_edit("PROBLEM.md", PROBLEM_MD, "principal adds reviewer notes")
        ctx = AgentContext.build(ihdp_problem, session, Loop.MODEL)
    finally:
        session.close()
    assert ctx.best_source == (IHDP / "model.py").read_text() and ctx.history == ()
    assert ctx.best_metrics is None
    assert "## Variables" in ctx.problem_text and "4.66" not in ctx.problem_text


def test_data_summary_counts(context, ihdp_data) -> None:
    assert context.data.n == ihdp_data.n == 747
    assert context.data.n_treated == 139
    assert context.data.outcome_mostly_positive  # 3 of 747 scores are below zero
    assert context.data.continuous == ihdp_data.continuous
    assert len(context.data.binary) == 19


# --------------------------------------------------------------------------- code generation


def test_baseline_spec_renders_the_shipped_baseline_exactly() -> None:
    assert render_model(baseline_spec(), embed_spec=False) == (IHDP / "model.py").read_text()


def test_shipped_baselines_are_recognised(ihdp_problem) -> None:
    from engine.agents.heuristic import recover_spec

    for name in ("ihdp", "retention_email"):
        problem = load_problem(ROOT / "problems" / name)
        spec = recover_spec(problem.read_text("model.py"), problem.contract.outcome_type.value)
        assert spec == baseline_spec(problem.contract.outcome_type.value), name


def test_spec_line_round_trips_and_rejects_hand_edits() -> None:
    spec = ModelSpec(continuous_terms="spline", separate_arms=True, sigma_per_arm=True, gp_columns=("bw",))
    source = render_model(spec)
    assert spec_from_source(source) == spec
    edited = source.replace('pm.HalfNormal("sigma_arm", y_scale', 'pm.HalfNormal("sigma_arm", 3 * y_scale')
    assert spec_from_source(edited) is None  # the spec line no longer tells the truth
    assert spec_from_source(edited, verify=False) == spec
    assert spec_from_source("def build_model(data):\n    pass\n") is None


def test_invalid_specs_are_refused() -> None:
    with pytest.raises(ValueError, match="separate arms"):
        ModelSpec(separate_arms=True, treat_linear=True)
    with pytest.raises(ValueError, match="Bernoulli"):
        ModelSpec(outcome="binary", likelihood="student_t")


def _catalogue_specs(moves, outcome: str, data: DataSummary) -> list[tuple[str, ModelSpec]]:
    """Each move applied to the first base it applies to, so every move is exercised."""
    bases = [
        baseline_spec(outcome),
        ModelSpec(outcome=outcome, continuous_terms="quadratic"),
        ModelSpec(
            outcome=outcome, continuous_terms="quadratic", separate_arms=True, sigma_per_arm=outcome == "continuous"
        ),
        *([ModelSpec(continuous_terms="spline", log_mean=True)] if outcome == "continuous" else []),
    ]
    from engine.agents.catalogue import WIDE_COLUMNS

    out = []
    for move in moves:
        if move.id == "shrink_controls" and len(data.columns) < WIDE_COLUMNS:
            continue  # a wide-data move: exercised on ACIC below
        spec = next((s for s in (move.apply(b, data) for b in bases) if s is not None), None)
        assert spec is not None, f"move {move.id} applies to none of the bases"
        out.append((move.id, spec))
    return out


# Combinations the catalogue reaches later in a session: per-arm versions of every block,
# pooled interactions with splines, and the lighter variants used after failures.
EXTRA_CONTINUOUS = [
    (
        "per-arm everything",
        ModelSpec(
            continuous_terms="spline",
            separate_arms=True,
            likelihood="student_t",
            sigma_per_arm=True,
            sigma_linear=True,
            shrink_binary=True,
            prior_scale=0.5,
            gp_columns=("bw", "b_head"),
        ),
    ),
    (
        "pooled everything",
        ModelSpec(
            continuous_terms="spline",
            n_basis=4,
            treat_linear=True,
            treat_quadratic=True,
            sigma_linear=True,
            log_mean=True,
        ),
    ),
    ("light hsgp", ModelSpec(continuous_terms="quadratic", gp_columns=("bw",), gp_m=5)),
    (
        "log link in the treated arm, splines, heteroscedastic Student-t",
        ModelSpec(
            continuous_terms="spline",
            separate_arms=True,
            log_mean=True,
            log_mean_arm="treated",
            likelihood="student_t",
            sigma_per_arm=True,
            sigma_linear=True,
            prior_scale=0.5,
        ),
    ),
    ("centred shrinkage", ModelSpec(separate_arms=True, sigma_per_arm=True, shrink_binary=True, shrink_centred=True)),
]
EXTRA_BINARY = [
    (
        "per-arm everything",
        ModelSpec(outcome="binary", continuous_terms="spline", separate_arms=True, shrink_binary=True),
    ),
    ("centred shrinkage", ModelSpec(outcome="binary", shrink_binary=True, shrink_centred=True)),
    (
        "pooled interactions",
        ModelSpec(outcome="binary", continuous_terms="quadratic", treat_linear=True, treat_quadratic=True),
    ),
]


def _ihdp_cases(*, slow_extras: bool = False) -> list:
    data = DataSummary.from_model_data(load_problem(IHDP).model_data())
    return _params(_catalogue_specs(CONTINUOUS_MOVES, "continuous", data), EXTRA_CONTINUOUS, slow_extras)


def _binary_cases(*, slow_extras: bool = False) -> list:
    summary = DataSummary(
        columns=(), continuous=("age", "tenure"), binary=("vip", "mobile", "urban", "region=south", "region=west"),
        n=80, n_treated=40, outcome_type=OutcomeType.BINARY, treatment="t", outcome="renewed",
    )  # fmt: skip
    return _params(_catalogue_specs(BINARY_MOVES, "binary", summary), EXTRA_BINARY, slow_extras)


def _count_cases() -> list:
    summary = DataSummary(
        columns=(), continuous=("age", "tenure"), binary=("vip", "region=south", "region=west"),
        n=80, n_treated=40, outcome_type=OutcomeType.COUNT, treatment="t", outcome="visits",
    )  # fmt: skip
    return _params(_catalogue_specs(COUNT_MOVES, "count", summary), [], False)


def _params(moves: list, extras: list, slow_extras: bool) -> list:
    """Every catalogue move runs by default; the extra combinations are marked slow when compiled."""
    marks = [pytest.mark.slow] if slow_extras else []
    return [pytest.param(label, spec, id=label) for label, spec in moves] + [
        pytest.param(label, spec, id=label, marks=marks) for label, spec in extras
    ]


def _check_builds_and_evaluates(spec: ModelSpec, data) -> None:
    import pymc as pm

    namespace: dict = {}
    exec(compile(render_model(spec), "model.py", "exec"), namespace)
    model = namespace["build_model"](data)
    assert isinstance(model, pm.Model)
    assert model["t"] in model.data_vars, "t must be a data container, so the harness can intervene on it"
    from engine.contract import contract_problem

    assert contract_problem(model, data) is None  # pm.Model itself, a likelihood that uses mu, no copy of t
    point = model.initial_point()
    # logp, its gradient and mu in one FAST_COMPILE function: the compile check's work, no sampling.
    fn = model.compile_fn([model.logp(), model.dlogp(), model["mu"]], mode="FAST_COMPILE")
    logp, grad, mu = fn(point)
    assert np.isfinite(logp)
    assert grad.shape == (sum(np.size(v) for v in point.values()),)
    assert np.all(np.isfinite(grad))
    assert mu.shape == (data.n,)
    if spec.binary:
        assert np.all((mu > 0) & (mu < 1))
    if spec.count:
        assert np.all(mu > 0)


@pytest.mark.parametrize(("label", "spec"), _ihdp_cases(slow_extras=True))
def test_every_continuous_move_builds_on_ihdp(label, spec, ihdp_data) -> None:
    _check_builds_and_evaluates(spec, ihdp_data)


@pytest.mark.parametrize(("label", "spec"), _binary_cases(slow_extras=True))
def test_every_binary_move_builds_on_a_binary_outcome(label, spec, binary_data) -> None:
    _check_builds_and_evaluates(spec, binary_data)


@pytest.mark.parametrize(("label", "spec"), _count_cases())
def test_every_count_move_builds_on_a_count_outcome(label, spec, count_data) -> None:
    assert spec.count and "pm.NegativeBinomial" in render_model(spec)
    _check_builds_and_evaluates(spec, count_data)


def test_a_count_outcome_refuses_noise_moves() -> None:
    for change in ({"sigma_per_arm": True}, {"likelihood": "student_t"}, {"log_mean": True}):
        with pytest.raises(ValueError, match="count outcome"):
            ModelSpec(outcome="count", **change)


@pytest.mark.parametrize(("label", "spec"), _ihdp_cases() + _binary_cases() + _count_cases())
def test_generated_code_imports_only_numpy_and_pymc(label, spec) -> None:
    import ast

    tree = ast.parse(render_model(spec))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert imported == {"numpy", "pymc"}
    assert not any(isinstance(n, ast.ImportFrom) for n in ast.walk(tree))


@pytest.mark.parametrize(("label", "spec"), _ihdp_cases())
def test_generated_code_is_guard_clean(label, spec, ihdp_problem) -> None:
    guard = pytest.importorskip("engine.guard", reason="engine/guard.py (the causal guard) is not written yet")
    findings = guard.scan_model(render_model(spec), ihdp_problem.contract)
    blockers = [f for f in findings if f.severity.value == "blocker"]
    assert blockers == [], "\n".join(map(str, blockers))


@pytest.mark.parametrize(("label", "spec"), _binary_cases())
def test_generated_binary_code_is_guard_clean_under_a_contract_with_forbidden_columns(label, spec) -> None:
    guard = pytest.importorskip("engine.guard", reason="engine/guard.py (the causal guard) is not written yet")
    contract = load_problem(ROOT / "problems" / "retention_email").contract
    assert contract.forbidden  # mediators, leakage and oracle columns
    findings = guard.scan_model(render_model(spec), contract)
    assert [f for f in findings if f.severity.value == "blocker"] == []


# --------------------------------------------------------------------------- the heuristic agent


def test_first_proposal_is_a_small_readable_diff(context) -> None:
    proposal = HeuristicAgent().propose(context)
    assert proposal.loop is Loop.MODEL and proposal.agent == "heuristic"
    assert proposal.move == "separate_arms"
    assert proposal.old_source == context.best_source
    assert proposal.hypothesis.endswith(".") and proposal.hypothesis.count(". ") == 0
    assert "0.255 → 0.174" in proposal.rationale  # cites the evidence behind the move
    changed = [line for line in proposal.diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert len(changed) < 40


def test_same_context_same_proposal(context) -> None:
    ctx = step(context, HeuristicAgent().propose(context), "kept", delta_elpd=20.8, delta_se=10.3)
    assert HeuristicAgent().propose(ctx) == HeuristicAgent().propose(ctx)


def test_reaches_arms_splines_and_squares_within_five(context) -> None:
    agent, ctx, moves = HeuristicAgent(), context, []
    for _ in range(5):  # separate arms kept; everything else discarded
        proposal = agent.propose(ctx)
        moves.append(proposal.move)
        kept = proposal.move == "separate_arms"
        ctx = step(ctx, proposal, "kept" if kept else "discarded", "", delta_elpd=10.0 if kept else -3.0, delta_se=3.0)
    assert moves[:3] == ["separate_arms", "spline", "quadratic"]
    assert spec_from_source(ctx.best_source).separate_arms


def test_all_kept_builds_per_arm_splines(context) -> None:
    agent, ctx = HeuristicAgent(), context
    for _ in range(3):
        ctx = step(ctx, agent.propose(ctx), "kept", delta_elpd=10.0, delta_se=3.0)
    final = spec_from_source(ctx.best_source)
    assert final.separate_arms and final.continuous_terms == "spline"
    assert [r.proposal.move for r in ctx.history][:2] == ["separate_arms", "spline"]


def test_after_a_kept_log_link_the_splines_are_tried_without(context) -> None:
    """A link change can make earlier curvature terms dead weight: the next move drops them, once."""
    agent, ctx = HeuristicAgent(), context
    for _ in range(5):  # arms and splines kept, tighter priors discarded, then the log link kept
        proposal = agent.propose(ctx)
        kept = proposal.move in ("separate_arms", "spline", "log_mean")
        ctx = step(ctx, proposal, "kept" if kept else "discarded", delta_elpd=30.0 if kept else -3.0, delta_se=3.0)
    assert [r.proposal.move for r in ctx.history] == [
        "separate_arms",
        "spline",
        "tighten_priors",
        "log_mean",
        "log_linear",
    ]
    last = ctx.history[-1].proposal
    dropped, base = spec_of(last), last.generated.base
    assert base.log_mean and base.continuous_terms == "spline"
    assert dropped == replace(base, continuous_terms="linear")
    assert "linear controls on the log scale" in last.hypothesis
    # Discarded, it is not proposed again on the same base; the catalogue goes on.
    ctx = step(ctx, last, "discarded", delta_elpd=-9.0, delta_se=3.0)
    assert agent.propose(ctx).move not in ("log_linear", "log_mean")


def test_after_the_log_links_the_agent_tries_each_arm_alone(context) -> None:
    """After the noise moves, a log link for both arms is tried in the control arm alone, then the treated arm."""
    agent, ctx = HeuristicAgent(), context
    for _ in range(8):  # arms and the log link kept, everything else discarded
        proposal = agent.propose(ctx)
        kept = proposal.move in ("separate_arms", "log_mean")
        ctx = step(ctx, proposal, "kept" if kept else "discarded", delta_elpd=30.0 if kept else -3.0, delta_se=3.0)
    moves = [r.proposal.move for r in ctx.history]
    assert moves == [
        "separate_arms",
        "spline",
        "quadratic",
        "tighten_priors",
        "log_mean",
        "student_t",
        "sigma_linear",
        "log_control_arm",
    ]
    control = spec_of(ctx.history[-1].proposal)
    assert control == replace(ctx.history[-1].proposal.generated.base, log_mean_arm="control")
    assert "pm.math.exp(eta_arm[:, 0]) + t * eta_arm[:, 1]" in ctx.history[-1].proposal.new_source
    assert "the control arm only" in ctx.history[-1].proposal.hypothesis
    treated = agent.propose(ctx)
    assert treated.move == "log_treated_arm" and spec_of(treated).log_mean_arm == "treated"
    # Kept, the one-arm link is the base: the other arm's move no longer applies.
    ctx = step(ctx, treated, "kept", delta_elpd=9.0, delta_se=3.0)
    assert agent.propose(ctx).move not in ("log_control_arm", "log_treated_arm", "log_mean")


def test_a_one_arm_log_link_is_exp_in_that_arm_and_linear_in_the_other(ihdp_data) -> None:
    """Under the harness's intervention on t, each arm's mean is its own link of its own predictor."""
    import pymc as pm

    for arm, log_col in (("control", 0), ("treated", 1)):
        spec = ModelSpec(separate_arms=True, sigma_per_arm=True, log_mean=True, log_mean_arm=arm)
        namespace: dict = {}
        exec(compile(render_model(spec), "model.py", "exec"), namespace)
        model = namespace["build_model"](ihdp_data)
        rng = np.random.default_rng(3)
        point = {k: v + rng.normal(0, 0.1, np.shape(v)) for k, v in model.initial_point().items()}
        point = {"alpha": point["alpha"], "beta_x": point["beta_x"]}  # the mean's own inputs
        mean = model.compile_fn(model.replace_rvs_by_values([model["mu"]]), mode="FAST_COMPILE")
        mu = mean(point)[0]
        eta = point["alpha"] + ihdp_data.X.to_numpy() @ point["beta_x"].T  # each arm's linear predictor
        t = ihdp_data.t.astype(bool)
        link = [lambda x: x, lambda x: x]
        link[log_col] = np.exp
        np.testing.assert_allclose(mu[~t], link[0](eta[~t, 0]), rtol=1e-6)
        np.testing.assert_allclose(mu[t], link[1](eta[t, 1]), rtol=1e-6)
        with model:
            pm.set_data({"t": np.ones(ihdp_data.n, dtype=ihdp_data.t.dtype)})
        all_treated = mean(point)[0]
        np.testing.assert_allclose(all_treated, link[1](eta[:, 1]), rtol=1e-6)


def test_a_one_arm_log_link_needs_separate_arms_and_one_link_scale_per_block() -> None:
    for bad in (
        {"log_mean_arm": "control"},  # no log link at all
        {"log_mean_arm": "control", "log_mean": True, "separate_arms": False},
        {"log_mean_arm": "both", "log_mean": True, "separate_arms": True},
        {"log_mean_arm": "control", "log_mean": True, "separate_arms": True, "shrink_binary": True},
    ):
        with pytest.raises(ValueError, match="log_mean_arm"):
            ModelSpec(**bad)


def test_a_log_link_on_linear_terms_has_nothing_to_drop(context) -> None:
    from engine.agents.catalogue import get_move

    linear_log = ModelSpec(separate_arms=True, sigma_per_arm=True, log_mean=True)
    data = DataSummary.from_model_data(load_problem(IHDP).model_data())
    assert get_move("log_linear").apply(linear_log, data) is None
    assert get_move("log_linear").apply(replace(linear_log, log_mean=False, continuous_terms="spline"), data) is None


def test_kept_move_becomes_the_base(context) -> None:
    first = HeuristicAgent().propose(context)
    ctx = step(context, first, "kept", delta_elpd=20.8, delta_se=10.3)
    second = HeuristicAgent().propose(ctx)
    assert second.old_source == first.new_source
    assert second.generated.base == spec_of(first)
    assert spec_of(second).continuous_terms == "spline" and spec_of(second).separate_arms
    assert "iteration 1 separate_arms (ΔELPD +20.8 ± 10.3)" in second.rationale


def test_reviewer_reason_about_splines_steers_away_from_splines(context) -> None:
    agent = HeuristicAgent()
    ctx = step(context, agent.propose(context), "kept", delta_elpd=20.8, delta_se=10.3)
    spline = agent.propose(ctx)
    assert spline.move == "spline"
    reason = "No splines here: 139 treated children cannot support 25 basis coefficients per arm."
    ctx = step(ctx, spline, "rejected", reason)
    nxt = agent.propose(ctx)
    assert nxt.move != "spline" and "spline_basis" not in nxt.new_source
    assert "Skipping" in nxt.rationale and "splines" in nxt.rationale and reason.rstrip(".") in nxt.rationale
    # ... and never later either, while other moves go on.
    for _ in range(4):
        ctx = step(ctx, nxt, "discarded", "ΔELPD within 2 SE", delta_elpd=0.5, delta_se=2.0)
        nxt = agent.propose(ctx)
        assert "spline_basis" not in nxt.new_source


def test_reason_tags() -> None:
    assert {"spline", "complex"} <= reason_tags("The splines are too complex for this sample")
    assert "interaction" in reason_tags("Interactions with every control widen the interval")
    assert "prior" in reason_tags("That prior is too tight") and "prior" not in reason_tags("a priority")
    assert "student" in reason_tags("Student-t is not needed")
    assert "log" in reason_tags("An exponential mean makes no sense for test scores")


def test_failed_gate_leads_to_a_simplified_retry(context) -> None:
    agent = HeuristicAgent()
    ctx = step(context, agent.propose(context), "kept", delta_elpd=20.8, delta_se=10.3)
    spline = agent.propose(ctx)
    assert spline.move == "spline"
    ctx = step(ctx, spline, "failed_gate", "rhat 1.034 exceeds 1.01")
    retry = agent.propose(ctx)
    assert retry.move == "spline"
    assert normalise_source(retry.new_source) != normalise_source(spline.new_source)
    assert spec_of(retry).prior_scale < spec_of(spline).prior_scale  # tighter priors first after a gate
    assert "rhat 1.034" in retry.rationale and "simplify" in retry.rationale
    assert retry.generated.retry_of == 2
    # One simplified retry by default; then the agent moves on to the next idea.
    ctx = step(ctx, retry, "failed_gate", "rhat 1.02 exceeds 1.01")
    assert agent.propose(ctx).move != "spline"


def test_repeated_retries_vary_the_simplification(context) -> None:
    agent = HeuristicAgent(max_retries=2)
    ctx = step(context, agent.propose(context), "kept", delta_elpd=20.8, delta_se=10.3)
    spline = agent.propose(ctx)
    ctx = step(ctx, spline, "failed_gate", "rhat 1.034 exceeds 1.01")
    retry = agent.propose(ctx)
    ctx = step(ctx, retry, "failed_gate", "rhat 1.02 exceeds 1.01")
    again = agent.propose(ctx)
    assert again.move == "spline"
    assert again.generated.variant_kind != retry.generated.variant_kind == "tighter"  # not tighter twice
    assert normalise_source(again.new_source) not in {normalise_source(p.new_source) for p in (spline, retry)}
    ctx = step(ctx, again, "failed_gate", "rhat 1.02 exceeds 1.01")
    assert agent.propose(ctx).move != "spline"


def test_divergences_in_a_hierarchy_lead_to_a_reparametrisation(context) -> None:
    agent = HeuristicAgent()
    arms = agent.propose(context)
    ctx = step(context, arms, "kept", delta_elpd=20.8, delta_se=10.3)
    base = spec_of(arms)
    shrunk = replace(base, shrink_binary=True)
    proposal = Proposal(
        Loop.MODEL, "Shrink the binaries.", "", arms.new_source, render_model(shrunk), "heuristic", "shrink_binary",
        {"base": base.to_dict()},
    )  # fmt: skip
    divergent = (GateResult("divergence_rate", 0.002, 0.001, False), GateResult("rhat", 1.005, 1.01, True))
    ctx = append(ctx, record(2, proposal, "failed_gate", "8 divergences", gates=divergent))
    retry = agent.propose(ctx)
    assert retry.move == "shrink_binary" and spec_of(retry).shrink_centred
    assert "divergence_rate" in retry.rationale and "centred" in retry.rationale


def test_crash_is_not_retried_identically(context) -> None:
    agent = HeuristicAgent()
    ctx = step(context, agent.propose(context), "kept", delta_elpd=20.8, delta_se=10.3)
    spline = agent.propose(ctx)
    ctx = step(ctx, spline, "crashed", "sampling exceeded the 300 s budget")
    retry = agent.propose(ctx)
    assert retry.move == "spline"
    assert normalise_source(retry.new_source) != normalise_source(spline.new_source)
    assert spec_of(retry).n_basis < spec_of(spline).n_basis  # a lighter variant first after a crash
    assert "crashed" in retry.rationale and "300 s budget" in retry.rationale
    ctx = step(ctx, retry, "crashed", "sampling exceeded the 300 s budget")
    assert agent.propose(ctx).move != "spline"


def test_rejected_proposals_are_never_proposed_again(context) -> None:
    agent, ctx, seen = HeuristicAgent(), context, []
    for _ in range(30):
        try:
            proposal = agent.propose(ctx)
        except AgentError as exc:
            assert "tried every move" in str(exc)
            break
        key = normalise_source(proposal.new_source)
        assert key not in seen, f"{proposal.move} was proposed again after being rejected"
        seen.append(key)
        ctx = step(ctx, proposal, "rejected", "not now")
    else:
        pytest.fail("the agent never ran out of proposals")
    assert len(seen) >= 8


def test_when_stuck_near_misses_are_combined(context) -> None:
    agent, ctx, gains = HeuristicAgent(), context, {}
    while True:  # every move is discarded; student_t and sigma_linear each gain a little
        try:
            proposal = agent.propose(ctx)
        except AgentError:
            pytest.fail("the agent gave up before combining the near-misses")
        if proposal.move == "combine":
            break
        delta = 1.5 if proposal.move in ("student_t", "sigma_linear") else -0.5
        gains[proposal.move] = delta
        ctx = step(ctx, proposal, "discarded", "within 2 SE", delta_elpd=delta, delta_se=1.0)
    spec = spec_of(proposal)
    assert spec.likelihood == "student_t" and spec.sigma_linear and spec.continuous_terms == "linear"
    assert "near-misses" in proposal.rationale


def test_hand_written_best_falls_back_to_last_generated_spec(context) -> None:
    agent = HeuristicAgent()
    first = agent.propose(context)
    ctx = step(context, first, "kept", delta_elpd=20.8, delta_se=10.3)
    hand = first.new_source.replace("2 * y_scale", "3 * y_scale")  # the principal edited the best model
    assert hand != first.new_source
    ctx = replace(ctx, best_source=hand)
    proposal = agent.propose(ctx)
    assert "no workbench-spec line" in proposal.rationale and "iteration 1" in proposal.rationale
    assert proposal.old_source == hand
    assert spec_of(proposal).continuous_terms == "spline" and spec_of(proposal).separate_arms


def test_binary_outcome_gets_the_binary_catalogue() -> None:
    problem = load_problem(ROOT / "problems" / "retention_email")
    proposal = HeuristicAgent().propose(build_context(problem))
    spec = spec_of(proposal)
    assert spec.binary and proposal.move == "quadratic"
    assert "pm.Bernoulli" in proposal.new_source and "invlogit" in proposal.new_source


def test_repair_simplifies_after_a_compile_error(context) -> None:
    agent = HeuristicAgent()
    ctx = step(context, agent.propose(context), "kept", delta_elpd=20.8, delta_se=10.3)
    spline = agent.propose(ctx)
    failed = CompileResult(ok=False, seconds=0.4, error="ValueError: shapes (747,30) and (25,) not aligned")
    repaired = agent.repair(ctx, spline, failed)
    assert repaired.move == "spline" and repaired.repair_attempts == 1
    assert repaired.new_source != spline.new_source and "shapes (747,30)" in repaired.rationale
    twice = agent.repair(ctx, repaired, failed)
    assert twice.repair_attempts == 2
    assert twice.new_source not in (spline.new_source, repaired.new_source)


def test_heuristic_design_loop_proposes_a_valid_spec_and_never_repeats_a_rejection(ihdp_problem, ihdp_data) -> None:
    from engine.design.spec import parse_spec

    ctx = build_context(ihdp_problem, loop=Loop.DESIGN, data=ihdp_data)
    first = HeuristicAgent().propose(ctx)
    assert first.loop is Loop.DESIGN and first.move and first.diff
    parse_spec(first.new_source, ihdp_problem.contract)  # a spec the design runner accepts
    ctx = step(ctx, first, "rejected", "I do not want that change")
    try:
        second = HeuristicAgent().propose(ctx)
    except AgentError as exc:  # before any run, only moves that need no numbers apply
        assert "no design move left" in str(exc)
    else:
        assert second.move != first.move
        assert "I do not want that change" in second.rationale


def test_a_design_move_changes_only_its_own_lines_and_keeps_the_reasons(ihdp_problem, ihdp_data) -> None:
    """The shipped analysis.toml records why each default was chosen; a move must not wipe that out."""
    import difflib

    from engine.design.spec import edit_spec, parse_spec, render_spec

    ctx = build_context(ihdp_problem, loop=Loop.DESIGN, data=ihdp_data)
    assert "# ^" in ctx.best_source  # the reasons for the defaults
    proposal = HeuristicAgent().propose(ctx)
    old, new = ctx.best_source.splitlines(), proposal.new_source.splitlines()
    changed = [line for line in difflib.ndiff(old, new) if line[:1] in "+-"]
    before, after = (
        parse_spec(ctx.best_source, ihdp_problem.contract),
        parse_spec(proposal.new_source, ihdp_problem.contract),
    )
    moved = [
        key
        for key in ("estimand", "propensity_learner", "outcome_learner", "trim", "placebo_outcomes", "folds")
        if getattr(before, key) != getattr(after, key)
    ]
    assert moved and len(changed) == 2 * len(moved), changed  # one line out and one in per changed setting
    assert all(line in new for line in old if line.startswith("# "))
    # text it cannot edit in place is written whole, still as the spec asked for
    fallback = edit_spec("estimand = [", after, ihdp_problem.contract)
    assert fallback == render_spec(after)


def test_heuristic_design_loop_needs_a_parsable_spec(ihdp_problem, ihdp_data) -> None:
    ctx = build_context(ihdp_problem, loop=Loop.DESIGN, best_source="estimand = [", data=ihdp_data)
    with pytest.raises(AgentError, match="does not parse"):
        HeuristicAgent().propose(ctx)


# --------------------------------------------------------------------------- the factory


def test_make_agent() -> None:
    agent = make_agent()
    assert isinstance(agent, HeuristicAgent) and agent.offline and agent.can_repair
    with pytest.raises(AgentError, match="unknown agent"):
        make_agent("oracle")
    with pytest.raises(AgentError, match="needs a file"):
        make_agent("replay")
    with pytest.raises(AgentError, match="bad options"):
        make_agent("heuristic", temperature=0.2)


def test_make_agent_anthropic_is_lazy_and_clear() -> None:
    import importlib.util

    if importlib.util.find_spec("engine.agents.anthropic") is None:
        with pytest.raises(AgentError, match="not available"):
            make_agent("anthropic")
    else:  # another helper has written it: the factory must hand it out (or say clearly why not)
        try:
            agent = make_agent("anthropic")
        except AgentError as exc:
            assert str(exc)
        else:
            assert agent.name == "anthropic" and not agent.offline


# --------------------------------------------------------------------------- replay


def test_replay_plays_a_file_then_raises(tmp_path, context) -> None:
    base = context.best_source
    edited = base.replace('beta_t = pm.Normal("beta_t", 0, y_scale)', 'beta_t = pm.Normal("beta_t", 0, 2 * y_scale)')
    (tmp_path / "wide.py").write_text(edited)
    diff = unified_diff(base, base.replace("2 * y_scale)", "3 * y_scale)"), "model.py")
    entries = [
        {"hypothesis": "A wider effect prior changes nothing.", "rationale": "Prior sensitivity.", "file": "wide.py"},
        {"hypothesis": "Inline source works.", "new_source": "# inline\n", "move": "demo"},
        {"hypothesis": "A diff applies to the current best.", "diff": diff},
    ]
    path = tmp_path / "proposals.json"
    path.write_text(json.dumps(entries))
    agent = make_agent("replay", path=path)
    assert isinstance(agent, ReplayAgent)
    first = agent.propose(context)
    assert first.new_source == edited and first.rationale == "Prior sensitivity." and first.agent == "replay"
    assert agent.propose(context).move == "demo"
    third = agent.propose(context)
    assert '"alpha", y_loc, 3 * y_scale' in third.new_source
    with pytest.raises(AgentError, match="no more model-loop proposals"):
        agent.propose(context)


def test_replay_resumes_from_history_and_reads_toml(tmp_path, context) -> None:
    path = tmp_path / "proposals.toml"
    path.write_text(
        '[[proposals]]\nhypothesis = "one"\nnew_source = "# 1\\n"\n\n'
        '[[proposals]]\nhypothesis = "two"\nnew_source = "# 2\\n"\n'
    )
    first = ReplayAgent(path).propose(context)
    ctx = step(context, first, "rejected", "no")
    fresh = ReplayAgent(path)  # a resumed session: a new agent, the same history
    second = fresh.propose(ctx)
    assert second.hypothesis == "two"
    with pytest.raises(AgentError, match="all 2 played"):
        fresh.propose(step(ctx, second, "rejected", "no"))


def test_replay_file_errors_say_what_to_fix(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"hypothesis": "x", "new_source": "a", "diff": "b"}]))
    with pytest.raises(AgentError, match="exactly one of"):
        ReplayAgent(bad)
    with pytest.raises(AgentError, match="does not exist"):
        ReplayAgent(tmp_path / "missing.json")


def test_apply_unified_diff_round_trips_and_refuses_mismatch() -> None:
    old = (IHDP / "model.py").read_text()
    new = render_model(ModelSpec(continuous_terms="quadratic", separate_arms=True, sigma_per_arm=True))
    assert apply_unified_diff(old, unified_diff(old, new, "model.py")) == new
    with pytest.raises(AgentError, match="does not apply"):
        apply_unified_diff("something else\n", unified_diff(old, new, "model.py"))


# --------------------------------------------------------------------------- the principal's code is the base


def test_a_kept_edit_is_the_base_of_the_next_offline_proposal(context) -> None:
    spline = render_model(ModelSpec(continuous_terms="spline"))
    assert "n_basis = 6" in spline, "test setup: the spline model names its basis size"
    edited = spline.replace("n_basis = 6", "n_basis = 4")
    proposal = Proposal(Loop.MODEL, "Splines.", "Curvature.", context.best_source, spline, "heuristic", move="spline")
    kept = IterationRecord(
        1,
        proposal,
        (),
        None,
        Decision(DecisionKind.APPROVED, "principal", edited=True),
        Verdict(VerdictKind.KEPT, "kept", Metrics(elpd=-100.0, elpd_se=5.0)),
        ran_source=edited,
    )
    ctx = append(context, kept)
    assert ctx.best_source == edited
    nxt = HeuristicAgent().propose(ctx)
    assert nxt.old_source == edited
    assert "n_basis = 6" not in nxt.new_source  # the principal's 4 basis functions are not silently reverted
    spec = spec_of(nxt)
    assert spec.n_basis == 4 and spec.continuous_terms == "spline"
    assert nxt.generated.base == ModelSpec(continuous_terms="spline", n_basis=4)


def test_an_edit_no_spec_can_say_is_replaced_only_with_a_plain_warning(context) -> None:
    spline = render_model(ModelSpec(continuous_terms="spline"))
    edited = spline.replace("import numpy as np", "import numpy as np  # the principal's own idea\nSCALE = 1.7", 1)
    edited = edited.replace("y_scale = data.y.mean(), data.y.std()", "y_scale = data.y.mean(), SCALE * data.y.std()", 1)
    assert edited.count("SCALE") == 2, "test setup: the edit landed"
    proposal = Proposal(Loop.MODEL, "Splines.", "Curvature.", context.best_source, spline, "heuristic", move="spline")
    kept = IterationRecord(
        1,
        proposal,
        (),
        None,
        Decision(DecisionKind.APPROVED, "principal", edited=True),
        Verdict(VerdictKind.KEPT, "kept", Metrics(elpd=-100.0, elpd_se=5.0)),
        ran_source=edited,
    )
    nxt = HeuristicAgent().propose(append(context, kept))
    assert "SCALE" not in nxt.new_source
    assert "replaces the hand-written file" in nxt.rationale


def test_a_skipped_move_comes_back_once_the_fresh_moves_are_spent(context) -> None:
    agent = HeuristicAgent()
    first = agent.propose(context)
    ctx = step(context, first, "skipped")
    seen = []
    for _ in range(40):  # discard every other move until the skipped one returns
        try:
            nxt = agent.propose(ctx)
        except AgentError:
            break
        if nxt.move == first.move:
            assert "You skipped it at iteration 1" in nxt.rationale
            break
        seen.append(nxt.move)
        ctx = step(ctx, nxt, "discarded", "ΔELPD +0.4 ± 3.0 within the band", elpd=-1000.0, elpd_se=20.0)
    else:
        raise AssertionError("the agent kept proposing without ever returning to the skipped move")
    assert nxt.move == first.move, f"the skipped move {first.move} never came back; proposed {seen}"
    assert first.move not in seen  # not before the fresh ones


def test_a_rejected_move_never_comes_back(context) -> None:
    agent = HeuristicAgent()
    first = agent.propose(context)
    ctx = step(context, first, "rejected", "not this one")
    moves = []
    for _ in range(40):
        try:
            nxt = agent.propose(ctx)
        except AgentError as exc:
            assert "press e on a review" in str(exc)
            break
        moves.append(nxt.move)
        ctx = step(ctx, nxt, "discarded", "within the band", elpd=-1000.0, elpd_se=20.0)
    assert first.move not in moves


def test_on_wide_data_splines_go_on_the_strongest_continuous_controls_only() -> None:
    from engine.agents.base import DataSummary
    from engine.agents.catalogue import SPLINE_MAX_INPUTS, get_move
    from engine.agents.modelgen import spec_from_source

    acic = load_problem(ROOT / "problems" / "acic2016").model_data()
    wide = DataSummary.from_model_data(acic)
    assert len(wide.continuous) > SPLINE_MAX_INPUTS and set(wide.strongest) == set(wide.continuous)
    spline = get_move("spline").apply(baseline_spec("continuous"), wide)
    assert spline is not None and spline.spline_columns == wide.strongest[:SPLINE_MAX_INPUTS]
    source = render_model(spline)
    assert spec_from_source(source) == spline  # the agent reads its own spec back
    assert "spline_names = [" in source and "X_lin = data.X[linear_names]" in source
    _check_builds_and_evaluates(spline, acic)
    # The strongest are the continuous controls most correlated with the outcome.
    corr = {c: abs(np.corrcoef(acic.X[c], acic.y)[0, 1]) for c in wide.continuous}
    assert min(corr[c] for c in spline.spline_columns) >= max(
        corr[c] for c in wide.continuous if c not in spline.spline_columns
    )
    # Narrow data (IHDP's six continuous controls) keep splines on every one.
    ihdp = DataSummary.from_model_data(load_problem(ROOT / "problems" / "ihdp").model_data())
    narrow = get_move("spline").apply(baseline_spec("continuous"), ihdp)
    assert narrow is not None and narrow.spline_columns == ()


def test_wide_data_gets_one_learnt_scale_for_every_control_first() -> None:
    from engine.agents.base import DataSummary
    from engine.agents.catalogue import moves_for

    acic = load_problem(ROOT / "problems" / "acic2016")
    wide = DataSummary.from_model_data(acic.model_data())
    assert moves_for("continuous", wide)[0].id == "shrink_controls"
    assert moves_for("continuous", DataSummary.from_model_data(load_problem(IHDP).model_data()))[0].id != (
        "shrink_controls"
    )
    # After a measured baseline the offline agent proposes it first, and the file builds and evaluates.
    proposal = HeuristicAgent().propose(build_context(acic))
    spec = spec_of(proposal)
    assert proposal.move == "shrink_controls" and spec.shrink_controls
    assert 'tau_x = pm.HalfNormal("tau_x"' in proposal.new_source and "X = X - X.mean(axis=0)" in proposal.new_source
    assert 'beta_x = pm.Normal("beta_x", 0, tau_x, dims="control")' in proposal.new_source
    _check_builds_and_evaluates(spec, acic.model_data())
    # It cannot sit on split blocks: splines or binary shrinkage after it are not offered as one spec.
    with pytest.raises(ValueError, match="shrink_controls"):
        ModelSpec(shrink_controls=True, continuous_terms="spline")
