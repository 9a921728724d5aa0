"""CDISC Pilot 01 standard tables as analysis results data (ARD), one builder per table.

Each builder takes the pilot ADaM datasets (polars) and returns an :class:`~trialkit.ard.ARD` whose rows carry
every number the rendered table shows (unrounded, with its display format); ``build_ard`` stacks them. The
definitions follow the pilot's SAP and CSR shells (CDISC SDTM/ADaM Pilot Project, study CDISCPILOT01):

- ``14-2.01`` demographics and baseline characteristics, ITT (ADSL ``ITTFL = "Y"``), by ``TRT01P`` and total;
  p-values: one-way ANOVA F test for continuous variables, Pearson chi-square (no continuity correction) for
  categorical ones, as the CSR footnote says.
- ``14-3.01`` ADAS-Cog(11) change from baseline to week 24, LOCF (ADADAS ``PARAMCD = "ACTOT"``,
  ``AVISIT = "Week 24"``, ``EFFFL = ANL01FL = "Y"``): ANCOVA ``CHG ~ TRTP + SITEGR1 + BASE`` (site group as
  text), the dose-response t test (``TRTPN`` as a continuous dose), LS-mean differences.
- ``14-3.13`` CIBIC+ categories at weeks 8, 16, 24 (ADCIBC ``EFFFL = ITTFL = ANL01FL = "Y"``) with the CMH
  row-mean-scores test (scores = AVAL) controlling for ``SITEGR1``.
- ``14-5.01`` treatment-emergent AEs by SOC and PT (ADAE ``TRTEMFL = "Y"``; ADSL ``SAFFL = "Y"``, ``TRT01A``).
- ``14-1`` Kaplan-Meier estimates of time to first dermatologic event (ADTTE ``PARAMCD = "TTDE"``,
  ``SAFFL = "Y"``, by ``TRTA``; event = ``1 - CNSR``) and the log-rank test: the figure is drawn from these rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
from scipy import stats

from trialkit.ard import ARD, concat
from trialkit.checks import Requirement, assert_checks
from trialkit.safety.tables import ae_soc_pt
from trialkit.stats import ancova, cmh, counts_from_frame, dose_response, kaplan_meier, logrank_test

ARMS = ("Placebo", "Xanomeline Low Dose", "Xanomeline High Dose")
TOTAL = "Total"
PLACEBO, LOW, HIGH = ARMS

#: Table 14-2.01 rows: (variable, label, kind, categories as (value, display label)) in display order.
DEMOG: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("AGE", "Age (y)", "cont", ()),
    ("AGEGR1", "Age group", "cat", (("<65", "<65 yrs"), ("65-80", "65-80 yrs"), (">80", ">80 yrs"))),
    ("SEX", "Sex", "cat", (("M", "Male"), ("F", "Female"))),
    ("RACEORIG", "Race (Origin)", "cat", (("Caucasian", "Caucasian"), ("African Descent", "African Descent"),
                                         ("Hispanic", "Hispanic"), ("Other", "Other"))),
    ("MMSETOT", "MMSE", "cont", ()),
    ("DURDIS", "Duration of disease (months)", "cont", ()),
    ("DURDSGR1", "Duration of disease group", "cat", (("<12", "<12 months"), (">=12", ">=12 months"))),
    ("EDUCLVL", "Years of education", "cont", ()),
    ("WEIGHTBL", "Baseline weight (kg)", "cont", ()),
    ("HEIGHTBL", "Baseline height (cm)", "cont", ()),
    ("BMIBL", "Baseline BMI (kg/m2)", "cont", ()),
    ("BMIBLGR1", "Baseline BMI group", "cat", (("<25", "<25"), ("25-<30", "25-<30"), (">=30", ">=30"))),
)

#: CIBIC+ categories (AVAL 1-7), SAP wording.
CIBIC = ("Marked improvement", "Moderate improvement", "Minimal improvement", "No Change", "Minimal worsening",
         "Moderate worsening", "Marked worsening")
CIBIC_WEEKS = (8, 16, 24)

F0, F1, F2, F3, F4 = "{:.0f}", "{:.1f}", "{:.2f}", "{:.3f}", "{:.4f}"
DESC_FMT = {"n": F0, "mean": F1, "sd": F2, "median": F1, "min": F1, "max": F1}

REQUIREMENTS = [
    Requirement(dataset="ADSL", step="Table 14-2.01, 14-5.01", keys=["USUBJID"], flags=["ITTFL", "SAFFL"],
                variables={"USUBJID": "str", "TRT01P": "str", "TRT01A": "str", "AGE": "num", "AGEGR1": "str",
                           "SEX": "str", "RACE": "str", "ETHNIC": "str", "MMSETOT": "num", "DURDIS": "num",
                           "DURDSGR1": "str", "EDUCLVL": "num", "WEIGHTBL": "num", "HEIGHTBL": "num",
                           "BMIBL": "num", "BMIBLGR1": "str", "ITTFL": "str", "SAFFL": "str"}),
    Requirement(dataset="ADADAS", step="Table 14-3.01", flags=["EFFFL", "ANL01FL"],
                variables={"USUBJID": "str", "PARAMCD": "str", "AVISIT": "str", "TRTP": "str", "TRTPN": "num",
                           "SITEGR1": "str", "AVAL": "num", "BASE": "num", "CHG": "num", "EFFFL": "str",
                           "ANL01FL": "str"}, param_ranges={"ACTOT": (0, 70)}),
    Requirement(dataset="ADCIBC", step="Table 14-3.13", flags=["EFFFL", "ITTFL", "ANL01FL"],
                variables={"USUBJID": "str", "AVISITN": "num", "TRTP": "str", "SITEGR1": "str", "AVAL": "num",
                           "EFFFL": "str", "ITTFL": "str", "ANL01FL": "str"},
                param_ranges={"CIBICVAL": (1, 7)}),
    Requirement(dataset="ADAE", step="Table 14-5.01", flags=["TRTEMFL"],
                variables={"USUBJID": "str", "AEBODSYS": "str", "AEDECOD": "str", "TRTEMFL": "str"}),
    Requirement(dataset="ADTTE", step="Figure 14-1", flags=["SAFFL"],
                variables={"USUBJID": "str", "PARAMCD": "str", "AVAL": "num", "CNSR": "num", "TRTA": "str",
                           "SAFFL": "str"}, keys=["USUBJID", "PARAMCD"], ranges={"AVAL": (0, None), "CNSR": (0, 1)}),
]


def check_inputs(datasets: Mapping[str, pl.DataFrame]) -> None:
    """Run the input checks of every table; raises all problems together."""
    assert_checks(datasets, REQUIREMENTS)


def _y(col: str) -> pl.Expr:
    return pl.col(col).fill_null("") == "Y"


def _desc(x: pl.Series) -> dict[str, float | None]:
    """n, mean, SD, median, min, max of the non-missing values. The mean uses an exactly rounded sum
    (``math.fsum``) so that a mean of exactly x.x5 in decimal is not displayed one unit low after rounding."""
    x = x.drop_nulls().drop_nans() if x.dtype.is_float() else x.drop_nulls()
    n = x.len()
    v = x.cast(pl.Float64).to_list()
    return {"n": n, "mean": math.fsum(v) / n if n else None, "sd": x.std() if n > 1 else None,
            "median": x.median() if n else None, "min": x.min() if n else None, "max": x.max() if n else None}


# ---------------------------------------------------------------------------------------------------------
# Table 14-2.01
# ---------------------------------------------------------------------------------------------------------

def race_origin() -> pl.Expr:
    """The CSR's "Race (Origin)" (``RACEORIG``): Hispanic ethnicity first, then race."""
    return (pl.when(pl.col("ETHNIC") == "HISPANIC OR LATINO").then(pl.lit("Hispanic"))
            .when(pl.col("RACE") == "WHITE").then(pl.lit("Caucasian"))
            .when(pl.col("RACE") == "BLACK OR AFRICAN AMERICAN").then(pl.lit("African Descent"))
            .when(pl.col("RACE").is_not_null()).then(pl.lit("Other"))
            .otherwise(None).alias("RACEORIG"))


