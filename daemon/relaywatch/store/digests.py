"""``store.digests``: the once-a-day digest's bookkeeping (``digests``, one row a day): which day's
digest is sent, being sent (claimed), or failed and when to try again."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from relaywatch.store.base import to_db

if TYPE_CHECKING:
    from relaywatch.store.core import Store


def _digest(row: dict[str, Any]) -> dict[str, Any]:
    return dict(row, recipients=json.loads(row["recipients"] or "[]"))


class Digests:
    """The ``digests`` table, through sqlite-utils (a few rows a day: no hot path)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def record(self, day: str) -> dict[str, Any] | None:
        """The day's row (``recipients`` decoded), if any."""
        row = next(self._store.db.table("digests").rows_where("day = ?", [day]), None)
        return _digest(row) if row else None

    def records(self, since_day: str | None = None) -> list[dict[str, Any]]:
        """The rows of ``since_day`` and after (all of them without it), oldest first."""
        rows = self._store.db.table("digests").rows_where("day >= ?", [since_day or ""], order_by="day")
        return [_digest(r) for r in rows]

    def claim(self, day: str, timezone: str, message_id: str, now: datetime, stale_before: datetime,
              ignore_backoff: bool = False, force: bool = False) -> dict[str, Any] | None:
        """Atomically take the sending of a day's digest; None when it is sent or being sent.

        A claim older than ``stale_before`` (a sender that died) can be taken again; a failed day
        waits for its ``next_attempt`` unless ``ignore_backoff``. The returned record keeps the
        Message-ID of an earlier attempt, so a resend of the same digest carries the same ID;
        ``force`` takes even a sent day, with the new Message-ID.
        """
        store = self._store
        with store.transaction():
            row = self.record(day)
            if row is None:
                store.db.table("digests").insert({
                    "day": day, "timezone": timezone, "message_id": message_id, "status": "sending",
                    "attempts": 1, "claimed_at": to_db(now), "created_at": to_db(now)})
                return self.record(day)
            if not force and _taken(row, now, stale_before, ignore_backoff):
                return None
            store.conn.execute("UPDATE digests SET status = 'sending', attempts = attempts + 1,"
                               " claimed_at = ?, message_id = CASE WHEN ? THEN ? ELSE"
                               " coalesce(message_id, ?) END WHERE day = ?",
                               (to_db(now), int(force), message_id, message_id, day))
            return self.record(day)

    def finish(self, day: str, recipients: Sequence[str], message_id: str | None, subject: str,
               sent_at: datetime, stories: int, copies: int, status: str = "sent") -> None:
        """The day's digest is sent (or ``status``: skipped)."""
        self._update(day, {"status": status, "recipients": json.dumps(list(recipients)), "message_id": message_id,
                           "subject": subject, "sent_at": to_db(sent_at), "stories": stories, "copies": copies,
                           "last_error": None, "next_attempt": None})

    def fail(self, day: str, recipients: Sequence[str], error: str, next_attempt: datetime | None) -> None:
        """The day's digest failed; it is tried again from ``next_attempt``."""
        self._update(day, {"status": "failed", "recipients": json.dumps(list(recipients)), "last_error": error,
                           "next_attempt": to_db(next_attempt)})

    def _update(self, day: str, values: dict[str, Any]) -> None:
        """Set ``values`` on the day's row (a day of no row: nothing to set)."""
        with self._store.transaction():
            row = next(self._store.db.table("digests").rows_where("day = ?", [day], select="id"), None)
            if row is not None:
                self._store.db.table("digests").update(row["id"], values)


def _taken(row: dict[str, Any], now: datetime, stale_before: datetime, ignore_backoff: bool) -> bool:
    """The day's digest is sent, being sent by a live sender, or waiting out its backoff."""
    if row["status"] in ("sent", "skipped"):
        return True
    claimed = row["claimed_at"]
    if row["status"] == "sending" and claimed and claimed > (to_db(stale_before) or ""):
        return True
    return bool(row["status"] == "failed" and not ignore_backoff and row["next_attempt"]
                and row["next_attempt"] > (to_db(now) or ""))
