"""The main jobs, end to end: simulate (``trialkit run``) or take the user's data (``trialkit analyze``), derive ADaM,
analyse, and write SDTM/ADaM, the ARD, the topline and the report. Every file is written atomically.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from trialkit import _files
from trialkit import ard as ard_mod
from trialkit.adam.efficacy import derive_adeff, derive_adsl
from trialkit.adam.inputs import prepare_adam, stratum_sources
from trialkit.checks import MAX_ROWS, Requirement, run_checks
from trialkit.efficacy import analyse_study
from trialkit.errors import TrialkitError, TrialkitErrors
from trialkit.io import read_folder, write_parquet
from trialkit.report.figures import multiplicity_graph, responder_rates_by_visit, to_png
from trialkit.report.html import render_report
from trialkit.report.safety import n_pct_table, safety_topline
from trialkit.report.topline import build_topline, topline_json, topline_markdown
from trialkit.safety.adae import AE_REQUIRED
from trialkit.safety.analysis import analyse_safety, derive_study_adae
from trialkit.sdtm import build_sdtm
from trialkit.simulate import simulate_cohort
from trialkit.study import RegionalComposite, Study

Progress = Callable[[str], None]

def sdtm_requirements(study: Study) -> list[Requirement]:
    """What the derivations need from SDTM (checked before anything is derived); scores range-checked by their
    QS test code."""
    ranges: dict[str, tuple[float, float]] = {}
    for sc in study.scores.values():
        lo, hi = sc.range
        if isinstance(sc, RegionalComposite):
            ranges.update({c: (0.0, sc.sign_max) for c in sc.sign_codes})
            ranges.update({c: (0.0, 100.0) for c in sc.area_codes})
        elif sc.sdtm.testcd and lo is not None and hi is not None:
            ranges[sc.sdtm.testcd] = (lo, hi)
    dm_vars = {"STUDYID": "str", "USUBJID": "str", "SUBJID": "str", "SITEID": "str", "AGE": "num", "SEX": "str",
               "RACE": "str", "ARM": "str", "ARMCD": "str", "ACTARM": "str", "ACTARMCD": "str"}
    dm_levels = {}
    supp_levels = {}
    for st, (var, kind, levels) in zip(study.strata, stratum_sources(study), strict=True):
        if var == st.id and (st.source is None or (st.source.cuts is None and st.source.map is None)):
            supp_levels[st.id] = list(st.levels)  # as assigned, in SUPPDM
        else:
            dm_vars.setdefault(var, "num" if kind == "num" else "str")
            if levels is not None:
                dm_levels[var] = levels
    return [
        Requirement(dataset="DM", step="ADSL", variables=dm_vars, keys=["USUBJID"], ranges={"AGE": (0, 120)},
                    levels=dm_levels),
        Requirement(dataset="SUPPDM", step="ADSL", variables={"USUBJID": "str", "QNAM": "str", "QVAL": "str"},
                    keys=["USUBJID", "QNAM"], optional=not supp_levels, param_var="QNAM", value_var="QVAL",
                    param_levels=supp_levels or None),
        Requirement(dataset="AE", step="ADAE", variables={v: "num" if v == "AESEQ" else "str" for v in AE_REQUIRED},
                    optional=True),
        Requirement(dataset="EX", step="ADSL", variables={"USUBJID": "str", "EXSTDTC": "str", "EXDOSE": "num"}),
        Requirement(dataset="DS", step="ADSL", variables={"USUBJID": "str", "DSCAT": "str", "DSDECOD": "str",
                                                           "DSSTDTC": "str"}),
        Requirement(dataset="QS", step="ADEFF", variables={"USUBJID": "str", "QSTESTCD": "str", "QSSTRESN": "num",
                                                           "VISITNUM": "num", "VISIT": "str", "QSDTC": "str"},
                    keys=["USUBJID", "VISITNUM", "QSTESTCD"], param_var="QSTESTCD", value_var="QSSTRESN",
                    param_ranges=ranges),
        Requirement(dataset="CM", step="ADSL", variables={"USUBJID": "str", "CMCAT": "str", "CMSTDTC": "str"},
                    optional=True),
    ]


@dataclass
class RunResult:
    out: Path
    topline: dict[str, Any]
    ard: pl.DataFrame
    files: list[Path]


def _noop(_: str) -> None:
    pass


def simulate_sdtm(study: Study, *, seed: int, n: int | None = None) -> dict[str, pl.DataFrame]:
    """Simulated SDTM for one trial."""
    return build_sdtm(study, simulate_cohort(study, n, seed=seed), seed=seed)


def analyse_sdtm(study: Study, sdtm: dict[str, pl.DataFrame]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """SDTM -> (ADSL, ADEFF) through the derivation verbs."""
    adsl = derive_adsl(sdtm, study)
    return adsl, derive_adeff(sdtm, adsl, study)


#: What trialkit's ADSL from SDTM holds: the population flags and treatment variables a study may use with SDTM
SDTM_FLAGS = ("ITTFL", "SAFFL", "RANDFL")
SDTM_TREATMENT = ("TRT01P", "TRT01A")


def check_sdtm_settings(study: Study, source: str) -> None:
    """Refuse, before anything runs, the settings that ADSL derived from SDTM cannot serve."""
    errs = []
    for flag in study.population_flags():
        if flag not in SDTM_FLAGS:
            errs.append(TrialkitError(
                f"population flag {flag} is not derived from SDTM (trialkit derives {', '.join(SDTM_FLAGS)})",
                source=source, variable="analysis.population / endpoints.estimand.population",
                fix="use ITT or SAF with SDTM input, or analyse the ADaM that holds the flag"))
    if study.adam.treatment not in SDTM_TREATMENT:
        errs.append(TrialkitError(f"treatment variable {study.adam.treatment} is not derived from SDTM",
                                  source=source, variable="adam.treatment",
                                  fix=f"use one of {', '.join(SDTM_TREATMENT)} with SDTM input"))
    if errs:
        raise errs[0] if len(errs) == 1 else TrialkitErrors(errs, summary=f"{source}: settings SDTM cannot serve")


def derive_adam(study: Study, sdtm: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """All ADaM datasets: ADSL, ADEFF and, when SDTM has AE, ADAE."""
    check_sdtm_settings(study, "SDTM")
    adsl, adeff = analyse_sdtm(study, sdtm)
    adam = {"ADSL": adsl, "ADEFF": adeff}
    if "AE" in sdtm:
        adam["ADAE"] = derive_study_adae(sdtm["AE"], adsl)
    return adam


def report_outputs(study: Study, adam: dict[str, pl.DataFrame], out: Path, *, seed: int | None, source: str,
                   progress: Progress = _noop, sdtm: dict[str, pl.DataFrame] | None = None) -> RunResult:
    """Analyse ADSL/ADEFF and write everything under ``out``."""
    progress("analysing endpoints")
    ard_rows = analyse_study(adam["ADSL"], adam["ADEFF"], study)
    if "ADAE" in adam:
        progress("analysing adverse events")
        ard_rows.extend(analyse_safety(adam["ADAE"], adam["ADSL"], study))
    ard = ard_rows.to_frame()
    topline = build_topline(ard, study, seed=seed, source=source)
    safety = safety_topline(ard, study)
    if safety is not None:
        topline["safety"] = safety
    progress("rendering report")
    resp_ids = [e.id for e in study.endpoints if e.binary][:3]
    figs = {"Responder rates by visit (95% CI)": ("responders_by_visit.png",
                                                  to_png(responder_rates_by_visit(ard, study, resp_ids)))}
    graph_fig = multiplicity_graph(study, ard)
    if graph_fig is not None:
        figs["Multiplicity graph"] = ("multiplicity_graph.png", to_png(graph_fig))
    tables = {}
    if safety is not None:
        tables = {"Treatment-emergent adverse events: overview":
                  n_pct_table(ard, "AE_OVERVIEW", study, "Subjects with"),
                  "TEAEs in >= 5% of patients in any arm (preferred term)": n_pct_table(ard, "AE_PT_GE5", study),
                  "Adverse events of special interest": n_pct_table(ard, "AESI", study)}
    html = render_report(topline, {title: png for title, (_, png) in figs.items()}, tables=tables)
    progress("writing outputs")
    files: list[Path] = []
    if sdtm is not None:
        for name, df in sdtm.items():
            files.append(write_parquet(df, out / "sdtm" / f"{name.lower()}.parquet"))
    for name, df in adam.items():
        files.append(write_parquet(df, out / "adam" / f"{name.lower()}.parquet"))
    files += list(ard_mod.write(ard, out))
    for fname, png in figs.values():
        files.append(_files.write_bytes(out / "figures" / fname, png))
    files.append(_files.write_text(out / "topline.md", topline_markdown(topline)))
    files.append(_files.write_text(out / "report.html", html))
    # topline.json last: its presence means the run finished
    files.append(_files.write_text(out / "topline.json", topline_json(topline)))
    return RunResult(out=out, topline=topline, ard=ard, files=files)


def run(study: Study, out: str | Path, *, seed: int, n: int | None = None, progress: Progress = _noop) -> RunResult:
    """``trialkit run``: simulate one trial and analyse it."""
    out = Path(out)
    study.model_or_fail("trialkit run (a simulated trial)")
    check_sdtm_settings(study, "trialkit run")
    progress(f"simulating {n or study.study.n_randomized} patients")
    sdtm = simulate_sdtm(study, seed=seed, n=n)
    progress("deriving ADaM")
    return report_outputs(study, derive_adam(study, sdtm), out, seed=seed, source="simulated",
                          progress=progress, sdtm=sdtm)


#: ACTARM of randomized subjects who received nothing (SDTMIG 3.4, DM ACTARM)
NOT_TREATED = ("Not Treated", "NOT TREATED")


def arm_label_problems(study: Study, sdtm: dict[str, pl.DataFrame]) -> list[TrialkitError]:
    """DM ARM/ACTARM values of randomized subjects (a DS ``RANDOMIZED`` record) that are not arm labels of the study
    (ACTARM may also be "Not Treated"; screen failures may carry any value); checked with the other SDTM problems."""
    up = {k.upper(): v for k, v in sdtm.items()}
    dm, ds = up.get("DM"), up.get("DS")
    if dm is None or ds is None or "USUBJID" not in dm.columns or not {"USUBJID", "DSDECOD"} <= set(ds.columns):
        return []  # missing variables are reported by the requirements
    if dm.schema["USUBJID"] != pl.Utf8 or ds.schema["USUBJID"] != pl.Utf8 or ds.schema["DSDECOD"] != pl.Utf8:
        return []  # so are wrong types
    rand = ds.filter(pl.col("DSDECOD") == "RANDOMIZED").select("USUBJID").unique()
    labels = [a.label for a in study.arms]
    out = []
    for var, also in (("ARM", ()), ("ACTARM", NOT_TREATED)):
        if var not in dm.columns or dm.schema[var] not in (pl.Utf8, pl.Categorical):
            continue
        d = dm.with_row_index("_row", offset=1).join(rand, on="USUBJID", how="semi")
        bad = d.filter(pl.col(var).is_null() | ~pl.col(var).cast(pl.Utf8).is_in([*labels, *also]))
        if bad.height:
            out.append(TrialkitError(
                f"{bad.height} randomized subject(s) with values {bad[var].unique().head(5).to_list()} that are not "
                f"arm labels of the study file ({labels})", source="DM (ADSL)", variable=var,
                rows=bad["_row"].head(MAX_ROWS).to_list(),
                fix="make the [[arms]] labels match DM's arm values"))
    return out


def load_user_data(study: Study, data: str | Path) -> tuple[str, dict[str, pl.DataFrame]]:
    """Read the user's SDTM or ADaM folder and check it for ``study``: returns ("adam"|"sdtm", datasets); ADaM is
    ADSL (``[adam] subject_dataset``) with the BDS datasets the study's scores name (any names)."""
    datasets = {k: v.df for k, v in read_folder(data, prefer=("parquet", "xpt", "json", "csv")).items()}
    return classify_data(study, datasets, source=str(data))


