"""Analysis of covariance (general linear model) with LS means, as SAS PROC GLM with LSMEANS.

The model y = X beta + e, e ~ N(0, sigma^2 I), is fitted by least squares; inference uses the residual
degrees of freedom n - p. LS means, their differences and Type III F tests follow the same definitions as the
MMRM (:mod:`trialkit.stats.mmrm.lsmeans`, :mod:`trialkit.stats.mmrm.type3`): equal weights over the other
factors by default (SAS LSMEANS), ``weights="proportional"`` for SAS ``OM``; covariates at their mean.

Example (CDISC Pilot Table 14-3.01: ADAS-Cog change from baseline at week 24, LOCF)::

    fit = ancova(adas_w24, response="CHG", fixed=["TRTP", "SITEGR1", "BASE"],
                 levels={"TRTP": ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]})
    fit.lsmeans("TRTP").table; fit.lsmeans("TRTP").vs_reference("Placebo")
    dose_response(adas_w24, response="CHG", dose="TRTPN", fixed=["SITEGR1", "BASE"])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl
from scipy import stats

from trialkit.errors import TrialkitError
from trialkit.stats._results import EstimateResult, TestResult
from trialkit.stats.mmrm.design import Design, build_design, check_rank, to_polars
from trialkit.stats.mmrm.lsmeans import LSMeans, _inference_frame
from trialkit.stats.mmrm.type3 import type3_contrasts

__all__ = ["ANCOVAResult", "ancova", "dose_response"]


class ANCOVAResult:
    """A fitted ANCOVA: ``fixed_effects`` (polars: term, estimate, se, df, t, pvalue), ``sigma``, ``df_resid``,
    ``n_obs``, ``beta``, ``vcov``; ``type3()``, ``lsmeans(specs, by=None, weights="equal")``, ``test(L)``."""

    def __init__(self, design: Design, beta: np.ndarray, vcov: np.ndarray, sigma: float, df_resid: int,
                 n_obs: int, factor_codes: dict[str, np.ndarray]) -> None:
        self.design = design
        self.beta = beta
        self.vcov = vcov
        self.sigma = sigma
        self.df_resid = df_resid
        self.n_obs = n_obs
        self.factor_codes = factor_codes
        self.fixed_effects = pl.DataFrame(
            {"term": design.names, **_inference_frame(self, np.eye(len(beta)), 0.95)}
        ).select("term", "estimate", "se", "df", "t", "pvalue")

    def __repr__(self) -> str:
        return f"ANCOVAResult(n={self.n_obs}, df_resid={self.df_resid}, sigma={self.sigma:.6g})\n{self.fixed_effects}"

    def _contrast(self, c: np.ndarray) -> tuple[float, float, float]:
        c = np.asarray(c, dtype=float)
        return float(c @ self.beta), float(np.sqrt(c @ self.vcov @ c)), float(self.df_resid)

    def test(self, L: np.ndarray | Sequence[float]) -> TestResult:
        """F test of L beta = 0 on (rank L, n - p) df."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        q = int(np.linalg.matrix_rank(L))
        if q < L.shape[0]:
            raise TrialkitError(f"the {L.shape[0]} contrast rows are linearly dependent (rank {q})", variable="L")
        Lb = L @ self.beta
        F = float(Lb @ np.linalg.solve(L @ self.vcov @ L.T, Lb)) / q
        return TestResult(F, np.array([q, self.df_resid]), float(stats.f.sf(F, q, self.df_resid)),
                          extra={"num_df": q, "den_df": self.df_resid})

    def type3(self) -> pl.DataFrame:
        """Type III F tests of each term (SAS PROC GLM Type III SS)."""
        rows = []
        for label, L in type3_contrasts(self.design).items():
            if L.shape[0]:
                r = self.test(L)
                rows.append((label, r.extra["num_df"], float(self.df_resid), r.statistic, r.pvalue))
        return pl.DataFrame(rows, schema=["term", "num_df", "den_df", "F", "pvalue"], orient="row")

    def lsmeans(self, specs: str | Sequence[str], by: str | Sequence[str] | None = None,
                weights: str = "equal", at: Mapping[str, float] | None = None, level: float = 0.95) -> LSMeans:
        """LS means of ``specs`` (within ``by``), with ``.table``, ``.pairs()`` and ``.vs_reference()``."""
        return LSMeans(self, specs, by=by, weights=weights, at=at, level=level)


