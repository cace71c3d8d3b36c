"""Errors, times as stored (ISO 8601 UTC text) and the row -> Link conversion shared by the store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from ..errors import RelaywatchError
from ..models import Link


class StoreError(RelaywatchError):
    pass


# cached: a batch's entries share their first-seen time, and entries read back share dates
@lru_cache(maxsize=4096)
def to_db(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@lru_cache(maxsize=4096)
def from_db(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text).astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _link(row: Sequence[Any]) -> Link:
    return Link(original_id=row[0], copy_id=row[1], via_id=row[2], kind=row[3], coverage=row[4],
                copy_share=row[5], lag_seconds=row[6], credited=bool(row[7]), anomaly=row[8])
