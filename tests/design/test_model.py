"""The design simulator's fused model (trialkit.design.model) against the one-trial code on common random numbers:
screening, trajectories, intercurrent events, recorded EASI, vIGA-AD/rIGA and composite responders must be
identical, bit for bit, to prepare_lean + evolve + composite_responders given the same noise."""

import copy
from pathlib import Path

import numpy as np
import pytest

from trialkit.calibrate import composite_responders
from trialkit.design import model
from trialkit.design.simulator import design_endpoints
from trialkit.simulate import evolve, prepare_lean
from trialkit.study import load_study

STUDY = load_study(Path(__file__).resolve().parents[2] / "studies" / "ignite.toml")


def _t(a):  # reference layout (n, 4, ...) -> the fused model's component-major layout
    return np.ascontiguousarray(np.moveaxis(a, 0, -1))


@pytest.mark.parametrize("scenario", ["as_is", "rescue_heavy"])
def test_fused_model_matches_one_trial_code(scenario):
    s = STUDY
    if scenario == "rescue_heavy":  # many rescues and dropouts, both jitter-free visit days
        mdl = s.model.model_copy(update={"rescue_prob_per_visit": 0.6, "rescue_if_easi_ratio_above": 0.5,
                                         "dropout_worsening_multiplier": 8.0})
        s = s.model_copy(update={"model": mdl})
    n = 6000
    rng0 = np.random.default_rng(5)
    strata = np.stack([rng0.integers(0, len(f.levels), n) for f in s.strata], axis=1)
    arms = rng0.integers(0, len(s.arms), n)
    eps = design_endpoints(s)
    weeks = [0, 24]
    k_all = s.visit_weeks.index(24)

    rng = np.random.Generator(np.random.PCG64DXSM(11))
    twin = copy.deepcopy(rng)
    prep = prepare_lean(s, strata, arms, rng, weeks)  # draws the lean noise, then screens (redraws) with rng
    cohort = evolve(s, prep)

    # the same initial noise from the twin generator, in the fused model's layout
    nz = type(prep.noise).draw_lean(n, len(s.visit_weeks), len(weeks), twin)
    u = nz.easi0_u.copy()
    comp = [_t(nz.region[..., 0]), _t(nz.region[..., 1]), _t(nz.region_visit[:, 0, :, 0]),
            _t(nz.region_visit[:, 0, :, 1]), np.ascontiguousarray(nz.sign[:, 0].transpose(2, 1, 0))]

    redrawn = []

    def redraw(k):  # the reference's redraw order: easi0_u, region, region_visit[:, 0], sign[:, 0]
        redrawn.append(k)
        uu = twin.random(k)
        reg = twin.standard_normal((k, 4, 2))
        rv = twin.standard_normal((k, 4, 2))
        sg = twin.standard_normal((k, 4, 4))
        return [uu, _t(reg[..., 0]), _t(reg[..., 1]), _t(rv[..., 0]), _t(rv[..., 1]), sg.transpose(2, 1, 0)]

    easi0, rec0 = model.screen_baseline(s, prep.iga0, u, comp, redraw)
    assert redrawn and redrawn[0] > 0.02 * n  # screening failures were redrawn
    assert np.array_equal(easi0, prep.easi0) and np.array_equal(u, prep.noise.easi0_u)
    assert np.array_equal(comp[0], _t(prep.noise.region[..., 0]))
    easi_ref = cohort.easi()
    assert np.array_equal(rec0, easi_ref[:, 0])
    assert (rec0 >= s.model.eligibility_min_easi).all()

    p = model.params(s)
    eta, rescue_visit, drop_visit = model.trajectory(
        s, p, arms, prep.prior_bio, prep.noise.b, np.ascontiguousarray(prep.noise.e[:, 1:].T),
        np.ascontiguousarray(prep.noise.drop_u[:, 1:].T),
        np.ascontiguousarray(prep.noise.rescue_u[:, p.rescue_visits].T))
    assert np.array_equal(rescue_visit, cohort.rescue_visit) and np.array_equal(drop_visit, cohort.drop_visit)
    if scenario == "rescue_heavy":
        assert (rescue_visit >= 0).mean() > 0.2 and (drop_visit >= 0).mean() > 0.05
    eta_k = eta[k_all - 1]
    easi_lat = np.minimum(easi0 * np.exp(eta_k), 72.0)
    assert np.array_equal(easi_lat, cohort.easi_latent[:, 1])

    ok = model.counted(s, p, k_all, rescue_visit, drop_visit, np.zeros((1, len(s.visit_weeks)), dtype=np.int64))
    rescued = (cohort.rescue_day >= 0) & (cohort.rescue_day <= cohort.visit_day[:, 1])
    assert np.array_equal(ok, cohort.observed[:, 1] & ~rescued)

    sign = np.ascontiguousarray(prep.noise.sign[:, 1].transpose(2, 1, 0))
    rec = model.recorded_easi(easi_lat, comp[0], comp[1], _t(prep.noise.region_visit[:, 1, :, 0]),
                              _t(prep.noise.region_visit[:, 1, :, 1]), sign)
    obs = cohort.observed[:, 1]
    assert np.array_equal(rec[obs], easi_ref[obs, 1])
    viga0, viga, riga0, riga = model.iga_scores(s, p, k_all, arms, prep.iga0, prep.noise.easi0_u, eta_k,
                                                prep.noise.iga[:, 1], prep.noise.riga[:, 0], prep.noise.riga[:, 1])
    assert np.array_equal(viga0, cohort.viga[:, 0]) and np.array_equal(riga0, cohort.riga[:, 0])
    assert np.array_equal(viga[obs], cohort.viga[obs, 1]) and np.array_equal(riga[obs], cohort.riga[obs, 1])

    values = {"EASI": (rec[ok], rec0[ok]), "VIGA": (viga[ok], viga0[ok]), "RIGA": (riga[ok], riga0[ok])}
    for ep in eps:
        fast = np.zeros(n, dtype=bool)
        fast[ok] = model.responders(ep, values)
        ref = composite_responders(s, cohort, ep)[:, 1]
        assert np.array_equal(fast, ref), ep.id
        assert 0.02 < ref.mean() < 0.98  # not a vacuous comparison


