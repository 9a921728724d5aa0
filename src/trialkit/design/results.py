"""Operating characteristics from the engine's totals: power, probability of success, rates, Monte Carlo SEs,
type I error, and the analytic power beside the simulated one.

Monte Carlo standard errors: a rejection rate p over R replicates has SE sqrt(p (1 - p) / R); a mean over
replicates (responder rate, risk difference) has SE sd / sqrt(R).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trialkit.design.engine import EngineRun
from trialkit.design.power import power_from_pooled


def _rate(k: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    p = k / r
    return p, np.sqrt(p * (1 - p) / r)


def _mean(s: np.ndarray, sq: np.ndarray, r: int) -> tuple[np.ndarray, np.ndarray]:
    mean = s / r
    var = np.maximum(sq / r - mean * mean, 0.0) * r / max(r - 1, 1)
    return mean, np.sqrt(var / r)


def summarize(run: EngineRun, n: int) -> dict[str, Any]:
    """Operating characteristics at sample size ``n`` (one of ``run.ns``) plus the curve over ``run.ns``."""
    lay, t = run.layout, run.totals
    g = run.ns.index(n)
    r = int(t["replicates"][g])
    hyps = lay.hypotheses
    act_ids = [lay.arms[i] for i in lay.active]

    def by_h(x: np.ndarray) -> dict[str, float]:
        return {h: float(v) for h, v in zip(hyps, x, strict=True)}

    power, se = _rate(t["rejected"][g], r)
    raw, raw_se = _rate(t["raw"][g], r)
    split, split_se = _rate(t["split"][g], r)
    pos, pos_se = _rate(t["coprimary"][g], r)
    claims, claims_se = _rate(t["claims"][g], r)
    fwer, fwer_se = _rate(t["any_rejected"][g], r)
    rd, rd_se = _mean(t["rd_sum"][g], t["rd_sq"][g], r)
    rates, rates_se = _mean(t["rate_sum"][g], t["rate_sq"][g], r)
    pooled = t["pooled"][-1].astype(float)  # (E, K, A, 2) at the largest n: most patients for the rates
    analytic = np.empty(len(hyps))
    analytic_split = np.full(len(hyps), np.nan)
    for j, (e, d) in enumerate(lay.hyp_index):
        arm = lay.active[d]
        analytic[j] = power_from_pooled(pooled[e], n, arm, lay.placebo, lay.alpha)
        if lay.weights[j] > 0:
            analytic_split[j] = power_from_pooled(pooled[e], n, arm, lay.placebo, lay.weights[j] * lay.alpha)
    curve = []
    for gi, ng in enumerate(run.ns):
        rg = int(t["replicates"][gi])
        pw, _ = _rate(t["rejected"][gi], rg)
        ps, ps_se = _rate(t["coprimary"][gi], rg)
        an = [float(power_from_pooled(pooled[e], ng, lay.active[d], lay.placebo, lay.alpha))
              for e, d in lay.hyp_index]
        curve.append({"n": ng, "power": by_h(pw), "prob_success": dict(zip(act_ids, ps.tolist(), strict=True)),
                      "prob_success_mc_se": dict(zip(act_ids, ps_se.tolist(), strict=True)),
                      "analytic_raw_power": by_h(np.asarray(an))})
    return {
        "n": n, "replicates": r, "alpha": lay.alpha,
        "power": by_h(power), "mc_se": by_h(se),
        "raw_power": by_h(raw), "raw_mc_se": by_h(raw_se),
        "analytic_raw_power": by_h(analytic),
        "initial_weight": by_h(lay.weights),
        "split_power": {h: float(v) for h, v, w in zip(hyps, split, lay.weights, strict=True) if w > 0},
        "split_mc_se": {h: float(v) for h, v, w in zip(hyps, split_se, lay.weights, strict=True) if w > 0},
        "analytic_split_power": {h: float(v) for h, v in zip(hyps, analytic_split, strict=True) if np.isfinite(v)},
        "prob_success": dict(zip(act_ids, pos.tolist(), strict=True)),
        "prob_success_mc_se": dict(zip(act_ids, pos_se.tolist(), strict=True)),
        "coprimary_hypotheses": lay.coprimary,
        "claims": dict(zip(lay.claims, claims.tolist(), strict=True)),
        "claims_mc_se": dict(zip(lay.claims, claims_se.tolist(), strict=True)),
        "fwer": float(fwer), "fwer_mc_se": float(fwer_se),
        "mean_risk_difference": by_h(rd), "mean_risk_difference_mc_se": by_h(rd_se),
        "responder_rates": {e: dict(zip(lay.arms, rates[i].tolist(), strict=True))
                            for i, e in enumerate(lay.endpoints)},
        "responder_rates_mc_se": {e: dict(zip(lay.arms, rates_se[i].tolist(), strict=True))
                                  for i, e in enumerate(lay.endpoints)},
        "curve": curve,
    }
