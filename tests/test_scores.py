"""EASI from its components: hand-worked cases (half points, every area band, child weights)."""

import numpy as np
import pytest

from trialkit import scores
from trialkit.errors import TrialkitError


@pytest.mark.parametrize(
    ("percent", "band"),
    [(0, 0), (0.1, 1), (9, 1), (9.99, 1), (10, 2), (29.9, 2), (30, 3), (49, 3), (50, 4), (69.5, 4), (70, 5),
     (89, 5), (90, 6), (100, 6)],
)
def test_area_bands(percent, band):
    assert scores.area_score(percent) == band


def test_area_missing_and_invalid():
    assert np.isnan(scores.area_score(np.nan))
    with pytest.raises(TrialkitError, match="0-100"):
        scores.area_score([50, 101])


def test_easi_hand_worked_adult():
    # head/neck: signs 1 + 0.5 + 0.5 + 0 = 2, area 15% -> 2, weight 0.1 -> 0.4
    # upper limbs: 2 + 1.5 + 1 + 0.5 = 5, area 35% -> 3, weight 0.2 -> 3.0
    # trunk: 2.5 + 2.5 + 2 + 1 = 8, area 55% -> 4, weight 0.3 -> 9.6
    # lower limbs: 3 + 3 + 2.5 + 3 = 11.5, area 95% -> 6, weight 0.4 -> 27.6
    signs = [[1, 0.5, 0.5, 0], [2, 1.5, 1, 0.5], [2.5, 2.5, 2, 1], [3, 3, 2.5, 3]]
    area = scores.area_score([15, 35, 55, 95])
    assert area.tolist() == [2, 3, 4, 6]
    assert scores.easi(signs, area, 30) == pytest.approx(0.4 + 3.0 + 9.6 + 27.6, abs=1e-12)


def test_easi_child_weights_and_bands_1_and_5():
    # every region: signs 1.5 + 1 + 0.5 + 0 = 3; areas 5% -> 1, 75% -> 5, 0% -> 0, 25% -> 2
    signs = [[1.5, 1, 0.5, 0]] * 4
    area = scores.area_score([5, 75, 0, 25])
    assert area.tolist() == [1, 5, 0, 2]
    adult = 0.1 * 3 * 1 + 0.2 * 3 * 5 + 0 + 0.4 * 3 * 2
    child = 0.2 * 3 * 1 + 0.2 * 3 * 5 + 0 + 0.3 * 3 * 2
    assert scores.easi(signs, area, 40) == pytest.approx(adult)
    assert scores.easi(signs, area, 7) == pytest.approx(child)
    assert scores.easi(signs, area, 8) == pytest.approx(adult)  # 8 years and over: adult weights


def test_easi_extremes_and_vectorized():
    full = np.full((4, 4), 3.0)
    assert scores.easi(full, [6, 6, 6, 6]) == pytest.approx(72.0)
    assert scores.easi(np.zeros((4, 4)), [0, 0, 0, 0]) == 0.0
    batch = np.stack([full, np.zeros((4, 4))])
    out = scores.easi(batch, np.array([[6] * 4, [0] * 4]), np.array([30, 5]))
    assert out.tolist() == [72.0, 0.0]


def test_easi_missing_component_gives_nan():
    signs = np.full((4, 4), 1.0)
    signs[2, 1] = np.nan
    assert np.isnan(scores.easi(signs, [1, 1, 1, 1]))


@pytest.mark.parametrize("bad", [3.5, 1.25, -0.5])
def test_easi_rejects_invalid_signs(bad):
    signs = np.full((4, 4), 1.0)
    signs[0, 0] = bad
    with pytest.raises(TrialkitError, match="half points"):
        scores.easi(signs, [1, 1, 1, 1])
