"""Study definition (study file version 2): a TOML file loaded into validated pydantic models.

Everything specific to one trial or one indication lives in the study file or in a score catalogue it references
(``catalogues = ["atopic-dermatitis"]``, shipped in :mod:`trialkit.catalogue`): scores by their structure,
endpoints with their rules and estimands, analyses, arms and regimens, strata tied to patient data, the
indication's vocabulary, the disease model. ``load_study(path)`` returns a :class:`Study` or raises one
:class:`~trialkit.errors.TrialkitErrors` listing every problem of the file (each naming the file, the key, e.g.
``arms[1].allocation``, and the fix). ``Study.model_json_schema()`` is the file's JSON Schema (``trialkit schema``).
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trialkit.errors import TrialkitError, TrialkitErrors

STUDY_FILE_VERSION = 2


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Finite = Annotated[float, Field(allow_inf_nan=False)]


class StudyInfo(_Model):
    id: str = Field(min_length=1, max_length=20)
    title: str
    registry: str | None = None
    n_randomized: int = Field(gt=0, le=10_000_000)
    duration_weeks: int = Field(gt=0, le=520)
    first_patient_date: dt.date = dt.date(2022, 9, 1)
    enrollment_days: int = Field(default=360, ge=1, le=36_500)
    alpha: Finite = Field(gt=0, lt=1)
    sides: Literal[1, 2] = 2


# --- scores ---------------------------------------------------------------------------------------------------
class ScoreSource(_Model):
    """Where the score's records are in SDTM: domain, test code (single-item scores), category and test name."""

    domain: Literal["QS"] = Field(default="QS", description="SDTM domain (QS is the one read today)")
    testcd: str | None = Field(default=None, max_length=8)
    category: str | None = None
    test: str | None = None


class Region(_Model):
    code: str = Field(min_length=1, max_length=4)
    label: str
    weight: Finite = Field(gt=0)
    child_weight: Finite | None = Field(default=None, gt=0)


class Sign(_Model):
    code: str = Field(min_length=1, max_length=4)
    label: str


class AreaBands(_Model):
    """Area score from the percentage affected: band k (1-based) starts at ``lower[k-1]`` percent (0 % scores 0)."""

    lower: list[Finite] = Field(min_length=1)
    suffix: str = Field(default="AREA", min_length=1, max_length=4)
    label: str = "Percent Area Affected"


class _ScoreBase(_Model):
    label: str
    paramcd: str | None = Field(default=None, max_length=8, description="ADaM PARAMCD (default: the score id)")
    param: str | None = Field(default=None, description="ADaM PARAM (default: the label)")
    better: Literal["lower", "higher"] = "lower"
    sdtm: ScoreSource = ScoreSource()
    dataset: str = Field(default="ADEFF", description="ADaM BDS dataset holding the score's records")


class RegionalComposite(_ScoreBase):
    """Regions x signs x area (EASI is one): sum over regions of weight x (sum of sign scores) x area score."""

    kind: Literal["regional_composite"]
    regions: list[Region] = Field(min_length=1)
    signs: list[Sign] = Field(min_length=1)
    sign_max: Finite = Field(default=3, gt=0)
    sign_step: Finite = Field(default=0.5, gt=0)
    area: AreaBands
    child_age_below: Finite | None = None

    @property
    def range(self) -> tuple[float, float]:
        hi = max(sum(r.weight for r in self.regions), sum(r.child_weight or r.weight for r in self.regions))
        return (0.0, hi * len(self.signs) * self.sign_max * len(self.area.lower))

    @property
    def sign_codes(self) -> list[str]:
        return [f"{r.code}{s.code}" for r in self.regions for s in self.signs]

    @property
    def area_codes(self) -> list[str]:
        return [f"{r.code}{self.area.suffix}" for r in self.regions]

    @property
    def integer(self) -> bool:
        return False


class OrdinalScore(_ScoreBase):
    """An ordinal global assessment with integer levels (vIGA-AD, rIGA, CIBIC+)."""

    kind: Literal["ordinal"]
    levels: list[int] = Field(min_length=2)

    @property
    def range(self) -> tuple[float, float]:
        return (float(min(self.levels)), float(max(self.levels)))

    @property
    def integer(self) -> bool:
        return True


class RatingScale(_ScoreBase):
    """A numeric rating scale (e.g. worst-pruritus NRS 0-10), possibly a weekly average of integer daily scores."""

    kind: Literal["rating_scale"]
    range: tuple[Finite, Finite]

    @property
    def integer(self) -> bool:
        return False


class ContinuousScore(_ScoreBase):
    """A questionnaire total or any continuous measure with its range (either bound may be open)."""

    kind: Literal["continuous"]
    range: tuple[Finite | None, Finite | None] = (None, None)
    integer: bool = False


Score = Annotated[Union[RegionalComposite, OrdinalScore, RatingScale, ContinuousScore],  # noqa: UP007
                  Field(discriminator="kind")]
SCORE_KINDS = ("regional_composite", "ordinal", "rating_scale", "continuous")


# --- arms, randomization, visits, strata ------------------------------------------------------------------------
class Regimen(_Model):
    """Dosing weeks: the loading weeks, then every ``every_weeks`` until ``until_week``."""

    loading_weeks: list[Annotated[int, Field(ge=0)]] = Field(min_length=1)
    every_weeks: int = Field(gt=0, le=520)
    until_week: int = Field(ge=0, le=520)

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
    label: str = Field(min_length=1, max_length=200)
    dose_mg: Finite = Field(ge=0)
    allocation: int = Field(gt=0, le=100)
    placebo: bool = False
    treatment: str | None = Field(default=None, description="EXTRT of the arm's doses (default PLACEBO for placebo)")
    regimen: Regimen

    @property
    def extrt(self) -> str:
        return self.treatment or ("PLACEBO" if self.placebo else self.label.upper())


