"""Rewritten wire copy, as newspapers make it, and independent write-ups of the same events.

Originals are real 1987 Reuters stories (``../shared/data/reuters21578``, read by the shared
generator's ``load_reuters``). Each positive is an outlet's story built from one original the way
a reporter rewrites agency copy:

- a share of the original's sentences is kept (20-80%, or 80-100% for "wholly derived" rewrites,
  or one to three sentences for a news-in-brief item), in the original's order, each either
  verbatim or lightly rewritten: a few words swapped for synonyms, a clause moved ("..., the
  company said." -> "The company said ..."), the tense changed, a quote re-attributed;
- neighbouring sentences merged or one split; a quote moved up;
- a new lead and a new headline of the outlet's own, and now and then a sentence of its own.

Hard negatives, which must not be linked:

- ``same-topic``: other real Reuters stories of the same topic within a day of an original, sharing
  no more than 10% of their word 8-grams with any original (a real second report on the event);
- ``same-facts``: a write-up of our own around the original's names and figures, one or two of its
  quotes and one short phrase of it (the phrasing of a charge), in new sentences.

Output folder: entries.jsonl, feeds.json, truth.jsonl (``copy_url``, ``original_url``, ``kind``,
``taken``: share of the original's words kept in the copy, ``bucket``), negatives.jsonl (``url``,
``original_url`` it was built around, ``how``). Same seed, same files.
"""

from __future__ import annotations

import html
import json
import random
import re
from datetime import timedelta
from pathlib import Path

from benchkit import load_generator

OUTLETS = ["Northern Gazette", "Evening Courier", "Valley Times", "Coastal Herald", "City Post"]
ABBREV = re.compile(r"(?:\b(?:U\.S|U\.K|Inc|Corp|Co|Ltd|Mr|Mrs|Dr|St|Jan|Feb|Mar|Apr|Aug|Sept|Sep|Oct|Nov|Dec|"
                    r"Gov|Sen|Rep|No|vs|Bros|Jr|Sr)|\b[A-Z])\.$")
SYNONYMS = {
    "said": ["stated", "added", "noted"], "rose": ["climbed", "increased"], "fell": ["dropped", "declined"],
    "company": ["firm", "group"], "expected": ["forecast", "anticipated"], "shares": ["stock"],
    "announced": ["disclosed", "revealed"], "government": ["administration"], "agreed": ["consented"],
    "about": ["around", "roughly"], "increase": ["rise"], "plans": ["intends"], "large": ["big"],
    "completed": ["finished"], "purchase": ["acquisition"], "bought": ["acquired"], "sold": ["divested"],
    "talks": ["negotiations"], "officials": ["authorities"], "reported": ["posted"], "told": ["informed"],
    "major": ["leading"], "also": ["additionally"], "however": ["but"], "because": ["as"],
    "ended": ["finished"], "received": ["got"], "quarter": ["three months"], "loss": ["deficit"],
}
TENSE = [("said", "says"), (" has ", " had "), (" will ", " would "), (" is ", " was "), (" are ", " were ")]
LEADS = ["{title}.", "{title}, on {day}.", "{title}: the details."]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


def sentences(paras: list[str]) -> list[str]:
    out: list[str] = []
    for p in paras:
        buf = ""
        for piece in re.split(r"(?<=[.!?])\s+(?=[A-Z\"'(<])", p):
            buf = f"{buf} {piece}".strip()
            if not ABBREV.search(buf):
                out.append(buf)
                buf = ""
        if buf:
            out.append(buf)
    return out


def swap_words(s: str, r: random.Random, n: int) -> tuple[str, bool]:
    present = [w for w in SYNONYMS if re.search(rf"\b{w}\b", s)]
    for w in r.sample(present, min(n, len(present))):
        s = re.sub(rf"\b{w}\b", r.choice(SYNONYMS[w]), s, count=1)
    return s, bool(present)


def move_clause(s: str) -> tuple[str, bool]:
    m = re.match(r"^(?P<main>.{20,}?), (?P<who>(?:the |a |an )?[\w.'-]+(?: [\w.'-]+){0,5}) "
                 r"(?P<verb>said|says|added)\.$", s)
    if m and not m.group("main").startswith('"'):
        main = m.group("main")
        main = main[0].lower() + main[1:] if not re.match(r"^[A-Z][a-z]*[A-Z]|^[A-Z]{2}|^I\b", main) else main
        who = m.group("who")
        return f"{who[0].upper() + who[1:]} {m.group('verb')} {main}.", True
    m = re.match(r"^(?P<lead>(?:In|On|During|After|For|Last|Earlier) [^,]{3,40}), (?P<rest>.+)\.$", s)
    if m:
        rest = m.group("rest")
        return f"{rest[0].upper() + rest[1:]} {m.group('lead')[0].lower() + m.group('lead')[1:]}.", True
    return s, False


