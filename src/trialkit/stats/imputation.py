"""Multiple imputation of longitudinal continuous outcomes: MAR by arm, reference-based (J2R, CR, CIR), delta
adjustment, Rubin's rules with Barnard-Rubin degrees of freedom, and tipping-point grids.

Imputation model: an MMRM (:func:`trialkit.stats.mmrm`, unstructured by default) fitted by REML to the observed
data under MAR, with arm-by-visit means. For each imputation, parameters are drawn from their approximate
posterior: theta* ~ N(theta_hat, 2 H^-1) on the unconstrained covariance scale (H: observed Hessian of -2 log L_R),
then beta* ~ N(beta_hat(Sigma*), (X'V*^-1 X)^-1) (the exact conditional posterior of beta under a flat prior).
Each subject's missing values are drawn from the conditional normal given its observed values, with the mean
profile set by the strategy (Carpenter, Roger & Kenward 2013, J Biopharm Stat 23:1352, section 4):

* ``MAR``: the subject's own arm throughout;
* ``J2R`` (jump to reference): own arm up to the last observed visit, the reference arm afterwards;
* ``CR`` (copy reference): the reference arm at all visits (also for the observed part of the profile);
* ``CIR`` (copy increments in reference): own-arm mean at the last observed visit plus the reference arm's
  change from that visit.

Subjects of the reference arm, and intermittent missing values before the last observed visit, are imputed
under MAR. ``delta`` is added to imputed values after the last observed visit (delta adjustment; Ratitch,
O'Kelly & Tosiello 2013, Pharm Stat 12:337). Pooling follows Rubin (1987) with the small-sample degrees of
freedom of Barnard & Rubin (1999, Biometrika 86:948).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats

from trialkit.errors import TrialkitError
from trialkit.stats._results import EstimateResult
from trialkit.stats.mmrm import mmrm
from trialkit.stats.mmrm.covariance import complex_step_jacobian, second_derivatives
from trialkit.stats.mmrm.design import build_design, factor_levels, to_polars
from trialkit.stats.mmrm.lsmeans import reference_rows

__all__ = ["Imputed", "impute", "impute_conditional", "mi_ancova", "rubin", "tipping_point"]

STRATEGIES = ("MAR", "J2R", "CR", "CIR")


def rubin(estimates: np.ndarray, variances: np.ndarray, df_complete: float | np.ndarray | None = None,
          level: float = 0.95) -> EstimateResult:
    """Pool M completed-data estimates and variances (last axis = imputations) by Rubin's rules.

    Q = mean(Q_m), U = mean(U_m), B = var(Q_m), T = U + (1 + 1/M) B; df by Barnard & Rubin (1999) when the
    complete-data df is given, else Rubin's (M - 1)/lambda^2. ``extra`` holds ubar, b, t, df, riv (relative
    increase in variance r) and fmi (as mice::pool.scalar). Leading axes broadcast.
    """
    Q = np.asarray(estimates, dtype=float)
    U = np.asarray(variances, dtype=float)
    if Q.shape != U.shape or Q.shape[-1] < 2:
        raise TrialkitError("estimates and variances need the same shape with at least 2 imputations on the last axis",
                            variable="estimates")
    M = Q.shape[-1]
    qbar = Q.mean(axis=-1)
    ubar = U.mean(axis=-1)
    b = Q.var(axis=-1, ddof=1)
    t = ubar + (1.0 + 1.0 / M) * b
    r = (1.0 + 1.0 / M) * b / ubar
    lam = (1.0 + 1.0 / M) * b / t
    with np.errstate(divide="ignore", invalid="ignore"):
        df_old = np.where(lam > 0, (M - 1) / lam**2, np.inf)
        if df_complete is None:
            df = df_old
        else:
            nc = np.asarray(df_complete, dtype=float)
            df_obs = (nc + 1.0) / (nc + 3.0) * nc * (1.0 - lam)
            df = np.where(np.isinf(df_old), df_obs, df_old * df_obs / (df_old + df_obs))
    fmi = (r + 2.0 / (df + 3.0)) / (r + 1.0)
    se = np.sqrt(t)
    q = stats.t.ppf(0.5 + level / 2.0, df)
    p = 2.0 * stats.t.sf(np.abs(qbar / se), df)
    return EstimateResult(qbar, se, qbar - q * se, qbar + q * se, pvalue=p, method="Rubin's rules (Barnard-Rubin df)",
                          confidence_level=level,
                          extra={"ubar": ubar, "b": b, "t": t, "df": df, "riv": r, "lambda": lam, "fmi": fmi, "m": M})


@dataclass
class Imputed:
    """Completed data sets: ``frame`` (the input long data, sorted by subject and visit) and ``values``
    (n_imputations x rows: the response with missing values imputed). ``after_dropout`` flags rows imputed after
    the subject's last observed visit, ``arm_of_row`` the arm of each row; ``delta`` is already added."""

    frame: pl.DataFrame
    values: np.ndarray
    missing: np.ndarray
    after_dropout: np.ndarray
    response: str
    visit: str
    subject: str
    arm: str
    reference: str
    strategy: str

    def dataset(self, m: int) -> pl.DataFrame:
        """The m-th completed data set as a frame."""
        return self.frame.with_columns(pl.Series(self.response, self.values[m]))

    def shifted(self, delta: float | Mapping[str, float]) -> np.ndarray:
        """Imputed values with ``delta`` added after dropout (scalar: non-reference arms; or per arm)."""
        add = _delta_vector(delta, self.frame.get_column(self.arm).cast(pl.Utf8).to_numpy(), self.reference)
        return self.values + (add * self.after_dropout)[None, :]


