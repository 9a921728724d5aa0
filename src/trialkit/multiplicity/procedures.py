"""Testing a graph: the Bonferroni shortcut and closed testing with Simes, Hochberg or parametric tests.

- ``bonferroni``: the sequentially rejective shortcut (Bretz et al. 2009, Algorithms 1 and 2), equivalent to closed
  testing with weighted Bonferroni tests of every intersection.
- ``simes``: closed testing with weighted Simes tests (Benjamini and Hochberg 1997; Lu 2016): H_J is rejected when
  p_i <= alpha * sum{w_J,k : k in J, p_k <= p_i} for some i in J. Valid under positive (PRDS) dependence.
- ``hochberg``: closed testing with Hochberg's intersection test for equal weights (Xi and Bretz 2019): with k
  positively weighted hypotheses of total weight W in J, H_J is rejected when p_(r) <= alpha * W / (k - r + 1).
- ``parametric``: closed testing with weighted parametric (Dunnett-type) tests (Bretz et al. 2011, Biometrical
  Journal 53:894-913; Xi et al. 2017): within a group h of hypotheses whose test statistics are jointly normal with
  known correlation, H_J is rejected when P(any Z_i > z_i) <= alpha * sum_h w_J,i with z_i = Phi^-1(1 - w_J,i * t),
  t = min p_i / w_J,i; groups are combined by Bonferroni. One-sided p-values from normal test statistics assumed.

In every case the adjusted p-value of H_i is the largest local adjusted p-value of the intersections containing i
(capped at 1); H_i is rejected when it is <= alpha.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from trialkit.errors import TrialkitError
from trialkit.multiplicity._mvn import prob_any_exceeds
from trialkit.multiplicity.graph import MAX_TABULATED, Graph

METHODS = ("bonferroni", "simes", "hochberg", "parametric")
#: Relative guard so that p == w * alpha (exactly, in decimal) is rejected as "p <= w alpha" prescribes.
REJECT_RTOL = 1e-12
_CHUNK = 20_000
_HUGE = 1e300


@dataclass(frozen=True)
class MultiplicityResult:
    """Outcome of testing a graph.

    ``rejected`` (bool) and ``adjusted_pvalues`` have the shape of the p-values, with a leading replicate axis when
    the p-values had one. For a single vector of p-values, ``rejection_order`` lists the rejected hypotheses in
    the order the procedure rejects them and ``graphs[k]`` is the graph after the first k rejections
    (``graphs[0]`` is the initial graph). For closed testing with Simes, Hochberg or parametric tests the order is
    that of the adjusted p-values and the graphs show the (Bonferroni) weights the local tests use.
    """

    rejected: np.ndarray
    adjusted_pvalues: np.ndarray
    pvalues: np.ndarray
    names: tuple[str, ...]
    alpha: float
    method: str
    rejection_order: tuple[str, ...] | None = None
    graphs: tuple[Graph, ...] | None = field(default=None, repr=False)

    def records(self) -> list[dict[str, Any]]:
        """One dict per hypothesis (single p-value vector only): name, pvalue, adjusted_pvalue, rejected."""
        if self.rejected.ndim != 1:
            raise ValueError("records() needs a single p-value vector; index the replicate first")
        return [
            {"hypothesis": n, "pvalue": float(p), "adjusted_pvalue": float(q), "rejected": bool(r)}
            for n, p, q, r in zip(self.names, self.pvalues, self.adjusted_pvalues, self.rejected, strict=True)
        ]

    @property
    def final_graph(self) -> Graph | None:
        """The graph after all rejections (single vector only)."""
        return self.graphs[-1] if self.graphs else None


def graph_test(
    graph: Graph,
    pvalues: Sequence[float] | np.ndarray,
    alpha: float = 0.025,
    method: str = "bonferroni",
    correlation: Sequence[Sequence[float]] | np.ndarray | None = None,
    groups: Sequence[Sequence[int | str]] | None = None,
) -> MultiplicityResult:
    """Test ``graph`` at FWER level ``alpha`` with one of :data:`METHODS`.

    ``pvalues`` has shape (m,) or (..., m) (leading replicate axes). ``correlation`` (m x m; ``nan`` where
    unknown) is required for ``parametric``; hypotheses are grouped by the blocks of known correlations unless
    ``groups`` (lists of names or indices) is given. ``groups`` also splits Simes/Hochberg tests (Bonferroni
    across groups); by default they run over all hypotheses of an intersection.
    """
    src = graph._source
    m = graph.m
    method = str(method).lower()
    if method not in METHODS:
        raise TrialkitError(f"unknown method {method!r}", source=src, variable="method",
                            fix=f"use one of {', '.join(METHODS)}")
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise TrialkitError("alpha must be a number", source=src, variable="alpha") from None
    if not 0 < alpha < 1:
        raise TrialkitError(f"alpha {alpha} is not in (0, 1)", source=src, variable="alpha",
                            fix="use e.g. 0.025 for one-sided tests")
    p = np.asarray(pvalues, dtype=float)
    if p.ndim == 0 or p.shape[-1] != m:
        raise TrialkitError(
            f"p-values have shape {p.shape}; the last axis must have one entry per hypothesis ({m})",
            source=src, variable="pvalues", fix=f"order the p-values as the hypotheses {list(graph.names)}",
        )
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        cols = sorted({graph.names[i] for i in np.nonzero(bad)[-1]})
        raise TrialkitError("p-values must lie in [0, 1] and not be missing", source=src, variable="pvalues",
                            rows=cols, fix="check the analysis that produced these p-values")
    lead = p.shape[:-1]
    flat = p.reshape(-1, m)
    grp = _resolve_groups(graph, method, correlation, groups)

    if method == "bonferroni":
        adj, order = _shortcut(graph, flat, record=(p.ndim == 1))
    else:
        adj = _closed(graph, flat, method, grp)
        order = None
    rejected = adj <= alpha * (1 + REJECT_RTOL)

    rejection_order = graphs = None
    if p.ndim == 1:
        if order is None:
            # closed testing: order by adjusted p-value (stable: earlier hypothesis first on ties)
            order_idx = [int(i) for i in np.argsort(adj[0], kind="stable") if rejected[0, i]]
        else:
            order_idx = [int(i) for i in order[0] if rejected[0, i]]
        rejection_order = tuple(graph.names[i] for i in order_idx)
        gs = [graph]
        for i in order_idx:
            gs.append(gs[-1].remove(i))
        graphs = tuple(gs)
    return MultiplicityResult(
        rejected=rejected.reshape(*lead, m),
        adjusted_pvalues=adj.reshape(*lead, m),
        pvalues=p,
        names=graph.names,
        alpha=alpha,
        method=method,
        rejection_order=rejection_order,
        graphs=graphs,
    )


# ---------------------------------------------------------------------------------------------- groups
def _resolve_groups(
    graph: Graph, method: str, correlation: Any, groups: Sequence[Sequence[int | str]] | None
) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """List of (indices, correlation block or None)."""
    src = graph._source
    m = graph.m
    if groups is not None:
        seen: list[int] = []
        idx_groups = []
        for gi, g in enumerate(groups):
            idx = np.array(sorted(graph.index(h) for h in g), dtype=int)
            if idx.size == 0:
                raise TrialkitError("empty group", source=src, variable=f"groups[{gi}]")
            seen.extend(idx.tolist())
            idx_groups.append(idx)
        if sorted(seen) != list(range(m)):
            raise TrialkitError("groups must contain every hypothesis exactly once", source=src,
                                variable="groups", fix=f"partition {list(graph.names)} into groups")
    else:
        idx_groups = None
    if method != "parametric":
        if correlation is not None:
            raise TrialkitError(f"a correlation matrix is only used by method='parametric', not {method!r}",
                                source=src, variable="correlation", fix="drop it or use method='parametric'")
        return [(g, None) for g in (idx_groups or [np.arange(m)])]
    if correlation is None:
        raise TrialkitError("method='parametric' needs the correlation of the test statistics", source=src,
                            variable="correlation",
                            fix="give an m x m matrix with nan where the correlation is unknown (e.g. 0.5 between "
                                "two equally sized doses against one placebo, same endpoint)")
    c = np.array(correlation, dtype=float)
    if c.shape != (m, m):
        raise TrialkitError(f"correlation must be {m} x {m}, got {c.shape}", source=src, variable="correlation")
    known = ~np.isnan(c)
    if not np.array_equal(known, known.T) or not np.allclose(c[known], c.T[known]):
        raise TrialkitError("correlation matrix is not symmetric", source=src, variable="correlation")
    if not np.allclose(np.diag(c), 1.0):
        raise TrialkitError("correlation matrix must have 1 on the diagonal", source=src, variable="correlation")
    if np.any(np.abs(c[known]) > 1):
        raise TrialkitError("correlations must lie in [-1, 1]", source=src, variable="correlation")
    if idx_groups is None:
        # connected components of the "known correlation" relation
        label = -np.ones(m, dtype=int)
        n_lab = 0
        for s in range(m):
            if label[s] >= 0:
                continue
            stack = [s]
            label[s] = n_lab
            while stack:
                u = stack.pop()
                for v in np.nonzero(known[u])[0]:
                    if label[v] < 0:
                        label[v] = n_lab
                        stack.append(int(v))
            n_lab += 1
        idx_groups = [np.nonzero(label == k)[0] for k in range(n_lab)]
    out = []
    for g in idx_groups:
        block = c[np.ix_(g, g)]
        if np.isnan(block).any():
            names = [graph.names[i] for i in g]
            raise TrialkitError(f"correlations within the group {names} are partly unknown", source=src,
                                variable="correlation",
                                fix="give every correlation within a parametric group, or split it with groups=")
        if np.linalg.eigvalsh(block).min() < -1e-10:
            names = [graph.names[i] for i in g]
            raise TrialkitError(f"correlation block {names} is not positive semi-definite", source=src,
                                variable="correlation")
        out.append((g, block))
    return out


# ---------------------------------------------------------------------------------------------- shortcut
def _shortcut(graph: Graph, p: np.ndarray, record: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
    """Adjusted p-values by Algorithm 2 of Bretz et al. (2009), vectorized over rows of ``p``.

    At each step the hypothesis with the smallest p_j / w_j in the current graph is removed;
    q_j = max(p_j / w_j, previous q), capped at 1. Returns (adjusted, processing order) .
    """
    if graph.m <= MAX_TABULATED:
        return _shortcut_table(graph, p)
    return _shortcut_dense(graph, p)


def _shortcut_table(graph: Graph, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n, m = p.shape
    W = graph.intersection_weights()
    bits = (np.int64(1) << np.arange(m, dtype=np.int64))
    mask = np.full(n, (1 << m) - 1, dtype=np.int64)
    adj = np.empty((n, m))
    order = np.empty((n, m), dtype=np.int64)
    qmax = np.zeros(n)
    rows = np.arange(n)
    ratio = np.empty((n, m))
    for step in range(m):
        w = W[mask]
        active = (mask[:, None] & bits) != 0
        with np.errstate(over="ignore"):
            np.divide(p, w, out=ratio, where=w > 0)
        ratio[w <= 0] = _HUGE
        np.minimum(ratio, _HUGE, out=ratio)  # p / (subnormal w) overflows to inf: treat as weight zero
        ratio[~active] = np.inf
        j = np.argmin(ratio, axis=1)
        q = ratio[rows, j]
        q = np.where(q >= _HUGE, 1.0, q)
        np.maximum(qmax, q, out=qmax)
        adj[rows, j] = np.minimum(qmax, 1.0)
        order[:, step] = j
        mask &= ~bits[j]
    return adj, order


def _shortcut_dense(graph: Graph, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Same as :func:`_shortcut_table` but updating each replicate's graph (for large m)."""
    n, m = p.shape
    adj = np.empty((n, m))
    order = np.empty((n, m), dtype=np.int64)
    for start in range(0, n, _CHUNK):
        pc = p[start:start + _CHUNK]
        k = pc.shape[0]
        rows = np.arange(k)
        w = np.broadcast_to(graph.weights, (k, m)).copy()
        g = np.broadcast_to(graph.transitions, (k, m, m)).copy()
        active = np.ones((k, m), dtype=bool)
        qmax = np.zeros(k)
        a = np.empty((k, m))
        eye = np.eye(m, dtype=bool)
        for step in range(m):
            ratio = np.full((k, m), _HUGE)
            with np.errstate(over="ignore"):
                np.divide(pc, w, out=ratio, where=w > 0)
            np.minimum(ratio, _HUGE, out=ratio)  # overflow from a subnormal weight: as weight zero
            ratio[~active] = np.inf
            j = np.argmin(ratio, axis=1)
            q = ratio[rows, j]
            q = np.where(q >= _HUGE, 1.0, q)
            np.maximum(qmax, q, out=qmax)
            a[rows, j] = np.minimum(qmax, 1.0)
            order[start:start + k, step] = j
            # Algorithm 1 update, one removed hypothesis per replicate
            gj_row = g[rows, j, :]  # g_jk
            g_col = g[rows, :, j]  # g_lj
            w = w + w[rows, j][:, None] * gj_row
            denom = 1.0 - g_col * gj_row  # 1 - g_lj g_jl
            num = g + g_col[:, :, None] * gj_row[:, None, :]
            with np.errstate(divide="ignore", invalid="ignore"):
                g = np.where(denom[:, :, None] > 0, num / np.where(denom > 0, denom, 1.0)[:, :, None], 0.0)
            active[rows, j] = False
            g[:, eye] = 0.0
            g[~active] = 0.0
            g.transpose(0, 2, 1)[~active] = 0.0
            w[~active] = 0.0
            np.clip(g, 0.0, 1.0, out=g)
        adj[start:start + k] = a
    return adj, order


