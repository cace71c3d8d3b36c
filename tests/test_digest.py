"""The daily digest: content, MIME, SMTP delivery on 127.0.0.1 (aiosmtpd) with and without login and STARTTLS,
once per day, catch-up, retry."""

from __future__ import annotations

import email
import logging
import re
import shutil
import socket
import ssl
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
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
from aiosmtpd.smtp import AuthResult, LoginPassword
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from relaywatch import cli
from relaywatch.config import Config, DatabaseConfig, DigestConfig, SmtpConfig
from relaywatch.detect.prepare import prepare
from relaywatch.models import ParsedEntry
from relaywatch.poll.scheduler import Daemon
from relaywatch.record.pipeline import Pipeline
from relaywatch.report.digest import (
    DigestContent,
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
from relaywatch.report.questions import Copy, Story, outlet_stats
from relaywatch.store import Store

from . import report_data

DAY = date(2026, 11, 27)
TO = ("desk@example.org", "standards@example.org")


class Collector:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.sessions: list[tuple[bool, bool]] = []   # (authenticated, over TLS) of each message's session

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        self.sessions.append((bool(session.authenticated), session.ssl is not None))
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


@contextmanager
def _smtp_server(handler: Collector, **smtp_options: Any) -> Iterator[int]:
    """An aiosmtpd server on 127.0.0.1 (``smtp_options`` go to aiosmtpd's SMTP); yields its port."""
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture()
def smtp() -> Iterator[tuple[Collector, int]]:
    handler = Collector()
    with _smtp_server(handler) as port:
        yield handler, port


class Authenticator:
    """An aiosmtpd authenticator that accepts one user name and password and keeps every attempt."""

    def __init__(self, login: str, password: str) -> None:
        self.login = login
        self.password = password
        self.attempts: list[tuple[str, str, str]] = []   # (mechanism, login, password)

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.attempts.append((mechanism, login, password))
        return AuthResult(success=(login, password) == (self.login, self.password), handled=False)


SMTP_USER = "rw-digest"
SMTP_PASSWORD = "s3cret-value"
PASSWORD_ENV = "RW_TEST_SMTP_PASSWORD"


@pytest.fixture()
def smtp_auth() -> Iterator[tuple[Collector, Authenticator, int]]:
    """A server on plain loopback that refuses mail before a successful AUTH (AUTH allowed without TLS)."""
    handler, auth = Collector(), Authenticator(SMTP_USER, SMTP_PASSWORD)
    with _smtp_server(handler, auth_required=True, auth_require_tls=False, authenticator=auth) as port:
        yield handler, auth, port


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway certificate and key for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return cert, key


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


def _config_file(tmp_path: Path, db: Path, port: int, extra: str = "", smtp_extra: str = "") -> str:
    path = tmp_path / "rw.toml"
    path.write_text(f'[database]\npath = "{db}"\n'
                    f'[digest]\nto = {list(TO)!r}\nfrom = "relaywatch <relaywatch@example.org>"\n'
                    'timezone = "Europe/London"\ntime = "07:00"\n'
                    'list_unsubscribe = "<mailto:unsubscribe@example.org>"\n'
                    f'{extra}[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\ntimeout = 5.0\n'
                    f'{smtp_extra}', encoding="utf-8")
    return str(path)


def _with_login(config: Config, security: str = "none") -> Config:
    smtp = config.smtp.model_copy(update={"username": SMTP_USER, "password_env": PASSWORD_ENV, "security": security})
    return config.model_copy(update={"smtp": smtp})


def _record(db: Path, day: date) -> dict[str, Any] | None:
    with Store(db) as s:
        return s.digests.record(day.isoformat())


def _parts(msg: EmailMessage) -> tuple[str, str]:
    """The text and the HTML of a digest: the HTML alone, or with its picture in a multipart/related."""
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] in (["text/plain", "text/html"],
                                                     ["text/plain", "multipart/related"])
    html_part = parts[1] if parts[1].get_content_type() == "text/html" else next(parts[1].iter_parts())
    assert html_part.get_content_type() == "text/html"
    return parts[0].get_content(), html_part.get_content()


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
        feed = store.feeds.ensure("late-blog", "relay")
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