def _delta_vector(delta: float | Mapping[str, float] | None, arms: np.ndarray, reference: str) -> np.ndarray:
    if delta is None:
        return np.zeros(arms.size)
    if isinstance(delta, Mapping):
        return np.array([float(delta.get(a, 0.0)) for a in arms])
    return np.where(arms == reference, 0.0, float(delta))


def impute(
    data: object,
    *,
    response: str,
    fixed: Sequence[str],
    visit: str,
    subject: str,
    arm: str,
    reference: str,
    strategy: str = "MAR",
    n_imputations: int = 100,
    delta: float | Mapping[str, float] | None = None,
    covariance: str = "us",
    levels: Mapping[str, Sequence[object]] | None = None,
    seed: int | np.random.Generator | None = None,
    source: str = "data",
) -> Imputed:
    """Multiply impute ``response`` in long data with one row per subject and visit (missing responses as
    nulls; covariates complete). ``fixed`` must contain ``arm`` and the visit (e.g. ["TRTP", "AVISIT",
    "TRTP:AVISIT", "BASE", "BASE:AVISIT"]). See the module docstring for the strategies."""
    if strategy not in STRATEGIES:
        raise TrialkitError(f"strategy={strategy!r} is not supported", variable="strategy",
                            fix=f"use one of {list(STRATEGIES)}")
    if n_imputations < 2:
        raise TrialkitError("at least 2 imputations are needed", variable="n_imputations")
    frame = to_polars(data, source)
    for v in (response, visit, subject, arm):
        if v not in frame.columns:
            raise TrialkitError("variable not in the data", source=source, variable=v)
    terms = {v.strip() for t in fixed for v in t.split(":")}
    if arm not in terms:
        raise TrialkitError("the arm must be among the fixed effects of the imputation model", variable=arm,
                            fix=f'add "{arm}" and "{arm}:{visit}" to fixed')
    rng = np.random.default_rng(seed)
    lev = dict(levels or {})
    vlev = factor_levels(frame.get_column(visit), lev.get(visit))
    lev[visit] = vlev
    arms = factor_levels(frame.get_column(arm), lev.get(arm))
    if str(reference) not in arms:
        raise TrialkitError(f"reference arm '{reference}' is not a level of {arm}", variable=arm,
                            fix=f"use one of {arms}")
    lev.setdefault(arm, arms)
    T = len(vlev)
    frame = frame.with_columns(
        pl.col(visit).cast(pl.Utf8).replace_strict({v: i for i, v in enumerate(vlev)}, return_dtype=pl.Int64)
        .alias("__v")
    ).sort([subject, "__v"])
    counts = frame.group_by(subject).agg(pl.len(), pl.col("__v").n_unique().alias("u"))
    bad = counts.filter((pl.col("len") != T) | (pl.col("u") != T))
    if bad.height:
        raise TrialkitError(f"each subject needs exactly one row per visit ({T} visits)", source=source,
                            variable=visit, rows=bad.get_column(subject).to_list()[:5],
                            fix="complete the visit grid with rows whose response is missing")
    other = [v for v in terms if v not in (response,)]
    nulls = frame.select([pl.col(v).is_null().any().alias(v) for v in other]).row(0)
    if any(nulls):
        raise TrialkitError("covariates of the imputation model must be complete", source=source,
                            variable=[v for v, n in zip(other, nulls, strict=True) if n][0])
    fit = mmrm(frame.drop("__v"), response=response, fixed=fixed, visit=visit, subject=subject,
               covariance=covariance, levels=lev, df="residual", source=source)
    if fit.visits != vlev:
        raise TrialkitError("some visits have no observed response", source=source, variable=visit)
    n_sub = frame.height // T
    X = fit.design.matrix(frame).reshape(n_sub, T, -1)
    Xref = fit.design.matrix(frame.with_columns(pl.lit(str(reference)).alias(arm))).reshape(n_sub, T, -1)
    y = frame.get_column(response).cast(pl.Float64).to_numpy().reshape(n_sub, T)
    obs = ~np.isnan(y)
    arm_sub = frame.get_column(arm).cast(pl.Utf8).to_numpy().reshape(n_sub, T)[:, 0]
    is_ref = arm_sub == str(reference)
    idx = np.arange(T)
    last = np.where(obs.any(axis=1), T - 1 - np.argmax(obs[:, ::-1], axis=1), -1)
    after = (idx[None, :] > last[:, None]) & ~obs
    # parameter draws
    struct = fit._structs[0]
    prob = fit._problem
    theta = fit.theta
    dsig = [complex_step_jacobian(struct.sigma, theta)]
    d2 = [second_derivatives(struct.sigma, theta)]
    ev = prob.evaluate([struct.sigma(theta)], gradient=False)
    H = prob.information([struct.sigma(theta)], dsig, d2, ev.beta, ev.M)["hessian"]
    cov_theta = 2.0 * np.linalg.inv(H)
    cov_theta = 0.5 * (cov_theta + cov_theta.T)
    Lc = np.linalg.cholesky(cov_theta)
    values = np.empty((n_imputations, n_sub, T))
    patterns = _patterns(obs)
    for m in range(n_imputations):
        th = theta + Lc @ rng.standard_normal(theta.size)
        Sig = struct.sigma(th)
        e = prob.evaluate([Sig], gradient=False)
        beta = e.beta + np.linalg.cholesky(e.M) @ rng.standard_normal(e.beta.size)
        mu_own = X @ beta
        mu_ref = Xref @ beta
        mean = _strategy_mean(strategy, mu_own, mu_ref, last, is_ref, idx)
        values[m] = impute_conditional(mean, Sig, y, rng=rng, patterns=patterns)
    imp = Imputed(frame.drop("__v"), values.reshape(n_imputations, -1), (~obs).reshape(-1), after.reshape(-1),
                  response, visit, subject, arm, str(reference), strategy)
    if delta is not None:
        imp.values = imp.shifted(delta)
    return imp


