"""The compiled (numba) design kernel against the fused numpy model: equal in distribution (its own random streams),
reproducible per seed whatever the threads and chunking, and the engine's statistics on top of it."""

from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

pytest.importorskip("numba")

from trialkit.design import engine, fast, model  # noqa: E402
from trialkit.design.backend import array_backend  # noqa: E402
from trialkit.design.randomization import cell_index, draw_strata, permuted_blocks  # noqa: E402
from trialkit.design.results import summarize  # noqa: E402
from trialkit.design.run import scenario_study  # noqa: E402
from trialkit.design.simulator import design_endpoints, simulate_outcomes, simulate_outcomes_numba  # noqa: E402
from trialkit.simulate import _stratum_col  # noqa: E402
from trialkit.study import load_study  # noqa: E402

STUDY = load_study(Path(__file__).resolve().parents[2] / "studies" / "ignite.toml")
N = STUDY.study.n_randomized
REPS = 260  # 260 x 769 = 199,940 patients per side


def test_kernel_normals_are_standard_normal():
    z = fast.standard_normals(3, 400_000)
    assert sps.kstest(z, "norm").pvalue > 1e-3
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and abs(z.var() - 1) < 4 * np.sqrt(2 / z.size)
    tail = np.mean(np.abs(z) > 3.6541528853610088)  # the ziggurat's tail region
    p = 2 * sps.norm.sf(3.6541528853610088)
    assert abs(tail - p) < 5 * np.sqrt(p / z.size)


def test_kernel_lane_normals_are_standard_normal():
    """The vectorized lane generator: a 1024-layer ziggurat (its own tables, edge 4.0388...) whose rare
    candidates (wedges and tail) are finished one by one; its distribution as a whole, and in the tail and the
    wedges that only the rare path produces."""
    z = fast.lane_normals(5, 40_000)  # 40,960,000 normals
    sub = z[::40]
    assert sps.kstest(sub, "norm").pvalue > 1e-3
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and abs(z.var() - 1) < 4 * np.sqrt(2 / z.size)
    for edge in (2.0, 3.0, 4.038849846109504, 4.5):  # two-sided tail frequencies, the last two from the tail path
        p = 2 * sps.norm.sf(edge)
        got = np.mean(np.abs(z) > edge)
        assert abs(got - p) < 5 * np.sqrt(p / z.size), (edge, got, p)
    # fine bins: a wrong wedge test or table would distort the density between the layers' edges
    counts, edges = np.histogram(z, bins=np.linspace(-4, 4, 401))
    expect = z.size * np.diff(sps.norm.cdf(edges))
    chi2 = ((counts - expect) ** 2 / expect).sum()
    assert sps.chi2.sf(chi2, counts.size - 1) > 1e-4
    wi, fi = fast.WI1024, fast.FI1024  # the table: the base layer ends at the edge, f at 0 is 1, f decreasing
    assert np.isclose(wi[-1] * 2.0**52, 4.038849846109504) and fi[0] == 1.0 and np.all(np.diff(fi[1:]) < 0)



def test_kernel_normal_cdf_and_exp_match_scipy_and_numpy():
    """The call-free normal CDF of the kernel (Marsaglia's series within |z| <= 4, erfc beyond), which gives the
    baseline's position within the eligible range, and its exponential, against scipy's ``ndtr`` and ``np.exp``."""
    from numba import njit
    from scipy import special

    from trialkit.design import _kernel as k

    z = np.concatenate([np.linspace(-k.PHI_Z, k.PHI_Z, 32 * 4001), [0.0, -1e-300, 1e-12, -k.PHI_Z, k.PHI_Z]])
    z = np.concatenate([z, np.zeros(-z.size % 32)])
    got = z.copy()
    for i in range(0, z.size, 32):
        k.phi_lanes(got[i:i + 32])
    assert np.abs(got - special.ndtr(z)).max() < 2e-15

    @njit
    def scalar(f, x):
        out = np.empty_like(x)
        for i in range(x.size):
            out[i] = f(x[i])
        return out

    wide = np.array([-8.0, -5.0, -4.0000001, 4.0000001, 6.0, 9.0, -37.5])
    assert np.allclose(scalar(k.phi_cdf, wide), special.ndtr(wide), rtol=1e-13, atol=0)
    x = np.concatenate([-np.geomspace(1e-300, 700, 20001), np.linspace(-50, 50, 2001)])
    assert np.abs(scalar(k.exp_small, x) / np.exp(x) - 1).max() < 5e-14

