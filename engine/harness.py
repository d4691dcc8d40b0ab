"""The fixed harness: from a proposed ``model.py`` to a verdict, in separate processes.

The **model child** (:func:`sample_model`) runs the model's code (as does the second build
below, and nothing else): it builds the model on the allowed data, adds the pointwise log-likelihood and the
estimand by intervention as Deterministics (the harness's, not the model's: see
:mod:`engine.loglik` and :mod:`engine.effects`), samples with nutpie and writes plain
arrays (:data:`DRAWS_FILE`), with a fingerprint of its build taken after sampling. Before it
writes them, the log-likelihood and the estimand nutpie computed must equal the graph's own at
every draw (:mod:`engine.sampled_values`). It judges nothing.

The **second build** (:func:`build_fingerprint`, started by
:func:`engine.model_run.reproduced`) runs ``model.py`` again, in another child, on the data
reshuffled over the units (rows in another order, treatment and outcome moved to other units
again); its fingerprint must match unit by unit.

The **scorer** (:func:`engine.scorer.score_draws`), a fresh sandbox child that never
imported or ran agent code, reads those arrays, checks their shapes against the settings
and the data, and computes the convergence gates, PSIS-LOO, the effect summary and the
keep rule. No monkeypatch inside the model child can reach it. Once the verdict is out, a
third child (:func:`engine.scorer.write_trace`) turns the validated arrays into the trace
(NetCDF), for the user's own ArviZ work; nobody waits for it.

:func:`run_model` runs the model child, the scorer and the trace writer in this process (not
the second build), for tests and benchmarks. Nothing raises out of them: a run that produced
no draws becomes a ``crashed`` verdict with the reason.
"""

from __future__ import annotations

import contextlib
import gc
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.draws import (
    DIMS_FILE,
    DRAWS_FILE,
    DrawsShape,
    HarnessResult,
    HashingFile,
    tampered_files,
    tampered_reason,
)
from engine.errors import ModelContractError, ModelTamperingError
from engine.fingerprint import Fingerprint, Probe
from engine.problem import Estimand, Gates, ModelData, SamplingSettings
from engine.records import Verdict, VerdictKind
from engine.scorer import score_draws, write_trace
from engine.scoring import BestSummary

__all__ = ["SampleReport", "run_model", "sample_model", "write_draws"]


def run_model(
    source: str,
    data: ModelData,
    *,
    contract_estimand: Estimand | str,
    settings: SamplingSettings,
    gates: Gates,
    best: BestSummary | None,
    workdir: str | Path,
    on_progress: Callable[[Any], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[Any], None] | None = None,
) -> HarnessResult:
    """Sample and judge one model in this process; never raises for anything the model does.

    The two halves the workbench runs in two sandbox children — :func:`sample_model` (runs
    the model's code) and :func:`engine.scorer.score_draws` (never does) — one after the
    other, for tests and benchmarks.

    Parameters
    ----------
    source
        The text of ``model.py``, defining ``build_model(data) -> pm.Model``.
    data
        The allowed controls, treatment and outcome.
    contract_estimand
        ATE, ATT or ATO: the population the effect is averaged over.
    settings
        nutpie chains, draws, tuning steps and seed.
    gates
        Convergence thresholds, the ELPD band and the sampling budget.
    best
        The current best model, or None if nothing has been kept yet.
    workdir
        Folder for ``draws.npz`` and ``trace.nc`` (created if missing).
    on_progress
        Receives :class:`engine.sampling.SamplingProgress` snapshots a few times a second.
    should_stop
        Polled while sampling; True cancels (the verdict is ``crashed``, error type
        ``SamplingCancelled``).
    progress
        Same as ``on_progress``; the name :func:`engine.sandbox.run_in_sandbox` passes.

    Returns
    -------
    HarnessResult
        The verdict (kept, discarded, failed_gate or crashed), timings per stage, the
        convergence table, pointwise ELPD, per-draw effects and the trace's path.
    """
    workdir = Path(workdir)
    report = sample_model(
        source,
        data,
        contract_estimand=contract_estimand,
        settings=settings,
        gates=gates,
        workdir=workdir,
        on_progress=on_progress or progress,
        should_stop=should_stop,
    )
    report = report.checked_files(workdir)
    if report.crashed is not None:
        return report.as_crashed()
    expected = DrawsShape(settings.chains, settings.draws, data.n)
    scored = score_draws(
        workdir / DRAWS_FILE,
        contract_estimand=contract_estimand,
        gates=gates,
        best=best,
        expected=expected,
    )
    if not scored.verdict.kind.scored:
        return scored.with_timings(report.timings)
    t0 = time.perf_counter()
    trace_path = write_trace(workdir / DRAWS_FILE, expected=expected, workdir=workdir)
    seconds = time.perf_counter() - t0
    timings = {**scored.timings, "trace": seconds, "total": scored.timings["total"] + seconds}
    return replace(scored, trace_path=str(trace_path), timings=timings).with_timings(report.timings)