def _patterns(obs: np.ndarray) -> dict[bytes, np.ndarray]:
    groups: dict[bytes, list[int]] = {}
    for i in range(obs.shape[0]):
        if not obs[i].all():
            groups.setdefault(obs[i].tobytes(), []).append(i)
    return {k: np.asarray(v) for k, v in groups.items()}


def impute_conditional(mean: np.ndarray, Sigma: np.ndarray, y: np.ndarray,
                       rng: np.random.Generator | None = None,
                       patterns: dict[bytes, np.ndarray] | None = None) -> np.ndarray:
    """Fill the NaNs of ``y`` (subjects x visits) from y_mis | y_obs ~ N(m_mis + S_mo S_oo^-1 (y_obs - m_obs),
    S_mm - S_mo S_oo^-1 S_om) with subject mean profiles ``mean``; with ``rng=None`` the conditional mean is
    returned (no noise). Subjects with the same missingness pattern are done together."""
    y = np.asarray(y, dtype=float)
    obs = ~np.isnan(y)
    out = np.where(obs, y, 0.0)
    for key, subs in (patterns if patterns is not None else _patterns(obs)).items():
        o = np.frombuffer(key, dtype=bool)
        mi = ~o
        S_mo = Sigma[np.ix_(mi, o)]
        K = np.linalg.solve(Sigma[np.ix_(o, o)], S_mo.T).T if o.any() else np.zeros((mi.sum(), 0))
        cm = mean[subs][:, mi] + (y[subs][:, o] - mean[subs][:, o]) @ K.T
        if rng is not None:
            C = Sigma[np.ix_(mi, mi)] - K @ S_mo.T
            cm = cm + rng.standard_normal(cm.shape) @ np.linalg.cholesky(0.5 * (C + C.T)).T
        out[np.ix_(subs, np.flatnonzero(mi))] = cm
    return out