def ancova(
    data: object,
    *,
    response: str,
    fixed: Sequence[str],
    levels: Mapping[str, Sequence[object]] | None = None,
    source: str = "data",
) -> ANCOVAResult:
    """Fit ``response ~ fixed`` by least squares (rows with a missing response or covariate are dropped).

    Factors are text/categorical columns (or named in ``levels``, whose first level is the reference); numeric
    columns are covariates. Read identifiers such as SITEGR1 as text.
    """
    frame = to_polars(data, source)
    if response not in frame.columns:
        raise TrialkitError("the response is not in the data", source=source, variable=response)
    if not frame.get_column(response).dtype.is_numeric():
        raise TrialkitError("the response must be numeric", source=source, variable=response)
    variables = sorted({v.strip() for t in fixed for v in t.split(":")})
    missing = [v for v in variables if v not in frame.columns]
    if missing:
        raise TrialkitError(f"variables {missing} are not in the data", source=source, variable=missing[0])
    cols = [response] + variables
    mask = frame.select(pl.all_horizontal([pl.col(c).is_not_null() for c in cols])).to_series()
    floats = [c for c in cols if frame.schema[c].is_float()]
    if floats:
        mask = mask & frame.select(pl.all_horizontal([pl.col(c).is_not_nan() for c in floats])).to_series()
    used = frame.filter(mask)
    design = build_design(used, fixed, levels=levels, source=source)
    X = design.matrix(used)
    check_rank(X, design.names, source)
    n, p = X.shape
    if n - p <= 0:
        raise TrialkitError(f"{n} observations for {p} parameters leave no residual degrees of freedom",
                            source=source, fix="simplify the model")
    design.covariate_means = {c: float(used.get_column(c).cast(pl.Float64).mean()) for c in design.covariates}
    y = used.get_column(response).cast(pl.Float64).to_numpy()
    Q, R = np.linalg.qr(X)
    beta = np.linalg.solve(R, Q.T @ y)
    resid = y - X @ beta
    df_resid = n - p
    sigma2 = float(resid @ resid) / df_resid
    Rinv = np.linalg.inv(R)
    vcov = sigma2 * (Rinv @ Rinv.T)
    codes = {f: np.array([design.factor_levels[f].index(str(v)) for v in used.get_column(f).cast(pl.Utf8).to_list()])
             for f in design.factors}
    return ANCOVAResult(design, beta, vcov, float(np.sqrt(sigma2)), df_resid, n, codes)


def dose_response(
    data: object,
    *,
    response: str,
    dose: str,
    fixed: Sequence[str] = (),
    levels: Mapping[str, Sequence[object]] | None = None,
    level: float = 0.95,
    source: str = "data",
) -> EstimateResult:
    """Linear dose-response test: the slope of ``dose`` (numeric, e.g. TRTPN = 0, 54, 81) in an ANCOVA with
    the other ``fixed`` terms, with its t test on the residual df (CDISC Pilot SAP, Table 14-3.01)."""
    frame = to_polars(data, source)
    if dose not in frame.columns or not frame.get_column(dose).dtype.is_numeric():
        raise TrialkitError("the dose must be a numeric column", source=source, variable=dose,
                            fix="use the numeric planned dose (e.g. TRTPN)")
    fit = ancova(frame, response=response, fixed=[dose, *fixed], levels=levels, source=source)
    j = fit.design.names.index(dose)
    est, se = float(fit.beta[j]), float(np.sqrt(fit.vcov[j, j]))
    q = stats.t.ppf(0.5 + level / 2, fit.df_resid)
    t = est / se
    return EstimateResult(est, se, est - q * se, est + q * se, pvalue=float(2 * stats.t.sf(abs(t), fit.df_resid)),
                          method="ANCOVA linear dose-response (t test of the dose slope)", confidence_level=level,
                          extra={"t": t, "df": fit.df_resid, "fit": fit})