class Randomization(_Model):
    method: Literal["stratified permuted blocks"] = "stratified permuted blocks"
    block_multiple: int = Field(default=1, gt=0, le=100)


class Visit(_Model):
    name: str
    week: int = Field(ge=0)


class StratumSource(_Model):
    """How a stratum follows from patient data: the ADSL/DM variable holding it (default: the stratum id, in SUPPDM
    for SDTM), cut-points of a numeric variable (``cuts``: level k is ``cuts[k-1] <= x < cuts[k]``), or a map from
    the variable's values to the levels (``map``: e.g. region from COUNTRY)."""

    variable: str | None = Field(default=None, max_length=8)
    cuts: list[Finite] | None = Field(default=None, min_length=1)
    map: dict[str, list[str]] | None = None


class Stratum(_Model):
    id: str = Field(min_length=1, max_length=8, pattern=r"^[A-Z0-9_]+$")
    label: str
    levels: list[str] = Field(min_length=2)
    prevalence: list[Annotated[Finite, Field(ge=0, le=1)]]
    source: StratumSource | None = None

    @property
    def variable(self) -> str:
        return (self.source.variable if self.source and self.source.variable else None) or self.id


# --- endpoints ---------------------------------------------------------------------------------------------------
class PctReduction(_Model):
    """Responder: ``100 (BASE - AVAL) / BASE >= threshold`` (e.g. EASI-75)."""

    kind: Literal["pct_reduction"]
    threshold: Finite = Field(gt=0, le=100)


class ScoreResponse(_Model):
    """Responder: ``AVAL <= max_score`` and ``BASE - AVAL >= min_reduction`` (e.g. vIGA-AD 0/1 with >= 2 points)."""

    kind: Literal["score_response"]
    max_score: Finite = Field(ge=0)
    min_reduction: Finite = Field(ge=0)


class Reduction(_Model):
    """Responder: ``BASE - AVAL >= threshold`` among subjects with ``BASE >= min_baseline`` (higher-is-better
    scores: use ``kind = "increase"``)."""

    kind: Literal["reduction"]
    threshold: Finite = Field(gt=0)
    min_baseline: Finite = 0.0


class Increase(_Model):
    """Responder: ``AVAL - BASE >= threshold`` among subjects with ``BASE <= max_baseline``."""

    kind: Literal["increase"]
    threshold: Finite = Field(gt=0)
    max_baseline: Finite | None = None


class Threshold(_Model):
    """Responder: ``AVAL <= at_most`` and/or ``AVAL >= at_least`` (a score level, whatever the baseline)."""

    kind: Literal["threshold"]
    at_most: Finite | None = None
    at_least: Finite | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> Threshold:
        if self.at_most is None and self.at_least is None:
            raise ValueError("give at_most, at_least or both")
        return self


class AllOf(_Model):
    """Responder when every rule holds."""

    kind: Literal["all"]
    rules: list[ResponderRule] = Field(min_length=2)


class AnyOf(_Model):
    """Responder when at least one rule holds."""

    kind: Literal["any"]
    rules: list[ResponderRule] = Field(min_length=2)


class Continuous(_Model):
    """A continuous endpoint: the analysis variable AVAL, CHG or PCHG at the visit."""

    kind: Literal["continuous"]
    variable: Literal["AVAL", "CHG", "PCHG"] = "CHG"


class Ordinal(_Model):
    """An ordinal endpoint: the score's categories at the visit (analysed by CMH row mean scores)."""

    kind: Literal["ordinal"]


ResponderRule = Annotated[Union[PctReduction, ScoreResponse, Reduction, Increase, Threshold, AllOf, AnyOf],  # noqa: UP007
                          Field(discriminator="kind")]
Rule = Annotated[Union[PctReduction, ScoreResponse, Reduction, Increase, Threshold, AllOf, AnyOf,  # noqa: UP007
                       Continuous, Ordinal], Field(discriminator="kind")]
RULE_KINDS = ("pct_reduction", "score_response", "reduction", "increase", "threshold", "all", "any", "continuous",
              "ordinal")
AllOf.model_rebuild()
AnyOf.model_rebuild()

#: ICH E9(R1) strategies for intercurrent events. ``non-responder`` is the composite strategy for a responder
#: endpoint; ``hypothetical`` sets values after the event to missing (then the missing-data rule applies);
#: ``while-on-treatment`` uses the last value before the event; ``treatment-policy`` uses the values as observed.
EventStrategy = Literal["non-responder", "treatment-policy", "hypothetical", "while-on-treatment"]
#: Missing values (after the intercurrent-event strategies): non-responder imputation, last or baseline observation
#: carried forward, or excluded (observed cases).
MissingStrategy = Literal["non-responder", "locf", "bocf", "exclude"]


class IntercurrentEvents(_Model):
    """Intercurrent events and missing data: each with its strategy (the study default; endpoints may override)."""

    rescue: EventStrategy = "non-responder"
    discontinuation: EventStrategy = "non-responder"
    death: EventStrategy = "non-responder"
    missing: MissingStrategy = "non-responder"


class Estimand(_Model):
    """An endpoint's estimand where it differs from the study defaults (ICH E9(R1) attributes)."""

    population: str | None = Field(default=None, pattern=r"^(ITT|mITT|EFF|SAF|PP|[A-Z0-9]{1,6}FL)$")
    rescue: EventStrategy | None = None
    discontinuation: EventStrategy | None = None
    death: EventStrategy | None = None
    missing: MissingStrategy | None = None
    summary: Literal["risk difference", "difference in means", "row mean scores"] | None = None


