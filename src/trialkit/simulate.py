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

The design simulator (:mod:`trialkit.design`) runs this same model on many trials at once with a fused version
(:mod:`trialkit.design.model`) that computes only the endpoint visits. :func:`prepare_lean` + :func:`evolve` (many
patients, only the recorded visits the endpoints need) are the reference that fused model is tested against,
bit for bit on common random numbers (tests/design/test_model.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from trialkit import scores
from trialkit.randomize import draw_strata, permuted_blocks
from trialkit.study import Study

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]

SIGN_WEIGHTS = np.array([1.15, 1.05, 0.85, 0.95])  # erythema tends to score higher than excoriation
_AREA_LO = np.array([0, 1, 10, 30, 50, 70, 90])
_AREA_HI = np.array([0, 9, 29, 49, 69, 89, 100])
_DS_REASONS = ("LACK OF EFFICACY", "WITHDRAWAL BY SUBJECT", "ADVERSE EVENT", "LOST TO FOLLOW-UP")


@dataclass
class Noise:
    """Standard normal and uniform draws for ``n`` patients and ``V`` visits; parameter-free."""

    easi0_u: F64  # (n,)
    region: F64  # (n, 4, 2): patient's regional pattern (intensity, area)
    region_visit: F64  # (n, V, 4, 2)   (V = recorded visits in a lean draw)
    sign: F64  # (n, V, 4, 4)
    area_u: F64 | None  # (n, V, 4); None in a lean draw (area scores are kept, percentages not needed)
    b: F64  # (n,)
    e: F64  # (n, V)   (all visits, also in a lean draw)
    iga: F64  # (n, V)
    iga0_u: F64  # (n,)
    riga: F64  # (n, V)
    rescue_u: F64  # (n, V)   (all visits)
    drop_u: F64  # (n, V)   (all visits)
    drop_frac: F64 | None  # (n,)
    drop_reason_u: F64 | None  # (n,)
    nrs0: F64 | None  # (n,)
    nrs_b: F64 | None  # (n,)
    nrs_daily: F64 | None  # (n, V, 7)

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

    @classmethod
    def draw_lean(cls, n: int, v: int, n_record: int, rng: np.random.Generator,
                  dtype: type = np.float32) -> Noise:
        """Only what recorded EASI, vIGA-AD and rIGA at ``n_record`` visits need (the design simulator)."""
        z = lambda size: rng.standard_normal(size, dtype=dtype)  # noqa: E731
        u = lambda size: rng.random(size, dtype=dtype)  # noqa: E731
        r = n_record
        return cls(
            easi0_u=rng.random(n), region=z((n, 4, 2)), region_visit=z((n, r, 4, 2)), sign=z((n, r, 4, 4)),
            area_u=None, b=z(n), e=z((n, v)), iga=z((n, r)), iga0_u=u(n), riga=z((n, r)), rescue_u=u((n, v)),
            drop_u=u((n, v)), drop_frac=None, drop_reason_u=None, nrs0=None, nrs_b=None, nrs_daily=None,
        )


@dataclass
class Cohort:
    """Simulated patients in arrival order: design, demographics and recorded scores by visit."""

    weeks: I64  # (V,)
    arm: I64  # (n,) index into study.arms
    strata: I64  # (n, n_factors) level indices
    block: I64 | None  # (n,)
    enroll_day: I64 | None  # (n,) days after first_patient_date
    age: I64
    sex: NDArray[np.str_] | None  # demographics, dates, NRS and area percentages: None in a lean cohort
    race: NDArray[np.str_] | None
    country: NDArray[np.str_] | None
    site: NDArray[np.str_] | None
    visit_day: I64  # (n, V) study day of each visit (day 1 = first dose)
    observed: NDArray[np.bool_]  # (n, V)
    rescue_visit: I64  # (n,) visit index after which rescue started, -1 if none
    rescue_day: I64  # (n,) study day rescue started, -1 if none
    drop_visit: I64  # (n,) first visit index missed after discontinuation, -1 if completed
    drop_day: I64 | None  # (n,) study day of discontinuation, -1 if completed
    drop_reason: NDArray[np.str_] | None  # (n,) '' if completed
    signs: F64  # (n, V, 4, 4)
    area_pct: F64  # (n, V, 4)
    viga: I64  # (n, V)
    riga: I64  # (n, V)
    nrs: F64 | None  # (n, V) weekly mean of daily worst-itch scores
    easi_latent: F64  # (n, V)

    @property
    def n(self) -> int:
        return int(self.arm.size)

    def easi(self) -> F64:
        """Recorded EASI total (NaN where not observed)."""
        return scores.easi(self.signs, scores.area_score(self.area_pct), self.age[:, None])


