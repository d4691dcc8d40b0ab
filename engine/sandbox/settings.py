"""Limits, sizes and timings of the sandbox, shared by the parent, the warm server and the child."""

from __future__ import annotations

PRELOAD_MODULES: tuple[str, ...] = (
    "numpy",
    "pandas",
    "scipy.special",
    "pytensor",
    "pytensor.tensor",
    "pymc",
    "nutpie",
    "arviz",
    "engine.problem",
    "engine.records",
    "engine.compile_check",
    "pytensor.link.numba.dispatch",
    "engine.loglik",
    "engine.effects",
    "engine.sampling",
    "engine.scoring",
    "engine.harness",
    "engine.scorer",
    "engine.jobs",
)
"""Imported once by the warm server; a module's ``warm_sandbox()`` is then called if defined."""

DEFAULT_MEMORY_MB = 4096
"""Resident-set limit of a job; the warm server's shared imports (~0.4–0.5 GB) count too."""
ADDRESS_SPACE_SLACK_MB = 1024
"""Address space a job may reserve beyond ``memory_mb`` (thread stacks, allocator arenas)."""
DEFAULT_NICE = 5
"""Niceness increment of a job, so the UI stays responsive while a model samples."""
DEFAULT_MAX_FILE_MB = 1024
"""Largest file a job may write (``RLIMIT_FSIZE``); a bigger write kills it with SIGXFSZ."""
KILL_GRACE_S = 1.0
"""Time between SIGTERM and SIGKILL when a job is cancelled or runs out of time."""
EXIT_GRACE_S = 3.0
"""Time a job may take to exit after it sent its result, before it is killed."""
JIT_IDLE_S = 2.0
"""The server starts a requested JIT warm-up only after this long without commands, so the
first jobs of a session are not queued behind it."""
MAX_PROGRESS_BYTES = 64 * 1024
MAX_RESULT_BYTES = 16 * 1024 * 1024
LOG_NAME = "sandbox.log"
_POLL_S = 0.1
_LOG_TAIL_LINES = 30
THREAD_ENV: dict[str, str] = {"OMP_NUM_THREADS": "1"}
"""Set in the server's environment unless the user set them: one OpenMP thread per task.

The harness parallelises across tasks itself (a design run's checks on threads, nutpie's chains
on threads, a batch's tasks on workers), so an OpenMP team inside each task (histogram boosting,
OpenBLAS, which falls back to ``OMP_NUM_THREADS``) only oversubscribes the cores and spins.
Measured here: four ACIC 2016 DR fits on two threads took 19.5 s, and 13.0 s with this; the
ACIC design run 29.9 s → 23.0 s (medians of 2), with the same estimate to the last digit.
"""
_SECRET_MARKERS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH")
