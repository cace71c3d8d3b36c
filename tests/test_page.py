"""Whole pages and page furniture: what the text cleaning keeps, sets apart and survives."""

from __future__ import annotations

import pytest
from relaywatch.detect import page as pagemod
from relaywatch.detect.fingerprint import fingerprint
from relaywatch.detect.markup import walk
from relaywatch.detect.text import clean, credits_name, normalize

STORY = ("<p>The harbour authority halted the expansion on Monday after the court ruling.</p>"
         "<p>Officials said the decision would be appealed within a month.</p>")
TEXT = ("The harbour authority halted the expansion on Monday after the court ruling.\n\n"
        "Officials said the decision would be appealed within a month.")
LINKS = "".join(f'<li><a href="/s/{i}">Other headline number {i} about markets</a></li>' for i in range(5))

FURNITURE = {
    "nav": "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>",
    "header": "<header><h1>Daily Planet</h1><p>Tuesday edition</p></header>",
    "footer": "<footer><p>About us. Contact. Careers.</p></footer>",
    "aside": "<aside><h3>Most read</h3><p>Something else entirely happened today.</p></aside>",
    "form": "<form><p>Your email address please</p><input name='e'></form>",
    "role": "<div role='complementary'><p>Weather: sunny all week long here</p></div>",
    "related-class": f"<div class='related-stories'><h3>More news</h3><ul>{LINKS}</ul></div>",
    "share-class": "<div id='social_share'><p>Facebook Twitter WhatsApp Email</p></div>",
    "ad-class": "<div class='ad-slot top'><p>Buy shoes now at half price</p></div>",
    "cookie-class": "<div class='cookie-consent'><p>We value your privacy and so on</p></div>",
    "comments": "<section id='comments'><p>Great story! Loved every word of it.</p></section>",
    "link-list": f"<ul>{LINKS}</ul>",
    "figcaption": "<figure><img src='x.jpg'><figcaption>The harbour at dawn</figcaption></figure>",
    "advertisement-text": "<p>ADVERTISEMENT</p>",
    "app-text": "<p>Click here to get our free app</p>",
    "download-app": "<p>Download our app for the latest news</p>",
    "newsletter": "<p>Sign up for our newsletter</p>",
    "follow": "<p>Follow us on Twitter and Facebook</p>",
    "cookie-text": "<p>This website uses cookies to improve your experience.</p>",
    "rights": "<p>Daily Planet Ltd. All rights reserved.</p>",
    "copyright": "<p>© 2024 Daily Planet Media Group</p>",
}


@pytest.mark.parametrize("kind", sorted(FURNITURE))
def test_each_furniture_kind_leaves_the_story_exactly(kind: str) -> None:
    html = FURNITURE[kind]
    for markup in (html + STORY, STORY + html, STORY[:-0 or None].replace("</p><p>", "</p>" + html + "<p>")):
        c = clean(markup)
        assert c.text == TEXT, (kind, markup)
        assert c.boilerplate, kind


@pytest.mark.parametrize("cls", ["headline-block", "shadow-box", "read-more-body", "has-sidebar", "loaded"])
def test_class_words_are_matched_whole(cls: str) -> None:
    # "ad" is a word, not a part of "header", "shadow", "read" or "loaded"; layout classes are no furniture
    assert clean(f"<div class='{cls}'>{STORY}</div>").text == TEXT


def test_a_story_list_that_is_not_links_is_kept() -> None:
    c = clean(STORY + "<ul><li>First point of the plan.</li><li>Second point of the plan.</li></ul>")
    assert c.text.endswith("First point of the plan.\n\nSecond point of the plan.")


