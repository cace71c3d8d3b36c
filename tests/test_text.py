import re

import pytest
from relaywatch.detect.text import BOILERPLATE, _anchored, _split, clean, credits_name, html_to_paragraphs, normalize

STORY = "<p>The harbour authority halted the expansion on Monday after the court ruling.</p>" \
        "<p>Officials said the decision would be appealed within a month.</p>"


def test_paragraph_breaks_are_kept_and_scripts_dropped() -> None:
    paras, caption = html_to_paragraphs("<div><p>One <b>two</b></p><script>evil()</script>three<br>four"
                                        "<ul><li>five</li></ul></div>")
    assert paras == ["One two", "three", "four", "five"]
    assert caption is False


def test_unicode_is_normalised() -> None:
    assert normalize("Caf\u0065\u0301 \u201cquoted\u201d \u2014 \ufb01ne\u00a0x") == 'Café "quoted" - fine x'


@pytest.mark.parametrize(("footer", "pattern"), [
    ('<p>The post <a href="https://x.example/p">Title</a> appeared first on <a href="https://x.example">'
     'TRUNEWS</a>.</p>', "wordpress-appeared-first"),
    ('<br/><br/>from TRUNEWS http://ift.tt/2xYz9Qa<br/>via <a href="https://ifttt.com">IFTTT</a>', "ifttt-from"),
    ("<p>No comments:</p><p>Post a Comment</p>", "blogspot-no-comments"),
    ('<p><a href="/more">Continue reading</a></p>', "continue-reading"),
    ("<p>Share this: Facebook Twitter Email</p>", "share-line"),
    ("<p>Subscribe to our newsletter to get the latest news in your inbox.</p>", "subscribe-line"),
    ("<p>Sign up: stay on top of the news! Sign up for our email newsletters here.</p>", "subscribe-line"),
    ("<p>There is more where that came from. Sign up for The Brief to get the newsletter daily.</p>",
     "subscribe-line"),
    ("<p>SEE MORE: Harbour strike enters its third week</p>", "continue-reading"),
    ("<p>See also: Ferry fares to rise in spring</p>", "continue-reading"),
    ("<p>Follow The Daily Planet Opinion section on Facebook, Twitter and Instagram.</p>", "follow-us"),
    ("<p>Get the Harbour Monthly delivered every month. 12 issues for £11.99. Click here for more information.</p>",
     "click-here"),
    ("<p>Protesters gather in Beirut, Lebanon, May 3. REUTERS/Mohamed Azakir</p>", "photo-credit"),
    ('<figure><img src="x.jpg"><figcaption>A caption</figcaption></figure>', "figcaption"),
    ("<div><h3>Related</h3><ul><li>Weekly roundup</li><li>Markets today</li></ul></div>",
     "related-block"),
])
def test_relay_boilerplate_is_stripped_and_named(footer: str, pattern: str) -> None:
    c = clean(STORY + footer)
    assert c.text == ("The harbour authority halted the expansion on Monday after the court ruling.\n\n"
                      "Officials said the decision would be appealed within a month.")
    assert pattern in c.boilerplate


def test_relay_footers_name_their_source() -> None:
    c = clean(STORY + '<p>The post <a href="u">T</a> appeared first on <a href="v">TRUNEWS</a>.</p>'
              "<br/><br/>from TRUNEWS http://ift.tt/2xYz9Qa<br/>via IFTTT")
    assert c.sources == ("TRUNEWS", "TRUNEWS")


def test_the_pattern_table_has_unique_names() -> None:
    names = [p.name for p in BOILERPLATE]
    assert len(names) == len(set(names))


def test_dateline_is_set_apart_and_credits() -> None:
    c = clean("<p>BEIRUT, May 3 (Reuters) - Israeli jets struck targets on Friday, officials said.</p>")
    assert c.dateline == "BEIRUT, May 3 (Reuters) -"
    assert c.text == "Israeli jets struck targets on Friday, officials said."
    assert credits_name(c, ["Reuters"])
    assert not credits_name(c, ["AP"])


@pytest.mark.parametrize("line", ["Source: Reuters", "Read the full story at Reuters.",
                                  "Continue reading at Reuters", "Reuters", "(Reuters)"])