def _xp(a: object) -> Any:
    """The array module of ``a``: numpy, or cupy for device arrays (the design simulator's GPU backend)."""
    if type(a).__module__.split(".")[0] == "cupy":
        import cupy

        return cupy
    return np


def _host(a: Any) -> np.ndarray:
    """``a`` as a numpy array (copied from the device for cupy arrays); the scoring functions are numpy code."""
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else a


def arm_vectors(study: Study) -> dict[str, F64]:
    m = study.model
    get = lambda key: np.array([getattr(m.arms[a.id], key) for a in study.arms], dtype=float)  # noqa: E731
    return {
        "drug_effect": get("drug_effect"),
        "iga_effect": get("iga_effect"),
        "riga_strictness": get("riga_strictness"),
        "nrs_effect": get("nrs_effect"),
        "dropout": np.array([m.dropout_prob_per_visit[a.id] for a in study.arms], dtype=float),
    }


def _stratum_col(study: Study, sid: str | None, strata: I64) -> tuple[I64 | None, list[str]]:
    """The level indices and levels of stratum ``sid`` (None, [] when the study has no such stratum)."""
    ids = [s.id for s in study.strata]
    if sid is None or sid not in ids:
        return None, []
    k = ids.index(sid)
    return strata[:, k], study.strata[k].levels


def _components(easi_target: F64, noise: Noise, idx: slice | I64 = slice(None),
                visits: slice = slice(None)) -> tuple[F64, F64]:
    """Sign scores (n, V, 4, 4) and area percentages (n, V, 4) scattered around the latent EASI."""
    sign, area_score = _signs_and_area(easi_target, noise, idx, visits)
    xp = _xp(sign)
    a = area_score.astype(np.int64)
    lo, hi = xp.asarray(_AREA_LO)[a], xp.asarray(_AREA_HI)[a]
    if noise.area_u is None:  # lean draw: the lower edge of the band, which scores the same area score
        return sign, lo.astype(float)
    pct = lo + np.floor(noise.area_u[idx][:, visits] * (hi - lo + 1)).clip(max=hi - lo)
    return sign, pct.astype(float)


def _signs_and_area(easi_target: F64, noise: Noise, idx: slice | I64 = slice(None),
                    visits: slice = slice(None)) -> tuple[F64, F64]:
    """Sign scores (n, V, 4, 4) and area scores 0-6 (n, V, 4) scattered around the latent EASI.

    ``idx`` selects patients and ``visits`` visits of the noise; the computation is elementwise, so a subset
    gives the same values as the full arrays.
    """
    xp = _xp(noise.sign)
    dt = noise.sign.dtype  # float64 for one trial (casts are no-ops); float32 in the design simulator
    q = xp.clip(easi_target / 72.0, 0.0, 1.0).astype(dt, copy=False)
    s = xp.sqrt(q)[..., None]  # (n, V, 1)
    prof = noise.region[idx][:, None, :, :]  # (n, 1, 4, 2)
    vis = noise.region_visit[idx, visits] if isinstance(idx, slice) else noise.region_visit[idx][:, visits]
    inten = 12.0 * s * xp.exp(0.25 * prof[..., 0] + 0.10 * vis[..., 0])
    area_score = xp.clip(xp.rint(6.0 * s * xp.exp(0.25 * prof[..., 1] + 0.10 * vis[..., 1])), 0, 6)
    weights = xp.asarray(SIGN_WEIGHTS, dtype=dt)
    zs = noise.sign[idx, visits] if isinstance(idx, slice) else noise.sign[idx][:, visits]
    sign = xp.rint(2.0 * (inten[..., None] / 4.0) * weights * xp.exp(0.15 * zs)) / 2.0
    sign = xp.clip(sign, 0.0, 3.0)
    sign = xp.where(area_score[..., None] > 0, sign, 0.0)
    return sign, area_score


