"""Every move of the offline catalogue, on every shipped problem, passes the real compile check.

The model contract grows with each red-team round; an honest model must still get through it.
A round-6 check once refused every hierarchical model (a free variable in another's prior),
and with it ACIC's first move, and no test built one. Here each problem's baseline takes every
move the catalogue offers it, in catalogue order, each on top of the last that compiled, as a
loop that keeps them would. Slow: about four minutes, most of it compiling the HSGP moves.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.agents.base import DataSummary
from engine.agents.catalogue import moves_for
from engine.agents.modelgen import render_model
from engine.compile_check import check_model_source
from engine.modelspec import baseline_spec
from engine.problem_load import load_problem

PROBLEMS = Path(__file__).resolve().parents[1] / "problems"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ihdp", "acic2016", "lalonde", "nhefs", "retention_email"])
def test_every_catalogue_move_compiles(name):
    data = load_problem(PROBLEMS / name).model_data()
    summary = DataSummary.from_model_data(data)
    spec = baseline_spec(data.outcome_type.value)
    tried = []
    for move in moves_for(data.outcome_type, summary):
        candidate = move.build(spec, summary)
        if candidate is None:
            continue
        result = check_model_source(render_model(candidate), data, progress=lambda message: None)
        assert result.ok, (name, move.id, result.error, result.hint)
        tried.append(move.id)
        spec = candidate
    assert len(tried) >= 5, tried