def test_baseline_riga_is_drawn_once_per_patient(monkeypatch):
    """With endpoints at two visits, a patient counted at both has the same baseline rIGA noise at both (as the
    one-trial simulator, which draws the baseline rIGA once per patient), and different patients different noise."""
    from trialkit.design.backend import array_backend
    from trialkit.design.simulator import simulate_outcomes

    base = design_endpoints(STUDY)
    eps = [*base, *(e.model_copy(update={"id": e.id + "W16", "visit_week": 16}) for e in base)]
    seen: list[np.ndarray] = []
    real = model.iga_scores

    def spy(study, p, k, arms, iga0, easi0_u, eta_k, iga_k, riga0_z, riga_k, xp=np):
        seen.append((k, np.asarray(easi0_u).copy(), np.asarray(riga0_z).copy()))
        return real(study, p, k, arms, iga0, easi0_u, eta_k, iga_k, riga0_z, riga_k, xp)

    monkeypatch.setattr(model, "iga_scores", spy)
    simulate_outcomes(STUDY, 400, 3, np.random.SeedSequence(8), array_backend(), eps)
    visits = sorted({k for k, _, _ in seen})
    assert len(visits) == 2
    by_visit = {k: {} for k in visits}
    for k, u, z in seen:  # a patient's easi0_u identifies it (continuous, distinct)
        by_visit[k].update(zip(u.tolist(), z.tolist(), strict=True))
    both = set(by_visit[visits[0]]) & set(by_visit[visits[1]])
    assert len(both) > 500
    assert all(by_visit[visits[0]][u] == by_visit[visits[1]][u] for u in both)
    assert len({by_visit[visits[0]][u] for u in both}) == len(both)
