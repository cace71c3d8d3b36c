"""Each decision of the matcher on a small case, through the real pipeline and a real SQLite file."""

from __future__ import annotations

import html
import random
from datetime import UTC, datetime, timedelta

import pytest
from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect.decide import Assessment, MatchParams, New, assess
from relaywatch.detect.measure import measure
from relaywatch.detect.prepare import prepare
from relaywatch.models import Link, ParsedEntry, StoredEntry
from relaywatch.record.pipeline import Pipeline
from relaywatch.store import Store

from .matchcases import CHINESE, CHINESE_OTHER, EARNINGS_A, EARNINGS_B, GERMAN, OTHER_REPORT, SPUN, STORY

T0 = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
FEEDS = {"wire": ("wire", ["Meridian Wire"]), "ledger": ("outlet", []), "courier": ("outlet", []),
         "echo": ("relay", []), "mirror": ("relay", [])}


def ps(paras: list[str]) -> str:
    return "".join(f"<p>{html.escape(p)}</p>" for p in paras)


class World:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.pipeline = Pipeline(store)
        self.ids: dict[str, int] = {}

    def add(self, feed: str, guid: str, body: str, hours: float, title: str = "") -> int:
        role, credit = FEEDS[feed]
        f = self.store.feeds.ensure(feed, role, credit)
        entry = ParsedEntry(guid=guid, url=f"https://{feed}.example.com/{guid}", title=title or guid, html=body,
                            published=T0 + timedelta(hours=hours), published_raw=None, date_flag=None)
        self.pipeline.ingest(f, [prepare(entry)], NOW)
        state = self.store.entries.state(f.id, guid)
        assert state is not None
        self.ids[guid] = state[0]
        return state[0]

    def link(self, guid: str) -> Link | None:
        return self.store.links.of(self.ids[guid])


@pytest.fixture
def world(store: Store) -> World:
    return World(store)


WP = '<p>The post <a href="https://ledger.example.com/p">Harbour halt</a> appeared first on <a href="x">Ledger</a>.</p>'


def test_verbatim_copy_in_relay_boilerplate(world: World) -> None:
    world.add("wire", "a", ps(["PORT ALDER, Nov 24 (Meridian Wire) - " + STORY[0]] + STORY[1:]), 0)
    world.add("ledger", "copy", ps(STORY) + WP, 3.5)
    link = world.link("copy")
    assert link is not None
    assert (link.original_id, link.kind, link.coverage, link.via_id) == (world.ids["a"], "verbatim", 1.0, None)
    assert link.lag_seconds == 3.5 * 3600
    assert link.credited is False


