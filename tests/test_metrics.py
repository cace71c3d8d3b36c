"""Prometheus metrics: ``relaywatch run`` with ``[metrics] listen`` as a real subprocess, polling the
sample feeds over HTTP on 127.0.0.1 and mailing a digest to a real SMTP server (aiosmtpd), scraped
over HTTP; the exposition parsed with prometheus_client's own parser."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from relaywatch import cli
from relaywatch.demo import demo_dir, serve
from relaywatch.metrics import Metrics, MetricsError

from .test_digest import Collector, _free_port, _smtp_server

SCRIPT = Path(sys.executable).parent / "relaywatch"
FEEDS = {"meridian": ("wire.xml", "wire"), "daily-ledger": ("ledger.xml", "outlet"),
         "echo-relay": ("echo.rdf", "relay"), "coastal-courier": ("courier.xml", "outlet"),
         "broken": ("missing.xml", "outlet")}


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by name and sorted labels."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/plain")
        return r.read().decode("utf-8")


def _config(tmp: Path, base: str, metrics_port: int, smtp_port: int) -> Path:
    feeds = "".join(f'[[feeds]]\nname = "{name}"\nurl = "{base}/{path}"\nrole = "{role}"\n'
                    for name, (path, role) in FEEDS.items())
    cfg = tmp / "relaywatch.toml"
    cfg.write_text(f'[database]\npath = "{tmp / "relaywatch.db"}"\n[defaults]\nsummary_words = 0\n'
                   f'[fetch]\nper_host_delay = 0\n[scheduler]\njitter = 0\nprocesses = 0\n'
                   f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n'
                   f'[digest]\nto = "desk@example.org"\n'
                   f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\ntimeout = 5.0\n' + feeds, encoding="utf-8")
    return cfg


def _wait_for(port: int, proc: subprocess.Popen[str], done: object) -> dict[tuple[str, tuple[tuple[str, str], ...]],
                                                                             float]:
    """Scrape until ``done(samples)`` holds (the daemon polls and mails on its own time)."""
    for _ in range(600):
        assert proc.poll() is None, proc.communicate()
        try:
            got = samples(scrape(port))
        except (urllib.error.URLError, ConnectionError):
            got = {}
        if got and done(got):  # type: ignore[operator]
            return got
        time.sleep(0.1)
    raise AssertionError("the daemon did not get there in 60 s")


def test_the_daemon_serves_its_polls_links_and_digest_as_metrics(tmp_path: Path) -> None:
    metrics_port = _free_port()
    handler = Collector()
    with serve(demo_dir()) as base, _smtp_server(handler) as smtp_port:
        cfg = _config(tmp_path, base, metrics_port, smtp_port)
        proc = subprocess.Popen([str(SCRIPT), "-q", "-c", str(cfg), "run"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            got = _wait_for(metrics_port, proc, lambda s: len(
                [k for k in s if k[0] == "relaywatch_polls_total"]) == len(FEEDS) and
                s.get(("relaywatch_digests_total", (("status", "sent"),))) == 1.0)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    assert proc.returncode == 0
    for name in FEEDS:
        assert got[("relaywatch_polls_total", (("feed", name),))] == 1.0
    assert got[("relaywatch_poll_failures_total", (("feed", "broken"),))] == 1.0
    assert ("relaywatch_poll_failures_total", (("feed", "meridian"),)) not in got
    new = {name: got[("relaywatch_entries_recorded_total", (("change", "new"), ("feed", name)))] for name in FEEDS}
    assert new == {"meridian": 3.0, "daily-ledger": 3.0, "echo-relay": 2.0, "coastal-courier": 2.0, "broken": 0.0}
    assert sum(got[("relaywatch_links_recorded_total", (("feed", n),))] for n in FEEDS) >= 4.0
    assert got[("relaywatch_poll_duration_seconds_count", ())] == len(FEEDS)
    assert got[("relaywatch_match_duration_seconds_count", ())] == sum(new.values()) == 10.0
    succeeded = {k[1][0][1] for k in got if k[0] == "relaywatch_feed_last_success_timestamp_seconds"}
    assert succeeded == set(FEEDS) - {"broken"}
    assert got[("relaywatch_last_poll_timestamp_seconds", ())] > 1.7e9
    assert got[("relaywatch_digest_last_sent_timestamp_seconds", ())] > 1.7e9
    assert len(handler.messages) == 1


def test_metrics_stay_in_their_own_registry() -> None:
    a, b = Metrics(), Metrics()
    a.matched(0.01)
    assert samples(_exposition(a))[("relaywatch_match_duration_seconds_count", ())] == 1.0
    assert samples(_exposition(b))[("relaywatch_match_duration_seconds_count", ())] == 0.0


def _exposition(m: Metrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(m.registry).decode("utf-8")


def test_an_address_in_use_is_one_clear_error() -> None:
    m = Metrics()
    host, port = m.serve("127.0.0.1:0")
    try:
        assert (host, scrape(port).count("# TYPE relaywatch_polls_total counter")) == ("127.0.0.1", 1)
        with pytest.raises(MetricsError, match=rf"^metrics.listen 127.0.0.1:{port}: cannot listen: "
                                               "Address already in use$"):
            Metrics().serve(f"127.0.0.1:{port}")
    finally:
        m.stop()


@pytest.mark.parametrize(("value", "message"), [
    ('"9108"', "metrics.listen: must be HOST:PORT, e.g. 127.0.0.1:9108, not '9108'"),
    ('"127.0.0.1:99999"', "metrics.listen: the port must be 1 to 65535, not '127.0.0.1:99999'"),
])
def test_a_bad_listen_address_stops_relaywatch(tmp_path: Path, value: str, message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(f"[metrics]\nlisten = {value}\n", encoding="utf-8")
    assert cli.main(["-c", str(cfg), "config"]) == 2
    assert capsys.readouterr().err == f"relaywatch: {cfg}:2: {message}\n"