def _numpy_side(s, seed):
    """The fused numpy model's baseline, trajectory and intercurrent events for REPS trials (its own draws)."""
    rng = np.random.Generator(np.random.SFC64(seed))
    n = REPS * N
    strata = draw_strata(s, n, rng)
    lv = [len(f.levels) for f in s.strata]
    arms = permuted_blocks(cell_index(strata.reshape(REPS, N, -1), lv), int(np.prod(lv)),
                           [a.allocation for a in s.arms], s.randomization.block_multiple, rng).ravel()
    col, levels = _stratum_col(s, "BLIGA", strata)
    iga0 = np.array([int(x) for x in levels])[col].astype(np.int64)
    pcol, plev = _stratum_col(s, "PRIORBIO", strata)
    prior = np.array([x == "Y" for x in plev])[pcol]
    p = model.params(s)
    z = lambda *sh: rng.standard_normal(sh, dtype=np.float32)  # noqa: E731
    comp = lambda k: [z(4, k), z(4, k), z(4, k), z(4, k), z(4, 4, k)]  # noqa: E731
    _, rec0 = model.screen_baseline(s, iga0, rng.random(n), comp(n), lambda k: [rng.random(k), *comp(k)])
    v = p.weeks.size
    _, rescue, drop = model.trajectory(s, p, arms, prior, z(n), z(v - 1, n), rng.random((v - 1, n), dtype=np.float32),
                                       rng.random((len(p.rescue_visits), n), dtype=np.float32))
    return arms, rec0, rescue, drop


@pytest.mark.parametrize("scenario", ["published", "rescue_heavy"])
def test_kernel_matches_numpy_model_in_distribution(scenario):
    s = scenario_study(STUDY, "published")
    if scenario == "rescue_heavy":  # many rescues and dropouts
        mdl = s.model.model_copy(update={"rescue_prob_per_visit": 0.6, "rescue_if_easi_ratio_above": 0.5,
                                         "dropout_worsening_multiplier": 8.0})
        s = s.model_copy(update={"model": mdl})
    eps = design_endpoints(s)
    a = simulate_outcomes(s, N, REPS, np.random.SeedSequence(21), array_backend(), eps)
    b = simulate_outcomes_numba(s, N, REPS, np.random.SeedSequence(22), eps)
    n_arms = len(s.arms)
    # randomization: the same 3:2:2 shares (permuted blocks) and stratum prevalences
    for x in (a, b):
        share = np.bincount(x.arm.ravel(), minlength=n_arms) / x.arm.size
        assert np.allclose(share, np.array([3, 2, 2]) / 7, atol=0.01)
    pa = np.bincount(a.stratum.ravel(), minlength=24) / a.stratum.size
    pb = np.bincount(b.stratum.ravel(), minlength=24) / b.stratum.size
    assert np.all(np.abs(pa - pb) <= 4 * np.sqrt(2 * pa * (1 - pa) / a.stratum.size) + 1e-12)
    # composite responder rates per endpoint and arm
    checked = 0
    for e in range(len(eps)):
        for arm in range(n_arms):
            xa = a.resp[e][a.arm == arm]
            xb = b.resp[e][b.arm == arm]
            p1, p2 = xa.mean(), xb.mean()
            se = np.sqrt(p1 * (1 - p1) / xa.size + p2 * (1 - p2) / xb.size)
            assert abs(p1 - p2) <= 4 * se, (eps[e].id, arm, p1, p2)
            checked += p1 > 0.05
    assert checked >= 6
    # baseline recorded EASI, rescue and discontinuation (up to week 24)
    arms_a, rec0_a, rescue_a, drop_a = _numpy_side(s, 23)
    aux = np.zeros((REPS * N, 3))
    arms_b, _, _ = fast.simulate_chunk(s, eps, N, REPS, np.random.SeedSequence(24), aux=aux)
    arms_b = arms_b.ravel()
    rec0_b, rescue_b, drop_b = aux[:, 0], aux[:, 1], aux[:, 2]
    assert rec0_a.min() >= s.model.eligibility_min_easi and rec0_b.min() >= s.model.eligibility_min_easi
    pooled_q = np.quantile(np.concatenate([rec0_a, rec0_b]), [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95])
    for q in pooled_q:  # the two CDFs agree at the pooled quantiles
        fa, fb = np.mean(rec0_a <= q), np.mean(rec0_b <= q)
        assert abs(fa - fb) <= 4 * np.sqrt(fa * (1 - fa) / rec0_a.size + fb * (1 - fb) / rec0_b.size), (q, fa, fb)
    for arm in range(n_arms):
        ia, ib = arms_a == arm, arms_b == arm
        for ev_a, ev_b, what in ((rescue_a[ia] >= 0, rescue_b[ib] >= 0, "rescue"),
                                 ((drop_a[ia] >= 0) & (rescue_a[ia] < 0), (drop_b[ib] >= 0) & (rescue_b[ib] < 0),
                                  "dropout before any rescue")):
            p1, p2 = ev_a.mean(), ev_b.mean()
            assert p1 > 0.01 and p2 > 0.01
            se = np.sqrt(p1 * (1 - p1) / ev_a.size + p2 * (1 - p2) / ev_b.size)
            assert abs(p1 - p2) <= 4 * se, (what, arm, p1, p2)
        # rescue timing: the distribution over visits
        ra = rescue_a[ia][rescue_a[ia] >= 0].astype(int)
        ta = np.bincount(ra, minlength=8) / max(ra.size, 1)
        rb = rescue_b[ib][rescue_b[ib] >= 0].astype(int)
        tb = np.bincount(rb, minlength=8) / max(rb.size, 1)
        assert np.abs(ta - tb).max() < 0.02


