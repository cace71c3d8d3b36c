"""The daily digest: what was republished on one calendar day (in the configured zone), by e-mail.

Three parts: ``content`` (what to say: the day's stories, outlets, feed problems and late finds,
read from the store), ``render`` (how it looks: the plain-text and HTML parts, from Jinja2
templates in ``report/templates``) and ``send`` (how it goes out: the message, SMTP, the
once-a-day record in the ``digests`` table, catch-up and the daemon's jobs). The names used
elsewhere are re-exported here.
"""

from relaywatch.report.digest.content import DigestContent, DigestError, build_content, day_window, subject_of
from relaywatch.report.digest.picture import spread_png, spread_svg
from relaywatch.report.digest.render import TIMELINES, TOP_STORIES, Picture, render_html, render_text
from relaywatch.report.digest.send import (
    BACKOFF_FIRST,
    BACKOFF_MAX,
    CATCHUP_DAYS,
    CHECK_EVERY,
    STALE_CLAIM,
    DigestRunner,
    SendResult,
    add_digest_job,
    backoff,
    build_message,
    due_days,
    last_due_day,
    make_message_id,
    printable,
    send_digest,
    smtp_send,
)

__all__ = [
    "BACKOFF_FIRST", "BACKOFF_MAX", "CATCHUP_DAYS", "CHECK_EVERY", "STALE_CLAIM", "TIMELINES", "TOP_STORIES",
    "DigestContent", "DigestError", "DigestRunner", "Picture", "SendResult", "add_digest_job", "backoff",
    "build_content", "build_message", "day_window", "due_days", "last_due_day", "make_message_id", "printable",
    "render_html", "render_text", "send_digest", "smtp_send", "spread_png", "spread_svg", "subject_of",
]