@dataclass(frozen=True)
class SampleReport:
    """What the model child says about its run: timings, or why it produced no draws.

    It comes from the process that ran the agent's code, so nothing in it decides a verdict:
    the scorer reads the arrays, validates them and judges.
    """

    timings: dict[str, float] = field(default_factory=dict)
    crashed: str | None = None  # the crashed verdict's reason, when no draws were written
    digests: dict[str, str] = field(default_factory=dict)  # SHA-256 of each file as the harness wrote it
    error_type: str | None = None
    traceback: str | None = None
    fingerprint: Fingerprint | None = None  # of the build it sampled, for a second build on reshuffled data

    def checked_files(self, workdir: Path) -> SampleReport:
        """This report, or a crashed one when the files it vouches for are not as the harness wrote them.

        Parameters
        ----------
        workdir
            Where the model child's files were collected.

        Returns
        -------
        SampleReport
            Unchanged when it is crashed already or both files match their digests; otherwise
            crashed as a ``ModelTamperingError`` naming the files (:func:`engine.draws.tampered_files`).
        """
        changed = [] if self.crashed is not None else tampered_files(workdir, self.digests)
        if not changed:
            return self
        return replace(self, crashed=tampered_reason(changed), error_type="ModelTamperingError")

    def as_crashed(self) -> HarnessResult:
        """The ``crashed`` result this report stands for (the scorer is not needed).

        Returns
        -------
        HarnessResult
            With the report's reason, timings, error type and traceback.
        """
        return HarnessResult(
            verdict=Verdict(VerdictKind.CRASHED, self.crashed or "crashed."),
            timings=dict(self.timings),
            error_type=self.error_type,
            traceback=self.traceback,
        )


GO_POLL_S = 0.02
"""How often a prepared model child looks for the gate's opening."""