BinaryMethod = Literal["cmh"]
Difference = Literal["mh", "mn", "newcombe"]


class EndpointAnalysis(_Model):
    """How an endpoint is analysed (default: ``cmh`` for responders, ``mmrm`` for continuous, ``cmh_rms`` for
    ordinal endpoints, with the study's ``[analysis]`` strata)."""

    method: Literal["cmh", "logistic", "ancova", "mmrm", "cmh_rms", "summary"] | None = None
    strata: list[str] | None = None
    covariates: list[str] = Field(default_factory=list)
    difference: Difference | None = None
    dose_response: bool = False


class FlagSource(_Model):
    """Read a responder endpoint from the dataset's own flag instead of deriving it: ``variable`` (e.g. CRIT1FL
    or AVALC) on the score's records at the visit, ``yes`` the responder value."""

    variable: str = Field(min_length=1, max_length=8)
    yes: str = "Y"


class Endpoint(_Model):
    id: str = Field(min_length=1, max_length=8, pattern=r"^[A-Z0-9]+$")
    label: str
    role: Literal["co-primary", "primary", "key-secondary", "secondary", "exploratory"]
    score: str = Field(min_length=1, description="id of a score of the study file or its catalogues")
    visit_week: int = Field(ge=0)
    rule: Rule
    estimand: Estimand = Estimand()
    analysis: EndpointAnalysis = EndpointAnalysis()
    source: Literal["derive"] | FlagSource = "derive"

    @property
    def binary(self) -> bool:
        return self.rule.kind not in ("continuous", "ordinal")

    @property
    def continuous(self) -> bool:
        return self.rule.kind == "continuous"

    @property
    def ordinal(self) -> bool:
        return self.rule.kind == "ordinal"


class Analysis(_Model):
    """Study-wide analysis defaults. ``population`` is ITT, mITT, EFF, SAF, PP or a flag variable (``...FL``)."""

    population: str = Field(default="ITT", pattern=r"^(ITT|mITT|EFF|SAF|PP|[A-Z0-9]{1,6}FL)$")
    binary_test: BinaryMethod = "cmh"
    stratify_by: list[str] = Field(default_factory=list)
    difference: Difference = "mh"
    confidence_level: Finite = Field(default=0.95, gt=0, lt=1)
    sensitivity_covariates: list[str] | None = Field(
        default=None, description="covariates of the MMRM and multiple-imputation models (default: the strata)")


class AdamNames(_Model):
    """Names of the ADaM variables the analyses read (trialkit writes the same names for simulated trials)."""

    subject_dataset: str = Field(default="ADSL", max_length=8)
    treatment: str = Field(default="TRT01P", pattern=r"^(TRT\d\d[PA]|TRT[PA]|ARM|ACTARM)$")
    rescue_date: str | None = Field(default=None, max_length=8,
                                    description="ADSL date of the first rescue medication (none: no rescue data)")
    end_of_study_status: str | None = Field(default="EOSSTT", max_length=8)

    @property
    def rescue_variable(self) -> str:
        """The ADSL rescue date: ``rescue_date``, else RESCDT (used where present; trialkit's ADSL has it)."""
        return self.rescue_date or "RESCDT"
    end_of_study_date: str | None = Field(default="EOSDT", max_length=8)
    death_date: str = Field(default="DTHDT", max_length=8, description="ADSL date of death (used where present)")


class Vocabulary(_Model):
    """The indication's words used when trialkit writes SDTM and reads it back."""

    rescue_category: str | None = Field(default=None, description="CMCAT of rescue medication records")
    rescue_medication: str | None = Field(default=None, description="CMTRT of simulated rescue medication")
    prior_therapy_category: str | None = None
    prior_therapies: list[str] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=lambda: ["USA"],
                                 description="COUNTRY of simulated patients when no stratum maps COUNTRY")
    races: list[str] = Field(default_factory=lambda: ["WHITE", "BLACK OR AFRICAN AMERICAN", "ASIAN", "OTHER"])
    race_mix: dict[str, list[Annotated[Finite, Field(ge=0)]]] = Field(
        default_factory=dict, description="race proportions by region level (key 'default' for the rest)")


class Published(_Model):
    endpoint: str
    arm: str
    rate: Finite = Field(ge=0, le=1)
    diff: Finite | None = Field(default=None, ge=-1, le=1)
    p_value: str | None = None


class CalibrationTarget(_Model):
    """One step of ``trialkit calibrate``: the model parameter searched (in ``bracket``) so that the endpoint's
    simulated composite rate matches the published one, arm by arm (``effect`` is ``placebo_effect`` for the
    placebo arm, ``drug_effect`` for the others)."""

    endpoint: str
    parameter: Literal["effect", "iga_effect", "riga_strictness"]
    bracket: tuple[Finite, Finite]


class ArmModel(_Model):
    """Arm-specific disease-model parameters (fitted by ``trialkit calibrate``)."""

    drug_effect: Finite = Field(ge=0)
    iga_effect: Finite
    riga_strictness: Finite
    nrs_effect: Finite = 0.0


class ModelScores(_Model):
    """Which study score each output of the disease model is recorded as."""

    composite: str
    global_assessment: str
    revised_global_assessment: str | None = None
    itch: str | None = None


class ModelStrata(_Model):
    """Which strata the disease model reads: the baseline global assessment (levels are its scores), prior
    therapy (``prior_therapy_level`` multiplies the drug effect by ``prior_biologic_effect``) and region."""

    severity: str | None = None
    prior_therapy: str | None = None
    prior_therapy_level: str = "Y"
    region: str | None = None


