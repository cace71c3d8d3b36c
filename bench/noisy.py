"""The Reuters repost benchmark with page furniture: do the labels hold on realistic pages?

Takes the default set (``make_reuse_bench.py OUT --originals 2000 --copies 3000 --seed 1``) and
writes a noisy variant of it: every entry that is not a wire original gets, at random (seeded),
zero or more of these noise categories added to its ``html``; the labels do not change:

  caption          a 20-60-word photo caption above the story (``<figure><img><figcaption>`` or a
                   plain "Picture: ..." paragraph), some with a REUTERS photo credit: a photo credit
                   is not a credit of the story;
  intro            an editor's 1-2-sentence paragraph of its own above the story;
  related          "You may also like" / "Related stories" / "More from SITE" and 3-6 headlines of
                   OTHER Reuters stories of the set (``<ul><li><a>`` or plain ``<p>`` lines);
  nav              a nav bar (``<nav>``, ``<div class="menu">`` or "Home | World | Business");
  footer           a site footer ("(c) 2024 Site. All rights reserved.", contact links);
  ad               "ADVERTISEMENT" markers, app and newsletter prompts, inside and around the story;
  credit-variants  credited copies: the credit moved or rewritten (merged into the last paragraph,
                   followed by a footer, at the top as a byline or "Reuters -", as a link only to
                   the original or to the wire's site, the dateline's dash changed); uncredited
                   copies: an incidental mention ("... told Reuters") added, which is NOT a credit.
                   Relays of a copy carry that copy's credit as it is on the (noisy) copy page.

Each outlet feed is a "site" with its own template (class names, wrappers, which variant of each
piece of furniture, where it goes), so furniture repeats within a site, as on real sites, and
differs between sites. A relay of a copy takes the noisy copy page whole (its furniture included).

The noisy set also holds ``--unrelated`` (default 1000) outlet stories of their own: real Reuters
stories that are not in the set and share no more than 10% of their word 8-grams with any story
in it, spread over the outlet feeds, with noise. They are in no truth line: linking them to
anything is a false positive (``--unrelated 0`` leaves the set's entries as they are).

Output folder: entries.jsonl, truth.jsonl (the same bytes), feeds.json, and noise.jsonl: one line
per noisy entry, ``{"url", "noise": [categories], "own": [categories], "variants": {category: variant},
"unrelated"}`` ("noise" holds a relay's own categories and those of the copy page it carries, "own"
its own only). Same seed, same files.

Then both sets, clean and noisy, go through relaywatch's real ingest (benchkit) and are scored:
link precision / recall / F1, kind (with a truth x predicted confusion matrix on correct links),
credited and via agreement, overall and per noise category (a link counts in each category
applied to its copy page), credited agreement per credit variant, and the unrelated stories
linked to anything (with and without their noise: a third ingest).

    python bench/noisy.py [--work DIR] [--seed 1] [--unrelated 1000]
    python bench/noisy.py --make OUT_DIR       # only write the noisy set
    python bench/accuracy.py --noisy           # the same report, after the other sets

Targets (reported, not tuned for): noisy F1 >= 0.995, kind >= 0.95, credited >= 0.98,
via >= 0.97; clean F1 >= 0.999, kind >= 0.98.
"""

from __future__ import annotations

import argparse
import html
import json
import random
import re
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from benchkit import build, ingest, links_json, load_generator, score

CATEGORIES = ("caption", "intro", "related", "nav", "footer", "ad", "credit-variants")
KINDS = ("verbatim", "excerpt", "edited")
WIRE_SITE = "https://wire.example.org/"
CREDIT_LINES = {"Reuters", "(Reuters)", "Source: Reuters", "Read the full story at Reuters.",
                "Continue reading at Reuters"}  # the generator's CREDITS
DATELINE = re.compile(r"^(.{0,120}?) \(Reuters\) - ")
# Where the generator's relay footers and IFTTT tails start (they stay after the story).
TAIL = re.compile(r'<p>The post <a href=|<p>No comments:</p>|<p>Share this: |<div class="related">'
                  r"|<p>Subscribe to our newsletter|<br/><br/>from ")
esc = html.escape

# ---------------------------------------------------------------------------------------------
# Text of the furniture: written for this benchmark, in the manner of news sites.

SECTIONS = ["Home", "World", "Business", "Markets", "Politics", "Sports", "Technology", "Opinion",
            "Lifestyle", "Video", "Local", "Weather", "Energy", "Economy", "Science"]
