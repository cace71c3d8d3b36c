"""How well relaywatch keeps a real page's article and leaves its furniture out.

The 88 pages of ``../shared/data/article-pages`` (scrapinghub's article-extraction benchmark):
the text relaywatch keeps (``detect.text.clean(html)``: the story's text after its dateline) is
scored against each page's ``articleBody`` with the benchmark's own measure (``\\w+`` tokens, case
kept; multisets of word 4-gram shingles; per page TP/FP/FN normalised to sum to 1; precision,
recall and F1 from the sums over pages), beside trafilatura (at its defaults, with
``favor_precision``, and as ``poll.articles.extract_article`` calls it), the structural walk alone,
and plain html-to-text (all text of the body).

Every figure is also given on each half of the pages, split by the second hex digit of the page's
id (0-7 / 8-f: the corpus holds only the ids whose first digit is 0-7), so that a change decided
on one half can be checked on the other.

Then, per page, whether a copy made of the page holds its original (the articleBody) whole: the
share of the original's words found in the copy (b_cov), and the kind the real ingest path gives
the link (a wire feed whose entry is the articleBody, an outlet feed whose entry is the whole
page, ingested into a fresh SQLite file as ``relaywatch ingest`` does).

    python bench/pages.py [--pages N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

from benchkit import ingest, need

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "article-pages"
sys.path.insert(0, str(ROOT / "daemon"))

from lxml import html as lxml_html  # noqa: E402
from relaywatch.detect import fingerprint as fpmod  # noqa: E402
from relaywatch.detect.markup import normalize, walk  # noqa: E402
from relaywatch.detect.measure import measure  # noqa: E402
from relaywatch.detect.text import clean  # noqa: E402
from relaywatch.poll.articles import extract_article  # noqa: E402
from relaywatch.report.tables import reposts  # noqa: E402
from relaywatch.store import Store  # noqa: E402

_TOKEN = re.compile(r"\w+")
VERBATIM = 0.9  # b_cov from which a copy holds its original whole
HALVES = (("ids ?0-7", "01234567"), ("ids ?8-f", "89abcdef"))  # by the id's second hex digit

Page = tuple[str, str, str]  # id, html, articleBody


def shingles(text: str, n: int = 4) -> Counter[str]:
    tokens = _TOKEN.findall(text or "")
    return Counter(" ".join(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n])


def score(truth: str, pred: str) -> tuple[float, float, float]:
    """The benchmark's per-page (TP, FP, FN), normalised to sum to 1."""
    t, p = shingles(truth), shingles(pred)
    tp = sum((t & p).values())
    fp = sum((p - t).values())
    fn = sum((t - p).values())
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total else (0.0, 0.0, 0.0)


def plain_text(html: str) -> str:
    """All text of the body (the benchmark's html-text baseline, near enough)."""
    try:
        root = lxml_html.document_fromstring(html)
    except Exception:  # noqa: BLE001 - a page lxml cannot read scores as empty
        return ""
    for el in root.iter("script", "style", "noscript"):
        el.drop_tree()
    body = root.find("body")
    return " ".join((body if body is not None else root).itertext())


def trafilatura_text(**options: bool) -> Callable[[str], str]:
    def run(html: str) -> str:
        import trafilatura

        return trafilatura.extract(html, include_comments=False, **options) or ""
    return run


METHODS: dict[str, Callable[[str], str]] = {
    "relaywatch": lambda html: clean(html).text,
    "trafilatura (defaults)": trafilatura_text(),
    "trafilatura precision": trafilatura_text(favor_precision=True),
    "trafilatura as called": lambda html: extract_article(html) or "",
    "structural walk only": lambda html: "\n\n".join(walk(html).paras),
    "html-text": plain_text,
}


