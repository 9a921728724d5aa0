"""A compiled (numba) kernel of the design simulator: the model of :mod:`trialkit.design.model`, in SIMD lanes.

The same formulas and distributions as the fused numpy model (and hence as :func:`trialkit.simulate.prepare_lean`
+ :func:`trialkit.simulate.evolve` + :func:`trialkit.calibrate.composite_responders`), including strata drawn from
their prevalences and stratified permuted blocks per replicate (:mod:`trialkit.design.randomization`). What differs
is how the randomness is produced and a few exact rewrites, so the results are equal in distribution, not bit for
bit (``tests/design/test_fast.py`` compares the two statistically):

* patients are simulated 32 at a time, side by side in SIMD lanes (the loops over lanes compile to AVX-512 or
  AVX2 vector code); each replicate trial has one xoroshiro128++ stream (Blackman & Vigna 2021) seeded from the
  chunk's :class:`numpy.random.SeedSequence`, for strata, randomization and rare draws, and each lane its own
  xoroshiro128++ stream seeded from it by splitmix64 (the seeding Blackman & Vigna recommend); patients
  ``p, p + 32, ...`` of a trial share a lane;
* the lanes' normals come from a 1024-layer ziggurat (Marsaglia & Tsang 2000; tables built as numpy builds its
  256-layer ones, edge and layer area solved for 1024 layers), two 32-bit candidates per 64-bit output (10 bits
  layer, 1 sign, 21 magnitude); the 0.43 % of candidates outside the rectangles are flagged in a bit mask per
  lane and finished one by one afterwards (wedge test or tail) with fresh draws from the trial's stream, which
  keeps the vector loop free of branches and scalar stores; the rare scalar paths (screening failures, the
  rejection of a baseline normal outside the eligible range) use the 256-layer ziggurat with numpy's tables;
  bounded integers by Lemire's multiply-shift (bias < 2**-32 per draw);
* a patient's stratum cell (all factors at once: they are independent) from one uniform, by a lookup table of the
  cumulative cell probabilities (:func:`_cell_tables`), instead of one uniform per factor;
* the truncated log-normal baseline EASI by rejection of the normal outside the eligible range (instead of the
  inverse CDF of a uniform), with ``u = (Phi(z) - Phi(lo)) / (Phi(hi) - Phi(lo))`` recovered for the latent vIGA-AD
  (Phi by Marsaglia's series, which needs no library call and so vectorizes; within 2e-15 of ``scipy.special.ndtr``);
* rounded sign and area scores as threshold counts on the log scale: ``rint(c * exp(x)) >= m`` exactly when
  ``log(c) + x >= log(m - 1/2)`` (ties have probability zero), and the latent EASI is carried on the log scale
  (``log EASI = mu + sd z`` at baseline, ``+ eta`` later; ``q = min(EASI / 72, 1)`` as ``min(log EASI - log 72,
  0)``), so a visit needs no logarithm and no exponential;
* lanes draw every number whether or not the patient still needs it (after discontinuation, at an endpoint visit
  the patient cannot count at): those draws are independent of the outcome, so the distribution is unchanged.

Arithmetic is in float64 (the numpy model computes in float32) except the recorded-EASI threshold counts (float32),
compiled with floating-point licences that allow reassociation and fused multiply-add; this moves rounding
boundaries by about 1e-7 relative, far below Monte Carlo error, and results are reproducible on a given machine. The
kernel releases the GIL (the engine runs chunks in threads as for numpy); :func:`simulate_chunk` with
``parallel=True`` instead spreads one chunk's replicates over the cores (``numba.prange``); both give identical
numbers.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np

from trialkit.errors import TrialkitError
from trialkit.scores import WEIGHTS_ADULT
from trialkit.simulate import SIGN_WEIGHTS, arm_vectors, lean_scores
from trialkit.study import Endpoint, Study

_KINDS = {"pct_reduction": 0, "score_response": 1, "reduction": 2}


def numba_available() -> bool:
    """Whether numba imports."""
    try:
        import numba  # noqa: F401
    except Exception:  # noqa: BLE001 - any import failure means "no numba"
        return False
    return True


def _ziggurat_tables(layers: int = 256, r: float = 3.6541528853610088, v: float = 0.00492867323399
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ki (uint64), wi, fi of the normal ziggurat with ``layers`` layers for 52-bit mantissas (numpy's construction;
    Marsaglia & Tsang 2000): ``r`` is the base layer's edge and ``v`` the area of each layer."""
    m1 = 2.0**52
    dn = tn = r
    top = layers - 1
    ki = np.zeros(layers, dtype=np.uint64)
    wi = np.zeros(layers)
    fi = np.zeros(layers)
    q = v / math.exp(-0.5 * dn * dn)
    ki[0] = np.uint64((dn / q) * m1)
    ki[1] = 0
    wi[0] = q / m1
    wi[top] = dn / m1
    fi[0] = 1.0
    fi[top] = math.exp(-0.5 * dn * dn)
    for i in range(top - 1, 0, -1):
        dn = math.sqrt(-2.0 * math.log(v / dn + math.exp(-0.5 * dn * dn)))
        ki[i + 1] = np.uint64((dn / tn) * m1)
        tn = dn
        fi[i] = math.exp(-0.5 * dn * dn)
        wi[i] = dn / m1
    return ki, wi, fi