CAPTION_SCENES = [
    "A worker walks past stacked shipping containers", "Traders watch screens on the floor of the exchange",
    "A farmer drives a combine through a wheat field", "Delegates arrive for the opening session of talks",
    "The company's logo is seen on the facade of its headquarters", "An oil tanker is moored at a terminal",
    "Commuters wait on a crowded platform", "A bank teller counts banknotes behind a counter",
    "Protesters hold placards during a march", "Cranes load grain onto a cargo ship",
    "A pump jack operates at dusk", "Officials shake hands before a news conference",
    "Cars wait to be shipped from a storage lot", "Steel coils are stored in a warehouse",
]
CAPTION_PLACES = [
    "in Rotterdam, the Netherlands", "outside the central bank in Buenos Aires", "near Wichita, Kansas",
    "in central Tokyo", "in Frankfurt, Germany", "near a refinery outside Houston, Texas",
    "in Damascus, Syria", "in Sao Paulo, Brazil", "at the port of Singapore", "in Lagos, Nigeria",
    "in Manila, the Philippines", "in London's financial district", "in Sydney, Australia",
]
CAPTION_WHEN = ["on Monday", "on Tuesday", "on Thursday", "earlier this week", "in this file photo taken last year",
                "on March 3", "on a recent morning", "in an undated handout picture"]
CAPTION_MORE = [
    "Analysts expect activity to pick up in the coming months as demand recovers.",
    "The site has been at the centre of a long-running dispute over its future.",
    "Officials say the project will be completed before the end of the decade.",
    "Prices have swung sharply in recent weeks amid doubts about supply.",
    "The meeting was the first of its kind since the start of the year.",
    "Local authorities said the area would remain closed to the public until further notice.",
    "Picture taken with a long exposure.",
    "The image was supplied by a third party and could not be independently verified.",
]
PHOTO_CREDITS = ["REUTERS/Staff/File Photo", "(SANA/Handout via REUTERS)", "REUTERS/Stringer", "Photo: AFP",
                 "(Photo by a staff photographer)", "AP Photo/File", "Picture: company handout",
                 "Image: Getty Images", "(Handout via REUTERS)", "Photo courtesy of the city council"]
EDITOR_NOTES = [
    "This article is part of our continuing coverage of markets and the economy.",
    "Figures in this report have not been independently verified by {site}.",
    "This story is being updated as more information becomes available.",
    "Our daily business briefing continues below.",
    "Readers can find more coverage of this topic in our business section.",
]
INTROS = [
    "Here is what we know so far about {title}.",
    "In business news today: {title}.",
    "The latest from the newswires on a story we are following closely.",
    "A story that matters to many of our readers.",
    "We are keeping an eye on this one.",
]
INTRO_MORE = ["Read on for the details.", "More below.", "Tell us what you think in the comments.",
              "The full report follows."]
RELATED_HEADS = ["You may also like", "Related stories", "More from {site}", "Related", "Recommended for you",
                 "Read more", "Most read"]
AD_MARKERS = ["ADVERTISEMENT", "Advertisement", "- Advertisement -", "Story continues below advertisement",
              "Sponsored"]
AD_PROMPTS = ["Click here to get our free app.", "Download the {site} app for breaking news alerts.",
              "Sign up for our newsletter and get the day's top stories in your inbox.",
              "Sign up for the {site} morning briefing, delivered free to your inbox.",
              "Get unlimited access to {site} for less than a coffee a week. Subscribe now."]
INCIDENTAL = [
    "A spokesman for the company told Reuters the figures were in line with its plans.",
    "An official familiar with the matter told Reuters the talks would continue next week.",
    "A spokeswoman declined to comment when contacted by Reuters.",
    "Officials did not immediately respond to a request for comment from Reuters.",
    "One analyst told Reuters the move had been widely expected.",
]
CREDIT_MERGED = ["Source: Reuters", "Source: Reuters.", "(Reuters)", "- Reuters", "Reporting by Reuters."]
CREDIT_LINE = ["Source: Reuters", "(Reuters)", "Reuters", "Source: Reuters news agency",
               "Originally published by Reuters."]
CREDIT_TOP = ["By Reuters Staff", "By Reuters", "Reuters staff"]
CREDIT_PREFIX = ["Reuters - ", "Reuters \u2014 ", "REUTERS \u2013 "]
CREDIT_DASHES = [" (Reuters) \u2014 ", " (REUTERS) \u2013 ", " (Reuters) -- "]


# ---------------------------------------------------------------------------------------------
# Sites: one template per outlet feed.

