"""Common graphs (Bretz et al. 2009, Section 3) and the doses x co-primaries x secondaries strategy.

No template knows a trial: the hypotheses, endpoints and doses come from the caller (the study file's
``[multiplicity.graph]``). A study file names a template and its parameters, e.g.::

    [multiplicity.graph]
    template = "doses_coprimary"
    doses = ["ARM1"]
    coprimary = ["EP1", "EP2"]
    secondary = ["EP3"]

>>> fixed_sequence(["A", "B"]).to_dict()["edges"]
[{'from': 'A', 'to': 'B', 'weight': 1.0}]
>>> from_template({"template": "doses_coprimary", "doses": ["D"], "coprimary": ["E"]}).names
('E_D',)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trialkit.errors import TrialkitError
from trialkit.multiplicity.graph import Graph


def _ids(ids: Any, key: str) -> list[str]:
    """A list of ids from a template parameter (a list of strings; a bare string is an error, not characters)."""
    if isinstance(ids, str) or not isinstance(ids, Sequence):
        raise TrialkitError(f"{key} must be a list of ids, got {ids!r}", variable=key,
                            fix=f'write e.g. {key} = ["{ids}"]' if isinstance(ids, str) else f"write {key} = [...]")
    return [str(i) for i in ids]


def _names(m_or_names: int | Sequence[str]) -> list[str]:
    if isinstance(m_or_names, int | np.integer):
        if m_or_names < 1:
            raise TrialkitError("a graph needs at least one hypothesis", variable="m")
        return [f"H{i + 1}" for i in range(int(m_or_names))]
    return [str(n) for n in m_or_names]


def fixed_sequence(m_or_names: int | Sequence[str]) -> Graph:
    """Fixed-sequence (hierarchical) test: H1 at full alpha, each rejection passes everything to the next.

    Parameters (``template = "fixed_sequence"``): ``names``, the hypotheses in testing order, or ``m``, their
    number (named H1, H2, ...).

    >>> fixed_sequence(3).transitions.tolist()
    [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    """
    names = _names(m_or_names)
    m = len(names)
    w = np.zeros(m)
    w[0] = 1.0
    return fallback(w, names)


def fallback(weights: Sequence[float], names: Sequence[str] | None = None) -> Graph:
    """Fallback procedure (Wiens 2003; Bretz et al. 2009, Section 3): H_i -> H_{i+1} with weight 1.

    Parameters (``template = "fallback"``): ``weights``, the initial share of alpha of each hypothesis in
    testing order (summing to at most 1); ``names``, optional (default H1, H2, ...).

    >>> g = fallback([0.5, 0.5], ["A", "B"])
    >>> g.weights.tolist(), g.transitions.tolist()
    ([0.5, 0.5], [[0.0, 1.0], [0.0, 0.0]])
    """
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

    Parameters (``template = "holm"``): ``names`` or ``m`` as for :func:`fixed_sequence`; ``weights``, optional
    initial shares of alpha (default equal).

    >>> holm(3).transitions[0].tolist()
    [0.0, 0.5, 0.5]
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
    (Xi and Bretz 2019).

    Parameters (``template = "hochberg"``): ``names`` or ``m`` as for :func:`fixed_sequence`.

    >>> hochberg(["A", "B"]) == holm(["A", "B"])
    True
    """
    return holm(m_or_names)


def doses_coprimary(
    doses: Sequence[str],
    coprimary: Sequence[str],
    secondary: Sequence[str] = (),
    dose_weights: Sequence[float] | None = None,
    gamma: float = 0.5,
) -> Graph:
    """One or more doses x co-primary endpoints x key secondaries (successive graph; Maurer, Glimm and Bretz 2011).

    Parameters (the keys of a study file's ``[multiplicity.graph]`` with ``template = "doses_coprimary"``):

    ``doses``
        The active arm ids, at least one (the study file's ``[[arms]]`` ids, placebo excluded).
    ``coprimary``
        The co-primary endpoint ids, at least one, in their testing order within a dose.
    ``secondary``
        The key secondary endpoint ids in their testing order (none: ``[]``, the default).
    ``dose_weights``
        The initial share of alpha of each dose's first co-primary, one per dose, summing to at most 1
        (default: equal shares, ``1 / len(doses)``).
    ``gamma``
        With two or more doses, the fraction of a dose's level passed on to the other doses (split equally
        among them) once its co-primaries are all rejected; ``1 - gamma`` goes to its own first secondary.
        Not used with one dose.

    Hypotheses are named ``"{endpoint}_{dose}"``, in the order: for each dose its co-primaries, then for each
    dose its secondaries. Within a dose the co-primaries form a fixed sequence (all are needed for the dose's
    claim, so passing the whole level from one to the next loses nothing: the claim needs p <= level for each,
    Maurer, Hothorn and Lehmacher 1995). After the last co-primary of a dose is rejected, a fraction ``gamma`` of
    its level goes to the other doses' first co-primaries and ``1 - gamma`` to its own first secondary (all of
    it without secondaries); secondaries form a fixed sequence whose last member passes everything to the other
    doses' first co-primaries. With one dose the graph is the fixed sequence co-primaries, then secondaries;
    with two doses it is :func:`two_doses_coprimary`, whose primary layer with ``gamma = 0.5`` matches Bretz et
    al. (2009), Figure 14 (right).

    >>> g = doses_coprimary(["D1"], ["E1", "E2"], ["S1"])
    >>> g.names, g.weights.tolist()
    (('E1_D1', 'E2_D1', 'S1_D1'), [1.0, 0.0, 0.0])
    >>> [(e["from"], e["to"], e["weight"]) for e in g.to_dict()["edges"]]
    [('E1_D1', 'E2_D1', 1.0), ('E2_D1', 'S1_D1', 1.0)]
    >>> doses_coprimary(["D1", "D2"], ["E1"], ["S1"]) == two_doses_coprimary(["D1", "D2"], ["E1"], ["S1"])
    True
    >>> doses_coprimary(["D1", "D2", "D3"], ["E1"]).transitions[0].tolist()
    [0.0, 0.5, 0.5]
    """
    doses, coprimary, secondary = _ids(doses, "doses"), _ids(coprimary, "coprimary"), _ids(secondary, "secondary")
    if not doses:
        raise TrialkitError("at least one dose is needed", variable="doses",
                            fix="list the active arm ids, e.g. doses = [\"ARM1\"]")
    if not coprimary:
        raise TrialkitError("at least one primary endpoint is needed", variable="coprimary",
                            fix="list the co-primary endpoint ids, e.g. coprimary = [\"EP1\"]")
    for key, ids in (("doses", doses), ("coprimary", coprimary), ("secondary", secondary)):
        if len(set(ids)) != len(ids):
            raise TrialkitError(f"{key} has duplicates: {ids}", variable=key, fix="list each id once")
    both = sorted(set(coprimary) & set(secondary))
    if both:
        raise TrialkitError(f"endpoints {both} are both co-primary and secondary", variable="secondary",
                            fix="list each endpoint once")
    try:
        gamma = float(gamma)
    except (TypeError, ValueError):
        raise TrialkitError(f"gamma must be a number, got {gamma!r}", variable="gamma",
                            fix="give a fraction in [0, 1], e.g. 0.5") from None
    if not 0 <= gamma <= 1:
        raise TrialkitError(f"gamma {gamma} is outside [0, 1]", variable="gamma", fix="give a fraction in [0, 1]")
    k = len(doses)
    if dose_weights is None:
        dw = np.full(k, 1.0 / k)
    else:
        try:
            dw = np.asarray(dose_weights, dtype=float)
        except (TypeError, ValueError):
            raise TrialkitError(f"dose_weights must be numbers, got {dose_weights!r}", variable="dose_weights",
                                fix=f"give {k} weight(s), one per dose") from None
        if dw.shape != (k,):
            raise TrialkitError(f"dose_weights needs one weight per dose ({k}), got {list(np.ravel(dw))}",
                                variable="dose_weights", fix=f"give {k} weight(s) in the order of doses")
        if not (np.all(np.isfinite(dw)) and np.all(dw >= 0) and dw.sum() <= 1 + 1e-9):
            raise TrialkitError(f"dose_weights {dw.tolist()} must be >= 0 and sum to at most 1",
                                variable="dose_weights", fix="give shares of alpha, e.g. equal ones")
    prim = {d: [f"{e}_{d}" for e in coprimary] for d in doses}
    sec = {d: [f"{e}_{d}" for e in secondary] for d in doses}
    names = [h for d in doses for h in prim[d]] + [h for d in doses for h in sec[d]]
    ix = {n: i for i, n in enumerate(names)}
    m = len(names)
    w = np.zeros(m)
    g = np.zeros((m, m))
    for di, d in enumerate(doses):
        others = [ix[prim[o][0]] for o in doses if o != d]
        share = 1.0 / len(others) if others else 0.0
        w[ix[prim[d][0]]] = dw[di]
        chain = prim[d] + sec[d]
        for a, b in zip(chain[:-1], chain[1:], strict=True):
            g[ix[a], ix[b]] = 1.0
        last = ix[prim[d][-1]]
        if not others:
            continue  # one dose: a fixed sequence, the last hypothesis passes nothing on
        if sec[d]:
            g[last, ix[sec[d][0]]] = 1.0 - gamma
            g[last, others] = gamma * share
            g[ix[sec[d][-1]], others] = share
        else:
            g[last, others] = share
    return Graph(w, g, names)


def two_doses_coprimary(
    doses: Sequence[str],
    coprimary: Sequence[str],
    secondary: Sequence[str] = (),
    dose_weights: Sequence[float] = (0.5, 0.5),
    gamma: float = 0.5,
) -> Graph:
    """Two doses x co-primary endpoints x key secondaries: :func:`doses_coprimary` for exactly two doses.

    Parameters (the keys of ``[multiplicity.graph]`` with ``template = "two_doses_coprimary"``): ``doses``, the
    two active arm ids; ``coprimary``, the co-primary endpoint ids in testing order; ``secondary``, the key
    secondary ids in testing order (default none); ``dose_weights``, the two doses' initial shares of alpha
    (default ``(0.5, 0.5)``); ``gamma``, the fraction of a dose's level passed to the other dose once its
    co-primaries are rejected (default 0.5; ``1 - gamma`` goes to its own first secondary).

    >>> g = two_doses_coprimary(["HI", "LO"], ["E1", "E2"], ["S1"])
    >>> g.names
    ('E1_HI', 'E2_HI', 'E1_LO', 'E2_LO', 'S1_HI', 'S1_LO')
    >>> g.weights.tolist(), g.transitions[1].tolist()
    ([0.5, 0.0, 0.5, 0.0, 0.0, 0.0], [0.0, 0.0, 0.5, 0.0, 0.5, 0.0])
    """
    doses = _ids(doses, "doses")
    if len(doses) != 2:
        raise TrialkitError(f"this template needs exactly two doses, got {doses}", variable="doses",
                            fix='list two active arm ids, or use template = "doses_coprimary" for any number')
    return doses_coprimary(doses, coprimary, secondary, dose_weights, gamma)


def doses_coprimary_claims(
    doses: Sequence[str],
    coprimary: Sequence[str],
    secondary: Sequence[str] = (),
) -> dict[str, list[str]]:
    """Claims of :func:`doses_coprimary` (and :func:`two_doses_coprimary`): a dose's primary claim
    (``primary_{dose}``) needs all its co-primaries; a secondary claim (``{endpoint}_{dose}``) needs the
    co-primaries of that dose and the secondary itself.

    >>> doses_coprimary_claims(["D1"], ["E1", "E2"], ["S1"])
    {'primary_D1': ['E1_D1', 'E2_D1'], 'S1_D1': ['E1_D1', 'E2_D1', 'S1_D1']}
    """
    out: dict[str, list[str]] = {}
    for d in _ids(doses, "doses"):
        prim = [f"{e}_{d}" for e in _ids(coprimary, "coprimary")]
        out[f"primary_{d}"] = prim
        for e in _ids(secondary, "secondary"):
            out[f"{e}_{d}"] = [*prim, f"{e}_{d}"]
    return out


#: The claims of :func:`two_doses_coprimary` (the same rule as :func:`doses_coprimary_claims`).
two_doses_coprimary_claims = doses_coprimary_claims


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


def dose_pairs(doses: Sequence[str], endpoints: Sequence[str]) -> list[tuple[str, str]]:
    """The (dose i, dose j) hypothesis pairs (i < j) of each endpoint, named as in :func:`doses_coprimary`
    (none for one dose).

    >>> dose_pairs(["HI", "LO"], ["E1", "S1"])
    [('E1_HI', 'E1_LO'), ('S1_HI', 'S1_LO')]
    """
    d = _ids(doses, "doses")
    return [(f"{e}_{a}", f"{e}_{b}") for e in _ids(endpoints, "endpoints")
            for i, a in enumerate(d) for b in d[i + 1:]]


_IDS = ("doses", "coprimary", "secondary")

#: name -> (builder, the parameters it reads besides ``template``)
_TEMPLATES: dict[str, tuple[Any, tuple[str, ...]]] = {
    "fixed_sequence": (lambda s: fixed_sequence(s.get("names") or s["m"]), ("names", "m")),
    "fallback": (lambda s: fallback(s["weights"], s.get("names")), ("weights", "names")),
    "holm": (lambda s: holm(s.get("names") or s["m"], s.get("weights")), ("names", "m", "weights")),
    "hochberg": (lambda s: hochberg(s.get("names") or s["m"]), ("names", "m")),
    "two_doses_coprimary": (
        lambda s: two_doses_coprimary(s["doses"], s["coprimary"], *_optional(s, "secondary", "dose_weights", "gamma")),
        (*_IDS, "dose_weights", "gamma"),
    ),
    "doses_coprimary": (
        lambda s: doses_coprimary(s["doses"], s["coprimary"], *_optional(s, "secondary", "dose_weights", "gamma")),
        (*_IDS, "dose_weights", "gamma"),
    ),
}

_DEFAULTS: dict[str, Any] = {"secondary": (), "dose_weights": None, "gamma": 0.5}


def _optional(spec: Mapping[str, Any], *keys: str) -> list[Any]:
    return [spec[k] if k in spec else _DEFAULTS[k] for k in keys]


def _parameter_hint(key: str) -> str:
    return {
        "doses": 'the active arm ids, e.g. doses = ["ARM1"]',
        "coprimary": 'the co-primary endpoint ids in testing order, e.g. coprimary = ["EP1", "EP2"]',
        "secondary": 'the key secondary endpoint ids, e.g. secondary = ["EP3"]',
        "names": 'the hypotheses, e.g. names = ["H1", "H2"] (or m = 2)',
        "m": 'the number of hypotheses, e.g. m = 2 (or names = ["H1", "H2"])',
        "weights": "one initial weight per hypothesis, e.g. weights = [0.5, 0.5]",
    }.get(key, "give it")


def from_template(spec: Mapping[str, Any], *, source: str | None = None) -> Graph:
    """Build a template graph from ``{"template": name, ...parameters}`` (a study file's ``[multiplicity.graph]``).

    Templates: ``fixed_sequence``, ``fallback``, ``holm``, ``hochberg`` (parameters ``names``/``m``,
    ``weights``), ``doses_coprimary`` and ``two_doses_coprimary`` (``doses``, ``coprimary``, ``secondary``,
    ``dose_weights``, ``gamma``); each function's docstring describes its parameters. A missing, unknown or
    invalid parameter raises a :class:`~trialkit.errors.TrialkitError` whose ``variable`` is the parameter's key.

    >>> from_template({"template": "doses_coprimary", "doses": ["D"], "coprimary": ["E1", "E2"]}).weights.tolist()
    [1.0, 0.0]
    >>> from_template({"template": "doses_coprimary", "doses": ["D"]}, source="study.toml: multiplicity.graph")
    Traceback (most recent call last):
    ...
    trialkit.errors.TrialkitError: study.toml: multiplicity.graph: coprimary: template 'doses_coprimary' needs ...
    """
    src = source or "multiplicity graph"
    name = spec.get("template")
    if not isinstance(name, str) or name not in _TEMPLATES:
        raise TrialkitError(f"unknown template {name!r}", source=src, variable="template",
                            fix=f"use one of {sorted(_TEMPLATES)}")
    build, params = _TEMPLATES[name]
    unknown = sorted(k for k in spec if k != "template" and k not in params)
    if unknown:
        raise TrialkitError(f"template {name!r} has no parameter(s) {unknown}", source=src, variable=unknown[0],
                            fix=f"remove them or check the spelling; its parameters are {list(params)}")
    for key in ("doses", "coprimary", "secondary", "names"):
        v = spec.get(key)
        if v is not None and not (isinstance(v, list | tuple) and all(isinstance(x, str) for x in v)):
            raise TrialkitError(f"must be a list of ids (got {v!r})", source=src, variable=key,
                                fix=f"write {_parameter_hint(key)}")
    for key in ("weights", "dose_weights"):
        v = spec.get(key)
        if v is not None and not (isinstance(v, list | tuple) and all(
                isinstance(x, int | float) and not isinstance(x, bool) for x in v)):
            raise TrialkitError(f"must be a list of numbers (got {v!r})", source=src, variable=key,
                                fix="give one weight per entry, e.g. [0.5, 0.5]")
    for key in ("gamma", "m"):
        v = spec.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int | float)):
            raise TrialkitError(f"must be a number (got {v!r})", source=src, variable=key, fix="correct the value")
    try:
        return build(spec)
    except KeyError as e:
        key = str(e.args[0])
        raise TrialkitError(f"template {name!r} needs the parameter {key!r}", source=src, variable=key,
                            fix=f"add {_parameter_hint(key)}") from None
    except TrialkitError as e:
        raise TrialkitError(e.problem, source=src, variable=e.variable, fix=e.fix) from None
    except (TypeError, ValueError) as e:
        raise TrialkitError(f"template {name!r}: invalid parameters ({e})", source=src,
                            fix=f"check the values of {list(params)} against the template's documentation") from None
