"""A multiple testing graph: hypotheses with initial weights and a transition matrix.

Bretz F, Maurer W, Brannath W, Posch M (2009). A graphical approach to sequentially rejective multiple test
procedures. Statistics in Medicine 28:586-604. A graph is valid when (their conditions (1)) every weight and
transition weight lies in [0, 1], the weights sum to at most 1, every row of the transition matrix sums to at most 1
and there are no self-loops (g_ii = 0).

>>> g = Graph([0.5, 0.5, 0, 0], [[0, .5, .5, 0], [.5, 0, 0, .5], [0, 1, 0, 0], [1, 0, 0, 0]])
>>> res = g.test([0.018, 0.01, 0.105, 0.006], alpha=0.025)
>>> res.rejected.tolist(), res.adjusted_pvalues.round(3).tolist()
([True, True, False, True], [0.024, 0.02, 0.105, 0.024])
>>> res.rejection_order
('H2', 'H1', 'H4')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from trialkit.errors import TrialkitError

if TYPE_CHECKING:
    from trialkit.multiplicity.procedures import MultiplicityResult

#: Slack for sums of weights written as decimals (1/3 + 1/3 + 1/3 may exceed 1 by a few ulps).
SUM_TOLERANCE = 1e-9
#: Largest graph for which all 2^m intersection weights are tabulated (closed testing needs all of them).
MAX_TABULATED = 16

_DEFAULT_SOURCE = "multiplicity graph"


def _fmt(x: Any) -> str:
    try:
        return f"{float(x):.6g}"
    except (TypeError, ValueError):
        return repr(x)


class Graph:
    """Hypotheses ``names`` with initial ``weights`` (w_i) and ``transitions`` (g_ij, i -> j).

    Parameters
    ----------
    weights:
        Length-m initial hypothesis weights; hypothesis i is first tested at level ``w_i * alpha``.
    transitions:
        m x m matrix; ``transitions[i][j]`` is the fraction of H_i's weight passed to H_j when H_i is rejected.
    names:
        Hypothesis names (default ``H1``..``Hm``).
    source:
        Where the graph was defined (for error messages), e.g. ``studies/ignite.toml: multiplicity``.

    Invalid input raises :class:`~trialkit.errors.TrialkitError` naming the offending entry.
    """

    __slots__ = ("_weights", "_transitions", "_names", "_source", "_table")

    def __init__(
        self,
        weights: Sequence[float] | np.ndarray,
        transitions: Sequence[Sequence[float]] | np.ndarray,
        names: Sequence[str] | None = None,
        *,
        source: str | None = None,
    ) -> None:
        src = source or _DEFAULT_SOURCE
        w = _as_float_array(weights, src, "weights")
        if w.ndim != 1 or w.size == 0:
            raise TrialkitError(
                f"weights must be a non-empty list of numbers, got shape {w.shape}",
                source=src, variable="weights", fix="give one weight per hypothesis, e.g. [0.5, 0.5, 0, 0]",
            )
        m = w.size
        if names is None:
            names = [f"H{i + 1}" for i in range(m)]
        names = [str(n) for n in names]
        if len(names) != m:
            raise TrialkitError(
                f"{len(names)} names given for {m} hypotheses", source=src, variable="names",
                fix="give exactly one name per weight",
            )
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise TrialkitError(f"duplicate hypothesis names {dup}", source=src, variable="names",
                                fix="give every hypothesis a unique name")
        g = _as_float_array(transitions, src, "transitions")
        if g.shape != (m, m):
            raise TrialkitError(
                f"transitions must be a {m} x {m} matrix (one row and one column per hypothesis), got shape "
                f"{g.shape}", source=src, variable="transitions",
                fix="give one row per hypothesis, each with one entry per hypothesis",
            )
        for i, n in enumerate(names):
            wi = w[i]
            if not np.isfinite(wi) or wi < 0 or wi > 1:
                raise TrialkitError(f"weight {_fmt(wi)} is outside [0, 1]", source=src,
                                    variable=f"weights[{n}]", fix="use a weight between 0 and 1")
        if w.sum() > 1 + SUM_TOLERANCE:
            raise TrialkitError(
                f"weights sum to {_fmt(w.sum())}, more than 1", source=src, variable="weights",
                fix="scale the weights so that they sum to at most 1 (the graph then controls the FWER at alpha)",
            )
        for i, ni in enumerate(names):
            for j, nj in enumerate(names):
                gij = g[i, j]
                var = f"transitions[{ni}][{nj}]"
                if not np.isfinite(gij) or gij < 0 or gij > 1:
                    raise TrialkitError(f"transition weight {_fmt(gij)} is outside [0, 1]", source=src,
                                        variable=var, fix="use a transition weight between 0 and 1")
                if i == j and gij != 0:
                    raise TrialkitError(f"self-loop: {ni} passes weight {_fmt(gij)} to itself", source=src,
                                        variable=var, fix="set the diagonal of the transition matrix to 0")
            rs = g[i].sum()
            if rs > 1 + SUM_TOLERANCE:
                raise TrialkitError(
                    f"outgoing transition weights of {ni} sum to {_fmt(rs)}, more than 1", source=src,
                    variable=f"transitions[{ni}]", fix="scale the row so that it sums to at most 1",
                )
        w.setflags(write=False)
        g.setflags(write=False)
        self._weights = w
        self._transitions = g
        self._names = tuple(names)
        self._source = src
        self._table: tuple[np.ndarray, np.ndarray] | None = None

    # ------------------------------------------------------------------ basic properties
    @property
    def weights(self) -> np.ndarray:
        """Initial hypothesis weights (read-only array)."""
        return self._weights

    @property
    def transitions(self) -> np.ndarray:
        """Transition matrix (read-only array)."""
        return self._transitions

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    @property
    def m(self) -> int:
        """Number of hypotheses."""
        return len(self._names)

    def __len__(self) -> int:
        return self.m

    def __repr__(self) -> str:
        w = ", ".join(f"{n}={_fmt(x)}" for n, x in zip(self._names, self._weights, strict=True))
        edges = [
            f"{self._names[i]}->{self._names[j]}={_fmt(self._transitions[i, j])}"
            for i, j in zip(*np.nonzero(self._transitions), strict=True)
        ]
        return f"Graph(weights: {w}; edges: {', '.join(edges) or 'none'})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Graph):
            return NotImplemented
        return (
            self._names == other._names
            and np.array_equal(self._weights, other._weights)
            and np.array_equal(self._transitions, other._transitions)
        )

    __hash__ = None  # type: ignore[assignment]

    def index(self, hypothesis: int | str) -> int:
        """Position of a hypothesis given by name or index."""
        if isinstance(hypothesis, str):
            try:
                return self._names.index(hypothesis)
            except ValueError:
                raise TrialkitError(f"no hypothesis named {hypothesis!r}; the graph has {list(self._names)}",
                                    source=self._source, variable="hypothesis") from None
        i = int(hypothesis)
        if not 0 <= i < self.m:
            raise TrialkitError(f"hypothesis index {i} is out of range 0..{self.m - 1}", source=self._source,
                                variable="hypothesis")
        return i

    # ------------------------------------------------------------------ graph update (Algorithm 1)
    def remove(self, hypothesis: int | str) -> Graph:
        """The graph after rejecting ``hypothesis`` (Bretz et al. 2009, Algorithm 1, step 2).

        w_l <- w_l + w_j g_jl;  g_lk <- (g_lk + g_lj g_jk) / (1 - g_lj g_jl) for l != k (0 if g_lj g_jl = 1).
        The removed hypothesis keeps its place with weight 0 and no edges.
        """
        j = self.index(hypothesis)
        w, g = _remove(self._weights, self._transitions, j)
        out = Graph.__new__(Graph)
        w.setflags(write=False)
        g.setflags(write=False)
        out._weights, out._transitions, out._names, out._source, out._table = w, g, self._names, self._source, None
        return out

    def intersection_weights(self) -> np.ndarray:
        """Weights of every intersection hypothesis, shape (2^m, m).

        Row ``mask`` holds the weights w_J for J = {i : bit i of mask set}, obtained by removing the hypotheses
        outside J from the graph (the result does not depend on the order of removal; Bretz et al. 2009,
        Appendix). Entries outside J are 0. Row 0 (empty intersection) is all zero.
        """
        return self._tables()[0]

    def _tables(self) -> tuple[np.ndarray, np.ndarray]:
        if self._table is None:
            m = self.m
            if m > MAX_TABULATED:
                raise TrialkitError(
                    f"closed testing of {m} hypotheses needs 2^{m} intersections; at most {MAX_TABULATED} are "
                    "supported", source=self._source, fix='use method="bonferroni" (the shortcut) or fewer hypotheses',
                )
            n = 1 << m
            full = n - 1
            W = np.zeros((n, m))
            G = np.zeros((n, m, m))
            W[full] = self._weights
            G[full] = self._transitions
            for mask in range(full - 1, 0, -1):
                # parent = mask plus its lowest missing hypothesis; parent > mask, so already computed
                k = (~mask & full & -(~mask & full)).bit_length() - 1
                parent = mask | (1 << k)
                W[mask], G[mask] = _remove(W[parent], G[parent], k)
            W.setflags(write=False)
            self._table = (W, G)
        return self._table

    # ------------------------------------------------------------------ testing
    def test(
        self,
        pvalues: Sequence[float] | np.ndarray,
        alpha: float = 0.025,
        method: str = "bonferroni",
        correlation: Sequence[Sequence[float]] | np.ndarray | None = None,
        *,
        groups: Sequence[Sequence[int | str]] | None = None,
    ) -> MultiplicityResult:
        """Test the graph; see :func:`trialkit.multiplicity.procedures.graph_test`."""
        from trialkit.multiplicity.procedures import graph_test

        return graph_test(self, pvalues, alpha=alpha, method=method, correlation=correlation, groups=groups)

    # ------------------------------------------------------------------ study-file form
    def to_dict(self) -> dict[str, Any]:
        """Study-file form: ``{"hypotheses": [{"name", "weight"}], "edges": [{"from", "to", "weight"}]}``."""
        return {
            "hypotheses": [{"name": n, "weight": float(w)} for n, w in zip(self._names, self._weights, strict=True)],
            "edges": [
                {"from": self._names[i], "to": self._names[j], "weight": float(self._transitions[i, j])}
                for i, j in zip(*np.nonzero(self._transitions), strict=True)
            ],
        }

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], *, source: str | None = None) -> Graph:
        """Build a graph from its study-file form (see :func:`trialkit.multiplicity.from_dict`)."""
        return from_dict(spec, source=source)


def _as_float_array(x: Any, source: str, variable: str) -> np.ndarray:
    try:
        return np.array(x, dtype=float)
    except (TypeError, ValueError):
        raise TrialkitError(f"{variable} must contain numbers only", source=source, variable=variable,
                            fix="write weights as numbers such as 0.5") from None


def _remove(w: np.ndarray, g: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """Algorithm 1 update for one hypothesis ``j`` (pure function on arrays)."""
    w_new = w + w[j] * g[j]
    w_new[j] = 0.0
    g_lj = g[:, j]
    g_jl = g[j, :]
    denom = (1.0 - g_lj * g_jl)[:, None]  # 1 - g_lj g_jl, one value per row l
    num = g + np.outer(g_lj, g_jl)  # g_lk + g_lj g_jk
    with np.errstate(divide="ignore", invalid="ignore"):
        g_new = np.where(denom > 0, num / np.where(denom > 0, denom, 1.0), 0.0)
    np.fill_diagonal(g_new, 0.0)
    g_new[j, :] = 0.0
    g_new[:, j] = 0.0
    # rounding can push a row a few ulps above 1 or a weight slightly negative; keep the graph valid
    np.clip(g_new, 0.0, 1.0, out=g_new)
    np.clip(w_new, 0.0, 1.0, out=w_new)
    return w_new, g_new


def from_dict(spec: Mapping[str, Any], *, source: str | None = None) -> Graph:
    """Build a :class:`Graph` from a study-file definition.

    Two forms are accepted::

        {"hypotheses": [{"name": "H1", "weight": 0.5}, ...],
         "edges": [{"from": "H1", "to": "H2", "weight": 1.0}, ...]}

        {"names": ["H1", "H2"], "weights": [0.5, 0.5], "transitions": [[0, 1], [1, 0]]}

    A template may be named instead: ``{"template": "holm", "names": [...]}``; see
    :func:`trialkit.multiplicity.templates.from_template`.
    """
    src = source or _DEFAULT_SOURCE
    if not isinstance(spec, Mapping):
        raise TrialkitError("a multiplicity graph must be a table/mapping", source=src,
                            fix='write e.g. {"hypotheses": [...], "edges": [...]}')
    if "template" in spec:
        from trialkit.multiplicity.templates import from_template

        return from_template(spec, source=src)
    if "hypotheses" in spec:
        hyps = spec["hypotheses"]
        if not isinstance(hyps, Sequence) or isinstance(hyps, str) or not hyps:
            raise TrialkitError("hypotheses must be a non-empty list", source=src, variable="hypotheses")
        names: list[str] = []
        weights: list[float] = []
        for i, h in enumerate(hyps):
            if not isinstance(h, Mapping) or "name" not in h:
                raise TrialkitError("each hypothesis needs a name and a weight", source=src,
                                    variable=f"hypotheses[{i}]", fix='write {"name": "H1", "weight": 0.5}')
            names.append(str(h["name"]))
            weights.append(h.get("weight", 0.0))
        index = {n: i for i, n in enumerate(names)}
        g = np.zeros((len(names), len(names)))
        for e_i, e in enumerate(spec.get("edges", []) or []):
            var = f"edges[{e_i}]"
            if not isinstance(e, Mapping) or not {"from", "to", "weight"} <= set(e):
                raise TrialkitError("each edge needs from, to and weight", source=src, variable=var,
                                    fix='write {"from": "H1", "to": "H2", "weight": 1.0}')
            for end in ("from", "to"):
                if str(e[end]) not in index:
                    raise TrialkitError(f"edge {end} {e[end]!r} is not a hypothesis name ({names})", source=src,
                                        variable=f"{var}.{end}", fix="use one of the hypothesis names")
            i, j = index[str(e["from"])], index[str(e["to"])]
            if g[i, j] != 0:
                raise TrialkitError(f"duplicate edge {e['from']} -> {e['to']}", source=src, variable=var)
            try:
                g[i, j] = float(e["weight"])
            except (TypeError, ValueError):
                raise TrialkitError("edge weight must be a number", source=src, variable=f"{var}.weight") from None
        return Graph(weights, g, names, source=src)
    missing = [k for k in ("weights", "transitions") if k not in spec]
    if missing:
        raise TrialkitError(f"missing {missing}", source=src,
                            fix="give either hypotheses + edges, weights + transitions, or a template")
    return Graph(spec["weights"], spec["transitions"], spec.get("names"), source=src)


def to_dict(graph: Graph) -> dict[str, Any]:
    """Study-file form of ``graph`` (inverse of :func:`from_dict`)."""
    return graph.to_dict()
