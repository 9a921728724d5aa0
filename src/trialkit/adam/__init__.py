"""ADaM derivations: small composable verbs over polars DataFrames (see :mod:`trialkit.adam.verbs`)."""

from trialkit.adam.verbs import (
    Window,
    assert_vars,
    derive_locf_records,
    derive_param_tte,
    derive_var_ablfl,
    derive_var_base,
    derive_var_chg,
    derive_var_crit_flag,
    derive_var_pchg,
    derive_var_trtemfl,
    derive_vars_avisit,
    derive_vars_dt,
    derive_vars_dy,
    derive_vars_exposure,
    derive_vars_trtdur,
)

__all__ = [
    "Window",
    "assert_vars",
    "derive_locf_records",
    "derive_param_tte",
    "derive_var_ablfl",
    "derive_var_base",
    "derive_var_chg",
    "derive_var_crit_flag",
    "derive_var_pchg",
    "derive_var_trtemfl",
    "derive_vars_avisit",
    "derive_vars_dt",
    "derive_vars_dy",
    "derive_vars_exposure",
    "derive_vars_trtdur",
]
