"""Partial and rewritten reuse: what a newspaper takes of a wire story, and what independent
reporting of the same event shares without taking it. Through the real pipeline and SQLite."""

from __future__ import annotations

import gzip
import re
from html import unescape

import numpy as np
import pytest
from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect.decide import MatchParams, derives_either
from relaywatch.detect.measure import measure
from relaywatch.detect.reuse import figures_of, layout, reuse

from .conftest import shared
from .matchcases import STORY
from .test_match import World, ps
from .test_match import world as world  # noqa: F401  (the fixture)

# A 30-word news-in-brief made of two of the wire's sentences, and one written independently on
# the same event: the same names, one of the same figures, its own words.
BRIEF = [STORY[0], "The 1.4 billion dollar expansion was meant to double the port's capacity by 2029."]
INDEPENDENT_BRIEF = ["Port Alder's Kestrel Point terminal is on hold: Judge Miriam Okafor sided with harvesters "
                     "on Monday, and chairman Tomas Varga sent the 300 crews home to wait."]
# A newspaper's rewrite: a lead of its own, three of the wire's sentences reworded in place or with
# a clause moved, one kept whole, and a sentence of its own reporting.
REWRITE = [
    "Work on the Kestrel Point terminal stopped this week.",
    "The Harbour Authority of Port Alder stopped work on its Kestrel Point container terminal on Monday, "
    "hours after a regional court overturned the permit that allowed dredging in the sound.",
    "Judge Miriam Okafor found that the authority had failed to assess the effect of the dredging on "
    "shellfish beds that supply about 300 local harvesters.",
    "Our reporter found the site gates locked and the car park empty on Tuesday afternoon.",
    "Crews had been sent home and no appeal would be filed before the board met next week, authority "
    "chairman Tomas Varga told reporters.",
    STORY[5],
]
# Independent reporting of the same court case: names, figures, the same quote and the wording of
# the ruling, in sentences of its own.
COURT_REPORT = [
    "Harvesters cheered on the courthouse steps in Port Alder on Monday.",
    "\"We respect the court's decision and we will comply with it fully,\" Varga said outside the courthouse.",
    "The ruling quashed the permit that allowed dredging, a victory for 300 families who have worked "
    "the beds for generations.",
    "Northgate Logistics, which leased the terminal, saw its shares slide during the afternoon.",
    "Judge Miriam Okafor gave no date for a new hearing, and Tomas Varga left without taking questions.",
]


