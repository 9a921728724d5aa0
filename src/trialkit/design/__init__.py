"""Trial design at scale: operating characteristics from many full patient-level simulated trials.

>>> from trialkit.study import load_study   # doctest: +SKIP
>>> study = load_study("studies/ignite.toml")  # doctest: +SKIP
>>> res = design(study, replicates=2000, scenarios=["published"])  # doctest: +SKIP
>>> sorted(res["scenarios"][0]["prob_success"]) == sorted(a.id for a in study.active_arms)  # doctest: +SKIP
True
"""

from trialkit.design.backend import ArrayBackend, array_backend, cupy_available
from trialkit.design.engine import chunk_plan, chunk_seed, run_chunk
from trialkit.design.power import cmh_power, power_from_pooled
from trialkit.design.report import render_html, to_ard, write_outputs
from trialkit.design.run import curve_sizes, design, scenario_study, search_sample_size
from trialkit.design.simulator import Outcomes, design_endpoints, simulate_outcomes

__all__ = [
    "ArrayBackend", "Outcomes", "array_backend", "chunk_plan", "chunk_seed", "cmh_power", "cupy_available",
    "curve_sizes", "design", "design_endpoints", "power_from_pooled", "render_html", "run_chunk",
    "scenario_study", "search_sample_size", "simulate_outcomes", "to_ard", "write_outputs",
]