@dataclass
class Site:
    name: str
    domain: str
    rnd: random.Random
    prefix: str = ""
    sep: str = "-"
    wrapper: str = "article"          # article / div / section / none
    nav: str = "nav"                  # nav / menu / text
    sections: list[str] = field(default_factory=list)
    footer: str = "footer"            # footer / plain
    year: int = 2024
    caption: str = "figure"           # figure / plain / both
    caption_at: str = "top"           # top / after-first
    related: str = "ul"               # ul / plain / both
    related_at: str = "after"         # after / before (a sidebar above the story)
    related_head: str = ""
    intro: str = "note"               # note / plain / both
    ad_markers: list[str] = field(default_factory=list)
    ad_prompts: list[str] = field(default_factory=list)
    rates: dict[str, float] = field(default_factory=dict)

    def cls(self, name: str) -> str:
        return f"{self.prefix}{self.sep}{name}" if self.prefix else name

    @classmethod
    def make(cls, feed: str, domain: str, seed: int) -> Site:
        r = random.Random(f"{seed}:site:{feed}")
        name = " ".join(w.capitalize() for w in feed.split("-"))
        site = cls(name, domain, r)
        site.prefix = r.choice(["", "td", "jeg", "site", "c", "story", "wp-block", "nw"])
        site.sep = r.choice(["-", "__", "_"])
        site.wrapper = r.choice(["article", "div", "section", "none"])
        site.nav = r.choice(["nav", "menu", "text"])
        site.sections = ["Home"] + r.sample(SECTIONS[1:], r.randint(3, 7))
        site.footer = r.choice(["footer", "plain"])
        site.year = r.choice([2023, 2024, 2025])
        site.caption = r.choice(["figure", "plain", "both"])
        site.caption_at = r.choice(["top", "top", "after-first"])
        site.related = r.choice(["ul", "plain", "both"])
        site.related_at = r.choice(["after", "after", "before"])
        site.related_head = r.choice(RELATED_HEADS).format(site=name)
        site.intro = r.choice(["note", "plain", "both"])
        site.ad_markers = r.sample(AD_MARKERS, 2)
        site.ad_prompts = [p.format(site=name) for p in r.sample(AD_PROMPTS, 2)]
        site.rates = {c: r.uniform(0.15, 0.5) for c in CATEGORIES}
        return site


# ---------------------------------------------------------------------------------------------
# Furniture.

def caption(site: Site, r: random.Random) -> tuple[str, str]:
    style = r.choice(["figure", "plain"]) if site.caption == "both" else site.caption
    words = f"{r.choice(CAPTION_SCENES)} {r.choice(CAPTION_PLACES)} {r.choice(CAPTION_WHEN)}."
    more = r.sample(CAPTION_MORE, len(CAPTION_MORE))
    while len(words.split()) < 20 or (more and r.random() < 0.4 and len(words.split()) < 40):
        words += " " + more.pop()
    credit = r.choice(PHOTO_CREDITS)
    text = f"{words} {credit}"
    if len(text.split()) > 60:
        text = " ".join(text.split()[:60])
    if style == "figure":
        img = f'<img src="https://{site.domain}/images/{r.randrange(10**6, 10**7)}.jpg" alt="">'
        return style, (f'<figure class="{site.cls("figure")}">{img}'
                       f'<figcaption class="{site.cls("caption")}">{esc(text)}</figcaption></figure>')
    return style, f"<p>Picture: {esc(text)}</p>"


def intro(site: Site, r: random.Random, title: str) -> tuple[str, str]:
    style = r.choice(["note", "plain"]) if site.intro == "both" else site.intro
    if style == "note":
        text = "Editor's note: " + r.choice(EDITOR_NOTES).format(site=site.name)
    else:
        text = r.choice(INTROS).format(title=title.rstrip(". "))
    if r.random() < 0.5:
        text += " " + r.choice(INTRO_MORE)
    if style == "note" and r.random() < 0.5:
        return style, f'<p class="{site.cls("editors-note")}"><em>{esc(text)}</em></p>'
    return style, f"<p>{esc(text)}</p>"


def related(site: Site, r: random.Random, titles: list[str], exclude: set[str]) -> tuple[str, str]:
    style = r.choice(["ul", "plain"]) if site.related == "both" else site.related
    pick: list[str] = []
    want = r.randint(3, 6)
    while len(pick) < want:
        t = r.choice(titles)
        if t not in exclude and t not in pick:
            pick.append(t)
    def href(t: str) -> str:
        return f"https://{site.domain}/news/{re.sub(r'[^a-z0-9]+', '-', t.lower()).strip('-')[:60]}"
    if style == "ul":
        items = "".join(f'<li><a href="{href(t)}">{esc(t)}</a></li>' for t in pick)
        return style, (f'<div class="{site.cls("related")}"><h3>{esc(site.related_head)}</h3>'
                       f'<ul class="{site.cls("related-list")}">{items}</ul></div>')
    return style, f"<p><strong>{esc(site.related_head)}</strong></p>" + "".join(f"<p>{esc(t)}</p>" for t in pick)


def nav(site: Site) -> tuple[str, str]:
    if site.nav == "nav":
        items = "".join(f'<li><a href="/{s.lower()}">{s}</a></li>' for s in site.sections)
        return "nav", f'<nav class="{site.cls("nav")}"><ul>{items}</ul></nav>'
    if site.nav == "menu":
        items = " ".join(f'<a href="/{s.lower()}">{s}</a>' for s in site.sections)
        return "menu", f'<div class="{site.cls("menu")}">{items}</div>'
    return "text", f"<p>{' | '.join(site.sections)}</p>"


def footer(site: Site) -> tuple[str, str]:
    if site.footer == "footer":
        links = " | ".join(f'<a href="/{p.lower().replace(" ", "-")}">{p}</a>'
                           for p in ["Contact us", "Privacy policy", "Terms of use", "Advertise"])
        return "footer", (f'<footer class="{site.cls("footer")}"><p>\u00a9 {site.year} {esc(site.name)}. '
                          f"All rights reserved.</p><p>{links}</p></footer>")
    return "plain", (f"<p>Copyright \u00a9 {site.year} {esc(site.name)}. All rights reserved.</p>"
                     f"<p>About us \u00b7 Contact \u00b7 Advertise with us \u00b7 Privacy</p>")


