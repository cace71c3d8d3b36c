"""Credit found wherever a page puts it, through the real pipeline: merged into the last
paragraph, followed by a footer, at the top after an intro, as a lead or a dateline in capitals,
after a dash, only as a link; an incidental mention and a photo credit are no credit."""

from __future__ import annotations

import pytest

from .matchcases import STORY
from .test_match import World, ps
from .test_match import world as world  # noqa: F401  (the fixture)

INTRO = "Our readers asked about the harbour all week; here is the latest from the wire."
FOOTER = "<p>Share this article: Facebook | X | WhatsApp | Email</p><p>© 2026 The Ledger. All rights reserved.</p>"
CREDITED = {
    "merged": ps(STORY[:-1] + [STORY[-1] + " Source: Meridian Wire."]),
    "after a dash": ps(STORY[:-1] + [STORY[-1] + " - Meridian Wire"]),
    "in parentheses": ps(STORY[:-1] + [STORY[-1] + " (Meridian Wire)"]),
    "reporting by": ps(STORY[:-1] + [STORY[-1] + " Reporting by Meridian Wire."]),
    "line then footer": ps(STORY + ["Source: Meridian Wire"]) + FOOTER,
    "byline after an intro": ps([INTRO, "By Meridian Wire staff"] + STORY),
    "lead in capitals": ps(["MERIDIAN WIRE - " + STORY[0]] + STORY[1:]),
    "dateline after an intro": ps([INTRO, "PORT ALDER, Nov 24 (MERIDIAN WIRE) \u2014 " + STORY[0]] + STORY[1:]),
    "link only": ps(STORY) + '<p>Read more at <a href="https://wire.example.com/a">our partner</a>.</p>',
}
UNCREDITED = {
    "told the wire": ps(STORY[:6] + ["A spokesman for the authority told Meridian Wire the crews were idle."]
                        + STORY[6:]),
    "photo credit": '<figure><img src="x.jpg"><figcaption>Cranes at Kestrel Point. MERIDIAN WIRE/Jo Bloggs'
                    '</figcaption></figure>' + ps(STORY),
}


@pytest.mark.parametrize("how", sorted(CREDITED))
def test_a_credit_wherever_the_page_puts_it_is_found(world: World, how: str) -> None:
    world.add("wire", "a", ps(STORY), 0)
    world.add("ledger", "copy", CREDITED[how], 2)
    link = world.link("copy")
    assert link is not None and link.original_id == world.ids["a"]
    assert link.credited, how
    assert link.kind == "verbatim", how  # the credit and the page's intro are no change of the wire's words


@pytest.mark.parametrize("how", sorted(UNCREDITED))
def test_a_mention_or_a_photo_credit_is_no_credit(world: World, how: str) -> None:
    world.add("wire", "a", ps(STORY), 0)
    world.add("ledger", "copy", UNCREDITED[how], 2)
    link = world.link("copy")
    assert link is not None and link.original_id == world.ids["a"]
    assert not link.credited, how


def test_the_intro_is_counted_as_added_before_the_story(world: World) -> None:
    world.add("wire", "a", ps(STORY), 0)
    world.add("ledger", "copy", CREDITED["byline after an intro"], 2)
    link = world.link("copy")
    assert link is not None and link.added_before == len(INTRO.replace("'", " ").replace(";", " ").split())
    assert (link.added_inside, link.added_after) == (0, 0)
