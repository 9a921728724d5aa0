"""Display rounding follows SAS: halves away from zero (with SAS's fuzz), unlike Python's round()."""

import pytest

from trialkit.report.formats import fmt_num, fmt_pct, fmt_pvalue, fmt_value


@pytest.mark.parametrize(("x", "digits", "shown"), [
    (2.5, 0, "3"), (-2.5, 0, "-3"), (0.125, 2, "0.13"), (2.675, 2, "2.68"), (1.25, 1, "1.3"),
    (42.649999999999984, 1, "42.7"),  # a decimal-exact .x5 mean computed in floating point
    (0.44999, 1, "0.4"), (12.3456, 2, "12.35"), (0.0, 1, "0.0"),
])
def test_round_half_away_from_zero(x, digits, shown):
    assert fmt_num(x, digits) == shown
    if digits == 0 and abs(x) == 2.5:
        assert str(round(x)) != shown  # Python rounds half to even


def test_pvalue_and_percent():
    assert fmt_pvalue(0.0004) == "<0.001" and fmt_pvalue(0.0125) == "0.013" and fmt_pvalue(float("nan")) == ""
    assert fmt_pct(0.12345) == "12.3" and fmt_value(0.2355, "pct1") == "23.6" and fmt_value(3.14159, "{:.2f}") == "3.14"