ZIG_R = 3.6541528853610088
KI, WI, FI = _ziggurat_tables()
#: The 1024-layer ziggurat of the lanes (fewer candidates fall outside the rectangles: about 0.4 % instead of
#: 1.5 %); its edge and layer area solve Marsaglia & Tsang's equations for 1024 layers (``r f(r) + tail(r) = v``,
#: top layer ``x_1 (1 - f(x_1)) = v``), computed with scipy's brentq to 1e-15.
ZIG_R1024 = 4.038849846109504
KI1024, WI1024, FI1024 = _ziggurat_tables(1024, ZIG_R1024, 0.0012263246463530893)
#: log(m - 1/2), m = 1..6: ``rint(v) >= m`` iff ``log(v) >= LOG_HALF_STEPS[m - 1]``.
LOG_HALF_STEPS = np.log(np.arange(1, 7) - 0.5)
LOG_SIGN_W = np.log(SIGN_WEIGHTS)
W_REGION = np.asarray(WEIGHTS_ADULT, dtype=float)


def _cell_tables(prevalences: list[np.ndarray], n_pseudo: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A patient's stratum cell from one uniform ``u``: cells in mixed-radix order of the factors (first slowest;
    then a pseudo-factor of ``n_pseudo`` equally likely levels, fastest); the cell is the number of cumulative
    cell probabilities at or below ``u``. With ``NB`` bins of [0, 1) each holding at most one distinct threshold,
    that count is ``lut[b] + add[b] * (u >= thr[b])`` for ``b = floor(u NB)``: exact, table reads instead of a
    search, so a loop over lanes vectorizes (``add`` > 1 where cells of probability zero share a threshold). The
    factors are independent, so the joint cell has the distribution of one uniform per factor."""
    p = np.ones(1)
    for pr in [*prevalences, np.full(n_pseudo, 1.0 / n_pseudo)]:
        p = np.outer(p, np.asarray(pr, float) / np.sum(pr)).ravel()
    thresholds = np.cumsum(p)[:-1]
    values, mult = np.unique(thresholds, return_counts=True)
    nb = 1024
    while np.any(np.diff(np.floor(values * nb)) == 0) and nb < 2**20:
        nb *= 2
    if np.any(np.diff(np.floor(values * nb)) == 0):
        raise TrialkitError("stratum cell probabilities too close together for the compiled design kernel",
                            variable="strata.prevalence", fix="keep every stratum cell's probability above about 1e-6, "
                            "or use --backend numpy")
    lut = np.searchsorted(thresholds, np.arange(nb) / nb, side="right").astype(np.int64)
    thr = np.full(nb, 2.0)
    add = np.zeros(nb, dtype=np.int64)
    inside = values * nb != np.floor(values * nb)  # thresholds strictly inside a bin
    thr[np.floor(values[inside] * nb).astype(np.int64)] = values[inside]
    add[np.floor(values[inside] * nb).astype(np.int64)] = mult[inside]
    return lut, thr, add


def study_arrays(study: Study, endpoints: list[Endpoint]) -> dict[str, Any]:
    """Everything the kernel needs from a study, as plain arrays and numbers."""
    m = study.model
    weeks = np.array(study.visit_weeks, dtype=np.int64)
    v = weeks.size
    t = weeks.astype(float)
    av = arm_vectors(study)
    rescue_at = np.array([k >= 1 and weeks[k] >= m.rescue_from_week and k < v - 1 for k in range(v)])
    jit = m.visit_day_jitter
    jitter = jit if jit and 7 * int(np.diff(weeks).min()) <= 2 * jit else 0
    f_n = len(study.strata)
    lmax = max([len(s.levels) for s in study.strata] or [1])
    cdf = np.ones((max(f_n, 1), lmax))
    n_lev = np.ones(max(f_n, 1), dtype=np.int64)
    for j, s in enumerate(study.strata):
        p = np.asarray(s.prevalence, dtype=float)
        cdf[j, : len(p)] = np.cumsum(p / p.sum())
        cdf[j, len(p) - 1] = 1.0
        n_lev[j] = len(p)
    ids = [s.id for s in study.strata]
    iga_fac, iga_map = -1, np.zeros(lmax, dtype=np.int64)
    roles = m.strata
    if roles.severity in ids:
        iga_fac = ids.index(roles.severity)
        for i, lv in enumerate(study.strata[iga_fac].levels):
            iga_map[i] = int(lv)
    pb_fac, pb_map = -1, np.zeros(lmax, dtype=np.bool_)
    if roles.prior_therapy in ids:
        pb_fac = ids.index(roles.prior_therapy)
        for i, lv in enumerate(study.strata[pb_fac].levels):
            pb_map[i] = lv == roles.prior_therapy_level
    med = np.array([m.baseline_easi_median.get(str(g), m.baseline_easi_median.get("4", 30.0)) for g in range(5)])
    mu = np.log(med)
    sd = m.baseline_easi_log_sd
    zlo = (np.log(max(m.eligibility_min_easi, 1e-9)) - mu) / sd
    zhi = (np.log(72.0) - mu) / sd
    from scipy import special

    base = np.repeat(np.arange(len(study.arms), dtype=np.int8),
                     np.asarray([a.allocation for a in study.arms]) * study.randomization.block_multiple)
    e_visit = np.array([study.visit_weeks.index(e.visit_week) for e in endpoints], dtype=np.int64)
    if e_visit.min() == 0:
        raise ValueError("endpoints at the baseline visit cannot be derived")
    e_score = np.array([lean_scores(study)[e.score] for e in endpoints], dtype=np.int64)
    e_kind = np.array([_KINDS[e.rule.kind] for e in endpoints], dtype=np.int64)
    e_a = np.array([getattr(e.rule, "threshold", getattr(e.rule, "max_score", 0.0)) for e in endpoints], float)
    e_b = np.array([getattr(e.rule, "min_reduction", getattr(e.rule, "min_baseline", 0.0)) for e in endpoints],
                   float)
    amul = np.zeros(max(f_n, 1), dtype=np.int64)  # analysis stratum: mixed radix of stratify_by, first slowest
    step = 1
    for sid in reversed(study.analysis.stratify_by):
        amul[ids.index(sid)] = step
        step *= len(study.strata[ids.index(sid)].levels)
    # a patient's cell from one uniform (vIGA-AD 3 or 4 with equal odds, as a pseudo-factor, if not a stratum)
    n_pseudo = 1 if iga_fac >= 0 else 2
    lut, thr, add = _cell_tables([np.asarray(s.prevalence, float) for s in study.strata], n_pseudo)
    levels = np.indices([*(len(s.levels) for s in study.strata), n_pseudo]).reshape(f_n + 1, -1).T  # (J, F + 1)
    radix = np.array([np.prod(n_lev[j + 1:f_n]) for j in range(f_n)], dtype=np.int64)
    sc = np.array([m.prior_biologic_effect, m.placebo_effect, m.patient_sd, m.visit_sd,
                   m.dropout_worsening_multiplier, math.log(m.rescue_if_easi_ratio_above), m.rescue_prob_per_visit,
                   m.rescue_effect, m.iga_per_log_easi, m.iga_visit_sd, m.riga_visit_sd, m.eligibility_min_easi, sd,
                   float(study.intercurrent_events.rescue == "non-responder")])
    return dict(
        weeks=weeks, g=1.0 - np.exp(-t / m.placebo_onset_weeks), f=1.0 - np.exp(-t / m.drug_onset_weeks),
        drug=av["drug_effect"], iga_eff=av["iga_effect"], riga_str=av["riga_strictness"], dropout=av["dropout"],
        rescue_at=rescue_at, jitter=int(jitter),
        # the strata one factor at a time: what earlier kernels took (benchmarks/kernel_ab.py times them)
        cdf=cdf, n_lev=n_lev, n_fac=f_n, iga_fac=iga_fac, iga_map=iga_map, pb_fac=pb_fac, pb_map=pb_map, amul=amul,
        mu=mu, zlo=zlo, zhi=zhi, plo=special.ndtr(zlo),
        phi=special.ndtr(zhi), base=base, e_visit=e_visit, e_score=e_score, e_kind=e_kind, e_a=e_a, e_b=e_b,
        sc=sc, c_lut=lut, c_thr=thr, c_add=add,
        c_rand=(levels[:, :f_n] @ radix).astype(np.int64),  # randomization cell (all factors, first slowest)
        c_astr=(levels[:, :f_n] @ amul[:f_n]).astype(np.int64),  # analysis stratum
        c_iga0=(iga_map[levels[:, iga_fac]] if iga_fac >= 0 else 3 + levels[:, -1]).astype(np.int64),
        c_prior=(pb_map[levels[:, pb_fac]] if pb_fac >= 0 else np.zeros(len(levels))).astype(np.bool_),
        n_rcells=int(np.prod(n_lev[:f_n])),
    )


_ARRAYS: list[tuple[Study, tuple[str, ...], dict[str, Any]]] = []  # the last few studies' arrays (strong refs)


def cached_study_arrays(study: Study, endpoints: list[Endpoint]) -> dict[str, Any]:
    """:func:`study_arrays`, kept for the last few studies (the engine asks for them once per chunk)."""
    key = tuple(e.id for e in endpoints)
    for st, k, d in _ARRAYS:
        if st is study and k == key:
            return d
    d = study_arrays(study, endpoints)
    _ARRAYS.append((study, key, d))
    del _ARRAYS[:-4]
    return d


_ORDER = ("weeks", "g", "f", "drug", "iga_eff", "riga_str", "dropout", "rescue_at", "jitter", "c_lut", "c_thr",
          "c_add", "c_rand", "c_astr", "c_iga0", "c_prior", "n_rcells", "mu", "zlo", "zhi", "plo", "phi", "base",
          "e_visit", "e_score", "e_kind", "e_a", "e_b", "sc")


@lru_cache(maxsize=1)
def _kernels() -> Any:
    """The compiled kernels (imported on first use: numba compiles or loads them from its cache)."""
    from trialkit.design import _kernel

    return _kernel


def _seeds(seed: np.random.SeedSequence, k: int) -> np.ndarray:
    """(k, 2) uint64: each replicate's key, the state of its xoroshiro128++ stream (its lanes are seeded from it)."""
    st = seed.generate_state(2 * k, np.uint64).reshape(k, 2)
    st[st == 0] = 1  # xoroshiro's state must not be all zero
    return st


