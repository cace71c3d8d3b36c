"""Errors, times as stored (ISO 8601 UTC text), read-only connections, and the lists of names stored as JSON."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from relaywatch.errors import RelaywatchError


class StoreError(RelaywatchError):
    pass


def read_only_connection(path: str, timeout: float = 5.0) -> sqlite3.Connection:
    """A read-only connection to the database at ``path`` (relative to the working directory or
    not), for a worker process: SQLite connections must not cross a fork."""
    return sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=timeout,
                           isolation_level=None)


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


# The matcher reads ~3 entries back for each one it stores; their lists of names (credit lines,
# relay footers, boilerplate patterns) and their feeds' credit names are a few values that recur,
# so each is decoded once (this and the conversion of times were a tenth of the writer's Python).
@lru_cache(maxsize=4096)
def _names(text: str | None) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text else ()


@lru_cache(maxsize=1024)
def _credit_names(credit: str, name: str, title: str) -> tuple[str, ...]:
    return _names(credit) or tuple(dict.fromkeys(n for n in (name, name.replace("-", " "), title) if n))
