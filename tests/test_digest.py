"""The daily digest: content, MIME, SMTP delivery on 127.0.0.1 (aiosmtpd), once per day, catch-up, retry."""

from __future__ import annotations

import email
import logging
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import lxml.html
import pytest
from aiosmtpd.controller import Controller
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from relaywatch import cli
from relaywatch.config import Config, DatabaseConfig, DigestConfig, SmtpConfig
from relaywatch.models import ParsedEntry
from relaywatch.poll.scheduler import Daemon
from relaywatch.record.pipeline import Pipeline, prepare
from relaywatch.report.digest import (
    DigestError,
    DigestRunner,
    add_digest_job,
    build_content,
    day_window,
    due_days,
    last_due_day,
    render_html,
    render_text,
    send_digest,
)
from relaywatch.store import Store

from . import report_data

DAY = date(2026, 11, 27)
TO = ("desk@example.org", "standards@example.org")


class Collector:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 OK"

    def parsed(self, i: int = -1) -> EmailMessage:
        raw = self.messages[i][2]
        assert b"\r\n" in raw and not raw.replace(b"\r\n", b"").count(b"\n")  # CRLF on the wire
        msg = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=policy.default)  # as stored
        assert isinstance(msg, EmailMessage)
        return msg


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def smtp() -> Iterator[tuple[Collector, int]]:
    handler = Collector()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "rw.db"
    report_data.populate(path).close()
    return path


def _config(db: Path, port: int, **digest: Any) -> Config:
    d = DigestConfig(to=TO, sender="relaywatch <relaywatch@example.org>", timezone="Europe/London",
                     list_unsubscribe="<mailto:unsubscribe@example.org>")
    return Config(database=DatabaseConfig(path=str(db)), digest=d.model_copy(update=digest),
                  smtp=SmtpConfig(host="127.0.0.1", port=port, security="none", timeout=5.0))


def _config_file(tmp_path: Path, db: Path, port: int, extra: str = "") -> str:
    path = tmp_path / "rw.toml"
    path.write_text(f'[database]\npath = "{db}"\n'
                    f'[digest]\nto = {list(TO)!r}\nfrom = "relaywatch <relaywatch@example.org>"\n'
                    'timezone = "Europe/London"\ntime = "07:00"\n'
                    'list_unsubscribe = "<mailto:unsubscribe@example.org>"\n'
                    f'{extra}[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 5.0\n',
                    encoding="utf-8")
    return str(path)


def _record(db: Path, day: date) -> dict[str, Any] | None:
    with Store(db) as s:
        return s.digest_record(day.isoformat())


def _parts(msg: EmailMessage) -> tuple[str, str]:
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    return parts[0].get_content(), parts[1].get_content()


def test_content_of_a_day(db: Path) -> None:
    with Store(db) as store:
        c = build_content(store, DAY, "Europe/London")
        assert [(s.title[:12], len(s.copies)) for s in c.stories] == [("Harbour boar", 3), ("Saint-Émilio", 1)]
        assert c.copies == 4
        assert [u.feed for u in c.uncredited] == ["courier", "echo-relay"]
        assert {o.feed: o.copies for o in c.outlets} == {"courier": 2, "the-ledger": 1, "echo-relay": 1}
        # the day is the zone's calendar day: Tokyo's 27th starts at 15:00 UTC on the 26th
        tokyo = build_content(store, DAY, "Asia/Tokyo")
        assert tokyo.copies == 5 and len(tokyo.stories) == 3
        assert build_content(store, date(2026, 11, 20), "Europe/London").empty