@pytest.mark.parametrize("html", [
    STORY[:-4] + " Source: Reuters</p>",
    STORY[:-4] + " (Reporting by Reuters)</p>",
    STORY + "<p>Source: Reuters</p><p>ADVERTISEMENT</p><footer><p>About us</p></footer>",
    STORY + "<p>Source: Reuters</p><p>Follow us on Twitter</p><div class='related'><ul>" + LINKS + "</ul></div>",
    "<p>By Reuters staff</p>" + STORY,
    "<p>Reuters - The harbour authority halted the expansion on Monday after the court ruling.</p>" + STORY[80:],
    "<header><p>By Reuters Staff</p></header>" + STORY,
    "<p>LONDON (Reuters) - " + STORY[3:],
])
def test_credits_wherever_the_page_puts_them(html: str) -> None:
    c = clean(html)
    assert credits_name(c, ["Reuters"]), (html, c)
    assert "Reuters" not in c.text
    assert c.text.endswith("within a month.")


def test_by_ap_credits_ap() -> None:
    assert credits_name(clean("<p>By AP</p>" + STORY), ["AP"])


@pytest.mark.parametrize("html", [
    STORY[:-4] + " A spokesman told Reuters.</p>",
    STORY + "<p>Reuters reported earlier.</p>",
    STORY + "<p>Workers on the dock on Monday. REUTERS/Jane Roe</p>",
    "<p>By Monday the authority had said nothing at all about the court ruling, officials said.</p>" + STORY,
])
def test_incidental_mentions_do_not_credit(html: str) -> None:
    assert not credits_name(clean(html), ["Reuters"])


@pytest.mark.parametrize("ending", ["（来源：新华社）", "来源：新华网", "<p>来源：新华网</p>",
                                    "<p>（来源：新华社）</p>"])
def test_a_chinese_portal_credits_xinhua(ending: str) -> None:
    body = ("<p>国务院总理今天在北京主持召开国务院常务会议，部署进一步稳定经济的措施。</p>"
            "<p>会议指出，要加大政策支持力度。")
    html = body + (ending + "</p>" if not ending.startswith("<") else "</p>" + ending)
    c = clean(html)
    assert credits_name(c, ["新华社"]), c
    assert "来源" not in c.text and c.text.endswith("要加大政策支持力度。")


def test_cjk_names_match_without_word_boundaries() -> None:
    c = clean("<p>新华社北京5月3日电（记者张三）国务院总理今天主持召开会议。</p><p>会议指出要加大力度。</p>")
    assert credits_name(c, ["新华社"]) and c.text.startswith("国务院总理")


def test_never_an_edit_differences_clean_to_identical_fingerprints() -> None:
    text = ("<p>The company's \"new\" plan - worth $5 million - was approved in Zürich on Monday.</p>"
            "<p>Officials said it would start soon; finance chiefs agreed.</p>")
    variant = ("<p>THE  company\u2019s \u201cnew\u201d plan \u2014 worth $5\u00a0million \u2013 was "
               "ap\u00adpro\u200bved in Z&uuml;rich on\n Monday.</p><p>Officials said it</p><p>would start "
               "soon; \ufb01nance\u2060 chiefs agreed.\ufeff</p>")
    a, b = clean(text).text, clean(variant).text
    assert (fingerprint(a).sequence == fingerprint(b).sequence).all() and len(fingerprint(a).sequence) > 10


@pytest.mark.parametrize("html", [
    "<nav><a href='/'>Home</a></nav><footer><p>© 2024 Site</p></footer><div class='sidebar'><p>x</p></div>",
    "<html><body><div><span>just a span</span></div></body></html>",
    "<html><body></body></html>",
    "<div><p>unclosed <b>bold <i>italic</div></span></p></table>",
    "<<<>>> &&& </p>",
])
def test_bad_input_gives_a_clear_result(html: str) -> None:
    c = clean(html)
    assert isinstance(c.text, str) and len(c.text.split()) <= 3


@pytest.mark.parametrize("html,start", [
    ("<p>قال مسؤولون إن السلطات أوقفت التوسعة يوم الاثنين بعد حكم المحكمة.</p>"
     "<p>وأضافوا أن القرار سيستأنف.</p>", "قال"),
    ("<p dir='rtl'>הרשות עצרה את ההרחבה ביום שני לאחר פסק הדין.</p><p>הם אמרו שההחלטה תערער.</p>", "הרשות"),
    ("<p>港口管理局周一在法院裁决后暂停了扩建工程。</p><p>官员表示将在一个月内提出上诉。</p>", "港口"),
])
def test_right_to_left_and_cjk_text(html: str, start: str) -> None:
    c = clean("<nav><a href='/'>Home</a></nav>" + html)
    assert c.text.startswith(start) and "\n\n" in c.text


