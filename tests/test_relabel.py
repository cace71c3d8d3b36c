"""relabel: links labelled by older rules get today's labels, in batches, resumably."""

from __future__ import annotations

import html
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from relaywatch.cli.main import main
from relaywatch.detect.decide import LABELS
from relaywatch.detect.prepare import prepare
from relaywatch.models import Link, ParsedEntry
from relaywatch.record.pipeline import Pipeline
from relaywatch.record.relabel import relabel_links, to_relabel
from relaywatch.store import Store

from .matchcases import STORY

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
INTRO = "Our readers asked us about the harbour, so here is the latest news from the wire service."


def _entry(guid: str, paras: list[str], hours: int) -> ParsedEntry:
    return ParsedEntry(guid=guid, url=f"https://example.com/{guid}", title=f"Harbour {guid}",
                       html="".join(f"<p>{html.escape(p)}</p>" for p in paras),
                       published=NOW - timedelta(hours=hours), published_raw=None, date_flag=None)


def _world(store: Store, copies: int) -> list[Link]:
    """A wire story and ``copies`` outlet copies of it (the whole story under an intro and a byline
    line), linked, then stored as an older release would have labelled them: edited, uncredited."""
    pipeline = Pipeline(store)
    wire = store.feeds.ensure("wire", "wire", ["Reuters"])
    outlet = store.feeds.ensure("outlet", "outlet")
    pipeline.ingest(wire, [prepare(_entry("w", STORY, 10))], NOW)
    page = [INTRO, "By Reuters Staff", *STORY]
    pipeline.ingest(outlet, [prepare(_entry(f"c{i}", page, 5 - i % 5)) for i in range(copies)], NOW)
    links = [store.links.of(e) for e in range(2, 2 + copies)]
    assert all(link is not None and link.kind == "verbatim" and link.credited for link in links)
    for link in links:
        assert link is not None
        store.links.save(replace(link, kind="edited", credited=False, added_before=0), NOW, 1)
    return [link for link in links if link is not None]


def test_relabel_gives_older_links_todays_labels_from_the_stored_texts(store: Store) -> None:
    today = _world(store, 3)
    assert to_relabel(store) == 3
    done = relabel_links(store)
    assert (done.links, done.changed, done.missing) == (3, 3, 0)
    for link in today:
        again = store.links.of(link.copy_id)
        assert again is not None
        assert (again.kind, again.credited, again.added_before) == ("verbatim", True, len(INTRO.split()))
    assert to_relabel(store) == 0
    assert relabel_links(store).links == 0  # nothing left: a second run does nothing


def test_a_stopped_relabel_resumes_where_it_stopped(store: Store) -> None:
    _world(store, 5)
    seen: list[int] = []

    def stop_after_two_batches(n: int) -> None:
        seen.append(n)
        if len(seen) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        relabel_links(store, batch=2, progress=stop_after_two_batches)
    assert to_relabel(store) == 1  # the two batches written stay written
    assert relabel_links(store, batch=2).links == 1


def test_relabel_keeps_a_credit_by_link_which_the_stored_text_cannot_show(store: Store) -> None:
    link = _world(store, 1)[0]
    store.links.save(replace(link, credited=True, credit_link="https://example.com/w"), NOW, 1)
    store.conn.execute("UPDATE entries SET credits = '[]' WHERE id = ?", (link.copy_id,))
    store.conn.execute("UPDATE entries SET text = replace(text, 'By Reuters Staff', '') WHERE id = ?",
                       (link.copy_id,))
    relabel_links(store)
    again = store.links.of(link.copy_id)
    assert again is not None and again.credited and again.credit_link == "https://example.com/w"


def test_relabel_command_prints_what_it_did(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.toml").write_text('[database]\npath = "r.db"\n')
    with Store(tmp_path / "r.db") as store:
        _world(store, 2)
    assert main(["-c", str(tmp_path / "c.toml"), "relabel", "--batch", "1"]) == 0
    assert capsys.readouterr().out == \
        f"2 links relabelled with the rules of this release (labels {LABELS}), 2 changed\n"
    assert main(["-c", str(tmp_path / "c.toml"), "relabel"]) == 0
    assert capsys.readouterr().out == \
        f"0 links relabelled with the rules of this release (labels {LABELS}), 0 changed\n"
