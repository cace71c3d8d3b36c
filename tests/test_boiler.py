"""Boilerplate learned per feed: real SQLite stores, entries through the real Pipeline."""

from __future__ import annotations

import html
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from relaywatch.cli.main import main
from relaywatch.detect import boiler
from relaywatch.detect.prepare import prepare
from relaywatch.detect.text import clean, normalize
from relaywatch.models import Feed, ParsedEntry
from relaywatch.record.pipeline import Pipeline
from relaywatch.store import Store

from .matchcases import CHINESE, CHINESE_OTHER, STORY

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
# an outlet's page furniture that neither the markup nor the boilerplate table can name
BRIEFING = "Get the Harbour Daily briefing every weekday morning: the news that matters to Port Alder."
MOST_READ = "Most read: Ferry timetable changes, Harbour festival returns, Council budget vote delayed"
FURNITURE = [BRIEFING, MOST_READ]
DISCLAIMER = "This story was produced by Meridian Wire and has not been edited by our newsroom staff."
SIDEBAR = ["Elsewhere on the site:", "Ferry timetable changes for the winter season on the northern routes",
           "Harbour festival returns with fireworks and a tall ship parade", "Council budget vote delayed again",
           "Weather: a week of storms ahead for the whole coast"]

_VOCAB = ("alder basin cargo delta ember fjord grove heron inlet jetty kelp lantern marsh north orchard pier quay "
          "reef salt tide upland valley willow yard zephyr amber bridge canal dune estuary ferry granite harbour "
          "island juniper keel lagoon mill narrows oyster pebble quarry river shoal timber umber vessel wharf "
          "council budget market school winter summer farmer miner driver teacher doctor mayor union station "
          "railway highway airport museum library theatre stadium hospital factory bakery brewery garden "
          "orchestra festival election hearing inquiry contract permit licence tariff subsidy pension")


def story(seed: int, paras: int = 6, words: int = 30) -> list[str]:
    """A story of its own (words drawn at random: no two seeds share a run of words)."""
    rng, vocab = random.Random(seed), _VOCAB.split()
    return [" ".join(rng.choice(vocab) for _ in range(words)).capitalize() + "." for _ in range(paras)]


def page(paras: list[str]) -> str:
    return "".join(f"<p>{html.escape(p)}</p>" for p in paras)


def entry(guid: str, paras: list[str], hours: float, title: str | None = None) -> ParsedEntry:
    return ParsedEntry(guid=guid, url=f"https://example.com/{guid}", title=title or guid, html=page(paras),
                       published=NOW - timedelta(hours=100 - hours), published_raw=None, date_flag=None)


def put(pipeline: Pipeline, feed: Feed, *entries: ParsedEntry) -> None:
    pipeline.ingest(feed, [prepare(e) for e in entries], NOW)


def text_of(store: Store, guid: str) -> str:
    return store.query("SELECT text FROM entries WHERE guid = ?", [guid])[0]["text"]


def link_of(store: Store, guid: str) -> dict[str, object] | None:
    rows = store.query("SELECT o.guid AS original, r.kind, r.added_before + r.added_inside + r.added_after AS added"
                       " FROM reposts r JOIN entries o ON o.id = r.original_id JOIN entries c ON c.id = r.copy_id"
                       " WHERE c.guid = ?", [guid])
    return rows[0] if rows else None


def lines(store: Store, feed: Feed) -> list[str]:
    return [r["sample"] for r in store.boiler.learned(feed.id)]


def test_the_furniture_of_these_tests_is_left_by_the_structural_cleaning() -> None:
    """The premise: markup and the boilerplate table keep these lines (else nothing is left to learn)."""
    paras = [*STORY, *FURNITURE, DISCLAIMER, *SIDEBAR]
    assert clean(page(paras)).text.split("\n\n") == paras


