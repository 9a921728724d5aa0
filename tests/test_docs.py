"""docs/study-file.md against the code: every key of the study file is documented in its section, every allowed
value is named there, and every TOML example is valid (complete files validate as study files, fragments validate
section by section)."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from trialkit.errors import TrialkitError
from trialkit.multiplicity import Strategy
from trialkit.multiplicity.procedures import METHODS
from trialkit.multiplicity.templates import _TEMPLATES
from trialkit.safety.simulate import AESimConfig, AETermConfig
from trialkit.study import Study, parse_study

DOC = Path(__file__).resolve().parents[1] / "docs" / "study-file.md"
TEXT = DOC.read_text(encoding="utf-8")
TOP_KEYS = list(Study.model_fields)


# --- the document's structure ---------------------------------------------------------------------------------
def _sections(text: str) -> dict[str, str]:
    """Level-2 sections whose heading starts with a backticked key (`version`, `[study]`, `[scores.ID]`, `[[arms]]`),
    keyed by the top-level key, in document order."""
    out: dict[str, str] = {}
    parts = re.split(r"^## ", text, flags=re.M)
    for part in parts[1:]:
        heading = part.splitlines()[0]
        m = re.match(r"`\[{0,2}([a-z_]+)(?:\.ID)?\]{0,2}`", heading)
        if m:
            out[m.group(1)] = part
    return out


SECTIONS = _sections(TEXT)


def _blocks(text: str) -> list[str]:
    return re.findall(r"^```toml\n(.*?)^```", text, flags=re.M | re.S)


BLOCKS = _blocks(TEXT)


def _mentioned(name: str, section: str) -> bool:
    """``name`` in backticks: as a key (`name`) or, for a top-level key, as its table (`[name]`, `[[name]]`,
    `[name.ID]`)."""
    return any(f"`{form}`" in section for form in (name, f"[{name}]", f"[[{name}]]", f"[{name}.ID]"))


# --- the models' fields ---------------------------------------------------------------------------------------
def _inner(annotation: Any) -> Iterator[Any]:
    """Every type inside an annotation (through unions, Annotated, lists, dicts, tuples, Literals excluded)."""
    yield annotation
    origin = get_origin(annotation)
    if origin is Literal:
        return
    if origin is Annotated:
        yield from _inner(get_args(annotation)[0])
        return
    for arg in get_args(annotation):
        yield from _inner(arg)


def _models(annotation: Any) -> list[type[BaseModel]]:
    return [t for t in _inner(annotation) if isinstance(t, type) and issubclass(t, BaseModel)]


def _literals(annotation: Any) -> list[Any]:
    out: list[Any] = []
    for t in _inner(annotation):
        if get_origin(t) is Literal:
            out += list(get_args(t))
    return out


def _reachable(annotation: Any) -> list[type[BaseModel]]:
    """Every pydantic model reachable from an annotation (score kinds and rule kinds included)."""
    seen: list[type[BaseModel]] = []
    todo = _models(annotation)
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.append(m)
        for f in m.model_fields.values():
            todo += _models(f.annotation)
    return seen


def _fields_by_key() -> list[tuple[str, str, str, Any]]:
    """(top-level key, model name, field name, annotation) for every field reachable from Study."""
    rows = []
    for key, info in Study.model_fields.items():
        rows.append((key, "Study", key, info.annotation))
        for model in _reachable(info.annotation):
            for name, f in model.model_fields.items():
                rows.append((key, model.__name__, name, f.annotation))
    return rows


FIELDS = _fields_by_key()


def test_the_walk_reaches_every_kind():
    """The recursive walk sees the score kinds, the rule kinds (also nested in all/any) and the model tables."""
    names = {m for _, m, _, _ in FIELDS}
    for model in ("RegionalComposite", "OrdinalScore", "RatingScale", "ContinuousScore", "Region", "Sign",
                  "AreaBands", "ScoreSource", "PctReduction", "ScoreResponse", "Reduction", "Increase", "Threshold",
                  "AllOf", "AnyOf", "Continuous", "Ordinal", "Estimand", "EndpointAnalysis", "FlagSource",
                  "Regimen", "StratumSource", "ModelScores", "ModelStrata", "Demographics", "ArmModel"):
        assert model in names
    assert len(FIELDS) > 150


# --- (a) every key documented ---------------------------------------------------------------------------------
def test_one_section_per_top_level_key_in_model_order():
    assert list(SECTIONS) == TOP_KEYS, "docs/study-file.md needs one '## `KEY`' section per Study field, in order"


def _undocumented(key: str, section: str) -> list[str]:
    return sorted({f"{model}.{name}" for k, model, name, _ in FIELDS if k == key and not _mentioned(name, section)})


@pytest.mark.parametrize("key", TOP_KEYS)
def test_every_field_is_documented_in_its_section(key):
    missing = _undocumented(key, SECTIONS.get(key, ""))
    assert not missing, f"section `{key}` of docs/study-file.md does not mention (backticked): {missing}"


def test_every_field_is_documented_by_name():
    missing = sorted({f"{model}.{name}" for _, model, name, _ in FIELDS if not _mentioned(name, TEXT)})
    assert not missing


@pytest.mark.parametrize("key", TOP_KEYS)
def test_every_allowed_value_is_named_in_its_section(key):
    section = SECTIONS.get(key, "")
    missing = sorted({f"{model}.{name}={choice!r}" for k, model, name, ann in FIELDS if k == key
                      for choice in _literals(ann)
                      if f'`"{choice}"`' not in section and f"`{choice}`" not in section})
    assert not missing, f"section `{key}` does not name the allowed values {missing}"


def test_multiplicity_keys_templates_and_methods_are_documented():
    section = SECTIONS["multiplicity"]
    keys = {"graph", "alpha", "method", "correlation", "claims", "template", "hypotheses", "edges", "from", "to",
            "weight", "names", "weights", "transitions", "pairs", "rho"}
    for name, (_, params) in _TEMPLATES.items():
        keys.add(name)
        keys.update(params)
    keys.update(METHODS)
    missing = sorted(k for k in keys if f"`{k}`" not in section and f'`"{k}"`' not in section)
    assert not missing


def test_safety_keys_are_documented():
    section = SECTIONS["safety"]
    keys = (set(AETermConfig.__dataclass_fields__) - {"pt"}) | set(AESimConfig.__dataclass_fields__)
    missing = sorted(k for k in keys if not _mentioned(k, section))
    assert not missing


# --- (b) the examples -----------------------------------------------------------------------------------------
def _marker(block: str) -> str | None:
    first = block.splitlines()[0].strip() if block.strip() else ""
    m = re.fullmatch(r"#\s*example:\s*(\w+)", first)
    return m.group(1) if m else None


def test_there_is_a_full_example_and_an_invalid_one():
    markers = [_marker(b) for b in BLOCKS]
    assert "full" in markers
    assert "invalid" in markers
    assert len(BLOCKS) >= 20


@pytest.mark.parametrize("block", [b for b in BLOCKS if _marker(b) == "full"])
def test_full_examples_are_valid_study_files(block):
    study = parse_study(tomllib.loads(block), source="docs/study-file.md")
    assert study.endpoints and study.arms


@pytest.mark.parametrize("block", [b for b in BLOCKS if _marker(b) == "invalid"])
def test_invalid_examples_are_refused(block):
    with pytest.raises(TrialkitError):
        parse_study(tomllib.loads(block), source="docs/study-file.md")


_ADAPTERS = {key: TypeAdapter(info.annotation) for key, info in Study.model_fields.items()}


def _check_fragment(data: dict[str, Any]) -> None:
    """Validate each top-level key of a fragment on its own (no cross-references)."""
    unknown = sorted(set(data) - set(TOP_KEYS))
    assert not unknown, f"not a study file key: {unknown}"
    for key, value in data.items():
        if key == "multiplicity":
            Strategy.from_dict(value, source="docs example")
        elif key == "safety":
            AESimConfig.from_dict(value)
        else:
            _ADAPTERS[key].validate_python(value, strict=False)


@pytest.mark.parametrize("block", [b for b in BLOCKS if _marker(b) not in ("full", "invalid")])
def test_other_examples_are_valid_toml_and_valid_sections(block):
    _check_fragment(tomllib.loads(block))


# --- the checks themselves catch omissions --------------------------------------------------------------------
def test_an_omitted_key_is_caught():
    """A key dropped from its section fails, even where the same name is documented in another section."""
    section = SECTIONS["endpoints"].replace("`min_baseline`", "min_baseline")
    assert _undocumented("endpoints", section) == ["Reduction.min_baseline"]
    assert _undocumented("study", SECTIONS["study"].replace("`label`", "label")) == []  # StudyInfo has no label
    assert _undocumented("scores", SECTIONS["scores"].replace("`label`", "label")) == sorted([
        "AreaBands.label", "ContinuousScore.label", "OrdinalScore.label", "RatingScale.label",
        "RegionalComposite.label", "Region.label", "Sign.label"])


def test_a_wrong_example_is_caught():
    with pytest.raises(ValidationError, match="every_week"):
        _check_fragment(tomllib.loads('[[arms]]\nid = "A"\nlabel = "A"\ndose_mg = 1\nallocation = 1\n'
                                      'regimen = { loading_weeks = [0], every_week = 1, until_week = 2 }\n'))
    with pytest.raises(TrialkitError, match="needs the parameter"):
        _check_fragment({"multiplicity": {"graph": {"template": "holm"}}})

