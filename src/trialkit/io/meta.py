"""Dataset metadata kept alongside a polars DataFrame: dataset name/label, per-variable label, type, length.

Types follow Dataset-JSON v1.1 ``dataType``: ``string``, ``integer``, ``double``, ``float``, ``decimal``,
``boolean``, ``date``, ``datetime``, ``time``. ``length`` is the storage length (bytes for character
variables, 8 for numerics in XPT).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import polars as pl


@dataclass
class VariableMeta:
    """One variable's metadata."""

    name: str
    label: str = ""
    type: str = "string"
    length: int | None = None
    format: str | None = None


@dataclass
class DatasetMeta:
    """A dataset's metadata: ``name`` (e.g. ``ADSL``), ``label`` and the variables in column order."""

    name: str
    label: str = ""
    variables: dict[str, VariableMeta] = field(default_factory=dict)

    def labels(self) -> dict[str, str]:
        return {k: v.label for k, v in self.variables.items()}

    def to_json(self) -> str:
        return json.dumps(
            {"name": self.name, "label": self.label, "variables": [asdict(v) for v in self.variables.values()]}
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> DatasetMeta:
        obj: dict[str, Any] = json.loads(text)
        vars_ = {v["name"]: VariableMeta(**v) for v in obj.get("variables", [])}
        return cls(name=obj.get("name", ""), label=obj.get("label", ""), variables=vars_)


class Dataset(NamedTuple):
    """A data frame with its metadata; unpacks as ``df, meta = read_dataset(path)``."""

    df: pl.DataFrame
    meta: DatasetMeta


def polars_type(dtype: pl.DataType) -> str:
    """Dataset-JSON ``dataType`` for a polars dtype."""
    if dtype == pl.Utf8 or dtype == pl.Categorical or isinstance(dtype, pl.Enum):
        return "string"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_integer():
        return "integer"
    if dtype == pl.Float32:
        return "float"
    if dtype.is_float() or dtype.is_decimal():
        return "double"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "datetime"
    if dtype == pl.Time:
        return "time"
    return "string"


def infer_meta(df: pl.DataFrame, name: str, label: str = "", base: DatasetMeta | None = None) -> DatasetMeta:
    """Metadata for ``df``: variables from ``base`` where given, otherwise inferred from the dtypes.

    Character lengths are the longest value in UTF-8 bytes (at least 1) unless ``base`` says more.
    """
    variables: dict[str, VariableMeta] = {}
    for col, dtype in df.schema.items():
        given = base.variables.get(col) if base is not None else None
        typ = polars_type(dtype)
        length: int | None
        if typ == "string":
            longest = df.get_column(col).cast(pl.Utf8).str.len_bytes().max()
            longest = int(longest) if longest is not None else 0  # type: ignore[arg-type]
            length = max(1, longest, (given.length or 0) if given else 0)
        elif typ in ("integer", "double", "float", "date", "datetime", "time", "boolean"):
            length = 8
        else:
            length = None
        variables[col] = VariableMeta(
            name=col,
            label=given.label if given else "",
            type=typ,
            length=length,
            format=given.format if given else None,
        )
    return DatasetMeta(
        name=name or (base.name if base else ""),
        label=label or (base.label if base else ""),
        variables=variables,
    )
