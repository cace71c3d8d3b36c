"""A stored link's labels re-decided with today's rules, so that an upgraded log is one log.

The store keeps each entry's clean text, not its page, so the labels are re-decided from that
text: it is cleaned again (today's rules may set apart a credit line or a byline that older ones
left in the story), both texts are fingerprinted again, and the copy's kind, coverage, additions
and credit are decided by ``make_link``, the function that labels a new link. What the text no
longer holds is kept from the stored link: the copy's link to the original (``credit_link``: the
page's hrefs are not stored), its ``via`` (which copy it was taken from is decided with the whole
group, not by the labels), its lag and anomaly. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import replace

from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect import text as textmod
from relaywatch.detect.decide import Known, MatchParams
from relaywatch.detect.label import make_link
from relaywatch.detect.measure import measure
from relaywatch.models import Link, StoredEntry


def recleaned(e: StoredEntry) -> textmod.CleanText:
    """An entry's stored text cleaned by today's rules, with the credit lines stored beside it."""
    c = textmod.clean(e.text)
    return textmod.CleanText(c.text, e.dateline or c.dateline, tuple(dict.fromkeys(e.credits + c.credits)),
                             tuple(dict.fromkeys(e.sources + c.sources)), e.boilerplate)


def relabel(link: Link, original: StoredEntry, copy: StoredEntry, p: MatchParams) -> Link:
    """``link`` (of ``copy`` to ``original``) with its labels decided by today's rules."""
    root_clean, copy_clean = recleaned(original), recleaned(copy)
    root = Known(replace(original, text=root_clean.text, credits=root_clean.credits),
                 fpmod.fingerprint(root_clean.text, index=False))
    copy_fp = fpmod.fingerprint(copy_clean.text, index=False)
    new = make_link(copy, copy_fp, copy_clean, root, measure(copy_fp, root.fp), link.via_id, p)
    return replace(new, lag_seconds=link.lag_seconds, anomaly=link.anomaly,
                   credited=new.credited or link.credit_link is not None,
                   credit_link=link.credit_link or new.credit_link)
