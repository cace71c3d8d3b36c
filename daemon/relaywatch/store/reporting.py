"""``store.reports``: read-side queries of the store for reports: the repost report, copies,
stories, feed health, search."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from relaywatch.store.base import from_db, to_db

if TYPE_CHECKING:
    from relaywatch.store.core import Store


class Reports:
    """Read-only questions over the tables; rows as dicts (as sqlite-utils gives them)."""

    def __init__(self, store: Store) -> None:
        self._store = store

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
        view = self._store.db["repost_report"]
        return list(view.rows_where(" AND ".join(where) or None, args, order_by="id",
                                    limit=int(limit) if limit else None))

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
        return self._store.query(sql, args)

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
        return self._store.query(sql, args)

    def original_of(self, entry_id: int) -> int:
        """The story an entry belongs to: its original when it is a copy, else itself."""
        row = self._store.conn.execute("SELECT original_id FROM reposts WHERE copy_id = ?", (entry_id,)).fetchone()
        return int(row[0]) if row else entry_id

    def feed_health_rows(self) -> list[dict[str, Any]]:
        """Every feed with its polling state, entry count and the time of its newest entry."""
        return self._store.query(
            "SELECT f.id, f.name, f.role, f.url, f.status, f.source, f.failures, f.last_error, f.last_status,"
            " f.last_poll, f.next_poll, f.interval_s,"
            " (SELECT count(*) FROM entries e WHERE e.feed_id = f.id) AS entries,"
            " (SELECT max(e.first_seen) FROM entries e WHERE e.feed_id = f.id) AS last_new_entry,"
            " (SELECT max(p.started_at) FROM polls p WHERE p.feed_id = f.id AND p.error IS NULL)"
            " AS last_ok_poll FROM feeds f ORDER BY f.name")

    def search(self, text: str, limit: int = 20, raw: bool = False) -> list[dict[str, Any]]:
        """Full-text search over titles and texts, best first: ``Entries.search`` (``raw``: FTS5 syntax)."""
        return self._store.entries.search(text, limit, raw)

    def earliest_entry_time(self) -> datetime | None:
        """The earliest time any stored entry appeared (published, else first seen)."""
        row = self._store.conn.execute("SELECT min(coalesce(published, first_seen)) FROM entries").fetchone()
        return from_db(row[0]) if row else None

_COPY_SELECT = """SELECT r.id AS id, r.original_id, r.copy_id, r.via_id, r.kind, r.coverage, r.copy_share,
    r.lag_seconds, r.credited, r.anomaly, r.detected_at, r.added_before + r.added_inside + r.added_after AS added_words,
    r.copy_sentences, r.taken_sentences,
    o.title AS original_title, o.url AS original_url, fo.name AS original_feed,
    coalesce(o.published, o.first_seen) AS original_when,
    c.title AS copy_title, c.url AS copy_url, fc.name AS copy_feed, fc.role AS copy_role,
    coalesce(c.published, c.first_seen) AS copy_when, fv.name AS via_feed
    FROM reposts r
    JOIN entries o ON o.id = r.original_id JOIN feeds fo ON fo.id = o.feed_id
    JOIN entries c ON c.id = r.copy_id JOIN feeds fc ON fc.id = c.feed_id
    LEFT JOIN entries v ON v.id = r.via_id LEFT JOIN feeds fv ON fv.id = v.feed_id"""