def test_credit_lines_credit(line: str) -> None:
    c = clean(STORY + f"<p>{line}</p>")
    assert credits_name(c, ["Reuters"]), line
    assert "Reuters" not in c.text


@pytest.mark.parametrize("html", [
    "<p>The minister was unavailable, a spokesman told Reuters on Friday, adding that talks would go on.</p>",
    "<p>Rescue workers search the rubble in Gaziantep on Tuesday. REUTERS/Umit Bektas</p>",
])
def test_incidental_mentions_and_photo_credits_do_not_credit(html: str) -> None:
    c = clean(STORY + html)
    assert not credits_name(c, ["Reuters"])


def test_plain_text_input() -> None:
    c = clean("First paragraph here.\n\nSecond one.")
    assert c.text == "First paragraph here.\n\nSecond one."
    assert c.words == 5


def test_empty_and_broken_html() -> None:
    assert clean("").text == ""
    assert clean(None).text == ""
    assert clean("<p>unclosed <b>tags<div>everywhere").text == "unclosed tags\n\neverywhere"


@pytest.mark.parametrize("ending,kept_end", [
    (". REUTERS/Jane Roe", "forty-five words."),            # the agency before the slash goes with the credit
    (" reported by AP (Photo by Jane Roe)", "reported by AP"),  # a word of the story that is an agency stays
])
def test_long_paragraph_ending_in_a_photo_credit_keeps_its_text(ending: str, kept_end: str) -> None:
    story = " ".join(["word"] * 42) + " forty-five words"
    out = clean(f"<p>{story}{ending}</p><p>The next paragraph.</p>")
    assert out.text.split("\n\n")[0].endswith(kept_end)
    assert "photo-credit" in out.boilerplate and "Jane Roe" not in out.text


def test_a_story_paragraph_that_mentions_click_here_midway_is_kept() -> None:
    para = ("Officials said users who click here and there on the harbour site found the new timetable. "
            "The ferry company will publish a printed version next month.")
    assert clean(STORY + f"<p>{para}</p>").text.endswith(para)


@pytest.mark.parametrize(("note", "pattern"), [
    ("Editor's note: This article is part of our continuing coverage of markets and the economy.", "editors-note"),
    ("EDITOR\u2019S NOTE \u2014 This story contains details some readers may find distressing.", "editors-note"),
    ("The latest from the newswires on a story we follow. Tell us what you think in the comments.",
     "comments-prompt"),
    ("Leave a comment below.", "comments-prompt"),
])
def test_an_outlets_note_or_comments_prompt_above_a_story_is_furniture(note: str, pattern: str) -> None:
    c = clean(f"<p>{note}</p>{STORY}")
    assert c.text == clean(STORY).text and pattern in c.boilerplate


def test_a_story_sentence_about_an_editors_note_stays() -> None:
    para = "The mayor said the editor's note was wrong and asked readers to tell us what they think of it."
    assert clean(f"<p>{para}</p>{STORY}").text.startswith(para)


def test_rows_anchored_at_a_paragraphs_start_are_told_apart() -> None:
    assert [_anchored(re.compile(p, re.I)) for p in (r"^(?:a|b)$", r"^[|(]x", r"^[]|]x", r"^\|x", r"^a\)|b")] == \
        [True, True, True, True, False]
    assert not _anchored(re.compile(r"^a|^b", re.I)) and not _anchored(re.compile("a", re.I))
    assert not _anchored(re.compile("^a", re.I | re.M))  # "^" after every line break
    opening, others = _split(BOILERPLATE)
    assert opening is not None and {p.name for p in others} == \
        {"rights-reserved", "photo-credit", "subscribe-line", "furniture-click-here", "furniture-comments"}
    # a line that a row anchored at the start takes is still taken, by that row
    cleaned = clean("<p>Story text of a decent length, as agencies write it.</p><p>Tags: world, politics</p>"
                    "<p>The post Story appeared first on Example News.</p>")
    assert cleaned.text == "Story text of a decent length, as agencies write it."
    assert cleaned.sources == ("Example News",) and "tags-line" in cleaned.boilerplate