def load(limit: int | None) -> list[Page]:
    truth = json.loads(need(DATA / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for path in sorted((DATA / "html").glob("*.html.gz"))[:limit]:
        page_id = path.name.removesuffix(".html.gz")
        html = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        pages.append((page_id, html, truth[page_id]["articleBody"]))
    return pages


def half(page_id: str) -> int:
    return 0 if page_id[1] in HALVES[0][1] else 1


def _prf(rows: list[tuple[float, float, float]]) -> tuple[float, float, float]:
    tp, fp, fn = (sum(r[i] for r in rows) for i in range(3))
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def run(pages: list[Page]) -> None:
    """P/R/F1 per method: on the texts as they are (the benchmark's measure), and with both texts
    normalised as relaywatch normalises (NFKC: Arabic presentation forms, "½" -> "1/2"), since a
    different Unicode form of the same words is no extraction error; then the raw F1 on each half."""
    sizes = [sum(half(p[0]) == h for p in pages) for h in (0, 1)]
    print(f"{len(pages)} pages; raw: the benchmark's measure; norm: both texts NFKC-normalised first; "
          f"halves: {HALVES[0][0]} ({sizes[0]} pages), {HALVES[1][0]} ({sizes[1]} pages)")
    print(f"{'method':24s} {'P raw':>6s} {'R raw':>6s} {'F1 raw':>6s} {'F1 norm':>7s} "
          f"{'F1 ' + HALVES[0][0]:>12s} {'F1 ' + HALVES[1][0]:>12s} {'ms/page':>8s}")
    for name, fn in METHODS.items():
        raw, norm, spent = [], [], 0.0
        for _, html, truth in pages:
            start = time.perf_counter()
            pred = fn(html)
            spent += time.perf_counter() - start
            raw.append(score(truth, pred))
            norm.append(score(normalize(truth), normalize(pred)))
        p, r, f1 = _prf(raw)
        halves = [_prf([s for s, pg in zip(raw, pages, strict=True) if half(pg[0]) == h])[2] for h in (0, 1)]
        print(f"{name:24s} {p:6.3f} {r:6.3f} {f1:6.3f} {_prf(norm)[2]:7.3f} {halves[0]:12.3f} {halves[1]:12.3f} "
              f"{spent / len(pages) * 1000:8.1f}")


def ingest_kinds(pages: list[Page]) -> dict[str, str]:
    """Page id -> the kind of the link from the page (an outlet's entry) to its articleBody (a wire's
    entry), through the real ingest path; "-" when no such link is made."""
    start = datetime(2024, 3, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "feeds.json").write_text(json.dumps([
            {"name": "wire", "role": "wire", "credit": ["Reuters"]},
            {"name": "outlet", "role": "outlet", "credit": []}]), encoding="utf-8")
        with open(folder / "entries.jsonl", "w", encoding="utf-8") as out:
            for n, (page_id, html, truth) in enumerate(pages):
                body = "".join(f"<p>{escape(line)}</p>" for line in truth.split("\n") if line.strip())
                for feed, role, markup, lag in (("wire", "wire", body, 0), ("outlet", "outlet", html, 1)):
                    published = start + timedelta(hours=2 * n + lag)
                    out.write(json.dumps({"feed": feed, "role": role, "guid": f"{feed}-{page_id}",
                                          "url": f"https://{feed}.example/{page_id}", "title": f"Story {page_id[:12]}",
                                          "published": published.isoformat(), "html": markup}) + "\n")
        ingest(folder / "pages.db", folder, workers=0)
        with Store(folder / "pages.db") as store:
            links = reposts(store)
    kinds = {}
    for link in links:
        copy_id, original_id = link["copy_url"].rsplit("/", 1)[1], link["original_url"].rsplit("/", 1)[1]
        if copy_id == original_id and link["copy_url"].startswith("https://outlet."):
            kinds[copy_id] = link["kind"]
    return {page_id: kinds.get(page_id, "-") for page_id, _, _ in pages}


def verbatim(pages: list[Page]) -> None:
    """Per page: the share of the original's (articleBody's) words the page's copy holds, and the
    kind the link gets through ingest."""
    kinds = ingest_kinds(pages)
    covs = []
    print(f"\n{'page':14s} {'b_cov':>6s} {'a_cov':>6s}  {'b_cov >= ' + str(VERBATIM):13s} kind (ingest)")
    for page_id, html, truth in pages:
        m = measure(fpmod.fingerprint(clean(html).text), fpmod.fingerprint(clean(truth).text))
        covs.append(m.b_cov)
        print(f"{page_id[:12]:14s} {m.b_cov:6.3f} {m.a_cov:6.3f}  {'yes' if m.b_cov >= VERBATIM else 'NO':13s} "
              f"{kinds[page_id]}")
    print(f"\nverbatim: b_cov >= {VERBATIM} on {sum(c >= VERBATIM for c in covs)}/{len(covs)} pages; median b_cov "
          f"{sorted(covs)[len(covs) // 2]:.3f}, lowest {min(covs):.3f}; ingest kind verbatim on "
          f"{sum(k == 'verbatim' for k in kinds.values())}/{len(kinds)} pages "
          f"({', '.join(f'{k} {n}' for k, n in Counter(kinds.values()).most_common())})")
    for h, (label, _) in enumerate(HALVES):
        ids = [p[0] for p in pages if half(p[0]) == h]
        good = sum(c >= VERBATIM for c, p in zip(covs, pages, strict=True) if half(p[0]) == h)
        print(f"  {label}: b_cov >= {VERBATIM} on {good}/{len(ids)}, ingest verbatim on "
              f"{sum(kinds[i] == 'verbatim' for i in ids)}/{len(ids)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=None, help="score only the first N pages")
    args = ap.parse_args()
    pages = load(args.pages)
    for fn in METHODS.values():  # warm up: imports (trafilatura) are not a page's time
        fn(pages[0][1])
    run(pages)
    verbatim(pages)


if __name__ == "__main__":
    main()