def test_html_part_escapes_what_feeds_say_and_the_text_part_keeps_it() -> None:
    """Titles, feed names and URLs come from feeds: in the HTML part they are text, never markup."""
    nasty = 'It\'s "<script>alert(1)</script>" & <b>more</b>'
    when = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    copy = Copy(copy_id=2, feed="<i>relay</i>", title=nasty, url="javascript:alert(1)", when=when,
                lag_seconds=3600.0, kind="verbatim", coverage=1.0, credited=False, via_id=None, via_feed=None,
                chain=(), anomaly=None, original_id=1, original_feed="wire", original_title=nasty)
    story = Story(id=1, title=nasty, url='https://wire.example/a?b=1&c="2"', feed="wire",
                  published=when - timedelta(hours=1), copies=(copy,))
    start, end = day_window(DAY, ZoneInfo("UTC"))
    content = DigestContent(DAY, "UTC", start, end, (story,), tuple(outlet_stats([copy])), (), ())
    html = render_html(content)
    assert "<script" not in html and "<b>" not in html and "<i>" not in html
    assert 'href="javascript:' not in html                                    # not a link, only text
    assert "It&#x27;s &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot; &amp; &lt;b&gt;more&lt;/b&gt;" in html
    assert 'href="https://wire.example/a?b=1&amp;c=&quot;2&quot;"' in html
    doc = lxml.html.document_fromstring(html)
    assert doc.xpath("//h3")[0].text_content() == f"1. {nasty}"
    assert doc.xpath("//h3/a/@href") == ['https://wire.example/a?b=1&c="2"']   # the one http(s) link
    text = render_text(content)
    assert f"1. {nasty}\n" in text and "- <i>relay</i>, +1h 00m, verbatim, 100% used" in text


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
    assert not doc.xpath("//script|//link|//iframe|//style")
    assert [i.get("src")[:4] for i in doc.xpath("//img")] == ["cid:"]  # the attached picture only
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
        claim = a.digests.claim(DAY.isoformat(), "Europe/London", "<x@example.org>", now, now - timedelta(minutes=15))
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
        store.digests.claim("2026-11-26", "Europe/London", "<a@x>", datetime(2026, 11, 27, 7, 0, tzinfo=UTC),
                           datetime(2026, 11, 27, tzinfo=UTC))
        store.digests.finish("2026-11-26", TO, "<a@x>", "s", datetime(2026, 11, 27, 7, 0, tzinfo=UTC), 1, 1)
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
        store.digests.claim("2026-11-26", "Europe/London", "<a@x>", now, now)  # the 26th went out earlier
        store.digests.finish("2026-11-26", TO, "<a@x>", "s", now, 1, 1)
        runner = DigestRunner(_config(db, closed), store)
        with caplog.at_level(logging.ERROR, logger="relaywatch.report.digest"):
            assert runner.run_due(now) == []
        assert "digest for 2026-11-27 NOT sent" in caplog.text and f"127.0.0.1:{closed}" in caplog.text
        rec = store.digests.record("2026-11-27")
        assert rec is not None and rec["status"] == "failed" and rec["attempts"] == 1
        assert "ConnectionRefusedError" in rec["last_error"] and rec["next_attempt"] == "2026-11-28T07:05:00Z"
        # within the backoff nothing is tried; then it is tried again, and the wait doubles
        assert [r.status for r in runner.run_due(now + timedelta(minutes=3))] == ["waiting"]
        assert store.digests.record("2026-11-27")["attempts"] == 1  # type: ignore[index]
        runner.run_due(now + timedelta(minutes=5))
        rec = store.digests.record("2026-11-27")
        assert rec is not None and rec["attempts"] == 2 and rec["next_attempt"] == "2026-11-28T07:15:00Z"
        # the server is back: the day goes out, late, once
        runner = DigestRunner(_config(db, port), store)
        sent = runner.run_due(now + timedelta(minutes=16))
        assert [r.status for r in sent] == ["sent"]
        rec = store.digests.record("2026-11-27")
        assert rec is not None and rec["status"] == "sent" and rec["attempts"] == 3
    assert len(collector.messages) == 1


