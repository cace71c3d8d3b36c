"""The daily digest: what was republished on one calendar day (in the configured zone), by e-mail.

``build_content`` reads the day from the store; ``build_message`` renders it as a
multipart/alternative message (plain text + HTML with inline CSS and a compact timeline per top
story); ``send_digest`` sends it over SMTP and records it in the ``digests`` table, once per day:

- a day is *claimed* in one transaction before sending (status ``sending``), so two daemons, a
  restart or the cron job and the catch-up check never send the same day twice; a claim left by
  a sender that died is taken again after ``STALE_CLAIM`` (with the same Message-ID);
- a failed send is recorded (``failed``, attempts, last error, next attempt with exponential
  backoff), logged as an error, and retried by the next check: never silently dropped;
- ``due_days`` lists the days that should have been sent by now and were not (a machine asleep
  at 07:00 sends late, not never), up to ``CATCHUP_DAYS`` back.

``add_digest_job`` puts this on the daemon's APScheduler: a cron job at ``digest.time`` in
``digest.timezone`` plus a check every few minutes (and at start) that sends what is due.
"""

from __future__ import annotations

import html
import logging
import smtplib
import ssl
import threading
import time as timemod
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from relaywatch.config import Config
from relaywatch.errors import RelaywatchError
from relaywatch.report.questions import (
    Copy,
    FeedHealth,
    OutletStats,
    Story,
    copies_between,
    feed_status,
    found_late,
    outlet_stats,
    percent,
)
from relaywatch.report.svg import timeline_strip_html
from relaywatch.report.tables import format_lag, table
from relaywatch.store import Store, utcnow

log = logging.getLogger("relaywatch.report.digest")

CATCHUP_DAYS = 7                        # a missed digest is sent late up to this many days back
STALE_CLAIM = timedelta(minutes=15)     # a "sending" claim older than this was left by a dead sender
BACKOFF_FIRST = timedelta(minutes=5)    # wait after the first failed send, doubled each time...
BACKOFF_MAX = timedelta(hours=6)        # ...up to this
CHECK_EVERY = 300                       # seconds between the daemon's checks for due digests
TOP_STORIES = 10                        # stories shown in full in the digest
TIMELINES = 5                           # of which this many get a compact timeline in the HTML part


class DigestError(RelaywatchError):
    pass


# -- content ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DigestContent:
    day: date
    timezone: str
    start: datetime          # UTC bounds of the zone's calendar day (end excluded)
    end: datetime
    stories: tuple[Story, ...]
    outlets: tuple[OutletStats, ...]
    problems: tuple[FeedHealth, ...]
    late: tuple[Copy, ...] = ()  # copies of earlier days found since the previous digest

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def copies(self) -> int:
        return sum(len(s.copies) for s in self.stories)

    @property
    def uncredited(self) -> list[Copy]:
        return sorted((c for s in self.stories for c in s.copies if not c.credited),
                      key=lambda c: (c.when, c.copy_id))

    @property
    def empty(self) -> bool:
        return not self.stories and not self.late

    @property
    def title_day(self) -> str:
        return self.day.strftime("%A %-d %B %Y")


def day_window(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC start and end of a calendar day in a zone (23 or 25 hours long on DST changes)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))


def build_content(store: Store, day: date, timezone: str, now: datetime | None = None,
                  send_time: str = "00:00") -> DigestContent:
    """The day's copies grouped by story (most copied first), outlet counts and feed problems.

    Copies that appeared on earlier days but were found only after the previous digest went out
    (between ``send_time`` on ``day`` and ``send_time`` the next day) come as ``late``: every link
    reaches some digest, however late its feed was read.
    """
    tz = ZoneInfo(timezone)
    start, end = day_window(day, tz)
    hour, minute = (int(x) for x in send_time.split(":"))
    found_from = datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(ZoneInfo("UTC"))
    found_to = datetime.combine(day + timedelta(days=1), time(hour, minute), tzinfo=tz).astimezone(ZoneInfo("UTC"))
    with store.lock:  # read between writers' transactions
        stories = copies_between(store, start, end)
        late = found_late(store, start, found_from, found_to)
        problems = tuple(h for h in feed_status(store, now) if h.problem)
    outlets = outlet_stats([c for s in stories for c in s.copies])
    return DigestContent(day, timezone, start, end, tuple(stories), tuple(outlets), problems, tuple(late))


