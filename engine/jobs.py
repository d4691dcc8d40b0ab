"""The functions sandbox children run, by name: each imports only what its job needs.

A child unpickles its function by module and name, which imports the module; so these live
here, away from :mod:`engine.loop`, whose imports (GitPython runs ``git`` when imported)
have no place inside the sandbox, where no program may be executed.
"""

from __future__ import annotations

from pathlib import Path


def sample_job(source: str, data, *, progress=None, gated: bool = False, **kwargs):
    """Sandbox entry point of the model child: build, sample, write the arrays into its folder.

    Parameters
    ----------
    source
        The text of ``model.py``.
    data
        The :class:`~engine.problem.ModelData` ``build_model`` receives.
    progress
        The sandbox's progress callback, passed on as ``on_progress``.
    gated
        Compile during review: compile, then wait for the sandbox gate's file before sampling.
    **kwargs
        The rest of :func:`engine.harness.sample_model`'s keywords (estimand, settings, gates,
        ``should_stop``).

    Returns
    -------
    SampleReport
        ``draws.npz`` and ``dims.json`` are written in the child's working folder.
    """
    from engine.harness import sample_model
    from engine.sandbox.outcome import GATE_FILE

    go = (Path.cwd() / GATE_FILE).exists if gated else None
    return sample_model(source, data, workdir=Path.cwd(), on_progress=progress, wait_for_go=go, **kwargs)


def score_job(*, progress=None, **kwargs):
    """Sandbox entry point of the scorer: a fresh child that never ran the model's code.

    Parameters
    ----------
    progress
        The sandbox's progress callback (unused).
    **kwargs
        :func:`engine.scorer.score_draws`'s keywords other than the path
        (estimand, gates, best, expected shape); the draws are read from the working folder.

    Returns
    -------
    HarnessResult
    """
    from engine.draws import DRAWS_FILE
    from engine.scorer import score_draws

    return score_draws(Path.cwd() / DRAWS_FILE, **kwargs)


def probe_job(source: str, data, *, probe, progress=None):
    """Sandbox entry point of the second build: ``model.py`` again, on reshuffled data, for its fingerprint.

    Parameters
    ----------
    source
        The text of ``model.py``.
    data
        The :class:`~engine.problem.ModelData` reshuffled over the units.
    probe
        The model child's :class:`~engine.fingerprint.Probe`, moved to this data's row order.
    progress
        The sandbox's progress callback (unused).

    Returns
    -------
    Fingerprint
    """
    from engine.harness import build_fingerprint

    return build_fingerprint(source, data, probe)


def trace_job(*, progress=None, expected):
    """Sandbox entry point of the trace writer: after the verdict, the validated arrays as NetCDF.

    Parameters
    ----------
    progress
        The sandbox's progress callback (unused).
    expected
        The :class:`~engine.draws.DrawsShape` the settings and data call for.

    Returns
    -------
    str
        The trace's file name, written in the working folder.
    """
    import os

    from engine.draws import DRAWS_FILE
    from engine.scorer import write_trace

    os.nice(19)  # nobody waits for the trace: the next iteration's compile and sampling go first
    return write_trace(Path.cwd() / DRAWS_FILE, expected=expected, workdir=Path.cwd()).name


def labels(workdir: Path) -> dict[str, Path]:
    """The scorer's second input besides ``draws.npz``: ``dims.json``, when the model child wrote it.

    Parameters
    ----------
    workdir
        The model child's folder.

    Returns
    -------
    dict of str to Path
        ``{"dims.json": path}``, or empty when the file is missing or a symlink.
    """
    from engine.draws import DIMS_FILE

    path = workdir / DIMS_FILE
    return {DIMS_FILE: path} if path.is_file() and not path.is_symlink() else {}


def design_job(spec, problem_data, *, progress=None, **kwargs):
    """Sandbox entry point: the design run (EconML fits) off the UI process.

    Parameters
    ----------
    spec
        The analysis spec.
    problem_data
        A :class:`~engine.problem.Problem`, or ``(frame, contract)``.
    progress
        The sandbox's progress callback, passed on as ``on_progress``.
    **kwargs
        The rest of :func:`engine.design.run.run_design`'s keywords.

    Returns
    -------
    DesignResult
        The estimate's target weight per unit is saved in the child's working folder
        (:data:`engine.design.support.POPULATION_FILE`).
    """
    from engine.design.run import run_design
    from engine.design.support import POPULATION_FILE

    return run_design(spec, problem_data, on_progress=progress, population_file=Path.cwd() / POPULATION_FILE, **kwargs)
