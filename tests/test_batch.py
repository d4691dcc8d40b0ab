"""The batch engine on a real Dask LocalCluster of two worker processes, real sandboxes, real git.

The cluster tests share one cluster (starting one costs a few seconds) and run the design
loop's estimate-only checks, so each task is a real cross-fitted DR fit of a few seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import PROBLEMS

from engine.agents.modelgen import render_model, spec_from_source
from engine.batch.cluster import dask_client
from engine.batch.plan import apply_setting, build_plan, check_partition_column, task_rows
from engine.batch.population import decide_population
from engine.batch.request import BatchRequest, Checks, Setting, parse_trim, parse_vary
from engine.batch.results import BatchProgress, TaskStatus
from engine.batch.run import run_batch
from engine.batch.series import effect_series
from engine.batch.store import load_batch
from engine.design.spec import parse_spec
from engine.errors import BatchError
from engine.modelspec import baseline_spec
from engine.problem_load import load_problem
from engine.records import Loop
from engine.store import Session


@pytest.fixture(scope="module")
def retention():
    return load_problem(PROBLEMS / "retention_email")


# --------------------------------------------------------------------------- planning (no cluster)


def test_partitioning_on_a_consequence_of_the_treatment_is_refused_with_the_contract_reason(retention) -> None:
    with pytest.raises(BatchError, match="mediator.*opening the email"):
        check_partition_column(retention.data, retention.contract, "opened")
    with pytest.raises(BatchError, match="it is the outcome"):
        check_partition_column(retention.data, retention.contract, "renewed_30d")
    with pytest.raises(BatchError, match="looks continuous"):
        check_partition_column(retention.data, retention.contract, "account_value")
    with pytest.raises(BatchError, match="no column 'weekday'"):
        check_partition_column(retention.data, retention.contract, "weekday")
    assert check_partition_column(retention.data, retention.contract, "wave") == ("1", "2", "3", "4")


def test_vary_and_trim_flags_parse_or_say_what_to_type() -> None:
    assert [s.text for s in parse_vary("trim=0,0.01,0.05", Loop.DESIGN)] == ["trim=0", "trim=0.01", "trim=0.05"]
    assert parse_trim("0.05") == (0.05, 0.95) and parse_trim("0.1,0.8") == (0.1, 0.8)
    with pytest.raises(BatchError, match="cannot vary 'trim'"):
        parse_vary("trim=0.1", Loop.MODEL)  # trimming is the design loop's
    with pytest.raises(BatchError, match="NAME=V1"):
        parse_vary("trim", Loop.DESIGN)
    with pytest.raises(BatchError, match="more than once"):
        parse_vary("seed=1,1", Loop.MODEL)
    with pytest.raises(BatchError, match="below 0.5"):
        parse_trim("0.6")


def test_a_varied_setting_is_rendered_into_the_file_that_runs_and_a_bad_value_is_refused(retention) -> None:
    source = (PROBLEMS / "retention_email" / "analysis.toml").read_text()
    changed = apply_setting(source, Setting("trim", "0.05"), retention.contract)
    assert parse_spec(changed, retention.contract).trim == (0.05, 0.95)
    with pytest.raises(BatchError, match="min_propensity=0.7"):
        apply_setting(source, Setting("min_propensity", "0.7"), retention.contract)


def _model_plan(problem, source: str, vary: str):
    return build_plan(
        BatchRequest(loop=Loop.MODEL, vary=parse_vary(vary, Loop.MODEL)),
        plan_id="t",
        frame=problem.data,
        contract=problem.contract,
        source=source,
        source_from="test",
        sampling=problem.sampling,
        populations=(),
        data_hash=problem.data_hash,
        created_at="",
    )


def test_a_prior_scale_sweep_rerenders_a_generated_model_and_refuses_a_hand_written_one(retention) -> None:
    generated = render_model(baseline_spec("binary"))
    plan = _model_plan(retention, generated, "prior_scale=0.25,1,4")
    assert [t.key for t in plan.tasks] == ["prior_scale=0.25", "prior_scale=1", "prior_scale=4"]
    for task, scale in zip(plan.tasks, (0.25, 1.0, 4.0), strict=True):
        ran = spec_from_source(task.source)  # verified: the code is what this spec renders
        assert ran is not None and ran.prior_scale == scale
        assert replace(ran, prior_scale=1.0) == baseline_spec("binary")  # nothing else moved
        assert task.sampling == retention.sampling
    assert plan.tasks[1].source == generated  # scale 1 is the file as it was
    assert plan.tasks[0].source != plan.tasks[2].source
    seeds = _model_plan(retention, generated, "seed=1,2")
    assert all(t.source == generated for t in seeds.tasks) and [t.sampling.seed for t in seeds.tasks] == [1, 2]
    shipped = (PROBLEMS / "retention_email" / "model.py").read_text()  # hand-written: its priors are in the code
    with pytest.raises(BatchError, match="does not declare a spec"):
        _model_plan(retention, shipped, "prior_scale=0.5,2")
    with pytest.raises(BatchError, match="positive"):
        _model_plan(retention, generated, "prior_scale=-1")
    with pytest.raises(BatchError, match="positive number"):
        _model_plan(retention, generated, "prior_scale=wide")


def test_partitions_share_one_pooled_population_and_the_estimand_is_relabelled(retention) -> None:
    shipped = (PROBLEMS / "retention_email" / "analysis.toml").read_text()
    source = apply_setting(shipped, Setting("propensity_learner", "logistic"), retention.contract)  # no learner race
    population = decide_population(retention.data, retention.contract, source, (0.1, 0.9))
    assert 0 < len(population.excluded) < 0.2 * len(retention.data)
    request = BatchRequest(by="wave", trim=(0.1, 0.9))
    plan = build_plan(
        request,
        plan_id="t",
        frame=retention.data,
        contract=retention.contract,
        source=source,
        source_from="test",
        sampling=retention.sampling,
        populations=(population,),
        data_hash=retention.data_hash,
        created_at="",
    )
    excluded = set(population.excluded)
    covered: set[int] = set()
    for task in plan.tasks:
        rows = set(task_rows(plan, task, retention.data).tolist())
        assert not rows & excluded and len(rows) == task.n_units
        assert task.estimand_label == "ATO"
        assert parse_spec(task.source, retention.contract).trim == (0.0, 1.0)  # decided once, not per partition
        covered |= rows
    assert covered == set(range(len(retention.data))) - excluded  # every kept unit is in exactly one partition


# --------------------------------------------------------------------------- on a real cluster


@pytest.fixture(scope="module")
def client():
    with dask_client(workers=2) as c:
        yield c


def _session(problem, tmp_path) -> Session:
    return Session.create(problem, tmp_path / "sessions")


def _short_sampling_copy(tmp_path: Path) -> Path:
    """A copy of retention email that samples 200 draws after 200 tuning steps (model batches in seconds)."""
    problem_dir = tmp_path / "retention"
    shutil.copytree(PROBLEMS / "retention_email", problem_dir)
    toml = (problem_dir / "problem.toml").read_text()
    (problem_dir / "problem.toml").write_text(
        toml.replace("draws = 1000", "draws = 200").replace("tune = 1000", "tune = 200")
    )
    return problem_dir


def _commits_for(session: Session, batch_id: str, key: str) -> list[str]:
    log = subprocess.run(
        ["git", "log", "--format=%s"], cwd=session.path, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return [line for line in log if line.startswith(f"batch {batch_id}: {key} ")]


def test_four_wave_batch_recovers_the_seasonal_effect_within_its_intervals(retention, client, tmp_path) -> None:
    session = _session(retention, tmp_path)
    try:
        outcome = run_batch(session, retention, BatchRequest(by="wave", checks=Checks.ESTIMATE), client)
    finally:
        session.close()
    truth = json.loads((PROBLEMS / "retention_email" / "truth.json").read_text())["by_wave"]
    results = outcome.batch.ordered()
    assert [r.key for r in results] == ["wave=1", "wave=2", "wave=3", "wave=4"]
    assert all(r.status is TaskStatus.DONE and r.effect is not None for r in results)
    for r in results:
        e = r.effect
        assert e is not None and e.hdi_low <= truth[r.key[-1]]["ate"] <= e.hdi_high, (r.key, e)
        assert r.n_units == truth[r.key[-1]]["n"]
    means = {r.key: r.effect.mean for r in results if r.effect is not None}
    assert means["wave=2"] - means["wave=4"] > 0.04  # the seasonal peak stands out from the holiday wave
    (series,) = effect_series(outcome.batch)
    assert [p.label for p in series.points] == ["1", "2", "3", "4"] and series.title == "ATE by wave"


def test_a_killed_worker_task_runs_again_and_is_recorded_once(retention, client, tmp_path) -> None:
    session = _session(retention, tmp_path)
    killed: list[int] = []

    def kill_first_start(progress: BatchProgress) -> None:
        started = progress.started
        if started is not None and started.key == "segment=smb" and not killed:
            killed.append(started.pid)
            os.kill(started.pid, signal.SIGKILL)  # the worker process itself, mid-task

    try:
        request = BatchRequest(by="segment", checks=Checks.ESTIMATE)
        outcome = run_batch(session, retention, request, client, on_progress=kill_first_start)
        assert killed, "the task never announced its start"
        assert outcome.errors == () and outcome.missing == 0
        smb = outcome.batch.results["segment=smb"]
        assert smb.attempt == 2 and smb.status is TaskStatus.DONE
        assert str(killed[0]) not in smb.worker  # ran on a worker that was alive
        assert len(_commits_for(session, outcome.batch.plan.id, "segment=smb")) == 1
        assert all(r.attempt == 1 for k, r in outcome.batch.results.items() if k != "segment=smb")
    finally:
        session.close()


def test_a_stopped_batch_resumes_without_running_finished_tasks(retention, client, tmp_path) -> None:
    session = _session(retention, tmp_path)
    stop = threading.Event()

    def stop_after_first(progress: BatchProgress) -> None:
        if progress.done >= 1:
            stop.set()

    request = BatchRequest(by="region", checks=Checks.ESTIMATE)
    try:
        first = run_batch(session, retention, request, client, on_progress=stop_after_first, stop=stop)
        assert first.stopped and 1 <= len(first.batch.results) < 4
        recorded = dict(first.batch.results)
        started: list[str] = []
        second = run_batch(
            session, retention, request, client, on_progress=lambda p: p.started and started.append(p.started.key)
        )
        assert not second.stopped and second.missing == 0 and second.resumed == len(recorded)
        assert not set(started) & set(recorded), "a recorded task ran again"
        for key, result in recorded.items():
            assert second.batch.results[key] == result
            assert len(_commits_for(session, second.batch.plan.id, key)) == 1
    finally:
        session.close()
    reopened = Session.open(session.path, readonly=True)
    try:
        stored = load_batch(reopened, second.batch.plan.id)
        assert stored is not None and stored.finished
    finally:
        reopened.close()


@pytest.mark.slow
def test_a_trim_sweep_refits_at_each_setting(retention, client, tmp_path) -> None:
    session = _session(retention, tmp_path)
    try:
        request = BatchRequest(vary=parse_vary("trim=0,0.1", Loop.DESIGN), checks=Checks.ESTIMATE)
        outcome = run_batch(session, retention, request, client)
    finally:
        session.close()
    untrimmed, trimmed = outcome.batch.ordered()
    assert untrimmed.effect is not None and trimmed.effect is not None
    assert untrimmed.effect.estimand == "ATE" and trimmed.effect.estimand == "ATO"
    assert trimmed.n_units < untrimmed.n_units == len(retention.data)
    assert not np.isclose(untrimmed.effect.mean, trimmed.effect.mean)
    assert [t.estimand_label for t in outcome.batch.plan.tasks] == ["ATE", "ATO"]  # labelled before it ran
    (series,) = effect_series(outcome.batch)
    assert series.title == "ATE/ATO as trim varies"


def test_batch_files_cannot_leave_the_batches_folder_and_a_result_is_written_once(retention, tmp_path) -> None:
    from engine.batch.results import TaskResult
    from engine.batch.store import record_result, save_plan
    from engine.errors import SessionError

    session = _session(retention, tmp_path)
    try:
        for escape in ("model.py", "batches/../model.py", "batches/x/../../PROGRAM.md"):
            with pytest.raises(SessionError, match="batch files live under batches/"):
                session.commit_batch_files({escape: "import os"}, "attack")
        assert session.read_file("model.py") == (PROBLEMS / "retention_email" / "model.py").read_text()
        source = (PROBLEMS / "retention_email" / "analysis.toml").read_text()
        plan = build_plan(
            BatchRequest(by="wave"),
            plan_id="wave-design-test",
            frame=retention.data,
            contract=retention.contract,
            source=source,
            source_from="test",
            sampling=retention.sampling,
            populations=(decide_population(retention.data, retention.contract, source, (0.0, 1.0)),),
            data_hash=retention.data_hash,
            created_at="2026-12-05T00:00:00+00:00",
        )
        save_plan(session, plan)
        result = TaskResult("wave=1", TaskStatus.FAILED, None, 10, "crashed", None, "a test")
        assert record_result(session, plan, result) is not None
        assert record_result(session, plan, result) is None  # never twice
        stored = load_batch(session, plan.id)
        assert stored is not None and stored.plan == plan and stored.results == {"wave=1": result}
    finally:
        session.close()


HOSTILE_BATCH_MODEL = '''
"""The retention baseline, plus an attack: read the truth and mark the session from a batch worker."""

import os

import numpy as np
import pymc as pm

PROBLEM, SESSION, MARKER = {problem!r}, {session!r}, {marker!r}


def _attack():
    for path in (os.path.join(PROBLEM, "truth.json"), os.path.join(SESSION, "session.json")):
        try:
            with open(path) as fh:
                raise RuntimeError("HOSTILE" + "-LOOT " + path + " " + fh.read()[:200])
        except OSError:
            pass
    for path in (os.path.join(SESSION, "hostile-batch"), MARKER):
        try:
            with open(path, "w") as fh:
                fh.write("escaped")
        except OSError:
            pass


def build_model(data):
    _attack()
    X = data.X.to_numpy()
    rate = data.y.mean()
    coords = {{"obs": np.arange(data.n), "control": list(data.X.columns)}}
    with pm.Model(coords=coords) as model:
        t = pm.Data("t", data.t, dims="obs")
        alpha = pm.Normal("alpha", np.log(rate / (1 - rate)), 1.5)
        beta_t = pm.Normal("beta_t", 0, 1)
        beta_x = pm.Normal("beta_x", 0, 1, dims="control")
        mu = pm.Deterministic("mu", pm.math.invlogit(alpha + beta_t * t + pm.math.dot(X, beta_x)), dims="obs")
        pm.Bernoulli("y", p=mu, observed=data.y, dims="obs")
    return model
'''


@pytest.mark.slow
def test_agent_code_in_a_model_batch_stays_in_the_workers_sandbox(client, tmp_path) -> None:
    """The session's model.py is agent code: on a Dask worker it runs in the same sandbox as in the loop."""
    problem_dir = _short_sampling_copy(tmp_path)
    problem = load_problem(problem_dir)
    session = _session(problem, tmp_path)
    marker = f"/tmp/causal-workbench-hostile-batch-{os.getpid()}"
    hostile = HOSTILE_BATCH_MODEL.format(problem=str(problem_dir), session=str(session.path), marker=marker)
    try:
        session.commit_edit("model.py", hostile, "an agent's model with an attack in it")
        outcome = run_batch(session, problem, BatchRequest(loop=Loop.MODEL, by="manager_priority"), client)
    finally:
        session.close()
    results = outcome.batch.ordered()
    assert [r.key for r in results] == ["manager_priority=0", "manager_priority=1"]
    for r in results:  # contained: the reads and writes failed quietly and the model sampled as usual
        assert r.status is TaskStatus.DONE and r.effect is not None, r.reason
        assert "LOOT" not in r.reason
    assert not (session.path / "hostile-batch").exists() and not os.path.exists(marker)
    truth = json.loads((problem_dir / "truth.json").read_text())
    stored = "".join(p.read_text() for p in (session.path / "batches").rglob("*.json"))
    assert f"{truth['ate']}" not in stored and "HOSTILE-LOOT" not in stored