def reattribute(s: str) -> tuple[str, bool]:
    m = re.match(r'^(?P<q>".+?,") (?P<who>[\w.\' -]{2,40}) said\.$', s)
    if m:
        return f'{m.group("q")} said {m.group("who")}.', True
    m = re.match(r'^(?P<q>".+?,") said (?P<who>[\w.\' -]{2,40})\.$', s)
    if m:
        return f'{m.group("q")} {m.group("who")} said.', True
    return s, False


def rewrite_sentence(s: str, r: random.Random) -> tuple[str, bool]:
    """A light rewrite of one sentence: one to three of the reporter's usual changes."""
    changed = False
    ops = r.sample(["swap", "move", "tense", "quote"], r.randint(1, 3))
    for op in ops:
        if op == "swap":
            s, c = swap_words(s, r, r.randint(1, 3))
        elif op == "move":
            s, c = move_clause(s)
        elif op == "quote":
            s, c = reattribute(s)
        else:
            a, b = r.choice(TENSE)
            c = a in s
            s = s.replace(a, b, 1)
        changed |= c
    return s, changed


def merge_split(sents: list[str], r: random.Random) -> tuple[list[str], bool]:
    sents = list(sents)
    if len(sents) >= 3 and r.random() < 0.4:
        i = r.randrange(len(sents) - 1)
        a, b = sents[i], sents[i + 1]
        if a.endswith(".") and not b.startswith('"'):
            sents[i:i + 2] = [f"{a[:-1]}, and {b[0].lower() + b[1:] if b[1:2].islower() else b}"]
            return sents, True
    for i, s in enumerate(sents):
        m = re.match(r"^(.{30,}?), and (.{20,})$", s)
        if m and r.random() < 0.3:
            rest = m.group(2)
            sents[i:i + 1] = [m.group(1) + ".", rest[0].upper() + rest[1:]]
            return sents, True
    return sents, False


def lead(title: str, outlet: str, r: random.Random) -> str:
    t = title.rstrip(".")
    return r.choice(LEADS).format(outlet=outlet, title=t, title_lower=t[0].lower() + t[1:], day=r.choice(DAYS))


def heavy(s: str, r: random.Random) -> tuple[str, bool]:
    """A heavy rewrite: every word the thesaurus knows swapped, the clauses moved, the tense changed."""
    s, a = swap_words(s, r, 99)
    s, b = move_clause(s)
    x, y = r.choice(TENSE)
    return s.replace(x, y, 1), a or b or x in s


def rewrite(doc: dict, low: float, high: float, r: random.Random, outlet: str,
            donors: list[str]) -> tuple[list[str], str, float]:
    """An outlet's rewrite of ``doc`` keeping ``low``-``high`` of its words, around sentences of its
    own reporting (``donors``: sentences of other stories): (paragraphs, kind, taken)."""
    sents = sentences(doc["paras"])
    words = [len(s.split()) for s in sents]
    want = r.uniform(low, high) * sum(words)
    order = list(range(len(sents)))
    keep = set(order[:1]) if r.random() < 0.7 else set()  # newspapers mostly keep the agency's lead
    for i in r.sample(order, len(order)):
        if sum(words[j] for j in keep) >= want:
            break
        keep.add(i)
    kept_idx = sorted(keep)
    taken = sum(words[j] for j in kept_idx) / max(1, sum(words))
    out, changed = [], False
    for j in kept_idx:
        s, roll = sents[j], r.random()
        if roll < 0.45:
            s, c = rewrite_sentence(s, r)
            changed |= c
        elif roll < 0.65:
            s, c = heavy(s, r)
            changed |= c
        out.append(s)
    out, c = merge_split(out, r)
    changed |= c
    quotes = [i for i, s in enumerate(out) if s.startswith('"') and i > 1]
    if quotes and r.random() < 0.5:
        out.insert(1, out.pop(quotes[0]))
        changed = True
    own_words = r.uniform(0.0, 0.3 if low >= 0.8 else 1.5) * sum(words[j] for j in kept_idx)
    while donors and own_words > 0:
        s = donors.pop()
        out.insert(r.randrange(1, len(out) + 1), s)
        own_words -= len(s.split())
    out.insert(0, lead(doc["title"], outlet, r))
    kind = "edited" if changed else ("verbatim" if taken >= 0.9 else "excerpt")
    return paragraphs(out, r), kind, taken


