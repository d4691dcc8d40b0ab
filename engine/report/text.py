"""How the report writes numbers and words: shared by the HTML and Markdown renderers,
so both show an effect, an ELPD or a verdict identically."""

from __future__ import annotations

import math

from engine.records import Effect

STATUS_WORDS = {
    "kept": "kept",
    "discarded": "discarded",
    "failed_gate": "failed gate",
    "crashed": "crashed",
    "cancelled": "cancelled",
    "rejected": "rejected",
    "skipped": "skipped",
    "approved": "approved",
}

MISSING = "—"


def missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def num(value: float | None, spec: str = ".1f") -> str:
    """``value`` formatted with ``spec``, or an em dash when there is none."""
    return MISSING if missing(value) else format(value, spec)


def decimals(*values: float | None, significant: int = 4) -> int:
    """Decimals that show the largest of ``values`` to about ``significant`` figures.

    Examples
    --------
    >>> decimals(4.127, 3.8), decimals(0.0538), decimals(1794.3)
    (3, 5, 0)
    """
    finite = [abs(v) for v in values if v is not None and not missing(v) and v != 0]
    if not finite:
        return 2
    magnitude = math.floor(math.log10(max(finite)))
    return max(0, min(6, significant - 1 - magnitude))


def effect_numbers(effect: Effect) -> tuple[str, str, str]:
    """Mean, low and high with the same decimals."""
    d = decimals(effect.mean, effect.hdi_low, effect.hdi_high)
    return f"{effect.mean:.{d}f}", f"{effect.hdi_low:.{d}f}", f"{effect.hdi_high:.{d}f}"


def effect_text(effect: Effect | None) -> str:
    """``ATE 4.146 [3.936, 4.420]``."""
    if effect is None:
        return MISSING
    mean, low, high = effect_numbers(effect)
    return f"{effect.estimand} {mean} [{low}, {high}]"


def interval_name(effect: Effect, posterior: bool = True) -> str:
    return f"{effect.hdi_prob:.0%} {'HDI' if posterior else 'CI'}"


def pm(value: float | None, se: float | None, spec: str = ".1f", sign: bool = False) -> str:
    """``-1097.9 ± 20.1`` (``+`` sign when asked)."""
    if missing(value):
        return MISSING
    head = format(value, ("+" if sign else "") + spec)
    return f"{head} ± {num(se, spec)}"


def seconds(value: float | None) -> str:
    if value is None or missing(value):
        return MISSING
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(value, 60)
    return f"{int(minutes)} min {rest:.0f} s"


def usage(tokens: int | None, cost_usd: float | None) -> str:
    """``12,400 tok · $0.041``; an em dash for agents that record neither (offline backends)."""
    parts = []
    if tokens is not None:
        parts.append(f"{tokens:,} tok")
    if cost_usd is not None:
        parts.append(f"${cost_usd:.3f}")
    return " · ".join(parts) or MISSING


def status_word(status: str) -> str:
    return STATUS_WORDS.get(status, status.replace("_", " "))


def short(sha: str | None) -> str:
    return sha[:10] if sha else MISSING


def one_line(text: str, width: int | None = None) -> str:
    """Whitespace collapsed to single spaces, optionally cut to ``width`` with an ellipsis."""
    line = " ".join((text or "").split())
    if width is not None and len(line) > width:
        return line[: width - 1] + "…"
    return line