# ---------------------------------------------------------------------------------------------- closed testing
def _closed(graph: Graph, p: np.ndarray, method: str, groups: list[tuple[np.ndarray, np.ndarray | None]]) -> np.ndarray:
    n, m = p.shape
    W = graph.intersection_weights()
    adj = np.zeros((n, m))
    for mask in range(1, 1 << m):
        w = W[mask]
        members = np.array([i for i in range(m) if mask >> i & 1])
        q = np.full(n, np.inf)
        for g_idx, block in groups:
            sel = np.isin(g_idx, members)
            if not sel.any():
                continue
            idx = g_idx[sel]
            wg = w[idx]
            if wg.sum() <= 0:
                continue
            if method == "simes":
                qh = _local_simes(p[:, idx], wg)
            elif method == "hochberg":
                qh = _local_hochberg(p[:, idx], wg, graph, idx)
            elif method == "parametric":
                assert block is not None
                qh = _local_parametric(p[:, idx], wg, block[np.ix_(sel, sel)])
            else:  # bonferroni through the closure (used by tests and for groups)
                qh = _local_bonferroni(p[:, idx], wg)
            np.minimum(q, qh, out=q)
        q = np.minimum(q, 1.0)
        sub = adj[:, members]
        np.maximum(sub, q[:, None], out=sub)
        adj[:, members] = sub
    return np.minimum(adj, 1.0)


