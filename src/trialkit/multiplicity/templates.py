"""Common graphs (Bretz et al. 2009, Section 3) and the two doses x co-primaries x secondaries strategy.

>>> fixed_sequence(["A", "B"]).to_dict()["edges"]
[{'from': 'A', 'to': 'B', 'weight': 1.0}]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trialkit.errors import TrialkitError
from trialkit.multiplicity.graph import Graph


def _names(m_or_names: int | Sequence[str]) -> list[str]:
    if isinstance(m_or_names, int | np.integer):
        if m_or_names < 1:
            raise TrialkitError("a graph needs at least one hypothesis", variable="m")
        return [f"H{i + 1}" for i in range(int(m_or_names))]
    return [str(n) for n in m_or_names]


def fixed_sequence(m_or_names: int | Sequence[str]) -> Graph:
    """Fixed-sequence (hierarchical) test: H1 at full alpha, each rejection passes everything to the next."""
    names = _names(m_or_names)
    m = len(names)
    w = np.zeros(m)
    w[0] = 1.0
    return fallback(w, names)


def fallback(weights: Sequence[float], names: Sequence[str] | None = None) -> Graph:
    """Fallback procedure (Wiens 2003; Bretz et al. 2009, Section 3): H_i -> H_{i+1} with weight 1."""
    w = np.asarray(weights, dtype=float)
    m = w.size
    g = np.zeros((m, m))
    for i in range(m - 1):
        g[i, i + 1] = 1.0
    return Graph(w, g, names)


def holm(m_or_names: int | Sequence[str], weights: Sequence[float] | None = None) -> Graph:
    """(Weighted) Holm procedure: g_ij = w_j / sum_{k != i} w_k, equal split if that sum is 0.

    Every intersection then gets weights proportional to the initial ones (Holm 1979; Bretz et al. 2009, Figures
    1 and 3 for the unweighted case).
    """
    names = _names(m_or_names)
    m = len(names)
    w = np.full(m, 1.0 / m) if weights is None else np.asarray(weights, dtype=float)
    g = np.zeros((m, m))
    for i in range(m):
        others = np.delete(np.arange(m), i)
        tot = w[others].sum()
        if m > 1:
            g[i, others] = w[others] / tot if tot > 0 else 1.0 / (m - 1)
    return Graph(w, g, names)


def hochberg(m_or_names: int | Sequence[str]) -> Graph:
    """Hochberg's procedure is the equally weighted Holm graph tested with ``method="hochberg"``
    (Xi and Bretz 2019)."""
    return holm(m_or_names)


def two_doses_coprimary(
    doses: Sequence[str] = ("high", "low"),
    coprimary: Sequence[str] = ("EASI75", "VIGA01"),
    secondary: Sequence[str] = ("RIGA01",),
    dose_weights: Sequence[float] = (0.5, 0.5),
    gamma: float = 0.5,
) -> Graph:
    """Two doses x co-primary endpoints x key secondaries (successive graph; Maurer, Glimm and Bretz 2011).

    Hypotheses are named ``"{endpoint}_{dose}"``, in the order: for each dose its co-primaries, then for each
    dose its secondaries. Within a dose the co-primaries form a fixed sequence (both are needed for the dose's
    claim, so passing the whole level from the first to the second loses nothing: the claim needs p <= level
    for both, Maurer, Hothorn and Lehmacher 1995). After the last co-primary of a dose is rejected, a fraction
    ``gamma`` of its level goes to the other dose's first co-primary and ``1 - gamma`` to its own first
    secondary; secondaries form a fixed sequence whose last member passes everything to the other dose's first
    co-primary. With ``gamma = 0.5`` the primary layer matches Bretz et al. (2009), Figure 14 (right).
    """
    doses, coprimary, secondary = list(doses), list(coprimary), list(secondary)
    if len(doses) != 2:
        raise TrialkitError(f"this template needs exactly two doses, got {doses}", variable="doses")
    if not coprimary:
        raise TrialkitError("at least one primary endpoint is needed", variable="coprimary")
    if not 0 <= gamma <= 1:
        raise TrialkitError(f"gamma {gamma} is outside [0, 1]", variable="gamma")
    dw = np.asarray(dose_weights, dtype=float)
    if dw.shape != (2,):
        raise TrialkitError("dose_weights needs one weight per dose", variable="dose_weights")
    prim = {d: [f"{e}_{d}" for e in coprimary] for d in doses}
    sec = {d: [f"{e}_{d}" for e in secondary] for d in doses}
    names = prim[doses[0]] + prim[doses[1]] + sec[doses[0]] + sec[doses[1]]
    ix = {n: i for i, n in enumerate(names)}
    m = len(names)
    w = np.zeros(m)
    g = np.zeros((m, m))
    for di, d in enumerate(doses):
        other = doses[1 - di]
        w[ix[prim[d][0]]] = dw[di]
        chain = prim[d]
        for a, b in zip(chain[:-1], chain[1:], strict=True):
            g[ix[a], ix[b]] = 1.0
        last = chain[-1]
        target_other = ix[prim[other][0]]
        if sec[d]:
            g[ix[last], ix[sec[d][0]]] = 1.0 - gamma
            g[ix[last], target_other] = gamma
            for a, b in zip(sec[d][:-1], sec[d][1:], strict=True):
                g[ix[a], ix[b]] = 1.0
            g[ix[sec[d][-1]], target_other] = 1.0
        else:
            g[ix[last], target_other] = 1.0
    return Graph(w, g, names)


def two_doses_coprimary_claims(
    doses: Sequence[str] = ("high", "low"),
    coprimary: Sequence[str] = ("EASI75", "VIGA01"),
    secondary: Sequence[str] = ("RIGA01",),
) -> dict[str, list[str]]:
    """Claims of :func:`two_doses_coprimary`: a dose's primary claim needs all its co-primaries; a secondary
    claim needs the co-primaries of that dose and the secondary itself."""
    out: dict[str, list[str]] = {}
    for d in doses:
        prim = [f"{e}_{d}" for e in coprimary]
        out[f"primary_{d}"] = prim
        for e in secondary:
            out[f"{e}_{d}"] = [*prim, f"{e}_{d}"]
    return out


def dunnett_rho(n_dose1: float, n_dose2: float, n_control: float) -> float:
    """Correlation of two dose-vs-control z statistics sharing one control arm (same endpoint):
    sqrt(n1 n2 / ((n1 + n0)(n2 + n0))) (Dunnett 1955); 0.5 for equal arm sizes."""
    for v, nm in ((n_dose1, "n_dose1"), (n_dose2, "n_dose2"), (n_control, "n_control")):
        if not v > 0:
            raise TrialkitError(f"{nm} must be positive, got {v}", variable=nm)
    return float(np.sqrt(n_dose1 * n_dose2 / ((n_dose1 + n_control) * (n_dose2 + n_control))))


def dose_correlation(graph: Graph, pairs: Sequence[tuple[str, str]], rho: float | Sequence[float]) -> np.ndarray:
    """Correlation matrix for ``method="parametric"``: 1 on the diagonal, ``rho`` for each listed pair
    (e.g. the two doses of one endpoint), ``nan`` (unknown) elsewhere."""
    m = graph.m
    c = np.full((m, m), np.nan)
    np.fill_diagonal(c, 1.0)
    rhos = np.broadcast_to(np.asarray(rho, dtype=float), (len(pairs),))
    for (a, b), r in zip(pairs, rhos, strict=True):
        i, j = graph.index(a), graph.index(b)
        c[i, j] = c[j, i] = r
    return c


def dose_pairs(
    doses: Sequence[str] = ("high", "low"),
    endpoints: Sequence[str] = ("EASI75", "VIGA01", "RIGA01"),
) -> list[tuple[str, str]]:
    """The (dose 1, dose 2) hypothesis pairs of each endpoint, named as in :func:`two_doses_coprimary`."""
    return [(f"{e}_{doses[0]}", f"{e}_{doses[1]}") for e in endpoints]


_TEMPLATES = {
    "fixed_sequence": lambda s: fixed_sequence(s.get("names") or s["m"]),
    "fallback": lambda s: fallback(s["weights"], s.get("names")),
    "holm": lambda s: holm(s.get("names") or s["m"], s.get("weights")),
    "hochberg": lambda s: hochberg(s.get("names") or s["m"]),
    "two_doses_coprimary": lambda s: two_doses_coprimary(
        **{k: s[k] for k in ("doses", "coprimary", "secondary", "dose_weights", "gamma") if k in s}
    ),
}


def from_template(spec: Mapping[str, Any], *, source: str | None = None) -> Graph:
    """Build a template graph from ``{"template": name, ...parameters}``."""
    src = source or "multiplicity graph"
    name = spec.get("template")
    if name not in _TEMPLATES:
        raise TrialkitError(f"unknown template {name!r}", source=src, variable="template",
                            fix=f"use one of {sorted(_TEMPLATES)}")
    try:
        return _TEMPLATES[name](spec)
    except KeyError as e:
        raise TrialkitError(f"template {name!r} needs the parameter {e.args[0]!r}", source=src,
                            variable=f"template.{e.args[0]}") from None
    except TrialkitError as e:
        raise TrialkitError(e.problem, source=src, variable=e.variable, fix=e.fix) from None