def subject_of(content: DigestContent, template: str) -> str:
    try:
        text = template.format(date=content.day.isoformat(), copies=content.copies,
                               stories=len(content.stories))
    except (KeyError, IndexError, ValueError) as e:
        raise DigestError(f"digest.subject {template!r}: only {{date}}, {{copies}} and {{stories}} can be "
                          f"used ({e})") from e
    return " ".join(text.split())


def _when(dt: datetime, content: DigestContent) -> str:
    local = dt.astimezone(content.tz)
    return local.strftime("%H:%M %Z") if local.date() == content.day else local.strftime("%Y-%m-%d %H:%M %Z")


def _copies_word(n: int) -> str:
    return f"{n} {'copy' if n == 1 else 'copies'}"


def _summary(content: DigestContent) -> str:
    late = f" {_copies_word(len(content.late))} of earlier days found late." if content.late else ""
    if not content.stories:
        return f"Nothing found: no copy of any story appeared on {content.title_day}." + late
    n_unc = len(content.uncredited)
    return (f"{_copies_word(content.copies)} of {len(content.stories)} "
            f"{'story' if len(content.stories) == 1 else 'stories'}; "
            f"{n_unc} without credit to the original." + late)


def _via(c: Copy) -> str:
    return " > ".join(c.chain) if c.chain else ""


def render_text(content: DigestContent) -> str:
    """The plain-text part."""
    out = [f"relaywatch digest for {content.title_day} ({content.timezone})", "", _summary(content), ""]
    if content.stories:
        out += ["MOST REPUBLISHED", "================", ""]
        for i, s in enumerate(content.stories[:TOP_STORIES], 1):
            out.append(f"{i}. {s.title}")
            out.append(f"   {s.feed}, published {_when(s.published, content)}, {_copies_word(len(s.copies))}"
                       f" ({s.credited} credited)")
            out.append(f"   {s.url}")
            rows = [{"lag": c.lag, "feed": c.feed, "kind": c.kind, "coverage": percent(c.coverage),
                     "credited": c.credited, "via": _via(c)} for c in s.copies]
            cols = [("lag", "lag"), ("feed", "copy"), ("kind", "kind"), ("coverage", "coverage"),
                    ("credited", "credited")]
            if any(r["via"] for r in rows):
                cols.append(("via", "chain"))
            out += ["   " + line for line in table(rows, cols, max_width=60).splitlines()]
            out.append("")
        if len(content.stories) > TOP_STORIES:
            out += [f"... and {len(content.stories) - TOP_STORIES} more stories (relaywatch stories).", ""]
        out += ["UNCREDITED COPIES", "=================", ""]
        unc = content.uncredited
        if not unc:
            out += ["Every copy credited its original.", ""]
        for c in unc:
            out.append(f"- {c.feed}, {c.lag}, {c.kind} {percent(c.coverage)}: \"{c.title}\"")
            out.append(f"  copy of {c.original_feed}: \"{c.original_title}\"" +
                       (f" (via {c.via_feed})" if c.via_feed else ""))
            out.append(f"  {c.url}")
        if unc:
            out.append("")
        out += ["OUTLETS", "=======", ""]
        rows = [{"feed": o.feed, "copies": o.copies, "median": format_lag(o.median_lag_seconds),
                 "uncredited": percent(o.share_uncredited)} for o in content.outlets]
        out += [table(rows, [("feed", "outlet"), ("copies", "copies"), ("median", "median lag"),
                             ("uncredited", "uncredited")]), ""]
    if content.late:
        out += ["FOUND LATE", "==========", "",
                "Copies that appeared on earlier days, found since the last digest:", ""]
        for c in content.late:
            out.append(f"- {c.feed}, appeared {_when(c.when, content)} ({c.lag} after the original), {c.kind} "
                       f"{percent(c.coverage)}, {'credited' if c.credited else 'not credited'}: \"{c.title}\"")
            out.append(f"  copy of {c.original_feed}: \"{c.original_title}\"" +
                       (f" (via {c.via_feed})" if c.via_feed else ""))
            out.append(f"  {c.url}")
        out.append("")
    out += ["FEEDS", "=====", ""]
    if content.problems:
        out += [f"- {h.name}: {h.problem}" for h in content.problems]
    else:
        out.append("All feeds are polling normally.")
    out += ["", "-- ", f"relaywatch; times in {content.timezone}. Ask the log: relaywatch story ID, "
            "relaywatch outlets."]
    return "\n".join(out) + "\n"