def _strategy_mean(strategy: str, own: np.ndarray, ref: np.ndarray, last: np.ndarray, is_ref: np.ndarray,
                   idx: np.ndarray) -> np.ndarray:
    """Mean profile of each subject (rows) under the strategy (Carpenter, Roger & Kenward 2013)."""
    post = idx[None, :] > last[:, None]
    if strategy == "MAR":
        out = own
    elif strategy == "J2R":
        out = np.where(post, ref, own)
    elif strategy == "CR":
        out = ref
    else:  # CIR
        li = np.clip(last, 0, None)
        rows = np.arange(own.shape[0])
        base_own = np.where(last >= 0, own[rows, li], ref[rows, 0])
        base_ref = np.where(last >= 0, ref[rows, li], ref[rows, 0])
        out = np.where(post, base_own[:, None] + ref - base_ref[:, None], own)
    return np.where(is_ref[:, None], own, out)


def mi_ancova(
    imputed: Imputed,
    *,
    at_visit: str,
    fixed: Sequence[str],
    values: np.ndarray | None = None,
    level: float = 0.95,
    levels: Mapping[str, Sequence[object]] | None = None,
) -> pl.DataFrame:
    """ANCOVA of each completed data set at ``at_visit`` (``fixed`` must contain the arm), pooled by Rubin's
    rules: one row per arm versus the reference (LS-mean difference), with estimate, se, df (Barnard-Rubin),
    CI, p-value, fmi. All imputations are analysed at once (one least-squares solve for all of them)."""
    fr = imputed.frame
    sel = (fr.get_column(imputed.visit).cast(pl.Utf8) == str(at_visit)).to_numpy()
    if not sel.any():
        raise TrialkitError(f"no rows at visit '{at_visit}'", variable=imputed.visit)
    sub = fr.filter(pl.Series(sel))
    Y = (imputed.values if values is None else values)[:, sel].T  # n x M
    lev = dict(levels or {})
    lev.setdefault(imputed.arm, factor_levels(fr.get_column(imputed.arm)))
    design = build_design(sub, fixed, levels=lev)
    if imputed.arm not in design.factor_levels:
        raise TrialkitError("the arm must be a factor of the analysis model", variable=imputed.arm)
    design.covariate_means = {c: float(sub.get_column(c).cast(pl.Float64).mean()) for c in design.covariates}
    X = design.matrix(sub)
    n, p = X.shape
    XtX_inv = np.linalg.inv(X.T @ X)
    B = XtX_inv @ (X.T @ Y)
    s2 = ((Y - X @ B) ** 2).sum(axis=0) / (n - p)

    class _M:  # minimal model for the LS-means grid
        pass

    mdl = _M()
    mdl.design = design  # type: ignore[attr-defined]
    mdl.factor_codes = {}  # type: ignore[attr-defined]
    arms = design.factor_levels[imputed.arm]
    ref_i = arms.index(imputed.reference)
    L = reference_rows(mdl, [{imputed.arm: i} for i in range(len(arms))], "equal", None)  # type: ignore[arg-type]
    rows = []
    for i, a in enumerate(arms):
        if i == ref_i:
            continue
        c = L[i] - L[ref_i]
        est = c @ B
        var = s2 * float(c @ XtX_inv @ c)
        r = rubin(est, var, df_complete=n - p, level=level)
        rows.append((f"{a} - {imputed.reference}", float(r.estimate), float(r.se), float(r.extra["df"]),
                     float(r.ci_low), float(r.ci_high), float(r.pvalue), float(r.extra["fmi"]), int(r.extra["m"])))
    return pl.DataFrame(rows, schema=["contrast", "estimate", "se", "df", "ci_low", "ci_high", "pvalue", "fmi", "m"],
                        orient="row")


def tipping_point(
    imputed: Imputed,
    *,
    deltas: Sequence[float],
    at_visit: str,
    fixed: Sequence[str],
    arm: str | None = None,
    alpha: float = 0.05,
    levels: Mapping[str, Sequence[object]] | None = None,
) -> pl.DataFrame:
    """Tipping-point grid: for each delta (added to the values imputed after dropout in ``arm``, default every
    non-reference arm), the pooled ANCOVA contrasts; ``significant`` marks p < alpha. The same imputation draws
    are reused for every delta (common random numbers), so the curve is smooth in delta."""
    frames = []
    for d in deltas:
        shift = {arm: float(d)} if arm is not None else float(d)
        res = mi_ancova(imputed, at_visit=at_visit, fixed=fixed, values=imputed.shifted(shift), levels=levels)
        frames.append(res.with_columns(pl.lit(float(d)).alias("delta"),
                                       (pl.col("pvalue") < alpha).alias("significant")))
    return pl.concat(frames).select("delta", pl.exclude("delta"))