def ad_block(site: Site, r: random.Random) -> str:
    if r.random() < 0.6:
        return f'<div class="{site.cls("ad")}">{esc(r.choice(site.ad_markers))}</div>'
    return f"<p>{esc(r.choice(site.ad_prompts))}</p>"


# ---------------------------------------------------------------------------------------------
# Credits.

def credit_variant(r: random.Random, paras: list[str], original_url: str) -> tuple[str, list[str], list[str]]:
    """Move or rewrite a credited copy's credit: (variant, paragraphs, lines to add after the story)."""
    paras = list(paras)
    m = DATELINE.match(paras[0])
    if m:
        form = "dateline"
    elif html.unescape(paras[-1]) in CREDIT_LINES:
        form = "line"
    else:
        raise ValueError(f"a credited copy without a credit: {paras[0][:80]!r} ... {paras[-1][-80:]!r}")
    choices = ["merged", "line-then-footer", "byline-top", "prefix-top", "link-original", "link-site"]
    if form == "dateline":
        choices.append("dateline-dash")
    variant = r.choice(choices)
    if variant == "dateline-dash":
        paras[0] = m.group(1) + r.choice(CREDIT_DASHES) + paras[0][m.end():]
        return variant, paras, []
    # take the credit out
    if form == "dateline":
        paras[0] = paras[0][m.end():]
    else:
        paras.pop()
    after: list[str] = []
    if variant == "merged":
        paras[-1] += " " + esc(r.choice(CREDIT_MERGED))
    elif variant == "line-then-footer":
        after = [f"<p>{esc(r.choice(CREDIT_LINE))}</p>", "<p>Share this article: Facebook | X | WhatsApp | Email</p>"]
    elif variant == "byline-top":
        paras.insert(0, f"{r.choice(CREDIT_TOP)}")
    elif variant == "prefix-top":
        paras[0] = esc(r.choice(CREDIT_PREFIX)) + paras[0]
    else:
        url = original_url if variant == "link-original" else WIRE_SITE
        link = f'<a href="{url}">Reuters</a>'
        how = r.choice(["line", "source", "inline"])
        if how == "line":
            after = [f"<p>{link}</p>"]
        elif how == "source":
            after = [f"<p>Source: {link}</p>"]
        else:
            paras[-1] += f" ({link})"
        variant += "-" + how
    return variant, paras, after


def incidental(r: random.Random, paras: list[str]) -> tuple[str, list[str]]:
    """An uncredited copy: a mention of Reuters inside the story that is no credit."""
    paras = list(paras)
    i = r.randrange(len(paras))
    paras[i] += " " + esc(r.choice(INCIDENTAL))
    return "told-reuters", paras


# ---------------------------------------------------------------------------------------------
# Pages.

def split_story(body: str) -> tuple[list[str], str]:
    """The generator's entry HTML -> (story paragraphs' inner HTML, the relay tail after them)."""
    m = TAIL.search(body)
    story, tail = (body[:m.start()], body[m.start():]) if m else (body, "")
    paras = re.findall(r"<p>(.*?)</p>", story, re.S)
    if "".join(f"<p>{p}</p>" for p in paras) != story:
        raise ValueError(f"unexpected entry HTML: {story[:120]!r}")
    return paras, tail


def choose(site: Site, r: random.Random, credit_possible: bool) -> list[str]:
    return [c for c in CATEGORIES if (c != "credit-variants" or credit_possible) and r.random() < site.rates[c]]


def dress(site: Site, r: random.Random, cats: list[str], story_html: str, tail: str, title: str,
          titles: list[str], exclude: set[str], first_break: int | None) -> tuple[str, dict[str, str]]:
    """Wrap a story with the chosen furniture in the site's places. ``first_break``: where the story
    HTML may be cut after its first paragraph (for captions and ads inside it), or None."""
    variants: dict[str, str] = {}
    top, before, after, bottom = [], [], [], []
    if "nav" in cats:
        variants["nav"], block = nav(site)
        top.append(block)
    head, rest = (story_html[:first_break], story_html[first_break:]) if first_break else ("", story_html)
    if "caption" in cats:
        variants["caption"], block = caption(site, r)
        if site.caption_at == "after-first" and first_break:
            head += block
            variants["caption"] += "-inside"
        else:
            before.append(block)
    if "intro" in cats:
        variants["intro"], block = intro(site, r, title)
        before.append(block)
    if "ad" in cats:
        where = r.choice(["inside", "after", "both", "before"])
        variants["ad"] = where
        if where in ("inside", "both") and first_break:
            head += ad_block(site, r)
        if where in ("after", "both") or (where == "inside" and not first_break):
            after.append(ad_block(site, r))
        if where == "before":
            before.insert(0, ad_block(site, r))
    if "related" in cats:
        variants["related"], block = related(site, r, titles, exclude)
        (before if site.related_at == "before" else bottom).append(block)
        variants["related"] += "-" + site.related_at
    if "footer" in cats:
        variants["footer"], block = footer(site)
        bottom.append(block)
    story = "".join(before) + head + rest + "".join(after) + tail
    if site.wrapper != "none":
        tag = site.wrapper
        story = f'<{tag} class="{site.cls("article-body" if tag == "div" else "story")}">{story}</{tag}>'
    return "".join(top) + story + "".join(bottom), variants


