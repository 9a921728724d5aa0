"""Pure, vectorized statistics: no I/O. Leading array axes are replicates."""

# --- categorical endpoints (issue 3) ---
# --- continuous endpoints: MMRM and ANCOVA (issue 8) ---
from trialkit.stats.ancova import ancova as ancova  # noqa: E402
from trialkit.stats.ancova import dose_response as dose_response  # noqa: E402
from trialkit.stats.counts import counts_from_frame as counts_from_frame  # noqa: E402
from trialkit.stats.exact import exact_unconditional_rd as exact_unconditional_rd  # noqa: E402
from trialkit.stats.exact import fisher_exact as fisher_exact  # noqa: E402
from trialkit.stats.exact import fisher_odds_ratio as fisher_odds_ratio  # noqa: E402
from trialkit.stats.logistic import logistic_treatment_effect as logistic_treatment_effect  # noqa: E402
from trialkit.stats.mantel_haenszel import CMHResult as CMHResult  # noqa: E402
from trialkit.stats.mantel_haenszel import cmh as cmh  # noqa: E402
from trialkit.stats.mantel_haenszel import mh_test as mh_test  # noqa: E402
from trialkit.stats.mmrm import mmrm as mmrm  # noqa: E402
from trialkit.stats.odds_ratio import breslow_day as breslow_day  # noqa: E402
from trialkit.stats.odds_ratio import mh_odds_ratio as mh_odds_ratio  # noqa: E402
from trialkit.stats.odds_ratio import mh_relative_risk as mh_relative_risk  # noqa: E402
from trialkit.stats.proportion import proportion_ci as proportion_ci  # noqa: E402
from trialkit.stats.riskdiff import mh_risk_difference as mh_risk_difference  # noqa: E402
from trialkit.stats.riskdiff import risk_difference as risk_difference  # noqa: E402
from trialkit.stats.riskdiff import stratified_risk_difference as stratified_risk_difference  # noqa: E402

# --- survival: Kaplan-Meier and log-rank (issue 4, CDISC Pilot) ---
from trialkit.stats.survival import KMResult as KMResult  # noqa: E402
from trialkit.stats.survival import kaplan_meier as kaplan_meier  # noqa: E402
from trialkit.stats.survival import logrank_test as logrank_test  # noqa: E402