def demographics(adsl: pl.DataFrame, analysis_id: str = "14-2.01") -> ARD:
    """Table 14-2.01: n, mean, SD, median, min, max or n (%) per arm and in total, and the p-values."""
    d = adsl.filter(_y("ITTFL")).with_columns(race_origin())
    ard = ARD()
    cols = [*ARMS, TOTAL]
    subsets = {a: d.filter(pl.col("TRT01P") == a) for a in ARMS} | {TOTAL: d}
    for a in cols:
        ard.add(analysis_id, "USUBJID", "N", subsets[a].height, groups={"TRT01P": a}, fmt=F0)
    three = d.filter(pl.col("TRT01P").is_in(list(ARMS)))
    for var, _label, kind, cats in DEMOG:
        if kind == "cont":
            for a in cols:
                ard.add_many(analysis_id, var, _desc(subsets[a][var]), groups={"TRT01P": a}, fmts=DESC_FMT)
            x = three.filter(pl.col(var).is_not_null())
            samples = [x.filter(pl.col("TRT01P") == a)[var].to_numpy() for a in ARMS]
            f = stats.f_oneway(*samples)
            ard.add_many(analysis_id, var, {"statistic": f.statistic, "df": len(ARMS) - 1, "pvalue": f.pvalue},
                         variable_level="ANOVA", fmts={"statistic": F3, "df": F0, "pvalue": F4})
        else:
            for a in cols:
                s = subsets[a][var]
                ard.add(analysis_id, var, "n", s.drop_nulls().len(), groups={"TRT01P": a}, fmt=F0)
                N = subsets[a].height
                for value, _ in cats:
                    k = int((s == value).sum())
                    ard.add_many(analysis_id, var, {"n": k, "p": k / N if N else None}, groups={"TRT01P": a},
                                 variable_level=value, fmts={"n": F0, "p": "pct0"})
            tab = np.array([[int(((three["TRT01P"] == a) & (three[var] == v)).sum()) for v, _ in cats]
                            for a in ARMS])
            tab = tab[:, tab.sum(0) > 0]
            chi = stats.chi2_contingency(tab, correction=False)
            ard.add_many(analysis_id, var, {"statistic": chi.statistic, "df": chi.dof, "pvalue": chi.pvalue},
                         variable_level="Pearson chi-square", fmts={"statistic": F3, "df": F0, "pvalue": F4})
    return ard


