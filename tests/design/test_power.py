"""Analytic power of the stratified CMH test against rpact and the closed form written in R."""

import json
from pathlib import Path

import numpy as np
import pytest

from trialkit.design.power import cmh_power
from trialkit.errors import TrialkitError

FIXTURE = json.loads((Path(__file__).resolve().parents[2] / "validation" / "design" / "rpact_power.json").read_text())


@pytest.mark.parametrize("case", FIXTURE["cases"], ids=lambda c: f"{c['p1']}-{c['p2']}-{c['n']}")
def test_one_stratum_matches_r(case):
    mine = float(cmh_power([case["n1"]], [case["n2"]], [case["p1"]], [case["p2"]], case["alpha"]))
    assert mine == pytest.approx(case["power_fleiss"], rel=1e-6)
    # rpact evaluates the rejection probability numerically (about 1e-5 absolute)
    assert mine == pytest.approx(case["power"], abs=1e-4)


def test_identical_strata_equal_one_stratum():
    one = cmh_power([300], [200], [0.3], [0.2], 0.05)
    many = cmh_power([90, 120, 90], [60, 80, 60], [0.3] * 3, [0.2] * 3, 0.05)
    assert many == pytest.approx(one, rel=1e-12)


def test_vectorized_and_null():
    p = cmh_power(np.full((4, 2), 100.0), np.full((4, 2), 100.0), np.full((4, 2), 0.3), np.full((4, 2), 0.3),
                  np.array([0.01, 0.05, 0.1, 0.2]))
    assert p == pytest.approx([0.01, 0.05, 0.1, 0.2], rel=1e-9)  # no effect: power = alpha


def test_bad_input():
    with pytest.raises(TrialkitError):
        cmh_power([10], [10], [1.2], [0.1])
