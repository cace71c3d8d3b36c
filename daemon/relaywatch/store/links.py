"""``store.links``: reposts, one row a copy (its original, the relay it came through, how much)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from relaywatch.models import Link
from relaywatch.store.base import to_db

if TYPE_CHECKING:
    from relaywatch.store.core import Store

_LINK_COLUMNS = ("original_id, copy_id, via_id, kind, coverage, copy_share, lag_seconds, credited, anomaly,"
                 " added_before, added_inside, added_after, credit_link, copy_sentences, taken_sentences")
_R_COLUMNS = ", ".join(f"r.{c.strip()}" for c in _LINK_COLUMNS.split(","))  # the same, of ``reposts r``
_SAVE = ("INSERT INTO reposts (original_id, copy_id, via_id, kind, coverage, copy_share, lag_seconds, credited,"
         " anomaly, added_before, added_inside, added_after, credit_link, copy_sentences, taken_sentences, labels,"
         " detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
         " ON CONFLICT(copy_id) DO UPDATE SET original_id = excluded.original_id, via_id = excluded.via_id,"
         " kind = excluded.kind, coverage = excluded.coverage, copy_share = excluded.copy_share,"
         " lag_seconds = excluded.lag_seconds, credited = excluded.credited, anomaly = excluded.anomaly,"
         " added_before = excluded.added_before, added_inside = excluded.added_inside,"
         " added_after = excluded.added_after, credit_link = excluded.credit_link,"
         " copy_sentences = excluded.copy_sentences, taken_sentences = excluded.taken_sentences,"
         " labels = excluded.labels")


def _link(row: Sequence[Any]) -> Link:
    return Link(original_id=row[0], copy_id=row[1], via_id=row[2], kind=row[3], coverage=row[4],
                copy_share=row[5], lag_seconds=row[6], credited=bool(row[7]), anomaly=row[8],
                added_before=row[9], added_inside=row[10], added_after=row[11], credit_link=row[12],
                copy_sentences=row[13], taken_sentences=row[14])


class Links:
    """The ``reposts`` table. The matcher reads it for every entry it stores: hand-written SQL."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def save(self, link: Link, detected_at: datetime, labels: int) -> None:
        """Store the link of its copy (replacing the copy's earlier one); ``labels``: the version of
        the rules that labelled it (``detect.decide.LABELS``)."""
        self._store.conn.execute(_SAVE, (
            link.original_id, link.copy_id, link.via_id, link.kind, round(link.coverage, 4),
            round(link.copy_share, 4), link.lag_seconds, int(link.credited), link.anomaly, link.added_before,
            link.added_inside, link.added_after, link.credit_link, link.copy_sentences, link.taken_sentences, labels,
            to_db(detected_at)))

    def labelled_before(self, labels: int, after_copy: int, limit: int) -> list[Link]:
        """Up to ``limit`` links labelled by rules older than ``labels``, by copy id past ``after_copy``."""
        rows = self._store.conn.execute(
            f"SELECT {_LINK_COLUMNS} FROM reposts WHERE labels < ? AND copy_id > ? ORDER BY copy_id LIMIT ?",
            (labels, after_copy, limit)).fetchall()
        return [_link(r) for r in rows]

    def count_labelled_before(self, labels: int) -> int:
        return int(self._store.conn.execute("SELECT count(*) FROM reposts WHERE labels < ?", (labels,)).fetchone()[0])

    def delete(self, copy_id: int) -> None:
        self._store.conn.execute("DELETE FROM reposts WHERE copy_id = ?", (copy_id,))

    def of(self, copy_id: int) -> Link | None:
        """The link of a copy, if it is one."""
        row = self._store.conn.execute(f"SELECT {_LINK_COLUMNS} FROM reposts WHERE copy_id = ?",
                                       (copy_id,)).fetchone()
        return _link(row) if row else None

    def of_original(self, original_id: int) -> list[Link]:
        rows = self._store.conn.execute(f"SELECT {_LINK_COLUMNS} FROM reposts WHERE original_id = ? ORDER BY copy_id",
                                        (original_id,)).fetchall()
        return [_link(r) for r in rows]

    def named_orphans(self, original_id: int) -> list[Link]:
        """Links to ``original_id`` with no ``via`` whose copy names a source in a relay footer."""
        rows = self._store.conn.execute(
            f"SELECT {_R_COLUMNS} FROM reposts r JOIN entries e"
            " ON e.id = r.copy_id WHERE r.original_id = ? AND r.via_id IS NULL"
            " AND e.sources != '[]' ORDER BY r.copy_id", (original_id,)).fetchall()
        return [_link(r) for r in rows]

    def originals_of(self, entry_ids: Iterable[int]) -> dict[int, int]:
        """{copy id: its original} for those of ``entry_ids`` that are copies."""
        ids = list(entry_ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = self._store.conn.execute(f"SELECT copy_id, original_id FROM reposts WHERE copy_id IN ({marks})",
                                        ids).fetchall()
        return dict(rows)