def test_an_outlet_learns_its_furniture_and_its_copy_of_a_wire_story_is_verbatim(store: Store) -> None:
    pipeline = Pipeline(store)
    wire, ledger, fresh = (store.feeds.ensure(n, r) for n, r in (("wire", "wire"), ("ledger", "outlet"),
                                                                   ("fresh", "outlet")))
    for i in range(boiler.MIN_STORIES):
        assert lines(store, ledger) == []  # not before MIN_STORIES stories
        put(pipeline, ledger, entry(f"own-{i}", story(i) + FURNITURE, i))
    assert sorted(lines(store, ledger)) == sorted(FURNITURE)
    assert text_of(store, "own-3") == "\n\n".join(story(3))  # the entry that taught them is stripped too
    put(pipeline, wire, entry("w", STORY, 10))
    put(pipeline, ledger, entry("copy", STORY + FURNITURE, 12))
    put(pipeline, fresh, entry("fresh-copy", STORY + FURNITURE, 12))  # a feed that has learned nothing
    assert link_of(store, "copy") == {"original": "w", "kind": "verbatim", "added": 0}
    assert text_of(store, "copy") == "\n\n".join(STORY)
    fresh_link = link_of(store, "fresh-copy")
    assert fresh_link is not None and fresh_link["added"] == sum(len(p.split()) for p in FURNITURE)


