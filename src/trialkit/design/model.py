"""The patient-level model, fused for the design simulator: responder status at the endpoint visits only.

Same model and rules as :func:`trialkit.simulate.prepare_lean` + :func:`trialkit.simulate.evolve` followed by
:func:`trialkit.calibrate.composite_responders` (recorded EASI as :func:`trialkit.scores.easi` gives it, the
response rule of :func:`trialkit.endpoints.criterion`): given the same noise, :func:`screen_baseline`,
:func:`trajectory`, :func:`recorded_easi` and :func:`iga_scores` return bit for bit what the one-trial code gives
(``tests/design/test_model.py`` compares them on common random numbers). What differs is only how the noise is
drawn (:func:`simulate_responders`):

* patients are processed in blocks of :data:`BLOCK` (a working set that stays in the CPU caches), arrays are laid
  out component-major (``(4 regions, B)``, ``(4 signs, 4 regions, B)``) so every operation runs on long
  contiguous rows, and sign scores are summed as exact small integers (half points);
* nothing an endpoint cannot use is drawn: no trajectory noise at baseline, rescue uniforms only at visits where
  rescue may start, and the EASI components and IGA noise of an endpoint visit only for the patients observed and
  not rescued at that visit (under the composite strategy all others are non-responders whatever their scores).
  These draws are independent of everything that decides who is observed, so drawing them for that subset only
  leaves the joint distribution of the outcomes unchanged; the baseline screening components are computed once
  and reused as the baseline of EASI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from trialkit.endpoints import criterion
from trialkit.scores import WEIGHTS_ADULT
from trialkit.simulate import SIGN_WEIGHTS, arm_vectors, lean_scores
from trialkit.study import Endpoint, Study

#: Patients per block: the sign noise of a block (16 x 4 bytes per patient, 1 MB) stays near the core's caches,
#: while a block is long enough that per-call overhead (and the GIL held between calls) stays small.
BLOCK = 16384


def _special(xp: Any) -> Any:
    if xp is np:
        return special
    from cupyx.scipy import special as sp

    return sp


@dataclass(frozen=True)
class Params:
    """Model constants of a study as arrays of the backend (float32 where the lean simulator computes in float32)."""

    weeks: np.ndarray  # (V,) int64, host
    g: Any  # (V,) placebo-onset curve
    f: Any  # (V,) drug-onset curve
    drug: Any  # (A,) per arm
    iga_effect: Any
    riga_strictness: Any
    dropout: Any
    rescue_visits: list[int]  # visits at which rescue may start
    jitter: int  # visit-day jitter drawn per patient (0: not needed, see prepare_lean)


def params(study: Study, xp: Any = np, dtype: type = np.float32) -> Params:
    m = study.model
    weeks = np.array(study.visit_weeks, dtype=np.int64)
    t = weeks.astype(float)
    g = xp.asarray((1.0 - np.exp(-t / m.placebo_onset_weeks)).astype(dtype))
    f = xp.asarray((1.0 - np.exp(-t / m.drug_onset_weeks)).astype(dtype))
    av = {k: xp.asarray(x.astype(dtype)) for k, x in arm_vectors(study).items()}
    v = weeks.size
    rescue_visits = [k for k in range(1, v) if weeks[k] >= m.rescue_from_week and k < v - 1]
    jit = m.visit_day_jitter
    jitter = jit if jit and 7 * int(np.diff(weeks).min()) <= 2 * jit else 0
    return Params(weeks, g, f, av["drug_effect"], av["iga_effect"], av["riga_strictness"], av["dropout"],
                  rescue_visits, jitter)


def recorded_easi(easi_lat: Any, prof_i: Any, prof_a: Any, vis_i: Any, vis_a: Any, sign: Any, xp: Any = np) -> Any:
    """Recorded EASI (float64, as :func:`trialkit.scores.easi` computes it) of ``m`` patients at one visit.

    ``easi_lat`` (m,) latent EASI; ``prof_*`` (4, m) the patients' regional pattern and ``vis_*`` (4, m) the
    visit's regional noise (intensity, area); ``sign`` (4 signs, 4 regions, m) sign noise, overwritten. The
    formulas are those of :func:`trialkit.simulate._signs_and_area`, with the same operation order.
    """
    dt = sign.dtype
    q = xp.clip(easi_lat / 72.0, 0.0, 1.0).astype(dt, copy=False)
    s = xp.sqrt(q)
    inten = (12.0 * s) * xp.exp(0.25 * prof_i + 0.10 * vis_i)  # (4, m)
    area = xp.clip(xp.rint((6.0 * s) * xp.exp(0.25 * prof_a + 0.10 * vis_a)), 0, 6)
    half = 2.0 * (inten / 4.0)
    y = sign
    y *= 0.15
    xp.exp(y, out=y)
    for j, w in enumerate(SIGN_WEIGHTS.astype(dt)):
        y[j] *= half * w
    xp.rint(y, out=y)
    xp.minimum(y, 6.0, out=y)  # half points, 0-6 (scores 0-3)
    ha = y.sum(axis=0)  # (4, m) region sums in half points: exact small integers
    ha *= area  # exact (<= 144); area 0 scores the region 0 whatever its signs
    region = xp.ascontiguousarray(ha.T, dtype=np.float64)  # (m, 4), the layout scores.easi reduces over
    return ((region * 0.5) * xp.asarray(WEIGHTS_ADULT)).sum(axis=-1)


def screen_baseline(study: Study, iga0: Any, u: Any, comp: list[Any],
                    redraw: Callable[[int], list[Any]], xp: Any = np) -> tuple[Any, Any]:
    """Latent baseline EASI and recorded baseline EASI (both (n,) float64) with screening failures redrawn.

    The rule of :func:`trialkit.simulate._baseline`: truncated log-normal by baseline vIGA-AD from the uniforms
    ``u`` (n,) float64; ``comp`` = [prof_i, prof_a, vis_i, vis_a, sign] at baseline (layout of
    :func:`recorded_easi`; the sign noise is overwritten); a patient whose recorded EASI is below the minimum
    is replaced by new draws ``redraw(k)`` = [u, prof_i, prof_a, vis_i, vis_a, sign] for the ``k`` failing
    ones (in place).
    """
    m = study.model
    sp = _special(xp)
    med = xp.asarray(np.array([m.baseline_easi_median.get(str(int(g)), m.baseline_easi_median.get("4", 30.0))
                               for g in range(5)]))
    mu = xp.log(med[iga0])
    sd = m.baseline_easi_log_sd
    lo = sp.ndtr((np.log(max(m.eligibility_min_easi, 1e-9)) - mu) / sd)
    hi = sp.ndtr((np.log(72.0) - mu) / sd)
    n = iga0.size
    todo = xp.arange(n)
    easi0 = xp.empty(n)
    rec0 = xp.empty(n)
    for i in range(200):
        uu = lo[todo] + u[todo] * (hi[todo] - lo[todo])
        e0 = xp.exp(mu[todo] + sd * sp.ndtri(xp.clip(uu, 1e-12, 1 - 1e-12)))
        easi0[todo] = e0
        # the first pass overwrites the sign noise: only redrawn patients are scored again
        rec = recorded_easi(e0, *(comp if i == 0 else [c[..., todo] for c in comp]), xp=xp)
        rec0[todo] = rec
        fail = rec < m.eligibility_min_easi
        if not bool(fail.any()):
            break
        todo = todo[fail]
        new = redraw(int(todo.size))
        u[todo] = new[0]
        for c, x in zip(comp, new[1:], strict=True):
            c[..., todo] = x
    return easi0, rec0


def trajectory(study: Study, p: Params, arms: Any, prior_bio: Any, b: Any, e: Any, drop_u: Any,
               rescue_u: Any, xp: Any = np) -> tuple[Any, Any, Any]:
    """Log EASI ratio at visits 1.. (V-1, n), rescue visit and discontinuation visit (n,) (-1: none).

    ``e`` and ``drop_u`` (V-1, n) are the noise of visits 1..; ``rescue_u`` (len(p.rescue_visits), n). The rule
    and operation order of :func:`trialkit.simulate.evolve` (at baseline the log ratio is 0).
    """
    m = study.model
    dt = e.dtype
    v = p.weeks.size
    mult = xp.where(prior_bio, m.prior_biologic_effect, 1.0).astype(dt, copy=False)
    eta = (p.drug[arms] * mult)[None, :] * p.f[1:, None]
    eta += (m.placebo_effect * p.g[1:])[:, None]
    xp.negative(eta, out=eta)
    eta += (m.patient_sd * b)[None, :] * p.g[1:, None]
    eta += m.visit_sd * e
    n = arms.size
    alive = xp.ones(n, dtype=bool)
    rescue_visit = xp.full(n, -1, dtype=np.int16)
    drop_visit = xp.full(n, -1, dtype=np.int16)
    p_drop = p.dropout[arms]
    for k in range(1, v):
        if k > 1:
            worse = eta[k - 2] > 0
            p_k = p_drop * xp.where(worse, m.dropout_worsening_multiplier, 1.0).astype(dt, copy=False)
        else:  # the log ratio is 0 at baseline: never worse
            p_k = p_drop
        drop = alive & (drop_u[k - 1] < p_k)
        drop_visit = xp.where(drop, k, drop_visit)
        alive &= ~drop
        eta[k - 1] -= m.rescue_effect * (rescue_visit >= 0)
        if k in p.rescue_visits:
            can = alive & (rescue_visit < 0)
            worse_than = xp.exp(eta[k - 1]) > m.rescue_if_easi_ratio_above
            start = can & worse_than & (rescue_u[p.rescue_visits.index(k)] < m.rescue_prob_per_visit)
            rescue_visit = xp.where(start, k, rescue_visit)
    return eta, rescue_visit, drop_visit


def counted(study: Study, p: Params, k: int, rescue_visit: Any, drop_visit: Any, jitter: Any,
            xp: Any = np) -> Any:
    """Patients (n,) bool whose visit ``k`` can count as a response: observed, and not rescued on or before the
    visit date when rescue counts as non-response (:func:`trialkit.calibrate.composite_responders`)."""
    v = p.weeks.size
    observed = k < xp.where(drop_visit >= 0, drop_visit, v)
    if study.intercurrent_events.rescue != "non-responder":
        return observed
    days = xp.asarray(7 * p.weeks[None, :] + 1) + jitter  # (1 or n, V)
    rv = rescue_visit.clip(0).astype(np.int64)
    if days.shape[0] == 1:
        rescue_day = xp.where(rescue_visit >= 0, days[0][rv] + 1, -1)
        visit_day = days[0, k]
    else:
        rescue_day = xp.where(rescue_visit >= 0, xp.take_along_axis(days, rv[:, None], 1)[:, 0] + 1, -1)
        visit_day = days[:, k]
    rescued = (rescue_day >= 0) & (rescue_day <= visit_day)
    return observed & ~rescued


def iga_scores(study: Study, p: Params, k: int, arms: Any, iga0: Any, easi0_u: Any, eta_k: Any, iga_k: Any,
               riga0_z: Any, riga_k: Any, xp: Any = np) -> tuple[Any, Any, Any, Any]:
    """vIGA-AD and rIGA at baseline and at visit ``k`` (> 0), each (m,) int64, as in
    :func:`trialkit.simulate.evolve` (the latent vIGA-AD at baseline is ``L0``)."""
    m = study.model
    dt = iga_k.dtype
    l0 = (iga0 + 0.45 * (2.0 * easi0_u - 1.0)).astype(dt, copy=False)
    lat = ((l0 + m.iga_per_log_easi * eta_k) - p.iga_effect[arms] * p.f[k]) + m.iga_visit_sd * iga_k
    viga = xp.clip(xp.floor(lat + 0.5), 0, 4).astype(np.int64)
    riga = xp.maximum(viga, xp.clip(xp.floor((lat + p.riga_strictness[arms]) + m.riga_visit_sd * riga_k + 0.5),
                                    0, 4).astype(np.int64))
    riga0 = xp.maximum(iga0, xp.clip(xp.floor(l0 + m.riga_visit_sd * riga0_z + 0.5), 0, 4).astype(np.int64))
    return iga0.astype(np.int64), viga, riga0, riga


def _as_host(a: Any) -> np.ndarray:
    return a if isinstance(a, np.ndarray) else (a.get() if hasattr(a, "get") else np.asarray(a))


def responders(endpoint: Endpoint, values: dict[str, tuple[Any, Any]]) -> np.ndarray:
    """The endpoint's response rule on (visit value, baseline value) of the counted patients (host, float)."""
    aval, base = values[endpoint.score]
    return criterion(endpoint, _as_host(aval).astype(float), _as_host(base).astype(float))


