"""Read-side queries of the store: the repost report, stories, outlets, search, feed health, and
the digests' bookkeeping (claim, finish, fail). Mixed into ``Store``."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlite_utils

from relaywatch.store.base import StoreError, from_db, to_db


class ReportQueries:
    conn: sqlite3.Connection
    db: sqlite_utils.Database
    lock: threading.RLock
    path: str

    def repost_rows(self, since: datetime | None = None, feed: str | None = None,
                    limit: int | None = None) -> list[dict[str, Any]]:
        """The repost_report view as dicts, oldest detection first."""
        where, args = [], []
        if since is not None:
            where.append("copy_first_seen >= ?")
            args.append(to_db(since))
        if feed:
            where.append("(copy_feed = ? OR original_feed = ?)")
            args += [feed, feed]
        sql = "SELECT * FROM repost_report" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY id" + (f" LIMIT {int(limit)}" if limit else "")
        return [dict(r) for r in self.db.query(sql, args)]

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        """Run a read-only SQL query (canned queries, reports)."""
        try:
            return [dict(r) for r in self.db.query(sql, params)]
        except sqlite3.Error as e:
            raise StoreError(f"query failed: {e}") from e

    # -- reports and digests (issue 5) ---------------------------------------------------------

    def copy_rows(self, start: datetime | None = None, end: datetime | None = None, feed: str | None = None,
                  original_id: int | None = None, detected: tuple[datetime, datetime] | None = None,
                  ) -> list[dict[str, Any]]:
        """One dict per link with both entries' times (``*_when``: published, else first seen).

        ``start``/``end`` bound the copy's time (end excluded); ``feed`` keeps links where it is the
        copy's or the original's feed; ``detected`` bounds when the link was found (end excluded).
        Ordered by original, then the copy's time.
        """
        where, args = [], []
        if detected is not None:
            where.append("r.detected_at >= ? AND r.detected_at < ?")
            args += [to_db(detected[0]), to_db(detected[1])]
        if start is not None:
            where.append("coalesce(c.published, c.first_seen) >= ?")
            args.append(to_db(start))
        if end is not None:
            where.append("coalesce(c.published, c.first_seen) < ?")
            args.append(to_db(end))
        if feed:
            where.append("(fc.name = ? OR fo.name = ?)")
            args += [feed, feed]
        if original_id is not None:
            where.append("r.original_id = ?")
            args.append(original_id)
        sql = _COPY_SELECT + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY r.original_id, copy_when, r.copy_id"
        return self.query(sql, args)

    def story_rows(self, since: datetime | None = None, feed: str | None = None, min_copies: int = 1,
                   limit: int | None = None) -> list[dict[str, Any]]:
        """Originals with their copy counts, most copied first.

        ``since`` bounds the original's time; ``feed`` keeps stories from that feed or copied by it.
        """
        where, args = [], []
        if since is not None:
            where.append("coalesce(o.published, o.first_seen) >= ?")
            args.append(to_db(since))
        if feed:
            where.append("(fo.name = ? OR r.original_id IN (SELECT r2.original_id FROM reposts r2"
                         " JOIN entries c2 ON c2.id = r2.copy_id JOIN feeds f2 ON f2.id = c2.feed_id"
                         " WHERE f2.name = ?))")
            args += [feed, feed]
        sql = ("SELECT o.id AS id, o.title AS title, o.url AS url, fo.name AS feed,"
               " coalesce(o.published, o.first_seen) AS published, count(*) AS copies,"
               " sum(r.credited) AS credited, count(DISTINCT c.feed_id) AS outlets,"
               " min(r.lag_seconds) AS first_lag, max(coalesce(c.published, c.first_seen)) AS last_copy"
               " FROM reposts r JOIN entries o ON o.id = r.original_id JOIN feeds fo ON fo.id = o.feed_id"
               " JOIN entries c ON c.id = r.copy_id"
               + (" WHERE " + " AND ".join(where) if where else "")
               + " GROUP BY o.id HAVING count(*) >= ? ORDER BY copies DESC, published DESC, o.id")
        args.append(max(int(min_copies), 1))
        if limit:
            sql += f" LIMIT {int(limit)}"
        return self.query(sql, args)

    def original_of(self, entry_id: int) -> int:
        """The story an entry belongs to: its original when it is a copy, else itself."""
        row = self.conn.execute("SELECT original_id FROM reposts WHERE copy_id = ?", (entry_id,)).fetchone()
        return int(row[0]) if row else entry_id

    def feed_health_rows(self) -> list[dict[str, Any]]:
        """Every feed with its polling state, entry count and the time of its newest entry."""
        return self.query(
            "SELECT f.id, f.name, f.role, f.url, f.status, f.source, f.failures, f.last_error, f.last_status,"
            " f.last_poll, f.next_poll, f.interval_s,"
            " (SELECT count(*) FROM entries e WHERE e.feed_id = f.id) AS entries,"
            " (SELECT max(e.first_seen) FROM entries e WHERE e.feed_id = f.id) AS last_new_entry,"
            " (SELECT max(p.started_at) FROM polls p WHERE p.feed_id = f.id AND p.error IS NULL)"
            " AS last_ok_poll FROM feeds f ORDER BY f.name")

    def search_entries(self, text: str, limit: int = 20, raw: bool = False) -> list[dict[str, Any]]:
        """Full-text search (FTS5 ``entries_fts``, sqlite-utils' layout) over titles and texts, best first.

        The words are quoted with sqlite-utils' ``quote_fts`` unless ``raw`` (FTS5 query syntax).
        """
        q = text if raw else self.db.quote_fts(text)
        return self.query(
            "SELECT e.id AS id, f.name AS feed, e.title AS title, e.url AS url,"
            " coalesce(e.published, e.first_seen) AS published,"
            " snippet(entries_fts, 1, '[', ']', '…', 14) AS snippet, r.original_id AS original_id,"
            " (SELECT count(*) FROM reposts r2 WHERE r2.original_id = e.id) AS copies"
            " FROM entries_fts JOIN entries e ON e.id = entries_fts.rowid JOIN feeds f ON f.id = e.feed_id"
            " LEFT JOIN reposts r ON r.copy_id = e.id"
            " WHERE entries_fts MATCH ? ORDER BY entries_fts.rank, e.id LIMIT ?", (q, int(limit)))

    def earliest_entry_time(self) -> datetime | None:
        """The earliest time any stored entry appeared (published, else first seen)."""
        row = self.conn.execute("SELECT min(coalesce(published, first_seen)) FROM entries").fetchone()
        return from_db(row[0]) if row else None

    def digest_record(self, day: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM digests WHERE day = ?", (day,))
        return _digest(rows[0]) if rows else None

    def digest_records(self, since_day: str | None = None) -> list[dict[str, Any]]:
        rows = self.query("SELECT * FROM digests WHERE day >= ? ORDER BY day", (since_day or "",))
        return [_digest(r) for r in rows]

    def claim_digest(self, day: str, timezone: str, message_id: str, now: datetime, stale_before: datetime,
                     ignore_backoff: bool = False, force: bool = False) -> dict[str, Any] | None:
        """Atomically take the sending of a day's digest; None when it is sent or being sent.

        A claim older than ``stale_before`` (a sender that died) can be taken again; a failed day
        waits for its ``next_attempt`` unless ``ignore_backoff``. The returned record keeps the
        Message-ID of an earlier attempt, so a resend of the same digest carries the same ID;
        ``force`` takes even a sent day, with the new Message-ID.
        """
        with self.transaction():
            row = self.digest_record(day)
            if row is not None:
                if not force:
                    if row["status"] in ("sent", "skipped"):
                        return None
                    claimed = row["claimed_at"]
                    if row["status"] == "sending" and claimed and claimed > (to_db(stale_before) or ""):
                        return None
                    if (row["status"] == "failed" and not ignore_backoff and row["next_attempt"]
                            and row["next_attempt"] > (to_db(now) or "")):
                        return None
                self.conn.execute("UPDATE digests SET status = 'sending', attempts = attempts + 1,"
                                  " claimed_at = ?, message_id = CASE WHEN ? THEN ? ELSE"
                                  " coalesce(message_id, ?) END WHERE day = ?",
                                  (to_db(now), int(force), message_id, message_id, day))
            else:
                self.conn.execute("INSERT INTO digests (day, timezone, message_id, status, attempts,"
                                  " claimed_at, created_at) VALUES (?, ?, ?, 'sending', 1, ?, ?)",
                                  (day, timezone, message_id, to_db(now), to_db(now)))
            return self.digest_record(day)

    def finish_digest(self, day: str, recipients: Sequence[str], message_id: str | None, subject: str,
                      sent_at: datetime, stories: int, copies: int, status: str = "sent") -> None:
        with self.transaction():
            self.conn.execute("UPDATE digests SET status = ?, recipients = ?, message_id = ?,"
                              " subject = ?, sent_at = ?, stories = ?, copies = ?, last_error = NULL,"
                              " next_attempt = NULL"
                              " WHERE day = ?", (status, json.dumps(list(recipients)), message_id, subject,
                                                 to_db(sent_at), stories, copies, day))

    def fail_digest(self, day: str, recipients: Sequence[str], error: str,
                    next_attempt: datetime | None) -> None:
        with self.transaction():
            self.conn.execute("UPDATE digests SET status = 'failed', recipients = ?, last_error = ?,"
                              " next_attempt = ? WHERE day = ?",
                              (json.dumps(list(recipients)), error, to_db(next_attempt), day))


_COPY_SELECT = """SELECT r.id AS id, r.original_id, r.copy_id, r.via_id, r.kind, r.coverage, r.copy_share,
    r.lag_seconds, r.credited, r.anomaly, r.detected_at,
    o.title AS original_title, o.url AS original_url, fo.name AS original_feed,
    coalesce(o.published, o.first_seen) AS original_when,
    c.title AS copy_title, c.url AS copy_url, fc.name AS copy_feed, fc.role AS copy_role,
    coalesce(c.published, c.first_seen) AS copy_when, fv.name AS via_feed
    FROM reposts r
    JOIN entries o ON o.id = r.original_id JOIN feeds fo ON fo.id = o.feed_id
    JOIN entries c ON c.id = r.copy_id JOIN feeds fc ON fc.id = c.feed_id
    LEFT JOIN entries v ON v.id = r.via_id LEFT JOIN feeds fv ON fv.id = v.feed_id"""


def _digest(row: dict[str, Any]) -> dict[str, Any]:
    return dict(row, recipients=json.loads(row["recipients"] or "[]"))