def test_a_restart_keeps_exactly_what_was_learned(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with Store(path) as store:
        pipeline = Pipeline(store)
        ledger = store.feeds.ensure("ledger", "outlet")
        put(pipeline, ledger, *(entry(f"own-{i}", story(i) + FURNITURE, i) for i in range(boiler.WINDOW + 7)))
        before = pipeline.learned.state(ledger.id)
    with Store(path) as store:
        pipeline = Pipeline(store)
        after = pipeline.learned.state(ledger.id)
        assert after.learned == before.learned and len(after.learned) == 2 and after.standard == before.standard
        assert list(after.window) == list(before.window)
        wire = store.feeds.ensure("wire", "wire")
        put(pipeline, wire, entry("w", STORY, 10))
        put(pipeline, ledger, entry("copy", STORY + FURNITURE, 12))
        assert link_of(store, "copy") == {"original": "w", "kind": "verbatim", "added": 0}


def test_a_wire_keeps_its_disclaimer_and_a_copy_carrying_it_stays_verbatim(store: Store) -> None:
    """The wire rule, both sides: the wire's recurring line is kept in its stories and in copies of
    them, while the outlet's own recurring lines are stripped from the same copies."""
    pipeline = Pipeline(store)
    wire, ledger = store.feeds.ensure("wire", "wire"), store.feeds.ensure("ledger", "outlet")
    n = boiler.MIN_STORIES + 1
    for i in range(n):
        put(pipeline, wire, entry(f"w-{i}", story(i) + [DISCLAIMER], 2 * i))
        put(pipeline, ledger, entry(f"c-{i}", story(i) + [DISCLAIMER] + FURNITURE, 2 * i + 1))
    assert lines(store, wire) == [DISCLAIMER]  # learned: its standard text...
    assert text_of(store, f"w-{n - 1}").endswith(DISCLAIMER)  # ...kept in its stories
    assert sorted(lines(store, ledger)) == sorted([DISCLAIMER, *FURNITURE])  # the outlet learned all three...
    for i in range(n):  # ...and strips only its own
        assert text_of(store, f"c-{i}") == "\n\n".join(story(i) + [DISCLAIMER] + (FURNITURE if i < 3 else []))
        assert link_of(store, f"c-{i}") == {"original": f"w-{i}", "kind": "verbatim",
                                            "added": 0 if i >= 3 else sum(len(p.split()) for p in FURNITURE)}


def test_an_outlet_line_that_no_wire_carries_is_stripped_even_when_a_wire_has_lines_of_its_own(store: Store) -> None:
    """The other side of the wire rule: a wire's standard text protects its own lines, not an outlet's."""
    pipeline = Pipeline(store)
    wire, relay = store.feeds.ensure("wire", "wire"), store.feeds.ensure("relay", "relay")
    for i in range(boiler.MIN_STORIES):
        put(pipeline, wire, entry(f"w-{i}", story(i) + [DISCLAIMER], 2 * i))
        put(pipeline, relay, entry(f"r-{i}", story(100 + i) + [BRIEFING], 2 * i + 1))
    assert text_of(store, "r-3") == "\n\n".join(story(103))
    assert text_of(store, "w-3") == "\n\n".join(story(3) + [DISCLAIMER])


def test_an_entry_seen_again_is_compared_and_updated_without_what_its_feed_learned(store: Store) -> None:
    pipeline = Pipeline(store)
    ledger = store.feeds.ensure("ledger", "outlet")
    put(pipeline, ledger, *(entry(f"own-{i}", story(i) + FURNITURE, i) for i in range(boiler.MIN_STORIES + 1)))
    again = entry("own-4", story(4) + FURNITURE, 4)
    marked = ParsedEntry(**{**again.__dict__, "html": again.html.replace("<p>", '<p class="x">')})
    assert pipeline.ingest(ledger, [prepare(marked)], NOW).unchanged == 1  # its markup alone changed
    edited = entry("own-4", story(4)[:-1] + FURNITURE, 4)
    assert pipeline.ingest(ledger, [prepare(edited)], NOW).updated == 1
    assert text_of(store, "own-4") == "\n\n".join(story(4)[:-1])


def test_two_unrelated_stories_of_one_site_sharing_a_sidebar_are_not_linked(store: Store) -> None:
    pipeline = Pipeline(store)
    site = store.feeds.ensure("site", "outlet")
    for i in range(2 * boiler.MIN_STORIES):  # before learning and after
        put(pipeline, site, entry(f"s-{i}", story(i, paras=3, words=25) + SIDEBAR, i))
    assert store.count("reposts") == 0
    assert sorted(lines(store, site)) == sorted(SIDEBAR)
    assert text_of(store, "s-7") == "\n\n".join(story(7, paras=3, words=25))


def test_updates_of_one_story_do_not_teach_its_paragraphs(store: Store) -> None:
    """Six versions of one story, each a new guid with a paragraph added: one story, nothing learned;
    so a seventh version keeps its text, and the other stories' lines still count once each."""
    pipeline = Pipeline(store)
    ledger = store.feeds.ensure("ledger", "outlet")
    for n in range(6):
        put(pipeline, ledger, entry(f"v-{n}", STORY[: 6 + n], n, title=f"UPDATE {n}-Port Alder halts expansion"))
    state = pipeline.learned.state(ledger.id)
    assert state.learned == {} and {s.story for s in state.window} == {0}
    put(pipeline, ledger, entry("v-6", STORY, 6))
    assert text_of(store, "v-6") == "\n\n".join(STORY)


def test_a_repeat_is_judged_on_its_words_outside_learned_blocks() -> None:
    """An entry of furniture and a new story is a story of its own once the furniture is
    learned, however short the story."""
    state = boiler.Learning()
    for i in range(boiler.MIN_STORIES):
        boiler.learn(state, boiler.blocks("\n\n".join(story(i) + FURNITURE)))
    assert len(state.learned) == 2
    short = boiler.observe(state, boiler.blocks("\n\n".join([*story(50, paras=1, words=8), *FURNITURE])))
    assert short.story == short.serial == boiler.MIN_STORIES
    again = boiler.observe(state, boiler.blocks("\n\n".join(story(2)[:4] + FURNITURE)))
    assert again.story == 2


def test_the_state_kept_step_by_step_is_the_state_its_window_gives() -> None:
    """Learning one entry at a time (only the counts that change are made again) gives what a
    rebuild from the window gives (a restart), through a full window and the oldest entries leaving."""
    state = boiler.Learning()
    for i in range(boiler.WINDOW * 2 + 7):
        furniture = [FURNITURE[i % 2]] + ([DISCLAIMER] if i % 3 == 0 else []) + ([MOST_READ] if i < 20 else [])
        boiler.learn(state, boiler.blocks("\n\n".join(story(i % 40, paras=3) + furniture)))
        rebuilt = boiler.Learning.of(state.window)
        assert (state.learned, state.standard) == (rebuilt.learned, rebuilt.standard)
        assert len(state.window) == min(i + 1, boiler.WINDOW)
    assert set(state.learned) == set(boiler.blocks("\n\n".join([*FURNITURE, DISCLAIMER])).keys)


def test_a_line_the_window_no_longer_holds_is_no_longer_learned(store: Store) -> None:
    pipeline = Pipeline(store)
    ledger = store.feeds.ensure("ledger", "outlet")
    put(pipeline, ledger, *(entry(f"a-{i}", story(i, paras=3) + [MOST_READ], i) for i in range(boiler.MIN_STORIES)))
    assert lines(store, ledger) == [MOST_READ]
    put(pipeline, ledger, *(entry(f"b-{i}", story(100 + i, paras=3) + [BRIEFING], i) for i in range(boiler.WINDOW)))
    assert lines(store, ledger) == [BRIEFING]
    kept = store.query("SELECT count(*) AS n FROM boilerplate_window")[0]["n"]
    assert boiler.WINDOW <= kept <= 2 * boiler.WINDOW  # the older rows go every WINDOW entries
    put(pipeline, ledger, entry("c", story(999, paras=3) + [MOST_READ], 60))
    assert text_of(store, "c").endswith(MOST_READ)


def test_bad_input_is_fine(store: Store) -> None:
    pipeline = Pipeline(store)
    feed = store.feeds.ensure("odd", "outlet")
    long_text = [f"Line {i} of a very long page." for i in range(5000)]
    put(pipeline, feed, entry("empty", [], 0), entry("one", ["One paragraph only."], 1),
        entry("long", long_text, 2), entry("punct", ["* * *", "—"], 3))
    assert [len(s.keys) for s in pipeline.learned.state(feed.id).window] == [0, 1, 5000, 0]
    assert store.count("entries") == 4 and text_of(store, "long") == "\n\n".join(long_text)
    # CJK: tokens are characters; a recurring Chinese line is learned and stripped
    cjk = store.feeds.ensure("cjk", "outlet")
    promo = normalize("关注我们的微信公众号，获取每日要闻。")  # as cleaning gives it (NFKC: a comma of ASCII)
    for i in range(boiler.MIN_STORIES):
        put(pipeline, cjk, entry(f"zh-{i}", [(CHINESE + CHINESE_OTHER)[i], promo], i))
    assert lines(store, cjk) == [promo]
    assert promo not in text_of(store, "zh-3")


def test_a_batch_that_fails_takes_what_it_taught_with_it(store: Store) -> None:
    pipeline = Pipeline(store)
    ledger = store.feeds.ensure("ledger", "outlet")
    ghost = Feed(id=9999, name="ghost", url="", role="outlet")  # not in the database: its insert fails
    items = [(ledger, prepare(entry(f"own-{i}", story(i) + FURNITURE, i))) for i in range(3)]
    with pytest.raises(Exception, match="FOREIGN KEY"):
        pipeline.ingest_many([*items, (ghost, prepare(entry("g", story(9), 9)))], NOW)
    assert store.query("SELECT count(*) AS n FROM boilerplate_window") == [{"n": 0}]
    assert len(pipeline.learned.state(ledger.id).window) == 0
    put(pipeline, ledger, *(entry(f"own-{i}", story(i) + FURNITURE, i) for i in range(3)))
    assert lines(store, ledger) == []  # three stories, not six
    put(pipeline, ledger, entry("own-3", story(3) + FURNITURE, 3))
    assert sorted(lines(store, ledger)) == sorted(FURNITURE)


def test_feeds_boilerplate_lists_what_a_feed_learned(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "r.db"
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\npath = "{db}"\n')
    with Store(db) as store:
        pipeline = Pipeline(store)
        wire, ledger = store.feeds.ensure("wire", "wire"), store.feeds.ensure("ledger", "outlet")
        store.feeds.ensure("quiet", "outlet")
        for i in range(boiler.MIN_STORIES):
            put(pipeline, wire, entry(f"w-{i}", story(i) + [DISCLAIMER], 2 * i))
            put(pipeline, ledger, entry(f"c-{i}", story(100 + i) + [MOST_READ], 2 * i + 1))
    assert main(["-c", str(cfg), "feeds", "boilerplate", "ledger"]) == 0
    assert capsys.readouterr().out == (
        "ledger (outlet): 1 line learned, stripped from its new entries before they are matched\n"
        "stories  learned           last seen         line\n"
        "-------  ----------------  ----------------  " + "-" * len(MOST_READ) + "\n"
        f"4        2026-11-28 12:00  2026-11-28 12:00  {MOST_READ}\n")
    assert main(["-c", str(cfg), "feeds", "boilerplate", "wire", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"line": "This story was produced by Meridian Wire' in out and '"kept": true' in out
    assert main(["-c", str(cfg), "feeds", "boilerplate", "quiet"]) == 0
    assert capsys.readouterr().out == "quiet (outlet): no lines learned\n"
    assert main(["-c", str(cfg), "feeds", "boilerplate", "nobody"]) == 1
    assert capsys.readouterr() == ("", "relaywatch: no feed named nobody\n")


def _stored(store: Store) -> list[tuple[object, ...]]:
    return [tuple(r.values()) for r in store.query(
        "SELECT e.guid, e.text, f.fingerprints, r.kind, o.guid AS original FROM entries e"
        " JOIN fingerprints f ON f.entry_id = e.id LEFT JOIN reposts r ON r.copy_id = e.id"
        " LEFT JOIN entries o ON o.id = r.original_id ORDER BY e.id")]


def test_a_worker_view_of_what_was_learned_changes_nothing_stored(tmp_path: Path) -> None:
    """Entries a worker stripped from its view of what their feed learned (right, stale, or wrong)
    are stored exactly as those the writer strips itself; and the view reads what the writer learned."""
    from relaywatch.record.learned import LearnedView

    def run(path: Path, view: bool) -> list[tuple[object, ...]]:
        with Store(path) as store:
            pipeline = Pipeline(store)
            ledger, wire = store.feeds.ensure("ledger", "outlet"), store.feeds.ensure("wire", "wire")
            learned = LearnedView(str(path)) if view else None
            items = [(ledger, story(i) + FURNITURE) for i in range(boiler.MIN_STORIES + 2)]
            items += [(wire, STORY), (ledger, STORY + FURNITURE)]
            for n, (feed, paras) in enumerate(items):
                e = entry(f"e{n}", paras, n)
                remove: frozenset[int] = frozenset()
                if learned is not None:  # the view; nothing; its furniture; its first line (wrong)
                    guesses = [learned.removable(feed.name), frozenset(),
                               frozenset(boiler.blocks("\n\n".join(FURNITURE)).keys),
                               frozenset(boiler.blocks(paras[0]).keys)]
                    remove = guesses[n % 4]
                pipeline.ingest(feed, [prepare(e, remove=remove)], NOW)
            if learned is not None:
                assert learned.removable("ledger") == boiler.removable(pipeline.learned.state(ledger.id), "outlet",
                                                                         pipeline.learned.protected())
                assert learned.removable("ledger") and learned.removable("wire") == frozenset()
                learned.close()
            return _stored(store)

    plain, viewed = run(tmp_path / "plain.db", False), run(tmp_path / "viewed.db", True)
    assert viewed == plain
    assert plain[-1][1] == "\n\n".join(STORY) and plain[-1][3] == "verbatim"


def test_a_worker_view_of_a_store_it_cannot_read_strips_nothing(tmp_path: Path) -> None:
    from relaywatch.record.learned import LearnedView

    view = LearnedView(str(tmp_path / "missing.db"))
    assert view.removable("ledger") == frozenset()
    view.close()
