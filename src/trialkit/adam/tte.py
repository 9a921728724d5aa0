"""Time-to-event parameters (ADaM ADTTE).

Reference: admiral ``derive_param_tte`` (event_source / censor_source); ADaM BDS for time-to-event v1.0
(variables STARTDT, ADT, AVAL, CNSR, EVNTDESC, CNSRDESC, SRCDOM, SRCVAR, SRCSEQ).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from trialkit.errors import TrialkitError


def derive_param_tte(
    adsl: pl.DataFrame,
    events: pl.DataFrame,
    *,
    event: pl.Expr | None = None,
    event_date: str = "ASTDT",
    start_date: str = "TRTSDT",
    censor_date: str = "TRTEDT",
    paramcd: str = "TTE",
    param: str | None = None,
    by: Sequence[str] = ("USUBJID",),
    evntdesc: str = "Event",
    cnsrdesc: str = "Censored",
    event_domain: str = "ADAE",
    censor_domain: str = "ADSL",
    seq: str | None = "AESEQ",
    ignore_after_censor: bool = False,
    adsl_vars: Sequence[str] = (),
    dataset: str = "ADTTE",
) -> pl.DataFrame:
    """One time-to-event record per subject of ``adsl``: time from ``start_date`` to the first event.

    The event date is the earliest ``event_date`` among ``events`` records where ``event`` holds, on or
    after the subject's start date (``ignore_after_censor`` also drops events after the censoring date).
    Subjects with an event get ``CNSR = 0``, ``ADT`` = event date; the others are censored (``CNSR = 1``)
    at ``censor_date`` of ADSL. ``AVAL = ADT - STARTDT + 1`` days. ``EVNTDESC`` holds ``evntdesc`` or
    ``cnsrdesc`` (admiral puts both there), ``CNSRDESC`` only ``cnsrdesc`` on censored records; ``SRCDOM``,
    ``SRCVAR``, ``SRCSEQ`` say where ``ADT`` came from. ``adsl_vars`` are copied from ADSL.

    >>> from datetime import date
    >>> adsl = pl.DataFrame({"USUBJID": ["1", "2"], "TRTSDT": [date(2024, 1, 1)] * 2,
    ...                      "TRTEDT": [date(2024, 3, 1)] * 2})
    >>> ae = pl.DataFrame({"USUBJID": ["1", "1"], "ASTDT": [date(2024, 1, 20), date(2024, 1, 10)],
    ...                    "AESEQ": [1, 2], "DERM": ["Y", "Y"]})
    >>> tte = derive_param_tte(adsl, ae, event=pl.col("DERM") == "Y", paramcd="TTDE")
    >>> tte.select("USUBJID", "AVAL", "CNSR", "SRCSEQ").rows()
    [('1', 10.0, 0, 2.0), ('2', 61.0, 1, None)]
    """
    from trialkit.adam.verbs import assert_vars

    by = list(by)
    assert_vars(adsl, [*by, start_date, censor_date, *adsl_vars], "ADSL")
    ev_need = [*by, event_date] + ([seq] if seq else [])
    if event is not None:
        ev_need += [c for c in event.meta.root_names() if c not in ev_need]
    assert_vars(events, ev_need, event_domain)
    if adsl.select(by).is_duplicated().any():
        raise TrialkitError(
            f"ADSL has more than one row per {'/'.join(by)}",
            source="ADSL",
            variable="/".join(by),
            rows=adsl.filter(adsl.select(by).is_duplicated()).select(by).to_series().head(5).to_list(),
            fix="keep one ADSL row per subject",
        )
    subj = adsl.select(*by, pl.col(start_date).cast(pl.Date).alias("STARTDT"),
                       pl.col(censor_date).cast(pl.Date).alias("__cdt"), *adsl_vars)
    ev = events if event is None else events.filter(event.fill_null(False))
    seq_expr = pl.col(seq).cast(pl.Float64) if seq else pl.lit(None, pl.Float64)
    ev = ev.select(*by, pl.col(event_date).cast(pl.Date).alias("__edt"), seq_expr.alias("__seq"))
    ev = ev.join(subj.select(*by, "STARTDT", "__cdt"), on=by, how="inner")
    keep = pl.col("__edt").is_not_null() & (pl.col("__edt") >= pl.col("STARTDT"))
    if ignore_after_censor:
        keep = keep & (pl.col("__edt") <= pl.col("__cdt"))
    first = (
        ev.filter(keep.fill_null(False))
        .sort([*by, "__edt", "__seq"], nulls_last=True)
        .group_by(by, maintain_order=True)
        .first()
        .select(*by, "__edt", "__seq")
    )
    out = subj.join(first, on=by, how="left", maintain_order="left")
    is_ev = pl.col("__edt").is_not_null()
    out = out.with_columns(
        pl.lit(paramcd, pl.Utf8).alias("PARAMCD"),
        pl.lit(param if param is not None else paramcd, pl.Utf8).alias("PARAM"),
        pl.when(is_ev).then(pl.col("__edt")).otherwise(pl.col("__cdt")).alias("ADT"),
        pl.when(is_ev).then(0).otherwise(1).cast(pl.Int64).alias("CNSR"),
        pl.when(is_ev).then(pl.lit(evntdesc)).otherwise(pl.lit(cnsrdesc)).alias("EVNTDESC"),
        pl.when(is_ev).then(None).otherwise(pl.lit(cnsrdesc)).cast(pl.Utf8).alias("CNSRDESC"),
        pl.when(is_ev).then(pl.lit(event_domain)).otherwise(pl.lit(censor_domain)).alias("SRCDOM"),
        pl.when(is_ev).then(pl.lit(event_date)).otherwise(pl.lit(censor_date)).alias("SRCVAR"),
        pl.when(is_ev).then(pl.col("__seq")).otherwise(None).alias("SRCSEQ"),
    ).with_columns(
        ((pl.col("ADT") - pl.col("STARTDT")).dt.total_days() + 1).cast(pl.Float64).alias("AVAL"),
    )
    cols = [*by, "PARAMCD", "PARAM", "STARTDT", "ADT", "AVAL", "CNSR", "EVNTDESC", "CNSRDESC",
            "SRCDOM", "SRCVAR", "SRCSEQ", *adsl_vars]
    return out.select(cols)
