"""Graphical multiple testing procedures (Bretz et al. 2009; Bretz et al. 2011).

>>> from trialkit.multiplicity import Graph, holm
>>> holm(3).test([0.01, 0.02, 0.04], alpha=0.05).adjusted_pvalues.round(3).tolist()
[0.03, 0.04, 0.04]
"""

from trialkit.multiplicity.claims import claims_met
from trialkit.multiplicity.graph import Graph, from_dict, to_dict
from trialkit.multiplicity.procedures import METHODS, MultiplicityResult, graph_test
from trialkit.multiplicity.strategy import Strategy
from trialkit.multiplicity.templates import (
    dose_correlation,
    dose_pairs,
    doses_coprimary,
    doses_coprimary_claims,
    dunnett_rho,
    fallback,
    fixed_sequence,
    from_template,
    hochberg,
    holm,
    two_doses_coprimary,
    two_doses_coprimary_claims,
)

__all__ = [
    "METHODS",
    "Graph",
    "MultiplicityResult",
    "Strategy",
    "claims_met",
    "dose_correlation",
    "dose_pairs",
    "doses_coprimary",
    "doses_coprimary_claims",
    "dunnett_rho",
    "fallback",
    "fixed_sequence",
    "from_dict",
    "from_template",
    "graph_test",
    "hochberg",
    "holm",
    "to_dict",
    "two_doses_coprimary",
    "two_doses_coprimary_claims",
]