def test_copy_found_after_its_days_digest_comes_in_the_next_one(db: Path) -> None:
    """A copy of the 26th that relaywatch only finds at 09:00 on the 27th, after the 26th's 07:00
    digest went out: the 27th's digest lists it as found late; no digest loses it."""
    with Store(db) as store:
        feed = store.ensure_feed("late-blog", "relay")
        entry = ParsedEntry(guid="lb-comet", url="https://late.example/comet", title="Comet bit found",
                            html=report_data._html(report_data.COMET),
                            published=datetime(2026, 11, 26, 20, 0, tzinfo=UTC), published_raw=None,
                            date_flag=None)
        Pipeline(store).ingest(feed, [prepare(entry)], datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
        c = build_content(store, DAY, "Europe/London", send_time="07:00")
        assert [(x.feed, x.title, x.original_feed) for x in c.late] == [
            ("late-blog", "Comet bit found", "meridian-wire")]
        assert c.copies == 4  # the day's own copies are unchanged
        text = render_text(c)
        assert "1 copy of earlier days found late." in text
        assert "FOUND LATE" in text and "- late-blog, appeared 2026-11-26 20:00 GMT (+10h 00m after the" in text
        assert "Found late" in render_html(c)
        # the 26th's own window for late finds ended at 07:00 on the 27th
        assert build_content(store, date(2026, 11, 26), "Europe/London", send_time="07:00").late == ()
        # with the digest sent at 09:30, the 26th's digest saw the copy itself: it is not late on the 27th
        assert build_content(store, DAY, "Europe/London", send_time="09:30").late == ()
        assert [c.feed for s in build_content(store, date(2026, 11, 26), "Europe/London").stories
                for c in s.copies] == ["the-ledger", "late-blog"]


def test_day_window_follows_dst() -> None:
    london = ZoneInfo("Europe/London")
    start, end = day_window(date(2026, 3, 29), london)
    assert (end - start) == timedelta(hours=23)
    start, end = day_window(date(2026, 7, 1), london)
    assert start == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)


