"""The cache warmer: the one process that writes the trusted compiler cache.

It compiles our reference model and the problem's baseline (the principal's file), nothing an
agent wrote, into :func:`engine.sandbox.cache.trusted_cache_dir` — inside bubblewrap when
available, with only that folder writable. Jobs then copy the cache instead of compiling
from cold (:mod:`engine.sandbox.cache` says why the split by trust matters).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from engine.compile_check import load_model_module
from engine.contract import MODEL_MODULE
from engine.sandbox.cache import NUMBA_SUBDIR, ReferenceModel, missing_references, trusted_cache_dir, warmed_stamp
from engine.sandbox.isolation import ENGINE_ROOT, bwrap_command, bwrap_executable, sandbox_env, spawn_environment
from engine.sandbox.server import _server_environ, _with_flag
from engine.sandbox.zygote import _warm_jit

__all__ = ["warm_in_background", "warm_trusted_cache"]


def warm_trusted_cache(references: Sequence[ReferenceModel] = (), timeout_s: float = 600) -> bool:
    """Compile the reference model and ``references`` into the trusted cache; blocks.

    Runs in its own process — inside bubblewrap when available, with only the trusted cache
    writable — and returns at once when everything is compiled already. Returns False if
    the warmer failed (the workbench still works; jobs compile from a colder cache).

    Parameters
    ----------
    references
        Reference models to compile besides the built-in one.
    timeout_s
        How long the warmer process may take.

    Returns
    -------
    bool
        True when nothing was left to compile or the warmer exited cleanly (a reference that
        fails to compile is reported on its stderr and skipped, not counted as a failure);
        False when it could not start, ran out of time or exited with an error.
    """
    cache = trusted_cache_dir()
    todo = [None, *references]
    todo = [r for r in todo if not (cache / warmed_stamp(r)).exists()]
    if not todo:
        return True
    payload = pickle.dumps([r for r in todo if r is not None])
    argv = [sys.executable, "-c", "from engine.cache_warmer import _warmer_main; _warmer_main()", str(cache)]
    env = _warmer_env(cache)
    bwrap = bwrap_executable()
    if bwrap is not None:
        argv = bwrap_command(bwrap, argv, sandbox_env(env), writable=[str(cache)])
        env = spawn_environment()
    try:
        done = subprocess.run(argv, input=payload, env=env, capture_output=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def warm_in_background(references: Sequence[ReferenceModel] = ()) -> threading.Thread | None:
    """Start :func:`warm_trusted_cache` on a daemon thread, unless everything is warm already.

    Parameters
    ----------
    references
        Reference models to compile besides the built-in one.

    Returns
    -------
    threading.Thread or None
        The warmer's thread, or None when there is nothing to compile.
    """
    if (trusted_cache_dir() / warmed_stamp(None)).exists() and not missing_references(references):
        return None
    thread = threading.Thread(
        target=warm_trusted_cache, args=(tuple(references),), name="sandbox-cache-warmer", daemon=True
    )
    thread.start()
    return thread


def _warmer_env(cache: Path) -> dict[str, str]:
    # The server's flags (the user's, and no C compiler) with the trusted cache as compile folder,
    # so what the warmer compiles is what the jobs look up.
    env = _server_environ(os.environ, str(ENGINE_ROOT.parent))
    env["PYTENSOR_FLAGS"] = _with_flag(env["PYTENSOR_FLAGS"], "base_compiledir", str(cache / "pytensor"))
    return env


def _warmer_main() -> None:
    """The warmer process: compile the references with the trusted cache as the cache."""
    cache = Path(sys.argv[1])
    references: list[ReferenceModel] = pickle.loads(sys.stdin.buffer.read())  # from our own parent
    import pytensor
    import pytensor.link.numba.cache as numba_cache

    numba_cache.NUMBA_CACHE_PATH = cache / NUMBA_SUBDIR
    pytensor.config.numba__cache = True
    if not (cache / warmed_stamp(None)).exists():
        _warm_jit()
        (cache / warmed_stamp(None)).touch()
    for reference in references:
        import nutpie

        try:
            model = load_model_module(reference.source).build_model(reference.data)
            nutpie.compile_pymc_model(model, backend="numba")
        except Exception as exc:  # noqa: BLE001 - a baseline that does not compile is the loop's to report
            print(f"cache warmer: reference failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        finally:
            sys.modules.pop(MODEL_MODULE, None)
        (cache / warmed_stamp(reference)).touch()