def test_kernel_matches_numpy_model_other_visits_and_policy():
    """Endpoints at two visits (week 16 and 24), rescue under the treatment policy, no vIGA-AD stratum."""
    s = scenario_study(STUDY, "published")
    ice = s.intercurrent_events.model_copy(update={"rescue": "treatment-policy"})
    s = s.model_copy(update={"intercurrent_events": ice,
                             "strata": [f for f in s.strata if f.id != "BLIGA"],
                             "analysis": s.analysis.model_copy(update={"stratify_by": ["REGION", "PRIORBIO"]})})
    base = design_endpoints(STUDY)
    eps = [*base, *(e.model_copy(update={"id": e.id + "W16", "visit_week": 16}) for e in base)]
    reps = 130
    a = simulate_outcomes(s, N, reps, np.random.SeedSequence(31), array_backend(), eps)
    b = simulate_outcomes_numba(s, N, reps, np.random.SeedSequence(32), eps)
    for e in range(len(eps)):
        for arm in range(len(s.arms)):
            xa, xb = a.resp[e][a.arm == arm], b.resp[e][b.arm == arm]
            p1, p2 = xa.mean(), xb.mean()
            assert p1 > 0.03
            se = np.sqrt(p1 * (1 - p1) / xa.size + p2 * (1 - p2) / xb.size)
            assert abs(p1 - p2) <= 4 * se, (eps[e].id, arm, p1, p2)
    # jointly over the two visits: responder at both (the baseline scores are the patient's own at both visits)
    for e in range(len(base)):
        for arm in range(len(s.arms)):
            xa = (a.resp[e] & a.resp[e + len(base)])[a.arm == arm]
            xb = (b.resp[e] & b.resp[e + len(base)])[b.arm == arm]
            p1, p2 = xa.mean(), xb.mean()
            se = np.sqrt(p1 * (1 - p1) / xa.size + p2 * (1 - p2) / xb.size)
            assert p1 > 0.02 and abs(p1 - p2) <= 4 * se, (base[e].id, arm, p1, p2)


def test_kernel_reproducible_whatever_the_threads():
    s = STUDY
    eps = design_endpoints(s)
    one = fast.simulate_chunk(s, eps, 150, 9, np.random.SeedSequence(5))
    par = fast.simulate_chunk(s, eps, 150, 9, np.random.SeedSequence(5), parallel=True)
    other = fast.simulate_chunk(s, eps, 150, 9, np.random.SeedSequence(6))
    for x, y in zip(one, par, strict=True):
        assert np.array_equal(x, y)
    assert not np.array_equal(one[2], other[2])
    kw = dict(n_sim=150, ns=[100, 150], replicates=24, seed=9, chunk_size=6, backend="numba")
    a = engine.run(s, **kw)
    b = engine.run(s, workers=1, **kw)
    for k in a.totals:
        assert np.array_equal(a.totals[k], b.totals[k]), k


