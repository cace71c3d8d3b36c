"""Caches bounded in bytes: the fingerprint cache of the matcher, the article texts, the estimate."""

from __future__ import annotations

import gc
import gzip
import re
import tracemalloc
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

import pytest
from relaywatch.config import FetchConfig
from relaywatch.detect import fingerprint as fpmod
from relaywatch.models import StoredEntry
from relaywatch.poll.articles import ArticleFetcher
from relaywatch.poll.http import Fetcher
from relaywatch.record.cache import ENTRY_OVERHEAD, ByteLRU, entry_bytes, fingerprint_bytes, text_bytes
from relaywatch.record.matcher import Matcher
from relaywatch.store import Store

from ._servers import Response, TestServer
from .conftest import shared


def reuters(n: int) -> list[str]:
    """The first ``n`` Reuters-21578 stories of 90 words or more."""
    with gzip.open(shared("reuters21578", "reut2-000.sgm.gz"), "rt", encoding="latin-1") as f:
        raw = f.read()
    bodies = [unescape(b).replace("\x03", "") for b in re.findall(r"<BODY>(.*?)</BODY>", raw, re.S)]
    return [b for b in bodies if len(b.split()) >= 90][:n]


def test_lru_within_budget() -> None:
    cache: ByteLRU[str, str] = ByteLRU(3 * (100 + ENTRY_OVERHEAD), len)
    for key in "abc":
        cache.put(key, "x" * 100)
    assert cache.bytes == 3 * (100 + ENTRY_OVERHEAD) and len(cache) == 3
    assert cache.get("a") == "x" * 100  # now the most recently used
    cache.put("d", "y" * 100)
    assert "b" not in cache and [k for k in "acd" if k in cache] == ["a", "c", "d"]
    cache.put("e", "z" * 250)  # needs the room of two
    assert [k for k in "acde" if k in cache] == ["d", "e"]
    assert cache.bytes == 100 + 250 + 2 * ENTRY_OVERHEAD


def test_item_over_budget_not_kept_and_replacing_recounts() -> None:
    cache: ByteLRU[int, str] = ByteLRU(1000, len)
    cache.put(1, "a" * 500)
    cache.put(2, "b" * 2000)
    assert 2 not in cache and cache.get(1) == "a" * 500
    cache.put(1, "c" * 10)
    assert cache.bytes == 10 + ENTRY_OVERHEAD and len(cache) == 1
    cache.pop(1)
    cache.pop(7)
    assert cache.bytes == 0 and len(cache) == 0
    with pytest.raises(ValueError, match=r"^a cache budget is at least 0 bytes, not -1$"):
        ByteLRU(-1, len)


def test_fingerprint_estimate_close_to_tracemalloc() -> None:
    """What ``fingerprint_bytes`` says a cached fingerprint weighs, against what tracemalloc sees
    the cache holding, on 400 real Reuters stories, each measured once: within 15%."""
    texts = reuters(400)
    for t in texts:  # the word-hash cache of detect.fingerprint warms up outside the measure
        fpmod.fingerprint(t, index=False)
    cache: ByteLRU[int, fpmod.Fingerprint] = ByteLRU(10**12, fingerprint_bytes)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i, t in enumerate(texts):
            fp = fpmod.fingerprint(t, index=False)
            _ = fp.order  # as the matcher holds them: measured against a new text
            cache.put(i, fp)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(cache) == 400
    assert abs(cache.bytes - held) / held < 0.15, (cache.bytes, held)


def test_entry_estimate_close_to_tracemalloc() -> None:
    """What ``entry_bytes`` says a stored entry read back weighs, against what tracemalloc sees the
    cache holding, on 400 real Reuters stories: within 15%."""
    texts = reuters(400)
    now = datetime(2026, 12, 3, tzinfo=UTC)
    cache: ByteLRU[int, StoredEntry] = ByteLRU(10**12, entry_bytes)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i, t in enumerate(texts):  # strings made here, as the store's rows make them
            cache.put(i, StoredEntry(id=i, feed_id=1, feed_name=f"outlet{i % 7}", role="outlet", guid=f"g-{i}",
                                     url=f"https://outlet{i % 7}.example.com/2026/12/03/story-{i}",
                                     title=" ".join(t.split()[:8]), published=now, first_seen=now,
                                     text=t.replace("  ", " "), credits=(f"Reuters {i}",),
                                     credit_names=(f"outlet{i % 7}", f"Outlet {i % 7}")))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert abs(cache.bytes - held) / held < 0.15, (cache.bytes, held)


def test_matcher_cache_stays_within_its_budget(tmp_path: Path) -> None:
    texts = reuters(300)
    fps = [fpmod.fingerprint(t, index=False) for t in texts]
    budget = sum(fingerprint_bytes(fp) + ENTRY_OVERHEAD for fp in fps[:50])
    matcher = Matcher(Store(tmp_path / "a.db"), cache_bytes=budget)
    for i, fp in enumerate(fps):
        matcher.remember(i, fp)
    assert matcher._fps.bytes <= budget
    assert 40 <= len(matcher._fps) < 300 and 299 in matcher._fps and 0 not in matcher._fps
    matcher.store.close()


def test_article_cache_bounded_in_bytes() -> None:
    """Pages fetched once while their texts fit the budget; the oldest is fetched again once the
    budget pushed it out (there is no store to read it back from here)."""
    words = " ".join(f"word{k}" for k in range(400))
    page = f"<html><body><article><h1>T</h1><p>{words}.</p><p>{words}.</p></article></body></html>".encode()
    with TestServer() as srv:
        for n in range(12):
            srv.route(f"/a/{n}", Response(page, headers={"Content-Type": "text/html; charset=utf-8"}))
        cfg = FetchConfig(per_host_delay=0.0, respect_robots=False, allow_private_networks=True)
        text = ArticleFetcher(Fetcher(cfg), cfg).text_for(srv.url("/a/0"))
        assert text is not None
        budget = 5 * (text_bytes(text) + ENTRY_OVERHEAD)
        articles = ArticleFetcher(Fetcher(cfg), cfg, cache_bytes=budget)
        for n in range(12):
            assert articles.text_for(srv.url(f"/a/{n}")) == text
        assert articles._cache.bytes <= budget and len(articles._cache) == 5
        articles.text_for(srv.url("/a/11"))
        assert len(srv.hits_for("/a/11")) == 1
        articles.text_for(srv.url("/a/1"))
        assert len(srv.hits_for("/a/1")) == 2