def brief(doc: dict, r: random.Random) -> tuple[list[str], str, float]:
    """A news-in-brief item of 20-80 words: one to three of the wire's sentences, maybe reworded."""
    sents = [s for s in sentences(doc["paras"]) if 8 <= len(s.split()) <= 40]
    if not sents:
        return [], "", 0.0
    n, out, changed = r.randint(1, min(3, len(sents))), [], False
    start = 0 if r.random() < 0.6 else r.randrange(len(sents))
    for s in sents[start:start + n]:
        if sum(len(x.split()) for x in out) + len(s.split()) > 80:
            break
        if r.random() < 0.4:
            s, c = swap_words(s, r, 1)
            changed |= c
        out.append(s)
    if sum(len(x.split()) for x in out) < 20:
        return [], "", 0.0
    taken = sum(len(x.split()) for x in out) / sum(len(p.split()) for p in doc["paras"])
    return out, "edited" if changed else "excerpt", taken


def paragraphs(sents: list[str], r: random.Random) -> list[str]:
    out, i = [], 0
    while i < len(sents):
        n = r.choice([1, 1, 2])
        out.append(" ".join(sents[i:i + n]))
        i += n
    return out


NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?: [A-Z][a-z]+)*(?: (?:Inc|Corp|Co|Ltd)\b)?)")
FIGURE = re.compile(r"\b\d[\d,.]*(?: (?:mln|billion|bln|pct|dlrs|tonnes|barrels|shares|cts))*")
QUOTE = re.compile(r'"([^"]{25,200})"')


def same_facts(doc: dict, r: random.Random, donors: list[str]) -> list[str]:
    """A report of our own around ``doc``'s names, figures, one or two of its quotes and one short
    phrase of it: sentences of its own reporting (``donors``) with the original's names and figures
    put in, the quotes, the phrase. The same event, independently reported."""
    text = " ".join(doc["paras"])
    names = list(dict.fromkeys(m.group(1) for m in NAME.finditer(text) if len(m.group(1)) > 3)) or ["The company"]
    figures = list(dict.fromkeys(m.group(0).rstrip(".,") for m in FIGURE.finditer(text))) or ["the sum"]
    quotes = QUOTE.findall(text)
    out: list[str] = []
    for _ in range(r.randint(4, 10)):
        if not donors:
            break
        s = NAME.sub(lambda m: r.choice(names) if r.random() < 0.5 else m.group(1), donors.pop(), count=2)
        out.append(FIGURE.sub(lambda m: r.choice(figures), s, count=1))
    for q in r.sample(quotes, min(len(quotes), r.randint(1, 2))):
        out.insert(r.randrange(0, len(out) + 1), f'"{q}," {r.choice(["a spokesman", "an official", names[0]])} said.')
    words = re.findall(r"[A-Za-z]+", sentences(doc["paras"])[0])
    if len(words) >= 8:
        i = r.randrange(0, len(words) - 5)
        phrase = " ".join(words[i:i + r.randint(4, 6)])
        out.insert(r.randrange(0, len(out) + 1), f"{r.choice(names)} spoke of {phrase}.")
    out.insert(0, f"{names[0]} was in the news on {r.choice(DAYS)}.")
    return paragraphs(out, r)


def grams8(paras: list[str]) -> set[str]:
    words = re.findall(r"\w+", " ".join(paras).lower())
    return {" ".join(words[i:i + 8]) for i in range(len(words) - 7)}


def same_topic(originals: list[dict], docs: list[dict], want: int, r: random.Random) -> list[tuple[dict, dict]]:
    """(other Reuters story, the original of its topic and day) pairs sharing <= 10% of their word
    8-grams with every original."""
    used = {d["id"] for d in originals}
    seen8: dict[str, set[str]] = {}
    for d in originals:
        for g in grams8(d["paras"]):
            seen8.setdefault(g, set()).add(d["id"])
    by_key: dict[tuple[str, object], list[dict]] = {}
    for d in originals:
        for t in d["topics"]:
            by_key.setdefault((t, d["date"].date()), []).append(d)
    pairs = []
    for d in r.sample(docs, len(docs)):
        if d["id"] in used or not d["topics"]:
            continue
        near = [o for t in d["topics"] for o in by_key.get((t, d["date"].date()), [])]
        if not near:
            continue
        g = grams8(d["paras"])
        shared: dict[str, int] = {}
        for x in g:
            for i in seen8.get(x, ()):
                shared[i] = shared.get(i, 0) + 1
        if g and max(shared.values(), default=0) > 0.1 * len(g):
            continue
        pairs.append((d, r.choice(near)))
        used.add(d["id"])
        if len(pairs) >= want:
            break
    return pairs


