"""The safety analyses of a study file, from SDTM AE and ADSL into the ARD (analysis ids ``AE_OVERVIEW``,
``AE_SOCPT``, ``AE_PT_GE5``, ``AE_MAXSEV``, ``AESI``, ``AE_EAIR`` and their ``_RD`` risk differences)."""

from __future__ import annotations

import polars as pl

from trialkit.ard import ARD
from trialkit.safety.adae import derive_adae
from trialkit.safety.tables import ae_eair, ae_max_severity, ae_overview, ae_soc_pt, aesi_summary
from trialkit.study import Study

ARM = "TRT01A"
THRESHOLD = 0.05


def derive_study_adae(ae: pl.DataFrame, adsl: pl.DataFrame) -> pl.DataFrame:
    """ADAE from SDTM AE and ADSL (treatment-emergent: onset on or after first dose)."""
    return derive_adae(ae, adsl)


def analyse_safety(adae: pl.DataFrame, adsl: pl.DataFrame, study: Study) -> ARD:
    """TEAE overview, SOC/PT, PTs in >= 5% of any arm, maximum severity, events of special interest, EAIR."""
    ref = study.placebo.label
    arms = [a.label for a in study.arms]
    aesi = dict((study.safety or {}).get("special_interest") or {})
    ard = ARD()
    ard.extend(ae_overview(adae, adsl, arms=arms, reference=ref))
    ard.extend(ae_soc_pt(adae, adsl, arms=arms, reference=ref, analysis_id="AE_SOCPT"))
    ard.extend(ae_soc_pt(adae, adsl, arms=arms, reference=ref, threshold=THRESHOLD, include_soc=False,
                         analysis_id="AE_PT_GE5"))
    ard.extend(ae_max_severity(adae, adsl, arms=arms))
    if aesi:
        ard.extend(aesi_summary(adae, adsl, aesi, arms=arms, reference=ref))
    ard.extend(ae_eair(adae, adsl, arms=arms, by="AEDECOD"))
    return ard
