"""Patient-level simulator: a latent disease model per patient over visits, producing what sites record.

Model (parameters in the study file's ``[model]`` table; ``t`` in weeks, ``a`` the patient's arm):

* Baseline EASI is log-normal given the baseline vIGA-AD stratum, truncated to the eligible range
  [``eligibility_min_easi``, 72]; patients whose *recorded* baseline EASI is below the minimum fail screening and
  are replaced by a new draw.
* Log EASI ratio to baseline::

      eta(t) = -(placebo_effect * g(t) + drug_effect[a] * m * f(t)) + patient_sd * b * g(t) + visit_sd * e(t)

  with ``g(t) = 1 - exp(-t / placebo_onset_weeks)``, ``f(t) = 1 - exp(-t / drug_onset_weeks)`` (slow onset, still
  rising at week 24), ``m = prior_biologic_effect`` for patients with prior biologic/JAK use (else 1), ``b`` and
  ``e`` standard normal. After rescue, ``eta`` drops by ``rescue_effect``.
* Rescue: from ``rescue_from_week``, a patient whose EASI ratio exceeds ``rescue_if_easi_ratio_above`` starts rescue
  therapy the day after a visit with probability ``rescue_prob_per_visit``.
* Discontinuation: per visit interval with probability ``dropout_prob_per_visit[a]``, times
  ``dropout_worsening_multiplier`` when EASI is above baseline. No data after discontinuation.
* Recorded EASI: four regions, each with an area percentage (scored 0-6 in bands) and four sign scores
  (0-3 in half points), generated around the latent EASI with a patient-specific regional pattern.
* vIGA-AD: latent ``L(t) = L0 + iga_per_log_easi * eta(t) - iga_effect[a] * f(t) + iga_visit_sd * e'(t)``,
  score = ``L`` rounded to 0-4; ``L0`` lies in the band of the baseline score, higher for more severe EASI.
* rIGA: ``max(vIGA-AD, round(L + riga_strictness[a] + riga_visit_sd * e''))``, so every rIGA 0/1 is a vIGA-AD 0/1.
* Worst pruritus NRS: daily integer scores 0-10 around a latent weekly level (baseline, placebo and drug
  improvement, a patient deviation and a weak link to skin), averaged over the 7 days before each visit.

All random draws are made up front (:class:`Noise`), independent of the model parameters, so that the calibration
sees common random numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import special

from trialkit import scores
from trialkit.randomize import draw_strata, permuted_blocks
from trialkit.study import Study

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

_SIGN_WEIGHTS = np.array([1.15, 1.05, 0.85, 0.95])  # erythema tends to score higher than excoriation
_AREA_LO = np.array([0, 1, 10, 30, 50, 70, 90])
_AREA_HI = np.array([0, 9, 29, 49, 69, 89, 100])
_DS_REASONS = ("LACK OF EFFICACY", "WITHDRAWAL BY SUBJECT", "ADVERSE EVENT", "LOST TO FOLLOW-UP")


@dataclass
class Noise:
    """Standard normal and uniform draws for ``n`` patients and ``V`` visits; parameter-free."""

    easi0_u: F64  # (n,)
    region: F64  # (n, 4, 2): patient's regional pattern (intensity, area)
    region_visit: F64  # (n, V, 4, 2)
    sign: F64  # (n, V, 4, 4)
    area_u: F64  # (n, V, 4)
    b: F64  # (n,)
    e: F64  # (n, V)
    iga: F64  # (n, V)
    iga0_u: F64  # (n,)
    riga: F64  # (n, V)
    rescue_u: F64  # (n, V)
    drop_u: F64  # (n, V)
    drop_frac: F64  # (n,)
    drop_reason_u: F64  # (n,)
    nrs0: F64  # (n,)
    nrs_b: F64  # (n,)
    nrs_daily: F64  # (n, V, 7)

    @classmethod
    def draw(cls, n: int, v: int, rng: np.random.Generator) -> Noise:
        z = rng.standard_normal
        u = rng.random
        return cls(
            easi0_u=u(n), region=z((n, 4, 2)), region_visit=z((n, v, 4, 2)), sign=z((n, v, 4, 4)),
            area_u=u((n, v, 4)), b=z(n), e=z((n, v)), iga=z((n, v)), iga0_u=u(n), riga=z((n, v)),
            rescue_u=u((n, v)), drop_u=u((n, v)), drop_frac=u(n), drop_reason_u=u(n), nrs0=z(n), nrs_b=z(n),
            nrs_daily=z((n, v, 7)),
        )


@dataclass
class Cohort:
    """Simulated patients in arrival order: design, demographics and recorded scores by visit."""

    weeks: I64  # (V,)
    arm: I64  # (n,) index into study.arms
    strata: I64  # (n, n_factors) level indices
    block: I64  # (n,)
    enroll_day: I64  # (n,) days after first_patient_date
    age: I64
    sex: NDArray[np.str_]
    race: NDArray[np.str_]
    country: NDArray[np.str_]
    site: NDArray[np.str_]
    visit_day: I64  # (n, V) study day of each visit (day 1 = first dose)
    observed: NDArray[np.bool_]  # (n, V)
    rescue_visit: I64  # (n,) visit index after which rescue started, -1 if none
    rescue_day: I64  # (n,) study day rescue started, -1 if none
    drop_visit: I64  # (n,) first visit index missed after discontinuation, -1 if completed
    drop_day: I64  # (n,) study day of discontinuation, -1 if completed
    drop_reason: NDArray[np.str_]  # (n,) '' if completed
    signs: F64  # (n, V, 4, 4)
    area_pct: F64  # (n, V, 4)
    viga: I64  # (n, V)
    riga: I64  # (n, V)
    nrs: F64  # (n, V) weekly mean of daily worst-itch scores
    easi_latent: F64  # (n, V)

    @property
    def n(self) -> int:
        return int(self.arm.size)

    def easi(self) -> F64:
        """Recorded EASI total (NaN where not observed)."""
        return scores.easi(self.signs, scores.area_score(self.area_pct), self.age[:, None])


def _arm_vectors(study: Study) -> dict[str, F64]:
    m = study.model
    get = lambda key: np.array([getattr(m.arms[a.id], key) for a in study.arms], dtype=float)  # noqa: E731
    return {
        "drug_effect": get("drug_effect"),
        "iga_effect": get("iga_effect"),
        "riga_strictness": get("riga_strictness"),
        "nrs_effect": get("nrs_effect"),
        "dropout": np.array([m.dropout_prob_per_visit[a.id] for a in study.arms], dtype=float),
    }


def _stratum_col(study: Study, sid: str, strata: I64) -> tuple[I64 | None, list[str]]:
    ids = [s.id for s in study.strata]
    if sid not in ids:
        return None, []
    k = ids.index(sid)
    return strata[:, k], study.strata[k].levels


def _components(easi_target: F64, noise: Noise, idx: slice | I64 = slice(None)) -> tuple[F64, F64]:
    """Sign scores (n, V, 4, 4) and area percentages (n, V, 4) scattered around the latent EASI."""
    q = np.clip(easi_target / 72.0, 0.0, 1.0)
    s = np.sqrt(q)[..., None]  # (n, V, 1)
    prof = noise.region[idx][:, None, :, :]  # (n, 1, 4, 2)
    vis = noise.region_visit[idx]
    inten = 12.0 * s * np.exp(0.25 * prof[..., 0] + 0.10 * vis[..., 0])
    area_score = np.clip(np.rint(6.0 * s * np.exp(0.25 * prof[..., 1] + 0.10 * vis[..., 1])), 0, 6)
    sign = np.rint(2.0 * (inten[..., None] / 4.0) * _SIGN_WEIGHTS * np.exp(0.15 * noise.sign[idx])) / 2.0
    sign = np.clip(sign, 0.0, 3.0)
    sign = np.where(area_score[..., None] > 0, sign, 0.0)
    a = area_score.astype(np.int64)
    lo, hi = _AREA_LO[a], _AREA_HI[a]
    pct = lo + np.floor(noise.area_u[idx] * (hi - lo + 1)).clip(max=hi - lo)
    return sign, pct.astype(float)


def _baseline(study: Study, iga0: I64, age: I64, noise: Noise, rng: np.random.Generator) -> F64:
    """Latent baseline EASI; patients failing screening (recorded EASI below the minimum) are redrawn."""
    m = study.model
    med = np.array([m.baseline_easi_median.get(str(int(g)), m.baseline_easi_median.get("4", 30.0))
                    for g in range(5)])
    mu = np.log(med[iga0])
    sd = m.baseline_easi_log_sd
    lo = special.ndtr((np.log(max(m.eligibility_min_easi, 1e-9)) - mu) / sd)
    hi = special.ndtr((np.log(72.0) - mu) / sd)
    todo = np.arange(iga0.size)
    easi0 = np.empty(iga0.size)
    for _ in range(200):
        uu = lo[todo] + noise.easi0_u[todo] * (hi[todo] - lo[todo])
        easi0[todo] = np.exp(mu[todo] + sd * special.ndtri(np.clip(uu, 1e-12, 1 - 1e-12)))
        sign, pct = _components(easi0[todo, None], noise, todo)
        rec = scores.easi(sign[:, :1], scores.area_score(pct[:, :1]), age[todo, None])[:, 0]
        fail = rec < m.eligibility_min_easi
        if not fail.any():
            break
        todo = todo[fail]
        # a replacement patient screens: new draws for the failing ones
        noise.easi0_u[todo] = rng.random(todo.size)
        noise.region[todo] = rng.standard_normal((todo.size, 4, 2))
        noise.region_visit[todo, 0] = rng.standard_normal((todo.size, 4, 2))
        noise.sign[todo, 0] = rng.standard_normal((todo.size, 4, 4))
        noise.area_u[todo, 0] = rng.random((todo.size, 4))
    return easi0


def _demographics(study: Study, region: I64 | None, n: int, rng: np.random.Generator) -> dict[str, NDArray]:
    age = np.clip(np.rint(rng.normal(37.0, 13.5, n)), 18, 80).astype(np.int64)
    sex = np.where(rng.random(n) < 0.47, "F", "M")
    if region is None:
        region = np.zeros(n, dtype=np.int64)
    races = np.array(["WHITE", "BLACK OR AFRICAN AMERICAN", "ASIAN", "OTHER"])
    # race mix per region (rows: North America, Europe, Asia Pacific, rest of world; others as the last row)
    mix = np.array([[0.62, 0.20, 0.12, 0.06], [0.88, 0.04, 0.06, 0.02], [0.08, 0.01, 0.89, 0.02],
                    [0.55, 0.20, 0.10, 0.15]])
    countries = [["USA", "CAN"], ["DEU", "POL", "ESP", "FRA", "GBR"], ["JPN", "KOR", "AUS", "TWN"],
                 ["MEX", "ARG", "ZAF"]]
    rrow = np.minimum(region, 3)
    race = races[(rng.random(n)[:, None] > np.cumsum(mix[rrow], axis=1)).sum(axis=1).clip(0, 3)]
    cu = rng.random(n)
    country = np.array([countries[r][int(c * len(countries[r]))] for r, c in zip(rrow, cu, strict=True)])
    site_no = (cu * 1000).astype(np.int64) % 12
    site = np.char.add(np.char.add((rrow + 1).astype(str), "0"), np.char.zfill(site_no.astype(str), 2))
    return {"age": age, "sex": sex, "race": race, "country": country, "site": site}


def simulate_cohort(study: Study, n: int | None = None, seed: int = 1, *, arm: int | None = None) -> Cohort:
    """Simulate ``n`` randomized patients (default: the study's ``n_randomized``) with the given seed.

    With ``arm`` set, every patient gets that arm (used by the calibration); otherwise stratified permuted blocks.
    """
    return evolve(study, prepare(study, n, seed, arm=arm))


@dataclass
class Prepared:
    """Everything about a cohort that does not depend on the arm-level model parameters."""

    weeks: I64
    arms: I64
    strata: I64
    block: I64
    enroll: I64
    demo: dict
    visit_day: I64
    iga0: I64
    easi0: F64
    prior_bio: NDArray[np.bool_]
    noise: Noise


def prepare(study: Study, n: int | None = None, seed: int = 1, *, arm: int | None = None) -> Prepared:
    """Randomize, draw demographics, baseline and all random numbers (the parameter-free part)."""
    n = study.study.n_randomized if n is None else int(n)
    rng = np.random.default_rng(seed)
    weeks = np.array(study.visit_weeks, dtype=np.int64)
    v = weeks.size
    strata = draw_strata(study, n, rng)
    if arm is None:
        arms, _, block = permuted_blocks(
            strata, [a.allocation for a in study.arms], study.randomization.block_multiple, rng
        )
    else:
        arms = np.full(n, arm, dtype=np.int64)
        block = np.zeros(n, dtype=np.int64)
    enroll = np.sort(rng.integers(0, study.study.enrollment_days, n))
    region, _ = _stratum_col(study, "REGION", strata)
    demo = _demographics(study, region, n, rng)
    jit = study.model.visit_day_jitter
    jitter = rng.integers(-jit, jit + 1, (n, v)) if jit else np.zeros((n, v), dtype=np.int64)
    jitter[:, 0] = 0
    noise = Noise.draw(n, v, rng)
    iga_col, iga_levels = _stratum_col(study, "BLIGA", strata)
    iga0 = (np.array([int(x) for x in iga_levels])[iga_col] if iga_col is not None
            else np.where(noise.iga0_u < 0.5, 3, 4)).astype(np.int64)
    easi0 = _baseline(study, iga0, demo["age"], noise, rng)
    pb_col, pb_levels = _stratum_col(study, "PRIORBIO", strata)
    prior_bio = (np.array([lv.upper() in ("Y", "YES") for lv in pb_levels])[pb_col] if pb_col is not None
                 else np.zeros(n, dtype=bool))
    visit_day = 7 * weeks[None, :] + 1 + jitter
    return Prepared(weeks, arms, strata, block, enroll, demo, visit_day, iga0, easi0, prior_bio, noise)


def evolve(study: Study, p: Prepared) -> Cohort:
    """The parameter-dependent part of the model: trajectories, intercurrent events and recorded scores."""
    weeks, arms, strata, block, enroll, demo = p.weeks, p.arms, p.strata, p.block, p.enroll, p.demo
    visit_day, iga0, easi0, prior_bio, noise = p.visit_day, p.iga0, p.easi0, p.prior_bio, p.noise
    m = study.model
    av = _arm_vectors(study)
    n, v = arms.size, weeks.size
    t = weeks.astype(float)
    g = 1.0 - np.exp(-t / m.placebo_onset_weeks)
    f = 1.0 - np.exp(-t / m.drug_onset_weeks)
    mult = np.where(prior_bio, m.prior_biologic_effect, 1.0)
    post = (t > 0).astype(float)
    eta = (-(m.placebo_effect * g[None, :] + (av["drug_effect"][arms] * mult)[:, None] * f[None, :])
           + m.patient_sd * noise.b[:, None] * g[None, :] + m.visit_sd * noise.e * post[None, :])

    alive = np.ones(n, dtype=bool)
    rescue_visit = np.full(n, -1, dtype=np.int64)
    drop_visit = np.full(n, -1, dtype=np.int64)
    p_drop = av["dropout"][arms]
    for k in range(1, v):
        worse = eta[:, k - 1] > 0
        p = p_drop * np.where(worse, m.dropout_worsening_multiplier, 1.0)
        drop = alive & (noise.drop_u[:, k] < p)
        drop_visit[drop] = k
        alive &= ~drop
        eta[:, k] -= m.rescue_effect * (rescue_visit >= 0)
        can = alive & (rescue_visit < 0) & (weeks[k] >= m.rescue_from_week) & (k < v - 1)
        worse_than = np.exp(eta[:, k]) > m.rescue_if_easi_ratio_above
        start = can & worse_than & (noise.rescue_u[:, k] < m.rescue_prob_per_visit)
        rescue_visit[start] = k
    observed = np.ones((n, v), dtype=bool)
    dropped = drop_visit >= 0
    observed[dropped] = np.arange(v)[None, :] < drop_visit[dropped, None]

    easi_lat = np.minimum(easi0[:, None] * np.exp(eta), 72.0)
    signs, pct = _components(easi_lat, noise)

    # vIGA-AD and rIGA
    l0 = iga0 + 0.45 * (2.0 * noise.easi0_u - 1.0)
    lat = (l0[:, None] + m.iga_per_log_easi * eta - (av["iga_effect"][arms])[:, None] * f[None, :]
           + m.iga_visit_sd * noise.iga * post[None, :])
    viga = np.clip(np.floor(lat + 0.5), 0, 4).astype(np.int64)
    viga[:, 0] = iga0
    lat_r = lat + av["riga_strictness"][arms][:, None] * post[None, :] + m.riga_visit_sd * noise.riga
    riga = np.maximum(viga, np.clip(np.floor(lat_r + 0.5), 0, 4).astype(np.int64))

    # worst pruritus NRS: daily integers, weekly mean
    nrs0 = np.clip(m.baseline_nrs_mean + m.baseline_nrs_sd * noise.nrs0, 4.0, 10.0)
    level = (nrs0[:, None] - (m.placebo_nrs_effect * g[None, :] + av["nrs_effect"][arms][:, None] * f[None, :])
             + m.nrs_patient_sd * noise.nrs_b[:, None] * g[None, :] + 0.6 * eta)
    daily = np.clip(np.rint(level[..., None] + m.nrs_daily_sd * noise.nrs_daily), 0, 10)
    nrs = daily.mean(axis=-1)

    rescue_day = np.where(rescue_visit >= 0, visit_day[np.arange(n), rescue_visit.clip(0)] + 1, -1)
    kk = drop_visit.clip(1)
    lo_day = visit_day[np.arange(n), kk - 1]
    hi_day = visit_day[np.arange(n), kk]
    drop_day = np.where(dropped, lo_day + 1 + np.floor(noise.drop_frac * np.maximum(hi_day - lo_day - 1, 1)), -1)
    reason_idx = np.where(eta[np.arange(n), kk - 1] > 0, np.where(noise.drop_reason_u < 0.6, 0, 1),
                          1 + (noise.drop_reason_u * 3).astype(np.int64).clip(0, 2))
    drop_reason = np.where(dropped, np.array(_DS_REASONS)[reason_idx], "")

    nan = ~observed
    return Cohort(
        weeks=weeks, arm=arms, strata=strata, block=block, enroll_day=enroll, age=demo["age"], sex=demo["sex"],
        race=demo["race"], country=demo["country"], site=demo["site"], visit_day=visit_day, observed=observed,
        rescue_visit=rescue_visit, rescue_day=rescue_day.astype(np.int64), drop_visit=drop_visit,
        drop_day=drop_day.astype(np.int64), drop_reason=drop_reason,
        signs=np.where(nan[..., None, None], np.nan, signs), area_pct=np.where(nan[..., None], np.nan, pct),
        viga=np.where(nan, -1, viga), riga=np.where(nan, -1, riga), nrs=np.where(nan, np.nan, nrs),
        easi_latent=easi_lat,
    )
