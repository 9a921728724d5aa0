"""trialkit.stats.survival vs R survival (validation/pilot/pilot_reference.R -> JSON) and basic properties.

The Kaplan-Meier rows and the log-rank test of the CDISC Pilot figure are compared number by number in
tests/pilot/test_pilot_tables.py; here: small curves with ties and flat stretches at 0.5, the stratified test.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from trialkit.errors import TrialkitError
from trialkit.stats import kaplan_meier, logrank_test

REF = Path(__file__).resolve().parents[2] / "validation" / "pilot" / "pilot_reference.json"


def _num(x: object) -> float:
    return {"NA": math.nan, "Inf": math.inf}.get(x, x) if isinstance(x, str) else float(x)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def ref() -> dict:
    return json.loads(REF.read_text())


def test_synthetic_curves_match_survfit(ref):
    assert len(ref["synthetic_km"]) == 4
    for case in ref["synthetic_km"]:
        r = kaplan_meier(case["time"], case["event"])
        for ours, theirs in ((r.surv, case["surv"]), (r.ci_low, case["lower"]), (r.ci_high, case["upper"])):
            want = np.array([_num(v) for v in theirs])
            np.testing.assert_allclose(ours, want, rtol=1e-6, atol=1e-12, equal_nan=True)
        se_log = np.array([_num(v) for v in case["std_err_log"]])
        finite = np.isfinite(se_log)
        np.testing.assert_allclose(r.se_log[finite], se_log[finite], rtol=1e-6)
        assert np.all(np.isnan(r.se_log[~finite]))
        for ours, key in ((r.median, "median"), (r.median_ci_low, "median_lower"), (r.median_ci_high, "median_upper")):
            want = _num(case[key])
            assert (math.isnan(ours) and math.isnan(want)) or math.isclose(ours, want), (case, key, ours)


def test_stratified_logrank_matches_survdiff(ref):
    from trialkit.pilot.outputs import load_pilot

    t = load_pilot()["ADTTE"]
    t = t.filter((t["PARAMCD"] == "TTDE") & (t["SAFFL"] == "Y"))
    r = logrank_test(t["AVAL"].to_numpy(), 1 - t["CNSR"].to_numpy(), t["TRTA"].to_numpy(), strata=t["SEX"].to_numpy())
    want = ref["logrank_stratified_sex_14_1"]
    assert r.df == want["df"]
    assert math.isclose(r.statistic, want["statistic"], rel_tol=1e-6)
    assert math.isclose(r.pvalue, want["pvalue"], rel_tol=1e-6)


def test_logrank_two_groups_hand_computed():
    # one event per time; group a at risk (3, 2, 1) of (6, 4, 2): O_a - E_a and V by hand
    time = [1, 2, 3, 4, 5, 6]
    event = [1, 0, 1, 0, 1, 0]
    group = ["a", "b", "a", "b", "a", "b"]
    r = logrank_test(time, event, group)
    e = 3 / 6 + 2 / 4 + 1 / 2
    v = (3 * 3) / 36 + (2 * 2) / 16 + (1 * 1) / 4
    assert math.isclose(r.statistic, (3 - e) ** 2 / v)
    assert r.df == 1.0


def test_groups_and_at():
    r = kaplan_meier([5, 3, 8, 1, 2], [1, 0, 1, 1, 1], ["x", "y", "x", "y", "x"], levels=["y", "x"])
    assert list(r) == ["y", "x"]
    assert r["y"].n == 2 and r["x"].events == 3
    np.testing.assert_allclose(r["x"].at([0, 2, 4.9, 5, 100]), [1, 2 / 3, 2 / 3, 1 / 3, 0])


@pytest.mark.parametrize("bad", [dict(time=[1, -1], event=[1, 0]), dict(time=[1, 2], event=[1, 2]),
                                 dict(time=[1, float("nan")], event=[1, 0]), dict(time=[1, 2], event=[1])])
def test_bad_input_is_a_user_error(bad):
    with pytest.raises(TrialkitError):
        kaplan_meier(**bad)


def test_logrank_needs_two_groups():
    with pytest.raises(TrialkitError, match="two groups"):
        logrank_test([1, 2], [1, 1], ["a", "a"])


def test_doctests():
    import doctest

    from trialkit.stats import survival

    assert doctest.testmod(survival).failed == 0
