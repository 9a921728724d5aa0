"""The per-trial analysis of many simulated trials at once: stratified counts, CMH tests, MH risk differences,
the graphical multiplicity strategy, and their sums over replicates (what a chunk hands back).

Each active arm against placebo gives stratified 2x2 tables (replicate, endpoint, dose, stratum, 2, 2) (rows
treatment/control, columns responder/non-responder), counted in one compiled pass per trial
(:func:`outcome_tables`; ``numpy.bincount`` when numba does not import, the same integers), for
:func:`trialkit.stats.mh_test` (the CMH test the one-trial analysis uses, uncorrected as SAS) and
:func:`trialkit.stats.mh_risk_difference` (the MH estimate of ``stratified_risk_difference(..., "mh")``), both
vectorized over the leading axes. The two-sided CMH p-values go through the study's
:class:`~trialkit.multiplicity.Strategy`.
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
    parts = {h: study.split_hypothesis(h) for h in hyps}
    for h in hyps:
        ep_id, arm_id = parts[h]
        idx.append((ep_ids.index(ep_id), act_ids.index(arm_id)))
    prim = [e.id for e in endpoints if e.role in ("co-primary", "primary")] or [ep_ids[0]]
    coprimary = {a: [h for h in hyps if parts[h][1] == a and parts[h][0] in prim] for a in act_ids}
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


def _tables_numpy(out: Outcomes, lay: Layout, ns: list[int]) -> np.ndarray:
    tabs = []
    for n in ns:
        counts = stratified_counts(out, n, lay.n_strata, len(lay.arms))  # (E, R, K, A, 2)
        tabs.append(np.stack([counts[:, :, :, [a, lay.placebo], :] for a in lay.active], axis=2)  # (E, R, D, ...)
                    .transpose(1, 0, 2, 3, 4, 5))
    return np.stack(tabs)


def outcome_tables(out: Outcomes, lay: Layout, ns: list[int], compiled: bool | None = None) -> np.ndarray:
    """Stratified 2x2 tables (G, R, E, D, K, 2, 2) of the first ``ns[g]`` patients of every trial: for each
    active arm ``d`` (in ``lay.active`` order) against placebo, rows (active, placebo), columns (responder,
    non-responder), K analysis strata. Counted by the compiled counter when numba imports (``compiled=None``),
    else by ``numpy.bincount``; both give the same integers."""
    if compiled is None:
        from trialkit.design.fast import numba_available

        compiled = numba_available()
    if not compiled:
        return _tables_numpy(out, lay, ns)
    from trialkit.design.fast import stratified_tables

    arm_d = np.full(len(lay.arms), -1, dtype=np.int64)
    arm_d[lay.active] = np.arange(len(lay.active))
    return stratified_tables(out.arm, out.stratum, out.resp, ns, arm_d, lay.n_strata)


#: Sums a chunk hands back for each sample size, with their shapes (G = sample sizes, m hypotheses, ...).
SUM_KEYS = ("replicates", "rejected", "raw", "split", "claims", "coprimary", "all_coprimary", "any_rejected",
            "rd_sum", "rd_sq", "rate_sum", "rate_sq", "pooled")


def analyse_tables(tab: np.ndarray, lay: Layout) -> dict[str, np.ndarray]:
    """Analyse the stratified tables (R, E, D, K, 2, 2) of a chunk's trials (:func:`outcome_tables`): CMH test and
    MH risk difference of every endpoint x dose, the multiplicity strategy; return sums over the replicates."""
    r = tab.shape[0]
    test = stats.mh_test(tab)
    rd = stats.mh_risk_difference(tab)
    ei, di = zip(*lay.hyp_index, strict=True)
    p = np.asarray(test.pvalue)[:, list(ei), list(di)]  # (R, m)
    p = np.where(np.isfinite(p), p, 1.0)  # no informative stratum: no evidence
    d = np.asarray(rd)[:, list(ei), list(di)]
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
    # per arm: the active arms' rows of their own tables, placebo's row of the first dose's table
    e_, k_, a_ = tab.shape[1], tab.shape[3], len(lay.arms)
    by_dose = np.einsum("redkij->redij", tab)  # (R, E, D, 2, 2) over strata (ndarray.sum(3) is 5x slower)
    by_arm = np.empty((r, e_, a_, 2))
    by_arm[:, :, lay.active] = by_dose[:, :, :, 0]
    by_arm[:, :, lay.placebo] = by_dose[:, :, 0, 1]
    arm_n = by_arm.sum(-1)  # (R, E, A)
    rate = np.divide(by_arm[..., 0], arm_n, out=np.zeros_like(arm_n), where=arm_n > 0)
    pooled_t = tab.sum(0)  # (E, D, K, 2, 2) over replicates
    pooled = np.empty((e_, k_, a_, 2))
    pooled[:, :, lay.active] = pooled_t[:, :, :, 0].transpose(0, 2, 1, 3)
    pooled[:, :, lay.placebo] = pooled_t[:, 0, :, 1]
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
        "rate_sum": rate.sum(0), "rate_sq": (rate * rate).sum(0),
        "pooled": pooled,  # (E, K, A, 2)
    }


def analyse(out: Outcomes, lay: Layout, n: int) -> dict[str, np.ndarray]:
    """Analyse the first ``n`` patients of every trial; return sums over the chunk's replicates."""
    return analyse_tables(outcome_tables(out, lay, [n])[0], lay)


def analyse_grid(out: Outcomes, lay: Layout, ns: list[int]) -> dict[str, np.ndarray]:
    """:func:`analyse` at each sample size of ``ns`` (prefixes of the simulated trials), stacked on axis 0."""
    parts = [analyse_tables(t, lay) for t in outcome_tables(out, lay, ns)]
    return {k: np.stack([np.asarray(pt[k]) for pt in parts]) for k in SUM_KEYS}


def add(a: dict[str, np.ndarray] | None, b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Sum two chunk results (integers exactly; floats in the order of the calls)."""
    if a is None:
        return {k: np.array(v, copy=True) for k, v in b.items()}
    return {k: a[k] + b[k] for k in a}
