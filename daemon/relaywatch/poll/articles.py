"""Full text for summary-only feeds: fetch the entry's page and extract the article with trafilatura.

Used when a feed is configured ``fetch_article = true`` or an entry's feed text is shorter than
``defaults.summary_words``. Same limits and per-host politeness as feed polling; robots.txt is
obeyed (fetched once per host and cached); each article URL is fetched once (the texts are kept
within ``[scheduler] article_cache_mb``, then read back from the store).

An article URL comes from the feed, so its publisher chooses it: it and its robots.txt are fetched
with ``from_content=True``, never from a private network (see ``netguard``) unless
``[fetch] allow_private_networks``. A refused page is logged with the reason, once per URL; the
entry is stored from its feed text.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

from relaywatch.config import FetchConfig
from relaywatch.detect.page import extract
from relaywatch.errors import RelaywatchError
from relaywatch.models import Feed
from relaywatch.poll.http import AddressRefused, Fetcher
from relaywatch.record.cache import MIB, ByteLRU, text_bytes

if TYPE_CHECKING:
    from relaywatch.store import Store

log = logging.getLogger("relaywatch.poll.articles")

ROBOTS_TTL = 86400.0   # seconds a host's robots.txt is trusted before it is read again
ROBOTS_RETRY = 3600.0  # seconds before an unreachable robots.txt is tried again
ROBOTS_HOSTS = 1000    # hosts whose robots.txt is kept past its time, at most


class ArticleError(RelaywatchError):
    pass


def extract_article(html: str | bytes, url: str | None = None) -> str | None:
    """The main text of an article page (paragraphs separated by blank lines), or None."""
    text = extract(html, url)
    if not text:
        return None
    return "\n\n".join(p.strip() for p in text.split("\n") if p.strip())


@dataclass(frozen=True)
class ArticlePolicy:
    """Whether an entry's article page is wanted: decided on its feed text, once cleaned."""

    feed_setting: bool | None  # the feed's own ``fetch_article``: wins, either way
    fetch_all: bool
    summary_words: int

    def wants(self, url: str, words: int) -> bool:
        """``words``: of the entry's feed text, cleaned."""
        if not url or urlsplit(url).scheme not in ("http", "https"):
            return False
        if self.feed_setting is not None:
            return self.feed_setting
        return self.fetch_all or (self.summary_words > 0 and words < self.summary_words)


class ArticleFetcher:
    def __init__(self, fetcher: Fetcher, cfg: FetchConfig, fetch_all: bool = False, summary_words: int = 0,
                 cache_bytes: int = 16 * MIB) -> None:
        self.fetcher = fetcher
        self.cfg = cfg
        self.fetch_all = fetch_all
        self.summary_words = summary_words
        self._lock = threading.Lock()
        self._cache: ByteLRU[str, str | None] = ByteLRU(cache_bytes, text_bytes)
        self._robots: dict[str, tuple[float, RobotFileParser | None]] = {}  # host -> (expires, rules)
        self._robots_locks: dict[str, threading.Lock] = {}

    def policy(self, feed: Feed) -> ArticlePolicy:
        """When to fetch the article pages of this feed's entries."""
        return ArticlePolicy(feed.fetch_article, self.fetch_all, self.summary_words)

    def text_for(self, url: str, store: Store | None = None) -> str | None:
        """The article text at ``url`` (one whose page is wanted), else None (never raises): from
        this fetcher's cache, then the store's, then the page."""
        with self._lock:
            if url in self._cache:
                return self._cache.get(url)
        text = store.entries.article_text_for_url(url) if store is not None else None
        if text is None:
            text = self._fetch(url)
        with self._lock:
            self._cache.put(url, text)
        return text

    def _allowed(self, url: str) -> bool:
        if not self.cfg.respect_robots:
            return True
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            host_lock = self._robots_locks.setdefault(key, threading.Lock())
        with host_lock:  # one robots.txt request per host, however many threads want it at once
            with self._lock:
                expires, parser = self._robots.get(key, (0.0, None))
            if time.monotonic() >= expires:
                parser, ttl = self._load_robots(key)
                with self._lock:
                    self._robots[key] = (time.monotonic() + ttl, parser)
                    if len(self._robots) > ROBOTS_HOSTS:
                        self._forget_expired_robots()
        if parser is None:
            return True
        return parser.can_fetch(self.fetcher.session.headers["User-Agent"], url)

    def _forget_expired_robots(self) -> None:
        """Drop the robots.txt rules past their time (with ``_lock`` held): one entry per host ever
        linked to would otherwise grow for as long as the daemon runs."""
        now = time.monotonic()
        for host in [h for h, (expires, _) in self._robots.items() if expires <= now]:
            del self._robots[host]
            self._robots_locks.pop(host, None)

    def _load_robots(self, key: str) -> tuple[RobotFileParser | None, float]:
        """The host's robots.txt (None: there is none, everything allowed) and how long to keep it."""
        try:
            res = self.fetcher.get(f"{key}/robots.txt", accept="text/plain", from_content=True)
        except AddressRefused:
            raise  # the page is refused for the same reason: say that reason, not robots.txt's
        except RelaywatchError as e:
            status = getattr(e, "status", None)
            if status is not None and 400 <= status < 500:
                return None, ROBOTS_TTL  # no robots.txt: everything allowed
            parser = RobotFileParser()
            parser.disallow_all = True  # unreachable robots.txt: be careful, fetch nothing for a while
            log.info("robots.txt of %s unavailable (%s): no article fetched there for now", key, e)
            return parser, ROBOTS_RETRY
        parser = RobotFileParser()
        parser.parse(res.body[:500_000].decode("utf-8", "replace").splitlines())
        return parser, ROBOTS_TTL

    def _fetch(self, url: str) -> str | None:
        try:
            if not self._allowed(url):
                log.info("robots.txt forbids %s", url)
                return None
            res = self.fetcher.get(url, accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
                                   from_content=True)
        except AddressRefused as e:
            log.warning("article %s not fetched: %s", url[:300], e)
            return None
        except RelaywatchError as e:
            log.info("article %s not fetched: %s", url, e)
            return None
        if not res.body:
            return None
        content_type = res.headers.get("Content-Type", "")
        charset = content_type.partition("charset=")[2].split(";")[0].strip().strip('"')
        if charset and _codec_ok(content_type):
            return extract_article(res.body.decode(charset, "replace"), res.url)
        return extract_article(res.body, res.url)  # bytes: trafilatura reads <meta charset> or guesses


def _codec_ok(content_type: str) -> bool:
    import codecs

    charset = content_type.partition("charset=")[2].split(";")[0].strip().strip('"')
    if not charset:
        return True
    try:
        codecs.lookup(charset)
        return True
    except LookupError:
        return False
