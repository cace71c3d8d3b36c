"""``store.feeds``: feeds, their polling state, and the record of each poll (``polls``)."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlite_utils.db import NotFoundError

from relaywatch.models import Feed, PollOutcome
from relaywatch.store.base import StoreError, from_db, to_db, utcnow

if TYPE_CHECKING:
    from relaywatch.store.core import Store

_FEED_COLUMNS = ("id, name, url, role, credit, interval_s, source, title, status, etag, last_modified, failures,"
                 " last_error, last_status, last_poll, next_poll, fetch_article, min_interval_s, body_hash")


def _feed(row: Sequence[Any]) -> Feed:
    return Feed(id=row[0], name=row[1], url=row[2], role=row[3], credit=tuple(json.loads(row[4])),
                interval=row[5], source=row[6], title=row[7], status=row[8], etag=row[9],
                last_modified=row[10], failures=row[11], last_error=row[12], last_status=row[13],
                last_poll=from_db(row[14]), next_poll=from_db(row[15]),
                fetch_article=None if row[16] is None else bool(row[16]), min_interval=row[17],
                body_hash=row[18])


class Feeds:
    """The ``feeds`` table (one row a feed, with its polling state) and ``polls``."""

    def __init__(self, store: Store) -> None:
        self._store = store
        # counts this store's writes to feeds: what was read with an entry of a feed (its name, title,
        # role, credit) may be out of date once it changes (the matcher keeps entries read)
        self.version = 0

    def _where(self, where: str | None, args: Sequence[Any] = (), order_by: str | None = None) -> list[Feed]:
        with self._store.reading() as db:
            rows = list(db.table("feeds").rows_where(where, args, order_by=order_by, select=_FEED_COLUMNS))
        return [_feed(list(r.values())) for r in rows]

    def upsert(self, name: str, url: str, role: str, credit: Iterable[str] = (), interval: int = 1800,
               source: str = "config", fetch_article: bool | None = None) -> Feed:
        """Create the feed or update its configured fields; polling state is kept."""
        store = self._store
        self.version += 1
        with store.transaction():
            table = store.db.table("feeds")
            found = next(table.rows_where("name = ?", [name], select="id"), None)
            fields = {"url": url, "role": role, "credit": json.dumps(list(credit)), "interval_s": interval,
                      "source": source, "fetch_article": None if fetch_article is None else int(fetch_article)}
            if found is None:
                table.insert(dict(name=name, created_at=to_db(utcnow()), **fields))
            else:
                table.update(found["id"], fields)
        feed = self.by_name(name)
        assert feed is not None
        return feed

    def ensure(self, name: str, role: str, credit: Iterable[str] = (), url: str = "") -> Feed:
        """The feed of that name, created (for ingested archives) when it does not exist."""
        feed = self.by_name(name)
        if feed is not None:
            if feed.role != role or (credit and tuple(credit) != feed.credit):
                self.version += 1
                with self._store.transaction():
                    self._store.db.table("feeds").update(
                        feed.id, {"role": role, "credit": json.dumps(list(credit or feed.credit))})
                feed = self.by_name(name)
                assert feed is not None
            return feed
        return self.upsert(name, url or f"ingest:{name}", role, credit, source="ingest")

    def list(self) -> list[Feed]:
        """Every feed, by name."""
        return self._where(None, order_by="name")

    def by_name(self, name: str) -> Feed | None:
        found = self._where("name = ?", [name])
        return found[0] if found else None

    def get(self, feed_id: int) -> Feed:
        found = self._where("id = ?", [feed_id])
        if not found:
            raise StoreError(f"no feed with id {feed_id}")
        return found[0]

    def remove(self, name: str) -> bool:
        """Mark the feed removed (its entries stay); False when there is none of that name."""
        with self._store.transaction():
            cur = self._store.conn.execute("UPDATE feeds SET status = 'removed', next_poll = NULL WHERE name = ?",
                                           (name,))
        return cur.rowcount > 0

    def save_state(self, feed: Feed) -> None:
        """Store the feed's polling state (a feed of no row: nothing to store)."""
        state = {"url": feed.url, "title": feed.title, "status": feed.status, "etag": feed.etag,
                 "last_modified": feed.last_modified, "failures": feed.failures, "last_error": feed.last_error,
                 "last_status": feed.last_status, "last_poll": to_db(feed.last_poll),
                 "next_poll": to_db(feed.next_poll), "min_interval_s": feed.min_interval, "body_hash": feed.body_hash}
        self.version += 1
        with self._store.transaction(), contextlib.suppress(NotFoundError):
            self._store.db.table("feeds").update(feed.id, state)

    def record_poll(self, outcome: PollOutcome) -> None:
        with self._store.transaction():
            self._store.db.table("polls").insert({
                "feed_id": outcome.feed_id, "started_at": to_db(outcome.started), "duration_ms": outcome.duration_ms,
                "http_status": outcome.http_status, "bytes": outcome.bytes, "new_entries": outcome.new_entries,
                "updated_entries": outcome.updated_entries, "links": outcome.links, "error": outcome.error})
