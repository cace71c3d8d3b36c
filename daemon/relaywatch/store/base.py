"""Errors, times as stored (ISO 8601 UTC text), and rows turned into the dataclasses (feeds, entries, links)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from relaywatch.errors import RelaywatchError
from relaywatch.models import Feed, Link, StoredEntry


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


def _link(row: Sequence[Any]) -> Link:
    return Link(original_id=row[0], copy_id=row[1], via_id=row[2], kind=row[3], coverage=row[4],
                copy_share=row[5], lag_seconds=row[6], credited=bool(row[7]), anomaly=row[8])


_FEED_COLUMNS = ("id, name, url, role, credit, interval_s, source, title, status, etag, last_modified, failures,"
                 " last_error, last_status, last_poll, next_poll, fetch_article, min_interval_s, body_hash")
_ENTRY_SELECT = """SELECT e.id, e.feed_id, f.name, f.role, e.guid, e.url, e.title, e.published, e.first_seen,
    e.text, e.dateline, e.credits, e.sources, f.credit, f.title, e.boilerplate
    FROM entries e JOIN feeds f ON f.id = e.feed_id"""


def _feed(row: Sequence[Any]) -> Feed:
    return Feed(id=row[0], name=row[1], url=row[2], role=row[3], credit=tuple(json.loads(row[4])),
                interval=row[5], source=row[6], title=row[7], status=row[8], etag=row[9],
                last_modified=row[10], failures=row[11], last_error=row[12], last_status=row[13],
                last_poll=from_db(row[14]), next_poll=from_db(row[15]),
                fetch_article=None if row[16] is None else bool(row[16]), min_interval=row[17],
                body_hash=row[18])


# The matcher reads ~3 entries back for each one it stores; their lists of names (credit lines,
# relay footers, boilerplate patterns) and their feeds' credit names are a few values that recur,
# so each is decoded once (this and the conversion of times were a tenth of the writer's Python).
@lru_cache(maxsize=4096)
def _names(text: str | None) -> tuple[str, ...]:
    return tuple(json.loads(text)) if text else ()


@lru_cache(maxsize=1024)
def _credit_names(credit: str, name: str, title: str) -> tuple[str, ...]:
    return _names(credit) or tuple(dict.fromkeys(n for n in (name, name.replace("-", " "), title) if n))


def _names_json(names: tuple[str, ...]) -> str:
    return json.dumps(names) if names else "[]"


def _entry(row: Sequence[Any]) -> StoredEntry:
    return StoredEntry(id=row[0], feed_id=row[1], feed_name=row[2], role=row[3], guid=row[4], url=row[5],
                       title=row[6], published=from_db(row[7]), first_seen=from_db(row[8]) or utcnow(),
                       text=row[9], dateline=row[10], credits=_names(row[11]), sources=_names(row[12]),
                       credit_names=_credit_names(row[13], row[2], row[14]), feed_title=row[14],
                       boilerplate=_names(row[15]))