class Demographics(_Model):
    age_mean: Finite = 37.0
    age_sd: Finite = Field(default=13.5, gt=0)
    age_min: int = Field(default=18, ge=0)
    age_max: int = Field(default=80, le=120)
    female: Finite = Field(default=0.47, ge=0, le=1)


class DiseaseModel(_Model):
    """Parameters of the latent disease model; see :mod:`trialkit.simulate`."""

    scores: ModelScores
    strata: ModelStrata = ModelStrata()
    demographics: Demographics = Demographics()
    baseline_easi_median: dict[str, Annotated[Finite, Field(gt=0)]]
    baseline_easi_log_sd: Finite = Field(gt=0)
    eligibility_min_easi: Finite = Field(ge=0, lt=72)
    placebo_onset_weeks: Finite = Field(gt=0)
    drug_onset_weeks: Finite = Field(gt=0)
    patient_sd: Finite = Field(ge=0)
    visit_sd: Finite = Field(ge=0)
    prior_biologic_effect: Finite = Field(ge=0)
    iga_per_log_easi: Finite = Field(gt=0)
    iga_visit_sd: Finite = Field(ge=0)
    riga_visit_sd: Finite = Field(ge=0)
    baseline_nrs_mean: Finite = Field(ge=0, le=10)
    baseline_nrs_sd: Finite = Field(ge=0)
    nrs_daily_sd: Finite = Field(ge=0)
    nrs_patient_sd: Finite = Field(ge=0)
    rescue_from_week: int = Field(ge=0)
    rescue_if_easi_ratio_above: Finite = Field(ge=0)
    rescue_prob_per_visit: Finite = Field(ge=0, le=1)
    rescue_effect: Finite = Field(ge=0)
    dropout_prob_per_visit: dict[str, Annotated[Finite, Field(ge=0, lt=1)]]
    dropout_worsening_multiplier: Finite = Field(ge=0)
    visit_day_jitter: int = Field(ge=0, le=14)
    placebo_effect: Finite
    placebo_nrs_effect: Finite = 0.0
    arms: dict[str, ArmModel]


