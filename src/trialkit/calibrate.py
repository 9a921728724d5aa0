"""Calibration: fit the arm-level disease-model parameters to the published week-24 responder rates.

For each arm, in turn, a one-dimensional root search (Brent) on common random numbers finds
1. the EASI effect (``placebo_effect`` for the placebo arm, ``drug_effect`` for active arms) that gives the
   published EASI-75 rate,
2. ``iga_effect`` for the published vIGA-AD 0/1 rate, then
3. ``riga_strictness`` for the published rIGA 0/1 rate,
all under the study's composite intercurrent-event strategy, with rates computed exactly as the ADaM derivation
does (see :func:`composite_responders`). The placebo arm goes first because its effect is shared by all arms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tomlkit
from numpy.typing import NDArray
from scipy import optimize

from trialkit import _files
from trialkit.endpoints import criterion
from trialkit.errors import TrialkitError
from trialkit.simulate import Cohort, evolve, prepare
from trialkit.study import Endpoint, Study


def score_values(study: Study, cohort: Cohort, score: str) -> NDArray[np.float64]:
    """Recorded values of a study score by visit (NaN where missing), shape (n, V): the disease-model output that
    ``[model.scores]`` records it from."""
    roles = study.model_or_fail("calibration").scores
    outputs = {
        roles.composite: cohort.easi,
        roles.global_assessment: lambda: np.where(cohort.observed, cohort.viga, np.nan).astype(float),
        roles.revised_global_assessment: lambda: np.where(cohort.observed, cohort.riga, np.nan).astype(float),
        roles.itch: lambda: cohort.nrs,
    }
    if score not in outputs or score is None:
        raise TrialkitError(f"the disease model does not record score '{score}'", variable="model.scores",
                            fix="map the score to a model output in [model.scores]")
    return outputs[score]()


def composite_responders(study: Study, cohort: Cohort, endpoint: Endpoint) -> NDArray[np.bool_]:
    """Responder status by visit, shape (n, V), under the endpoint's intercurrent-event strategy.

    Rescue started on or before the visit date counts as non-response under the composite strategy; in the
    simulation there are no data after discontinuation, so discontinuation and missing data are non-response.
    """
    vals = score_values(study, cohort, endpoint.score)
    resp = criterion(endpoint, vals, vals[:, :1])
    if study.strategies(endpoint).rescue == "non-responder":
        rescued = (cohort.rescue_day[:, None] >= 0) & (cohort.rescue_day[:, None] <= cohort.visit_day)
        resp &= ~rescued
    return resp


@dataclass(frozen=True)
class CalibrationResult:
    study: Study
    targets: dict[tuple[str, str], float]
    achieved: dict[tuple[str, str], float]
    n_per_arm: int


def _with(study: Study, arm_id: str, key: str, value: float) -> Study:
    model = study.model
    if key == "placebo_effect":
        model = model.model_copy(update={"placebo_effect": value})
    else:
        arms = dict(model.arms)
        arms[arm_id] = arms[arm_id].model_copy(update={key: value})
        model = model.model_copy(update={"arms": arms})
    return study.model_copy(update={"model": model})


def calibrate(study: Study, n_per_arm: int = 150_000, seed: int = 20250308,
              progress: Callable[[str], None] | None = None) -> CalibrationResult:
    """Fit the arm-level parameters, step by step as ``[[calibration]]`` lists them, so that the expected composite
    rates match ``study.published``."""
    steps = [(c.endpoint, c.parameter, c.bracket) for c in study.calibration
             if any(p.endpoint == c.endpoint for p in study.published)]
    if not steps:
        raise TrialkitError("nothing to calibrate: the study file has no [[calibration]] step with a published "
                            "rate to match", variable="calibration",
                            fix="add [[published]] results and [[calibration]] steps (docs/study-file.md)")
    study.model_or_fail("calibration")
    targets: dict[tuple[str, str], float] = {}
    achieved: dict[tuple[str, str], float] = {}
    arm_order = [study.placebo] + study.active_arms
    for arm in arm_order:
        a_idx = study.arms.index(arm)
        prep = prepare(study, n_per_arm, seed=seed, arm=a_idx)
        for ep_id, param, bracket in steps:
            pub = study.published_for(ep_id, arm.id)
            if pub is None:
                continue
            ep = study.endpoint(ep_id)
            k = study.visit_weeks.index(ep.visit_week)
            key = ("placebo_effect" if arm.placebo else "drug_effect") if param == "effect" else param

            def rate(x: float, key: str = key, ep: Endpoint = ep, k: int = k, arm_id: str = arm.id,
                     prep: object = prep, base: Study = study) -> float:
                s = _with(base, arm_id, key, float(x))
                c = evolve(s, prep)
                return float(composite_responders(s, c, ep)[:, k].mean())

            lo, hi = bracket
            if key == "drug_effect":
                lo = max(lo, 0.0)  # drug effects are not negative
            f_lo, f_hi = rate(lo) - pub.rate, rate(hi) - pub.rate
            if f_lo * f_hi > 0:
                raise TrialkitError(
                    f"the published {ep_id} rate {pub.rate:.3f} for arm {arm.id} cannot be reached by varying "
                    f"{key} in [{lo}, {hi}] (rates {f_lo + pub.rate:.3f} to {f_hi + pub.rate:.3f})",
                    variable=f"model.arms.{arm.id}", fix="revise the fixed model parameters of the study file",
                )
            x = optimize.brentq(lambda x, target=pub.rate: rate(x) - target, lo, hi, xtol=1e-4)
            x = round(x, 4)
            study = _with(study, arm.id, key, x)
            targets[(ep_id, arm.id)] = pub.rate
            achieved[(ep_id, arm.id)] = rate(x)
            if progress:
                progress(f"{arm.id} {ep_id}: {key} = {x:.4f} gives {achieved[(ep_id, arm.id)]:.4f} "
                         f"(published {pub.rate:.4f})")
    return CalibrationResult(study=study, targets=targets, achieved=achieved, n_per_arm=n_per_arm)


def write_back(path: str | Path, study: Study, out: str | Path | None = None) -> Path:
    """Write the calibrated parameters into the TOML file, keeping its comments and layout (atomically)."""
    path = Path(path)
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    doc["model"]["placebo_effect"] = study.model.placebo_effect
    for arm_id, params in study.model.arms.items():
        tbl = doc["model"]["arms"][arm_id]
        for key in ("drug_effect", "iga_effect", "riga_strictness"):
            tbl[key] = getattr(params, key)
    return _files.write_text(out or path, tomlkit.dumps(doc))
