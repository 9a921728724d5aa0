"""Transcribe published SAS PROC MIXED results on fev_data into sas_published.json.

Rerun: cd <repo> && .venv/bin/python validation/mmrm/make_sas_fixture.py
Sources (openpharma/mmrm, Apache-2.0; SAS listings kept by that package for its own validation):
- design/SAS/sas_log_reml.txt (commit b5f1c4cc6c7b8f0300da83725c69363a66e61adb) and design/SAS/sas_log.txt
  (same commit): FEV1 = RACE SEX ARMCD AVISIT ARMCD*AVISIT, REPEATED AVISIT / type=UN, DDFM=SATTERTHWAITE,
  REML and ML; CLASS refs ARMCD=PBO, AVISIT=VIS1, RACE=Asian, SEX=Male. Values as printed (4-5 significant
  digits; df rounded to integers by SAS).
- design/SAS/sas_group_csh_reml.txt (commit c1b5b710c5327fc221f71f4e4288cac817018d13): FEV1 = (intercept),
  REPEATED AVISIT / type=CSH group=ARMCD, REML.
- tests/testthat/test-kenwardroger.R (commit 11d0c851c30db90b3e62dee25104030f9cbb4e50): SE and df of the
  ARMCD TRT-PBO contrast in FEV1 = ARMCD with each covariance structure, DDFM=KR ("kr") and KR(FIRSTORDER)
  ("kr_linear"), REML; described there as SAS results (compared by that package at 1e-3 tolerance).
"""

import json
from pathlib import Path

TERMS = ["(Intercept)", "ARMCDTRT", "AVISITVIS2", "AVISITVIS3", "AVISITVIS4", "ARMCDTRT:AVISITVIS2",
         "ARMCDTRT:AVISITVIS3", "ARMCDTRT:AVISITVIS4", "RACEBlack or African American", "RACEWhite", "SEXFemale"]
TYPE3 = ["ARMCD", "AVISIT", "ARMCD:AVISIT", "RACE", "SEX"]

out = {
    "source": __doc__,
    "fev_us_reml": {
        "neg2_loglik": 3386.44987722, "aic": 3406.4, "bic": 3439.4,
        "coef": {"term": TERMS,
                 "estimate": [30.7774, 3.7745, 4.8396, 10.3422, 15.0537, -0.04231, -0.6939, 0.6240, 1.5305, 5.6436,
                              0.3262],
                 "se": [0.8865, 1.0741, 0.8016, 0.8227, 1.3129, 1.1292, 1.1876, 1.8510, 0.6244, 0.6656, 0.5319],
                 "df": [219, 146, 144, 156, 138, 139, 158, 130, 169, 157, 166]},
        "type3": {"term": TYPE3, "num_df": [1, 3, 3, 2, 1], "den_df": [169, 148, 148, 166, 166],
                  "F": [31.67, 142.11, 0.26, 36.92, 0.38]},
    },
    "fev_us_ml": {
        "neg2_loglik": 3397.6, "aic": 3439.6, "bic": 3508.8,
        "coef": {"term": TERMS,
                 "estimate": [30.7748, 3.7751, 4.8376, 10.3459, 15.0480, -0.03937, -0.6923, 0.6250, 1.5361, 5.6436,
                              0.3275],
                 "se": [0.8767, 1.0641, 0.7948, 0.8156, 1.3027, 1.1195, 1.1773, 1.8367, 0.6146, 0.6548, 0.5235],
                 "df": [222, 148, 146, 158, 140, 141, 161, 131, 173, 161, 171]},
        "type3": {"term": TYPE3, "num_df": [1, 3, 3, 2, 1], "den_df": [171, 150, 150, 170, 171],
                  "F": [32.49, 144.50, 0.26, 38.12, 0.39]},
    },
    "fev_group_csh_reml": {
        "neg2_loglik": 3764.55218946, "aic": 3784.6, "bic": 3817.5,
        "covariance_parameters": {
            "PBO": [122.64, 45.1705, 21.4110, 126.14, 0.08074],
            "TRT": [82.7175, 31.3308, 44.6841, 234.52, 0.2097],
        },
        "coef": {"term": ["(Intercept)"], "estimate": [41.8458], "se": [0.3372], "df": [191]},
    },
    "kr_armcd": {
        # structure: [se_kr, df_kr, se_kr_linear]
        "ar1": [0.95865439662225, 188.46934887972, 0.96058142305176],
        "ar1h": [0.7590316099633, 188.225339095373, 0.75924807546934],
        "cs": [0.7965, 177.038485931223, 0.7964696053595],
        "csh": [0.67414806011886, 190.737701349941, 0.67403858183242],
        "adh": [0.66172017349971, 162.393385281755, 0.66158550758897],
        "toep": [0.87839805519623, 160.027408337368, 0.87839805519623],
        "toeph": [0.72543828853831, 180.062730071701, 0.72537324518435],
        "us": [0.66124382270307, 160.733266403768, 0.66124382270307],
    },
}
Path(__file__).with_name("sas_published.json").write_text(json.dumps(out, indent=1))
print("wrote sas_published.json")