_CSS = {
    "body": "margin:0;padding:16px;background:#ffffff;color:#222222;"
            "font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:1.4",
    "h1": "font-size:20px;margin:0 0 4px 0",
    "h2": "font-size:16px;margin:24px 0 8px 0;border-bottom:1px solid #dddddd;padding-bottom:4px",
    "h3": "font-size:15px;margin:16px 0 2px 0",
    "meta": "color:#666666;font-size:13px;margin:0 0 4px 0",
    "table": "border-collapse:collapse;font-size:13px;margin:4px 0 8px 0",
    "th": "text-align:left;padding:3px 10px 3px 0;border-bottom:1px solid #cccccc;color:#555555",
    "td": "padding:3px 10px 3px 0;border-bottom:1px solid #eeeeee;vertical-align:top",
    "no": "color:#b03a2e;font-weight:bold",
    "yes": "color:#1e7b34",
    "a": "color:#1f4e79",
}


def _h(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table_html(rows: list[list[str]], heads: list[str]) -> str:
    th = "".join(f'<th style="{_CSS["th"]}">{_h(h)}</th>' for h in heads)
    body = "".join("<tr>" + "".join(f'<td style="{_CSS["td"]}">{cell}</td>' for cell in row) + "</tr>\n"
                   for row in rows)
    return (f'<table role="presentation" cellpadding="0" cellspacing="0" style="{_CSS["table"]}">\n'
            f"<tr>{th}</tr>\n{body}</table>\n")


def _credit_html(credited: bool) -> str:
    return f'<span style="{_CSS["yes"]}">yes</span>' if credited else f'<span style="{_CSS["no"]}">no</span>'


def _link(url: str, text: str) -> str:
    if not url.startswith(("http://", "https://")):
        return _h(text)
    return f'<a href="{_h(url)}" style="{_CSS["a"]}">{_h(text)}</a>'


def render_html(content: DigestContent) -> str:
    """The HTML part: inline CSS only, no scripts, no images."""
    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           f"<title>relaywatch digest {content.day.isoformat()}</title></head>",
           f'<body style="{_CSS["body"]}">',
           f'<h1 style="{_CSS["h1"]}">relaywatch digest for {_h(content.title_day)}</h1>',
           f'<p style="{_CSS["meta"]}">Times in {_h(content.timezone)}.</p>',
           f"<p>{_h(_summary(content))}</p>"]
    if content.stories:
        out.append(f'<h2 style="{_CSS["h2"]}">Most republished</h2>')
        for i, s in enumerate(content.stories[:TOP_STORIES], 1):
            out.append(f'<h3 style="{_CSS["h3"]}">{i}. {_link(s.url, s.title)}</h3>')
            out.append(f'<p style="{_CSS["meta"]}">{_h(s.feed)}, published '
                       f"{_h(_when(s.published, content))}, {_copies_word(len(s.copies))} "
                       f"({s.credited} credited)</p>")
            if i <= TIMELINES:
                out.append(timeline_strip_html(s))
            rows = [[_h(c.lag), _link(c.url, c.feed), _h(c.kind), _h(percent(c.coverage)),
                     _credit_html(c.credited), _h(_via(c))] for c in s.copies]
            out.append(_table_html(rows, ["lag", "copy", "kind", "coverage", "credited", "chain"]))
        if len(content.stories) > TOP_STORIES:
            out.append(f"<p>… and {len(content.stories) - TOP_STORIES} more stories.</p>")
        out.append(f'<h2 style="{_CSS["h2"]}">Uncredited copies</h2>')
        unc = content.uncredited
        if unc:
            rows = [[_link(c.url, c.feed), _h(c.title), _h(f"{c.kind} {percent(c.coverage)}"), _h(c.lag),
                     _h(f"{c.original_feed}: {c.original_title}"), _h(c.via_feed or "")] for c in unc]
            out.append(_table_html(rows, ["copy", "headline", "kind", "lag", "original", "via"]))
        else:
            out.append("<p>Every copy credited its original.</p>")
        out.append(f'<h2 style="{_CSS["h2"]}">Outlets</h2>')
        rows = [[_h(o.feed), _h(o.copies), _h(format_lag(o.median_lag_seconds)),
                 _h(percent(o.share_uncredited))] for o in content.outlets]
        out.append(_table_html(rows, ["outlet", "copies", "median lag", "uncredited"]))
    if content.late:
        out.append(f'<h2 style="{_CSS["h2"]}">Found late</h2>')
        out.append("<p>Copies that appeared on earlier days, found since the last digest:</p>")
        rows = [[_link(c.url, c.feed), _h(c.title), _h(_when(c.when, content)), _h(f"{c.kind} {percent(c.coverage)}"),
                 _credit_html(c.credited), _h(f"{c.original_feed}: {c.original_title}")] for c in content.late]
        out.append(_table_html(rows, ["copy", "headline", "appeared", "kind", "credited", "original"]))
    out.append(f'<h2 style="{_CSS["h2"]}">Feeds</h2>')
    if content.problems:
        out.append("<ul>" + "".join(f"<li><b>{_h(h.name)}</b>: {_h(h.problem)}</li>"
                                    for h in content.problems) + "</ul>")
    else:
        out.append("<p>All feeds are polling normally.</p>")
    out.append(f'<p style="{_CSS["meta"]}">relaywatch. Ask the log: <code>relaywatch story ID</code>, '
               "<code>relaywatch outlets</code>.</p>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


# -- the message --------------------------------------------------------------------------------

def make_message_id(day: date, sender: str) -> str:
    """A Message-ID short enough not to be folded: <relaywatch.report.digest.DAY.RANDOM@sender's domain>."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "relaywatch.invalid"
    return f"<relaywatch.report.digest.{day.isoformat()}.{uuid.uuid4().hex[:16]}@{domain}>"


def build_message(content: DigestContent, config: Config, recipients: Sequence[str], message_id: str,
                  now: datetime | None = None, cte: str = "quoted-printable") -> EmailMessage:
    """multipart/alternative: text/plain then text/html, UTF-8; ``cte`` 8bit gives readable output."""
    now = now or utcnow()
    msg = EmailMessage(policy=policy.default)  # smtplib sends it with CRLF line ends
    msg["Subject"] = subject_of(content, config.digest.subject)
    msg["From"] = config.digest.sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(now.astimezone(content.tz))
    msg["Message-ID"] = message_id
    if config.digest.list_unsubscribe:
        msg["List-Unsubscribe"] = config.digest.list_unsubscribe
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Relaywatch-Day"] = content.day.isoformat()
    msg.set_content(render_text(content), charset="utf-8", cte=cte)
    msg.add_alternative(render_html(content), subtype="html", charset="utf-8", cte=cte)
    return msg


def printable(msg: EmailMessage) -> str:
    """The message as readable UTF-8 text (headers unencoded), for ``digest --print``."""
    return msg.as_bytes(policy=policy.default.clone(utf8=True)).decode("utf-8", "replace")


def smtp_send(msg: EmailMessage, config: Config, recipients: Sequence[str]) -> None:
    """Deliver over SMTP (starttls, tls or none; login when a user name is set). DigestError on failure."""
    s = config.smtp
    password = config.smtp_password()
    if s.username and not password:
        raise DigestError(f"smtp.username is set but the environment variable "
                          f"{s.password_env or '(smtp.password_env is not set)'} holds no password")
    try:
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if s.security == "tls":
            client = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        with client:
            client.ehlo()
            if s.security == "starttls":
                client.starttls(context=context)
                client.ehlo()
            if s.username:
                client.login(s.username, password or "")
            refused = client.send_message(msg, from_addr=parseaddr(config.digest.sender)[1] or None,
                                          to_addrs=list(recipients))
    except (smtplib.SMTPException, OSError, ssl.SSLError) as e:
        raise DigestError(f"cannot send the digest through {s.host}:{s.port} ({s.security}): "
                          f"{type(e).__name__}: {e}") from e
    if refused:
        log.warning("digest: the server refused %s",
                    ", ".join(f"{a} ({c} {m!r})" for a, (c, m) in refused.items()))


# -- sending once per day ---------------------------------------------------------------------

@dataclass(frozen=True)
class SendResult:
    day: date
    status: str                 # sent | skipped (empty day) | already-sent | in-progress | waiting
    recipients: tuple[str, ...] = ()
    message_id: str | None = None
    detail: str = ""


def backoff(attempts: int) -> timedelta:
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def send_digest(config: Config, store: Store, day: date, to: Sequence[str] | None = None,
                now: datetime | None = None, force: bool = False, retries: int = 2,
                retry_delay: float = 1.0, manual: bool = True) -> SendResult:
    """Send one day's digest, once: the day is claimed, sent, then recorded.

    ``to`` overrides the configured recipients: such a send is an extra copy, neither checked
    against nor recorded as the day's digest. ``retries`` quick retries happen in this call; after
    that the failure is recorded (with the time of the next attempt) and DigestError raised.
    ``manual`` ignores a failed day's backoff; ``force`` sends a day already sent again.
    """
    now = now or utcnow()
    recipients = tuple(to or config.digest.to)
    if not recipients:
        raise DigestError("no recipients: set to = [...] in [digest] or give --to")
    recorded = not to
    content = build_content(store, day, config.digest.timezone, now, config.digest.time)
    day_s = day.isoformat()
    message_id = make_message_id(day, config.digest.sender)
    subject = subject_of(content, config.digest.subject)
    if recorded:
        claim = store.digests.claim(day_s, config.digest.timezone, message_id, now, now - STALE_CLAIM,
                                   ignore_backoff=manual, force=force)
        if claim is None:
            rec = store.digests.record(day_s) or {}
            status = {"sent": "already-sent", "skipped": "already-sent", "sending": "in-progress"}.get(
                rec.get("status", ""), "waiting")
            to_list = ", ".join(rec.get("recipients") or [])
            detail = (f"{rec.get('status')} at {rec.get('sent_at')} to {to_list}"
                      if status == "already-sent" else
                      f"claimed at {rec.get('claimed_at')}" if status == "in-progress" else
                      f"next attempt at {rec.get('next_attempt')} after: {rec.get('last_error')}")
            return SendResult(day, status, tuple(rec.get("recipients") or ()), rec.get("message_id"), detail)
        message_id = claim["message_id"]
        if content.empty and not config.digest.send_empty:
            store.digests.finish(day_s, (), None, subject, now, 0, 0, status="skipped")
            log.info("digest for %s: nothing found, not sent (digest.send_empty = false)", day_s)
            return SendResult(day, "skipped", (), None, "nothing found and digest.send_empty is false")
    msg = build_message(content, config, recipients, message_id, now)
    error: DigestError | None = None
    for attempt in range(retries + 1):
        try:
            smtp_send(msg, config, recipients)
            error = None
            break
        except DigestError as e:
            error = e
            if attempt < retries:
                log.warning("digest for %s: attempt %d failed, retrying: %s", day_s, attempt + 1, e)
                timemod.sleep(retry_delay * 2 ** attempt)
    if error is not None:
        if recorded:
            rec = store.digests.record(day_s) or {}
            nxt = now + backoff(int(rec.get("attempts") or 1))
            store.digests.fail(day_s, recipients, str(error), nxt)
            log.error("digest for %s NOT sent (attempt %s); next attempt at %s: %s", day_s,
                      rec.get("attempts"), nxt.isoformat(), error)
        raise error
    if recorded:
        store.digests.finish(day_s, recipients, message_id, subject, now, len(content.stories), content.copies)
    log.info("digest for %s sent to %s (%s)", day_s, ", ".join(recipients), message_id)
    return SendResult(day, "sent", recipients, message_id, subject)


def _send_time(config: Config) -> tuple[int, int]:
    h, m = config.digest.time.split(":")
    return int(h), int(m)


def last_due_day(config: Config, now: datetime) -> date:
    """The latest day whose digest should have gone out by ``now`` (yesterday once past digest.time)."""
    local = now.astimezone(ZoneInfo(config.digest.timezone))
    h, m = _send_time(config)
    passed = (local.hour, local.minute) >= (h, m)
    return local.date() - timedelta(days=1 if passed else 2)


def due_days(config: Config, store: Store, now: datetime | None = None) -> list[date]:
    """Days whose digest is due and not sent, oldest first.

    Without any record yet (a first start), only the latest due day, and only when the log holds
    something from before its end. Otherwise every day since the first recorded one, at most
    ``CATCHUP_DAYS`` back; older missed days are logged, not sent (``digest --date --send`` can).
    """
    now = now or utcnow()
    tz = ZoneInfo(config.digest.timezone)
    last = last_due_day(config, now)
    records = store.digests.records()
    if not records:
        earliest = store.reports.earliest_entry_time()
        if earliest is None or earliest >= day_window(last, tz)[1]:
            return []
        return [last]
    window_start = last - timedelta(days=CATCHUP_DAYS - 1)
    first = date.fromisoformat(records[0]["day"])
    done = {r["day"] for r in records if r["status"] in ("sent", "skipped")}
    if first < window_start:
        missed = [d for d in _days(first, window_start - timedelta(days=1)) if d.isoformat() not in done]
        if missed:
            log.warning("digest: %d days before %s were never sent and are too old to send late "
                        "(%s ... %s); use relaywatch digest --date DAY --send", len(missed), window_start,
                        missed[0], missed[-1])
    return [d for d in _days(max(first, window_start), last) if d.isoformat() not in done]


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


class DigestRunner:
    """What the daemon's digest jobs call: send every due day, one caller at a time."""

    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        self.lock = threading.Lock()

    def run_due(self, now: datetime | None = None) -> list[SendResult]:
        if not self.lock.acquire(blocking=False):
            return []
        results = []
        try:
            for day in due_days(self.config, self.store, now):
                try:
                    results.append(send_digest(self.config, self.store, day, now=now, retries=0,
                                               manual=False))
                except DigestError:
                    pass  # recorded and logged by send_digest; the next check retries after the backoff
                except RelaywatchError as e:
                    log.error("digest for %s failed: %s", day, e)
        except Exception:
            log.exception("digest check failed")
        finally:
            self.lock.release()
        return results


def add_digest_job(scheduler: BaseScheduler, config: Config, store: Store,
                   check_every: int = CHECK_EVERY) -> DigestRunner | None:
    """Schedule the digest: a cron job at digest.time in digest.timezone, and a catch-up check
    at start and every ``check_every`` seconds (missed and failed days). None without recipients."""
    if not config.digest.to:
        log.info("no digest recipients ([digest] to): no digest is sent")
        return None
    runner = DigestRunner(config, store)
    h, m = _send_time(config)
    trigger = CronTrigger(hour=h, minute=m, timezone=ZoneInfo(config.digest.timezone))
    scheduler.add_job(runner.run_due, trigger, id="digest", name="daily digest", replace_existing=True,
                      coalesce=True, misfire_grace_time=None)
    scheduler.add_job(runner.run_due, IntervalTrigger(seconds=check_every), id="digest-catchup",
                      name="digest catch-up", replace_existing=True, coalesce=True,
                      next_run_time=utcnow() + timedelta(seconds=5))
    log.info("digest to %s daily at %s %s", ", ".join(config.digest.to), config.digest.time,
             config.digest.timezone)
    return runner