def simulate_responders(study: Study, endpoints: list[Endpoint], strata: Any, arms: Any, iga0: Any,
                        prior_bio: Any, rng: Any, xp: Any = np, dtype: type = np.float32,
                        block: int = BLOCK) -> np.ndarray:
    """Composite responder status (E, n) bool (host) of ``n`` randomized patients at each endpoint's visit."""
    p = params(study, xp, dtype)
    recorded = lean_scores(study)
    n = arms.size
    v = p.weeks.size
    visits = sorted({study.visit_weeks.index(e.visit_week) for e in endpoints})
    if visits[0] == 0:
        raise ValueError("endpoints at the baseline visit cannot be derived")
    resp = np.zeros((len(endpoints), n), dtype=bool)

    def z(*shape: int) -> Any:
        return rng.standard_normal(shape, dtype=dtype)

    def comp(k: int) -> list[Any]:
        return [z(4, k), z(4, k), z(4, k), z(4, k), z(4, 4, k)]

    for lo in range(0, n, block):
        hi = min(n, lo + block)
        nb = hi - lo
        a = arms[lo:hi]
        g0 = iga0[lo:hi]
        # baseline: latent EASI, regional pattern and the screening visit's components
        u = rng.random(nb)
        c0 = comp(nb)
        easi0, rec0 = screen_baseline(study, g0, u, c0, lambda k: [rng.random(k), *comp(k)], xp)
        prof_i, prof_a = c0[0], c0[1]
        # trajectory, rescue and discontinuation
        jitter = xp.zeros((1, v), dtype=np.int64)
        if p.jitter:
            jitter = rng.integers(-p.jitter, p.jitter + 1, (nb, v))
            jitter[:, 0] = 0
        eta, rescue_visit, drop_visit = trajectory(
            study, p, a, prior_bio[lo:hi], z(nb), z(v - 1, nb), rng.random((v - 1, nb), dtype=dtype),
            rng.random((len(p.rescue_visits), nb), dtype=dtype), xp)
        riga0_z = z(nb)  # the baseline rIGA's noise: one draw per patient, whatever the endpoint visits
        for k in visits:
            idx = xp.flatnonzero(counted(study, p, k, rescue_visit, drop_visit, jitter, xp))
            mk = int(idx.size)
            if mk == 0:
                continue
            eta_k = eta[k - 1][idx]
            easi_lat = xp.minimum(easi0[idx] * xp.exp(eta_k), 72.0)
            rec = recorded_easi(easi_lat, prof_i[:, idx], prof_a[:, idx], z(4, mk), z(4, mk), z(4, 4, mk), xp)
            viga0, viga, riga0, riga = iga_scores(study, p, k, a[idx], g0[idx], u[idx], eta_k, z(mk),
                                                  riga0_z[idx], z(mk), xp)
            outputs = ((rec, rec0[idx]), (viga, viga0), (riga, riga0))  # in the order of LEAN_OUTPUTS
            values = {sid: outputs[k] for sid, k in recorded.items()}
            rows = _as_host(idx) + lo
            for i, ep in enumerate(endpoints):
                if study.visit_weeks.index(ep.visit_week) == k:
                    resp[i, rows] = responders(ep, values)
    return resp
