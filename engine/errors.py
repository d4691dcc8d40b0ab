"""Domain exceptions: each names what went wrong and says what to do about it.

Screens and the CLI catch :class:`WorkbenchError` and show its message; anything
else is a bug and propagates.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """Base class for errors a user can hit and fix."""


class ProblemError(WorkbenchError):
    """A problem folder, its contract or its data is invalid.

    Parameters
    ----------
    path
        The problem folder (or file) that failed validation.
    issues
        One line per thing that is wrong, each saying what to do.
    """

    def __init__(self, path: object, issues: list[str] | str) -> None:
        self.path = str(path)
        self.issues = [issues] if isinstance(issues, str) else list(issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"{self.path} is not a valid problem:\n{lines}")


class SpecError(WorkbenchError):
    """An ``analysis.toml`` spec does not satisfy the causal contract."""

    def __init__(self, issues: list[str] | str) -> None:
        self.issues = [issues] if isinstance(issues, str) else list(issues)
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"analysis spec is invalid:\n{lines}")


class SandboxError(WorkbenchError):
    """The sandboxed child process could not be started or talked to."""


class SessionError(WorkbenchError):
    """A session repository cannot be read or written (git errors end up here)."""


class SessionLockedError(SessionError):
    """Another process holds the session's write lock."""


class AgentError(WorkbenchError):
    """An agent backend failed (API error, malformed reply, exhausted replay file)."""


class ModelContractError(WorkbenchError):
    """A model breaks the model contract: no data container ``t``, no ``mu``, not one observed variable."""


class SamplingError(WorkbenchError):
    """Sampling did not produce a trace."""


class SamplingBudgetExceeded(SamplingError):
    """Sampling ran past its time budget and was aborted.

    Parameters
    ----------
    budget_s
        The budget in seconds.
    elapsed_s
        Seconds sampled before the abort.
    done
        A few words on how far the chains got (e.g. ``"612 of 2000 draws per chain"``).
    """

    def __init__(self, budget_s: float, elapsed_s: float, done: str = "") -> None:
        self.budget_s = budget_s
        self.elapsed_s = elapsed_s
        self.done = done
        got = f" ({done})" if done else ""
        super().__init__(
            f"sampling exceeded its {budget_s:g} s budget after {elapsed_s:.0f} s{got}; "
            "simplify the model (fewer parameters, non-centred hierarchies) or raise sampling_budget_s"
        )


class SamplingCancelled(SamplingError):
    """Sampling was cancelled before it finished (the principal pressed cancel)."""


class ModelTamperingError(ModelContractError):
    """Model code replaced library or harness code that runs after it in the same process."""


class BatchError(WorkbenchError):
    """A batch cannot be planned or run: an unusable partition column, setting or scheduler."""
