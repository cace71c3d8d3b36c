"""How the daily digest is sent: the message, SMTP, and once per day.

``build_message`` makes a multipart/alternative message of the rendered parts (``render``);
``smtp_send`` delivers it (starttls, tls or none; login when ``smtp.username`` is set, with the
password from the environment variable ``smtp.password_env`` names, never written anywhere);
``send_digest`` sends one day and records it in the ``digests`` table, once per day:

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

import copy
import logging
import smtplib
import ssl
import threading
import time as timemod
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from relaywatch.config import Config
from relaywatch.errors import RelaywatchError
from relaywatch.metrics import Metrics
from relaywatch.report.digest.content import DigestContent, DigestError, build_content, day_window, subject_of
from relaywatch.report.digest.picture import spread_png
from relaywatch.report.digest.render import Picture, render_html, render_text
from relaywatch.store import Store, utcnow

# the digest's log lines keep the name they had before the digest became a package
log = logging.getLogger("relaywatch.report.digest")

CATCHUP_DAYS = 7                        # a missed digest is sent late up to this many days back
STALE_CLAIM = timedelta(minutes=15)     # a "sending" claim older than this was left by a dead sender
BACKOFF_FIRST = timedelta(minutes=5)    # wait after the first failed send, doubled each time...
BACKOFF_MAX = timedelta(hours=6)        # ...up to this
CHECK_EVERY = 300                       # seconds between the daemon's checks for due digests


# -- the message --------------------------------------------------------------------------------

def make_message_id(day: date, sender: str) -> str:
    """A Message-ID short enough not to be folded: <relaywatch.report.digest.DAY.RANDOM@sender's domain>."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "relaywatch.invalid"
    return f"<relaywatch.report.digest.{day.isoformat()}.{uuid.uuid4().hex[:16]}@{domain}>"


def build_message(content: DigestContent, config: Config, recipients: Sequence[str], message_id: str,
                  now: datetime | None = None, cte: str = "quoted-printable") -> EmailMessage:
    """multipart/alternative: text/plain, then text/html in a multipart/related with the spread
    picture (a PNG referenced by Content-ID) when there is one; UTF-8; ``cte`` 8bit gives readable output."""
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
    drawn = spread_png(list(content.stories))
    if drawn is None:
        msg.add_alternative(render_html(content), subtype="html", charset="utf-8", cte=cte)
        return msg
    png, width, height = drawn
    cid = make_msgid("spread", parseaddr(config.digest.sender)[1].rpartition("@")[2] or "relaywatch.invalid")
    msg.add_alternative(render_html(content, Picture(cid[1:-1], width, height)), subtype="html",
                        charset="utf-8", cte=cte)
    html_part = msg.get_payload()[1]
    html_part.add_related(png, "image", "png", cid=cid, disposition="inline",
                          filename=f"relaywatch-{content.day.isoformat()}.png")
    return msg


def printable(msg: EmailMessage) -> str:
    """The message as readable UTF-8 text (headers unencoded), for ``digest --print``; an image's
    body is replaced by a line saying what it is (its headers stay)."""
    shown = copy.deepcopy(msg)
    for part in shown.walk():
        if part.get_content_maintype() == "image":
            size = len(part.get_payload(decode=True) or b"")
            del part["Content-Transfer-Encoding"]
            part.set_payload(f"[{part.get_content_type()}, {size} bytes: not printed]\n")
    return shown.as_bytes(policy=policy.default.clone(utf8=True)).decode("utf-8", "replace")


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
    """What became of one day's digest."""

    day: date
    status: str                 # sent | skipped (empty day) | already-sent | in-progress | waiting
    recipients: tuple[str, ...] = ()
    message_id: str | None = None
    detail: str = ""


def backoff(attempts: int) -> timedelta:
    """The wait before the next attempt after ``attempts`` failed ones: doubled each time, capped."""
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
            return _not_claimed(store, day)
        message_id = claim["message_id"]
        if content.empty and not config.digest.send_empty:
            store.digests.finish(day_s, (), None, subject, now, 0, 0, status="skipped")
            log.info("digest for %s: nothing found, not sent (digest.send_empty = false)", day_s)
            return SendResult(day, "skipped", (), None, "nothing found and digest.send_empty is false")
    msg = build_message(content, config, recipients, message_id, now)
    error = _deliver(msg, config, recipients, day_s, retries, retry_delay)
    if error is not None:
        if recorded:
            _record_failure(store, day_s, recipients, error, now)
        raise error
    if recorded:
        store.digests.finish(day_s, recipients, message_id, subject, now, len(content.stories), content.copies)
    log.info("digest for %s sent to %s (%s)", day_s, ", ".join(recipients), message_id)
    return SendResult(day, "sent", recipients, message_id, subject)


