"""Each estimand strategy (ICH E9(R1)) on small hand-made data, with the expected responders written out.

Six subjects, baseline 10 on a 0-20 score, responder = improvement of >= 4 points, visits at weeks 4 and 8
(dates = treatment start + 7 x week):

- S1 responds at both visits; S2 does not respond at week 4 (8) and has no week 8; S3 responds at week 4 (5) and
  has no week 8; S4 responds at weeks 4 (5) and 8 (3) but starts rescue on day 40 (before week 8);
  S5 responds at week 4 (6) and week 8 (2) but discontinued on day 35 (before week 8); S6 has no data after baseline.
"""

import datetime as dt

import polars as pl
import pytest

from trialkit.adam.endpoints import derive_endpoint
from trialkit.study import parse_study

T0 = dt.date(2024, 1, 1)
WEEK8 = {"S1": 3.0, "S3": None, "S2": None, "S4": 3.0, "S5": 2.0, "S6": None}


def study(rule=None, **estimand):
    data = {
        "study": {"id": "T", "title": "t", "n_randomized": 6, "duration_weeks": 8, "alpha": 0.05},
        "scores": {"SC": {"kind": "continuous", "label": "Score", "range": [0, 20]}},
        "arms": [{"id": "A", "label": "Active", "dose_mg": 1, "allocation": 1,
                  "regimen": {"loading_weeks": [0], "every_weeks": 4, "until_week": 8}},
                 {"id": "P", "label": "Placebo", "dose_mg": 0, "allocation": 1, "placebo": True,
                  "regimen": {"loading_weeks": [0], "every_weeks": 4, "until_week": 8}}],
        "visits": [{"name": "Baseline", "week": 0}, {"name": "Week 4", "week": 4}, {"name": "Week 8", "week": 8}],
        "endpoints": [{"id": "R4", "label": "improvement >= 4", "role": "primary", "score": "SC", "visit_week": 8,
                       "rule": rule or {"kind": "reduction", "threshold": 4}, "estimand": estimand}],
        "adam": {"rescue_date": "RESCDT"},
    }
    return parse_study(data, source="test")


def records():
    rows = [("S1", 4, 5.0), ("S1", 8, 3.0), ("S2", 4, 8.0), ("S3", 4, 5.0), ("S4", 4, 5.0), ("S4", 8, 3.0),
            ("S5", 4, 6.0), ("S5", 8, 2.0)]
    rows += [(s, 0, 10.0) for s in ("S1", "S2", "S3", "S4", "S5", "S6")]
    df = pl.DataFrame(rows, schema=["USUBJID", "AVISITN", "AVAL"], orient="row")
    return df.with_columns(pl.lit(10.0).alias("BASE"), pl.lit("Y").alias("ANL01FL"),
                           (pl.lit(T0) + pl.duration(days=pl.col("AVISITN").cast(pl.Int64) * 7)).alias("ADT"))


def subjects():
    ids = ["S1", "S2", "S3", "S4", "S5", "S6"]
    return pl.DataFrame({
        "USUBJID": ids, "TRT01P": ["Active"] * 6, "TRTSDT": [T0] * 6,
        "RESCDT": [None, None, None, T0 + dt.timedelta(days=39), None, None],
        "EOSSTT": ["COMPLETED"] * 4 + ["DISCONTINUED", "COMPLETED"],
        "EOSDT": [None] * 4 + [T0 + dt.timedelta(days=34), None],
    }).with_columns(pl.col("RESCDT").cast(pl.Date), pl.col("EOSDT").cast(pl.Date))


def week8(s):
    ep = s.endpoints[0]
    out = derive_endpoint(records(), subjects(), s, ep).filter(pl.col("AVISITN") == 8).sort("USUBJID")
    return dict(zip(out["USUBJID"], out["AVAL"], strict=True)), out


