"""Safety: adverse-event data (simulated or real) -> ADAE -> TEAE tables, rates and pooled summaries.

- :mod:`trialkit.safety.simulate` -- SDTM AE domain from arm-specific per-PT incidences.
- :mod:`trialkit.safety.coding` -- a small MedDRA-like PT -> SOC table.
- :mod:`trialkit.safety.adae` -- ADAE derivation (TRTEMFL, ASTDT/AENDT, ASTDY/AENDY, ADURN, ASEV, AOCCxxFL).
- :mod:`trialkit.safety.tables` -- overview, SOC/PT, maximum severity, events of special interest, EAIR (ARD).
- :mod:`trialkit.safety.pooled` -- integrated summary of safety over several studies (DuckDB).
"""

from trialkit.safety._stats import poisson_rate_ci
from trialkit.safety.adae import derive_adae
from trialkit.safety.coding import CODING_TABLE, GI_ULCERATION
from trialkit.safety.pooled import SafetyDatabase, pooled_safety
from trialkit.safety.simulate import IGNITE_EXAMPLE, AESimConfig, AETermConfig, simulate_adverse_events
from trialkit.safety.tables import (
    ae_eair,
    ae_max_severity,
    ae_overview,
    ae_soc_pt,
    aesi_listing,
    aesi_summary,
)

__all__ = [
    "CODING_TABLE", "GI_ULCERATION", "IGNITE_EXAMPLE", "AESimConfig", "AETermConfig", "SafetyDatabase",
    "ae_eair", "ae_max_severity", "ae_overview", "ae_soc_pt", "aesi_listing", "aesi_summary", "derive_adae",
    "poisson_rate_ci", "pooled_safety", "simulate_adverse_events",
]
