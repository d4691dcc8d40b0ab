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
    """True when there is no number to show: ``None``, NaN or an infinity.

    Parameters
    ----------
    value
        A number from a record, or None.

    Returns
    -------
    bool
    """
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def num(value: float | None, spec: str = ".1f") -> str:
    """``value`` formatted with ``spec``, or an em dash when there is none.

    Parameters
    ----------
    value
        The number; None, NaN and infinities count as missing.
    spec
        A :func:`format` spec such as ``".3f"``.

    Returns
    -------
    str
        The formatted number, or :data:`MISSING` (an em dash).
    """
    return MISSING if missing(value) else format(value, spec)


def decimals(*values: float | None, significant: int = 4) -> int:
    """Decimals that show the largest of ``values`` to about ``significant`` figures.

    Parameters
    ----------
    *values
        The numbers to be shown together; None, NaN, infinities and zeros are ignored.
    significant
        Significant figures wanted for the largest of them.

    Returns
    -------
    int
        Between 0 and 6; 2 when no value is usable.

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
    """Mean, low and high with the same decimals.

    Parameters
    ----------
    effect
        The effect whose mean and interval bounds to format.

    Returns
    -------
    tuple of str
        ``(mean, low, high)``, all with the decimals :func:`decimals` picks for the three.
    """
    mean, low, high = same_decimals(effect.mean, effect.hdi_low, effect.hdi_high)
    return mean, low, high


def effect_text(effect: Effect | None) -> str:
    """``ATE 4.146 [3.936, 4.420]``.

    Parameters
    ----------
    effect
        The effect, or None.

    Returns
    -------
    str
        The estimand, mean and interval, or :data:`MISSING` when ``effect`` is None.
    """
    if effect is None:
        return MISSING
    mean, low, high = effect_numbers(effect)
    return f"{effect.estimand} {mean} [{low}, {high}]"


def interval_name(effect: Effect, posterior: bool = True) -> str:
    """The name of ``effect``'s interval: ``95% HDI`` for a posterior, ``95% CI`` otherwise.

    Parameters
    ----------
    effect
        The effect; only its ``hdi_prob`` is read.
    posterior
        True for a Bayesian interval (HDI), False for a frequentist one (CI).

    Returns
    -------
    str
    """
    return f"{effect.hdi_prob:.0%} {'HDI' if posterior else 'CI'}"


def pm(value: float | None, se: float | None, spec: str = ".1f", sign: bool = False) -> str:
    """``-1097.9 ± 20.1`` (``+`` sign when asked).

    Parameters
    ----------
    value
        The estimate; when missing the whole result is :data:`MISSING`.
    se
        Its standard error (shown as an em dash when missing).
    spec
        A :func:`format` spec used for both numbers.
    sign
        Always show the sign of ``value`` (for differences).

    Returns
    -------
    str
    """
    if missing(value):
        return MISSING
    head = format(value, ("+" if sign else "") + spec)
    return f"{head} ± {num(se, spec)}"


def seconds(value: float | None) -> str:
    """A duration for people: ``42.0 s`` under a minute, ``3 min 12 s`` above.

    Parameters
    ----------
    value
        Seconds, or None.

    Returns
    -------
    str
        The duration, or :data:`MISSING` when ``value`` is None or not finite.
    """
    if value is None or missing(value):
        return MISSING
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(value, 60)
    return f"{int(minutes)} min {rest:.0f} s"


def usage(tokens: int | None, cost_usd: float | None) -> str:
    """``12,400 tok · $0.041``; an em dash for agents that record neither (offline backends).

    Parameters
    ----------
    tokens
        Tokens the agent used, or None.
    cost_usd
        What they cost in US dollars, or None.

    Returns
    -------
    str
    """
    parts = []
    if tokens is not None:
        parts.append(f"{tokens:,} tok")
    if cost_usd is not None:
        parts.append(f"${cost_usd:.3f}")
    return " · ".join(parts) or MISSING


def status_word(status: str) -> str:
    """The words a status is shown as (``failed_gate`` → ``failed gate``).

    Parameters
    ----------
    status
        An iteration status or decision; unknown ones have underscores replaced by spaces.

    Returns
    -------
    str
    """
    return STATUS_WORDS.get(status, status.replace("_", " "))


def short(sha: str | None) -> str:
    """The first ten characters of a commit sha, or an em dash when there is none.

    Parameters
    ----------
    sha
        A full commit sha, or None.

    Returns
    -------
    str
    """
    return sha[:10] if sha else MISSING


def one_line(text: str, width: int | None = None) -> str:
    """Whitespace collapsed to single spaces, optionally cut to ``width`` with an ellipsis.

    Parameters
    ----------
    text
        Any text (an empty string, or None, gives an empty line).
    width
        The longest result allowed, ellipsis included; None for no limit.

    Returns
    -------
    str
    """
    line = " ".join((text or "").split())
    if width is not None and len(line) > width:
        return line[: width - 1] + "…"
    return line


def same_decimals(*values: float) -> tuple[str, ...]:
    """Numbers with the decimals the largest one needs (an estimate and its interval alike).

    Parameters
    ----------
    values
        The numbers, written together.

    Returns
    -------
    tuple of str
        Each formatted with the same number of decimals (:func:`decimals`).
    """
    d = decimals(*values)
    return tuple(num(v, f".{d}f") for v in values)