def _baseline(study: Study, iga0: I64, age: I64, noise: Noise, rng: np.random.Generator) -> F64:
    """Latent baseline EASI; patients failing screening (recorded EASI below the minimum) are redrawn."""
    m = study.model
    xp = _xp(iga0)
    sp = special
    if xp is not np:
        from cupyx.scipy import special as sp
    med = xp.asarray(np.array([m.baseline_easi_median.get(str(int(g)), m.baseline_easi_median.get("4", 30.0))
                               for g in range(5)]))
    mu = xp.log(med[iga0])
    sd = m.baseline_easi_log_sd
    lo = sp.ndtr((np.log(max(m.eligibility_min_easi, 1e-9)) - mu) / sd)
    hi = sp.ndtr((np.log(72.0) - mu) / sd)
    todo = xp.arange(iga0.size)
    easi0 = xp.empty(iga0.size)
    first = slice(0, 1)  # the screening (baseline) visit
    for i in range(200):
        uu = lo[todo] + noise.easi0_u[todo] * (hi[todo] - lo[todo])
        easi0[todo] = xp.exp(mu[todo] + sd * sp.ndtri(xp.clip(uu, 1e-12, 1 - 1e-12)))
        sign, pct = _components(easi0[todo, None], noise, slice(None) if i == 0 else todo, first)
        rec = scores.easi(_host(sign), scores.area_score(_host(pct)), _host(age[todo, None]))[:, 0]
        fail = xp.asarray(rec < m.eligibility_min_easi)
        if not fail.any():
            break
        todo = todo[fail]
        # a replacement patient screens: new draws for the failing ones
        noise.easi0_u[todo] = rng.random(todo.size)
        noise.region[todo] = rng.standard_normal((todo.size, 4, 2))
        noise.region_visit[todo, 0] = rng.standard_normal((todo.size, 4, 2))
        noise.sign[todo, 0] = rng.standard_normal((todo.size, 4, 4))
        if noise.area_u is not None:
            noise.area_u[todo, 0] = rng.random((todo.size, 4))
    return easi0


def _demographics(study: Study, strata: I64, n: int, rng: np.random.Generator) -> dict[str, NDArray]:
    """Age, sex, race, country and site, consistent with the strata that are tied to patient data: a stratum cut
    from AGE gets ages within its band, a stratum mapped from COUNTRY gets countries of its level; race follows
    the study's race mix for the patient's region (``vocabulary.race_mix``)."""
    d = study.model_or_fail("simulation").demographics
    voc = study.vocabulary
    age = np.clip(np.rint(rng.normal(d.age_mean, d.age_sd, n)), d.age_min, d.age_max).astype(np.int64)
    sex = np.where(rng.random(n) < d.female, "F", "M")
    region, levels = _stratum_col(study, study.model.strata.region, strata)
    if region is None:
        region, levels = np.zeros(n, dtype=np.int64), ["default"]
    races = np.array(voc.races)
    uniform = [1.0 / races.size] * races.size
    mix = np.array([voc.race_mix.get(lv, voc.race_mix.get("default", uniform)) for lv in levels])
    race = races[(rng.random(n)[:, None] > np.cumsum(mix[region], axis=1)).sum(axis=1).clip(0, races.size - 1)]
    cu = rng.random(n)
    country = _countries(study, strata, region, levels, cu)
    site_no = (cu * 1000).astype(np.int64) % 12
    site = np.char.add(np.char.add((region + 1).astype(str), "0"), np.char.zfill(site_no.astype(str), 2))
    demo = {"age": age, "sex": sex, "race": race, "country": country, "site": site}
    for k, st in enumerate(study.strata):  # the simulated variable a stratum is taken from follows the stratum
        src = st.source
        if src is None:
            continue
        if src.cuts is not None and st.variable == "AGE":
            demo["age"] = _age_in_band(age, strata[:, k], src.cuts, d.age_min, d.age_max, rng)
        elif st.variable in ("SEX", "RACE") and src.cuts is None:
            key = st.variable.lower()
            values = [(src.map or {}).get(lv, [lv]) for lv in st.levels]
            u = rng.random(n)
            lev = strata[:, k]
            demo[key] = np.array([values[r][int(x * len(values[r]))] for r, x in zip(lev, u, strict=True)])
    return demo