class Scenario(_Model):
    """A what-if for design simulations: the fitted model (``effect_scale = 1``), no drug effect (``null``), a
    scaled drug effect, or explicit arm parameters (``arms``) that override the fitted ones."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    description: str = ""
    null: bool = False
    effect_scale: Finite = Field(default=1.0, ge=0)
    arms: dict[str, ArmModel] = Field(default_factory=dict)


class Study(_Model):
    """A validated study definition."""

    version: Literal[2] = Field(default=2, description="study file version")
    catalogues: list[str] = Field(default_factory=list, description="score catalogues used (e.g. atopic-dermatitis)")
    study: StudyInfo
    scores: dict[str, Score] = Field(default_factory=dict)
    arms: list[Arm] = Field(min_length=2)
    randomization: Randomization = Randomization()
    visits: list[Visit] = Field(min_length=2)
    strata: list[Stratum] = Field(default_factory=list)
    endpoints: list[Endpoint] = Field(min_length=1)
    intercurrent_events: IntercurrentEvents = IntercurrentEvents()
    analysis: Analysis = Analysis()
    adam: AdamNames = AdamNames()
    vocabulary: Vocabulary = Vocabulary()
    published: list[Published] = Field(default_factory=list)
    calibration: list[CalibrationTarget] = Field(default_factory=list)
    model: DiseaseModel | None = None
    multiplicity: dict[str, Any] | None = None
    scenarios: list[Scenario] = Field(default_factory=list)
    safety: dict[str, Any] | None = None

    # -- convenience -------------------------------------------------------------------------------------------
    @property
    def placebo(self) -> Arm:
        """The comparator arm (``placebo = true``)."""
        return next(a for a in self.arms if a.placebo)

    @property
    def active_arms(self) -> list[Arm]:
        return [a for a in self.arms if not a.placebo]

    def arm(self, arm_id: str) -> Arm:
        return next(a for a in self.arms if a.id == arm_id)

    def endpoint(self, endpoint_id: str) -> Endpoint:
        return next(e for e in self.endpoints if e.id == endpoint_id)

    def score(self, score_id: str) -> RegionalComposite | OrdinalScore | RatingScale | ContinuousScore:
        return self.scores[score_id]

    def paramcd(self, score_id: str) -> str:
        """The ADaM PARAMCD of a score."""
        return self.scores[score_id].paramcd or score_id

    def stratum(self, stratum_id: str) -> Stratum | None:
        return next((s for s in self.strata if s.id == stratum_id), None)

    def model_or_fail(self, what: str) -> DiseaseModel:
        if self.model is None:
            raise TrialkitError(f"{what} needs the disease model, and the study file has no [model] section",
                                variable="model", fix="add a [model] section (see docs/study-file.md)")
        return self.model

    @property
    def visit_weeks(self) -> list[int]:
        return [v.week for v in self.visits]

    def published_for(self, endpoint_id: str, arm_id: str) -> Published | None:
        return next((p for p in self.published if p.endpoint == endpoint_id and p.arm == arm_id), None)

    # -- estimands and analyses of an endpoint (endpoint setting, else the study default) -----------------------
    def strategies(self, ep: Endpoint) -> IntercurrentEvents:
        """The endpoint's strategies: its own, else the study's ``[intercurrent_events]`` for a responder endpoint;
        a continuous or ordinal endpoint defaults to the treatment policy for both events (the values as observed)
        and leaves missing values to its model (MMRM: missing at random)."""
        ice, e = self.intercurrent_events, ep.estimand
        if not ep.binary:
            ice = IntercurrentEvents(rescue="treatment-policy", discontinuation="treatment-policy",
                                     death="treatment-policy", missing="exclude")
        return IntercurrentEvents(rescue=e.rescue or ice.rescue,
                                  discontinuation=e.discontinuation or ice.discontinuation,
                                  death=e.death or ice.death, missing=e.missing or ice.missing)

    def population(self, ep: Endpoint | None = None) -> str:
        """The population flag variable (ITT -> ITTFL, EFF -> EFFFL, ...)."""
        pop = (ep.estimand.population if ep is not None else None) or self.analysis.population
        return {"ITT": "ITTFL", "mITT": "MITTFL", "EFF": "EFFFL", "SAF": "SAFFL", "PP": "PPROTFL"}.get(pop, pop)

    def population_flags(self) -> list[str]:
        """Every population flag the analyses read (the study's and each endpoint's), sorted."""
        return sorted({self.population(ep) for ep in self.endpoints} | {self.population()})

    def method(self, ep: Endpoint) -> str:
        if ep.analysis.method:
            return ep.analysis.method
        return "cmh" if ep.binary else ("cmh_rms" if ep.ordinal else "mmrm")

    def strata_for(self, ep: Endpoint) -> list[str]:
        return list(ep.analysis.strata if ep.analysis.strata is not None else self.analysis.stratify_by)

    def difference(self, ep: Endpoint) -> str:
        return ep.analysis.difference or self.analysis.difference

    def strategy(self) -> Any:
        """The multiplicity strategy (:class:`trialkit.multiplicity.Strategy`), or None if the file has none."""
        if self.multiplicity is None:
            return None
        from trialkit.multiplicity import Strategy

        return Strategy.from_dict({"alpha": self.study.alpha, **self.multiplicity}, source="multiplicity")

    def multiplicity_strategy_or_fail(self, source: str) -> Any:
        from trialkit.multiplicity import Strategy

        return Strategy.from_dict({"alpha": self.study.alpha, **(self.multiplicity or {})},
                                  source=f"{source}: multiplicity")

    def hypothesis(self, endpoint_id: str, arm_id: str) -> str:
        """Name of the multiplicity hypothesis for an endpoint and an active arm."""
        return f"{endpoint_id}_{arm_id}"

    def split_hypothesis(self, name: str) -> tuple[str, str]:
        """(endpoint id, arm id) of a hypothesis name ``ENDPOINT_ARM`` (ids may themselves hold underscores)."""
        for e in self.endpoints:
            for a in self.active_arms:
                if name == self.hypothesis(e.id, a.id):
                    return e.id, a.id
        raise TrialkitError(f"hypothesis {name!r} does not name an endpoint and an active arm",
                            variable="multiplicity.graph", fix="name hypotheses ENDPOINT_ARM")

    def scenario(self, name: str) -> Study:
        """A copy whose arm-level model parameters follow scenario ``name``."""
        sc = next((x for x in self.scenarios if x.name == name), None)
        if sc is None:
            raise TrialkitError(f"unknown scenario '{name}'", variable="scenarios",
                                fix=f"use one of {[x.name for x in self.scenarios]}")
        model = self.model_or_fail("a design scenario")
        pbo = model.arms[self.placebo.id]
        arms = dict(model.arms)
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
        if self.placebo.id in sc.arms:
            arms[self.placebo.id] = sc.arms[self.placebo.id]
        update: dict[str, Any] = {"arms": arms}
        if sc.null:
            # no drug effect at all: the active arms also drop out as placebo patients do
            drop = dict(model.dropout_prob_per_visit)
            for a in self.active_arms:
                drop[a.id] = drop[self.placebo.id]
            update["dropout_prob_per_visit"] = drop
        return self.model_copy(update={"model": model.model_copy(update=update)})

    def with_n(self, n: int) -> Study:
        """A copy with another number of randomized patients."""
        return self.model_copy(update={"study": self.study.model_copy(update={"n_randomized": int(n)})})


_DISCRIMINATED = set(RULE_KINDS) | set(SCORE_KINDS)


def _is_tag(loc: tuple[Any, ...], i: int) -> bool:
    """Whether ``loc[i]`` is the discriminator tag pydantic puts after a union field (rule, rules[k], scores.ID),
    not a key of the file (``threshold`` is both a rule kind and a key of other rules)."""
    part = loc[i]
    if part not in _DISCRIMINATED or i == 0:
        return False
    prev = loc[i - 1]
    return prev == "rule" or (isinstance(prev, int) and i > 1 and loc[i - 2] == "rules") or (
        i > 1 and loc[i - 2] == "scores")


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif _is_tag(loc, i) or str(part).startswith(("function-", "tagged-union")):
            continue  # discriminator tag in pydantic's location, not a key of the file
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _consistency(s: Study) -> list[tuple[str, str, str]]:
    """Every cross-reference problem of a study whose sections each validated: (key, problem, fix)."""
    out: list[tuple[str, str, str]] = []

    def fail(key: str, problem: str, fix: str) -> None:
        out.append((key, problem, fix))

    arm_ids = [a.id for a in s.arms]
    if len(set(arm_ids)) != len(arm_ids):
        fail("arms", f"arm ids are not unique: {arm_ids}", "give every arm its own id")
    labels = [a.label for a in s.arms]
    if len(set(labels)) != len(labels):
        fail("arms", f"arm labels are not unique: {labels}", "give every arm its own label")
    n_pbo = sum(a.placebo for a in s.arms)
    if n_pbo != 1:
        fail("arms", f"exactly one arm must be the comparator (placebo = true), found {n_pbo}",
             "mark the control arm with placebo = true")
    weeks = [v.week for v in s.visits]
    if weeks != sorted(set(weeks)):
        fail("visits", f"visit weeks must be unique and increasing, got {weeks}", "order the [[visits]]")
    if weeks and weeks[0] != 0:
        fail("visits[0].week", "the first visit must be the baseline at week 0", "add a baseline visit")
    if weeks and max(weeks) > s.study.duration_weeks:
        fail("visits", f"visit at week {max(weeks)} is after the end of the study "
             f"(duration_weeks = {s.study.duration_weeks})", "fix the visit or the duration")
    names = [v.name for v in s.visits]
    if len(set(names)) != len(names):
        fail("visits", f"visit names are not unique: {names}", "give every visit its own name")
    for i, a in enumerate(s.arms):
        late = [w for w in a.regimen.weeks if w > s.study.duration_weeks]
        if late:
            shown = ", ".join(map(str, late[:5])) + (f" and {len(late) - 5} more" if len(late) > 5 else "")
            fail(f"arms[{i}].regimen.until_week", f"doses at weeks {shown} are after the end of the study "
                 f"(duration_weeks = {s.study.duration_weeks})", "shorten the regimen")
    for key, sc in s.scores.items():
        lo, hi = sc.range
        if lo is not None and hi is not None and lo >= hi:
            fail(f"scores.{key}.range", f"the range [{lo}, {hi}] is empty", "give the lowest and highest value")
        if isinstance(sc, RegionalComposite) and sorted(sc.area.lower) != sc.area.lower:
            fail(f"scores.{key}.area.lower", "band edges must increase", "order the band edges")
    score_ids = sorted(s.scores)
    ids = [e.id for e in s.endpoints]
    if len(set(ids)) != len(ids):
        fail("endpoints", f"endpoint ids are not unique: {ids}", "rename the duplicate")
    strata_ids = [st.id for st in s.strata]
    if len(set(strata_ids)) != len(strata_ids):
        fail("strata", f"stratum ids are not unique: {strata_ids}", "give every stratum its own id")
    for i, e in enumerate(s.endpoints):
        key = f"endpoints[{i}]"
        if e.score not in s.scores:
            fail(f"{key}.score", f"endpoint {e.id}: unknown score '{e.score}' (scores: {score_ids})",
                 "define it under [scores.ID] or add the catalogue that has it to `catalogues`")
        if e.visit_week not in weeks:
            fail(f"{key}.visit_week", f"endpoint {e.id} is assessed at week {e.visit_week}, which is "
                 f"not a visit of the study (visits at weeks {weeks})", "use one of the visit weeks")
        elif e.visit_week == 0:
            fail(f"{key}.visit_week", f"endpoint {e.id} cannot be assessed at baseline", "use a post-baseline visit")
        method = s.method(e)
        allowed = ("cmh", "logistic") if e.binary else ("cmh_rms",) if e.ordinal else ("mmrm", "ancova", "summary")
        if method not in allowed:
            fail(f"{key}.analysis.method", f"'{method}' does not analyse a {e.rule.kind} endpoint",
                 f"use one of {list(allowed)}")
        if not e.binary and e.source != "derive":
            fail(f"{key}.source", "only responder endpoints can be read from a flag", "remove source")
        if e.source != "derive" and s.strategies(e).missing == "bocf":
            fail(f"{key}.estimand.missing", "a flag read from the data has no baseline to carry forward",
                 "use non-responder, locf or exclude")
        if e.analysis.dose_response and method != "ancova":
            fail(f"{key}.analysis.dose_response", "the dose-response test comes with the ANCOVA",
                 "set method = \"ancova\" or remove dose_response")
        if e.analysis.covariates and method not in ("ancova", "mmrm"):
            fail(f"{key}.analysis.covariates", f"covariates are not used by '{method}'", "remove them")
        if e.analysis.difference and not e.binary:
            fail(f"{key}.analysis.difference", "a risk difference needs a responder endpoint", "remove it")
        for j, sid in enumerate(e.analysis.strata or []):
            if sid not in strata_ids:
                fail(f"{key}.analysis.strata[{j}]", f"'{sid}' is not a stratum (strata: {strata_ids})",
                     "name a stratum defined in [[strata]]")
        est = e.estimand
        if not e.binary and "non-responder" in (est.rescue, est.discontinuation, est.death, est.missing):
            fail(f"{key}.estimand", "non-responder imputation needs a responder endpoint",
                 "use another strategy for this continuous or ordinal endpoint")
        if e.binary and est.summary not in (None, "risk difference") or e.continuous and est.summary not in (
                None, "difference in means") or e.ordinal and est.summary not in (None, "row mean scores"):
            fail(f"{key}.estimand.summary", f"'{est.summary}' does not summarise a {e.rule.kind} endpoint",
                 "use 'risk difference' (responders), 'difference in means' (continuous) or 'row mean scores'")
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
        src = st.source
        if src is not None:
            if src.cuts is not None and src.map is not None:
                fail(f"strata[{i}].source", "give cuts or map, not both", "keep one")
            if src.cuts is not None and len(src.cuts) != len(st.levels) - 1:
                fail(f"strata[{i}].source.cuts", f"{len(src.cuts)} cut-points for {len(st.levels)} levels",
                     f"give {len(st.levels) - 1} increasing cut-points")
            elif src.cuts is not None and sorted(src.cuts) != src.cuts:
                fail(f"strata[{i}].source.cuts", "cut-points must increase", "order them")
            if src.map is not None:
                unknown = [lv for lv in src.map if lv not in st.levels]
                if unknown:
                    fail(f"strata[{i}].source.map", f"map keys {unknown} are not levels of {st.id}",
                         f"use the levels {st.levels}")
                values = [v for vs in src.map.values() for v in vs]
                if len(set(values)) != len(values):
                    fail(f"strata[{i}].source.map", "a value maps to more than one level", "map each value once")
    for j, sid in enumerate(s.analysis.stratify_by):
        if sid not in strata_ids:
            fail(f"analysis.stratify_by[{j}]", f"'{sid}' is not a stratum (strata: {strata_ids})",
                 "name a stratum defined in [[strata]]")
    for i, p in enumerate(s.published):
        if p.endpoint not in ids:
            fail(f"published[{i}].endpoint", f"unknown endpoint '{p.endpoint}'", f"use one of {ids}")
        if p.arm not in arm_ids:
            fail(f"published[{i}].arm", f"unknown arm '{p.arm}'", f"use one of {arm_ids}")
    for i, c in enumerate(s.calibration):
        if c.endpoint not in ids:
            fail(f"calibration[{i}].endpoint", f"unknown endpoint '{c.endpoint}'", f"use one of {ids}")
        elif not s.endpoint(c.endpoint).binary:
            fail(f"calibration[{i}].endpoint", f"{c.endpoint} is not a responder endpoint", "calibrate on rates")
        if c.bracket[0] >= c.bracket[1]:
            fail(f"calibration[{i}].bracket", "the bracket must be [low, high]", "order the bracket")
    if s.calibration and not s.published:
        fail("calibration", "calibration targets but no [[published]] results to fit", "add the published rates")
    names = [sc.name for sc in s.scenarios]
    if len(set(names)) != len(names):
        fail("scenarios", f"scenario names are not unique: {names}", "rename the duplicate")
    if s.model is not None:
        out += _model_consistency(s, arm_ids, strata_ids)
    elif s.scenarios or s.calibration:
        fail("model", "scenarios and calibration need the disease model", "add a [model] section")
    for i, sc in enumerate(s.scenarios):
        for key in sc.arms:
            if key not in arm_ids:
                fail(f"scenarios[{i}].arms.{key}", f"'{key}' is not an arm of the study", f"use one of {arm_ids}")
    if s.multiplicity is not None:
        try:
            strategy = s.multiplicity_strategy_or_fail("")
        except TrialkitError as exc:
            fail("multiplicity" + (f".{exc.variable}" if exc.variable else ""), exc.problem, exc.fix or "correct it")
        else:
            tested = [e for e in s.endpoints if s.method(e) in ("cmh", "logistic", "ancova", "mmrm")]
            expected = {s.hypothesis(e.id, a.id) for e in tested for a in s.active_arms}
            unknown = [h for h in strategy.graph.names if h not in expected]
            if unknown:
                fail("multiplicity.graph", f"hypotheses {unknown} do not name an endpoint tested against the "
                     "comparator (cmh, ancova or mmrm) and an active arm as ENDPOINT_ARM",
                     f"use names from {sorted(expected)}")
    if s.safety is not None:
        from trialkit.safety.simulate import AESimConfig

        try:
            cfg = AESimConfig.from_dict(s.safety)
        except TrialkitError as exc:
            fail(f"safety{('.' + exc.variable) if exc.variable else ''}", exc.problem, exc.fix or "correct it")
        else:
            for term in cfg.terms:
                missing = [lab for lab in labels if lab not in term.incidence]
                if missing:
                    fail(f"safety.terms.{term.pt}.incidence", f"no incidence for arm(s) {missing}",
                         "give one incidence per arm label")
    return out


def _model_consistency(s: Study, arm_ids: list[str], strata_ids: list[str]) -> list[tuple[str, str, str]]:
    m = s.model
    assert m is not None
    out: list[tuple[str, str, str]] = []
    for role, sid in m.scores:
        if sid is not None and sid not in s.scores:
            out.append((f"model.scores.{role}", f"unknown score '{sid}'", f"use one of {sorted(s.scores)}"))
    comp = s.scores.get(m.scores.composite)
    if comp is not None and not isinstance(comp, RegionalComposite):
        out.append(("model.scores.composite", f"'{m.scores.composite}' is not a regional composite score",
                    "name the study's regional composite score"))
    if isinstance(comp, RegionalComposite):
        from trialkit import scores as model_scores  # the composite the disease model simulates

        same = ([r.weight for r in comp.regions] == model_scores.WEIGHTS_ADULT.tolist()
                and [r.child_weight or r.weight for r in comp.regions] == model_scores.WEIGHTS_CHILD.tolist()
                and len(comp.signs) == len(model_scores.SIGNS) and comp.sign_max == 3 and comp.sign_step == 0.5
                and comp.area.lower == model_scores.AREA_BAND_LOWER.tolist() and comp.child_age_below == 8)
        if not same:
            out.append(("model.scores.composite", f"the disease model simulates a composite of 4 regions (weights "
                        f"{model_scores.WEIGHTS_ADULT.tolist()}, children {model_scores.WEIGHTS_CHILD.tolist()} "
                        f"under 8) x {len(model_scores.SIGNS)} signs 0-3 in half points x area bands "
                        f"{model_scores.AREA_BAND_LOWER.tolist()}; '{m.scores.composite}' differs",
                        "simulate with that structure, or analyse your data with trialkit analyze (no [model])"))
    modelled = {sid for _, sid in m.scores if sid is not None}
    for i, e in enumerate(s.endpoints):
        if e.score in s.scores and e.score not in modelled:
            out.append((f"endpoints[{i}].score", f"the disease model does not simulate '{e.score}' "
                        f"(it records {sorted(modelled)})", "map it in [model.scores] or remove [model]"))
    for role in ("severity", "prior_therapy", "region"):
        sid = getattr(m.strata, role)
        if sid is not None and sid not in strata_ids:
            out.append((f"model.strata.{role}", f"'{sid}' is not a stratum (strata: {strata_ids})",
                        "name a stratum defined in [[strata]]"))
    sev = s.stratum(m.strata.severity) if m.strata.severity else None
    if sev is not None:
        missing = [lv for lv in sev.levels if lv not in m.baseline_easi_median]
        if missing:
            out.append(("model.baseline_easi_median", f"no median baseline score for {sev.id} level(s) {missing}",
                        f"give one median per {sev.id} level"))
        bad = [lv for lv in sev.levels if not lv.isdigit()]
        if bad:
            out.append(("model.strata.severity", f"levels {bad} of {sev.id} are not global-assessment scores",
                        "use the baseline scores as levels (e.g. \"3\", \"4\")"))
    pt = s.stratum(m.strata.prior_therapy) if m.strata.prior_therapy else None
    if pt is not None and m.strata.prior_therapy_level not in pt.levels:
        out.append(("model.strata.prior_therapy_level", f"'{m.strata.prior_therapy_level}' is not a level of "
                    f"{pt.id}", f"use one of {pt.levels}"))
    reg = s.stratum(m.strata.region) if m.strata.region else None
    races = s.vocabulary.races
    for key, row in s.vocabulary.race_mix.items():
        if key != "default" and reg is None:
            out.append((f"vocabulary.race_mix.{key}", "race mix by region, but the model has no region stratum "
                        "(model.strata.region)", "set model.strata.region to the region stratum, or use 'default'"))
        elif key != "default" and key not in reg.levels:
            out.append((f"vocabulary.race_mix.{key}", f"not a level of the region stratum {reg.id}",
                        f"use the levels {reg.levels} or 'default'"))
        if len(row) != len(races):
            out.append((f"vocabulary.race_mix.{key}", f"{len(row)} proportions for {len(races)} races",
                        "give one proportion per race"))
        elif not math.isclose(sum(row), 1.0, abs_tol=1e-6):
            out.append((f"vocabulary.race_mix.{key}", f"proportions sum to {sum(row):g}", "make them add up to 1"))
    if m.demographics.age_min > m.demographics.age_max:
        out.append(("model.demographics", "age_min is above age_max", "swap them"))
    for arm_id in arm_ids:
        if arm_id not in m.arms:
            out.append(("model.arms", f"no disease-model parameters for arm '{arm_id}'",
                        f"add a [model.arms.{arm_id}] table (trialkit calibrate fits it)"))
        if arm_id not in m.dropout_prob_per_visit:
            out.append(("model.dropout_prob_per_visit", f"no dropout probability for arm '{arm_id}'",
                        f"add {arm_id} = 0.01"))
    for key in m.arms:
        if key not in arm_ids:
            out.append((f"model.arms.{key}", f"'{key}' is not an arm of the study", f"use one of {arm_ids}"))
    return out


def catalogue(name: str) -> dict[str, Any]:
    """The scores of a shipped catalogue (``src/trialkit/catalogue/NAME.toml``) as raw TOML tables."""
    files = resources.files("trialkit.catalogue")
    available = sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))
    if name not in available:
        raise KeyError(name)
    return tomllib.loads(files.joinpath(f"{name}.toml").read_text(encoding="utf-8")).get("scores", {})


def catalogue_names() -> list[str]:
    files = resources.files("trialkit.catalogue")
    return sorted(p.name[:-5] for p in files.iterdir() if p.name.endswith(".toml"))


def _pydantic_problems(exc: ValidationError) -> list[tuple[str, str, str]]:
    out = []
    for err in exc.errors():
        key = _loc(tuple(err["loc"]))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg, fix = "unknown key", "remove it or check its spelling (docs/study-file.md lists every key)"
        elif err["type"] == "missing":
            msg, fix = "required key is missing", "add it"
        else:
            got = err.get("input")
            msg = f"{msg} (got {got!r})" if not isinstance(got, dict | list) else msg
            fix = "correct the value"
        out.append((key, msg, fix))
    return out


def parse_study(data: dict[str, Any], source: str = "<study>") -> Study:
    """Validate a study definition given as a dict (e.g. from TOML); every problem is reported together."""
    problems: list[tuple[str, str, str]] = []
    data = dict(data)
    if not isinstance(data.get("scores", {}), dict):
        problems.append(("scores", "must be a table of scores by id", "write [scores.ID] tables"))
        data["scores"] = {}
    merged: dict[str, Any] = {}
    cats = data.get("catalogues", [])
    if isinstance(cats, list):
        for i, name in enumerate(cats):
            try:
                merged.update(catalogue(str(name)))
            except KeyError:
                problems.append((f"catalogues[{i}]", f"unknown catalogue {name!r}",
                                 f"use one of {catalogue_names()}"))
    merged.update(data.get("scores", {}))
    data["scores"] = merged
    study = None
    try:
        study = Study.model_validate(data, strict=False)
    except ValidationError as exc:
        problems += _pydantic_problems(exc)
    if study is not None:
        problems += _consistency(study)
    if problems:
        errors = [TrialkitError(msg, source=source, variable=key, fix=fix) for key, msg, fix in problems]
        if len(errors) == 1:
            raise errors[0]
        raise TrialkitErrors(errors, summary=f"{source}: the study file has problems")
    assert study is not None
    return study


def load_study(path: str | Path) -> Study:
    """Read and validate a study TOML file (UTF-8; a byte-order mark is accepted)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise TrialkitError("file not found", source=str(path), fix="check the path") from None
    except IsADirectoryError:
        raise TrialkitError("is a folder, not a study file", source=str(path), fix="pass the .toml file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TrialkitError(f"cannot read the file ({exc})", source=str(path),
                            fix="pass a UTF-8 TOML study file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TrialkitError(f"not valid TOML: {exc}", source=str(path), fix="fix the TOML syntax") from None
    return parse_study(data, source=str(path))
