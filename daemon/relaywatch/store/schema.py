"""The schema as an ordered list of migrations (a shipped one is never edited)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


# Scripts written without spaces between words (or gluing particles to words, as Korean does):
# Thai, Lao, Myanmar, Khmer, kana, CJK ideographs, Hangul, halfwidth katakana, as code point ranges
# (a GLOB class, a regex class). An entry holding any such character is flagged (entries.unspaced,
# set by store.entries as it writes) and indexed by trigrams (entries_trigram), since unicode61
# sees a whole run of them as one word. Used by migration 8: never edit it.
UNSPACED_CLASS = ("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf"
                  "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]")


def holds_unspaced() -> str:
    """SQL: the entry has such a character in its title or text (a slow scan: for the migration)."""
    return f"(title GLOB '*{UNSPACED_CLASS}*' OR text GLOB '*{UNSPACED_CLASS}*')"


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", """
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    url TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('wire', 'outlet', 'relay')),
    credit TEXT NOT NULL DEFAULT '[]',
    interval_s INTEGER NOT NULL DEFAULT 1800,
    source TEXT NOT NULL DEFAULT 'config',
    title TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'new',
    etag TEXT,
    last_modified TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_status INTEGER,
    last_poll TEXT,
    next_poll TEXT,
    fetch_article INTEGER,
    min_interval_s INTEGER,
    created_at TEXT NOT NULL
);
CREATE TABLE entries (
    id INTEGER PRIMARY KEY,
    feed_id INTEGER NOT NULL REFERENCES feeds(id),
    guid TEXT NOT NULL,
    url TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    published TEXT,
    published_raw TEXT,
    date_flag TEXT,
    updated TEXT,
    first_seen TEXT NOT NULL,
    last_changed TEXT,
    text TEXT NOT NULL DEFAULT '',
    feed_text TEXT,
    article_text TEXT,
    dateline TEXT NOT NULL DEFAULT '',
    credits TEXT NOT NULL DEFAULT '[]',
    sources TEXT NOT NULL DEFAULT '[]',
    boilerplate TEXT NOT NULL DEFAULT '[]',
    words INTEGER NOT NULL DEFAULT 0,
    content_hash TEXT,
    update_of INTEGER REFERENCES entries(id),
    UNIQUE (feed_id, guid)
);
CREATE INDEX entries_url ON entries(url);
CREATE INDEX entries_first_seen ON entries(first_seen);
CREATE TABLE fingerprints (
    entry_id INTEGER PRIMARY KEY REFERENCES entries(id),
    method TEXT NOT NULL,
    shingles INTEGER NOT NULL,
    fingerprints INTEGER NOT NULL,
    tokens INTEGER NOT NULL
);
CREATE TABLE fingerprint_index (
    hash INTEGER NOT NULL,
    entry_id INTEGER NOT NULL,
    PRIMARY KEY (hash, entry_id)
) WITHOUT ROWID;
CREATE TABLE reposts (
    id INTEGER PRIMARY KEY,
    original_id INTEGER NOT NULL REFERENCES entries(id),
    copy_id INTEGER NOT NULL UNIQUE REFERENCES entries(id),
    via_id INTEGER REFERENCES entries(id),
    kind TEXT NOT NULL CHECK (kind IN ('verbatim', 'excerpt', 'edited')),
    coverage REAL NOT NULL,
    copy_share REAL NOT NULL,
    lag_seconds REAL NOT NULL,
    credited INTEGER NOT NULL,
    anomaly TEXT,
    detected_at TEXT NOT NULL
);
CREATE INDEX reposts_original ON reposts(original_id);
CREATE INDEX reposts_via ON reposts(via_id);
CREATE TABLE polls (
    id INTEGER PRIMARY KEY,
    feed_id INTEGER NOT NULL REFERENCES feeds(id),
    started_at TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    http_status INTEGER,
    bytes INTEGER NOT NULL DEFAULT 0,
    new_entries INTEGER NOT NULL DEFAULT 0,
    updated_entries INTEGER NOT NULL DEFAULT 0,
    links INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX polls_feed ON polls(feed_id, started_at);
CREATE VIEW repost_report AS
SELECT r.id AS id,
       o.url AS original_url, fo.name AS original_feed, o.title AS original_title,
       c.url AS copy_url, fc.name AS copy_feed, c.title AS copy_title,
       v.url AS via_url, fv.name AS via_feed,
       r.kind, r.coverage, r.lag_seconds, r.credited, r.anomaly,
       o.published AS original_published, o.first_seen AS original_first_seen,
       c.published AS copy_published, c.first_seen AS copy_first_seen,
       r.detected_at, r.original_id, r.copy_id, r.via_id
FROM reposts r
JOIN entries o ON o.id = r.original_id JOIN feeds fo ON fo.id = o.feed_id
JOIN entries c ON c.id = r.copy_id JOIN feeds fc ON fc.id = c.feed_id
LEFT JOIN entries v ON v.id = r.via_id LEFT JOIN feeds fv ON fv.id = v.feed_id;
"""),
    Migration(2, "digests sent", """
CREATE TABLE digests (
    id INTEGER PRIMARY KEY,
    day TEXT NOT NULL UNIQUE,
    timezone TEXT NOT NULL,
    recipients TEXT NOT NULL DEFAULT '[]',
    message_id TEXT,
    subject TEXT,
    status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'skipped', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    claimed_at TEXT,
    next_attempt TEXT,
    sent_at TEXT,
    stories INTEGER,
    copies INTEGER,
    created_at TEXT NOT NULL
);
"""),
    Migration(3, "full-text search over entries", """
CREATE VIRTUAL TABLE [entries_fts] USING FTS5 ([title], [text], content=[entries]);
INSERT INTO [entries_fts] ([entries_fts]) VALUES ('rebuild');
CREATE TRIGGER [entries_ai] AFTER INSERT ON [entries] BEGIN
  INSERT INTO [entries_fts] (rowid, [title], [text]) VALUES (new.rowid, new.[title], new.[text]);
END;
CREATE TRIGGER [entries_ad] AFTER DELETE ON [entries] BEGIN
  INSERT INTO [entries_fts] ([entries_fts], rowid, [title], [text])
    VALUES ('delete', old.rowid, old.[title], old.[text]);
END;
CREATE TRIGGER [entries_au] AFTER UPDATE OF [title], [text] ON [entries] BEGIN
  INSERT INTO [entries_fts] ([entries_fts], rowid, [title], [text])
    VALUES ('delete', old.rowid, old.[title], old.[text]);
  INSERT INTO [entries_fts] (rowid, [title], [text]) VALUES (new.rowid, new.[title], new.[text]);
END;
"""),
    Migration(4, "hash of each feed's last ingested body", """
ALTER TABLE feeds ADD COLUMN body_hash TEXT;
"""),
    Migration(5, "fingerprints waiting to be merged into the index", """
CREATE TABLE fingerprint_pending (
    entry_id INTEGER PRIMARY KEY REFERENCES entries(id),
    hashes BLOB NOT NULL
);
CREATE TABLE index_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO index_state VALUES (1, 0);
"""),
    Migration(6, "full-text index brought up to date in bulk", """
ALTER TABLE index_state ADD COLUMN fts_upto INTEGER NOT NULL DEFAULT 0;
UPDATE index_state SET fts_upto = coalesce((SELECT max(id) FROM entries), 0);
DROP TRIGGER [entries_ai];
DROP TRIGGER [entries_ad];
DROP TRIGGER [entries_au];
CREATE TRIGGER [entries_ad] AFTER DELETE ON [entries]
WHEN old.id <= (SELECT fts_upto FROM index_state) BEGIN
  INSERT INTO [entries_fts] ([entries_fts], rowid, [title], [text])
    VALUES ('delete', old.rowid, old.[title], old.[text]);
END;
CREATE TRIGGER [entries_au] AFTER UPDATE OF [title], [text] ON [entries]
WHEN old.id <= (SELECT fts_upto FROM index_state) BEGIN
  INSERT INTO [entries_fts] ([entries_fts], rowid, [title], [text])
    VALUES ('delete', old.rowid, old.[title], old.[text]);
  INSERT INTO [entries_fts] (rowid, [title], [text]) VALUES (new.rowid, new.[title], new.[text]);
END;
"""),
    Migration(7, "labels of a link: the words a copy adds, where; a credit by link; the rules that labelled it", """
ALTER TABLE reposts ADD COLUMN added_before INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reposts ADD COLUMN added_inside INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reposts ADD COLUMN added_after INTEGER NOT NULL DEFAULT 0;
ALTER TABLE reposts ADD COLUMN credit_link TEXT;
ALTER TABLE reposts ADD COLUMN labels INTEGER NOT NULL DEFAULT 1;
CREATE INDEX reposts_labels ON reposts(labels, copy_id);
DROP VIEW repost_report;
CREATE VIEW repost_report AS
SELECT r.id AS id,
       o.url AS original_url, fo.name AS original_feed, o.title AS original_title,
       c.url AS copy_url, fc.name AS copy_feed, c.title AS copy_title,
       v.url AS via_url, fv.name AS via_feed,
       r.kind, r.coverage, r.lag_seconds, r.credited, r.anomaly,
       o.published AS original_published, o.first_seen AS original_first_seen,
       c.published AS copy_published, c.first_seen AS copy_first_seen,
       r.detected_at, r.original_id, r.copy_id, r.via_id,
       r.added_before, r.added_inside, r.added_after,
       r.added_before + r.added_inside + r.added_after AS added_words, r.credit_link, r.labels
FROM reposts r
JOIN entries o ON o.id = r.original_id JOIN feeds fo ON fo.id = o.feed_id
JOIN entries c ON c.id = r.copy_id JOIN feeds fc ON fc.id = c.feed_id
LEFT JOIN entries v ON v.id = r.via_id LEFT JOIN feeds fv ON fv.id = v.feed_id;
"""),
    Migration(8, "substring search in scripts written without spaces (CJK, Thai): a trigram index of the entries"
                 " that hold such text", f"""
ALTER TABLE entries ADD COLUMN unspaced INTEGER NOT NULL DEFAULT 0;
UPDATE entries SET unspaced = 1 WHERE {holds_unspaced()};
CREATE INDEX entries_unspaced_ids ON entries(id) WHERE unspaced = 1;
CREATE VIEW [entries_unspaced] AS SELECT id, title, text FROM entries WHERE unspaced = 1;
CREATE VIRTUAL TABLE [entries_trigram] USING FTS5 ([title], [text], content=[entries_unspaced], content_rowid=[id],
  tokenize='trigram');
INSERT INTO [entries_trigram] (rowid, [title], [text])
  SELECT id, title, text FROM entries_unspaced WHERE id <= (SELECT fts_upto FROM index_state);
CREATE TRIGGER [entries_trigram_ad] AFTER DELETE ON [entries]
WHEN old.id <= (SELECT fts_upto FROM index_state) AND old.unspaced BEGIN
  INSERT INTO [entries_trigram] ([entries_trigram], rowid, [title], [text])
    VALUES ('delete', old.id, old.[title], old.[text]);
END;
CREATE TRIGGER [entries_trigram_au] AFTER UPDATE OF [title], [text], [unspaced] ON [entries]
WHEN old.id <= (SELECT fts_upto FROM index_state) BEGIN
  INSERT INTO [entries_trigram] ([entries_trigram], rowid, [title], [text])
    SELECT 'delete', old.id, old.[title], old.[text] WHERE old.unspaced;
  INSERT INTO [entries_trigram] (rowid, [title], [text]) SELECT new.id, new.[title], new.[text] WHERE new.unspaced;
END;
"""),
    Migration(9, "how much a copy took: its sentences, and those that come from the original", """
ALTER TABLE reposts ADD COLUMN copy_sentences INTEGER;
ALTER TABLE reposts ADD COLUMN taken_sentences INTEGER;
DROP VIEW repost_report;
CREATE VIEW repost_report AS
SELECT r.id AS id,
       o.url AS original_url, fo.name AS original_feed, o.title AS original_title,
       c.url AS copy_url, fc.name AS copy_feed, c.title AS copy_title,
       v.url AS via_url, fv.name AS via_feed,
       r.kind, r.coverage, r.lag_seconds, r.credited, r.anomaly,
       o.published AS original_published, o.first_seen AS original_first_seen,
       c.published AS copy_published, c.first_seen AS copy_first_seen,
       r.detected_at, r.original_id, r.copy_id, r.via_id,
       r.added_before, r.added_inside, r.added_after,
       r.added_before + r.added_inside + r.added_after AS added_words, r.credit_link, r.labels,
       r.copy_share, r.copy_sentences, r.taken_sentences,
       CASE WHEN r.copy_sentences > 0 THEN round(1.0 * r.taken_sentences / r.copy_sentences, 4) END
           AS sentence_share
FROM reposts r
JOIN entries o ON o.id = r.original_id JOIN feeds fo ON fo.id = o.feed_id
JOIN entries c ON c.id = r.copy_id JOIN feeds fc ON fc.id = c.feed_id
LEFT JOIN entries v ON v.id = r.via_id LEFT JOIN feeds fv ON fv.id = v.feed_id;
"""),
    Migration(10, "boilerplate learned per feed: the window of each feed's last entries, and what it taught", """
CREATE TABLE boilerplate_window (
    feed_id INTEGER NOT NULL REFERENCES feeds(id),
    serial INTEGER NOT NULL,
    entry_id INTEGER NOT NULL,
    story INTEGER NOT NULL,
    keys BLOB NOT NULL,
    long BLOB NOT NULL,
    PRIMARY KEY (feed_id, serial)
) WITHOUT ROWID;
CREATE TABLE boilerplate (
    feed_id INTEGER NOT NULL REFERENCES feeds(id),
    key INTEGER NOT NULL,
    stories INTEGER NOT NULL,
    learned_at TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    sample TEXT NOT NULL,
    PRIMARY KEY (feed_id, key)
) WITHOUT ROWID;
"""),
)

SCHEMA_VERSION = MIGRATIONS[-1].version


def _statements(sql: str) -> list[str]:
    out, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                out.append(buf.strip())
            buf = ""
    if buf.strip():
        out.append(buf.strip())
    return out
