"""PyTensor's Numba cache, split by trust, so no job can plant code another process runs.

Numba's cache index files are pickles: whoever can write a cache entry can run code in the
next process that loads it. So:

- The **trusted cache** (:func:`trusted_cache_dir`, one per set of library versions under the
  user's cache folder) is written only by the *cache warmer* (:func:`engine.cache_warmer.warm_trusted_cache`), a
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
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

TRUSTED_CACHE_VARIABLE = "WORKBENCH_TRUSTED_CACHE"
"""Names the trusted cache folder inside the sandbox (set by the parent, read by each job)."""
NUMBA_SUBDIR = "numba"
"""Numba's part of a compiler cache folder, trusted or private."""
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
    (path / NUMBA_SUBDIR).mkdir(parents=True, exist_ok=True)
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

    private = Path(job_dir) / _PRIVATE_SUBDIR / NUMBA_SUBDIR
    trusted = os.environ.get(TRUSTED_CACHE_VARIABLE)
    source = Path(trusted) / NUMBA_SUBDIR if trusted else None
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


def warmed_stamp(reference: ReferenceModel | None) -> str:
    """The file whose presence in the trusted cache says ``reference`` has been compiled into it.

    Parameters
    ----------
    reference
        A trusted baseline, or None for the built-in reference model.

    Returns
    -------
    str
        ``warmed-`` and a hash of the source, so an edited baseline is compiled again.
    """
    text = reference.source if reference is not None else "reference-model"
    return "warmed-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def missing_references(references: Sequence[ReferenceModel]) -> list[ReferenceModel]:
    """The references the trusted cache has not compiled yet.

    The built-in reference model is not among them: :func:`engine.cache_warmer.warm_in_background` checks it
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
    return [r for r in references if not (cache / warmed_stamp(r)).exists()]