def _countries(study: Study, strata: I64, region: I64, levels: list[str], u: F64) -> NDArray[np.str_]:
    """Each patient's country: uniform among the countries that the COUNTRY-mapped stratum gives the patient's
    level (``strata[].source.map``), else among ``vocabulary.countries``."""
    mapped = [k for k, st in enumerate(study.strata)
              if st.source is not None and st.source.map is not None and st.variable == "COUNTRY"]
    if not mapped:
        pool = np.array(study.vocabulary.countries)
        return pool[(u * pool.size).astype(np.int64).clip(0, pool.size - 1)]
    k = mapped[0]
    st = study.strata[k]
    lists = [st.source.map.get(lv) or study.vocabulary.countries for lv in st.levels]
    lev = strata[:, k]
    return np.array([lists[r][int(c * len(lists[r]))] for r, c in zip(lev, u, strict=True)])


def _age_in_band(age: I64, level: I64, cuts: list[float], lo: int, hi: int, rng: np.random.Generator) -> I64:
    """Ages redrawn uniformly within each patient's band ``[cuts[k-1], cuts[k])`` (clipped to [lo, hi])."""
    edges = np.r_[lo, np.asarray(cuts, dtype=float), hi + 1]
    a, b = np.ceil(edges[level]), np.ceil(edges[level + 1]) - 1
    inside = (age >= a) & (age <= b)
    draw = a + np.floor(rng.random(age.size) * np.maximum(b - a + 1, 1))
    return np.where(inside, age, draw).astype(np.int64)


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
    record: I64 | None = None  # lean: indices of the visits recorded (baseline first); None = all, full outputs


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
    demo = _demographics(study, strata, n, rng)
    jit = study.model.visit_day_jitter
    jitter = rng.integers(-jit, jit + 1, (n, v)) if jit else np.zeros((n, v), dtype=np.int64)
    jitter[:, 0] = 0
    noise = Noise.draw(n, v, rng)
    return _finish_prepare(study, weeks, arms, strata, block, enroll, demo, jitter, noise, rng)


def _finish_prepare(study: Study, weeks: I64, arms: I64, strata: I64, block: I64 | None, enroll: I64 | None,
                    demo: dict, jitter: I64, noise: Noise, rng: np.random.Generator,
                    record: I64 | None = None) -> Prepared:
    iga0, prior_bio = model_strata(study, strata, noise.iga0_u)
    easi0 = _baseline(study, iga0, demo["age"], noise, rng)
    visit_day = 7 * weeks[None, :] + 1 + jitter
    return Prepared(weeks, arms, strata, block, enroll, demo, visit_day, iga0, easi0, prior_bio, noise, record)


def model_strata(study: Study, strata: I64, iga0_u: F64) -> tuple[I64, NDArray[np.bool_]]:
    """What the model reads from the strata (``[model.strata]``): each patient's baseline global assessment
    (the severity stratum's level; without one, 3 or 4 with equal probability from ``iga0_u``) and prior therapy
    (the prior-therapy stratum at ``prior_therapy_level``)."""
    xp = _xp(strata)
    roles = study.model_or_fail("simulation").strata
    iga_col, iga_levels = _stratum_col(study, roles.severity, strata)
    iga0 = (xp.asarray(np.array([int(x) for x in iga_levels]))[iga_col] if iga_col is not None
            else xp.where(iga0_u < 0.5, 3, 4)).astype(np.int64)
    pb_col, pb_levels = _stratum_col(study, roles.prior_therapy, strata)
    prior = (xp.asarray(np.array([lv == roles.prior_therapy_level for lv in pb_levels]))[pb_col]
             if pb_col is not None else xp.zeros(strata.shape[0], dtype=bool))
    return iga0, prior


