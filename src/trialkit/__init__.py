"""trialkit: the statistics of a Phase 3 clinical trial, end to end.

Flow: ``studies/*.toml`` -> :mod:`trialkit.study` -> :mod:`trialkit.randomize` / :mod:`trialkit.simulate`
-> :mod:`trialkit.sdtm` -> :mod:`trialkit.adam` -> :mod:`trialkit.stats` -> :mod:`trialkit.ard`
-> :mod:`trialkit.report`; :mod:`trialkit.cli` drives it.
"""

from trialkit.errors import TrialkitError

__all__ = ["TrialkitError", "__version__"]
__version__ = "0.1.0"