def sample_model(
    source: str,
    data: ModelData,
    *,
    contract_estimand: Estimand | str,
    settings: SamplingSettings,
    gates: Gates,
    workdir: str | Path,
    on_progress: Callable[[Any], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    wait_for_go: Callable[[], bool] | None = None,
) -> SampleReport:
    """The model child's half: build, sample, write ``draws.npz``; never raises for the model.

    The harness adds the pointwise log-likelihood and the estimand to the model as
    Deterministics after ``build_model`` returns, so nutpie evaluates both with every draw.
    The child writes them, the free parameters and the divergences as plain arrays
    (:data:`DRAWS_FILE`); it computes no score.

    Parameters
    ----------
    source
        The text of ``model.py``.
    data
        The allowed controls, treatment and outcome.
    contract_estimand
        ATE, ATT or ATO: the weights of the estimand Deterministic.
    settings
        nutpie chains, draws, tuning steps and seed.
    gates
        Only the sampling budget is used here.
    workdir
        Folder for ``draws.npz`` and ``dims.json`` (created if missing).
    on_progress
        Receives :class:`engine.sampling.SamplingProgress` snapshots.
    should_stop
        Polled while sampling; True cancels the run.
    wait_for_go
        Compile during review: compile, report :data:`~engine.progress.Phase.READY`, and
        sample only once ``wait_for_go()`` is true.

    Returns
    -------
    SampleReport
        The timings per stage, or, when anything failed (including a model that changed the
        harness's libraries), the crashed reason, error type and model.py traceback.
    """
    import pymc  # noqa: F401 - before the snapshot: importing it replaces sys.excepthook (PyTensor), not the model

    from engine import effects, loglik
    from engine.fingerprint import digest_draws, draw_probe, fingerprint
    from engine.intervention import intervention_problem
    from engine.sampled_values import sampled_disagreement
    from engine.sampling import Phase, SamplingProgress, compile_model, sample
    from engine.sandbox import integrity

    started = time.perf_counter()
    timings: dict[str, float] = {}
    clock = _Clock(timings)
    workdir = Path(workdir)
    try:
        with clock("load"):
            before = integrity.take()
            model = _build(source, data)
            _refuse_tampering(integrity.changes(before), "building the model")
            # After the tripwire: drawing from the prior imports parts of SciPy lazily. It runs only
            # PyTensor's and PyMC's own operations (the contract refuses any other), so no model code.
            _refuse_breach(intervention_problem(model))
            observed = loglik.add_log_likelihood(model)
            estimand = effects.add_estimand(model, effects.estimand_weights(contract_estimand, data.t, data.X))
            free = [rv.name for rv in model.free_RVs]
            # Keep only what the scorer reads: per-unit Deterministics such as mu would cost
            # units × draws × 8 bytes each (0.5 GB for LaLonde's 16,177 units).
            keep = free + [loglik.LOGLIK_PREFIX + observed, estimand]
        compiled: Any = model
        if wait_for_go is not None:
            if on_progress is not None:
                on_progress(SamplingProgress(Phase.COMPILING, 0.0, gates.sampling_budget_s))
            compiled = compile_model(model, keep)
            if on_progress is not None:
                on_progress(SamplingProgress(Phase.READY, 0.0, gates.sampling_budget_s, (), compiled.seconds))
            waiting = time.perf_counter()
            while not wait_for_go():
                time.sleep(GO_POLL_S)
            timings["review_wait"] = time.perf_counter() - waiting  # the principal reading, not the harness
        idata = sample(
            compiled,
            settings,
            budget_s=gates.sampling_budget_s,
            on_progress=on_progress,
            should_stop=should_stop,
            var_names=keep,
        )
        attrs = idata.posterior.attrs  # type: ignore[attr-defined]  # arviz groups are dynamic attributes
        timings["compile"] = (
            compiled.seconds if wait_for_go is not None else float(attrs.get("compile_time", float("nan")))
        )
        timings["sampling"] = float(attrs.get("sampling_time", float("nan")))
        if on_progress is not None:
            on_progress(
                SamplingProgress(Phase.SCORING, timings["sampling"], gates.sampling_budget_s, (), timings["compile"])
            )
        with clock("probe"):  # at draws picked now: a term that switches itself on where the posterior lies is on
            posterior = _posterior_draws(idata, model.free_RVs)
            _refuse_breach(intervention_problem(model, posterior), " (at a posterior draw)")
            _refuse_breach(sampled_disagreement(model, idata, loglik.LOGLIK_PREFIX + observed, estimand))
            seed = secrets.randbits(63)  # model.py could not know it while it built
            every = digest_draws(idata.posterior, model.free_RVs, data.n)  # type: ignore[attr-defined]  # arviz groups
            stamp = fingerprint(model, draw_probe(model, seed, posterior, every))
        with clock("write"):
            _refuse_tampering(integrity.changes(before, only=integrity.WRITE_PATH, threads=False), "sampling")
            workdir.mkdir(parents=True, exist_ok=True)
            with _no_collection():  # no garbage collection mid-write: no finalizer runs between the arrays and the disk
                digests = write_draws(
                    workdir / DRAWS_FILE, idata, free, loglik.LOGLIK_PREFIX + observed, estimand, observed
                )
            _refuse_tampering(integrity.changes(before, only=integrity.WRITE_PATH, threads=False), "writing")
    except Exception as exc:  # noqa: BLE001 - every failure of a model run is a crashed verdict
        timings["total"] = time.perf_counter() - started
        return _crashed_report(exc, timings)
    timings["total"] = time.perf_counter() - started
    return SampleReport(timings=timings, digests=digests, fingerprint=stamp)


def write_draws(
    path: Path, idata: Any, free: list[str], loglik_var: str, estimand_var: str, observed: str
) -> dict[str, str]:
    """Write the arrays the scorer reads (NumPy's format: no pickle) and their labels (JSON).

    Each file is created here (never one that exists: a file, link or pipe planted under its
    name makes the write fail) and hashed as its bytes are written, so the parent can tell
    whether the file it collects is the one written here.

    Parameters
    ----------
    path
        Where ``draws.npz`` goes; ``dims.json`` is written beside it.
    idata
        The trace.
    free
        Names of the free parameters, stored as ``param/<name>``.
    loglik_var
        The pointwise log-likelihood Deterministic, stored as ``loglik``.
    estimand_var
        The estimand Deterministic, stored as ``estimand``.
    observed
        The observed variable's name, recorded in ``dims.json``.

    Returns
    -------
    dict of str to str
        The SHA-256 of each file written, by file name (:func:`engine.draws.tampered_files` checks them).
    """
    import json

    post = idata.posterior
    arrays = {f"param/{name}": np.asarray(post[name].values) for name in free}
    arrays["loglik"] = np.asarray(post[loglik_var].values, dtype=float)
    arrays["estimand"] = np.asarray(post[estimand_var].values, dtype=float)
    arrays["diverging"] = np.asarray(idata.sample_stats["diverging"].values, dtype=bool)
    dims = {name: [str(d) for d in post[name].dims[2:]] for name in free}
    coords = {
        str(dim): [str(c) for c in post.coords[dim].values.tolist()]
        for name in free
        for dim in post[name].dims[2:]
        if dim in post.coords
    }
    labels = json.dumps({"observed": observed, "dims": dims, "coords": coords}).encode()
    with HashingFile(path) as out:
        np.savez(out, **arrays)  # type: ignore[arg-type]  # numpy's stub fears a key "allow_pickle"; none is
    with HashingFile(path.with_name(DIMS_FILE)) as labels_out:
        labels_out.write(labels)
    return {DRAWS_FILE: out.hexdigest(), DIMS_FILE: labels_out.hexdigest()}


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _no_collection() -> Iterator[None]:
    """The garbage collector off for the block (finalizers of cyclic garbage run only when it collects)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class _Clock:
    """``with clock("stage"):`` adds the block's wall time to ``timings["stage"]``."""

    def __init__(self, timings: dict[str, float]) -> None:
        self.timings = timings

    def __call__(self, stage: str) -> _Clock:
        self._stage = stage
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.timings[self._stage] = self.timings.get(self._stage, 0.0) + time.perf_counter() - self._start


POSTERIOR_PROBES = 2
"""Posterior draws, picked after sampling, at which the contract is checked again and the fingerprint taken."""


def _posterior_draws(idata: Any, free: list[Any]) -> list[tuple[np.ndarray, ...]]:
    """:data:`POSTERIOR_PROBES` draws of the free variables, chosen where the model cannot know."""
    posterior = idata.posterior
    chains, draws = posterior.sizes["chain"], posterior.sizes["draw"]
    picks = [(secrets.randbelow(chains), secrets.randbelow(draws)) for _ in range(POSTERIOR_PROBES)]
    return [tuple(np.asarray(posterior[rv.name].values[c, d]) for rv in free) for c, d in picks]


def build_fingerprint(source: str, data: ModelData, probe: Probe) -> Fingerprint:
    """Build the model again (on :func:`engine.fingerprint.reshuffled` data) and take its fingerprint at ``probe``.

    Parameters
    ----------
    source
        The text of ``model.py``, as the model child ran it.
    data
        The reshuffled data.
    probe
        The model child's probe, moved to this data's row order (never the seed it came from).

    Returns
    -------
    Fingerprint

    Raises
    ------
    ModelContractError
        The build breaks the contract on this data.
    ModelTamperingError
        The build changed the harness's libraries.
    """
    from engine.fingerprint import fingerprint
    from engine.sandbox import integrity

    before = integrity.take()
    model = _build(source, data)
    _refuse_tampering(integrity.changes(before), "building the model")
    return fingerprint(model, probe)


def _build(source: str, data: ModelData) -> Any:
    """Load ``model.py`` from source, call ``build_model(data)`` and check the contract."""
    from engine.contract import contract_problem
    from engine.leftovers import model_code_alive, odd_build

    earlier = model_code_alive()
    model = _build_and_forget(source, data)
    _refuse_breach(odd_build(model, earlier) or contract_problem(model, data))
    return model


def _build_and_forget(source: str, data: ModelData) -> Any:
    """``build_model(data)``, with the module gone from ``sys.modules`` and from every frame once it returns."""
    from engine.compile_check import load_model_module
    from engine.contract import MODEL_MODULE

    try:
        module = load_model_module(source)
        build = getattr(module, "build_model", None)
        if not callable(build):
            raise ModelContractError("model.py defines no build_model(data) function; add one that returns a pm.Model")
        return build(data)
    finally:  # no state leaks into the next model run in this process
        sys.modules.pop(MODEL_MODULE, None)


def _refuse_breach(problem: tuple[str, str] | None, where: str = "") -> None:
    """Raise the contract's (error, hint) as a :class:`ModelContractError`, when there is one."""
    if problem is not None:
        error, hint = problem
        raise ModelContractError(f"{error}{where}; {hint}")


def _refuse_tampering(found: list[str], when: str) -> None:
    if found:
        raise ModelTamperingError(
            f"model.py changed code the harness runs after it ({'; '.join(found)}) while {when}; a model may only "
            "build a model: remove the assignments to library objects"
        )


def _crashed_report(exc: BaseException, timings: dict[str, float]) -> SampleReport:
    from engine.compile_check import model_traceback

    message = " ".join(str(exc).split()) or "no message"
    if len(message) > 400:
        message = message[:397] + "..."
    reason = f"{type(exc).__name__}: {message}"
    if not reason.endswith("."):
        reason += "."
    return SampleReport(timings=timings, crashed=reason, error_type=type(exc).__name__, traceback=model_traceback(exc))