def simulate_chunk(study: Study, endpoints: list[Endpoint], n: int, replicates: int,
                   seed: np.random.SeedSequence, parallel: bool = False, arrays: dict[str, Any] | None = None,
                   aux: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arms (R, n) int8, analysis strata (R, n) int16 (the mixed-radix index of the ``analysis.stratify_by``
    factors' levels, first factor slowest) and composite responder flags (E, R n) bool of ``replicates`` trials
    of ``n`` patients; a replicate's numbers depend only on the seed and its position in the chunk.
    ``parallel=True`` uses numba's thread pool: do not call it from several threads at once.

    ``aux`` (R n, 3) float, if given, receives each patient's recorded baseline EASI, rescue visit and
    discontinuation visit (-1: none; both followed only up to the last endpoint visit, and a discontinuation is
    not looked for after a rescue that already makes the patient a non-responder)."""
    kern = _kernels()
    d = cached_study_arrays(study, endpoints) if arrays is None else arrays
    r = int(replicates)
    arm = np.empty((r, n), dtype=np.int8)
    stratum = np.empty((r, n), dtype=np.int16)
    resp = np.zeros((len(endpoints), r * n), dtype=np.bool_)
    aux = np.zeros((0, 3)) if aux is None else aux
    run = kern.run_parallel if parallel else kern.run_serial
    run(r, int(n), _seeds(seed, r), arm, stratum, resp, aux, *(d[name] for name in _ORDER))
    return arm, stratum, resp


def stratified_tables(arm: np.ndarray, stratum: np.ndarray, resp: np.ndarray, ns: list[int], arm_d: np.ndarray,
                      n_strata: int) -> np.ndarray:
    """Stratified 2x2 tables (G, R, E, D, K, 2, 2) of the first ``ns[g]`` patients of each trial, counted by compiled
    code (``_kernel.count_tables``): ``arm`` and ``stratum`` (R, n) integer codes, ``resp`` (E, R, n) bool,
    ``arm_d`` each arm's position among the active arms (-1: placebo)."""
    ends = np.array(sorted({int(x) for x in ns}), dtype=np.int64)
    if ends.size == 0 or ends[0] < 1 or ends[-1] > arm.shape[1]:
        raise ValueError("sample sizes must be between 1 and the number of patients per trial")
    n_dose = int((arm_d >= 0).sum())
    tab = np.empty((ends.size, arm.shape[0], resp.shape[0], n_dose, int(n_strata), 2, 2))
    _kernels().count_tables(arm, stratum, resp, ends, arm_d, tab)
    order = np.searchsorted(ends, np.asarray(ns, dtype=np.int64))
    return tab if np.array_equal(order, np.arange(ends.size)) else tab[order]


def standard_normals(seed: int, size: int) -> np.ndarray:
    """``size`` standard normals from the kernel's generator (xoroshiro128++ and ziggurat), for testing."""
    out = np.empty(int(size))
    _kernels().normals(_seeds(np.random.SeedSequence(seed), 1)[0], out)
    return out


def lane_normals(seed: int, blocks: int) -> np.ndarray:
    """``blocks`` x 32 x lanes standard normals from the kernel's vectorized lane generator (1024-layer ziggurat,
    rare candidates finished from the scalar stream), flattened, for testing."""
    kern = _kernels()
    out = np.empty((int(blocks), 32, kern.LANES))
    kern.lane_sample(_seeds(np.random.SeedSequence(seed), 1)[0], out)
    return out.ravel()
