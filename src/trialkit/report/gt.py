"""great_tables with reproducible HTML: the table id (random in great_tables) is derived from the content."""

from __future__ import annotations

import hashlib
from typing import Any

from great_tables import GT


def make_gt(data: Any, **kwargs: Any) -> GT:
    """``GT(data, **kwargs)`` with an id that depends only on the data, so the same inputs give the same bytes."""
    try:
        text = data.to_csv() if hasattr(data, "to_csv") else data.write_csv()
    except Exception:  # noqa: BLE001 - any frame type: fall back to its repr
        text = repr(data)
    digest = hashlib.sha1((text + repr(sorted(kwargs.items()))).encode("utf-8")).hexdigest()[:10]
    return GT(data, id=f"tk{digest}", **kwargs)