def test_cli_send_failure_exits_non_zero_and_is_recorded(db: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("relaywatch.report.digest.send.timemod.sleep", lambda s: None)
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
    real = __import__("relaywatch.report.digest.send", fromlist=["smtp_send"]).smtp_send

    def flaky(msg: EmailMessage, config: Config, recipients: Any) -> None:
        calls.append(1)
        if len(calls) < 3:
            raise DigestError("421 try again later")
        real(msg, config, recipients)

    monkeypatch.setattr("relaywatch.report.digest.send.smtp_send", flaky)
    monkeypatch.setattr("relaywatch.report.digest.send.timemod.sleep", lambda s: None)
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
        assert result.status == "skipped" and store.digests.record("2026-11-21")["status"] == "skipped"  # type: ignore[index]
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


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # on purpose: loopback
def test_login_on_a_server_that_requires_it(db: Path, smtp_auth: tuple[Collector, Authenticator, int],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    collector, auth, port = smtp_auth
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    with Store(db) as store:
        result = send_digest(_with_login(_config(db, port)), store, DAY, retries=0)
    assert result.status == "sent"
    assert [(login, password) for _, login, password in auth.attempts] == [(SMTP_USER, SMTP_PASSWORD)]
    assert auth.attempts[0][0] in ("PLAIN", "LOGIN")
    assert len(collector.messages) == 1 and collector.sessions == [(True, False)]
    assert collector.parsed()["Subject"] == "relaywatch digest for 2026-11-27: 4 copies of 2 stories"
    rec = _record(db, DAY)
    assert rec is not None and rec["status"] == "sent"


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # on purpose: loopback
def test_wrong_password_is_one_clean_line_and_the_day_is_not_sent(
        db: Path, tmp_path: Path, smtp_auth: tuple[Collector, Authenticator, int],
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    collector, auth, port = smtp_auth
    monkeypatch.setattr("relaywatch.report.digest.send.timemod.sleep", lambda s: None)
    monkeypatch.setenv(PASSWORD_ENV, "wrong-horse-battery")
    config = _config_file(tmp_path, db, port, smtp_extra=f'username = "{SMTP_USER}"\npassword_env = "{PASSWORD_ENV}"\n')
    assert cli.main(["-c", config, "digest", "--date", "2026-11-27", "--send"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"relaywatch: cannot send the digest through 127.0.0.1:{port} (none): "
                          "SMTPAuthenticationError: (535")
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "wrong-horse-battery" not in err and "wrong-horse-battery" not in caplog.text
    assert auth.attempts and all(a[1:] == (SMTP_USER, "wrong-horse-battery") for a in auth.attempts)
    assert collector.messages == []
    rec = _record(db, DAY)
    assert rec is not None and rec["status"] == "failed" and rec["sent_at"] is None
    assert "535" in rec["last_error"] and "wrong-horse-battery" not in rec["last_error"]


def test_login_after_starttls(db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """STARTTLS with a certificate the client verifies (trusted through SSL_CERT_FILE), then AUTH:
    the server refuses AUTH and mail before TLS, so a delivered message went through both."""
    cert, key = _self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))   # ssl.create_default_context() in smtp_send trusts it
    monkeypatch.setenv(PASSWORD_ENV, SMTP_PASSWORD)
    collector, auth = Collector(), Authenticator(SMTP_USER, SMTP_PASSWORD)
    with _smtp_server(collector, tls_context=server_tls, require_starttls=True, auth_required=True,
                      authenticator=auth) as port, Store(db) as store:
        result = send_digest(_with_login(_config(db, port), "starttls"), store, DAY, retries=0)
    assert result.status == "sent"
    assert [a[1:] for a in auth.attempts] == [(SMTP_USER, SMTP_PASSWORD)]
    assert collector.sessions == [(True, True)]


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


def _picture(msg: EmailMessage) -> tuple[EmailMessage, str]:
    """The digest's inline PNG part and the HTML that refers to it."""
    related = list(msg.iter_parts())[1]
    assert related.get_content_type() == "multipart/related"
    html_part, image = list(related.iter_parts())
    assert isinstance(image, EmailMessage)
    return image, html_part.get_content()


def test_the_html_part_carries_the_spread_picture_inline(db: Path, smtp: tuple[Collector, int]) -> None:
    import io

    from PIL import Image

    collector, port = smtp
    with Store(db) as store:
        assert send_digest(_config(db, port), store, DAY).status == "sent"
    msg = collector.parsed()
    image, html = _picture(msg)
    assert image.get_content_type() == "image/png" and image.get_content_disposition() == "inline"
    assert image.get_filename() == "relaywatch-2026-11-27.png"
    cid = image["Content-ID"]
    assert cid.startswith("<") and cid.endswith("@example.org>")
    doc = lxml.html.document_fromstring(html)
    assert doc.xpath("//img/@src") == [f"cid:{cid[1:-1]}"]
    assert doc.xpath("//img/@width") == ["760"] and doc.xpath("//img/@alt")[0].startswith("How the day")
    data = image.get_content()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as png:
        png.load()  # decodes every row: a truncated or corrupt PNG raises
        height = int(doc.xpath("//img/@height")[0])
        assert png.format == "PNG" and png.size == (1140, round(height * 1.5))
    text, _ = _parts(msg)
    assert "cid:" not in text and "MOST REPUBLISHED" in text  # the text part reads the same without it


def test_the_picture_draws_the_top_stories_with_titles_escaped(db: Path) -> None:
    from relaywatch.report.digest import spread_svg

    with Store(db) as store:
        c = build_content(store, DAY, "Europe/London")
    marked = [replace(c.stories[0], title='<b>Barrier</b> & "co" <script>x()</script>'), *c.stories[1:]]
    svg, height = spread_svg(marked)
    root = ET.fromstring(svg)
    assert int(root.get("height") or 0) == height
    assert len(root.findall("{http://www.w3.org/2000/svg}svg")) == 2      # one timeline per story
    marks = root.findall(".//{http://www.w3.org/2000/svg}g[@class]")
    assert sum("copy" in (g.get("class") or "") for g in marks) == c.copies == 4
    assert "<b>" not in svg and "<script>" not in svg and "&lt;b&gt;Barrier&lt;/b&gt; &amp;" in svg


def test_print_shows_the_picture_part_without_its_bytes(db: Path, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = _config_file(tmp_path, db, 25)
    assert cli.main(["-c", config, "digest", "--date", "2026-11-27", "--print"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"\nContent-Type: image/png\n.*\[image/png, \d+ bytes: not printed\]\n", out, re.S)
    assert "iVBORw0KGgo" not in out  # no base64 PNG in the terminal
