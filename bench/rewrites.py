"""Rewritten wire copy: does relaywatch find how much of a story an outlet took, as a newspaper
takes it, and leave independent reports of the same events alone?

The set (``rewrite_gen.py``): real Reuters originals; outlet rewrites of them by share taken
(20-40%, 40-60%, 60-80%, wholly derived, news-in-brief items) and hard negatives (other Reuters
stories of the same topic and day; write-ups of our own around an original's names, figures and
quotes). It goes through relaywatch's real ingest; beside it, in the same run, the one-line
baseline: the share of a story's word 3-grams found in an original, linked to the original that
holds most when that share passes a threshold. The baseline is shown at its best threshold, picked
by looking at the answers (relaywatch's thresholds are fixed in the code).

Printed: recall by bucket (share taken), the negatives linked (per kind), precision, recall and F1
over links, kind agreement on found rewrites, the "taken" figure stored on each link against the
truth; the same for the baseline; and Clough & Stevenson per category.

    python bench/rewrites.py [--work DIR] [--seed 1]
"""

from __future__ import annotations

import argparse
import html
import json
import re
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import rewrite_gen
from benchkit import ingest, links_json

BUCKETS = ("brief", "20-40%", "40-60%", "60-80%", "wholly")


def _words(markup: str) -> list[str]:
    return re.findall(r"\w+", html.unescape(re.sub(r"<[^>]+>", " ", markup)).lower())


def _grams3(words: list[str]) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def baseline(folder: Path) -> dict[str, tuple[str, float]]:
    """For each outlet entry: (the original holding most of its word 3-grams, that share)."""
    entries = [json.loads(line) for line in (folder / "entries.jsonl").open(encoding="utf-8")]
    index: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for e in entries:
        if e["role"] == "wire":
            for g in _grams3(_words(e["html"])):
                index[g].append(e["url"])
    out = {}
    for e in entries:
        if e["role"] == "wire":
            continue
        grams = _grams3(_words(e["html"]))
        hits = Counter(u for g in grams for u in index.get(g, ()))
        if hits:
            url, n = hits.most_common(1)[0]
            out[e["url"]] = (url, n / len(grams))
    return out


def score(truth: list[dict], negs: list[dict], links: dict[str, str]) -> dict:
    """Recall by bucket, negatives linked, precision / recall / F1 over links."""
    found = Counter()
    per = Counter(t["bucket"] for t in truth)
    tp = 0
    for t in truth:
        if links.get(t["copy_url"]) == t["original_url"]:
            tp += 1
            found[t["bucket"]] += 1
    neg_linked = Counter(n["how"] for n in negs if n["url"] in links)
    fp = len(links) - tp
    p = tp / len(links) if links else 0.0
    r = tp / len(truth) if truth else 0.0
    return dict(recall={b: found[b] / per[b] for b in BUCKETS if per[b]}, tp=tp, fp=fp, p=p, r=r,
                f1=2 * p * r / (p + r) if p + r else 0.0, neg=neg_linked,
                neg_share=sum(neg_linked.values()) / len(negs) if negs else 0.0,
                derived=tp / len(truth), wholly=found["wholly"] / per["wholly"] if per["wholly"] else 0.0)


def best_baseline(truth: list[dict], negs: list[dict],
                  base: dict[str, tuple[str, float]]) -> tuple[float, dict, float, dict]:
    """The baseline's threshold of best F1, and its best threshold with at most 15% of negatives linked."""
    best: tuple[float, dict] | None = None
    capped: tuple[float, dict] | None = None
    for t in [x / 100 for x in range(2, 91)]:
        links = {u: o for u, (o, share) in base.items() if share >= t}
        s = score(truth, negs, links)
        if best is None or s["f1"] > best[1]["f1"]:
            best = (t, s)
        if s["neg_share"] <= 0.15 and (capped is None or s["derived"] > capped[1]["derived"]):
            capped = (t, s)
    assert best is not None and capped is not None
    return best[0], best[1], capped[0], capped[1]


def row(name: str, s: dict) -> str:
    rec = "  ".join(f"{s['recall'].get(b, 0):.3f}" for b in BUCKETS)
    neg = s["neg"]
    return (f"{name:<28} {rec}   {neg['same-topic']:>4} {neg['same-facts']:>4}  {s['p']:.3f}  {s['r']:.3f}  "
            f"{s['f1']:.3f}")


def report(work: Path, seed: int) -> None:
    folder = rewrite_gen.make(work / f"rewrites-s{seed}", seed=seed)
    truth = [json.loads(line) for line in (folder / "truth.jsonl").open(encoding="utf-8")]
    negs = [json.loads(line) for line in (folder / "negatives.jsonl").open(encoding="utf-8")]
    run = ingest(work / f"rewrites-s{seed}.db", folder)
    rows = json.loads(links_json(work / f"rewrites-s{seed}.db", work / f"rewrites-s{seed}.links.json").read_text())
    links = {x["copy_url"]: x["original_url"] for x in rows}
    ours = score(truth, negs, links)
    t_best, s_best, t_cap, s_cap = best_baseline(truth, negs, baseline(folder))
    per = Counter(t["bucket"] for t in truth)
    hows = Counter(n["how"] for n in negs)
    print(f"\n== Rewritten wire copy (seed {seed}): {len(truth)} rewrites ("
          + ", ".join(f"{b} {per[b]}" for b in BUCKETS) + f"), {len(negs)} hard negatives ("
          + ", ".join(f"{h} {n}" for h, n in hows.items()) + f"); ingested in {run.seconds:.1f} s")
    print(f"{'':<28} recall by share taken{'':<13} negatives linked")
    print(f"{'':<28} " + "  ".join(f"{b:>5}" for b in BUCKETS) + "   topic facts  P      R      F1")
    print(row("relaywatch", ours))
    print(row(f"3-gram baseline @{t_best:.2f} (best F1)", s_best))
    print(row(f"3-gram baseline @{t_cap:.2f} (<=15% neg.)", s_cap))
    print(f"derived found: relaywatch {ours['derived']:.3f} (wholly {ours['wholly']:.3f}), negatives linked "
          f"{ours['neg_share']:.3f}; baseline at <=15% negatives: {s_cap['derived']:.3f} (wholly "
          f"{s_cap['wholly']:.3f}), negatives {s_cap['neg_share']:.3f}")
    _kinds_and_taken(truth, rows)


def _kinds_and_taken(truth: list[dict], rows: list[dict]) -> None:
    by_copy = {x["copy_url"]: x for x in rows}
    kinds = Counter()
    errors = []
    for t in truth:
        x = by_copy.get(t["copy_url"])
        if x and x["original_url"] == t["original_url"]:
            kinds[(t["kind"], x["kind"])] += 1
            if x.get("original_share") is not None:
                errors.append(abs(x["original_share"] - t["taken"]))
    agree = sum(n for (a, b), n in kinds.items() if a == b) / max(1, sum(kinds.values()))
    print(f"kind agrees on found rewrites: {agree:.3f} ("
          + ", ".join(f"{a}>{b} {n}" for (a, b), n in sorted(kinds.items()) if a != b) + ")")
    if errors:
        errors.sort()
        print(f"share of the original taken, stored against the truth: median error {errors[len(errors) // 2]:.3f}, "
              f"p90 {errors[int(len(errors) * 0.9)]:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, help="keep generated sets and databases here")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.work:
        a.work.mkdir(parents=True, exist_ok=True)
        report(a.work, a.seed)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            report(Path(tmp), a.seed)


if __name__ == "__main__":
    main()
