"""The vectorized replicate simulator: R trials of n patients as one patient axis through the one-trial model.

Per chunk of replicates: strata and per-replicate permuted-block randomization
(:mod:`trialkit.design.randomization`), then each endpoint's composite responder status from
:func:`trialkit.design.model.simulate_responders`: the model of :func:`trialkit.simulate.prepare_lean` and
:func:`trialkit.simulate.evolve` with the derivation of :func:`trialkit.calibrate.composite_responders`, fused
(identical numbers on common random numbers; only the endpoint visits are scored, and only for patients whose
score can count). The result is compact per-patient outcomes (arm, analysis stratum, responder flags), which
:mod:`trialkit.design.analysis` turns into stratified 2x2xK counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trialkit.design.backend import ArrayBackend
from trialkit.design.model import BLOCK, simulate_responders
from trialkit.design.randomization import cell_index, draw_strata, permuted_blocks
from trialkit.errors import TrialkitError
from trialkit.simulate import lean_scores, model_strata
from trialkit.study import Endpoint, Study


@dataclass(frozen=True)
class Outcomes:
    """Per-patient outcomes of R trials of n patients (host numpy arrays, patients in arrival order)."""

    arm: np.ndarray  # (R, n) int8, index into study.arms
    stratum: np.ndarray  # (R, n) int16, analysis stratum (combination of study.analysis.stratify_by levels)
    resp: np.ndarray  # (E, R, n) bool, composite responder at the endpoint's visit

    @property
    def replicates(self) -> int:
        return int(self.arm.shape[0])

    @property
    def nbytes(self) -> int:
        return int(self.arm.nbytes + self.stratum.nbytes + self.resp.nbytes)


def design_endpoints(study: Study) -> list[Endpoint]:
    """Binary endpoints the design needs: those of the multiplicity hypotheses (else co-primary/key ones)."""
    strategy = study.strategy()
    if strategy is not None:
        ids: list[str] = []
        for h in strategy.graph.names:
            ep_id = study.split_hypothesis(h)[0]
            if ep_id not in ids:
                ids.append(ep_id)
        eps = [study.endpoint(i) for i in ids]
    else:
        eps = [e for e in study.endpoints if e.binary and e.role in ("co-primary", "primary", "key-secondary")]
    recorded = lean_scores(study)
    bad = [e.id for e in eps if e.score not in recorded]
    if bad:
        raise TrialkitError(f"the design simulator records {', '.join(recorded)} only; endpoints {bad} use "
                            "another score", variable="multiplicity.graph",
                            fix="leave these endpoints out of the multiplicity graph for design runs")
    if not eps:
        raise TrialkitError("no binary endpoint to simulate", variable="endpoints",
                            fix="add a co-primary binary endpoint or a multiplicity graph")
    # the design kernels apply the study's rescue strategy to every endpoint, and count missing as non-response
    ice = study.intercurrent_events
    for e in eps:
        st = study.strategies(e)
        if not e.binary or st.rescue != ice.rescue or st.rescue not in ("non-responder", "treatment-policy") \
                or st.missing != "non-responder" or e.source != "derive" \
                or e.rule.kind not in ("pct_reduction", "score_response", "reduction"):
            raise TrialkitError(
                f"the design simulator cannot simulate endpoint {e.id} as defined (rule {e.rule.kind}, rescue "
                f"{st.rescue}, missing {st.missing}): it simulates pct_reduction, score_response and reduction "
                "rules with the study's rescue strategy (non-responder or treatment-policy) and missing data as "
                "non-response", variable=f"endpoints.{e.id}",
                fix="leave the endpoint out of the multiplicity graph for design runs, or use those settings")
    return eps


def analysis_levels(study: Study) -> list[int]:
    ids = [s.id for s in study.strata]
    return [len(study.strata[ids.index(sid)].levels) for sid in study.analysis.stratify_by]


def simulate_outcomes(study: Study, n: int, replicates: int, seed: np.random.SeedSequence,
                      backend: ArrayBackend, endpoints: list[Endpoint] | None = None,
                      dtype: type = np.float32) -> Outcomes:
    """Simulate ``replicates`` trials of ``n`` patients with the patient-level model (one chunk)."""
    xp = backend.xp
    eps = design_endpoints(study) if endpoints is None else endpoints
    rng = backend.rng(seed)
    r = int(replicates)
    strata = draw_strata(study, r * n, rng, xp)  # (R n, F)
    n_levels = [len(s.levels) for s in study.strata]
    cell = cell_index(strata.reshape(r, n, -1), n_levels, xp)
    arms = permuted_blocks(cell, int(np.prod(n_levels)) if n_levels else 1,
                           [a.allocation for a in study.arms], study.randomization.block_multiple, rng, xp)
    # baseline vIGA-AD and prior biologic use as in trialkit.simulate._finish_prepare
    sev = study.model_or_fail("the design").strata.severity
    u = None if study.stratum(sev or "") is not None else rng.random(r * n, dtype=dtype)
    iga0, prior_bio = model_strata(study, strata, u)
    # CPU: cache-sized blocks; GPU: the whole chunk at once (few, large kernels)
    block = BLOCK if xp is np else r * n
    resp = simulate_responders(study, eps, strata, arms.ravel(), iga0, prior_bio, rng, xp, dtype, block)
    ids = [s.id for s in study.strata]
    cols = [ids.index(s) for s in study.analysis.stratify_by]
    a_levels = analysis_levels(study)
    stratum = (cell_index(strata[:, cols], a_levels, xp) if cols else xp.zeros(r * n, dtype=np.int16))
    return Outcomes(arm=backend.to_host(arms), stratum=backend.to_host(stratum).reshape(r, n),
                    resp=resp.reshape(len(eps), r, n))


def simulate_outcomes_numba(study: Study, n: int, replicates: int, seed: np.random.SeedSequence,
                            endpoints: list[Endpoint] | None = None, parallel: bool = False) -> Outcomes:
    """:func:`simulate_outcomes` with the compiled kernel of :mod:`trialkit.design.fast` (numba): the same model
    and randomization, equal in distribution (not bit for bit) to the numpy path; reproducible per seed and
    replicate position, whatever the threads."""
    from trialkit.design.fast import simulate_chunk

    eps = design_endpoints(study) if endpoints is None else endpoints
    r = int(replicates)
    arms, stratum, resp = simulate_chunk(study, eps, n, r, seed, parallel)
    return Outcomes(arm=arms, stratum=stratum, resp=resp.reshape(len(eps), r, n))

