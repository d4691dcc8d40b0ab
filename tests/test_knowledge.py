"""The coder's modelling guide: its code is valid and allowed, and it names nothing the agent may not see."""

from __future__ import annotations

import ast
import json
import re
import tomllib

import pytest
from conftest import PROBLEMS, ROOT, SHIPPED

GUIDE = ROOT / "engine" / "agents" / "knowledge" / "pymc_modelling.md"
PYTHON_FENCE = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def guide_text() -> str:
    return GUIDE.read_text(encoding="utf-8")


def snippets() -> list[str]:
    """Every ```python block of the guide, in order."""
    return PYTHON_FENCE.findall(guide_text())


def complete_models() -> list[str]:
    """The blocks that are whole model.py files (they define build_model)."""
    return [s for s in snippets() if "def build_model(" in s]


def hidden_names() -> dict[str, str]:
    """Column names the agent never sees, each with where it comes from.

    Forbidden columns of every shipped problem.toml, and the per-unit columns (list values) of
    every shipped truth.json.
    """
    names: dict[str, str] = {}
    for name in SHIPPED:
        folder = PROBLEMS / name
        contract = tomllib.loads((folder / "problem.toml").read_text(encoding="utf-8"))["contract"]
        for entry in contract.get("forbidden", []):
            names[entry["name"]] = f"forbidden in {name}/problem.toml"
        truth = folder / "truth.json"
        if truth.is_file():
            for key, value in json.loads(truth.read_text(encoding="utf-8")).items():
                if isinstance(value, list):
                    names[key] = f"a column of {name}/truth.json"
    return names


def true_effects() -> dict[str, str]:
    """Each shipped truth.json's scalar effects, written to three significant digits.

    Values whose short form has fewer than three digits ("4", "2.9") are left out: they are too
    common in ordinary prose to mean anything.
    """
    found: dict[str, str] = {}
    for name in SHIPPED:
        truth = PROBLEMS / name / "truth.json"
        if not truth.is_file():
            continue
        for key, value in json.loads(truth.read_text(encoding="utf-8")).items():
            if isinstance(value, float):
                text = f"{value:.3g}"
                if len(text.lstrip("-0.").replace(".", "")) >= 3:
                    found[text] = f"{name}/truth.json {key}"
    return found


def test_the_guide_has_code_and_whole_models():
    assert GUIDE.is_file()
    assert len(snippets()) >= 3
    assert complete_models(), "the guide should show at least one whole model.py"


@pytest.mark.parametrize("index", range(len(snippets())))
def test_every_python_snippet_parses(index):
    ast.parse(snippets()[index], filename=f"pymc_modelling.md snippet {index + 1}")


@pytest.mark.parametrize("problem", SHIPPED)
def test_whole_models_pass_the_guard_of_every_shipped_problem(problem):
    from engine.guard import scan_model
    from engine.problem_load import load_problem

    contract = load_problem(PROBLEMS / problem).contract
    for number, source in enumerate(complete_models(), start=1):
        blockers = [f for f in scan_model(source, contract) if f.is_blocker]
        assert not blockers, f"whole model {number} is blocked on {problem}: {blockers}"


def test_whole_models_build_and_evaluate_on_ihdp(ihdp):
    from engine.compile_check import check_model_source

    data = ihdp.model_data()
    for number, source in enumerate(complete_models(), start=1):
        if "pm.Bernoulli(" in source or "pm.NegativeBinomial(" in source or "pm.Poisson(" in source:
            continue  # IHDP's outcome is continuous; the guard test above still reads these
        result = check_model_source(source, data, progress=lambda message: None)
        assert result.ok, (number, result.error, result.hint, result.traceback)


def hidden_names_in(text: str) -> dict[str, str]:
    """The hidden columns ``text`` names as whole words (any case), with where each comes from."""
    return {
        name: where
        for name, where in hidden_names().items()
        if re.search(rf"(?<!\w){re.escape(name)}(?!\w)", text, re.IGNORECASE)
    }


def true_effects_in(text: str) -> dict[str, str]:
    """The true effects ``text`` states as numbers, with where each comes from."""
    return {
        value: where
        for value, where in true_effects().items()
        if re.search(rf"(?<![\d.]){re.escape(value)}(?!\d)", text)
    }


def test_the_guide_names_no_hidden_column():
    named = hidden_names_in(guide_text())
    assert not named, f"the guide names columns the agent must never see: {named}"


def test_the_guide_states_no_true_effect():
    stated = true_effects_in(guide_text())
    assert not stated, f"the guide states a true effect: {stated}"


def test_the_leak_checks_are_live():
    """A guide that named a hidden column or stated a true effect would fail the two tests above."""
    assert hidden_names() and true_effects(), "the shipped problems no longer hide anything to check against"
    for name, where in hidden_names().items():
        assert hidden_names_in(f"Add {name.upper()} as a control.") == {name: where}
    for value in true_effects():
        assert value in true_effects_in(f"The answer is {value}, near enough.")
    assert not true_effects_in("Version 12.934 and 0.05382 are other numbers.")
