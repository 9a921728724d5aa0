"""Least-squares means (SAS LSMEANS, emmeans) over a reference grid, their differences and contrasts.

An LS mean is L beta, where L is the design row of a cell of the factors in ``specs`` (and ``by``), averaged
over the levels of the other factors with equal weights (SAS default) or with weights proportional to the
joint frequencies of those levels in the analysed rows ("proportional", SAS ``OM``, emmeans
``weights = "proportional"``); covariates are set to their mean over the analysed rows (SAS/STAT User's Guide,
PROC MIXED, "LSMEANS statement"; Searle, Speed & Milliken 1980, Am Stat 34:216).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import polars as pl
from scipy import stats

from trialkit.errors import TrialkitError
from trialkit.stats._frames import frame_text, output_frame
from trialkit.stats.mmrm.design import Design


class LinearInference(Protocol):
    """What a fitted model offers to LS means: its design, estimates and 1-df contrast inference."""

    design: Design
    beta: np.ndarray
    factor_codes: dict[str, np.ndarray]  # level index of each factor in the analysed rows

    def _contrast(self, c: np.ndarray) -> tuple[float, float, float]:  # estimate, se, df
        ...


def _as_list(x: str | Sequence[str] | None) -> list[str]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def reference_rows(
    model: LinearInference,
    cells: list[dict[str, int]],
    weights: str,
    at: Mapping[str, float] | None,
) -> np.ndarray:
    """Design rows for the given cells (factor -> level index) averaged over the remaining factors."""
    design = model.design
    covs = dict(design.covariate_means)
    for k, v in (at or {}).items():
        if k not in design.covariates:
            raise TrialkitError(f"'{k}' is not a covariate of the model", variable=k,
                                fix=f"use one of {design.covariates}")
        covs[k] = float(v)
    fixed = set(cells[0]) if cells else set()
    others = [f for f in design.factors if f not in fixed]
    rows = []
    if weights == "equal":
        base_w = {f: np.full(len(design.factor_levels[f]), 1.0 / len(design.factor_levels[f])) for f in others}
        for cell in cells:
            w = dict(base_w)
            for f, lvl in cell.items():
                e = np.zeros(len(design.factor_levels[f]))
                e[lvl] = 1.0
                w[f] = e
            rows.append(design.grid_row(w, covs))
        return np.array(rows)
    if weights != "proportional":
        raise TrialkitError(f"weights={weights!r} is not supported", variable="weights",
                            fix='use "equal" or "proportional" (SAS OM)')
    if others:
        codes = np.column_stack([model.factor_codes[f] for f in others])
        combos, counts = np.unique(codes, axis=0, return_counts=True)
        freq = counts / counts.sum()
    else:
        combos, freq = np.zeros((1, 0), dtype=int), np.ones(1)
    for cell in cells:
        acc = np.zeros(len(design.columns))
        for combo, fr in zip(combos, freq, strict=True):
            w = {}
            for f, lvl in list(zip(others, combo, strict=True)) + list(cell.items()):
                e = np.zeros(len(design.factor_levels[f]))
                e[int(lvl)] = 1.0
                w[f] = e
            acc += fr * design.grid_row(w, covs)
        rows.append(acc)
    return np.array(rows)


def _inference_frame(model: LinearInference, L: np.ndarray, level: float, null: float = 0.0) -> dict[str, list]:
    est, se, df = [], [], []
    for row in L:
        e, s, d = model._contrast(row)
        est.append(e)
        se.append(s)
        df.append(d)
    est_a, se_a, df_a = np.array(est), np.array(se), np.array(df)
    q = stats.t.ppf(0.5 + level / 2.0, df_a)
    t = (est_a - null) / se_a
    p = 2.0 * stats.t.sf(np.abs(t), df_a)
    return {
        "estimate": est_a.tolist(),
        "se": se_a.tolist(),
        "df": df_a.tolist(),
        "ci_low": (est_a - q * se_a).tolist(),
        "ci_high": (est_a + q * se_a).tolist(),
        "t": t.tolist(),
        "pvalue": p.tolist(),
    }


class LSMeans:
    """LS means of ``specs`` (within ``by``): ``.table``, ``.pairs()``, ``.vs_reference()``.

    The tables are pandas DataFrames when the model was fitted to pandas data (``model.output == "pandas"``),
    polars otherwise.
    """

    def __init__(self, model: LinearInference, specs: str | Sequence[str], by: str | Sequence[str] | None = None,
                 weights: str = "equal", at: Mapping[str, float] | None = None, level: float = 0.95) -> None:
        self.model = model
        self.specs = _as_list(specs)
        self.by = _as_list(by)
        self.level = level
        design = model.design
        if not self.specs:
            raise TrialkitError("lsmeans needs at least one factor in specs", variable="specs")
        for f in self.specs + self.by:
            if f not in design.factor_levels:
                raise TrialkitError(f"'{f}' is not a factor of the model", variable=f,
                                    fix=f"use factors among {design.factors}")
        if len(set(self.specs + self.by)) != len(self.specs + self.by):
            raise TrialkitError("a factor appears twice in specs/by", variable="specs")
        lev = design.factor_levels
        self.cells: list[dict[str, int]] = []
        for bcombo in itertools.product(*[range(len(lev[f])) for f in self.by]):
            for scombo in itertools.product(*[range(len(lev[f])) for f in self.specs]):
                cell = dict(zip(self.by, bcombo, strict=True))
                cell.update(zip(self.specs, scombo, strict=True))
                self.cells.append(cell)
        self.L = reference_rows(model, self.cells, weights, at)
        cols: dict[str, list] = {f: [lev[f][c[f]] for c in self.cells] for f in self.by + self.specs}
        cols.update(_inference_frame(model, self.L, level))
        self.output = getattr(model, "output", "polars")
        self.table = output_frame(pl.DataFrame(cols), self.output)

    def __repr__(self) -> str:
        return f"LSMeans(specs={self.specs}, by={self.by}, {self.level:.0%} CI)\n{frame_text(self.table)}"

    def _label(self, cell: dict[str, int]) -> str:
        lev = self.model.design.factor_levels
        return " ".join(lev[f][cell[f]] for f in self.specs)

    def _groups(self) -> list[list[int]]:
        out: dict[tuple, list[int]] = {}
        for i, c in enumerate(self.cells):
            out.setdefault(tuple(c[f] for f in self.by), []).append(i)
        return list(out.values())

    def _contrast_table(self, pairs: list[tuple[int, int]]) -> Any:
        lev = self.model.design.factor_levels
        L = np.array([self.L[i] - self.L[j] for i, j in pairs]) if pairs else np.zeros((0, self.L.shape[1]))
        cols: dict[str, list] = {f: [lev[f][self.cells[i][f]] for i, _ in pairs] for f in self.by}
        cols["contrast"] = [f"{self._label(self.cells[i])} - {self._label(self.cells[j])}" for i, j in pairs]
        cols.update(_inference_frame(self.model, L, self.level))
        return output_frame(pl.DataFrame(cols), self.output)

    def pairs(self) -> Any:
        """All pairwise differences (earlier level minus later level, as emmeans ``pairs``) within ``by``."""
        pairs = [(g[a], g[b]) for g in self._groups() for a in range(len(g)) for b in range(a + 1, len(g))]
        return self._contrast_table(pairs)

    def vs_reference(self, reference: str | Sequence[str] | None = None) -> Any:
        """Each cell minus the reference cell (default: first level of each spec factor) within ``by``."""
        lev = self.model.design.factor_levels
        if reference is None:
            ref = {f: 0 for f in self.specs}
        else:
            refs = [reference] if isinstance(reference, str) else list(reference)
            if len(refs) != len(self.specs):
                raise TrialkitError("reference needs one level per spec factor", variable="reference")
            ref = {}
            for f, r in zip(self.specs, refs, strict=True):
                if str(r) not in lev[f]:
                    raise TrialkitError(f"'{r}' is not a level of {f}", variable=f, fix=f"use one of {lev[f]}")
                ref[f] = lev[f].index(str(r))
        pairs = []
        for g in self._groups():
            r = [i for i in g if all(self.cells[i][f] == ref[f] for f in self.specs)][0]
            pairs += [(i, r) for i in g if i != r]
        return self._contrast_table(pairs)