@dataclass
class Noisy:
    entries: list[dict]
    noise: list[dict]


def _grams(paras: list[str]) -> set[str]:
    words = re.findall(r"\w+", " ".join(paras).lower())
    return {" ".join(words[i:i + 8]) for i in range(len(words) - 7)}


def unrelated_stories(entries: list[dict], feeds: list[dict], n: int, seed: int) -> list[dict]:
    """``n`` outlet stories of their own: real Reuters stories outside the set, sharing no more than
    10% of their word 8-grams with any story of the set or with each other."""
    if n <= 0:
        return []
    gen = load_generator()
    docs = gen.load_reuters()
    in_set = {e["url"].rsplit("/", 1)[1] for e in entries if e["role"] == "wire"}
    seen: dict[str, list[int]] = {}
    for k, e in enumerate(e for e in entries if e["role"] == "wire"):
        for g in _grams(re.findall(r"<p>(.*?)</p>", html.unescape(e["html"]))):
            seen.setdefault(g, []).append(k)
    r = random.Random(f"{seed}:unrelated")
    pool = [d for d in docs if d["id"] not in in_set]
    r.shuffle(pool)
    outlets = [(f["name"], f["role"]) for f in feeds if f["role"] != "wire"]
    domains = {e["feed"]: urlsplit(e["url"]).netloc for e in entries if e["role"] != "wire"}
    out: list[dict] = []
    for d in pool:
        grams = _grams(d["paras"])
        hits = Counter(j for g in grams for j in seen.get(g, ()))
        if not grams or (hits and max(hits.values()) > 0.1 * len(grams)):
            continue
        for g in grams:
            seen.setdefault(g, []).append(-1 - len(out))
        feed, role = r.choice(outlets)
        t = d["date"].replace(microsecond=0) + timedelta(minutes=r.randint(3, 600))
        slug = re.sub(r"[^a-z0-9]+", "-", d["title"].lower()).strip("-")[:60]
        url = f"https://{domains[feed]}/{t:%Y/%m}/{slug}-u{len(out)}"
        out.append(dict(feed=feed, role=role, guid=f"{feed}-u{len(out)}", url=url, title=d["title"],
                        published=t.isoformat(), html="".join(f"<p>{esc(p)}</p>" for p in d["paras"])))
        if len(out) == n:
            break
    return out


def make_noisy(clean: Path, seed: int = 1, unrelated: int = 1000, with_noise: bool = True) -> Noisy:
    """The noisy variant of the set in ``clean`` (``with_noise=False``: only the unrelated stories added)."""
    entries = [json.loads(line) for line in (clean / "entries.jsonl").open(encoding="utf-8")]
    truth = {t["copy_url"]: t for t in map(json.loads, (clean / "truth.jsonl").open(encoding="utf-8"))}
    feeds = json.loads((clean / "feeds.json").read_text(encoding="utf-8"))
    extra = unrelated_stories(entries, feeds, unrelated, seed)
    extra_urls = {e["url"] for e in extra}
    entries = sorted(entries + extra, key=lambda e: e["published"])  # stable: the set's order kept
    if not with_noise:
        return Noisy(entries, [])
    by_url = {e["url"]: e for e in entries}
    title_of = {e["url"]: e["title"] for e in entries if e["role"] == "wire"}
    titles = sorted(title_of.values())
    sites = {e["feed"]: Site.make(e["feed"], urlsplit(e["url"]).netloc, seed)
             for e in entries if e["role"] != "wire"}
    new_html: dict[str, str] = {}
    noise: dict[str, dict] = {}
    # copies first, then relays of copies (they carry the noisy copy page)
    order = sorted((e for e in entries if e["role"] != "wire"),
                   key=lambda e: bool(truth.get(e["url"], {}).get("via_url")))
    for e in order:
        url, site = e["url"], sites[e["feed"]]
        r = random.Random(f"{seed}:{url}")
        t = truth.get(url)
        exclude = {title_of[t["original_url"]]} if t else set()
        inherited: list[str] = []
        if t and t["via_url"]:
            via = by_url[t["via_url"]]
            if not e["html"].startswith(via["html"]):
                raise ValueError(f"{url}: a relay that does not start with its copy's page")
            story, tail = new_html[t["via_url"]], e["html"][len(via["html"]):]
            inherited = noise[t["via_url"]]["noise"]
            cats = choose(site, r, False)
            page, variants = dress(site, r, cats, story, tail, e["title"], titles, exclude, None)
        else:
            paras, tail = split_story(e["html"])
            cats = choose(site, r, t is not None)
            variants, after = {}, []
            if "credit-variants" in cats:
                if t["credited"]:
                    variants["credit-variants"], paras, after = credit_variant(r, paras, t["original_url"])
                else:
                    variants["credit-variants"], paras = incidental(r, paras)
            first = f"<p>{paras[0]}</p>"
            story = first + "".join(f"<p>{p}</p>" for p in paras[1:]) + "".join(after)
            page, dressed = dress(site, r, cats, story, tail, e["title"], titles, exclude,
                                  len(first) if len(paras) > 1 else None)
            variants.update(dressed)
        new_html[url] = page
        noise[url] = {"url": url, "noise": [c for c in CATEGORIES if c in cats or c in inherited],
                      "own": cats, "variants": variants, "unrelated": url in extra_urls}
    out = [dict(e, html=new_html.get(e["url"], e["html"])) for e in entries]
    return Noisy(out, [noise[e["url"]] for e in entries if e["url"] in noise])


