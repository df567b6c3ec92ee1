"""Probabilities as text that never round to a certainty they are not: 0.9977 is 'female 99.7%'
or '0.997', never '100%' or '1.00'; 0.0004 is '0.1%' or '0.001', never '0%' or '0.00'."""

from __future__ import annotations

import math


def _toward_half(p: float, step: float) -> float:
    """`p` rounded to a multiple of `step` toward 0.5 (down above it, up below it)."""
    return math.floor(p / step) * step if p > 0.5 else math.ceil(p / step) * step


def percent_text(p: float) -> str:
    """'95%'; one decimal where a whole percent would read 0% or 100% for 0 < p < 1."""
    if 0.0 < p < 0.01 or 0.99 < p < 1.0:
        return f"{100 * _toward_half(p, 0.001):.1f}%"
    return f"{p:.0%}"


def probability_text(p: float) -> str:
    """'0.95'; three decimals where two would read 0.00 or 1.00 for 0 < p < 1."""
    if 0.0 < p < 0.005 or 0.995 <= p < 1.0:
        return f"{_toward_half(p, 0.001):.3f}"
    return f"{p:.2f}"
