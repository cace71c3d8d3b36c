"""The structural walk: paragraphs, what holds each of them, and the texts of the furniture it leaves out."""

from __future__ import annotations

from relaywatch.detect.markup import walk

STORY = ("<div class='story-body'><p>First paragraph of the story.</p>Loose text before a break<br>"
         "after the break<div class='inset'><p>Inset paragraph.</p><ul><li>An item</li></ul></div>"
         "<p>Last paragraph of the story.</p></div>")


def test_the_paragraphs_of_one_block_have_the_same_holder() -> None:
    w = walk(STORY, holders=True)
    assert list(zip(w.paras, w.holders, strict=True)) == [
        ("First paragraph of the story.", "div story-body"),
        ("Loose text before a break", "div story-body"),
        ("after the break", "div story-body"),
        ("Inset paragraph.", "div inset"),
        ("An item", "ul "),
        ("Last paragraph of the story.", "div story-body"),
    ]


def test_holders_change_nothing_else_and_are_only_given_when_asked() -> None:
    plain, held = walk(STORY), walk(STORY, holders=True)
    assert plain.paras == held.paras and plain.holders == [] and plain.left_out == set()
    text = walk("First plain paragraph.\n\nSecond plain paragraph.", holders=True)
    assert text.holders == ["", ""]


def test_the_texts_of_left_out_furniture_are_kept_apart() -> None:
    page = (STORY + "<div class='newsletter-box'><h3>The Morning Brief</h3><p>Get the day's news in your inbox.</p>"
            "</div><figure><img src='a.jpg'><figcaption>The quay at dawn</figcaption></figure>")
    w = walk(page, holders=True)
    assert {"The Morning Brief", "Get the day's news in your inbox.", "The quay at dawn"} <= w.left_out
    assert not {"The Morning Brief", "The quay at dawn"} & set(w.paras)
    assert "First paragraph of the story." not in w.left_out
