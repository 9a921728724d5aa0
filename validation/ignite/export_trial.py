"""Export one simulated IGNITE trial's week-24 responder data (the input of reference.R).

Rerun:  .venv/bin/python validation/ignite/export_trial.py && Rscript validation/ignite/reference.R
The CSV is stored with the fixture, so the test does not depend on the simulator staying the same.
"""

from pathlib import Path

import polars as pl

from trialkit.pipeline import analyse_sdtm, simulate_sdtm
from trialkit.study import load_study

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

study = load_study(ROOT / "studies" / "ignite.toml")
adsl, adeff = analyse_sdtm(study, simulate_sdtm(study, seed=2024))
wk24 = adeff.filter(pl.col("PARAMCD").is_in(["EASI75", "VIGA01", "RIGA01"]) & (pl.col("AVISITN") == 24))
wide = wk24.pivot(on="PARAMCD", index=["USUBJID", "TRT01P", "BLIGA", "REGION", "PRIORBIO"], values="AVAL")
wide.sort("USUBJID").write_csv(HERE / "trial_seed2024.csv")
print(wide.height, "subjects written")

# MMRM input (percent change in EASI, observed while not rescued) for mmrm_reference.R
from trialkit.sensitivity import _long  # noqa: E402

mm = _long(adeff, adsl, study, "EASI", "PCHG").filter(pl.col("Y").is_not_null())
mm.select("USUBJID", "TRT01P", "AVISIT", "AVISITN", "BASE", "REGION", "PRIORBIO", "Y").write_csv(
    HERE / "mmrm_seed2024.csv")
print(mm.height, "MMRM records written")