#: The model's outputs a lean (design) simulation records, in the order the design kernels index them
#: (the itch NRS needs the daily diary, which the design does not simulate).
LEAN_OUTPUTS = ("composite", "global_assessment", "revised_global_assessment")


def lean_scores(study: Study) -> dict[str, int]:
    """Study score id -> index of the model output (:data:`LEAN_OUTPUTS`) it is recorded from."""
    roles = study.model_or_fail("simulation").scores
    return {getattr(roles, r): k for k, r in enumerate(LEAN_OUTPUTS) if getattr(roles, r) is not None}


#: Ages of the simulated patients lie in 18-80 (:func:`_demographics`); EASI only uses age for the child weights
#: (< 8 years), so a lean cohort scores everyone as an adult without drawing ages.
_ADULT_AGE = 18


def prepare_lean(study: Study, strata: I64, arms: I64, rng: np.random.Generator, record_weeks: list[int],
                 dtype: type = np.float32) -> Prepared:
    """The parameter-free part for many patients at once (the design simulator), given their strata and arms.

    Draws only what the recorded EASI, vIGA-AD and rIGA at ``record_weeks`` (baseline first) need. Visit-day
    jitter is skipped when it cannot change which visits follow the start of rescue (visits more than
    ``2 * visit_day_jitter`` days apart), the only use of visit days in the responder derivation.
    """
    xp = _xp(arms)
    weeks = xp.asarray(np.array(study.visit_weeks, dtype=np.int64))
    n, v = arms.size, weeks.size
    if record_weeks[0] != 0:
        raise ValueError("the first recorded visit must be the baseline")
    record = xp.asarray(np.array([study.visit_weeks.index(w) for w in record_weeks], dtype=np.int64))
    jit = study.model.visit_day_jitter
    if jit and 7 * int(np.diff(study.visit_weeks).min()) <= 2 * jit:
        jitter = rng.integers(-jit, jit + 1, (n, v))
        jitter[:, 0] = 0
    else:
        jitter = xp.zeros((1, v), dtype=np.int64)
    noise = Noise.draw_lean(n, v, record.size, rng, dtype=dtype)
    demo = {"age": xp.full(n, _ADULT_AGE, dtype=np.int64)}
    return _finish_prepare(study, weeks, arms, strata, None, None, demo, jitter, noise, rng, record)


