"""Progress snapshots the engine sends while it works: small frozen records, cheap to import.

The sampler sends :class:`SamplingProgress` a few times a second; the design run sends one
:class:`DesignProgress` per finished stage. Screens read these types directly (no aliases),
so this module imports nothing heavy: the UI can type-check against it before PyMC loads.
"""

from __future__ import annotations

from dataclasses import dataclass


class Phase:
    """What the sampler is doing; plain strings so progress pickles and prints simply."""

    COMPILING = "compiling"
    SAMPLING = "sampling"
    DONE = "done"  # chains finished
    SCORING = "scoring"  # the harness is computing log-likelihood, LOO, effect and gates
    READY = "ready"  # compiled during review, waiting for the principal's approval


@dataclass(frozen=True)
class ChainProgress:
    """One chain's state. ``finished`` counts tuning and posterior draws together."""

    chain: int
    finished: int
    total: int
    divergences: int
    step_size: float
    tuning: bool

    @property
    def fraction(self) -> float:
        return self.finished / self.total if self.total else 0.0


@dataclass(frozen=True)
class SamplingProgress:
    """A snapshot of sampling, sent to ``on_progress`` a few times a second.

    ``chains`` is empty while compiling, and when nutpie's structured progress is not
    available (then only ``elapsed_s`` moves).
    """

    phase: str
    elapsed_s: float
    budget_s: float
    chains: tuple[ChainProgress, ...] = ()
    compile_s: float | None = None

    @property
    def fraction(self) -> float:
        total = sum(c.total for c in self.chains)
        return sum(c.finished for c in self.chains) / total if total else 0.0

    @property
    def divergences(self) -> int:
        return sum(c.divergences for c in self.chains)


@dataclass(frozen=True)
class DesignProgress:
    """One stage finished (``step`` of ``total``)."""

    stage: str
    step: int
    total: int
    elapsed_s: float


RunProgress = SamplingProgress | DesignProgress
"""What a running iteration reports: chains for the model loop, stages for the design loop."""
