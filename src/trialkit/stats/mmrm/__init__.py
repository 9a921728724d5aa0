"""Mixed models for repeated measures (MMRM), matching SAS PROC MIXED with a REPEATED statement.

One module per concern: ``design`` (terms -> design matrix), ``covariance`` (structures), ``likelihood``
(REML/ML by missingness pattern), ``satterthwaite`` and ``kenward_roger`` (degrees of freedom), ``lsmeans``,
``type3`` (hypotheses), ``fit`` (the ``mmrm`` entry point and its result).
"""

from trialkit.stats.mmrm.fit import MMRMResult, mmrm
from trialkit.stats.mmrm.lsmeans import LSMeans

__all__ = ["LSMeans", "MMRMResult", "mmrm"]