def test_dask_local_cluster_with_numba_workers_matches_numba():
    pytest.importorskip("distributed")
    kw = dict(n_sim=150, ns=[100, 150], replicates=24, seed=9, chunk_size=6)
    a = engine.run(STUDY, backend="numba", **kw)
    b = engine.run(STUDY, backend="dask-numba", **kw)  # LocalCluster(n_workers=2, processes=True)
    for k in a.totals:
        assert np.array_equal(a.totals[k], b.totals[k]), k


def test_numba_backend_checkpoint_resume(tmp_path, interrupted_run):
    kw = dict(n_sim=150, ns=[150], replicates=20, seed=7, chunk_size=5, workers=1, backend="numba")
    full = engine.run(STUDY, **kw)
    plain = engine.run(STUDY, **{**kw, "backend": "numpy"})
    assert not np.array_equal(full.totals["pooled"], plain.totals["pooled"])  # its own streams
    interrupted_run(STUDY, tmp_path, **kw)
    resumed = engine.run(STUDY, checkpoint=tmp_path, **kw)
    assert sorted(resumed.resumed_chunks) == [0, 1]
    for k in full.totals:
        assert np.array_equal(full.totals[k], resumed.totals[k]), k
    engine.run(STUDY, checkpoint=tmp_path, **{**kw, "backend": "numpy"})
    assert len({p.parent for p in tmp_path.rglob("chunk_*.npz")}) == 2  # numpy and numba chunks kept apart


def test_numba_backend_power_and_type_one_error():
    pub = summarize(engine.run(scenario_study(STUDY, "published"), n_sim=N, ns=[385], replicates=1600, seed=11,
                               chunk_size=200, backend="numba"), 385)
    r = pub["replicates"]
    checked = 0
    for h, an in pub["analytic_raw_power"].items():
        if 0.05 < an < 0.995:
            assert abs(pub["raw_power"][h] - an) <= 3.5 * np.sqrt(an * (1 - an) / r), (h, pub["raw_power"][h], an)
            checked += 1
    assert checked >= 2
    null = summarize(engine.run(scenario_study(STUDY, "null"), n_sim=N, ns=[N], replicates=1600, seed=5,
                                chunk_size=200, backend="numba"), N)
    assert null["fwer"] <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / null["replicates"])
    for h, p in null["raw_power"].items():
        assert abs(p - 0.05) <= 3.5 * np.sqrt(0.05 * 0.95 / null["replicates"]), (h, p)


def test_analysis_sums_equal_direct_per_patient_sums():
    """The chunk sums of responder rates and pooled tables equal those computed directly from per-patient flags."""
    from trialkit.design.analysis import analyse, layout
    from trialkit.design.simulator import analysis_levels

    eps = design_endpoints(STUDY)
    k = int(np.prod(analysis_levels(STUDY)))
    out = simulate_outcomes_numba(STUDY, N, 7, np.random.SeedSequence(43), eps)
    n = 300
    got = analyse(out, layout(STUDY, eps, k), n)
    arm, st, resp = out.arm[:, :n], out.stratum[:, :n], out.resp[:, :, :n]
    for e in range(len(eps)):
        for a in range(len(STUDY.arms)):
            rates = [resp[e, r][arm[r] == a].mean() for r in range(7)]
            assert np.isclose(got["rate_sum"][e, a], sum(rates), rtol=1e-12, atol=0)
            assert np.isclose(got["rate_sq"][e, a], sum(x * x for x in rates), rtol=1e-12, atol=0)
            for s in range(k):
                cell = (arm == a) & (st == s)
                assert got["pooled"][e, s, a, 0] == (resp[e] & cell).sum()
                assert got["pooled"][e, s, a, 1] == (~resp[e] & cell).sum()


