"""The analysis.toml spec: parsing, validation against the contract, rendering."""

from __future__ import annotations

import pytest
from conftest import PROBLEMS, SHIPPED

from engine.design.spec import (
    AnalysisSpec,
    Estimator,
    OutcomeLearner,
    PropensityLearner,
    load_spec,
    parse_spec,
    render_spec,
    spec_issues,
)
from engine.errors import SpecError
from engine.problem import Contract, Estimand, ForbiddenReason, ForbiddenVariable, OutcomeType
from engine.problem_load import load_problem

CONTRACT = Contract(
    treatment="t",
    outcome="y",
    outcome_type=OutcomeType.CONTINUOUS,
    estimand=Estimand.ATE,
    controls=("age", "income", "region"),
    categorical=("region",),
    forbidden=(
        ForbiddenVariable("opened", ForbiddenReason.MEDIATOR, "opening happens after the email"),
        ForbiddenVariable("future_value", ForbiddenReason.LEAKAGE),
    ),
    pretreatment=("last_year_y",),
)


def issues(text: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        parse_spec(text, CONTRACT)
    return info.value.issues


def test_empty_spec_takes_the_defaults() -> None:
    spec = parse_spec("", CONTRACT)
    assert spec == AnalysisSpec()
    assert spec.resolved_covariates(CONTRACT) == CONTRACT.controls
    assert not spec.trims


def test_full_spec_parses_into_typed_fields() -> None:
    spec = parse_spec(
        """
        estimand = "att"
        covariates = ["income", "age"]
        propensity_learner = "gradient_boosting"
        outcome_learner = "lasso"
        estimator = "dr"
        folds = 3
        trim = [0.1, 0.9]
        placebo_outcomes = ["last_year_y"]
        seed = 7
        """,
        CONTRACT,
    )
    assert spec.estimand is Estimand.ATT
    assert spec.covariates == ("income", "age")
    assert spec.resolved_covariates(CONTRACT) == ("age", "income")  # contract order
    assert spec.propensity_learner is PropensityLearner.GRADIENT_BOOSTING
    assert spec.outcome_learner is OutcomeLearner.LASSO
    assert spec.estimator is Estimator.DR
    assert (spec.folds, spec.trim, spec.placebo_outcomes, spec.seed) == (3, (0.1, 0.9), ("last_year_y",), 7)
    assert spec.trims


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_analysis_toml_is_valid(name: str) -> None:
    problem = load_problem(PROBLEMS / name)
    spec = load_spec(problem.path, problem.contract)
    assert spec.estimand is problem.contract.estimand


def test_forbidden_covariate_names_its_reason() -> None:
    (msg,) = issues('covariates = ["age", "opened"]')
    assert "opened" in msg and "mediator" in msg and "opening happens after the email" in msg


def test_treatment_outcome_and_unknown_columns_are_not_covariates() -> None:
    found = issues('covariates = ["t", "y", "shoe_size", "last_year_y"]')
    assert any("'t' is the treatment" in m for m in found)
    assert any("'y' is the outcome" in m for m in found)
    assert any("'shoe_size' is not an allowed control" in m and "age, income, region" in m for m in found)
    assert any("'last_year_y' is pre-treatment but not an allowed control" in m for m in found)


def test_empty_and_duplicate_covariates() -> None:
    assert "covariates is empty" in issues("covariates = []")[0]
    assert "more than once" in issues('covariates = ["age", "age"]')[0]


def test_placebo_outcome_must_be_pretreatment() -> None:
    found = issues('placebo_outcomes = ["opened", "shoe_size", "region", "y"]')
    assert any("'opened' is forbidden as mediator" in m for m in found)
    assert any("'shoe_size' is not known to be fixed before treatment" in m and "last_year_y" in m for m in found)
    assert any("'region' is categorical" in m for m in found)
    assert any("'y' is the outcome" in m for m in found)
    # A control is fixed before treatment too, so it is a valid placebo outcome.
    assert parse_spec('placebo_outcomes = ["income"]', CONTRACT).placebo_outcomes == ("income",)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('estimand = "CATE"', "choose one of ATE | ATT | ATO"),
        ('propensity_learner = "xgboost"', "logistic | gradient_boosting | random_forest"),
        ('outcome_learner = "neural_net"', "linear | lasso | gradient_boosting | random_forest"),
        ('estimator = "ipw"', "linear_dr | dr"),
        ("estimand = 1", "must be a quoted string"),
        ("folds = 1", "cross-fitting needs at least two folds"),
        ("folds = 2.5", "whole number"),
        ("seed = -1", "out of range"),
        ("trim = [0.9, 0.1]", "0 ≤ low < high ≤ 1"),
        ("trim = [-0.1, 0.9]", "0 ≤ low < high ≤ 1"),
        ("trim = [0.1, 1.5]", "0 ≤ low < high ≤ 1"),
        ("trim = 0.1", "two numbers [low, high]"),
        ("trim = [0.6, 0.9]", "keep low < 0.5 < high"),
        ("trimm = [0.1, 0.9]", "did you mean 'trim'"),
        ("placebo_outcomes = 3", "list of column names"),
    ],
)
def test_invalid_values_say_what_to_do(text: str, fragment: str) -> None:
    found = issues(text)
    assert any(fragment in m for m in found), found


def test_every_problem_is_reported_at_once() -> None:
    found = spec_issues('folds = 1\ntrim = [0.5, 0.2]\ncovariates = ["opened"]', CONTRACT)
    assert len(found) == 3
    assert spec_issues("", CONTRACT) == []


def test_toml_syntax_error_is_a_spec_error() -> None:
    with pytest.raises(SpecError, match="not valid TOML"):
        parse_spec('estimand = "ATE', CONTRACT)


def test_missing_file(tmp_path) -> None:
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path, CONTRACT)


@pytest.mark.parametrize(
    "spec",
    [
        AnalysisSpec(),
        AnalysisSpec(
            estimand=Estimand.ATO,
            covariates=("age", "income"),
            propensity_learner=PropensityLearner.RANDOM_FOREST,
            outcome_learner=OutcomeLearner.LINEAR,
            estimator=Estimator.DR,
            folds=4,
            trim=(0.05, 0.95),
            placebo_outcomes=("last_year_y", "income"),
            seed=11,
        ),
    ],
)
def test_render_round_trips(spec: AnalysisSpec) -> None:
    text = render_spec(spec, "Design-based analysis of a test")
    assert text.startswith("# Design-based analysis of a test")
    assert parse_spec(text, CONTRACT) == spec
    assert all("# " in line for line in text.splitlines() if "=" in line)  # every key is commented


def test_render_matches_the_shipped_layout(ihdp) -> None:
    shipped = (PROBLEMS / "ihdp" / "analysis.toml").read_text()
    rendered = render_spec(load_spec(ihdp.path, ihdp.contract), "Design-based analysis of IHDP")
    keys = [line.split("=")[0].strip() for line in shipped.splitlines() if "=" in line and not line.startswith("#")]
    assert keys == [
        line.split("=")[0].strip() for line in rendered.splitlines() if "=" in line and not line.startswith("#")
    ]


def test_long_covariate_lists_go_one_per_line() -> None:
    contract = Contract("t", "y", OutcomeType.CONTINUOUS, Estimand.ATE, tuple(f"covariate_{i}" for i in range(12)))
    spec = AnalysisSpec(covariates=contract.controls[:10])
    text = render_spec(spec)
    assert '    "covariate_3",' in text
    assert parse_spec(text, contract) == spec