def ps(paras: list[str]) -> str:
    return "".join(f"<p>{html.escape(p)}</p>" for p in paras)


def make(out: Path, originals: int = 1500, rewrites: int = 1200, negatives: int = 800, seed: int = 1) -> Path:
    """Write the set to ``out`` (reused when it is there)."""
    if (out / "truth.jsonl").exists():
        return out
    gen = load_generator()
    r = random.Random(seed)
    docs = gen.load_reuters()
    r.shuffle(docs)
    origs = [d for d in gen.distinct(docs, originals * 2) if len(sentences(d["paras"])) >= 4][:originals]
    entries, truth, negs = [], [], []
    topical = same_topic(origs, docs, negatives // 2, r)
    taken_ids = {d["id"] for d in origs} | {d["id"] for d, _ in topical}
    grams = {g for d in origs for g in grams8(d["paras"])}
    donors = [s for d in docs if d["id"] not in taken_ids for s in sentences(d["paras"])[1:]
              if 8 <= len(s.split()) <= 45 and not grams8([s]) & grams]  # in no story of the set
    r.shuffle(donors)
    for d in origs:
        d["url"] = f"https://wire.example.org/reuters/{d['id']}"
        lead_para = f"{d['dateline']} (Reuters) - {d['paras'][0]}" if d["dateline"] else d["paras"][0]
        body = ps([lead_para] + d["paras"][1:])
        entries.append(dict(feed="reuters", role="wire", guid=f"reuters-{d['id']}", url=d["url"], title=d["title"],
                            published=d["date"].isoformat(), html=body))

    def post(paras: list[str], title: str, base, n: int) -> str:
        outlet = OUTLETS[n % len(OUTLETS)]
        t = base + timedelta(minutes=r.randint(30, 60 * 30))
        url = f"https://{outlet.lower().replace(' ', '')}.example.com/{t:%Y/%m}/story-{n}"
        entries.append(dict(feed=outlet.lower().replace(" ", "-"), role="outlet", guid=f"{outlet}-{n}", url=url,
                            title=title, published=t.isoformat(), html=ps(paras)))
        return url

    buckets = [("20-40%", 0.2, 0.4), ("40-60%", 0.4, 0.6), ("60-80%", 0.6, 0.8), ("wholly", 0.85, 1.0)]
    n = 0
    for k in range(rewrites):
        d = r.choice(origs)
        if k % 6 == 5:
            paras, kind, taken = brief(d, r)
            bucket = "brief"
            if not paras:
                continue
        else:
            bucket, low, high = buckets[k % 6 % 4]
            paras, kind, taken = rewrite(d, low, high, r, OUTLETS[n % len(OUTLETS)], donors)
        title = swap_words(d["title"], r, 1)[0]
        url = post(paras, title, d["date"], n)
        truth.append(dict(copy_url=url, original_url=d["url"], via_url=None, kind=kind, credited=False,
                          taken=round(taken, 3), bucket=bucket))
        n += 1
    for other, d in topical:
        url = post(other["paras"], other["title"], max(d["date"], other["date"]), n)
        negs.append(dict(url=url, original_url=d["url"], how="same-topic"))
        n += 1
    for _ in range(negatives - len(negs)):
        d = r.choice(origs)
        url = post(same_facts(d, r, donors), swap_words(d["title"], r, 2)[0], d["date"], n)
        negs.append(dict(url=url, original_url=d["url"], how="same-facts"))
        n += 1
    entries.sort(key=lambda e: e["published"])
    out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("entries.jsonl", entries), ("truth.jsonl", truth), ("negatives.jsonl", negs)):
        with open(out / name, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(x) + "\n" for x in rows)
    feeds = [dict(name="reuters", role="wire", credit=["Reuters"])] + \
        [dict(name=o.lower().replace(" ", "-"), role="outlet", credit=[]) for o in OUTLETS]
    (out / "feeds.json").write_text(json.dumps(feeds, indent=1), encoding="utf-8")
    return out