def test_compiled_tables_equal_bincount_tables():
    """The compiled table counter gives the same integers as numpy's bincount, per replicate, endpoint, dose and
    stratum, at several (unsorted, repeated) prefix sizes; and one patient's flag moves exactly one count."""
    from trialkit.design.analysis import outcome_tables, study_layout

    eps = design_endpoints(STUDY)
    lay = study_layout(STUDY)
    out = simulate_outcomes_numba(STUDY, N, 6, np.random.SeedSequence(44), eps)
    ns = [N, 7, 300, 7, 1]
    fast_t = outcome_tables(out, lay, ns, compiled=True)
    slow_t = outcome_tables(out, lay, ns, compiled=False)
    assert fast_t.shape == slow_t.shape == (5, 6, len(eps), len(lay.active), lay.n_strata, 2, 2)
    assert np.array_equal(fast_t, slow_t)
    assert fast_t[0].sum() > 0 and fast_t[4].sum() == len(eps) * (6 + (out.arm[:, 0] == lay.placebo).sum())
    resp = out.resp.copy()
    resp[1, 2, 5] = ~resp[1, 2, 5]
    moved = outcome_tables(out.__class__(out.arm, out.stratum, resp), lay, [N], compiled=True)[0] - fast_t[0]
    d = len(lay.active) if out.arm[2, 5] == lay.placebo else 1  # placebo is the control row of every dose
    assert np.abs(moved).sum() == 2 * d and np.abs(moved[2, 1]).sum() == 2 * d
    # more endpoints than the counter's flag patterns hold (E > 8: counted one endpoint at a time)
    rng = np.random.default_rng(7)
    many = out.__class__(out.arm, out.stratum, rng.random((11, 6, N)) < 0.4)
    assert np.array_equal(outcome_tables(many, lay, [N, 50], compiled=True),
                          outcome_tables(many, lay, [N, 50], compiled=False))


def test_kernel_randomization_is_stratified_permuted_blocks():
    """The kernel's treatments: within each stratum cell of a trial, every complete block of 14 holds exactly 6:4:4
    (IGNITE's 3:2:2 x 2), the partial last block no arm beyond its share, and the cells follow the prevalences."""
    eps = design_endpoints(STUDY)
    assert list(STUDY.analysis.stratify_by) == [s.id for s in STUDY.strata]  # analysis stratum = randomization cell
    arm, stratum, _ = fast.simulate_chunk(STUDY, eps, N, 40, np.random.SeedSequence(45))
    bsize = 7 * STUDY.randomization.block_multiple
    quota = np.array([a.allocation for a in STUDY.arms]) * STUDY.randomization.block_multiple
    for r in range(arm.shape[0]):
        for c in np.unique(stratum[r]):
            a = arm[r][stratum[r] == c]
            full = a.size // bsize * bsize
            for b in range(0, full, bsize):
                assert np.array_equal(np.bincount(a[b:b + bsize], minlength=3), quota)
            assert np.all(np.bincount(a[full:], minlength=3) <= quota)
    prev = np.outer(np.outer(*(np.asarray(s.prevalence) for s in STUDY.strata[:2])).ravel(),
                    STUDY.strata[2].prevalence).ravel()
    got = np.bincount(stratum.ravel(), minlength=prev.size) / stratum.size
    assert np.all(np.abs(got - prev) <= 4 * np.sqrt(prev * (1 - prev) / stratum.size))


def test_cell_table_is_exact_and_refuses_unresolvable_prevalences():
    """The one-uniform stratum cell: on a fine grid of uniforms every cell gets its probability (cells of
    probability zero none), and prevalences whose cells the table cannot tell apart are refused with a fix."""
    from trialkit.errors import TrialkitError

    lut, thr, add = fast._cell_tables([np.array([0.5, 0.0, 0.5]), np.array([0.3, 0.7])], 2)
    u = (np.arange(2**18) + 0.5) / 2**18
    b = (u * lut.size).astype(np.int64)
    got = np.bincount(lut[b] + np.where(u >= thr[b], add[b], 0), minlength=12) / u.size
    want = np.outer(np.outer([0.5, 0.0, 0.5], [0.3, 0.7]).ravel(), [0.5, 0.5]).ravel()
    assert np.all(np.abs(got - want) <= 2**-18) and np.all(got[want == 0] == 0)
    with pytest.raises(TrialkitError, match="strata.prevalence"):
        fast._cell_tables([np.array([0.5, 1e-9, 0.5 - 1e-9])], 1)