def evolve(study: Study, p: Prepared) -> Cohort:
    """The parameter-dependent part of the model: trajectories, intercurrent events and recorded scores.

    For a lean :class:`Prepared` (:func:`prepare_lean`) only the visits ``p.record`` are recorded, in the noise's
    float type, and the outputs the responder derivation does not use (NRS, dates, reasons) are left None;
    ``rescue_visit`` and ``drop_visit`` still index the full visit schedule.
    """
    weeks, arms, strata, block, enroll, demo = p.weeks, p.arms, p.strata, p.block, p.enroll, p.demo
    visit_day, iga0, easi0, prior_bio, noise = p.visit_day, p.iga0, p.easi0, p.prior_bio, p.noise
    lean = p.record is not None
    rec: slice | I64 = slice(None) if p.record is None else p.record
    dt = noise.e.dtype  # float64 for one trial (casts below are then no-ops); float32 in the design simulator
    xp = _xp(noise.e)  # numpy; cupy on the design simulator's GPU backend
    m = study.model
    av = {k: xp.asarray(x.astype(dt, copy=False)) for k, x in arm_vectors(study).items()}
    n, v = arms.size, weeks.size
    t = weeks.astype(float)
    g = (1.0 - xp.exp(-t / m.placebo_onset_weeks)).astype(dt, copy=False)
    f = (1.0 - xp.exp(-t / m.drug_onset_weeks)).astype(dt, copy=False)
    mult = xp.where(prior_bio, m.prior_biologic_effect, 1.0).astype(dt, copy=False)
    post = (t > 0).astype(dt)
    eta = (-(m.placebo_effect * g[None, :] + (av["drug_effect"][arms] * mult)[:, None] * f[None, :])
           + m.patient_sd * noise.b[:, None] * g[None, :] + m.visit_sd * noise.e * post[None, :])

    alive = xp.ones(n, dtype=bool)
    rescue_visit = xp.full(n, -1, dtype=np.int64)
    drop_visit = xp.full(n, -1, dtype=np.int64)
    p_drop = av["dropout"][arms]
    for k in range(1, v):
        worse = eta[:, k - 1] > 0
        p_k = p_drop * xp.where(worse, m.dropout_worsening_multiplier, 1.0).astype(dt, copy=False)
        drop = alive & (noise.drop_u[:, k] < p_k)
        drop_visit[drop] = k
        alive &= ~drop
        eta[:, k] -= m.rescue_effect * (rescue_visit >= 0)
        can = alive & (rescue_visit < 0) & (weeks[k] >= m.rescue_from_week) & (k < v - 1)
        worse_than = xp.exp(eta[:, k]) > m.rescue_if_easi_ratio_above
        start = can & worse_than & (noise.rescue_u[:, k] < m.rescue_prob_per_visit)
        rescue_visit[start] = k
    dropped = drop_visit >= 0
    if lean:  # same rule, without boolean-mask scatter (costly on long patient axes)
        observed = xp.arange(v)[None, :] < xp.where(dropped, drop_visit, v)[:, None]
    else:
        observed = np.ones((n, v), dtype=bool)
        observed[dropped] = np.arange(v)[None, :] < drop_visit[dropped, None]

    eta_r = eta[:, rec]
    easi_lat = xp.minimum(easi0[:, None] * xp.exp(eta_r), 72.0)
    signs, pct = _components(easi_lat, noise)

    # vIGA-AD and rIGA
    l0 = (iga0 + 0.45 * (2.0 * noise.easi0_u - 1.0)).astype(dt, copy=False)
    lat = (l0[:, None] + m.iga_per_log_easi * eta_r - (av["iga_effect"][arms])[:, None] * f[None, rec]
           + m.iga_visit_sd * noise.iga * post[None, rec])
    viga = xp.clip(xp.floor(lat + 0.5), 0, 4).astype(np.int64)
    viga[:, 0] = iga0
    lat_r = lat + av["riga_strictness"][arms][:, None] * post[None, rec] + m.riga_visit_sd * noise.riga
    riga = xp.maximum(viga, xp.clip(xp.floor(lat_r + 0.5), 0, 4).astype(np.int64))
    if lean:
        return _lean_cohort(p, observed[:, rec], rescue_visit, drop_visit, signs, pct, viga, riga, easi_lat)

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


def _lean_cohort(p: Prepared, observed: NDArray[np.bool_], rescue_visit: I64, drop_visit: I64, signs: F64,
                 pct: F64, viga: I64, riga: I64, easi_lat: F64) -> Cohort:
    """The recorded visits of a lean cohort, with missing data marked as in the full cohort."""
    assert p.record is not None
    xp = _xp(signs)
    n = p.arms.size
    visit_day = p.visit_day[:, p.record]
    full_days = p.visit_day if p.visit_day.shape[0] == n else xp.broadcast_to(p.visit_day, (n, p.weeks.size))
    rescue_day = xp.where(rescue_visit >= 0, xp.take_along_axis(full_days, rescue_visit.clip(0)[:, None], 1)[:, 0]
                          + 1, -1).astype(np.int64)
    nan = ~observed
    return Cohort(
        weeks=p.weeks[p.record], arm=p.arms, strata=p.strata, block=None, enroll_day=None, age=p.demo["age"],
        sex=None, race=None, country=None, site=None, visit_day=visit_day, observed=observed,
        rescue_visit=rescue_visit, rescue_day=rescue_day, drop_visit=drop_visit, drop_day=None, drop_reason=None,
        signs=xp.where(nan[..., None, None], np.nan, signs), area_pct=xp.where(nan[..., None], np.nan, pct),
        viga=xp.where(nan, -1, viga), riga=xp.where(nan, -1, riga), nrs=None, easi_latent=easi_lat,
    )