def write_set(noisy: Noisy, clean: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    with (out / "entries.jsonl").open("w", encoding="utf-8") as f:
        for e in noisy.entries:
            f.write(json.dumps(e) + "\n")
    shutil.copyfile(clean / "truth.jsonl", out / "truth.jsonl")
    shutil.copyfile(clean / "feeds.json", out / "feeds.json")
    if noisy.noise:
        with (out / "noise.jsonl").open("w", encoding="utf-8") as f:
            for n in noisy.noise:
                f.write(json.dumps(n) + "\n")
    return out


# ---------------------------------------------------------------------------------------------
# Scores.

@dataclass
class Score:
    copies: int = 0
    tp: int = 0
    fp: int = 0
    kind: int = 0
    credited: int = 0
    via: int = 0
    fp_unrelated: int = 0  # false positives that touch an unrelated outlet story
    confusion: Counter = field(default_factory=Counter)  # (truth kind, predicted kind) on correct links

    @property
    def fn(self) -> int:
        return self.copies - self.tp

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.copies if self.copies else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def share(self, n: int) -> float:
        return n / self.tp if self.tp else float("nan")


def evaluate(bench: Path, links_path: Path, unrelated: set[str] = frozenset()) -> dict[str, Score]:
    """Scores by group: "all", "all but unrelated" (links that touch none of the ``unrelated``
    stories), and from the set's noise.jsonl if any: "no noise", each category, "credit: VARIANT"."""
    truth = {t["copy_url"]: t for t in map(json.loads, (bench / "truth.jsonl").open(encoding="utf-8"))}
    noise_path = bench / "noise.jsonl"
    noise = {n["url"]: n for n in map(json.loads, noise_path.open(encoding="utf-8"))} if noise_path.exists() else {}
    links = json.loads(links_path.read_text(encoding="utf-8"))

    def groups(url: str) -> list[str]:
        out = ["all", "all but unrelated"]
        if noise:
            n = noise.get(url)
            cats = n["noise"] if n else []
            out += cats or ["no noise"]
            if n and "credit-variants" in n["own"]:
                out.append("credit: " + n["variants"]["credit-variants"])
        return out

    scores: dict[str, Score] = {}
    for url in truth:
        for g in groups(url):
            scores.setdefault(g, Score()).copies += 1
    for link in links:
        t = truth.get(link["copy_url"])
        touches = bool(unrelated & {link["copy_url"], link["original_url"], link.get("via_url")})
        for g in groups(link["copy_url"]):
            if touches and g == "all but unrelated":
                continue
            s = scores.setdefault(g, Score())
            if t and link["original_url"] == t["original_url"]:
                s.tp += 1
                s.kind += link.get("kind") == t["kind"]
                s.credited += bool(link.get("credited")) == t["credited"]
                s.via += (link.get("via_url") or None) == t["via_url"]
                s.confusion[t["kind"], link.get("kind")] += 1
            else:
                s.fp += 1
                s.fp_unrelated += touches
    return scores


def unrelated_linked(links_path: Path, urls: set[str]) -> set[str]:
    links = json.loads(links_path.read_text(encoding="utf-8"))
    return urls & {u for link in links for u in (link["copy_url"], link["original_url"], link.get("via_url"))}


def wrong_links(bench: Path, links_path: Path) -> Counter:
    """Copies' links to a wrong original, by what the wrong original is: another copy of the same
    story (the copy it took from was not linked to the wire), a page of the copy's own site
    (furniture shared within a site), or another story."""
    truth = {t["copy_url"]: t for t in map(json.loads, (bench / "truth.jsonl").open(encoding="utf-8"))}
    out: Counter = Counter()
    for link in json.loads(links_path.read_text(encoding="utf-8")):
        t, wrong = truth.get(link["copy_url"]), link["original_url"]
        if not t or wrong == t["original_url"]:
            continue
        if wrong in truth and truth[wrong]["original_url"] == t["original_url"]:
            out["a copy of the same story"] += 1
        elif urlsplit(wrong).netloc == urlsplit(link["copy_url"]).netloc:
            out["a page of its own site"] += 1
        else:
            out["another story"] += 1
    return out


def table(columns: dict[str, Score]) -> list[str]:
    width = max(9, *(len(c) for c in columns)) + 1
    rows = [("copies", lambda s: f"{s.copies}"), ("TP", lambda s: f"{s.tp}"), ("FP", lambda s: f"{s.fp}"),
            ("FP unrel.", lambda s: f"{s.fp_unrelated}"),
            ("FN", lambda s: f"{s.fn}"), ("precision", lambda s: f"{s.precision:.4f}"),
            ("recall", lambda s: f"{s.recall:.4f}"), ("F1", lambda s: f"{s.f1:.4f}"),
            ("kind", lambda s: f"{s.share(s.kind):.3f}"), ("credited", lambda s: f"{s.share(s.credited):.3f}"),
            ("via", lambda s: f"{s.share(s.via):.3f}")]
    lines = [" " * 10 + "".join(f"{c:>{width}}" for c in columns)]
    for name, cell in rows:
        lines.append(f"{name:<10}" + "".join(f"{cell(s):>{width}}" for s in columns.values()))
    return lines


def confusion(name: str, s: Score) -> list[str]:
    lines = [f"{name}: truth kind (rows) x predicted kind, on correct links"]
    predicted = list(KINDS) + sorted({p for _, p in s.confusion if p not in KINDS}, key=str)
    lines.append(" " * 12 + "".join(f"{str(p):>10}" for p in predicted))
    for k in KINDS:
        lines.append(f"  {k:<10}" + "".join(f"{s.confusion[k, p]:>10}" for p in predicted))
    return lines


def cut_only(bench: Path, links: Path) -> tuple[int, int, float]:
    """Copies the generator labels "edited" whose words are the original's, unchanged and in order:
    its edit cut sentences and added one, but found no word to swap and no two paragraphs to move
    (and the relays of such a copy, which carry its text). By the definition of kind (cuts only)
    they are excerpts, or verbatim when 90% is kept. Returns (how many, how many relaywatch labels
    excerpt or verbatim, kind agreement counting them so)."""
    from relaywatch.detect.text import clean

    html_of = {e["url"]: e["html"] for e in map(json.loads, (bench / "entries.jsonl").open(encoding="utf-8"))}
    truth = {t["copy_url"]: t for t in map(json.loads, (bench / "truth.jsonl").open(encoding="utf-8"))}
    rows = [x for x in json.loads(links.read_text(encoding="utf-8"))
            if x["copy_url"] in truth and truth[x["copy_url"]]["original_url"] == x["original_url"]]
    cuts = {url for url, t in truth.items() if t["kind"] == "edited" and not t["via_url"]
            and _words_kept(clean(html_of[t["original_url"]]).text, clean(html_of[url]).text)}
    found = labelled = agree = 0
    for x in rows:
        t = truth[x["copy_url"]]
        ok = x["kind"] == t["kind"]
        if x["copy_url"] in cuts or t["via_url"] in cuts:
            found += 1
            labelled += x["kind"] in ("excerpt", "verbatim")
            ok = x["kind"] in ("excerpt", "verbatim")
        agree += ok
    return found, labelled, agree / len(rows) if rows else 0.0


def _words_kept(original: str, copy: str) -> bool:
    """Whether every sentence of the copy but one (the sentence the generator adds) is the
    original's, in the original's order."""
    original = " ".join(original.split())
    pos, own = 0, 0
    for sent in re.split(r"(?<=[.!?])\s+", " ".join(copy.split())):
        at = original.find(sent, pos)
        own, pos = (own + 1, pos) if at < 0 else (own, at + len(sent))
    return own <= 1


TARGETS = [("noisy", "F1", 0.995), ("noisy-u", "F1", 0.995),
           ("noisy", "kind", 0.95), ("noisy", "credited", 0.98), ("noisy", "via", 0.97),
           ("clean", "F1", 0.999), ("clean", "kind", 0.98)]


def _value(s: Score, what: str) -> float:
    return s.f1 if what == "F1" else s.share(getattr(s, what))


def report(work: Path, seed: int = 1, unrelated: int = 1000) -> None:
    """Build the clean and noisy sets in ``work``, ingest both with relaywatch, print the scores."""
    clean = build(work / "reuse-2000-3000-1", 2000, 3000, 1)
    noisy_dir = work / f"noisy-2000-3000-1-n{seed}-u{unrelated}"
    if not (noisy_dir / "noise.jsonl").exists():
        write_set(make_noisy(clean, seed, unrelated), clean, noisy_dir)
    plain_dir = work / f"plain-2000-3000-1-n{seed}-u{unrelated}"
    if unrelated and not (plain_dir / "entries.jsonl").exists():
        write_set(make_noisy(clean, seed, unrelated, with_noise=False), clean, plain_dir)
    runs, links = {}, {}
    for name, folder in [("clean", clean), ("noisy", noisy_dir)] + ([("plain", plain_dir)] if unrelated else []):
        runs[name] = ingest(work / f"{folder.name}.db", folder)
        links[name] = links_json(work / f"{folder.name}.db", work / f"{folder.name}.links.json")
    noise = [json.loads(line) for line in (noisy_dir / "noise.jsonl").open(encoding="utf-8")]
    unrel = {n["url"] for n in noise if n["unrelated"]}
    clean_scores = evaluate(clean, links["clean"])
    noisy_scores = evaluate(noisy_dir, links["noisy"], unrel)
    applied = Counter(c for n in noise for c in n["noise"])

    print(f"\n== Noisy pages: the Reuters repost benchmark (--seed 1) with page furniture (noise seed {seed})")
    print(f"clean: {runs['clean'].entries} entries ingested in {runs['clean'].seconds:.1f} s; noisy: "
          f"{runs['noisy'].entries} entries ({len(unrel)} unrelated outlet stories added) "
          f"in {runs['noisy'].seconds:.1f} s")
    print("noisy entries per category: " + ", ".join(f"{c} {applied[c]}" for c in CATEGORIES)
          + f"; with none: {sum(1 for n in noise if not n['noise'])} of {len(noise)}")
    print("columns: clean = the default set; +unrel = it plus the unrelated stories, no noise; noisy = the noisy "
          "set;\n  noisy-u = noisy, links touching an unrelated story left out; then noisy copies by category "
          "(a link counts\n  in each category applied to its copy page; 'no noise': copies with none)")
    columns = {"clean": clean_scores["all"]}
    if unrelated:
        columns["+unrel"] = evaluate(plain_dir, links["plain"], unrel)["all"]
    columns.update({"noisy": noisy_scores["all"], "noisy-u": noisy_scores["all but unrelated"]})
    columns.update({c: noisy_scores[c] for c in ("no noise", *CATEGORIES) if c in noisy_scores})
    print("\n".join(table(columns)))
    print()
    for name, s in [("clean", clean_scores["all"]), ("noisy", noisy_scores["all"])]:
        print("\n".join(confusion(name, s)))
    n, labelled, agree = cut_only(clean, links["clean"])
    print(f"clean: {n} copies labelled edited by the generator changed no word of the original (cuts and one "
          f"added sentence, or a relay of such a copy: excerpts by definition); relaywatch labels {labelled} of them "
          f"excerpt or verbatim; "
          f"kind agreement counting them so: {agree:.3f}")
    print("per category (truth > predicted, on correct links):")
    for c in ("no noise", *CATEGORIES):
        s = noisy_scores.get(c)
        if s:
            print(f"  {c:<16}" + "; ".join(
                f"{k} > " + " ".join(f"{p[:4]} {n}" for (tk, p), n in sorted(s.confusion.items(), key=str)
                                    if tk == k) for k in KINDS))
    print("credited agreement by credit variant (noisy; truth credited for all but told-reuters):")
    for g in sorted(g for g in noisy_scores if g.startswith("credit: ")):
        s = noisy_scores[g]
        print(f"  {g[8:]:<28} copies {s.copies:>4}  linked {s.tp:>4}  credited agrees {s.share(s.credited):.3f}")
    if unrel:
        linked = unrelated_linked(links["noisy"], unrel)
        plain = unrelated_linked(links["plain"], unrel)
        print(f"unrelated stories with noise linked to anything: {len(linked)}/{len(unrel)} "
              f"(the same stories without noise: {len(plain)}/{len(unrel)}; linked only with noise: "
              f"{len(linked - plain)}, only without: {len(plain - linked)})")
        for u in sorted(linked - plain)[:5]:
            print(f"  with noise only: {u}")
    for name, folder in [("clean", clean), ("noisy", noisy_dir)]:
        wrong = wrong_links(folder, links[name])
        print(f"{name}: copies linked to a wrong original: {sum(wrong.values())}"
              + "".join(f", {n} under {what}" for what, n in sorted(wrong.items())))
    print("shared scorer, clean: " + " | ".join(score(clean, links["clean"])[1:]))
    print("shared scorer, noisy: " + " | ".join(score(noisy_dir, links["noisy"])[1:]))
    sets = {"clean": clean_scores["all"], "noisy": noisy_scores["all"], "noisy-u": noisy_scores["all but unrelated"]}
    print("targets: " + ", ".join(
        f"{which} {what} {_value(sets[which], what):.4f} {'>=' if _value(sets[which], what) >= goal else '<'} {goal}"
        for which, what, goal in TARGETS))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, help="keep generated sets and databases here")
    ap.add_argument("--seed", type=int, default=1, help="seed of the noise (the set is always --seed 1)")
    ap.add_argument("--unrelated", type=int, default=1000, help="outlet stories of their own to add")
    ap.add_argument("--make", type=Path, metavar="OUT_DIR", help="only write the noisy set to OUT_DIR")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="relaywatch-noisy-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if args.make:
            clean = build(work / "reuse-2000-3000-1", 2000, 3000, 1)
            write_set(make_noisy(clean, args.seed, args.unrelated), clean, args.make)
            print(f"noisy set -> {args.make}")
            return
        report(work, args.seed, args.unrelated)


if __name__ == "__main__":
    main()