def _local_bonferroni(p: np.ndarray, w: np.ndarray) -> np.ndarray:
    pos = w > 0
    with np.errstate(over="ignore"):
        return np.min(p[:, pos] / w[pos], axis=1)


def _local_simes(p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """min_i p_i / sum{w_k : p_k <= p_i} (weighted Simes adjusted p-value of one intersection group)."""
    o = np.argsort(p, axis=1, kind="stable")
    ps = np.take_along_axis(p, o, axis=1)
    cw = np.cumsum(w[o], axis=1)
    # with ties the last of the tied p-values carries the full cumulative weight and so wins the minimum
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = np.where(cw > 0, ps / np.where(cw > 0, cw, 1.0), np.inf)
    return r.min(axis=1)


def _local_hochberg(p: np.ndarray, w: np.ndarray, graph: Graph, idx: np.ndarray) -> np.ndarray:
    pos = w > 0
    wp = w[pos]
    if not np.allclose(wp, wp[0], rtol=1e-9, atol=0):
        names = [graph.names[i] for i in idx[pos]]
        raise TrialkitError(
            f"the Hochberg test needs equal weights in every intersection, but {names} get weights "
            f"{np.round(wp, 6).tolist()}", source=graph._source, variable="method",
            fix="use a symmetric graph (e.g. the holm/hochberg template) or method='simes'",
        )
    k = wp.size
    ps = np.sort(p[:, pos], axis=1)
    factor = (k - np.arange(k)) / wp.sum()  # (k - r + 1) / W for r = 1..k
    return (ps * factor).min(axis=1)


def _local_parametric(p: np.ndarray, w: np.ndarray, corr: np.ndarray) -> np.ndarray:
    pos = w > 0
    wp = w[pos]
    pp = p[:, pos]
    c = corr[np.ix_(pos, pos)]
    with np.errstate(over="ignore"):
        t = np.min(pp / wp, axis=1)  # (n,)
    level = np.minimum(wp[None, :] * t[:, None], 1.0)
    z = -special.ndtri(level)  # upper-tail critical values z_i = Phi^-1(1 - w_i t)
    prob = prob_any_exceeds(z, c)
    return prob / wp.sum()
