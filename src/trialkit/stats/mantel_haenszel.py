"""Cochran-Mantel-Haenszel tests.

Sources: Mantel and Haenszel (1959) JNCI 22:719-748; Landis, Heyman and Koch (1978) Int Stat Rev 46:237-254;
SAS/STAT PROC FREQ documentation, "Cochran-Mantel-Haenszel Statistics".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy import special, stats

from trialkit.errors import TrialkitError
from trialkit.stats._frames import check_backend, frame_input, output_frame, result_columns, text_table
from trialkit.stats._results import TestResult
from trialkit.stats._tables import as_counts, check_method, safe_div

_SCORES = ("table", "rank", "ridit", "modridit")


@frame_input(two_by_two=True)
def mh_test(counts: Any, correction: bool = False) -> TestResult:
    """Mantel-Haenszel chi-square test for 2x2xK tables (df = 1).

    ``counts`` has shape (..., K, 2, 2): rows (treatment, control), columns (responder, non-responder);
    leading axes are replicates. Statistic (SAS PROC FREQ "Cochran-Mantel-Haenszel Statistics"; R
    ``mantelhaen.test``)::

        Q = (|sum_k (a_k - E[a_k])| - c)^2 / sum_k V[a_k]
        E[a_k] = n1_k m1_k / n_k,  V[a_k] = n1_k n2_k m1_k m2_k / (n_k^2 (n_k - 1))

    With ``correction=True`` the continuity correction c = 0.5 is applied when ``|sum (a - E)| >= 0.5``
    (as R's ``mantelhaen.test(correct=TRUE)``); otherwise c = 0 (SAS reports the uncorrected statistic).

    Degenerate strata: a stratum with one arm empty, no responders, all responders, or fewer than two subjects
    has zero variance and zero expected deviation, so it contributes nothing (as SAS). If no stratum is
    informative, the statistic and p-value are NaN.

    >>> mh_test([[[10, 5], [4, 11]], [[8, 8], [3, 12]]]).df
    1.0

    The same from a data frame, one row per subject (rows: arms in ``treatment_levels`` order; columns: the
    responder value, then the non-responder value):

    >>> import polars as pl
    >>> from trialkit.stats import counts_from_frame
    >>> d = pl.DataFrame({"TRTP": ["A"] * 4 + ["P"] * 4, "RESP": ["Y", "Y", "Y", "N", "Y", "N", "N", "N"],
    ...                   "SITE": ["1", "2"] * 4})
    >>> r = mh_test(d, treatment="TRTP", response="RESP", strata="SITE", treatment_levels=("A", "P"))
    >>> r.statistic == mh_test(counts_from_frame(d, "TRTP", "RESP", "SITE", ("A", "P"))).statistic
    True
    """
    n = as_counts(counts, two_by_two=True)
    a, b, c, d = n[..., 0, 0], n[..., 0, 1], n[..., 1, 0], n[..., 1, 1]
    n1 = a + b  # explicit sums: reductions over a length-2 axis are slow
    n2 = c + d
    m1 = a + c
    m2 = b + d
    tot = n1 + n2
    informative = tot > 1
    e = safe_div(n1 * m1, tot)
    v = safe_div(n1 * n2 * m1 * m2, tot * tot * (tot - 1))
    dev = np.where(informative, a - e, 0.0).sum(-1)
    var = np.where(informative, v, 0.0).sum(-1)
    cc = np.where(np.abs(dev) >= 0.5, 0.5, 0.0) if correction else 0.0
    q = safe_div((np.abs(dev) - cc) ** 2, var)
    p = special.erfc(np.sqrt(q / 2))  # chi-square(1) upper tail: P(|Z| > sqrt(q))
    return TestResult(q, np.ones_like(q), p, extra={"deviation": dev, "variance": var})


_CMH_NAMES = (("correlation", "Nonzero correlation"), ("row_mean_scores", "Row mean scores differ"),
              ("general_association", "General association"))


@dataclass(frozen=True)
class CMHResult:
    """The three generalized Cochran-Mantel-Haenszel statistics (SAS PROC FREQ CMH output order reversed).

    ``to_frame()`` gives one row per statistic (``test``, ``statistic``, ``df``, ``pvalue``; and ``replicate``
    with leading replicate axes); printing shows the same table.
    """

    correlation: TestResult
    row_mean_scores: TestResult
    general_association: TestResult
    scores: str = "table"
    extra: dict[str, Any] = field(default_factory=dict, repr=False)
    _frame: str = field(default="polars", repr=False, compare=False)

    def _columns(self) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for attr, label in _CMH_NAMES:
            r = getattr(self, attr)
            cols = {"test": [label], **result_columns({"statistic": r.statistic, "df": r.df, "pvalue": r.pvalue})}
            n = len(cols["statistic"])
            cols["test"] = [label] * n
            if "replicate" in cols:  # replicate first, then the test
                cols = {"replicate": cols.pop("replicate"), **cols}
            for k, v in cols.items():
                out.setdefault(k, []).extend(v)
        return out

    def to_frame(self, backend: str | None = None) -> Any:
        """The three statistics as rows: test, statistic, df, pvalue (polars, or pandas for pandas input)."""
        return output_frame(pl.DataFrame(self._columns()), check_backend(backend, self._frame))

    def __repr__(self) -> str:
        rows = len(self._columns()["test"])
        return (f"CMHResult (scores: {self.scores})\n"
                f"{text_table(self._columns(), max_rows=None if rows <= 30 else 30)}")


def _stratum_scores(margin: np.ndarray, kind: str, table_scores: np.ndarray) -> np.ndarray:
    """Scores for the levels of one margin, per stratum (SAS PROC FREQ "Scores").

    rank: midranks of the margin's levels within the stratum; ridit: rank / n_h; modridit: rank / (n_h + 1).
    Rank-type scores are computed separately within each stratum, which makes the row mean scores statistic
    with modified ridit scores the van Elteren test and with rank scores Friedman's test.
    """
    if kind == "table":
        return np.broadcast_to(table_scores, margin.shape)
    cum = np.cumsum(margin, axis=-1)
    rank = cum - margin + (margin + 1) / 2
    if kind == "rank":
        return rank
    tot = margin.sum(-1, keepdims=True)
    return safe_div(rank, tot) if kind == "ridit" else safe_div(rank, tot + 1)


def _quadratic_form(g: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """g' V^- g and rank(V) for stacked vectors g (..., p) and matrices V (..., p, p)."""
    p = g.shape[-1]
    if p == 1:
        var = v[..., 0, 0]
        return safe_div(g[..., 0] ** 2, var), np.where(var > 0, 1.0, 0.0)
    u, s, vt = np.linalg.svd(v, hermitian=True)
    tol = s[..., :1] * p * 1e-10
    keep = s > tol
    inv_s = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
    proj = np.einsum("...ji,...j->...i", u, g)  # U' g
    q = np.einsum("...i,...i,...i->...", proj, inv_s, proj)
    rank = keep.sum(-1).astype(float)
    return np.where(rank > 0, q, np.nan), rank


@frame_input(two_by_two=False)
def cmh(
    counts: Any,
    scores: str = "table",
    row_scores: Any = None,
    col_scores: Any = None,
) -> CMHResult:
    """Generalized Cochran-Mantel-Haenszel statistics for K strata of R x C tables.

    ``counts`` has shape (..., K, R, C); leading axes are replicates. Returns the nonzero correlation statistic
    (df 1), the row mean scores differ statistic (df R-1, uses column scores) and the general association
    statistic (df (R-1)(C-1)), following Landis, Heyman and Koch (1978) and SAS PROC FREQ "Cochran-Mantel-
    Haenszel Statistics"::

        Q = G' (sum_h B_h V_h B_h')^- G,  G = sum_h B_h (n_h - m_h),
        V_h = n_h^2 / (n_h - 1) (D_{p_h.} - p_h. p_h.') kron (D_{p_.h} - p_.h p_.h')

    ``scores``: ``"table"`` (``row_scores``/``col_scores``, default 1..R and 1..C), ``"rank"``, ``"ridit"`` or
    ``"modridit"`` (computed from the margins within each stratum, as SAS).

    Degenerate strata: strata with fewer than two subjects are left out (their variance is undefined), as SAS.
    Strata with an empty row or column contribute nothing to that row or column. If the summed covariance
    matrix is singular (for example a response category observed in no stratum), a Moore-Penrose inverse is
    used and the df is its rank (as ``coin::cmh_test``); if it is zero, the statistic is NaN.

    >>> r = cmh([[[16, 11], [5, 20]], [[12, 16], [7, 19]]])  # SAS Migraine example
    >>> round(r.general_association.statistic, 4)
    8.3052

    From a data frame (response levels default to the sorted observed values for an R x C table; the table
    scores stay 1..C unless ``col_scores`` is given):

    >>> import polars as pl
    >>> d = pl.DataFrame({"TRTP": ["A", "A", "A", "P", "P", "P"], "AVAL": [1, 2, 3, 2, 3, 3],
    ...                   "SITE": ["1", "1", "2", "1", "2", "2"]})
    >>> r = cmh(d, treatment="TRTP", response="AVAL", strata="SITE", col_scores=[1, 2, 3])
    >>> r.extra["response_levels"], r.row_mean_scores.df
    ([1, 2, 3], 1.0)
    """
    kind = check_method(scores, _SCORES, variable="scores")
    n = as_counts(counts)
    r, c = n.shape[-2], n.shape[-1]
    a_tab = _check_scores(row_scores, r, "row_scores")
    c_tab = _check_scores(col_scores, c, "col_scores")
    rows = n.sum(-1)
    cols = n.sum(-2)
    tot = rows.sum(-1)
    use = tot > 1
    f = np.where(use, safe_div(tot * tot, tot - 1), 0.0)
    pr = np.where(use[..., None], safe_div(rows, tot[..., None]), 0.0)
    pc = np.where(use[..., None], safe_div(cols, tot[..., None]), 0.0)
    dev = np.where(use[..., None, None], n - safe_div(rows[..., :, None] * cols[..., None, :], tot[..., None, None]), 0)
    vr = _diag(pr) - pr[..., :, None] * pr[..., None, :]
    vc = _diag(pc) - pc[..., :, None] * pc[..., None, :]
    a = _stratum_scores(rows, kind, a_tab)
    s = _stratum_scores(cols, kind, c_tab)

    # general association: B = [I_{R-1}, 0] kron [I_{C-1}, 0]
    g_ga = dev[..., : r - 1, : c - 1].reshape(*dev.shape[:-2], -1).sum(-2)
    v_ga = (f[..., None, None] * _kron(vr[..., : r - 1, : r - 1], vc[..., : c - 1, : c - 1])).sum(-3)
    # row mean scores: B = [I_{R-1}, 0] kron c'
    g_rm = np.einsum("...ij,...j->...i", dev[..., : r - 1, :], s).sum(-2)
    cvc = np.einsum("...i,...ij,...j->...", s, vc, s)
    v_rm = (f[..., None, None] * cvc[..., None, None] * vr[..., : r - 1, : r - 1]).sum(-3)
    # correlation: B = a' kron c'
    g_co = np.einsum("...i,...ij,...j->...", a, dev, s).sum(-1)[..., None]
    ava = np.einsum("...i,...ij,...j->...", a, vr, a)
    v_co = (f * ava * cvc).sum(-1)[..., None, None]

    out = []
    for g, v in ((g_co, v_co), (g_rm, v_rm), (g_ga, v_ga)):
        q, df = _quadratic_form(g, v)
        with np.errstate(invalid="ignore"):
            p = np.where(df > 0, stats.chi2.sf(q, np.maximum(df, 1)), np.nan)
        out.append(TestResult(q, df, p))
    return CMHResult(*out, scores=kind)


def _diag(p: np.ndarray) -> np.ndarray:
    return p[..., :, None] * np.eye(p.shape[-1])


def _kron(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kronecker product of the last two axes, broadcasting over the leading ones."""
    k = x[..., :, None, :, None] * y[..., None, :, None, :]
    sh = k.shape
    return k.reshape(*sh[:-4], sh[-4] * sh[-3], sh[-2] * sh[-1])


def _check_scores(scores: Any, length: int, name: str) -> np.ndarray:
    if scores is None:
        return np.arange(1, length + 1, dtype=float)
    a = np.asarray(scores, dtype=float)
    if a.shape != (length,) or not np.all(np.isfinite(a)):
        raise TrialkitError(
            f"expected {length} finite scores, got shape {a.shape}",
            variable=name,
            fix="give one numeric score per table level, in table order",
        )
    return a
