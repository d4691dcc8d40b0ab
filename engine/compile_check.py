"""The compile check: does a proposed ``model.py`` build, and do its log-density and gradient evaluate?

It is the cheap test every agent proposal passes before a person reads it (ModelCraft's
loop): in the sandbox, load the source as a module, call ``build_model(data)``, check the
model contract (a ``t`` data container, a ``mu`` Deterministic with one entry per unit that
depends on ``t``, exactly one observed variable, no discrete parameters), then evaluate
every variable's log-density and the gradient at the initial point. The answer is a
:class:`~engine.records.CompileResult`: ok with the number of unconstrained parameters and
the log-density, or a one-line error, the traceback trimmed to ``model.py``'s frames, and a
hint that says what to change.

Speed: evaluating with PyTensor's graph rewrites switched off compiles in about 0.1 s
instead of about 1 s (FAST_COMPILE); only a non-finite or failing result is evaluated
again with FAST_COMPILE (whose rewrites stabilise e.g. ``log(sigmoid(x))``) before it is
reported. The warm sandbox server runs one check at start-up (:func:`warm_sandbox`), so a
check in a fresh fork pays neither imports nor PyTensor's first-use costs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import linecache
import re
import sys
import tempfile
import time
import traceback
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from engine.contract import MODEL_FILENAME, MODEL_MODULE, contract_problem
from engine.guard.tables import ALLOWED_IMPORTS, OBSOLETE_ATTRIBUTES, OBSOLETE_MODULES
from engine.intervention import intervention_checks
from engine.leftovers import model_code_alive, odd_build
from engine.problem import ModelData
from engine.records import CompileResult
from engine.sandbox import CrashKind, SandboxOutcome, SandboxViolation, _CancelLike, run_in_sandbox

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_MB = 3072

# --------------------------------------------------------------------------- public API


def compile_check(
    source: str,
    data: ModelData,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    workdir: str | Path | None = None,
    memory_mb: int = DEFAULT_MEMORY_MB,
    cancel: _CancelLike | None = None,
    on_progress: Callable[[Any], None] | None = None,
) -> CompileResult:
    """Build the model in ``source`` and evaluate its log-density and gradient, in the sandbox.

    Parameters
    ----------
    source
        The text of a ``model.py`` that defines ``build_model(data) -> pm.Model``.
    data
        What ``build_model`` receives (:meth:`engine.problem.Problem.model_data`).
    timeout_s
        Wall-clock budget for loading, building and evaluating; a model that takes longer
        (an endless loop) is reported as an error, not waited on.
    workdir
        The child's work folder (inside the session); a temporary folder when omitted.
    memory_mb
        Memory limit of the child.
    cancel
        An event that stops the check when set.
    on_progress
        Receives ``{"phase": name, "seconds": elapsed}`` as the check moves through
        load, build, contract, initial_point, graph, compile and evaluate.

    Returns
    -------
    CompileResult
        ``seconds`` is measured from this call to the result. Never raises for anything
        the model code does.

    Examples
    --------
    >>> from engine.problem_load import load_problem  # doctest: +SKIP
    >>> problem = load_problem("problems/ihdp")  # doctest: +SKIP
    >>> compile_check(problem.read_text("model.py"), problem.model_data()).ok  # doctest: +SKIP
    True
    """
    t0 = time.monotonic()
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="workbench-compile-"))
        outcome = run_in_sandbox(
            check_model_source,
            source,
            data,
            timeout_s=timeout_s,
            workdir=workdir,
            memory_mb=memory_mb,
            cancel=cancel,
            on_progress=on_progress,
            progress_interval_s=0,
            outputs=(),  # the check writes nothing the workbench reads; only its log comes back
        )
    seconds = time.monotonic() - t0
    if outcome.ok and isinstance(outcome.value, CompileResult):
        return dataclasses.replace(outcome.value, seconds=seconds)
    return _crash_result(outcome, seconds, timeout_s, memory_mb)


def load_model_module(source: str, *, filename: str = MODEL_FILENAME, name: str = MODEL_MODULE) -> types.ModuleType:
    """Execute model source as a module (in the sandbox child only) and return it.

    The source is compiled under ``filename`` and registered with :mod:`linecache`, so
    tracebacks show its lines without a file on disk. The harness loads models the same way.

    Parameters
    ----------
    source
        The text of ``model.py``.
    filename
        The name tracebacks show for it.
    name
        The module's name; it is registered in :data:`sys.modules` under it.

    Returns
    -------
    types.ModuleType

    Raises
    ------
    SyntaxError
        If the source does not parse.
    Exception
        Whatever the module's top-level code raises (an ``ImportError``, say).
    """
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    code = compile(source, filename, "exec", dont_inherit=True)
    module = types.ModuleType(name)
    module.__file__ = filename
    sys.modules[name] = module
    exec(code, module.__dict__)  # noqa: S102 - this is the sandboxed child; that is the point
    return module


def check_model_source(source: str, data: ModelData, *, progress: Callable[[dict[str, Any]], None]) -> CompileResult:
    """The compile check itself; runs in the sandbox child (see :func:`compile_check`).

    Load ``model.py``, call ``build_model(data)``, check the model contract, then evaluate the
    log-density, its gradient and ``mu`` at the initial point.

    Parameters
    ----------
    source
        The text of ``model.py``.
    data
        The data ``build_model`` receives.
    progress
        The sandbox's progress callback: gets ``{"phase": …, "seconds": …}`` as each step starts.

    Returns
    -------
    CompileResult
        ``ok`` with the number of free parameters and the total log-density, or the first
        failure with its error, the model.py lines of its traceback and a hint.

    Raises
    ------
    MemoryError
        Passed on, so the sandbox reports it as a memory crash.
    """
    t0 = time.perf_counter()

    def phase(name: str) -> None:
        progress({"phase": name, "seconds": round(time.perf_counter() - t0, 4)})

    def fail(error: str, hint: str, tb: str | None = None) -> CompileResult:
        return CompileResult(ok=False, seconds=time.perf_counter() - t0, error=error, traceback=tb, hint=hint)

    phase("load")
    earlier = model_code_alive()
    try:
        module = load_model_module(source)
    except SyntaxError as exc:
        return _syntax_failure(exc, t0)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - model code can raise anything; each becomes a hint
        return _exception_failure(exc, t0, "loading model.py")
    build = getattr(module, "build_model", None)
    if not callable(build):
        return fail(
            "model.py defines no build_model(data)",
            "define `def build_model(data):` that builds the model inside `with pm.Model() as model:` and returns model",
        )
    phase("build")
    try:
        model = build(data)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001
        return _exception_failure(exc, t0, "building the model")
    finally:
        sys.modules.pop(MODEL_MODULE, None)
    del module, build  # nothing of model.py may outlive build_model (odd_build looks)
    phase("contract")
    problem = odd_build(model, earlier) or contract_problem(model, data)
    if problem is not None:
        return fail(*problem)
    phase("initial_point")
    try:
        point = model.initial_point()
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001
        return _exception_failure(exc, t0, "computing the initial point")
    try:
        evaluation = _evaluate(model, point, data, phase)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001
        return _exception_failure(exc, t0, "evaluating the log-density")
    if isinstance(evaluation, tuple):
        return fail(*evaluation)
    n_free = int(sum(point[v.name].size for v in model.continuous_value_vars))
    return CompileResult(ok=True, seconds=time.perf_counter() - t0, n_free=n_free, logp=evaluation)


def warm_sandbox() -> None:
    """Run one check on a tiny model in the warm server, so forked checks skip first-use costs."""
    import numpy as np
    import pandas as pd

    from engine.problem import OutcomeType

    rng = np.random.default_rng(0)
    n = 12
    X = pd.DataFrame({"a": rng.normal(size=n), "b": (rng.random(n) > 0.5).astype(float)})
    t = (rng.random(n) > 0.5).astype(float)
    data = ModelData(
        X=X,
        t=t,
        y=X["a"].to_numpy() + t,
        continuous=("a",),
        binary=("b",),
        outcome_type=OutcomeType.CONTINUOUS,
        treatment_name="t",
        outcome_name="y",
    )
    from engine.reference_model import reference_model_source

    try:
        check_model_source(reference_model_source(), data, progress=lambda _message: None)
    finally:
        sys.modules.pop(MODEL_MODULE, None)
        linecache.cache.pop(MODEL_FILENAME, None)


# --------------------------------------------------------------------------- the checks


def _evaluate(
    model: Any, point: dict[str, Any], data: ModelData, phase: Callable[[str], None]
) -> float | tuple[str, str]:
    """Log-density, gradient and mu at the initial point: the total logp, or (error, hint)."""
    import numpy as np
    import pytensor.tensor as pt
    from pymc.pytensorf import rewrite_pregrad
    from pytensor.compile.mode import FAST_COMPILE, Mode
    from pytensor.gradient import grad
    from pytensor.link.vm import VMLinker

    factors = list(model.basic_RVs) + list(model.potentials)
    wrt = list(model.continuous_value_vars)
    (mu,) = model.replace_rvs_by_values([model["mu"]])
    # None is pytensor's own key for no rewrites (predefined_optimizers[None]); its annotation omits it
    no_rewrites = Mode(VMLinker(use_cloop=False, c_thunks=False), None)  # type: ignore[arg-type]
    # First the fast path: no graph rewrites at all. Only if it fails or gives a non-finite
    # number, check again the way PyMC would (pre-gradient rewrites, FAST_COMPILE) before
    # blaming the model: rewrites turn e.g. log(sigmoid(x)) into a stable form.
    values: list[Any] = []
    for careful in (False, True):
        phase("graph")
        terms = [f.sum() for f in model.logp(factors, sum=False)]
        total = pt.add(*terms) if len(terms) > 1 else terms[0]
        # wrt is a list, so grad returns a list (its overloads cannot tell a list from one variable)
        grads = cast("list[Any]", grad(rewrite_pregrad(total) if careful else total, wrt)) if wrt else []
        phase("compile")
        try:
            fn = model.compile_fn(
                [*terms, *grads, mu],
                inputs=model.value_vars,
                mode=FAST_COMPILE if careful else no_rewrites,
                on_unused_input="ignore",
            )
            phase("evaluate")
            values = [np.asarray(v) for v in fn(point)]
        except Exception:  # noqa: BLE001 - the careful pass re-raises
            if careful:
                raise
            continue
        if all(np.all(np.isfinite(v)) for v in values):
            break
    term_values = values[: len(terms)]
    grad_values = values[len(terms) : len(terms) + len(grads)]
    mu_value = values[-1]

    bad = [f.name for f, v in zip(factors, term_values) if not np.isfinite(v)]
    if bad:
        observed = {v.name for v in model.observed_RVs}
        priors = [name for name in bad if name not in observed]
        if priors:
            hint = (
                f"the initial point is outside the support of {', '.join(priors)}, or its parameters are invalid "
                "(a negative or zero scale, bounds the wrong way round): check those priors' arguments"
            )
        else:
            hint = (
                "the likelihood of the observed outcome is not finite at the initial point: check that mu is on the "
                "outcome's scale, that the noise scale is positive, and (binary outcome) that mu is a probability in (0, 1)"
            )
        return f"the log-density is not finite at the initial point for: {', '.join(bad)}", hint
    bad_grad = [model.values_to_rvs[v].name for v, g in zip(wrt, grad_values) if not np.all(np.isfinite(g))]
    if bad_grad:
        return (
            f"the gradient is not finite at the initial point for: {', '.join(bad_grad)}",
            "look for functions without a derivative at the initial point (sqrt or log of 0, abs, switch) in terms "
            "involving those variables",
        )
    if mu_value.shape != (data.n,):
        return (
            f"mu has shape {mu_value.shape}, but the data have {data.n} units",
            'mu needs one entry per unit: `pm.Deterministic("mu", ..., dims="obs")` with vectors of length data.n',
        )
    if not np.all(np.isfinite(mu_value)):
        return "mu is not finite at the initial point", "look for divisions by zero or exp() overflow in mu"
    if data.outcome_type == "binary" and (mu_value.min() < 0 or mu_value.max() > 1):
        return (
            "mu is not a probability for this binary outcome",
            "for a binary outcome mu must lie in [0, 1]: use pm.math.invlogit(...) and pm.Bernoulli(p=mu)",
        )
    if data.outcome_type == "count" and mu_value.min() < 0:
        return (
            "mu is negative for this count outcome",
            "for a count outcome mu is the expected count: use pm.math.exp(...) and pm.NegativeBinomial(mu=mu, ...)",
        )
    phase("intervention")
    mixed = intervention_checks(model, mu, point)
    if mixed is not None:
        return mixed
    return float(sum(float(v) for v in term_values))


# --------------------------------------------------------------------------- failures and hints


def _syntax_failure(exc: SyntaxError, t0: float) -> CompileResult:
    where = f" (line {exc.lineno})" if exc.lineno else ""
    return CompileResult(
        ok=False,
        seconds=time.perf_counter() - t0,
        error=f"{type(exc).__name__}: {exc.msg}{where}",
        traceback="".join(traceback.format_exception_only(exc)).rstrip(),
        hint=f"fix the Python syntax at line {exc.lineno} of model.py"
        if exc.lineno
        else "fix the Python syntax of model.py",
    )


def _exception_failure(exc: BaseException, t0: float, stage: str) -> CompileResult:
    return CompileResult(
        ok=False,
        seconds=time.perf_counter() - t0,
        error=f"{type(exc).__name__}: {_one_line(str(exc))}",
        traceback=model_traceback(exc),
        hint=hint_for(exc, stage),
    )


def model_traceback(exc: BaseException) -> str:
    """The frames of ``exc`` that lie in model.py, then the exception's first lines.

    PyTensor errors raised while evaluating a compiled function carry no model.py frames;
    the places in model.py where the failing node was created (from PyTensor's
    "Backtrace when the node is created") are shown instead.

    Parameters
    ----------
    exc
        An exception raised by model code, or while evaluating the model.

    Returns
    -------
    str
    """
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == MODEL_FILENAME]
    parts = traceback.format_list(frames)
    if not frames:
        created = re.findall(rf'File "{re.escape(MODEL_FILENAME)}", line (\d+), in (\S+)', str(exc))
        for lineno, func in dict.fromkeys(created):
            line = linecache.getline(MODEL_FILENAME, int(lineno)).strip()
            parts.append(
                f'  File "{MODEL_FILENAME}", line {lineno}, in {func} (where the failing node was created)\n    {line}\n'
            )
    message = "\n".join(str(exc).strip().splitlines()[:6])
    parts.append(f"{type(exc).__name__}: {message}")
    return "".join(parts)


def hint_for(exc: BaseException, stage: str) -> str:
    """What to change, for the common ways model code fails.

    Parameters
    ----------
    exc
        The exception model code raised.
    stage
        What was being done, in words (``building the model``); it words the fallback hint.

    Returns
    -------
    str
        One sentence: a sandbox refusal, a module outside the allow-list, an obsolete or
        invented PyMC API (with close matches), a wrong argument, a missing key, an undefined
        name, a shape mismatch, endless recursion, or else the stage that failed.
    """
    message = str(exc)
    if isinstance(exc, SandboxViolation):
        return (
            "model code may not write files outside its folder, open sockets, start processes or read the "
            "ground truth; remove that code"
        )
    if isinstance(exc, ImportError):
        name = (getattr(exc, "name", None) or "").split(".")[0]
        if name in OBSOLETE_MODULES:
            return f"{name} is obsolete in PyMC 5: {OBSOLETE_MODULES[name]}"
        allowed = ", ".join(m for m in ALLOWED_IMPORTS if m != "__future__")
        return f"{name or 'that module'} is not available to model code: import only {allowed}"
    if isinstance(exc, AttributeError):
        owner = getattr(exc, "obj", None)
        attr = getattr(exc, "name", None)
        owner_name = getattr(owner, "__name__", "") if isinstance(owner, types.ModuleType) else ""
        if attr and owner_name.split(".")[0] in ("pymc", "pytensor", "numpy"):
            replacement = OBSOLETE_ATTRIBUTES.get(f"{owner_name.split('.')[0]}.{attr}")
            if replacement:
                return f"{owner_name}.{attr} does not exist in PyMC 5: use {replacement}"
            close = difflib.get_close_matches(attr, [a for a in dir(owner) if not a.startswith("_")], n=3)
            suggestion = f"; did you mean {', '.join(f'{owner_name}.{c}' for c in close)}?" if close else ""
            return f"{owner_name}.{attr} does not exist (an invented or outdated API){suggestion}"
        if attr and type(owner).__name__ == "ModelData":
            return f"data has no attribute {attr!r}: use data.X (allowed controls), data.t, data.y, data.n, data.continuous, data.binary"
        return f"an attribute does not exist: {_one_line(message)}; check the object's type and the PyMC 5 API"
    if isinstance(exc, TypeError) and re.search(
        r"unexpected keyword|got multiple values|missing \d+ required|positional argument", message
    ):
        extra = " (PyMC 5 names the scale sigma=, not sd=)" if "'sd'" in message else ""
        return f"a function got the wrong arguments{extra}: {_one_line(message)}; check its signature in PyMC 5"
    if isinstance(exc, KeyError) and stage == "building the model":
        return f"key {message} is missing: data.X holds only the allowed controls, listed in data.X.columns"
    if isinstance(exc, NameError):
        return f"{_one_line(message)}: define the name or import it (pm, pt, np) at the top of model.py"
    if _looks_like_shape_error(exc):
        return (
            "a shape mismatch: vectors must have one entry per unit (data.n) and matrix products must line up "
            '(X is n × k, so its coefficients need k entries, e.g. dims="control"); see the line shown'
        )
    if isinstance(exc, RecursionError):
        return "build_model recursed too deeply; look for a function that calls itself without end"
    return f"{stage} failed; the last model.py line in the traceback raised it"


def _looks_like_shape_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, (ValueError, IndexError, TypeError)) and any(
        word in text for word in ("shape", "broadcast", "dimension", "incompatible", "size", "out of bounds", "dims")
    )


def _one_line(text: str, limit: int = 240) -> str:
    lines = text.strip().splitlines()
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _crash_result(outcome: SandboxOutcome, seconds: float, timeout_s: float, memory_mb: int) -> CompileResult:
    """Turn a sandbox crash into a compile error with a hint."""
    kind = outcome.crash
    stack = _model_lines_in_log(outcome.log_tail)
    if kind is CrashKind.TIMEOUT:
        error = f"the model took longer than {timeout_s:g} s to build and evaluate"
        hint = (
            f"the model took longer than {timeout_s:g} s to build; look for loops in build_model that never end or "
            "that run once per unit (vectorise them with arrays)"
        )
    elif kind is CrashKind.MEMORY:
        error = f"the model needed more than {memory_mb} MB of memory"
        hint = "look for huge arrays (an n × n matrix, a per-unit loop of parameters) and shrink them"
    elif kind is CrashKind.SIGNAL:
        error = f"the model crashed the Python process: {outcome.message}"
        hint = "model code must not use ctypes or native extensions; rewrite the failing step with pymc/pytensor"
    elif kind is CrashKind.EXIT:
        error = f"model code ended the process (exit status {outcome.exit_code})"
        hint = "remove sys.exit / os._exit / quit() from model.py"
    elif kind is CrashKind.CANCELLED:
        error = "the compile check was cancelled"
        hint = "run the check again"
    elif kind is CrashKind.EXCEPTION:
        error = f"{outcome.error_type}: {_one_line(outcome.error or '')}"
        hint = "the sandbox refused an action or the check failed unexpectedly; see the traceback"
        stack = outcome.traceback or stack
    else:
        error = outcome.message
        hint = "run the check again; if it repeats, report it with the sandbox log"
    return CompileResult(ok=False, seconds=seconds, error=error, traceback=stack or None, hint=hint)


def _model_lines_in_log(log_tail: str) -> str:
    """model.py frames from a faulthandler dump in the child's log (written when it was stopped)."""
    found = re.findall(rf'File "{re.escape(MODEL_FILENAME)}", line (\d+) in (\S+)', log_tail)
    return "".join(
        f'  File "{MODEL_FILENAME}", line {n}, in {func} (running when it was stopped)\n'
        for n, func in dict.fromkeys(found)
    ).rstrip()