def test_cli_send_delivers_both_parts_and_records(db: Path, tmp_path: Path, smtp: tuple[Collector, int],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    collector, port = smtp
    config = _config_file(tmp_path, db, port)
    assert cli.main(["-c", config, "digest", "--date", "2026-11-27", "--send"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("digest for 2026-11-27 sent to desk@example.org, standards@example.org")
    assert len(collector.messages) == 1
    mail_from, rcpt, _ = collector.messages[0]
    assert mail_from == "relaywatch@example.org" and rcpt == list(TO)
    msg = collector.parsed()
    assert msg["Subject"] == "relaywatch digest for 2026-11-27: 4 copies of 2 stories"
    assert msg["From"] == "relaywatch <relaywatch@example.org>"
    assert msg["To"] == "desk@example.org, standards@example.org"
    assert msg["List-Unsubscribe"] == "<mailto:unsubscribe@example.org>"
    assert parsedate_to_datetime(msg["Date"]).tzinfo is not None
    assert msg["Message-ID"].startswith("<relaywatch.report.digest.2026-11-27.")
    assert msg["Message-ID"].endswith("@example.org>")
    text, html = _parts(msg)
    assert text.startswith("relaywatch digest for Friday 27 November 2026 (Europe/London)\n\n"
                           "4 copies of 2 stories; 2 without credit to the original.\n")
    assert "1. Harbour board approves tidal barrier for Port Ellery\n" \
           "   meridian-wire, published 06:00 GMT, 3 copies (1 credited)\n" in text
    assert "2. Saint-Émilion orchards expect record pear harvest — despite frost" in text  # UTF-8 intact
    assert text.index("Harbour board") < text.index("Saint-Émilion")   # most copies first
    for line in ("+3h 12m  the-ledger", "+5h 47m  courier", "+8h 05m  echo-relay"):
        assert line in text
    assert "meridian-wire > the-ledger > echo-relay" in text             # the chain of a via copy
    unc = text[text.index("UNCREDITED COPIES"):text.index("OUTLETS")]
    assert "- courier, +5h 47m, excerpt" in unc and "- echo-relay, +8h 05m, verbatim" in unc
    assert "the-ledger" not in unc.replace("(via the-ledger)", "")
    outlets = text[text.index("OUTLETS"):text.index("FEEDS")]
    assert "courier     2       +5h 08m     50%" in outlets
    assert "All feeds are polling normally." in text
    doc = lxml.html.document_fromstring(html)
    assert not doc.xpath("//script|//img|//link|//iframe|//style") and "src=" not in html
    assert [a.text_content() for a in doc.xpath("//h3")][:2] == [
        "1. Harbour board approves tidal barrier for Port Ellery",
        "2. Saint-Émilion orchards expect record pear harvest — despite frost"]
    assert doc.xpath("//h3/a/@href")[0] == "https://meridian.example/harbour"
    assert len(doc.xpath("//span[@title='original']")) == 2              # a compact timeline per story
    assert doc.xpath("//body/@style") and all("style" in t.attrib for t in doc.xpath("//table"))
    rec = _record(db, DAY)
    assert rec is not None and rec["status"] == "sent" and rec["recipients"] == list(TO)
    assert rec["message_id"] == msg["Message-ID"] and rec["attempts"] == 1
    assert (rec["stories"], rec["copies"]) == (2, 4) and rec["sent_at"]


def test_second_send_and_restart_send_nothing(db: Path, tmp_path: Path, smtp: tuple[Collector, int],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    collector, port = smtp
    config = _config(db, port)
    with Store(db) as store:
        assert send_digest(config, store, DAY).status == "sent"
        assert send_digest(config, store, DAY).status == "already-sent"
    # a restart: a new process, a new Store on the same file; the daemon's check and the CLI
    with Store(db) as store:
        runner = DigestRunner(config, store)
        assert runner.run_due(datetime(2026, 11, 28, 7, 0, 5, tzinfo=UTC)) == []
        assert runner.run_due(datetime(2026, 11, 28, 9, 0, tzinfo=UTC)) == []
    assert cli.main(["-c", _config_file(tmp_path, db, port), "digest", "--date", "2026-11-27", "--send"]) == 0
    assert "already sent at" in capsys.readouterr().out
    assert len(collector.messages) == 1
    # --force sends again, with a new Message-ID
    first_id = collector.parsed(0)["Message-ID"]
    with Store(db) as store:
        assert send_digest(config, store, DAY, force=True).status == "sent"
    assert len(collector.messages) == 2 and collector.parsed(1)["Message-ID"] != first_id


def test_two_senders_at_once_send_once(db: Path, smtp: tuple[Collector, int]) -> None:
    collector, port = smtp
    config = _config(db, port)
    now = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    with Store(db) as a, Store(db) as b:
        claim = a.claim_digest(DAY.isoformat(), "Europe/London", "<x@example.org>", now, now - timedelta(minutes=15))
        assert claim is not None  # daemon A is sending...
        assert send_digest(config, b, DAY, now=now + timedelta(minutes=1)).status == "in-progress"
        # ...and died: after the stale time another sender takes the day, with the same Message-ID
        result = send_digest(config, b, DAY, now=now + timedelta(minutes=20))
        assert result.status == "sent" and result.message_id == "<x@example.org>"
    assert len(collector.messages) == 1 and collector.parsed()["Message-ID"] == "<x@example.org>"


def test_catch_up_sends_a_missed_day_late_once(db: Path, smtp: tuple[Collector, int]) -> None:
    collector, port = smtp
    config = _config(db, port)
    with Store(db) as store:
        runner = DigestRunner(config, store)
        # before 07:00 on the 27th nothing is due; on the 27th at 07:00 the 26th is (first start)
        assert due_days(config, store, datetime(2026, 11, 27, 6, 59, tzinfo=UTC)) == []
        sent = runner.run_due(datetime(2026, 11, 27, 7, 0, 30, tzinfo=UTC))
        assert [(r.day, r.status) for r in sent] == [(date(2026, 11, 26), "sent")]
        assert collector.parsed()["Subject"] == "relaywatch digest for 2026-11-26: 1 copies of 1 stories"
        # the machine sleeps through 07:00 on the 28th and the 29th; it wakes at 10:12 on the 29th
        assert due_days(config, store, datetime(2026, 11, 28, 6, 0, tzinfo=UTC)) == []
        late = runner.run_due(datetime(2026, 11, 29, 10, 12, tzinfo=UTC))
        assert [r.day for r in late] == [date(2026, 11, 27), date(2026, 11, 28)]
        assert runner.run_due(datetime(2026, 11, 29, 10, 17, tzinfo=UTC)) == []
    subjects = [collector.parsed(i)["Subject"] for i in range(len(collector.messages))]
    assert subjects == ["relaywatch digest for 2026-11-26: 1 copies of 1 stories",
                        "relaywatch digest for 2026-11-27: 4 copies of 2 stories",
                        "relaywatch digest for 2026-11-28: 0 copies of 0 stories"]
    assert "Nothing found: no copy of any story appeared on Saturday 28 November 2026." in \
        _parts(collector.parsed(2))[0]


def test_catch_up_window_and_first_start(db: Path, smtp: tuple[Collector, int],
                                         caplog: pytest.LogCaptureFixture) -> None:
    _, port = smtp
    config = _config(db, port)
    with Store(db) as store:
        # first start long after the data: only the latest due day, not a backlog
        assert due_days(config, store, datetime(2026, 12, 10, 8, 0, tzinfo=UTC)) == [date(2026, 12, 9)]
        store.claim_digest("2026-11-26", "Europe/London", "<a@x>", datetime(2026, 11, 27, 7, 0, tzinfo=UTC),
                           datetime(2026, 11, 27, tzinfo=UTC))
        store.finish_digest("2026-11-26", TO, "<a@x>", "s", datetime(2026, 11, 27, 7, 0, tzinfo=UTC), 1, 1)
        with caplog.at_level(logging.WARNING, logger="relaywatch.report.digest"):
            days = due_days(config, store, datetime(2026, 12, 10, 8, 0, tzinfo=UTC))
        assert days == [date(2026, 12, 3) + timedelta(days=i) for i in range(7)]
        assert "too old to send late" in caplog.text
    assert last_due_day(config, datetime(2026, 7, 2, 6, 30, tzinfo=UTC)) == date(2026, 7, 1)  # 07:30 BST
    assert last_due_day(config, datetime(2026, 7, 2, 5, 59, tzinfo=UTC)) == date(2026, 6, 30)


def test_failed_send_is_recorded_retried_with_backoff_and_never_dropped(
        db: Path, smtp: tuple[Collector, int], caplog: pytest.LogCaptureFixture) -> None:
    collector, port = smtp
    closed = _free_port()  # nothing listens there
    now = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    with Store(db) as store:
        store.claim_digest("2026-11-26", "Europe/London", "<a@x>", now, now)  # the 26th went out earlier
        store.finish_digest("2026-11-26", TO, "<a@x>", "s", now, 1, 1)
        runner = DigestRunner(_config(db, closed), store)
        with caplog.at_level(logging.ERROR, logger="relaywatch.report.digest"):
            assert runner.run_due(now) == []
        assert "digest for 2026-11-27 NOT sent" in caplog.text and f"127.0.0.1:{closed}" in caplog.text
        rec = store.digest_record("2026-11-27")
        assert rec is not None and rec["status"] == "failed" and rec["attempts"] == 1
        assert "ConnectionRefusedError" in rec["last_error"] and rec["next_attempt"] == "2026-11-28T07:05:00Z"
        # within the backoff nothing is tried; then it is tried again, and the wait doubles
        assert [r.status for r in runner.run_due(now + timedelta(minutes=3))] == ["waiting"]
        assert store.digest_record("2026-11-27")["attempts"] == 1  # type: ignore[index]
        runner.run_due(now + timedelta(minutes=5))
        rec = store.digest_record("2026-11-27")
        assert rec is not None and rec["attempts"] == 2 and rec["next_attempt"] == "2026-11-28T07:15:00Z"
        # the server is back: the day goes out, late, once
        runner = DigestRunner(_config(db, port), store)
        sent = runner.run_due(now + timedelta(minutes=16))
        assert [r.status for r in sent] == ["sent"]
        rec = store.digest_record("2026-11-27")
        assert rec is not None and rec["status"] == "sent" and rec["attempts"] == 3
    assert len(collector.messages) == 1


def test_cli_send_failure_exits_non_zero_and_is_recorded(db: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("relaywatch.report.digest.timemod.sleep", lambda s: None)
    config = _config_file(tmp_path, db, _free_port())
    assert cli.main(["-c", config, "digest", "--date", "2026-11-27", "--send"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("relaywatch: cannot send the digest through 127.0.0.1:")
    rec = _record(db, DAY)
    assert rec is not None and rec["status"] == "failed" and rec["last_error"]
    assert cli.main(["-c", config, "status"]) == 0
    assert "2026-11-27  failed" in capsys.readouterr().out


def test_quick_retries_within_one_send(db: Path, smtp: tuple[Collector, int],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    collector, port = smtp
    calls: list[int] = []
    real = __import__("relaywatch.report.digest", fromlist=["smtp_send"]).smtp_send

    def flaky(msg: EmailMessage, config: Config, recipients: Any) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise DigestError("421 try again later")
        real(msg, config, recipients)

    monkeypatch.setattr("relaywatch.report.digest.smtp_send", flaky)
    monkeypatch.setattr("relaywatch.report.digest.timemod.sleep", lambda s: None)
    with Store(db) as store:
        assert send_digest(_config(db, port), store, DAY, retries=2).status == "sent"
    assert len(calls) == 3 and len(collector.messages) == 1


def test_to_overrides_recipients_without_recording(db: Path, tmp_path: Path, smtp: tuple[Collector, int],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    collector, port = smtp
    config = _config_file(tmp_path, db, port)
    assert cli.main(["-c", config, "digest", "--date", "2026-11-27", "--send", "--to", "me@example.net"]) == 0
    assert collector.messages[0][1] == ["me@example.net"] and collector.parsed()["To"] == "me@example.net"
    assert _record(db, DAY) is None
    capsys.readouterr()


def test_print_writes_both_parts(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config_file(tmp_path, db, 25)
    assert cli.main(["-c", config, "digest", "--date", "2026-11-27", "--print"]) == 0
    out = capsys.readouterr().out
    assert "Subject: relaywatch digest for 2026-11-27: 4 copies of 2 stories" in out
    assert "2. Saint-Émilion orchards" in out   # readable UTF-8, not encoded
    msg = email.message_from_string(out, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    text, html = _parts(msg)
    assert "MOST REPUBLISHED" in text and "<h2" in html
    assert _record(db, DAY) is None            # printing records nothing


def test_empty_day_sends_nothing_found_or_skips(db: Path, smtp: tuple[Collector, int]) -> None:
    collector, port = smtp
    quiet = date(2026, 11, 20)
    with Store(db) as store:
        assert send_digest(_config(db, port), store, quiet).status == "sent"
        text, _ = _parts(collector.parsed())
        assert "Nothing found: no copy of any story appeared on Friday 20 November 2026." in text
        assert "MOST REPUBLISHED" not in text
        other = date(2026, 11, 21)
        result = send_digest(_config(db, port, send_empty=False), store, other)
        assert result.status == "skipped" and store.digest_record("2026-11-21")["status"] == "skipped"  # type: ignore[index]
        assert send_digest(_config(db, port, send_empty=False), store, other).status == "already-sent"
    assert len(collector.messages) == 1


def test_login_needs_the_password_from_the_environment(db: Path, smtp: tuple[Collector, int],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _, port = smtp
    config = _config(db, port)
    smtp = config.smtp.model_copy(update={"username": "rw", "password_env": "RW_TEST_SMTP_PASSWORD"})
    config = config.model_copy(update={"smtp": smtp})
    monkeypatch.delenv("RW_TEST_SMTP_PASSWORD", raising=False)
    with Store(db) as store, pytest.raises(DigestError, match="RW_TEST_SMTP_PASSWORD holds no password"):
        send_digest(config, store, DAY, retries=0)
    monkeypatch.setenv("RW_TEST_SMTP_PASSWORD", "s3cret-value")
    with Store(db) as store, pytest.raises(DigestError) as info:
        send_digest(config, store, DAY, retries=0)   # this server offers no AUTH
    assert "s3cret-value" not in str(info.value)


def test_digest_jobs_on_the_daemon_scheduler(db: Path, smtp: tuple[Collector, int]) -> None:
    _, port = smtp
    config = _config(db, port, time="07:30")
    with Store(db) as store:
        daemon = Daemon(config, store)
        daemon.extra_jobs.append(lambda sched: add_digest_job(sched, config, store))
        daemon.schedule()
        job = daemon.scheduler.get_job("digest")
        assert job is not None and isinstance(job.trigger, CronTrigger)
        assert str(job.trigger.timezone) == "Europe/London"
        fire = job.trigger.get_next_fire_time(None, datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
        assert fire is not None and fire.astimezone(UTC) == datetime(2026, 7, 2, 6, 30, tzinfo=UTC)  # 07:30 BST
        catchup = daemon.scheduler.get_job("digest-catchup")
        assert catchup is not None
        # without recipients there is no digest job
        sched = BackgroundScheduler(timezone="UTC")
        assert add_digest_job(sched, _config(db, port, to=()), store) is None
        assert sched.get_jobs() == []
