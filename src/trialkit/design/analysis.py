"""The per-trial analysis of many simulated trials at once: stratified counts, CMH tests, MH risk differences,
the graphical multiplicity strategy, and their sums over replicates (what a chunk hands back).

Counts come from one ``bincount`` over (replicate, endpoint, stratum, arm, response) into (E, R, K, A, 2); each
active arm against placebo gives (E, R, K, 2, 2) tables (rows treatment/control, columns responder/non-responder)
for :func:`trialkit.stats.mh_test` (the CMH test the one-trial analysis uses, uncorrected as SAS) and
:func:`trialkit.stats.stratified_risk_difference` (MH estimate, Sato variance), both vectorized over the leading
axes. The two-sided CMH p-values go through the study's :class:`~trialkit.multiplicity.Strategy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trialkit import stats
from trialkit.design.simulator import Outcomes, analysis_levels, design_endpoints
from trialkit.study import Endpoint, Study


@dataclass(frozen=True)
class Layout:
    """How hypotheses map onto endpoints and arms, fixed for a study."""

    endpoints: list[str]  # E endpoint ids, in the simulator's order
    arms: list[str]  # A arm ids (study order)
    active: list[int]  # arm indices of the active arms
    placebo: int
    n_strata: int  # K analysis strata
    hypotheses: list[str]  # m graph hypotheses (ENDPOINT_ARM), graph order
    hyp_index: list[tuple[int, int]]  # (endpoint index, position in ``active``) per hypothesis
    weights: np.ndarray  # (m,) initial graph weights
    alpha: float
    claims: dict[str, list[str]]
    coprimary: dict[str, list[str]]  # active arm id -> its co-primary (or primary) hypotheses
    strategy: Any


def layout(study: Study, endpoints: list[Endpoint], n_strata: int) -> Layout:
    ep_ids = [e.id for e in endpoints]
    arm_ids = [a.id for a in study.arms]
    active = [arm_ids.index(a.id) for a in study.active_arms]
    act_ids = [arm_ids[i] for i in active]
    strategy = study.strategy()
    if strategy is not None:
        hyps = list(strategy.graph.names)
        weights = np.asarray(strategy.graph.weights, dtype=float)
        alpha, claims = float(strategy.alpha), dict(strategy.claims)
    else:  # no graph: every endpoint x dose at the full level, unadjusted
        hyps = [study.hypothesis(e, a) for e in ep_ids for a in act_ids]
        weights = np.ones(len(hyps))
        alpha = study.study.alpha if study.study.sides == 2 else 2 * study.study.alpha
        claims = {}
    idx = []
    for h in hyps:
        ep_id, arm_id = h.rsplit("_", 1)
        idx.append((ep_ids.index(ep_id), act_ids.index(arm_id)))
    prim = [e.id for e in endpoints if e.role in ("co-primary", "primary")] or [ep_ids[0]]
    coprimary = {a: [h for h in hyps if h.rsplit("_", 1)[1] == a and h.rsplit("_", 1)[0] in prim] for a in act_ids}
    return Layout(ep_ids, arm_ids, active, arm_ids.index(study.placebo.id), n_strata, hyps, idx, weights, alpha,
                  claims, coprimary, strategy)


_LAYOUTS: list[tuple[Study, Layout]] = []  # the last few studies' layouts (strong references: ids stay unique)


def study_layout(study: Study) -> Layout:
    """:func:`layout` of a study's design endpoints and analysis strata, kept for the last few studies: the graph
    inside caches its intersection weights, which the multiplicity test of every chunk then reuses."""
    for st, lay in _LAYOUTS:
        if st is study:
            return lay
    lay = layout(study, design_endpoints(study), int(np.prod(analysis_levels(study))))
    _LAYOUTS.append((study, lay))
    del _LAYOUTS[:-4]
    return lay


def stratified_counts(out: Outcomes, n: int, n_strata: int, n_arms: int) -> np.ndarray:
    """Counts (E, R, K, A, 2) of the first ``n`` patients of each trial; column 0 = responders."""
    e_, r, _ = out.resp.shape
    arm = out.arm[:, :n].astype(np.int64)
    cell = ((np.arange(r, dtype=np.int64)[:, None] * n_strata + out.stratum[:, :n]) * n_arms + arm) * 2
    size = r * n_strata * n_arms * 2
    res = np.empty((e_, r, n_strata, n_arms, 2))
    for i in range(e_):
        res[i] = np.bincount((cell + ~out.resp[i, :, :n]).ravel(), minlength=size).reshape(r, n_strata, n_arms, 2)
    return res


#: Sums a chunk hands back for each sample size, with their shapes (G = sample sizes, m hypotheses, ...).
SUM_KEYS = ("replicates", "rejected", "raw", "split", "claims", "coprimary", "all_coprimary", "any_rejected",
            "rd_sum", "rd_sq", "rate_sum", "rate_sq", "pooled")


def analyse(out: Outcomes, lay: Layout, n: int) -> dict[str, np.ndarray]:
    """Analyse the first ``n`` patients of every trial; return sums over the chunk's replicates."""
    counts = stratified_counts(out, n, lay.n_strata, len(lay.arms))
    r = counts.shape[1]
    tab = np.stack([counts[:, :, :, [a, lay.placebo], :] for a in lay.active], axis=1)  # (E, D, R, K, 2, 2)
    test = stats.mh_test(tab)
    rd = stats.stratified_risk_difference(tab, method="mh").estimate
    ei, di = zip(*lay.hyp_index, strict=True)
    p = np.asarray(test.pvalue)[list(ei), list(di)].T  # (R, m)
    p = np.where(np.isfinite(p), p, 1.0)  # no informative stratum: no evidence
    d = np.asarray(rd)[list(ei), list(di)].T
    d = np.where(np.isfinite(d), d, 0.0)
    if lay.strategy is not None:
        rejected = lay.strategy.test(p).rejected
    else:
        rejected = p <= lay.alpha
    names = lay.hypotheses
    claims = np.stack([rejected[:, [names.index(h) for h in hs]].all(-1) for hs in lay.claims.values()], -1) \
        if lay.claims else np.zeros((r, 0), dtype=bool)
    cop = np.stack([rejected[:, [names.index(h) for h in hs]].all(-1) if hs else np.zeros(r, dtype=bool)
                    for hs in lay.coprimary.values()], -1)
    e_, _, k_, a_, _ = counts.shape
    # sums over strata as one reduction over a contiguous (K, A x 2) block (several times faster than axis tuples)
    by_arm = counts.reshape(e_, r, k_, a_ * 2).sum(2).reshape(e_, r, a_, 2)
    arm_n = by_arm.sum(-1)  # (E, R, A)
    rate = np.divide(by_arm[..., 0], arm_n, out=np.zeros_like(arm_n), where=arm_n > 0)  # (E, R, A)
    return {
        "replicates": np.array(r, dtype=np.int64),
        "rejected": rejected.sum(0),
        "raw": (p <= lay.alpha).sum(0),
        "split": (p <= lay.weights * lay.alpha).sum(0),
        "claims": claims.sum(0),
        "coprimary": cop.sum(0),
        "all_coprimary": np.array(cop.all(-1).sum()),
        "any_rejected": np.array(rejected.any(-1).sum()),
        "rd_sum": d.sum(0), "rd_sq": (d * d).sum(0),
        "rate_sum": rate.sum(1), "rate_sq": (rate * rate).sum(1),
        "pooled": counts.reshape(e_, r, -1).sum(1).reshape(e_, k_, a_, 2),  # (E, K, A, 2)
    }


def analyse_grid(out: Outcomes, lay: Layout, ns: list[int]) -> dict[str, np.ndarray]:
    """:func:`analyse` at each sample size of ``ns`` (prefixes of the simulated trials), stacked on axis 0."""
    parts = [analyse(out, lay, n) for n in ns]
    return {k: np.stack([np.asarray(pt[k]) for pt in parts]) for k in SUM_KEYS}


def add(a: dict[str, np.ndarray] | None, b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sum two chunk results (integers exactly; floats in the order of the calls)."""
    if a is None:
        return {k: np.array(v, copy=True) for k, v in b.items()}
    return {k: a[k] + b[k] for k in a}
