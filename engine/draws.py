"""What the model child, the scorer and the harness agree on: file names, shapes, the result.

The model child (:func:`engine.harness.sample_model`) writes :data:`DRAWS_FILE` and
:data:`DIMS_FILE`; the scorer (:mod:`engine.scorer`) reads them against a
:class:`DrawsShape` it was given, not one the child chose, and returns a
:class:`HarnessResult`. Both sides import this module and not each other.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from engine.records import Effect, GateResult, Metrics, Verdict
from engine.scoring import BestSummary, ParamDiagnostic

__all__ = [
    "DIMS_FILE",
    "DRAWS_FILE",
    "STAGES",
    "TRACE_FILE",
    "DrawsShape",
    "HarnessResult",
    "HashingFile",
    "tampered_files",
    "tampered_reason",
]

DRAWS_FILE = "draws.npz"
"""The model child's output: free parameters, pointwise log-likelihood, estimand, divergences."""
DIMS_FILE = "dims.json"
"""Dimension and coordinate names of the free parameters, for readable labels (validated by the scorer)."""
TRACE_FILE = "trace.nc"
"""The trace's file name inside the work folder."""
STAGES = ("load", "compile", "sampling", "write", "read", "loo", "effect", "gates", "trace", "total")
"""Keys of :attr:`HarnessResult.timings`, in the order they run (seconds each)."""


@dataclass(frozen=True)
class DrawsShape:
    """What the scorer expects of the model child's arrays (from the settings and data, not from the child)."""

    chains: int
    draws: int
    n_obs: int


@dataclass(frozen=True)
class HarnessResult:
    """Everything the harness measured for one model, small enough to pickle back.

    The trace itself stays on disk at :attr:`trace_path`.
    """

    verdict: Verdict
    timings: dict[str, float] = field(default_factory=dict)
    convergence_table: tuple[ParamDiagnostic, ...] = ()
    pointwise_elpd: np.ndarray | None = field(default=None, repr=False, compare=False)
    effect_draws: np.ndarray | None = field(default=None, repr=False, compare=False)  # (chain, draw)
    pareto_k: np.ndarray | None = field(default=None, repr=False, compare=False)  # (observation,)
    trace_path: str | None = None
    error_type: str | None = None  # the exception's class name when crashed (e.g. SamplingCancelled)
    traceback: str | None = None  # model.py frames and the message, when crashed

    @property
    def effect(self) -> Effect | None:
        return self.verdict.metrics.effect

    @property
    def gates(self) -> tuple[GateResult, ...]:
        return self.verdict.gates

    @property
    def metrics(self) -> Metrics:
        return self.verdict.metrics

    def with_timings(self, earlier: dict[str, float]) -> HarnessResult:
        """This result with the model child's timings in front of the scorer's.

        Parameters
        ----------
        earlier
            The model child's timings per stage.

        Returns
        -------
        HarnessResult
            A copy whose ``total`` is the sum of both totals.
        """
        timings = {**earlier, **{k: v for k, v in self.timings.items() if k != "total"}}
        timings["total"] = earlier.get("total", 0.0) + self.timings.get("total", 0.0)
        return replace(self, timings=timings)

    def best_summary(self, number: int | None = None) -> BestSummary | None:
        """This model as the reference for the next keep decision (None without an ELPD).

        Parameters
        ----------
        number
            The iteration this result belongs to, for the next verdict's wording.

        Returns
        -------
        BestSummary or None
            None when the result has no ELPD or no pointwise ELPD.
        """
        m = self.verdict.metrics
        if m.elpd is None or self.pointwise_elpd is None:
            return None
        return BestSummary(m.elpd, m.elpd_se or float("nan"), self.pointwise_elpd, m.effect, number, m.p_loo)


class HashingFile(io.RawIOBase):
    """A new file, written once from start to end, hashed (SHA-256) as its bytes go out.

    Opened with ``O_EXCL | O_NOFOLLOW``: a file, link or pipe already under the name makes the
    write fail instead of writing through it. Not seekable, so a zip (``np.savez``) is written
    in one pass with data descriptors, and the hash is of exactly the bytes in the file.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        self._hash = hashlib.sha256()

    def writable(self) -> bool:
        """Always: the file is opened for writing only.

        Returns
        -------
        bool
        """
        return True

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        """Hash ``data`` and write all of it.

        Parameters
        ----------
        data
            The next bytes of the file.

        Returns
        -------
        int
            How many bytes were written: all of them.
        """
        view = memoryview(data).cast("B")
        self._hash.update(view)
        written = 0
        while written < len(view):
            written += os.write(self._fd, view[written:])
        return len(view)

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()

    def hexdigest(self) -> str:
        """The SHA-256 of everything written so far.

        Returns
        -------
        str
        """
        return self._hash.hexdigest()


def tampered_reason(changed: list[str]) -> str:
    """The crashed verdict's reason when :func:`tampered_files` found ``changed``.

    Parameters
    ----------
    changed
        The files that are not as written.

    Returns
    -------
    str
        Said as a ``ModelTamperingError``, the name the harness's own tripwire uses.
    """
    return (
        f"ModelTamperingError: {' and '.join(changed)} in the run's folder is not what the harness wrote: code "
        "the model left running replaced or changed it after it was written, so nothing was scored; a model may "
        "only build a model."
    )


def tampered_files(workdir: Path, digests: Mapping[str, str]) -> list[str]:
    """The model child's files that are not, byte for byte, what its harness wrote.

    The harness hashes each file as it writes it (:class:`HashingFile`); a file replaced or
    changed afterwards, by code the model left running, no longer matches. Checked by the
    parent before the scorer reads anything.

    Parameters
    ----------
    workdir
        Where the parent collected the model child's files.
    digests
        The SHA-256 of each file as the harness wrote it, by name (the child's report).

    Returns
    -------
    list of str
        The names of :data:`DRAWS_FILE` and :data:`DIMS_FILE` that are missing, are not regular
        files, have no digest or differ from it; empty when both are as written.
    """
    changed = []
    for name in (DRAWS_FILE, DIMS_FILE):
        path = workdir / name
        if name not in digests or path.is_symlink() or not path.is_file():
            changed.append(name)
            continue
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                digest.update(chunk)
        if digest.hexdigest() != digests[name]:
            changed.append(name)
    return changed