def test_a_30_word_brief_of_two_wire_sentences_is_linked_as_an_excerpt(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    world.add("ledger", "brief", ps(BRIEF), 2)
    link = world.link("brief")
    assert link is not None and link.original_id == world.ids["a"] and link.kind == "excerpt"


def test_a_30_word_independent_brief_with_the_names_and_a_figure_is_not_linked(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    world.add("ledger", "own", ps(INDEPENDENT_BRIEF), 2)
    assert world.link("own") is None


def test_a_newspaper_rewrite_is_linked_as_edited(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    world.add("courier", "rewrite", ps(REWRITE), 3)
    link = world.link("rewrite")
    assert link is not None and link.original_id == world.ids["a"] and link.kind == "edited"


def test_independent_report_of_the_same_case_sharing_a_quote_is_not_linked(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    world.add("courier", "court", ps(COURT_REPORT), 3)
    assert world.link("court") is None


def _reuse(copy: str, original: str) -> tuple[int, int, bool]:
    a, b = fpmod.fingerprint(copy), fpmod.fingerprint(original)
    r = reuse(layout(copy, a.tokens), fpmod.covered(a, b.shingles), figures_of(original), words=(a.words, b.vocabulary))
    return r.taken, r.taken_quotes, r.derived


def test_a_sentence_from_the_same_template_with_other_names_is_not_taken() -> None:
    template = ("{} is issuing a 100 mln dlr eurobond due April 9, 1997 carrying a coupon of 8-1/4 pct and "
                "priced at 101-5/8, said {} as lead manager of the issue.")
    wire = template.format("Norsk Hydro", "Swiss Bank Corp International")
    assert _reuse(template.format("Electricite de France", "Nomura Securities"), wire)[0] == 0
    assert _reuse(template.format("Norsk Hydro", "Nomura Securities"), wire)[0] == 1  # one name of two: the story's
    lay = layout(wire, len(fpmod.tokenize(wire)))
    assert lay.names is not None
    assert [fpmod.tokenize(wire)[i] for i in lay.names] == ["hydro", "april", "swiss", "bank", "corp", "international"]


def test_a_quote_with_a_stock_attribution_is_no_brief() -> None:
    filing = ("A group of investors said it is seeking information about the shareholders of the company. In a "
              "filing with the Securities and Exchange Commission, the group said it holds 17.5 pct of the stock.")
    copy = ('"Mr. Landes has asked the company to sell all or part of its assets or to liquidate," he said in a '
            "filing with the Securities and Exchange Commission. Landes and another investor hold 15.2 pct of "
            "the stock and formed a group to press for a sale. They may buy more shares or sell some or all "
            "of their stake, and had agreed a takeover at 12.50 dlrs a share last September before talks broke down.")
    assert _reuse(copy, filing)[2] is False  # its one sentence with the wire's words is a quote: no evidence


def test_layout_finds_sentences_and_quotes() -> None:
    text = 'The U.S. board met Mr. Varga. "We respect the ruling," he said.\n\nThen it rained! 好的。再见。'
    lay = layout(text, len(fpmod.tokenize(text)))
    tokens = fpmod.tokenize(text)
    assert lay.sentences == 5
    assert [t for t, q in zip(tokens, lay.quoted, strict=True) if q] == ["we", "respect", "the", "ruling"]
    assert [int(s) for s in lay.sentence[:6]] == [0] * 6  # "U.S." and "Mr." end no sentence
    assert [tokens[i] for i in lay.names.tolist()] == ["u", "s", "mr", "varga"]  # capitals not first in a sentence
    figures = layout("Output rose 1.4 pct. It was 55,019,000 tonnes, 12-7/8 more.", 15).figures
    assert figures == ((0, "1.4"), (1, "55,019,000"), (1, "12"), (1, "7/8"))
    old_wire = 'Last week"s quake hit the port"s cranes. Officials said "it will take months" to repair them.'
    lay = layout(old_wire, len(fpmod.tokenize(old_wire)))
    assert [t for t, q in zip(fpmod.tokenize(old_wire), lay.quoted, strict=True) if q] == \
        ["it", "will", "take", "months"]  # a straight quote between two letters is an apostrophe


def test_shared_quotes_are_no_evidence_and_figures_must_be_the_originals() -> None:
    quote = '"We respect the court\'s decision and we will comply with it fully and at once," Varga said.'
    assert _reuse(" ".join([quote, quote.replace("Varga", "the chairman")]), " ".join(STORY + [quote]))[2] is False
    template = "Acme said third quarter net income rose to {} million dollars from {} million dollars a year earlier."
    template_a, template_b = template.format("12.4", "9.8"), template.format("3.1", "2.2")
    assert _reuse(f"{template_b} {template_b}", template_a)[0] == 0


def test_bad_input_gives_a_sensible_result() -> None:
    one = STORY[1]
    assert _reuse(one, " ".join(STORY)) == (1, 0, True)  # one wire sentence, alone: a brief of it
    quotes = [f'"Quote number {i} about the harbour and its future, as said here," {who}.'
              for i, who in enumerate(["she said", "said the chairman", "he added"] * 5)]
    own = [q.replace("she said", "Varga told our reporter").replace("said the chairman", "a board member said")
           .replace("he added", "another official went on") for q in quotes]
    assert _reuse(" ".join(own), " ".join(quotes))[2] is False  # the same quotes, told by another: no evidence
    assert _reuse(" ".join(quotes[:5]), " ".join(quotes))[2] is True  # the wire's quotes as the wire wrote them
    long_original = " ".join(STORY * 70)  # ~10,000 words
    assert len(long_original.split()) > 9_000
    assert _reuse(" ".join(STORY[:2]), long_original)[2] is True
    mixed = STORY[0] + " 福岛核电站周一停止运行，工人们已被送回家。 " + STORY[1]
    assert _reuse(mixed, " ".join(STORY))[2] is True
    assert _reuse("", " ".join(STORY)) == (0, 0, False)
    empty = layout("", 0)
    assert empty.sentences == 0 and reuse(empty, np.zeros(0, dtype=bool)).derived is False


def test_derives_either_does_not_need_to_know_which_text_is_the_copy() -> None:
    from relaywatch.detect.decide import MatchParams, derives_either
    from relaywatch.detect.measure import measure

    wire, brief, own = " ".join(STORY), " ".join(BRIEF), " ".join(INDEPENDENT_BRIEF)
    p = MatchParams()
    for a, b, want in ((brief, wire, True), (wire, brief, True), (own, wire, False), (wire, own, False)):
        fa, fb = fpmod.fingerprint(a), fpmod.fingerprint(b)
        assert derives_either(fa, a, fb, b, measure(fa, fb, p.figures_from), p) is want


def test_a_word_swapped_at_the_first_kept_sentence_after_a_lead_of_its_own_is_an_edit(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    lead = "Port Alder's biggest project is on hold after a court ruling this week."
    swapped = STORY[5].replace("harvesters' cooperative", "harvesters' association")  # its 3rd word
    world.add("courier", "swapped", ps([lead, swapped, *STORY[6:8]]), 3)
    world.add("ledger", "cut", ps([lead, STORY[5], "Our reporter found the gates locked.", *STORY[6:8]]), 3)
    swapped_link, cut_link = world.link("swapped"), world.link("cut")
    assert swapped_link is not None and swapped_link.kind == "edited"
    assert cut_link is not None and cut_link.kind == "excerpt"  # cuts and a sentence of its own: no word changed


def test_sentences_sharing_only_a_long_name_are_not_taken() -> None:
    wire = ("Mortgage rates rose again in May, said James Christian, chief economist for the U.S. League of "
            "Savings Institutions. Christian of the U.S. League of Savings Institutions said demand stays firm.")
    other = ('"We fully expected a decline but not this one," said a senior economist for the U.S. League of '
             "Savings Institutions in Chicago. A spokesman of the U.S. League of Savings Institutions said sales "
             "of existing homes rose sharply in the northeast.")
    assert _reuse(other, wire)[0] == 0
    shouted = ("MORTGAGE RATES ROSE AGAIN IN MAY AS BUYERS HELD BACK, THE LEAGUE SAID. "
               "SALES OF NEW HOMES FELL IN THE WEST AND THE SOUTH.")  # in capitals: every word counts
    assert _reuse(shouted, shouted + " Other words of the wire follow here in a sentence of its own.")[0] == 2


def _reuters(*titles: str) -> list[str]:
    """The bodies of the Reuters-21578 stories with these titles, in that order."""
    bodies: dict[str, str] = {}
    for name in ("reut2-001.sgm.gz", "reut2-006.sgm.gz", "reut2-011.sgm.gz"):
        with gzip.open(shared("reuters21578", name), "rt", encoding="latin-1") as f:
            for title, body in re.findall(r"<TITLE>(.*?)</TITLE>.*?<BODY>(.*?)</BODY>", f.read(), re.S):
                bodies.setdefault(unescape(title), unescape(body).replace("\x03", "").strip())
    return [bodies[t] for t in titles]


@pytest.mark.parametrize(("copy", "original"), [
    ("BRITISH LAND ISSUES 30 MLN STG CONVERTIBLE BOND", "HOKKAIDO BANK ISSUES 30 MLN DLR CONVERTIBLE BOND"),
    ("SWEDEN REVISES DOWN JANUARY'S INFLATION FIGURE", "U.S. FACTORY ORDERS ROSE 4.3 PCT IN FEBRUARY"),
], ids=["two bond issues", "inflation and factory orders"])
def test_two_reports_from_one_template_do_not_derive(copy: str, original: str) -> None:
    """Two Reuters stories written from the agency's templates share every phrase around their
    figures ("at 104 declining by one pct per annum", "at 106 declining by ..."): a figure put in
    place of another is other facts, not a word edited in place; and the template's 4-word phrases,
    met at different places of the other story, are not a run of six words it has."""
    a_text, b_text = _reuters(copy, original)
    a, b = fpmod.fingerprint(a_text), fpmod.fingerprint(b_text)
    p = MatchParams()
    m = measure(a, b, p.figures_from, (p.min_coverage, p.min_containment))
    assert not derives_either(a, a_text, b, b_text, m, p)


def test_a_wire_story_that_shares_sentences_with_one_copy_only_is_not_its_original(world: World) -> None:
    """An outlet's story, and a later page that copies part of it and adds four sentences of another
    story; that other story, a wire's dated earlier, arrives last: it is not the original of the
    outlet's story, which shares nothing with it (the page stays linked to the outlet's story)."""
    other = ["Rail freight volumes at the Dunmore interchange rose by a fifth in the first quarter as "
             "shippers moved grain away from the congested coastal roads.",
             "The interchange operator said it would add two night shifts from next month and hire forty "
             "drivers to keep up with the demand from inland farms.",
             "Farm groups welcomed the change but warned that the single-track branch line to the silos "
             "would need new passing loops before the autumn harvest.",
             "The transport ministry has promised a decision on funding for the loops by the end of the "
             "year, a spokeswoman for the operator said on Tuesday.",
             "Freight rates on the branch line have not changed since 2019 under a deal with the growers."]
    world.add("ledger", "story", ps(STORY), 1)
    world.add("courier", "page", ps(STORY[:3] + other[:4]), 3)
    assert (link := world.link("page")) is not None and link.original_id == world.ids["story"]
    world.add("wire", "w", ps(other), 0)
    assert world.link("story") is None
    assert (link := world.link("page")) is not None and link.original_id == world.ids["story"]


# A wire story of days later that reuses two of an earlier story's sentences as its background.
FOLLOW_UP = ["The Harbour Authority of Port Alder filed its appeal on Friday, asking a higher court to "
             "restore the dredging permit for the Kestrel Point terminal.",
             "Its lawyers argued that the environmental study the judge asked for had been carried out "
             "in 2022 and submitted with the permit application.",
             "The authority's board approved the appeal at a meeting on Thursday evening, chairman Tomas "
             "Varga said in a statement.",
             STORY[1], STORY[2]]


@pytest.mark.parametrize(("hours", "linked"), [(-100, False), (-10, True)])
def test_sentences_shared_with_a_wire_story_published_days_later_were_not_taken_from_it(
        world: World, hours: float, linked: bool) -> None:
    """An outlet's story and a wire story that reuses two of its sentences as background. Within a
    day (a wrong time zone, a public feed behind its wire service) the wire is still the original;
    days later, the outlet took its sentences from elsewhere: no link either way."""
    world.add("ledger", "story", ps(STORY), hours)
    world.add("wire", "w", ps(FOLLOW_UP), 0)
    link = world.link("story")
    assert (link is not None and link.original_id == world.ids["w"]) is linked
    assert world.link("w") is None


def test_a_whole_copy_dated_days_before_its_wire_original_is_still_linked(world: World) -> None:
    """A copy holding the wire story whole: its date is the one that is wrong."""
    world.add("ledger", "copy", ps(STORY), -100)
    world.add("wire", "a", ps(STORY), 0)
    link = world.link("copy")
    assert link is not None and link.original_id == world.ids["a"] and link.kind == "verbatim"
    assert link.anomaly == "copy dated before its original"


def test_runs_shared_are_true_runs_not_chained_shingles() -> None:
    a = fpmod.fingerprint("inflation reached a rate of 5.3 pct in february last year")
    chained = fpmod.fingerprint("orders fell in january of 5.3 pct the most since records began while "
                                "exports rose 4.3 pct in february to a new high")
    assert fpmod.covered(a, chained.shingles)[4:10].all()  # "of 5 3 pct" and "3 pct in february"
    assert not fpmod.runs_shared(a, chained, 6).any()
    whole = fpmod.fingerprint("the bank said inflation reached a rate of 5.3 pct in february")
    assert fpmod.runs_shared(a, whole, 6).tolist() == [True] * 10 + [False] * 2


def test_figure_tokens_are_the_tokens_with_a_digit() -> None:
    fp = fpmod.fingerprint("Fees of 2-1/2 pct in 1987, up from 1.5 pct")
    assert [t for t, f in zip(fpmod.tokenize("Fees of 2-1/2 pct in 1987, up from 1.5 pct"),
                              fp.figures, strict=True) if f] == ["2", "1", "2", "1987", "1", "5"]
