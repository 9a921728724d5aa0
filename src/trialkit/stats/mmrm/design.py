"""Fixed-effects design matrices from a list of terms, with R's treatment-contrast coding.

A term is a ``:``-joined product of variables: ``"ARMCD"``, ``"FEV1_BL"``, ``"ARMCD:AVISIT"``,
``"FEV1_BL:AVISIT"``. Text, categorical, enum and boolean columns (and any column named in ``levels``) are
factors; numeric columns are covariates. As in R's ``model.matrix`` (Chambers & Hastie 1992, sec. 2.4.1), a
factor in a term is coded by contrasts (indicators of the non-reference levels; the reference is the first
level) when the term without that factor is also in the model (the intercept counts as the empty term), and
by indicators of all its levels otherwise; without an intercept (formula ``0 + ...``) the first factor of the
first term that has one is coded by indicators of all its levels, as R does. Column names follow R:
``(Intercept)``, ``ARMCDTRT``, ``ARMCDTRT:AVISITVIS2``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from trialkit.errors import TrialkitError


def natural_key(value: object) -> tuple:
    """Sort key that orders ``"Week 8"`` before ``"Week 16"`` (digits compared as numbers)."""
    parts = re.split(r"(\d+(?:\.\d+)?)", str(value))
    return tuple((0, float(p)) if i % 2 else (1, p) for i, p in enumerate(parts) if p != "")


def to_polars(data: object, source: str) -> pl.DataFrame:
    """Accept a polars or pandas frame (or anything polars can read from a dict of columns)."""
    if isinstance(data, pl.DataFrame):
        return data
    try:
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            return pl.from_pandas(data)
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    if isinstance(data, Mapping):
        return pl.DataFrame(dict(data))
    raise TrialkitError(
        f"expected a polars or pandas data frame, got {type(data).__name__}",
        source=source,
        fix="pass the analysis dataset as a polars.DataFrame or pandas.DataFrame",
    )


def is_factor_dtype(dtype: pl.DataType) -> bool:
    return dtype in (pl.Utf8, pl.String, pl.Categorical, pl.Boolean) or isinstance(dtype, pl.Enum | pl.Categorical)


def factor_levels(series: pl.Series, given: Sequence[object] | None = None) -> list[str]:
    """Levels of a factor as text: the given order, else enum order, else natural sort of observed values."""
    observed = {str(v) for v in series.drop_nulls().unique().to_list()}
    if given is not None:
        lev = [str(v) for v in given]
        unknown = sorted(observed - set(lev))
        if unknown:
            raise TrialkitError(
                f"values {unknown[:5]} are not among the levels given",
                variable=series.name,
                fix=f"add them to levels['{series.name}'] or remove those rows",
            )
        return [v for v in lev if v in observed]
    if isinstance(series.dtype, pl.Enum):
        return [v for v in series.dtype.categories.to_list() if v in observed]
    if series.dtype == pl.Boolean:  # as polars casts them to text (str() would give "True")
        return [v for v in ("false", "true") if v in {o.lower() for o in observed}]
    return sorted(observed, key=natural_key)


@dataclass(frozen=True)
class Term:
    """One model term: its label, the factors and the covariates it multiplies."""

    label: str
    factors: tuple[str, ...]
    covariates: tuple[str, ...]


@dataclass
class Column:
    """One design column: which term it belongs to, and for each factor of the term, the level it indicates."""

    name: str
    term: int
    levels: dict[str, int]  # factor -> level index it indicates
    covariates: tuple[str, ...]


@dataclass
class Design:
    """A fitted coding of the fixed effects: turns data rows or reference-grid rows into design rows."""

    terms: list[Term]
    factor_levels: dict[str, list[str]]
    covariates: list[str]
    columns: list[Column]
    intercept: bool = True
    covariate_means: dict[str, float] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def factors(self) -> list[str]:
        return list(self.factor_levels)

    def term_columns(self, term_index: int) -> list[int]:
        return [j for j, c in enumerate(self.columns) if c.term == term_index]

    def matrix(self, frame: pl.DataFrame) -> np.ndarray:
        """Design matrix for the rows of ``frame`` (factor values must be known levels)."""
        n = frame.height
        codes: dict[str, np.ndarray] = {}
        for f, lev in self.factor_levels.items():
            s = frame.get_column(f).cast(pl.Utf8)
            lookup = {v: i for i, v in enumerate(lev)}
            vals = s.to_list()
            codes[f] = np.array([lookup.get(v, -1) if v is not None else -1 for v in vals], dtype=np.int64)
        covs = {c: frame.get_column(c).cast(pl.Float64).to_numpy() for c in self.covariates}
        X = np.empty((n, len(self.columns)))
        for j, col in enumerate(self.columns):
            v = np.ones(n)
            for f, lvl in col.levels.items():
                v = v * (codes[f] == lvl)
            for c in col.covariates:
                v = v * covs[c]
            X[:, j] = v
        return X

    def grid_row(self, weights: Mapping[str, np.ndarray], covariates: Mapping[str, float]) -> np.ndarray:
        """A design row where each factor is a weight vector over its levels (one-hot for a given level,
        averaging weights otherwise) and each covariate a value; exact because every column is a product of
        one function per variable (multilinear)."""
        row = np.empty(len(self.columns))
        for j, col in enumerate(self.columns):
            v = 1.0
            for f, lvl in col.levels.items():
                v *= float(weights[f][lvl])
            for c in col.covariates:
                v *= float(covariates[c])
            row[j] = v
        return row


def parse_terms(fixed: Sequence[str], source: str) -> list[tuple[str, ...]]:
    out: list[tuple[str, ...]] = []
    for t in fixed:
        if not isinstance(t, str) or not t.strip():
            raise TrialkitError(f"fixed-effect term {t!r} is not a variable name", source=source,
                                fix='give terms like "ARMCD", "AVISIT", "ARMCD:AVISIT", "BASE"')
        if "*" in t:
            raise TrialkitError(f"term {t!r} uses '*'", source=source, variable=t,
                                fix='list the main effects and the interaction separately: "A", "B", "A:B"')
        parts = tuple(p.strip() for p in t.split(":"))
        if len(set(parts)) != len(parts):
            raise TrialkitError(f"term {t!r} repeats a variable", source=source, variable=t)
        if parts not in out and tuple(sorted(parts)) not in {tuple(sorted(o)) for o in out}:
            out.append(parts)
    return out


def build_design(
    frame: pl.DataFrame,
    fixed: Sequence[str],
    *,
    levels: Mapping[str, Sequence[object]] | None = None,
    intercept: bool = True,
    source: str = "data",
) -> Design:
    """Code the terms on ``frame`` (the rows used in the analysis)."""
    levels = dict(levels or {})
    parsed = parse_terms(fixed, source)
    variables = sorted({v for t in parsed for v in t})
    missing = [v for v in variables if v not in frame.columns]
    if missing:
        raise TrialkitError(f"variables {missing} are not in the data", source=source, variable=missing[0],
                            fix="check the spelling of the fixed-effect terms")
    flevels: dict[str, list[str]] = {}
    covariates: list[str] = []
    for v in variables:
        s = frame.get_column(v)
        if v in levels or is_factor_dtype(s.dtype):
            flevels[v] = factor_levels(s, levels.get(v))
        elif s.dtype.is_numeric():
            covariates.append(v)
        else:
            raise TrialkitError(f"column type {s.dtype} can be neither a factor nor a covariate",
                                source=source, variable=v, fix="cast it to text (factor) or a number")
    terms = [
        Term(":".join(t), tuple(x for x in t if x in flevels), tuple(x for x in t if x not in flevels))
        for t in parsed
    ]
    present = {frozenset(t.factors + t.covariates) for t in terms}
    # Without an intercept R codes the first factor of the first term that has one by indicators of all its
    # levels and treats the empty term as present for every other factor (R's model.matrix, TermCode)
    present.add(frozenset())
    first_factor = None if intercept else next(((ti, t.factors[0]) for ti, t in enumerate(terms) if t.factors),
                                               None)
    columns: list[Column] = []
    if intercept:
        columns.append(Column("(Intercept)", -1, {}, ()))
    for ti, t in enumerate(terms):
        full = frozenset(t.factors + t.covariates)
        per_var: list[list[tuple[str, int | None]]] = []
        order = [x for x in t.label.split(":")]
        for v in order:
            if v in flevels:
                contrast = (full - {v}) in present and (ti, v) != first_factor
                idx = range(1, len(flevels[v])) if contrast else range(len(flevels[v]))
                per_var.append([(v, i) for i in idx])
            else:
                per_var.append([(v, None)])
        # R varies the first variable fastest within a term
        for combo in itertools.product(*reversed(per_var)):
            combo = tuple(reversed(combo))
            name = ":".join(v + (flevels[v][i] if i is not None else "") for v, i in combo)
            columns.append(Column(name, ti, {v: i for v, i in combo if i is not None}, t.covariates))
    design = Design(terms, flevels, covariates, columns, intercept)
    return design


def check_rank(X: np.ndarray, names: Sequence[str], source: str, tol: float = 1e-6) -> None:
    """Raise a TrialkitError naming the aliased columns when X is not of full column rank (tol 1e-6 on the
    scaled R factor, i.e. 1e-12 on the cross-product, as SAS SINGULAR=)."""
    import scipy.linalg

    if X.shape[0] < X.shape[1]:
        raise TrialkitError(f"{X.shape[0]} usable observations for {X.shape[1]} fixed-effect parameters",
                            source=source, fix="simplify the fixed effects or check the data selection")
    scale = np.sqrt((X**2).sum(axis=0))
    scale[scale == 0] = 1.0
    # Work on the p x p cross-product (a tall QR is slow): the symmetric square root B of Xs'Xs has the same
    # pivoted-QR R factor as Xs itself, up to signs.
    C = (X / scale).T @ (X / scale)
    w, V = np.linalg.eigh(0.5 * (C + C.T))
    B = (V * np.sqrt(np.clip(w, 0.0, None))) @ V.T
    _, R, piv = scipy.linalg.qr(B, pivoting=True)
    d = np.abs(np.diag(R))
    rank = int((d > tol * max(d[0], 1.0)).sum()) if d.size else 0
    if rank < X.shape[1]:
        aliased = sorted(piv[rank:])
        cols = [names[j] for j in aliased]
        raise TrialkitError(
            f"the fixed-effects design is singular (rank {rank} of {X.shape[1]}); columns {cols} are "
            "linear combinations of the others",
            source=source,
            variable=cols[0],
            fix="drop a redundant term or factor level combination with no data (e.g. an empty treatment x "
            "visit cell)",
        )