def test_excerpt_of_fifteen_percent_with_a_credit_is_a_repost(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    world.add("ledger", "excerpt", ps(STORY[:2]) + "<p>Source: Meridian Wire</p>", 1)
    link = world.link("excerpt")
    assert link is not None and link.kind == "excerpt"
    assert 0.12 <= link.coverage <= 0.2
    assert link.credited is True


def test_edited_copy(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    edited = [p.replace("said", "stated").replace("dollars", "USD") for p in STORY if "Analysts" not in p]
    edited[3], edited[4] = edited[4], edited[3]
    edited.insert(0, "Our correspondent adds that the mood in the town was tense on Monday evening.")
    world.add("courier", "edit", ps(edited), 2, title="Breaking: terminal work stops")
    link = world.link("edit")
    assert link is not None and link.kind == "edited" and link.original_id == world.ids["a"]
    assert 0.7 <= link.coverage < 0.95


def test_light_revision_swapping_a_word_in_four_is_found(world: World) -> None:
    """Every fourth word replaced: no exact 4-word run survives, yet the text is the wire's."""
    world.add("wire", "a", ps(STORY), 0)
    revised = [" ".join(w if i % 4 != 2 else "quite" for i, w in enumerate(p.split())) for p in STORY]
    world.add("courier", "light", ps(revised), 2)
    link = world.link("light")
    assert link is not None and link.original_id == world.ids["a"] and link.kind == "edited"
    # the whole wire text is in the copy, edited in place: the swapped words count for coverage
    assert link.coverage >= 0.95 and link.copy_share >= 0.95


def test_spun_copy_is_edited_and_covers_the_whole_story(world: World) -> None:
    """An article spinner's copy keeps the story in order with words swapped for synonyms: the
    swapped words count for coverage, though its exact 4-word runs hold little more than half."""
    world.add("wire", "a", ps(STORY[:6]), 0)
    world.add("echo", "spun", ps(SPUN), 5)
    link = world.link("spun")
    assert link is not None and link.original_id == world.ids["a"] and link.kind == "edited"
    assert link.coverage >= 0.95 and link.copy_share >= 0.95
    exact = measure(fpmod.fingerprint(" ".join(SPUN)), fpmod.fingerprint(" ".join(STORY[:6])))
    assert exact.b_cov < 0.6 and exact.a_cov < 0.6


def test_copy_that_adds_its_own_text_is_still_a_repost_of_the_whole_story(world: World) -> None:
    """What a page puts around the story is not an edit of it: the wire's text ran whole."""
    world.add("wire", "a", ps(STORY[:6]), 0)
    own = [
        f"Paragraph {i} of the outlet's own analysis, which discusses regional shipping at length." for i in range(8)
    ]
    world.add("ledger", "bigger", ps(own[:4] + STORY[:6] + own[4:]), 1)
    link = world.link("bigger")
    assert link is not None and link.coverage == 1.0 and link.kind == "verbatim"
    words = [len(fpmod.tokenize(" ".join(part))) for part in (own[:4], own[4:])]
    assert (link.added_before, link.added_inside, link.added_after) == (words[0], 0, words[1])


def test_intact_story_under_a_caption_with_a_list_of_headlines_below_is_verbatim(world: World) -> None:
    """A page's caption above the story and its "You may also like" list below it are the page's,
    not changes to the story."""
    world.add("wire", "a", ps(STORY), 0)
    caption = ("Idle cranes stand at the Kestrel Point site in Port Alder, where work stopped on Monday after "
               "a court ruling. Picture taken November 24.")
    more = '<p>You may also like</p><p><a href="/x">Ferry fares to rise in spring</a></p>'
    world.add("ledger", "page", ps([caption]) + ps(STORY) + more, 2)
    link = world.link("page")
    assert link is not None and link.kind == "verbatim" and link.coverage == 1.0


def test_lead_only_cut_is_an_excerpt_and_a_reworded_copy_is_edited(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    world.add("ledger", "lead", ps(STORY[:4]), 1)
    reworded = [STORY[0].replace("halted", "stopped")] + STORY[1:3] + [STORY[3].replace("told reporters", "said")]
    world.add("courier", "reworded", ps(reworded + STORY[4:]), 1)
    lead, edited = world.link("lead"), world.link("reworded")
    assert lead is not None and lead.kind == "excerpt"
    assert edited is not None and edited.kind == "edited"


@pytest.mark.parametrize("cut", [True, False])
def test_a_sentences_last_word_swapped_before_a_cut_or_at_the_end_is_an_edit(world: World, cut: bool) -> None:
    """"... before the board met next week." -> "... next month.": the word after it starts another
    sentence in each text (or the text ends), so only the words before it are there to compare."""
    world.add("wire", "a", ps(STORY), 0)
    kept = STORY[:3] + [STORY[3].replace("next week.", "next month.")]
    world.add("ledger", "swap", ps(kept + ([] if cut else STORY[4:])), 1)
    world.add("courier", "lead", ps(STORY[:4] + ["Our reporter found the gates locked on Tuesday."]), 1)
    swap, lead = world.link("swap"), world.link("lead")
    assert swap is not None and swap.kind == "edited"
    assert lead is not None and lead.kind == "excerpt" and lead.added_after == 8


def test_a_link_to_the_original_is_a_credit_and_a_mention_is_not(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    linked = ps(STORY[:5]) + '<p>Read the report on <a href="https://wire.example.com/a">our partner\'s site</a>.</p>'
    world.add("ledger", "linked", linked, 1)
    world.add("courier", "site", ps(STORY[:5]) + '<p><a href="https://wire.example.com/">Photo gallery</a></p>', 1)
    mention = ps(STORY[:5] + ["A spokesman for the authority told Meridian Wire that crews were idle."])
    world.add("mirror", "mention", mention, 1)
    assert [world.link(g).credited for g in ("linked", "site", "mention")] == [True, True, False]


def test_different_story_on_the_same_event_is_not_linked(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    world.add("courier", "other", ps(OTHER_REPORT), 2)
    assert world.link("other") is None


def test_two_earnings_reports_from_one_template_are_not_linked(world: World) -> None:
    world.add("wire", "acme", f"<p>{EARNINGS_A}</p>", 0)
    world.add("ledger", "borealis", f"<p>{EARNINGS_B}</p>", 1)
    assert world.link("borealis") is None


def test_follow_up_reusing_one_quote_is_not_linked(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    follow = ["The Port Alder harbour board voted on Thursday to appeal last week's ruling, reversing its chairman.",
              STORY[4], "The appeal will be heard in March, the court registry said, and the site stays closed."]
    world.add("wire", "follow", ps(follow), 72)
    world.add("courier", "follow-copy", ps(follow), 73)
    assert world.link("follow") is None
    link = world.link("follow-copy")
    assert link is not None and link.original_id == world.ids["follow"]


STOCK_LINE = "Readers can follow our coverage of this and other stories on the site every day."


_VOCAB = ["grain", "tariff", "river", "council", "ferry", "school", "budget", "orchard", "museum", "rail", "storm",
          "vote", "bakery", "clinic", "harvest", "bridge", "mayor", "concert", "library", "tunnel", "wind"]


def _filler(seed: int, words: int = 120) -> str:
    """A text of its own for each of many unrelated entries (pseudo-random words)."""
    rnd = random.Random(seed)
    return " ".join(rnd.choice(_VOCAB) for _ in range(words)) + "."


def test_a_stock_line_in_many_older_entries_does_not_hide_the_original(world: World) -> None:
    # 70 older relay posts carry the same stock line, more than a fingerprint's 64 counted entries
    for i in range(70):
        world.add("echo", f"stock{i}", ps([_filler(i), STOCK_LINE]), i / 100)
    world.add("wire", "a", ps(STORY[6:9]), 1)
    world.add("mirror", "clip", ps([STORY[7], STOCK_LINE]), 2)  # a sentence of the story, the stock line
    link = world.link("clip")
    assert link is not None and link.original_id == world.ids["a"]
    assert all(world.link(f"stock{i}") is None for i in range(70))


def test_relay_of_a_relay_points_via_the_copy_it_took(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    ledger_html = ps(STORY[:8]) + WP
    world.add("ledger", "copy", ledger_html, 2)
    world.add("courier", "other-copy", ps(STORY[:8]), 2.5)
    relay = ledger_html + '<br/><br/>from Ledger http://ift.tt/2xYz9Qa<br/>via <a href="https://ifttt.com">IFTTT</a>' \
        "<p>No comments:</p><p>Post a Comment</p>"
    world.add("echo", "relay", relay, 3, title="Harbour halt - from Ledger")
    link = world.link("relay")
    assert link is not None
    assert (link.original_id, link.via_id, link.kind) == (world.ids["a"], world.ids["copy"], "excerpt")


def test_relay_of_an_outlet_that_ran_the_story_twice_points_via_the_page_it_copied(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    first = ps(STORY[:8]) + "<p>Related posts:</p><p>Ledger weekly roundup</p>"
    world.add("ledger", "first", first, 2)
    world.add("ledger", "again", ps(STORY[:8]) + "<p>No comments:</p><p>Post a Comment</p>", 4)  # same text
    relay = first + '<br/><br/>from Ledger http://ift.tt/2xYz9Qa<br/>via <a href="https://ifttt.com">IFTTT</a>'
    world.add("echo", "relay", relay, 5, title="Harbour halt - from Ledger")
    link = world.link("relay")
    assert link is not None  # the related-posts block it carries is the first page's
    assert (link.original_id, link.via_id) == (world.ids["a"], world.ids["first"])


def test_relay_stored_before_the_copy_it_names_is_pointed_at_it_later(world: World) -> None:
    """Feeds are polled in any order: the relay's feed may be read before the outlet's."""
    world.add("wire", "a", ps(STORY), 0)
    ledger_html = ps(STORY[:8]) + WP
    relay = ledger_html + '<br/>from Ledger http://ift.tt/2xYz9Qa<br/>via <a href="https://ifttt.com">IFTTT</a>'
    world.add("echo", "relay", relay, 3, title="Harbour halt - from Ledger")
    first = world.link("relay")
    assert first is not None and first.via_id is None
    world.add("ledger", "copy", ledger_html, 2)
    link = world.link("relay")
    assert link is not None
    assert (link.original_id, link.via_id, link.kind) == (world.ids["a"], world.ids["copy"], "excerpt")


def test_relay_of_an_edited_copy_is_found_by_its_edits(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    edited = [p.replace("said", "stated") for p in STORY[:9]] + ["A line the outlet wrote itself about the mood."]
    world.add("ledger", "edit", ps(edited), 2)
    world.add("courier", "plain", ps(STORY), 2.5)
    world.add("echo", "relay", ps(edited) + "<p>No comments:</p><p>Post a Comment</p>", 4)
    link = world.link("relay")
    assert link is not None and link.via_id == world.ids["edit"] and link.kind == "edited"
    assert world.link("plain") is not None and world.link("plain").via_id is None  # type: ignore[union-attr]


def test_a_whole_copy_is_compared_with_its_original_alone(world: World, store: Store) -> None:
    """Another outlet's whole copy of a wire story is measured against the wire story only (the
    other copies could neither match it better nor be the copy it took); an edited one, against all."""
    edited = [p.replace("said", "stated") for p in STORY[:9]] + ["A line the outlet wrote itself about the mood."]
    ids = [world.add("wire", "a", ps(STORY), 0), world.add("ledger", "edit", ps(edited), 2),
           world.add("courier", "plain", ps(STORY), 2.5)]
    known = world.pipeline.matcher.known(ids)
    mirror = store.feeds.ensure("mirror", "relay")

    def assessed(paras: list[str]) -> Assessment:
        item = prepare(ParsedEntry(guid="m", url="https://mirror.example.com/m", title="m", html=ps(paras),
                                   published=T0 + timedelta(hours=5), published_raw=None, date_flag=None))
        entry = StoredEntry(id=10_000, feed_id=mirror.id, feed_name="mirror", role="relay", guid="m",
                            url="https://mirror.example.com/m", title="m", published=T0 + timedelta(hours=5),
                            first_seen=NOW, text=item.clean.text)
        return assess(New(entry, item.clean, item.fp), [known[i] for i in ids], store.links.originals_of(ids),
                      known, MatchParams())

    whole = assessed(STORY)
    assert (whole.root, list(whole.measures)) == (ids[0], [ids[0]])
    copied = assessed(edited)
    assert copied.root == ids[0] and list(copied.measures) == ids
    world.add("mirror", "m", ps(STORY), 5)
    link = world.link("m")
    assert link is not None and (link.original_id, link.via_id, link.kind) == (ids[0], None, "verbatim")


def test_independent_copies_do_not_point_via_each_other(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    world.add("ledger", "one", ps(STORY), 1)
    world.add("courier", "two", ps(STORY), 2)
    world.add("echo", "three", ps(STORY[:3]), 3)
    assert [world.link(g).via_id for g in ("one", "two", "three")] == [None, None, None]  # type: ignore[union-attr]


def test_wire_seen_after_its_copies_becomes_the_original(world: World) -> None:
    world.add("echo", "relay", ps(STORY) + '<br/>from Ledger http://ift.tt/x<br/>via IFTTT', 5)
    world.add("ledger", "copy", ps(STORY), 3)
    world.add("wire", "a", ps(STORY), 0)
    assert world.link("a") is None
    relay, copy = world.link("relay"), world.link("copy")
    assert relay is not None and copy is not None
    assert relay.original_id == copy.original_id == world.ids["a"]
    assert relay.via_id == world.ids["copy"]
    assert relay.lag_seconds == 5 * 3600


def test_copy_dated_before_the_wire_does_not_reverse_the_chain(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    world.add("ledger", "early", ps(STORY), -7)  # a wrong clock or a missing time zone
    link = world.link("early")
    assert link is not None and link.original_id == world.ids["a"]
    assert link.anomaly == "copy dated before its original"


def test_earliest_outlet_is_the_original_when_no_wire_has_the_story(world: World) -> None:
    world.add("courier", "late", ps(STORY), 5)
    world.add("ledger", "first", ps(STORY), 1)
    link = world.link("late")
    assert link is not None and link.original_id == world.ids["first"]
    assert world.link("first") is None


def test_correction_by_the_same_feed_is_an_update_not_a_repost(world: World, store: Store) -> None:
    world.add("wire", "a", ps(STORY), 0)
    corrected = ps(STORY[:-1] + [STORY[-1].replace("sixty", "ninety")])
    world.add("wire", "a-corrected", corrected, 2)
    assert world.link("a-corrected") is None
    row = store.query("SELECT update_of FROM entries WHERE id = ?", [world.ids["a-corrected"]])
    assert row == [{"update_of": world.ids["a"]}]


def test_same_guid_with_an_edited_body_is_not_a_new_entry(world: World, store: Store) -> None:
    world.add("wire", "a", ps(STORY), 0)
    world.add("ledger", "copy", ps(STORY), 1)
    world.add("ledger", "copy", ps(STORY[:-1]), 1)
    assert store.count("entries") == 2
    assert store.count("reposts") == 1


def test_entries_read_back_are_kept_as_their_feed_and_text_are_now(world: World, store: Store) -> None:
    """The matcher keeps the entries it reads; a kept one follows its feed's new role and its own
    edited text (the role decides which of two entries is the original)."""
    a = world.add("ledger", "a", ps(STORY), 0)
    matcher = world.pipeline.matcher
    assert matcher.known([a])[a].entry.role == "outlet"
    store.feeds.ensure("ledger", "wire")
    assert matcher.known([a])[a].entry.role == "wire"
    world.add("ledger", "a", ps(STORY[:2]), 0)  # the same guid with a shorter body: an update
    assert matcher.known([a])[a].entry.text == "\n\n".join(STORY[:2])


def test_non_english_copy_is_detected(world: World) -> None:
    world.add("wire", "de", ps(GERMAN), 0)
    world.add("ledger", "de-copy", ps(GERMAN[:2]) + "<p>Quelle: Meridian Wire</p>", 1)
    link = world.link("de-copy")
    assert link is not None and link.kind == "excerpt" and link.original_id == world.ids["de"]


def test_chinese_copy_is_detected_by_character_shingles(world: World) -> None:
    world.add("wire", "zh", ps(CHINESE), 0)
    world.add("courier", "zh-other", ps(CHINESE_OTHER), 0.5)
    world.add("ledger", "zh-copy", ps(CHINESE[:3]), 1)
    link = world.link("zh-copy")
    assert link is not None and link.original_id == world.ids["zh"] and link.kind == "excerpt"
    assert world.link("zh-other") is None
