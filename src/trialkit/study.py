"""Study definition: a TOML file loaded into validated pydantic models.

``load_study(path)`` returns a :class:`Study` or raises :class:`~trialkit.errors.TrialkitError` whose message names
the file, the key (e.g. ``arms[1].allocation``) and the problem.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trialkit.errors import TrialkitError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StudyInfo(_Model):
    id: str = Field(min_length=1, max_length=20)
    title: str
    registry: str | None = None
    n_randomized: int = Field(gt=0)
    duration_weeks: int = Field(gt=0)
    first_patient_date: dt.date = dt.date(2022, 9, 1)
    enrollment_days: int = Field(default=360, ge=1)
    alpha: float = Field(gt=0, lt=1)
    sides: Literal[1, 2] = 2


class Regimen(_Model):
    """Dosing weeks: the loading weeks, then every ``every_weeks`` until ``until_week``."""

    loading_weeks: list[int] = Field(min_length=1)
    every_weeks: int = Field(gt=0)
    until_week: int = Field(ge=0)

    @property
    def weeks(self) -> list[int]:
        last = max(self.loading_weeks)
        weeks = sorted(set(self.loading_weeks))
        w = last + self.every_weeks
        while w <= self.until_week:
            weeks.append(w)
            w += self.every_weeks
        return weeks


class Arm(_Model):
    id: str = Field(min_length=1, max_length=8, pattern=r"^[A-Za-z0-9_]+$")
    label: str
    dose_mg: float = Field(ge=0)
    allocation: int = Field(gt=0)
    placebo: bool = False
    regimen: Regimen


class Randomization(_Model):
    method: Literal["stratified permuted blocks"] = "stratified permuted blocks"
    block_multiple: int = Field(default=1, gt=0)


class Visit(_Model):
    name: str
    week: int = Field(ge=0)


class Stratum(_Model):
    id: str = Field(min_length=1, max_length=8, pattern=r"^[A-Z0-9_]+$")
    label: str
    levels: list[str] = Field(min_length=2)
    prevalence: list[Annotated[float, Field(ge=0, le=1)]]


class PctReduction(_Model):
    kind: Literal["pct_reduction"]
    threshold: float = Field(gt=0, le=100)


class ScoreResponse(_Model):
    kind: Literal["score_response"]
    max_score: int = Field(ge=0)
    min_reduction: int = Field(ge=0)


class Reduction(_Model):
    kind: Literal["reduction"]
    threshold: float = Field(gt=0)
    min_baseline: float = 0.0


class PercentChange(_Model):
    kind: Literal["pchg"]


Rule = Annotated[PctReduction | ScoreResponse | Reduction | PercentChange, Field(discriminator="kind")]


class Endpoint(_Model):
    id: str = Field(min_length=1, max_length=8, pattern=r"^[A-Z0-9]+$")
    label: str
    role: Literal["co-primary", "primary", "key-secondary", "secondary", "exploratory"]
    score: Literal["EASI", "VIGA", "RIGA", "PPNRS"]
    visit_week: int = Field(ge=0)
    rule: Rule

    @property
    def binary(self) -> bool:
        return self.rule.kind != "pchg"


class IntercurrentEvents(_Model):
    rescue: Literal["non-responder", "treatment-policy"] = "non-responder"
    discontinuation: Literal["non-responder", "treatment-policy"] = "non-responder"
    missing: Literal["non-responder"] = "non-responder"


class Analysis(_Model):
    population: Literal["ITT"] = "ITT"
    binary_test: Literal["cmh"] = "cmh"
    stratify_by: list[str] = Field(default_factory=list)
    difference: Literal["mh"] = "mh"
    confidence_level: float = Field(default=0.95, gt=0, lt=1)


class Published(_Model):
    endpoint: str
    arm: str
    rate: float = Field(ge=0, le=1)
    diff: float | None = Field(default=None, ge=-1, le=1)
    p_value: str | None = None


class ArmModel(_Model):
    """Arm-specific disease-model parameters (fitted by ``trialkit calibrate``)."""

    drug_effect: float = Field(ge=0)
    iga_effect: float
    riga_strictness: float
    nrs_effect: float = 0.0


class DiseaseModel(_Model):
    """Parameters of the latent disease model; see :mod:`trialkit.simulate`."""

    baseline_easi_median: dict[str, float]
    baseline_easi_log_sd: float = Field(gt=0)
    eligibility_min_easi: float = Field(ge=0, lt=72)
    placebo_onset_weeks: float = Field(gt=0)
    drug_onset_weeks: float = Field(gt=0)
    patient_sd: float = Field(ge=0)
    visit_sd: float = Field(ge=0)
    prior_biologic_effect: float = Field(ge=0)
    iga_per_log_easi: float = Field(gt=0)
    iga_visit_sd: float = Field(ge=0)
    riga_visit_sd: float = Field(ge=0)
    baseline_nrs_mean: float = Field(ge=0, le=10)
    baseline_nrs_sd: float = Field(ge=0)
    nrs_daily_sd: float = Field(ge=0)
    nrs_patient_sd: float = Field(ge=0)
    rescue_from_week: int = Field(ge=0)
    rescue_if_easi_ratio_above: float = Field(ge=0)
    rescue_prob_per_visit: float = Field(ge=0, le=1)
    rescue_effect: float = Field(ge=0)
    dropout_prob_per_visit: dict[str, Annotated[float, Field(ge=0, lt=1)]]
    dropout_worsening_multiplier: float = Field(ge=0)
    visit_day_jitter: int = Field(ge=0)
    placebo_effect: float
    placebo_nrs_effect: float = 0.0
    arms: dict[str, ArmModel]


class Scenario(_Model):
    """A what-if for design simulations: the fitted model (``effect_scale = 1``), no drug effect (``null``), a
    scaled drug effect, or explicit arm parameters (``arms``) that override the fitted ones."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    description: str = ""
    null: bool = False
    effect_scale: float = Field(default=1.0, ge=0)
    arms: dict[str, ArmModel] = Field(default_factory=dict)