def classify_data(study: Study, datasets: dict[str, pl.DataFrame], source: str = "data") -> tuple[
        str, dict[str, pl.DataFrame]]:
    """("adam" | "sdtm", datasets) for the study; SDTM is checked here, ADaM by :func:`prepare_adam`."""
    up = {k.upper() for k in datasets}
    bds = {study.score(ep.score).dataset.upper() for ep in study.endpoints}
    if study.adam.subject_dataset.upper() in up and bds & up:
        return "adam", datasets
    if "DM" in up:
        errs = run_checks(datasets, sdtm_requirements(study)) + arm_label_problems(study, datasets)
        if errs:
            raise TrialkitErrors(errs, summary="input checks failed")
        return "sdtm", datasets
    raise TrialkitError(f"found neither SDTM (DM, EX, DS, QS) nor the study's ADaM ({study.adam.subject_dataset}, "
                        f"{', '.join(sorted(bds))}) datasets (found: {', '.join(sorted(datasets)) or 'none'})",
                        source=source, fix="point --data at the folder holding the datasets, or name the "
                        "datasets in the study file ([adam] subject_dataset, scores.ID.dataset)")


def analyze(study: Study, data: str | Path, out: str | Path, *, progress: Progress = _noop) -> RunResult:
    """``trialkit analyze``: the study's analyses on the user's SDTM or ADaM data."""
    progress(f"reading and checking {data}")
    kind, datasets = load_user_data(study, data)
    return analyze_datasets(study, kind, datasets, out, progress=progress)


def analyze_datasets(study: Study, kind: str, datasets: dict[str, pl.DataFrame], out: str | Path, *,
                     progress: Progress = _noop) -> RunResult:
    """The study's analyses on datasets already read (``kind`` from :func:`classify_data`)."""
    if kind == "sdtm":
        progress("deriving ADaM")
        adam = derive_adam(study, datasets)
    else:
        progress("deriving the endpoints from the ADaM score records")
        adam = prepare_adam(study, datasets)
    return report_outputs(study, adam, Path(out), seed=None, source="observed", progress=progress)
