"""An entry's prepared form: its clean text (cleaned once) and its fingerprint (made once).

Two steps, so that the article page can be decided on between them: ``draft`` cleans the feed's
text; whoever holds the network then decides, from its word count, whether to fetch the entry's
page; ``prepare`` cleans the page's text, when there is one, and fingerprints what will be
matched. Pure: runs in worker processes and Spark tasks alike.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from relaywatch.detect import boiler as boilermod
from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect import reuse as reusemod
from relaywatch.detect import text as textmod
from relaywatch.models import IndexRows, ParsedEntry

METHOD = f"winnow-k{fpmod.K}-w{fpmod.WINDOW}"


@dataclass(frozen=True)
class Draft:
    """An entry with its feed text cleaned, not yet fingerprinted (its article page may be wanted)."""

    entry: ParsedEntry
    clean: textmod.CleanText


@dataclass(frozen=True)
class Prepared:
    entry: ParsedEntry
    clean: textmod.CleanText
    fp: fpmod.Fingerprint
    content_hash: str
    feed_text: str | None = None     # the feed's own text, when the article page was used
    article_text: str | None = None
    index_rows: IndexRows | None = None  # the index's rows of its fingerprints, read by a worker
    layout: reusemod.Layout | None = None  # its sentences and quotes, read by a worker (None: not yet)
    blocks: boilermod.Blocks | None = None  # its paragraphs and their keys, for learned boilerplate
    # learned boilerplate a worker stripped (``boiler.removed``: none, or the keys of the lines
    # taken out of ``unstripped`` to make ``clean``; ``blocks`` are the unstripped text's)
    stripped: frozenset[int] = frozenset()
    unstripped: textmod.CleanText | None = None

    @property
    def before_stripping(self) -> textmod.CleanText:
        """Its clean text with its feed's learned boilerplate still in."""
        return self.unstripped or self.clean


def content_hash(entry: ParsedEntry) -> str:
    return hashlib.sha1(f"{entry.title}\x00{entry.html}\x00{entry.article_html or ''}".encode(
        "utf-8", "surrogatepass")).hexdigest()


def draft(entry: ParsedEntry) -> Draft:
    """The entry with its feed text cleaned (and its words counted: the count travels with the text)."""
    clean = textmod.clean(entry.html)
    _ = clean.words
    return Draft(entry, clean)


def prepare(entry: ParsedEntry | Draft, article_text: str | None = None,
            remove: frozenset[int] = frozenset()) -> Prepared:
    """Clean text and fingerprint of an entry; given a ``Draft``, its feed text is not cleaned again.
    The article's text, when given and longer than the feed's, is what is matched. ``remove``: the
    keys of its feed's learned boilerplate, stripped before fingerprinting (``boiler.strip``)."""
    d = entry if isinstance(entry, Draft) else draft(entry)
    clean, feed_text = d.clean, None
    if article_text:
        article = textmod.clean(article_text)
        if article.words > clean.words:
            feed_text = clean.text
            # keep the feed's attribution lines: the article page may have lost them
            clean = textmod.CleanText(article.text, article.dateline or clean.dateline,
                                      article.credits + clean.credits, article.sources + clean.sources,
                                      tuple(dict.fromkeys(article.boilerplate + clean.boilerplate)))
            _ = clean.words
    blocks = boilermod.blocks(clean.text)
    gone = boilermod.removed(blocks, remove)
    unstripped = None
    if gone:
        unstripped, clean = clean, boilermod.strip(clean, blocks, gone) or clean
        _ = clean.words
    fp = fpmod.fingerprint(clean.text)
    _ = fp.order  # made here, in the worker: each measure of the entry needs it (the writer is the bottleneck)
    return Prepared(d.entry, clean, fp, content_hash(d.entry), feed_text,
                    article_text if feed_text is not None else None, layout=reusemod.layout(clean.text, fp.tokens),
                    blocks=blocks, stripped=gone, unstripped=unstripped)