# ---------------------------------------------------------------------------------------------------------
# Table 14-3.01
# ---------------------------------------------------------------------------------------------------------

def adas_week24(adadas: pl.DataFrame) -> pl.DataFrame:
    """The primary analysis set: ADAS-Cog(11) total at week 24 (LOCF), efficacy population."""
    return adadas.filter((pl.col("PARAMCD") == "ACTOT") & (pl.col("AVISIT") == "Week 24") & _y("EFFFL")
                         & _y("ANL01FL")).with_columns(pl.col("SITEGR1").cast(pl.Utf8))


def adas_ancova(adadas: pl.DataFrame, analysis_id: str = "14-3.01") -> ARD:
    """Table 14-3.01: descriptive statistics, ANCOVA LS means and differences, dose-response test."""
    w = adas_week24(adadas)
    ard = ARD()
    fm = DESC_FMT | {"mean": F1, "sd": F2, "median": F1, "min": F0, "max": F0}
    for a in ARMS:
        wa = w.filter(pl.col("TRTP") == a)
        ard.add(analysis_id, "USUBJID", "N", wa["USUBJID"].n_unique(), groups={"TRTP": a}, fmt=F0)
        for var in ("BASE", "AVAL", "CHG"):
            ard.add_many(analysis_id, var, _desc(wa[var]), groups={"TRTP": a}, fmts=fm)
    levels = {"TRTP": list(ARMS)}
    fit = ancova(w, response="CHG", fixed=["TRTP", "SITEGR1", "BASE"], levels=levels, source="ADADAS")
    ls = fit.lsmeans("TRTP")
    est_fmt = {"estimate": F1, "se": F2, "ci_low": F1, "ci_high": F1, "df": F0, "statistic": F3, "pvalue": "pvalue"}
    for r in ls.table.iter_rows(named=True):
        ard.add_many(analysis_id, "CHG", {k: r[k] for k in ("estimate", "se", "df", "ci_low", "ci_high")},
                     groups={"TRTP": r["TRTP"]}, variable_level="LS mean", fmts=est_fmt)
    for ref in (PLACEBO, LOW):
        for r in ls.vs_reference(ref).iter_rows(named=True):
            arm = r["contrast"].split(" - ")[0]
            if ref == LOW and arm != HIGH:
                continue
            ard.add_many(analysis_id, "CHG", {"estimate": r["estimate"], "se": r["se"], "df": r["df"],
                                              "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                                              "statistic": r["t"], "pvalue": r["pvalue"]},
                         groups={"TRTP": arm, "REFERENCE": ref}, variable_level="LS mean difference",
                         fmts=est_fmt)
    dr = dose_response(w, response="CHG", dose="TRTPN", fixed=["SITEGR1", "BASE"], source="ADADAS")
    ard.add_many(analysis_id, "CHG", {"estimate": dr.estimate, "se": dr.se, "df": dr.extra["df"],
                                      "statistic": dr.extra["t"], "pvalue": dr.pvalue},
                 variable_level="dose-response", fmts=est_fmt | {"estimate": "{:.4f}", "se": "{:.4f}"})
    ard.add(analysis_id, "CHG", "sd", fit.sigma, variable_level="root MSE", fmt=F2)
    return ard


# ---------------------------------------------------------------------------------------------------------
# Table 14-3.13
# ---------------------------------------------------------------------------------------------------------

def cibic_records(adcibc: pl.DataFrame) -> pl.DataFrame:
    """CIBIC+ LOCF records at weeks 8, 16 and 24, efficacy population."""
    weeks = pl.col("AVISITN").cast(pl.Float64).is_in([float(w) for w in CIBIC_WEEKS])
    return (adcibc.filter(_y("EFFFL") & _y("ITTFL") & _y("ANL01FL") & weeks)
            .with_columns(pl.col("SITEGR1").cast(pl.Utf8)))


def cibic_cmh(adcibc: pl.DataFrame, analysis_id: str = "14-3.13") -> ARD:
    """Table 14-3.13: n (%) per CIBIC+ category, arm and visit; CMH row-mean-scores test by site group."""
    d = cibic_records(adcibc)
    ard = ARD()
    for a in ARMS:
        ard.add(analysis_id, "USUBJID", "N", d.filter(pl.col("TRTP") == a)["USUBJID"].n_unique(),
                groups={"TRTP": a}, fmt=F0)
    for wk in CIBIC_WEEKS:
        v = d.filter(pl.col("AVISITN") == wk)
        visit = f"Week {wk}"
        for a in ARMS:
            va = v.filter(pl.col("TRTP") == a)
            n = va.height
            ard.add(analysis_id, "AVAL", "n", n, groups={"TRTP": a, "AVISIT": visit}, fmt=F0)
            for i, label in enumerate(CIBIC, start=1):
                k = int((va["AVAL"] == i).sum())
                ard.add_many(analysis_id, "AVAL", {"n": k, "p": k / n if n else None},
                             groups={"TRTP": a, "AVISIT": visit}, variable_level=label,
                             fmts={"n": F0, "p": "pct0"})
        scores = sorted({float(x) for x in v["AVAL"].drop_nulls().to_list()})
        counts = counts_from_frame(v, "TRTP", "AVAL", strata="SITEGR1", treatment_levels=list(ARMS),
                                   response_levels=scores, source="ADCIBC")
        r = cmh(counts, col_scores=scores).row_mean_scores
        ard.add_many(analysis_id, "AVAL", {"statistic": r.statistic, "df": r.df, "pvalue": r.pvalue},
                     groups={"AVISIT": visit}, variable_level="CMH row mean scores",
                     fmts={"statistic": F3, "df": F0, "pvalue": F4})
    return ard


# ---------------------------------------------------------------------------------------------------------
# Table 14-5.01
# ---------------------------------------------------------------------------------------------------------

def teae_soc_pt(adae: pl.DataFrame, adsl: pl.DataFrame, analysis_id: str = "14-5.01") -> ARD:
    """Table 14-5.01: subjects with TEAEs by SOC and PT, n (%) and events per arm (safety population)."""
    return ae_soc_pt(adae, adsl, arm="TRT01A", arms=list(ARMS), pop_flag="SAFFL", te_flag="TRTEMFL",
                     analysis_id=analysis_id)


# ---------------------------------------------------------------------------------------------------------
# Figure 14-1
# ---------------------------------------------------------------------------------------------------------

def time_label(t: float) -> str:
    """ARD ``variable_level`` of a KM time point (days)."""
    return f"{t:g}"


def ttde_km(adtte: pl.DataFrame, analysis_id: str = "14-1") -> ARD:
    """Figure 14-1: Kaplan-Meier curve rows per arm and time (n at risk, events, S(t), Greenwood SE, log-scale
    95% limits), median time with its limits, and the log-rank test."""
    d = adtte.filter((pl.col("PARAMCD") == "TTDE") & _y("SAFFL"))
    time, event, arm = d["AVAL"].to_numpy(), 1 - d["CNSR"].to_numpy(), d["TRTA"].to_numpy()
    km = kaplan_meier(time, event, arm, levels=[a for a in ARMS if a in set(arm.tolist())])
    ard = ARD()
    fm = {"n": F0, "events": F0, "estimate": F3, "se": F3, "ci_low": F3, "ci_high": F3}
    for a, r in km.items():
        g = {"TRTA": a}
        ard.add_many(analysis_id, "AVAL", {"N": r.n, "events": r.events}, groups=g, fmts={"N": F0, "events": F0})
        ard.add_many(analysis_id, "AVAL", {"estimate": r.median, "ci_low": r.median_ci_low,
                                           "ci_high": r.median_ci_high}, groups=g, variable_level="median",
                     fmts={"estimate": F1, "ci_low": F1, "ci_high": F1})
        for i, t in enumerate(r.time):
            ard.add_many(analysis_id, "AVAL", {"n": r.n_risk[i], "events": r.n_event[i], "estimate": r.surv[i],
                                               "se": r.se[i], "ci_low": r.ci_low[i], "ci_high": r.ci_high[i]},
                         groups=g, variable_level=time_label(t), fmts=fm)
    lr = logrank_test(time, event, arm)
    ard.add_many(analysis_id, "AVAL", {"statistic": lr.statistic, "df": lr.df, "pvalue": lr.pvalue},
                 variable_level="log-rank", fmts={"statistic": F2, "df": F0, "pvalue": "pvalue"})
    return ard


def build_ard(datasets: Mapping[str, pl.DataFrame], tables: Sequence[str] | None = None) -> pl.DataFrame:
    """Check the inputs, then build the ARD of every table (or of ``tables``, by analysis id) as one frame."""
    ds = {k.upper(): v for k, v in datasets.items()}
    check_inputs(ds)
    builders = {
        "14-2.01": lambda: demographics(ds["ADSL"]),
        "14-3.01": lambda: adas_ancova(ds["ADADAS"]),
        "14-3.13": lambda: cibic_cmh(ds["ADCIBC"]),
        "14-5.01": lambda: teae_soc_pt(ds["ADAE"], ds["ADSL"]),
        "14-1": lambda: ttde_km(ds["ADTTE"]),
    }
    wanted = list(tables) if tables is not None else list(builders)
    return concat(builders[t]() for t in wanted)
