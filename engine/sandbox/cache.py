"""PyTensor's Numba cache, split by trust, so no job can plant code another process runs.

Numba's cache index files are pickles: whoever can write a cache entry can run code in the
next process that loads it. So:

- The **trusted cache** (:func:`trusted_cache_dir`, one per set of library versions under the
  user's cache folder) is written only by the *cache warmer* (:func:`warm_trusted_cache`), a
  process that compiles our reference model and the problem's baseline model (the
  principal's file) and nothing an agent wrote. The sandbox sees it read-only.
- Each **job** copies it into its own folder before any job code runs
  (:func:`use_private_cache`; about 2 MB, about 10 ms) and compiles there; whatever a job
  compiles is thrown away with its folder.
- The **warm server** compiles its JIT warm-up with the disk cache off
  (:func:`disable_disk_cache`), so it never reads a file a job could have written.

Measured here on the IHDP baseline in a job: 7.5 s to compile with a trusted cache that
holds only the reference model, 3.6 s once the warmer has compiled the problem's baseline.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import shutil
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

TRUSTED_CACHE_VARIABLE = "WORKBENCH_TRUSTED_CACHE"
"""Names the trusted cache folder inside the sandbox (set by the parent, read by each job)."""
_NUMBA_SUBDIR = "numba"
_PRIVATE_SUBDIR = ".cache"


@dataclass(frozen=True)
class ReferenceModel:
    """A model the warmer compiles into the trusted cache: trusted source and its data."""

    source: str
    data: Any  # engine.problem.ModelData


def trusted_cache_dir() -> Path:
    """The trusted cache for these library versions (created if missing).

    Returns
    -------
    Path
        Under ``$XDG_CACHE_HOME`` (or ``~/.cache``), ``causal-workbench/sandbox-cache/<key>``,
        where the key hashes the Python, PyTensor, Numba, nutpie, PyMC and NumPy versions.
    """
    versions = [sys.version.split()[0]]
    for package in ("pytensor", "numba", "nutpie", "pymc", "numpy"):
        try:
            versions.append(f"{package}={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{package}=none")
    key = hashlib.sha256(" ".join(versions).encode()).hexdigest()[:16]
    home = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(home) / "causal-workbench" / "sandbox-cache" / key
    (path / _NUMBA_SUBDIR).mkdir(parents=True, exist_ok=True)
    (path / "pytensor" / "numba").mkdir(parents=True, exist_ok=True)  # the server's (read-only) PyTensor folder
    return path


def disable_disk_cache() -> None:
    """In the warm server: compile without reading or writing any cache file."""
    import pytensor

    pytensor.config.numba__cache = False


def use_private_cache(job_dir: str) -> None:
    """In a job's child, before job code runs: a private copy of the trusted cache, used from now on.

    Does nothing when PyTensor is not imported.

    Parameters
    ----------
    job_dir
        The job's folder; the copy goes under it.
    """
    if "pytensor" not in sys.modules:
        return
    import pytensor
    import pytensor.link.numba.cache as numba_cache

    private = Path(job_dir) / _PRIVATE_SUBDIR / _NUMBA_SUBDIR
    trusted = os.environ.get(TRUSTED_CACHE_VARIABLE)
    source = Path(trusted) / _NUMBA_SUBDIR if trusted else None
    if source is not None and source.is_dir():
        shutil.copytree(source, private, symlinks=False, dirs_exist_ok=True)
    else:
        private.mkdir(parents=True, exist_ok=True)
    numba_cache.NUMBA_CACHE_PATH = private
    pytensor.config.numba__cache = True
    try:
        import numba

        numba.config.CACHE_DIR = str(private.parent / "numba-user")
    except ImportError:
        pass


def _stamp(reference: ReferenceModel | None) -> str:
    text = reference.source if reference is not None else "reference-model"
    return "warmed-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def missing_references(references: Sequence[ReferenceModel]) -> list[ReferenceModel]:
    """The references the trusted cache has not compiled yet.

    The built-in reference model is not among them: :func:`warm_in_background` checks it
    separately.

    Parameters
    ----------
    references
        Reference models (trusted baselines and their data).

    Returns
    -------
    list of ReferenceModel
    """
    cache = trusted_cache_dir()
    return [r for r in references if not (cache / _stamp(r)).exists()]


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
    from engine.sandbox.isolation import bwrap_command, bwrap_executable, sandbox_env, spawn_environment

    cache = trusted_cache_dir()
    todo = [None, *references]
    todo = [r for r in todo if not (cache / _stamp(r)).exists()]
    if not todo:
        return True
    payload = pickle.dumps([r for r in todo if r is not None])
    argv = [sys.executable, "-c", "from engine.sandbox.cache import _warmer_main; _warmer_main()", str(cache)]
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
    if (trusted_cache_dir() / _stamp(None)).exists() and not missing_references(references):
        return None
    thread = threading.Thread(
        target=warm_trusted_cache, args=(tuple(references),), name="sandbox-cache-warmer", daemon=True
    )
    thread.start()
    return thread


def _warmer_env(cache: Path) -> dict[str, str]:
    from engine.sandbox.isolation import ENGINE_ROOT
    from engine.sandbox.server import _server_environ, _with_flag

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

    numba_cache.NUMBA_CACHE_PATH = cache / _NUMBA_SUBDIR
    pytensor.config.numba__cache = True
    from engine.sandbox.zygote import _warm_jit

    if not (cache / _stamp(None)).exists():
        _warm_jit()
        (cache / _stamp(None)).touch()
    for reference in references:
        import nutpie

        from engine.compile_check import MODEL_MODULE, load_model_module

        try:
            model = load_model_module(reference.source).build_model(reference.data)
            nutpie.compile_pymc_model(model, backend="numba")
        except Exception as exc:  # noqa: BLE001 - a baseline that does not compile is the loop's to report
            print(f"cache warmer: reference failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            continue
        finally:
            sys.modules.pop(MODEL_MODULE, None)
        (cache / _stamp(reference)).touch()
