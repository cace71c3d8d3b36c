"""How well relaywatch keeps a real page's article and leaves its furniture out.

The 88 pages of ``../shared/data/article-pages`` (scrapinghub's article-extraction benchmark):
the text relaywatch keeps (``detect.text.clean(html).text``) is scored against each page's
``articleBody`` with the benchmark's own measure (``\\w+`` tokens, case kept; multisets of word
4-gram shingles; per page TP/FP/FN normalised to sum to 1; precision, recall and F1 from the sums
over pages), beside trafilatura (the settings ``poll.articles.extract_article`` uses), the
structural walk alone, and plain html-to-text (all text of the body). Then, per page, whether a
copy made of the page and an original made of its articleBody come out verbatim: the share of
the original's words found in the copy (b_cov).

    python bench/pages.py [--pages N]
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "article-pages"
sys.path.insert(0, str(ROOT / "daemon"))

from lxml import html as lxml_html  # noqa: E402
from relaywatch.detect import fingerprint as fpmod  # noqa: E402
from relaywatch.detect.markup import normalize, walk  # noqa: E402
from relaywatch.detect.measure import measure  # noqa: E402
from relaywatch.detect.text import clean  # noqa: E402
from relaywatch.poll.articles import extract_article  # noqa: E402

_TOKEN = re.compile(r"\w+")
VERBATIM = 0.9  # b_cov from which a copy holds its original whole


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


METHODS: dict[str, Callable[[str], str]] = {
    "relaywatch": lambda html: clean(html).text,
    "trafilatura": lambda html: extract_article(html) or "",
    "structural walk only": lambda html: "\n\n".join(walk(html).paras),
    "html-text": plain_text,
}


def load(limit: int | None) -> list[tuple[str, str, str]]:
    if not (DATA / "ground-truth.json").exists():
        sys.exit(f"bench: {DATA} is absent (the shared corpora sit beside the checkout)")
    truth = json.loads((DATA / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for path in sorted((DATA / "html").glob("*.html.gz"))[:limit]:
        page_id = path.name.removesuffix(".html.gz")
        html = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
        pages.append((page_id, html, truth[page_id]["articleBody"]))
    return pages


def _prf(sums: list[float]) -> tuple[float, float, float]:
    tp, fp, fn = sums
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def run(pages: list[tuple[str, str, str]]) -> None:
    """P/R/F1 per method: on the texts as they are (the benchmark's measure), and with both texts
    normalised as relaywatch normalises (NFKC: Arabic presentation forms, "½" -> "1/2"), since a
    different Unicode form of the same words is no extraction error."""
    print(f"{len(pages)} pages; raw: the benchmark's measure; norm: both texts NFKC-normalised first")
    print(f"{'method':22s} {'P raw':>6s} {'R raw':>6s} {'F1 raw':>6s}   {'P norm':>6s} {'R norm':>6s} {'F1 norm':>7s}"
          f" {'ms/page':>8s}")
    for name, fn in METHODS.items():
        raw, norm, spent = [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], 0.0
        for _, html, truth in pages:
            start = time.perf_counter()
            pred = fn(html)
            spent += time.perf_counter() - start
            for sums, (t, p) in ((raw, (truth, pred)), (norm, (normalize(truth), normalize(pred)))):
                for i, v in enumerate(score(t, p)):
                    sums[i] += v
        (p1, r1, f1), (p2, r2, f2) = _prf(raw), _prf(norm)
        print(f"{name:22s} {p1:6.3f} {r1:6.3f} {f1:6.3f}   {p2:6.3f} {r2:6.3f} {f2:7.3f} "
              f"{spent / len(pages) * 1000:8.1f}")


def verbatim(pages: list[tuple[str, str, str]]) -> None:
    """Per page: the share of the original's (articleBody's) words the page's copy holds."""
    covs = []
    print(f"\n{'page':14s} {'b_cov':>6s} {'a_cov':>6s}  verbatim (b_cov >= {VERBATIM})")
    for page_id, html, truth in pages:
        copy_fp = fpmod.fingerprint(clean(html).text)
        original_fp = fpmod.fingerprint(clean(truth).text)
        m = measure(copy_fp, original_fp)
        covs.append(m.b_cov)
        print(f"{page_id[:12]:14s} {m.b_cov:6.3f} {m.a_cov:6.3f}  {'yes' if m.b_cov >= VERBATIM else 'NO'}")
    share = sum(c >= VERBATIM for c in covs) / len(covs)
    print(f"\nverbatim: {sum(c >= VERBATIM for c in covs)}/{len(covs)} pages ({share:.1%}); "
          f"median b_cov {sorted(covs)[len(covs) // 2]:.3f}, lowest {min(covs):.3f}")


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
