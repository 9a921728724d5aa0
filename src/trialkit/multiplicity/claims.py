"""Claims on top of a graph's rejections (e.g. co-primary endpoints: both must be rejected for the dose).

The graph controls the FWER over the individual hypotheses; a claim that needs several of them (intersection-union,
Berger 1982) succeeds when all are rejected and needs no further adjustment.

>>> import numpy as np
>>> claims_met(np.array([True, True, False]), {"dose": ["A", "B"], "sec": ["C"]}, names=["A", "B", "C"])
{'dose': True, 'sec': False}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trialkit.errors import TrialkitError


def claims_met(
    rejected: Any,
    claims: Mapping[str, Sequence[str]],
    names: Sequence[str] | None = None,
) -> dict[str, Any]:
    """For each claim (name -> hypotheses it needs), whether all its hypotheses are rejected.

    ``rejected`` is a boolean array (..., m) or a :class:`~trialkit.multiplicity.MultiplicityResult` (then
    ``names`` comes from it). Returns bools for a single vector, boolean arrays over the replicate axes otherwise.
    """
    if hasattr(rejected, "rejected") and hasattr(rejected, "names"):
        names = rejected.names if names is None else names
        rejected = rejected.rejected
    if names is None:
        raise TrialkitError("names are needed to match claims to hypotheses", variable="names")
    r = np.asarray(rejected, dtype=bool)
    names = list(names)
    if r.shape[-1] != len(names):
        raise TrialkitError(f"rejections have {r.shape[-1]} columns for {len(names)} hypotheses",
                            variable="rejected")
    index = {n: i for i, n in enumerate(names)}
    out: dict[str, Any] = {}
    for claim, hyps in claims.items():
        if isinstance(hyps, str) or not hyps:
            raise TrialkitError("a claim needs a non-empty list of hypotheses", variable=f"claims.{claim}")
        missing = [h for h in hyps if h not in index]
        if missing:
            raise TrialkitError(f"unknown hypotheses {missing}", variable=f"claims.{claim}",
                                fix=f"use names from {names}")
        ok = np.all(r[..., [index[h] for h in hyps]], axis=-1)
        out[claim] = bool(ok) if ok.ndim == 0 else ok
    return out