class Study(_Model):
    """A validated study definition."""

    study: StudyInfo
    arms: list[Arm] = Field(min_length=2)
    randomization: Randomization = Randomization()
    visits: list[Visit] = Field(min_length=2)
    strata: list[Stratum] = Field(default_factory=list)
    endpoints: list[Endpoint] = Field(min_length=1)
    intercurrent_events: IntercurrentEvents = IntercurrentEvents()
    analysis: Analysis = Analysis()
    published: list[Published] = Field(default_factory=list)
    model: DiseaseModel
    multiplicity: dict[str, Any] | None = None
    scenarios: list[Scenario] = Field(default_factory=list)
    safety: dict[str, Any] | None = None

    # -- convenience -------------------------------------------------------------------------------------------
    @property
    def placebo(self) -> Arm:
        return next(a for a in self.arms if a.placebo)

    @property
    def active_arms(self) -> list[Arm]:
        return [a for a in self.arms if not a.placebo]

    def arm(self, arm_id: str) -> Arm:
        return next(a for a in self.arms if a.id == arm_id)

    def endpoint(self, endpoint_id: str) -> Endpoint:
        return next(e for e in self.endpoints if e.id == endpoint_id)

    @property
    def visit_weeks(self) -> list[int]:
        return [v.week for v in self.visits]

    def published_for(self, endpoint_id: str, arm_id: str) -> Published | None:
        return next((p for p in self.published if p.endpoint == endpoint_id and p.arm == arm_id), None)

    def strategy(self) -> Any:
        """The multiplicity strategy (:class:`trialkit.multiplicity.Strategy`), or None if the file has none."""
        if self.multiplicity is None:
            return None
        from trialkit.multiplicity import Strategy

        return Strategy.from_dict(self.multiplicity, source="multiplicity")

    def multiplicity_strategy_or_fail(self, source: str) -> Any:
        from trialkit.multiplicity import Strategy

        return Strategy.from_dict(self.multiplicity or {}, source=f"{source}: multiplicity")

    def hypothesis(self, endpoint_id: str, arm_id: str) -> str:
        """Name of the multiplicity hypothesis for an endpoint and an active arm."""
        return f"{endpoint_id}_{arm_id}"

    def scenario(self, name: str) -> Study:
        """A copy whose arm-level model parameters follow scenario ``name``."""
        sc = next((x for x in self.scenarios if x.name == name), None)
        if sc is None:
            raise TrialkitError(f"unknown scenario '{name}'", variable="scenarios",
                                fix=f"use one of {[x.name for x in self.scenarios]}")
        pbo = self.model.arms[self.placebo.id]
        arms = dict(self.model.arms)
        for a in self.active_arms:
            p = arms[a.id]
            if sc.null:
                p = pbo.model_copy(update={"drug_effect": 0.0, "nrs_effect": 0.0})
            elif sc.effect_scale != 1.0:
                k = sc.effect_scale
                p = p.model_copy(update={
                    "drug_effect": k * p.drug_effect, "nrs_effect": k * p.nrs_effect,
                    "iga_effect": pbo.iga_effect + k * (p.iga_effect - pbo.iga_effect),
                    "riga_strictness": pbo.riga_strictness + k * (p.riga_strictness - pbo.riga_strictness)})
            arms[a.id] = sc.arms.get(a.id, p)
        update: dict[str, Any] = {"arms": arms}
        if sc.null:
            # no drug effect at all: the active arms also drop out as placebo patients do
            drop = dict(self.model.dropout_prob_per_visit)
            for a in self.active_arms:
                drop[a.id] = drop[self.placebo.id]
            update["dropout_prob_per_visit"] = drop
        return self.model_copy(update={"model": self.model.model_copy(update=update)})

    def with_n(self, n: int) -> Study:
        """A copy with another number of randomized patients."""
        return self.model_copy(update={"study": self.study.model_copy(update={"n_randomized": int(n)})})


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("pct_reduction", "score_response", "reduction", "pchg"):
            continue  # discriminator tag in pydantic's location, not a key of the file
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _check_consistency(s: Study, source: str) -> None:
    def fail(key: str, problem: str, fix: str) -> None:
        raise TrialkitError(problem, source=source, variable=key, fix=fix)

    arm_ids = [a.id for a in s.arms]
    if len(set(arm_ids)) != len(arm_ids):
        fail("arms", f"arm ids are not unique: {arm_ids}", "give every arm its own id")
    n_pbo = sum(a.placebo for a in s.arms)
    if n_pbo != 1:
        fail("arms", f"exactly one arm must have placebo = true, found {n_pbo}", "mark the control arm")
    weeks = [v.week for v in s.visits]
    if weeks != sorted(set(weeks)):
        fail("visits", f"visit weeks must be unique and increasing, got {weeks}", "order the [[visits]]")
    if weeks[0] != 0:
        fail("visits[0].week", "the first visit must be the baseline at week 0", "add a baseline visit")
    if max(weeks) > s.study.duration_weeks:
        fail("visits", f"visit at week {max(weeks)} is after the end of the study "
             f"(duration_weeks = {s.study.duration_weeks})", "fix the visit or the duration")
    for i, e in enumerate(s.endpoints):
        if e.visit_week not in weeks:
            fail(f"endpoints[{i}].visit_week", f"endpoint {e.id} is assessed at week {e.visit_week}, which is "
                 f"not a visit of the study (visits at weeks {weeks})", "use one of the visit weeks")
        if e.visit_week == 0:
            fail(f"endpoints[{i}].visit_week", f"endpoint {e.id} cannot be assessed at baseline",
                 "use a post-baseline visit")
    ids = [e.id for e in s.endpoints]
    if len(set(ids)) != len(ids):
        fail("endpoints", f"endpoint ids are not unique: {ids}", "rename the duplicate")
    for i, st in enumerate(s.strata):
        if len(st.prevalence) != len(st.levels):
            fail(f"strata[{i}].prevalence", f"{len(st.prevalence)} prevalences for {len(st.levels)} levels",
                 "give one prevalence per level")
        total = sum(st.prevalence)
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            fail(f"strata[{i}].prevalence", f"prevalences of stratum {st.id} sum to {total:g}, not 1",
                 "make the prevalences add up to 1")
        if len(set(st.levels)) != len(st.levels):
            fail(f"strata[{i}].levels", f"levels of stratum {st.id} are not unique", "remove duplicates")
    strata_ids = [st.id for st in s.strata]
    for j, sid in enumerate(s.analysis.stratify_by):
        if sid not in strata_ids:
            fail(f"analysis.stratify_by[{j}]", f"'{sid}' is not a stratum (strata: {strata_ids})",
                 "name a stratum defined in [[strata]]")
    for i, p in enumerate(s.published):
        if p.endpoint not in ids:
            fail(f"published[{i}].endpoint", f"unknown endpoint '{p.endpoint}'", f"use one of {ids}")
        if p.arm not in arm_ids:
            fail(f"published[{i}].arm", f"unknown arm '{p.arm}'", f"use one of {arm_ids}")
    for arm_id in arm_ids:
        if arm_id not in s.model.arms:
            fail("model.arms", f"no disease-model parameters for arm '{arm_id}'",
                 f"add a [model.arms.{arm_id}] table (trialkit calibrate fits it)")
        if arm_id not in s.model.dropout_prob_per_visit:
            fail("model.dropout_prob_per_visit", f"no dropout probability for arm '{arm_id}'",
                 f"add {arm_id} = 0.01")
    for key in s.model.arms:
        if key not in arm_ids:
            fail(f"model.arms.{key}", f"'{key}' is not an arm of the study", f"use one of {arm_ids}")
    names = [sc.name for sc in s.scenarios]
    if len(set(names)) != len(names):
        fail("scenarios", f"scenario names are not unique: {names}", "rename the duplicate")
    for i, sc in enumerate(s.scenarios):
        for key in sc.arms:
            if key not in arm_ids:
                fail(f"scenarios[{i}].arms.{key}", f"'{key}' is not an arm of the study", f"use one of {arm_ids}")
    if s.multiplicity is not None:
        strategy = s.multiplicity_strategy_or_fail(source)
        expected = {s.hypothesis(e.id, a.id) for e in s.endpoints if e.binary for a in s.active_arms}
        unknown = [h for h in strategy.graph.names if h not in expected]
        if unknown:
            fail("multiplicity.graph", f"hypotheses {unknown} do not name a binary endpoint and an active arm "
                 "as ENDPOINT_ARM", f"use names from {sorted(expected)}")
    if s.safety is not None:
        from trialkit.safety.simulate import AESimConfig

        try:
            cfg = AESimConfig.from_dict(s.safety)
        except TrialkitError as exc:
            fail(f"safety{('.' + exc.variable) if exc.variable else ''}", exc.problem, exc.fix or "correct it")
        labels = [a.label for a in s.arms]
        for term in cfg.terms:
            missing = [lab for lab in labels if lab not in term.incidence]
            if missing:
                fail(f"safety.terms.{term.pt}.incidence", f"no incidence for arm(s) {missing}",
                     "give one incidence per arm label")
    if "BLIGA" in strata_ids:
        levels = s.strata[strata_ids.index("BLIGA")].levels
        missing = [lv for lv in levels if lv not in s.model.baseline_easi_median]
        if missing:
            fail("model.baseline_easi_median", f"no median baseline EASI for vIGA-AD level(s) {missing}",
                 "give one median per BLIGA level")


def parse_study(data: dict[str, Any], source: str = "<study>") -> Study:
    """Validate a study definition given as a dict (e.g. from TOML)."""
    try:
        study = Study.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = _loc(tuple(err["loc"]))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
            fix = "remove it or check its spelling"
        elif err["type"] == "missing":
            msg = "required key is missing"
            fix = "add it"
        else:
            got = err.get("input")
            msg = f"{msg} (got {got!r})" if not isinstance(got, dict | list) else msg
            fix = "correct the value"
        more = len(exc.errors()) - 1
        if more:
            fix += f"; {more} more problem{'s' if more > 1 else ''} after this one"
        raise TrialkitError(msg, source=source, variable=key, fix=fix) from None
    _check_consistency(study, source)
    return study


def load_study(path: str | Path) -> Study:
    """Read and validate a study TOML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TrialkitError("file not found", source=str(path), fix="check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TrialkitError(f"cannot read the file ({exc})", source=str(path),
                            fix="pass a UTF-8 TOML study file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TrialkitError(f"not valid TOML: {exc}", source=str(path), fix="fix the TOML syntax") from None
    return parse_study(data, source=str(path))
