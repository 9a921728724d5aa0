"""Shared test helpers."""

import polars as pl
import pytest


@pytest.fixture
def assert_same_efficacy():
    """Assert that two ARDs hold the same efficacy rows (adverse-event analyses left out) and values to 1e-9."""

    def check(got: pl.DataFrame, want: pl.DataFrame) -> None:
        def efficacy(ard: pl.DataFrame) -> pl.DataFrame:
            d = ard.filter(~pl.col("analysis_id").str.starts_with("AE"))
            return d.sort([c for c in d.columns if c != "stat"])

        a, b = efficacy(got), efficacy(want)
        assert a.select(pl.exclude("stat")).equals(b.select(pl.exclude("stat")))
        assert (a["stat"] - b["stat"]).abs().max() < 1e-9

    return check