def test_a_whole_page_is_its_article() -> None:
    paras = "".join(f"<p>Paragraph {i} of the story tells what the harbour authority decided and why it "
                    f"matters to the town.</p>" for i in range(8))
    page = (f"<html><head><title>T</title></head><body><nav><a href='/'>Home</a></nav>"
            f"<article><h1>Harbour halted</h1>{paras}<p>Source: Reuters</p></article>"
            f"<aside><ul>{LINKS}</ul></aside><footer><p>© 2024 Daily Planet</p></footer></body></html>")
    c = clean(page)
    assert "Paragraph 0 of" in c.text and c.text.endswith("matters to the town.")
    assert "Other headline" not in c.text and credits_name(c, ["Reuters"])


def test_a_5_mb_page_gives_a_clean_result() -> None:
    """(How long it takes is measured by bench/pages.py, not here.)"""
    block = "<div class='item'><p>Some paragraph of filler text that goes on for a while here.</p></div>"
    page = "<html><body>" + block * (5_000_000 // len(block)) + "</body></html>"
    c = clean(page)
    assert isinstance(c.text, str) and c.text.count("Some paragraph of filler text") <= 5_000_000 // len(block)


def test_shared_furniture_makes_no_two_stories_alike() -> None:
    template = ("<html><body><header><p>The Daily Planet</p></header><nav><a href='/'>Home</a> "
                "<a href='/w'>World news and more</a></nav><article>{}</article>"
                "<aside class='sidebar'><h3>Most read this week</h3><ul>" + LINKS + "</ul></aside>"
                "<div class='related'><p>You may also like these stories from our newsroom today</p></div>"
                "<footer><p>Copyright 2024 The Daily Planet Media Group, all rights reserved worldwide.</p>"
                "<p>Follow us on Twitter and Facebook for the latest news from our newsroom</p></footer></body></html>")
    one = "".join(f"<p>The harbour authority halted expansion step {i} after the court ruling on the port.</p>"
                  for i in range(6))
    two = "".join(f"<p>Farmers in the valley planted crop row {i} early because the spring rain came late.</p>"
                  for i in range(6))
    a, b = fingerprint(clean(template.format(one)).text), fingerprint(clean(template.format(two)).text)
    assert len(set(a.shingles.tolist()) & set(b.shingles.tolist())) == 0


def _story_page(body: str, head: str = "") -> str:
    return (f"<html><head><title>T</title>{head}</head><body><nav><a href='/'>Home</a></nav>"
            f"<article><h1>Harbour halted</h1>{body}</article><footer><p>About us</p></footer></body></html>")


def test_a_page_large_only_by_its_scripts_is_still_extracted() -> None:
    # a megabyte of inline script and data does not make the page too large for its article's extraction
    paras = "".join(f"<p>Paragraph {i} of the story tells what the harbour authority decided and why it "
                    f"matters to the town.</p>" for i in range(8))
    code = "<script>var state = {" + "'k': 'v', " * 120_000 + "};</script><style>p{}</style><!-- note -->"
    page = _story_page(paras + "<ul><li><a href='/a'>One other headline here</a></li>"
                       "<li><a href='/b'>Two other headline here</a></li></ul>", head=code)
    assert len(page) > pagemod.MAX_EXTRACT
    c = clean(page)
    assert "page" in c.boilerplate and "Paragraph 0 of" in c.text and "headline" not in c.text


@pytest.mark.parametrize("markup,bare", [
    ("a<script>x</script>b<STYLE type='t'>y</Style >c<!-- z -->d", "abcd"),
    ("a<script>never closed", "a"),
    ("a<!-- never closed <p>b</p>", "a"),
    ("<p>scripts are words too</p><scripted>", "<p>scripts are words too</p><scripted>"),
])
def test_strip_code_leaves_out_scripts_styles_and_comments(markup: str, bare: str) -> None:
    assert pagemod.strip_code(markup) == bare


def test_a_table_in_the_article_is_kept_as_its_cells_words() -> None:
    paras = "".join(f"<p>Paragraph {i} of the story tells what the harbour authority decided and why it "
                    f"matters to the town.</p>" for i in range(4))
    table = ("<table><thead><tr><th>Port</th><th>Ships</th></tr></thead>"
             "<tbody><tr><td>Dover</td><td>41</td></tr><tr><td>Calais</td><td>37</td></tr></tbody></table>")
    c = clean(_story_page(paras + table + paras.replace("Paragraph", "Section")))
    assert "Port Ships\n\nDover 41\n\nCalais 37" in c.text
    assert "|" not in c.text and "---" not in c.text and c.text.endswith("Section 3 of the story tells what the "
                                                                           "harbour authority decided and why it "
                                                                           "matters to the town.")


_WORDS = ["harbour", "quay", "ferry", "council", "spring", "hearing", "budget", "pier", "crane", "tide", "dock",
          "cargo", "vessel", "mayor", "union", "wharf", "barge", "pilot", "lock", "channel"]


def _sentence(n: int) -> str:
    """Sentence ``n`` (0-19): 20 words, no run of four of them in another sentence."""
    return f"The {' '.join(_WORDS[(n * 7 + k * 3) % len(_WORDS)] + str(k) for k in range(18))} said."


def test_paragraphs_the_extraction_left_out_in_the_story_s_own_blocks_are_taken_back() -> None:
    chunk = "<div class='story-chunk'>{}</div>"
    first = "".join(f"<p>{_sentence(i)}</p>" for i in range(3))
    second = "".join(f"<p>{_sentence(5 + i)}</p>" for i in range(3))
    page = ("<html><body><main>" + chunk.format(first) + "<p class='x'>SUBSCRIBE</p>"
            "<div class='story-chunk'><h2>The hearings</h2>" + second + "</div>"
            "<div class='teaser'><p>" + _sentence(9) + "</p></div>"
            "<div class='story-chunk'><p>Too short to be the story.</p></div></main></body></html>")
    kept_by_extraction = [_sentence(i) for i in range(3)]
    paras = pagemod._rejoin(kept_by_extraction, walk(page, holders=True))
    assert paras == kept_by_extraction + [_sentence(5 + i) for i in range(3)]


def test_a_paragraph_left_out_between_two_kept_ones_is_taken_back_once() -> None:
    body = "".join(f"<p>{_sentence(i)}</p>" for i in range(4))
    page = f"<html><body><article>{body}<p>{_sentence(1)} And more.</p></article></body></html>"
    kept_by_extraction = [_sentence(i) for i in (0, 2, 3)]
    paras = pagemod._rejoin(kept_by_extraction, walk(page, holders=True))
    assert paras == [_sentence(i) for i in range(4)]


def test_without_two_paragraphs_found_in_the_walk_the_extraction_stands() -> None:
    page = f"<html><body><article>{''.join(f'<p>{_sentence(i)}</p>' for i in range(3))}</article></body></html>"
    assert pagemod._rejoin(["Something else entirely."], walk(page, holders=True)) == ["Something else entirely."]


def test_the_text_before_a_block_s_first_break_is_taken_back() -> None:
    body = "<br><br>".join(_sentence(i) for i in range(4))
    teaser = f"<div class='teasers'><p>{_sentence(9)}</p></div>"
    page = f"<html><body>{teaser}<div class='content'>{body}</div></body></html>"
    paras = pagemod._rejoin([_sentence(i) for i in (1, 2, 3)], walk(page, holders=True))
    assert paras == [_sentence(i) for i in range(4)]


def test_a_paragraph_the_walk_found_only_in_furniture_is_dropped_from_the_extraction() -> None:
    story = "".join(f"<p>{_sentence(i)}</p>" for i in range(5))
    promo = ("<div class='newsletter-signup'><p>The Morning Brief</p>"
             "<p>Get the day's news, free, every morning.</p></div>")
    walked = walk(f"<html><body><article>{story}{promo}</article></body></html>", holders=True)
    extracted = [_sentence(i) for i in range(5)] + ["The Morning Brief", "Get the day's news, free, every morning."]
    assert pagemod._kept(extracted, walked) == [_sentence(i) for i in range(5)]


def test_a_paragraph_also_in_the_story_stays_and_a_story_in_furniture_is_no_furniture() -> None:
    story = "".join(f"<p>{_sentence(i)}</p>" for i in range(5))
    quoted = f"<aside><p>{_sentence(2)}</p></aside>"  # a pull quote repeats a paragraph of the story
    walked = walk(f"<html><body><article>{story}{quoted}</article></body></html>", holders=True)
    assert pagemod._kept([_sentence(i) for i in range(5)], walked) == [_sentence(i) for i in range(5)]
    # the walk took the story's own block for furniture ("share" in its class): the extraction stands
    walked = walk(f"<html><body><div class='share-story'>{story}</div></body></html>", holders=True)
    assert pagemod._kept([_sentence(i) for i in range(5)], walked) == [_sentence(i) for i in range(5)]


def test_a_hover_card_inside_a_paragraph_is_no_part_of_it() -> None:
    card = ("<span class='rollover-people-block'><a class='name' href='/p/1'>Jane Q. Doe</a>"
            "<a href='/s/1'>Doe doubles down on harbour plan</a><a href='/s/2'>Doe signs ferry law</a></span>")
    paras = [f"<p>{_sentence(i)}</p>" for i in range(5)]
    paras[2] = f"<p>Governor <a href='/p/1'>Jane Doe</a>{card} said the quay would open in spring.</p>"
    c = clean(_story_page("".join(paras)))
    assert "Governor Jane Doe said the quay would open in spring." in c.text.split("\n\n")
    assert "doubles down" not in c.text and "page" in c.boilerplate


@pytest.mark.parametrize("page", [
    "<html><body><nav><a href='/'>Home</a> <a href='/w'>World</a></nav><aside><ul>" + LINKS + "</ul></aside>"
    "<footer><p>© 2024 Daily Planet</p><p>Follow us on Twitter</p></footer></body></html>",
    "<html><body><div class='related-stories'><ul>" + LINKS + "</ul></div><div class='ad-slot'><p>Buy now</p></div>"
    "</body></html>",
    "<html><head><script>" + "x=1;" * 300_000 + "</script></head><body></body></html>",
])
def test_a_whole_page_of_only_furniture_keeps_no_story(page: str) -> None:
    c = clean(page)
    assert len(c.text.split()) <= 3 and "headline" not in c.text


def test_a_broken_whole_page_keeps_its_story() -> None:
    paras = "".join(f"<p>{_sentence(i)}" for i in range(6))  # no paragraph is closed
    page = f"<html><body><nav><a href='/'>Home</a></nav><article><div>{paras}</span></table></article></div><footer>"
    c = clean(page)
    assert all(_sentence(i) in c.text for i in range(6)) and "Home" not in c.text


@pytest.mark.parametrize("sentences,related", [
    ([f"港口管理局第{i}次会议决定暂停扩建工程，官员表示将在一个月内提出上诉并公布新的时间表。" for i in range(6)],
     "其他新闻标题"),
    ([f"قال مسؤولون في الاجتماع رقم {i} إن السلطات أوقفت التوسعة يوم الاثنين بعد حكم المحكمة وأضافوا أن القرار سيستأنف."
      for i in range(6)], "عناوين أخرى"),
])
def test_a_whole_cjk_or_right_to_left_page_is_its_article(sentences: list[str], related: str) -> None:
    items = "".join(f"<li><a href='/s/{i}'>{related} {i}</a></li>" for i in range(5))
    page = (f"<html><body><nav><a href='/'>{related}</a></nav><article>{''.join(f'<p>{s}</p>' for s in sentences)}"
            f"</article><div class='related'><ul>{items}</ul></div></body></html>")
    c = clean(page)
    assert c.text.split("\n\n") == [normalize(s) for s in sentences] and "page" in c.boilerplate