@pytest.mark.slow
def test_a_prior_sensitivity_sweep_samples_each_scale_and_records_the_file_it_ran(client, tmp_path) -> None:
    """A generated model refitted with its controls' priors scaled: a tight prior undoes the adjustment.

    ``prior_scale`` scales the controls' coefficient priors, not the treatment's. Squeezed to
    nearly nothing, the controls explain nothing, and the effect moves towards the unadjusted
    contrast of the two arms: the sensitivity a sweep exists to show.
    """
    problem_dir = _short_sampling_copy(tmp_path)
    problem = load_problem(problem_dir)
    session = _session(problem, tmp_path)
    try:
        session.commit_edit("model.py", render_model(baseline_spec("binary")), "the offline agent's baseline")
        request = BatchRequest(loop=Loop.MODEL, vary=parse_vary("prior_scale=0.02,1", Loop.MODEL))
        outcome = run_batch(session, problem, request, client)
        batch = load_batch(session, outcome.batch.plan.id)
        assert batch is not None
    finally:
        session.close()
    tight, usual = batch.ordered()
    assert tight.status is TaskStatus.DONE and usual.status is TaskStatus.DONE, (tight.reason, usual.reason)
    data = problem.model_data()
    unadjusted = float(data.y[data.t == 1].mean() - data.y[data.t == 0].mean())
    assert abs(tight.effect.mean - unadjusted) < abs(usual.effect.mean - unadjusted)
    recorded = [spec_from_source(t.source) for t in batch.plan.tasks]  # the committed plan: what each task ran
    assert [s.prior_scale for s in recorded] == [0.02, 1.0]


def test_what_the_principal_types_becomes_a_request_or_says_what_to_type() -> None:
    from engine.batch.request import parse_request

    request = parse_request("design", " wave ", "trim=0,0.1", "estimate", "0.05")
    assert request.by == "wave" and [s.value for s in request.vary] == ["0", "0.1"]
    assert request.checks is Checks.ESTIMATE and request.trim == (0.05, 0.95)
    with pytest.raises(BatchError, match="nothing to batch"):
        parse_request("design", "", "")
    with pytest.raises(BatchError, match="partition column too"):
        parse_request("design", None, "seed=1,2", trim="0.1")