# expected week-8 AVAL (1 responder, 0 non-responder, None not analysed) per strategy set
CASES = {
    "composite (NRI)": ({"rescue": "non-responder", "discontinuation": "non-responder", "missing": "non-responder"},
                        {"S1": 1, "S2": 0, "S3": 0, "S4": 0, "S5": 0, "S6": 0}),
    "treatment policy": ({"rescue": "treatment-policy", "discontinuation": "treatment-policy",
                          "missing": "non-responder"}, {"S1": 1, "S2": 0, "S3": 0, "S4": 1, "S5": 1, "S6": 0}),
    "hypothetical + NRI": ({"rescue": "hypothetical", "discontinuation": "hypothetical", "missing": "non-responder"},
                           {"S1": 1, "S2": 0, "S3": 0, "S4": 0, "S5": 0, "S6": 0}),
    "hypothetical + LOCF": ({"rescue": "hypothetical", "discontinuation": "hypothetical", "missing": "locf"},
                            {"S1": 1, "S2": 0, "S3": 1, "S4": 1, "S5": 1, "S6": 0}),
    "while on treatment": ({"rescue": "while-on-treatment", "discontinuation": "while-on-treatment",
                            "missing": "non-responder"}, {"S1": 1, "S2": 0, "S3": 0, "S4": 1, "S5": 1, "S6": 0}),
    "BOCF": ({"rescue": "treatment-policy", "discontinuation": "treatment-policy", "missing": "bocf"},
             {"S1": 1, "S2": 0, "S3": 0, "S4": 1, "S5": 1, "S6": 0}),
    "observed cases": ({"rescue": "treatment-policy", "discontinuation": "treatment-policy", "missing": "exclude"},
                       {"S1": 1, "S2": None, "S3": None, "S4": 1, "S5": 1, "S6": None}),
    "composite rescue, observed otherwise": ({"rescue": "non-responder", "discontinuation": "treatment-policy",
                                              "missing": "exclude"},
                                             {"S1": 1, "S2": None, "S3": None, "S4": 0, "S5": 1, "S6": None}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_strategy(name):
    estimand, expected = CASES[name]
    got, _ = week8(study(**estimand))
    assert got == {k: (None if v is None else float(v)) for k, v in expected.items()}


def test_flags_and_dtype():
    _, out = week8(study(rescue="hypothetical", discontinuation="hypothetical", missing="locf"))
    row = {r["USUBJID"]: r for r in out.iter_rows(named=True)}
    assert row["S3"]["DTYPE"] == "LOCF" and row["S4"]["DTYPE"] == "LOCF" and row["S1"]["DTYPE"] is None
    assert row["S4"]["RESCFL"] == "Y" and row["S1"]["RESCFL"] == "N"
    assert row["S6"]["DTYPE"] == "NRI"  # LOCF found nothing to carry: non-responder
    assert row["S4"]["CRIT1FL"] == "Y"  # the rule on the observed value, before the strategy
    _, nri = week8(study())
    assert {r["USUBJID"]: r["DTYPE"] for r in nri.iter_rows(named=True)} == {
        "S1": None, "S2": "NRI", "S3": "NRI", "S4": None, "S5": None, "S6": "NRI"}


def test_study_default_strategies_apply_and_endpoint_overrides():
    s = study()
    assert s.strategies(s.endpoints[0]).model_dump() == {
        "rescue": "non-responder", "discontinuation": "non-responder", "death": "non-responder",
        "missing": "non-responder"}
    s2 = study(missing="locf")
    assert s2.strategies(s2.endpoints[0]).missing == "locf" and s2.strategies(s2.endpoints[0]).rescue == "non-responder"


def test_continuous_endpoint_values_follow_the_strategy():
    s = study(rule={"kind": "continuous", "variable": "CHG"}, rescue="hypothetical", missing="locf")
    out = derive_endpoint(records(), subjects(), s, s.endpoints[0]).filter(pl.col("AVISITN") == 8).sort("USUBJID")
    # S4's week-8 value after rescue is set missing, then week 4 carried forward; S6 has nothing to carry
    assert dict(zip(out["USUBJID"], out["CHG"], strict=True)) == {
        "S1": -7.0, "S2": -2.0, "S3": -5.0, "S4": -5.0, "S5": -8.0, "S6": None}
    assert out.filter(pl.col("USUBJID") == "S6")["ANL01FL"].item() is None


def test_combined_rules_and_threshold():
    both = {"kind": "all", "rules": [{"kind": "reduction", "threshold": 4}, {"kind": "threshold", "at_most": 4}]}
    got, _ = week8(study(rule=both, rescue="treatment-policy", discontinuation="treatment-policy"))
    assert got == {"S1": 1.0, "S2": 0.0, "S3": 0.0, "S4": 1.0, "S5": 1.0, "S6": 0.0}
    either = {"kind": "any", "rules": [{"kind": "threshold", "at_most": 2}, {"kind": "pct_reduction", "threshold": 70}]}
    got, _ = week8(study(rule=either, rescue="treatment-policy", discontinuation="treatment-policy"))
    assert got == {"S1": 1.0, "S2": 0.0, "S3": 0.0, "S4": 1.0, "S5": 1.0, "S6": 0.0}
    got, _ = week8(study(rule={"kind": "threshold", "at_most": 2.5}, rescue="treatment-policy",
                         discontinuation="treatment-policy"))
    assert got["S5"] == 1.0 and got["S1"] == 0.0


def test_non_responder_strategy_is_refused_for_a_continuous_endpoint():
    from trialkit.errors import TrialkitError

    with pytest.raises(TrialkitError, match="non-responder imputation needs a responder endpoint"):
        study(rule={"kind": "continuous", "variable": "CHG"}, missing="non-responder")


def test_endpoint_read_from_the_datasets_own_flag():
    """``source = { variable = "CRIT1FL" }``: the dataset's flag, not the rule; the strategies still apply."""
    rec = records().with_columns(
        pl.when(pl.col("USUBJID").is_in(["S1", "S4"])).then(pl.lit("Y")).otherwise(pl.lit("N")).alias("CRIT1FL"))
    data = study().model_dump(mode="json", exclude_none=True)
    data["endpoints"][0]["source"] = {"variable": "CRIT1FL"}
    for strategy, expected in (("non-responder", {"S1": 1.0, "S4": 0.0, "S5": 0.0, "S3": 0.0}),
                               ("treatment-policy", {"S1": 1.0, "S4": 1.0, "S5": 0.0, "S3": 0.0})):
        data["intercurrent_events"] = {"rescue": strategy, "discontinuation": strategy, "missing": "non-responder"}
        s = parse_study(data)
        out = derive_endpoint(rec, subjects(), s, s.endpoints[0]).filter(pl.col("AVISITN") == 8)
        got = dict(zip(out["USUBJID"], out["AVAL"], strict=True))
        assert {k: got[k] for k in expected} == expected


def test_death_strategy():
    """S1 dies on day 50 (after week 4, before week 8): composite -> non-responder at week 8 although observed."""
    subj = subjects().with_columns(pl.when(pl.col("USUBJID") == "S1").then(pl.lit(T0 + dt.timedelta(days=49)))
                                   .otherwise(None).cast(pl.Date).alias("DTHDT"))
    for death, want in (("non-responder", 0.0), ("treatment-policy", 1.0), ("hypothetical", 1.0)):
        s = study(death=death, missing="locf")
        out = derive_endpoint(records(), subj, s, s.endpoints[0]).filter(pl.col("AVISITN") == 8)
        assert dict(zip(out["USUBJID"], out["AVAL"], strict=True))["S1"] == want, death
    s = study(death="hypothetical", missing="non-responder")
    out = derive_endpoint(records(), subj, s, s.endpoints[0]).filter(pl.col("AVISITN") == 8)
    assert dict(zip(out["USUBJID"], out["AVAL"], strict=True))["S1"] == 0.0