def _not_claimed(store: Store, day: date) -> SendResult:
    """Why a day could not be claimed: sent (or skipped) already, being sent, or waiting for its backoff."""
    rec: dict[str, Any] = store.digests.record(day.isoformat()) or {}
    status = {"sent": "already-sent", "skipped": "already-sent", "sending": "in-progress"}.get(
        rec.get("status", ""), "waiting")
    to_list = ", ".join(rec.get("recipients") or [])
    detail = (f"{rec.get('status')} at {rec.get('sent_at')} to {to_list}"
              if status == "already-sent" else
              f"claimed at {rec.get('claimed_at')}" if status == "in-progress" else
              f"next attempt at {rec.get('next_attempt')} after: {rec.get('last_error')}")
    return SendResult(day, status, tuple(rec.get("recipients") or ()), rec.get("message_id"), detail)


def _deliver(msg: EmailMessage, config: Config, recipients: Sequence[str], day_s: str, retries: int,
             retry_delay: float) -> DigestError | None:
    """Send with ``retries`` quick retries (the delay doubled each time); the last error, or None when sent."""
    error: DigestError | None = None
    for attempt in range(retries + 1):
        try:
            smtp_send(msg, config, recipients)
            return None
        except DigestError as e:
            error = e
            if attempt < retries:
                log.warning("digest for %s: attempt %d failed, retrying: %s", day_s, attempt + 1, e)
                timemod.sleep(retry_delay * 2 ** attempt)
    return error


def _record_failure(store: Store, day_s: str, recipients: Sequence[str], error: DigestError,
                    now: datetime) -> None:
    """Record a failed send with the time of its next attempt, and log it as an error."""
    rec = store.digests.record(day_s) or {}
    nxt = now + backoff(int(rec.get("attempts") or 1))
    store.digests.fail(day_s, recipients, str(error), nxt)
    log.error("digest for %s NOT sent (attempt %s); next attempt at %s: %s", day_s,
              rec.get("attempts"), nxt.isoformat(), error)


def _send_time(config: Config) -> tuple[int, int]:
    """digest.time as (hour, minute)."""
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
    """Every day from ``first`` to ``last``, both included."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


class DigestRunner:
    """What the daemon's digest jobs call: send every due day, one caller at a time."""

    def __init__(self, config: Config, store: Store, metrics: Metrics | None = None) -> None:
        self.config = config
        self.store = store
        self.metrics = metrics
        self.lock = threading.Lock()

    def run_due(self, now: datetime | None = None) -> list[SendResult]:
        """Send every due day; nothing when another check is running. Failures are logged, not raised."""
        if not self.lock.acquire(blocking=False):
            return []
        results = []
        try:
            for day in due_days(self.config, self.store, now):
                try:
                    results.append(send_digest(self.config, self.store, day, now=now, retries=0,
                                               manual=False))
                    if self.metrics is not None and results[-1].status == "sent":
                        self.metrics.digest_done(True, timemod.time())
                except DigestError:
                    # recorded and logged by send_digest; the next check retries after the backoff
                    if self.metrics is not None:
                        self.metrics.digest_done(False, timemod.time())
                except RelaywatchError as e:
                    log.error("digest for %s failed: %s", day, e)
        except Exception:
            log.exception("digest check failed")
        finally:
            self.lock.release()
        return results


def add_digest_job(scheduler: BaseScheduler, config: Config, store: Store,
                   check_every: int = CHECK_EVERY, metrics: Metrics | None = None) -> DigestRunner | None:
    """Schedule the digest: a cron job at digest.time in digest.timezone, and a catch-up check
    at start and every ``check_every`` seconds (missed and failed days). None without recipients."""
    if not config.digest.to:
        log.info("no digest recipients ([digest] to): no digest is sent")
        return None
    runner = DigestRunner(config, store, metrics)
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
