"""Display formats for ARD values, rounding half away from zero as SAS does (Python's round is half-to-even)."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal


def round_half_up(x: float, digits: int) -> Decimal:
    """Round ``x`` to ``digits`` decimals, halves away from zero, with SAS ROUND's fuzz: a value within about
    1e-12 (relative) of a half-way point counts as half-way (so a mean of 42.649999999999984 shows as 42.7)."""
    q = Decimal(1).scaleb(-digits)
    # repr() gives the shortest string that round-trips, so 2.675 rounds to 2.68 as in SAS
    d = Decimal(repr(float(x)))
    scaled = d.scaleb(digits)
    frac = abs(scaled) - abs(scaled).to_integral_value(rounding="ROUND_FLOOR")
    if abs(frac - Decimal("0.5")) <= Decimal("1e-12") * max(Decimal(1), abs(scaled)):
        d = d + (Decimal("1e-12") * max(Decimal(1), abs(scaled))).scaleb(-digits).copy_sign(d)
    return d.quantize(q, rounding=ROUND_HALF_UP)


def fmt_num(x: float | None, digits: int) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return f"{round_half_up(x, digits):.{digits}f}"


def fmt_pvalue(p: float | None) -> str:
    """P-values as in most CSR shells: ``<0.001`` below 0.001, else 3 decimals."""
    if p is None or not math.isfinite(p):
        return ""
    return "<0.001" if p < 0.001 else fmt_num(p, 3)


def fmt_pct(x: float | None, digits: int = 1) -> str:
    """A proportion as a percentage."""
    if x is None or not math.isfinite(x):
        return ""
    return fmt_num(100.0 * x, digits)


def fmt_value(x: float | None, fmt: str | None) -> str:
    """Format a value with an ARD ``fmt``: ``"pct1"``, ``"pvalue"``, or a Python format like ``"{:.2f}"``."""
    if fmt is None:
        return fmt_num(x, 4)
    if fmt.startswith("pct"):
        return fmt_pct(x, int(fmt[3:] or 1))
    if fmt == "pvalue":
        return fmt_pvalue(x)
    if fmt.startswith("{:.") and fmt.endswith("f}"):
        return fmt_num(x, int(fmt[3:-2]))
    if x is None or not math.isfinite(x):
        return ""
    return fmt.format(x)


def fmt_pct_ci(est: float | None, lo: float | None, hi: float | None, digits: int = 1) -> str:
    """A proportion difference with its CI as percentages: ``"29.3 (22.2, 36.3)"``; empty when ``est`` is None."""
    if est is None:
        return ""
    return f"{fmt_pct(est, digits)} ({fmt_pct(lo, digits)}, {fmt_pct(hi, digits)})"
