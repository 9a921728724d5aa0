"""The IGNITE topline analysis of one simulated trial equals R (validation/ignite/reference.R) to 1e-6 relative."""

import json
from pathlib import Path

import polars as pl
import pytest

from trialkit.ard import ARD, lookup
from trialkit.efficacy import analyse_binary
from trialkit.study import load_study

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "validation" / "ignite"
STUDY = load_study(ROOT / "studies" / "ignite.toml")
REF = json.loads((HERE / "reference.json").read_text())["results"]


@pytest.fixture(scope="module")
def ard():
    wide = pl.read_csv(HERE / "trial_seed2024.csv", schema_overrides={"BLIGA": pl.Utf8})
    long = wide.unpivot(index=["USUBJID", "TRT01P", "BLIGA", "REGION", "PRIORBIO"],
                        on=["EASI75", "VIGA01", "RIGA01"], variable_name="PARAMCD", value_name="AVAL").with_columns(
        pl.lit(24.0).alias("AVISITN"), pl.col("AVAL").cast(pl.Float64))
    a = ARD()
    for ep_id in ("EASI75", "VIGA01", "RIGA01"):
        analyse_binary(long, STUDY, STUDY.endpoint(ep_id), a)
    return a.to_frame()


@pytest.mark.parametrize("ref", REF, ids=[f"{r['endpoint']}-{r['arm']}-{r['kind']}" for r in REF])
def test_against_r(ard, ref):
    ep, arm = ref["endpoint"], ref["arm"]
    if ref["kind"] == "rate":
        g = {"TRT01P": arm}
        assert lookup(ard, f"{ep}.rate", "N", **g) == ref["N"]
        assert lookup(ard, f"{ep}.rate", "n", **g) == ref["n"]
        for name in ("p", "ci_low", "ci_high"):
            assert lookup(ard, f"{ep}.rate", name, **g) == pytest.approx(ref[name], rel=1e-6)
    else:
        g = {"TRT01P": arm, "COMPARATOR": "Placebo"}
        assert lookup(ard, f"{ep}.cmh", "statistic", **g) == pytest.approx(ref["cmh_statistic"], rel=1e-6)
        assert lookup(ard, f"{ep}.cmh", "pvalue", **g) == pytest.approx(ref["cmh_pvalue"], rel=1e-6)
        for ours, theirs in (("estimate", "rd"), ("se", "rd_se"), ("ci_low", "rd_ci_low"), ("ci_high", "rd_ci_high")):
            assert lookup(ard, f"{ep}.rd", ours, **g) == pytest.approx(ref[theirs], rel=1e-6)
