"""A pre-specified multiplicity strategy as a study file states it: graph, test, alpha, correlation, claims.

>>> s = Strategy.from_dict({"graph": {"template": "holm", "m": 2}, "alpha": 0.05,
...                         "claims": {"any": ["H1"]}})
>>> s.test([0.01, 0.2]).rejected.tolist(), s.claims_met([0.01, 0.2])
([True, False], {'any': True})
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trialkit.errors import TrialkitError
from trialkit.multiplicity.claims import claims_met
from trialkit.multiplicity.graph import Graph, from_dict
from trialkit.multiplicity.procedures import METHODS, MultiplicityResult


@dataclass(frozen=True)
class Strategy:
    """Graph plus how to test it. ``correlation`` is m x m with ``nan`` where unknown (parametric only)."""

    graph: Graph
    alpha: float = 0.025
    method: str = "bonferroni"
    correlation: np.ndarray | None = None
    claims: dict[str, list[str]] = field(default_factory=dict)

    def test(self, pvalues: Sequence[float] | np.ndarray) -> MultiplicityResult:
        return self.graph.test(pvalues, alpha=self.alpha, method=self.method, correlation=self.correlation)

    def claims_met(self, pvalues: Sequence[float] | np.ndarray) -> dict[str, Any]:
        return claims_met(self.test(pvalues), self.claims)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], *, source: str | None = None) -> Strategy:
        """``{"graph": {...}, "alpha": 0.025, "method": "parametric", "correlation": {"pairs": [[a, b], ...],
        "rho": 0.5} or a matrix (null = unknown), "claims": {name: [hypotheses]}}``."""
        src = source or "multiplicity"
        unknown = sorted(set(spec) - {"graph", "alpha", "method", "correlation", "claims"})
        if unknown:
            raise TrialkitError(f"unknown key(s) {unknown}", source=src, variable=unknown[0],
                                fix="use graph, alpha, method, correlation and claims")
        if "graph" not in spec:
            raise TrialkitError("missing the graph", source=src, variable="graph",
                                fix="add a graph (hypotheses + edges, weights + transitions, or a template)")
        try:
            graph = from_dict(spec["graph"], source=src)
        except TrialkitError as e:
            # name the key under [multiplicity] (graph.doses, graph.edges[0].to, ...) so the study file's key is whole
            raise TrialkitError(e.problem, source=src, variable=f"graph.{e.variable}" if e.variable else "graph",
                                rows=e.rows, fix=e.fix) from None
        method = str(spec.get("method", "bonferroni")).lower()
        if method not in METHODS:
            raise TrialkitError(f"unknown method {method!r}", source=src, variable="method",
                                fix=f"use one of {', '.join(METHODS)}")
        corr = spec.get("correlation")
        if method == "parametric" and corr is None:
            raise TrialkitError("the parametric method needs the correlation of the test statistics",
                                source=src, variable="correlation",
                                fix='add correlation = { pairs = [["H1", "H2"]], rho = 0.5 } or a matrix')
        alpha = spec.get("alpha", 0.025)
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < float(alpha) < 1:
            raise TrialkitError(f"alpha must be a number between 0 and 1 (got {alpha!r})", source=src,
                                variable="alpha", fix="e.g. alpha = 0.05")
        c = None
        if corr is not None:
            if isinstance(corr, Mapping):
                from trialkit.multiplicity.templates import dose_correlation

                c = dose_correlation(graph, [tuple(p) for p in corr.get("pairs", [])], corr.get("rho", 0.5))
            else:
                c = np.array([[np.nan if v is None else v for v in row] for row in corr], dtype=float)
        raw_claims = spec.get("claims") or {}
        if not isinstance(raw_claims, Mapping):
            raise TrialkitError("must be a table of claims (name = [hypotheses])", source=src, variable="claims",
                                fix='e.g. claims = { primary = ["EP_ARM"] }')
        for k, v in raw_claims.items():
            if not (isinstance(v, list | tuple) and all(isinstance(h, str) for h in v)):
                raise TrialkitError(f"must be a list of hypothesis names (got {v!r})", source=src,
                                    variable=f"claims.{k}", fix=f'e.g. {k} = ["EP_ARM"]')
        claims = {str(k): [str(h) for h in v] for k, v in raw_claims.items()}
        for k, hyps in claims.items():
            if not hyps:
                raise TrialkitError("a claim needs at least one hypothesis", source=src, variable=f"claims.{k}",
                                    fix="list the hypotheses the claim needs, or remove it")
            bad = [h for h in hyps if h not in graph.names]
            if bad:
                raise TrialkitError(f"claim refers to unknown hypotheses {bad}", source=src,
                                    variable=f"claims.{k}", fix=f"use names from {list(graph.names)}")
        return cls(graph=graph, alpha=float(alpha), method=method, correlation=c,
                   claims=claims)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"graph": self.graph.to_dict(), "alpha": self.alpha, "method": self.method}
        if self.correlation is not None:
            out["correlation"] = [[None if np.isnan(v) else float(v) for v in row] for row in self.correlation]
        if self.claims:
            out["claims"] = {k: list(v) for k, v in self.claims.items()}
        return out
