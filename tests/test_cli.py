"""The command line: exact output of each command, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from relaywatch.cli.main import main

from ._servers import Response, TestServer, rss
from .test_ingest import WIRE, line

CONFIG = """[database]
path = "r.db"
[smtp]
password_env = "RW_TEST_SMTP_PASSWORD"
[[feeds]]
name = "wire"
url = "http://127.0.0.1:9/wire.xml"
role = "wire"
credit = ["Meridian Wire"]
"""


@pytest.fixture
def cfg(tmp_path: Path) -> str:
    path = tmp_path / "c.toml"
    path.write_text(CONFIG)
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_feeds_add_and_list(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "-c", cfg, "feeds", "add", "courier", "https://c.example/rss", "--interval", "15m") == (
        0, "added feed courier (outlet) https://c.example/rss\n", "")
    code, out, _ = run(capsys, "-c", cfg, "feeds", "list")
    assert code == 0
    assert out == (
        "name     role    interval  status  source  credit         url\n"
        "-------  ------  --------  ------  ------  -------------  ---------------------------\n"
        "courier  outlet  15m       new     cli                    https://c.example/rss\n"
        "wire     wire    30m       new     config  Meridian Wire  http://127.0.0.1:9/wire.xml\n")


def test_feeds_add_rejects_a_bad_url_in_one_line(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "-c", cfg, "feeds", "add", "x", "ftp://c.example/rss")
    assert (code, out) == (2, "")
    assert err.startswith("relaywatch: ") and err.count("\n") == 1 and "ftp://c.example/rss" in err


def test_ingest_then_reposts_table_and_json(cfg: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    archive = tmp_path / "a.jsonl"
    archive.write_text(line("wire", "a", WIRE, "2026-11-24T16:00:00Z") + "\n"
                       + line("ledger", "b", WIRE + "\n\nSource: Meridian Wire", "2026-11-24T18:00:00Z") + "\n")
    assert run(capsys, "-c", cfg, "-q", "ingest", str(archive)) == (
        0, "2 lines: 2 new entries, 0 updated, 0 unchanged, 1 links, 0 skipped\n", "")
    code, out, _ = run(capsys, "-c", cfg, "reposts")
    assert code == 0
    assert out == ("copy    title  original  kind      used  from original          lag      credited  via\n"
                   "------  -----  --------  --------  ----  ---------------------  -------  --------  ---\n"
                   "ledger  b      wire      verbatim  100%  12/12 sentences, 100%  +2h 00m  yes\n")
    code, out, _ = run(capsys, "-c", cfg, "reposts", "--json")
    [link] = json.loads(out)
    assert {k: link[k] for k in ("original_url", "copy_url", "via_url", "kind", "coverage", "lag_seconds",
                                 "credited", "original_published", "copy_published")} == {
        "original_url": "https://wire.example.com/a", "copy_url": "https://ledger.example.com/b", "via_url": None,
        "kind": "verbatim", "coverage": 1.0, "lag_seconds": 7200.0, "credited": True,
        "original_published": "2026-11-24T16:00:00Z", "copy_published": "2026-11-24T18:00:00Z"}
    assert {k: link[k] for k in ("added_words", "copy_share", "copy_sentences", "taken_sentences")} == {
        "added_words": 0, "copy_share": 1.0, "copy_sentences": 12, "taken_sentences": 12}


def test_export_opml_round_trips_through_import(cfg: str, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-c", cfg, "feeds", "export-opml")
    assert code == 0 and 'xmlUrl="http://127.0.0.1:9/wire.xml"' in out and 'role="wire"' in out
    other = tmp_path / "other.toml"
    other.write_text('[database]\npath = "other.db"\n')
    opml = tmp_path / "feeds.opml"
    opml.write_text(out)
    code, out, _ = run(capsys, "-c", str(other), "feeds", "import-opml", str(opml))
    assert code == 0
    code, out, _ = run(capsys, "-c", str(other), "feeds", "list")
    assert out.splitlines()[2].split() == ["wire", "wire", "30m", "new", "opml", "http://127.0.0.1:9/wire.xml"]


def test_config_command_masks_secrets(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "-c", cfg, "config")
    assert code == 0
    assert "RW_TEST_SMTP_PASSWORD" not in out
    assert "smtp.password_env = ********    # environment variable holding the SMTP password\n" in out


def test_missing_config_file_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "-c", str(tmp_path / "none.toml"), "feeds", "list")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("relaywatch: ") and "none.toml" in err


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    commands, exits = out.split("Commands:\n")[1].split("\n\n")[:2]
    assert [line.split()[0] for line in commands.splitlines()] == [
        "run", "poll", "ingest", "demo", "spark-ingest", "import", "feeds", "reposts", "stories", "story",
        "outlets", "search", "status", "digest", "serve", "relabel", "config"]
    assert exits == ("  Exit status:\n"
                     "    0  all well\n"
                     "    1  a runtime failure (poll: a feed failed, or a poll could not be stored)\n"
                     "    2  a usage or configuration error\n")
    code, out, _ = run(capsys, "-h")
    assert code == 0 and out.startswith("Usage: relaywatch [OPTIONS] COMMAND [ARGS]...\n")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from relaywatch import __version__

    assert run(capsys, "--version") == (0, f"relaywatch {__version__}\n", "")


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "bogus") == (2, "", "Usage: relaywatch [OPTIONS] COMMAND [ARGS]...\n"
                                           "Try 'relaywatch --help' for help.\n\nError: No such command 'bogus'.\n")


def test_bad_option_value_is_a_usage_error(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "-c", cfg, "stories", "--limit", "x") == (
        2, "", "Usage: relaywatch stories [OPTIONS]\nTry 'relaywatch stories --help' for help.\n\n"
               "Error: Invalid value for '--limit': 'x' is not a valid integer.\n")
    code, _, err = run(capsys, "-c", cfg, "feeds", "add", "x", "https://x.example/rss", "--role", "paper")
    assert code == 2 and err.endswith("Error: Invalid value for '--role': 'paper' is not one of "
                                      "'wire', 'outlet', 'relay'.\n")


def test_digest_needs_print_or_send_before_reading_the_config(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "none.toml")
    assert run(capsys, "-c", missing, "digest") == (
        2, "", "Usage: relaywatch digest [OPTIONS]\nTry 'relaywatch digest --help' for help.\n\n"
               "Error: one of --print or --send is required\n")
    code, _, err = run(capsys, "-c", missing, "digest", "--print", "--send")
    assert code == 2 and err.endswith("\nError: --print and --send cannot be used together\n")


def test_bad_since_is_one_line_and_exit_2(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "-c", cfg, "reposts", "--since", "yesterday") == (
        2, "", "relaywatch: --since must be a date like 2026-11-28 or 2026-11-28T07:00: 'yesterday'\n")


def test_runtime_failure_is_one_line_and_exit_1(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "-c", cfg, "feeds", "remove", "nobody") == (1, "", "relaywatch: no feed named nobody\n")


def test_config_from_the_environment(cfg: str, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RELAYWATCH_CONFIG", cfg)
    code, out, _ = run(capsys, "config")
    assert code == 0 and out.endswith("feeds: 1 configured\n")


def test_an_unexpected_error_is_one_line_without_traceback(cfg: str, capsys: pytest.CaptureFixture[str],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("relaywatch.cli.feeds.make_feed", broken)
    assert run(capsys, "-c", cfg, "feeds", "add", "x", "https://x.example/rss") == (
        1, "", "relaywatch: unexpected error: ZeroDivisionError: division by zero\n")


def test_console_script_exits_with_the_code(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = Path(sys.executable).parent / "relaywatch"  # installed by `pip install -e .`
    if not script.exists():
        pytest.skip(f"no console script beside {sys.executable}")
    proc = subprocess.run([str(script), "-c", str(tmp_path / "none.toml"), "config"],
                          capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr.startswith("relaywatch: ") and proc.stderr.count("\n") == 1
    proc = subprocess.run([str(script), "bogus"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.endswith("Error: No such command 'bogus'.\n")


# -- exit codes of poll ---------------------------------------------------------------------------

def _feeds_config(tmp_path: Path, urls: dict[str, str]) -> str:
    path = tmp_path / "poll.toml"
    path.write_text('[database]\npath = "p.db"\n[defaults]\nsummary_words = 0\n[fetch]\nper_host_delay = 0\n'
                    + "".join(f'[[feeds]]\nname = "{n}"\nurl = "{u}"\n' for n, u in urls.items()))
    return str(path)


def test_poll_once_exits_0_when_every_feed_answered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with TestServer() as srv:
        url = srv.route("/f.xml", Response(rss([("g1", "One", "<p>Some words here.</p>")])))
        cfg = _feeds_config(tmp_path, {"one": url})
        assert run(capsys, "-c", cfg, "-q", "poll", "--once") == (
            0, "one: HTTP 200, 1 new, 0 updated, 0 links\n", "")


def test_poll_once_exits_0_when_a_malformed_feed_still_gave_its_entries(tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    body = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><guid>g1</guid>'
            b"<title>A & B</title><description>Some words here.</description></item></channel></rss>")
    with TestServer() as srv:
        cfg = _feeds_config(tmp_path, {"m": srv.route("/m.xml", Response(body))})
        assert run(capsys, "-c", cfg, "-q", "poll", "--once") == (
            0, "m: HTTP 200, 1 new, 0 updated, 0 links (malformed feed (1 entries kept): SAXParseException: "
               "<unknown>:1:113: not well-formed (invalid token))\n", "")


def test_poll_once_exits_1_with_a_summary_when_a_feed_failed(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    with TestServer() as srv:
        ok = srv.route("/f.xml", Response(rss([("g1", "One", "<p>Some words here.</p>")])))
        missing = srv.url("/gone.xml")  # not routed: HTTP 404
        down = "http://127.0.0.1:9/f.xml"  # the discard port: nobody listens
        cfg = _feeds_config(tmp_path, {"a-ok": ok, "b-missing": missing, "c-down": down, "d-down": down})
        code, out, err = run(capsys, "-c", cfg, "-q", "poll", "--once")
    assert code == 1
    lines = out.splitlines()
    assert lines[:2] == ["a-ok: HTTP 200, 1 new, 0 updated, 0 links",
                         "b-missing: HTTP 404, 0 new, 0 updated, 0 links (HTTP 404 Not Found)"]
    assert [line.split(" (")[0] for line in lines[2:]] == [f"{n}-down: HTTP -, 0 new, 0 updated, 0 links" for n in "cd"]
    assert err == "relaywatch: 3 of 4 feeds failed (2 cannot connect to 127.0.0.1:9, 1 HTTP 404 Not Found)\n"


def test_a_poll_the_database_refused_is_summarised(tmp_path: Path) -> None:
    from relaywatch.cli.daemon import failure_summary
    from relaywatch.poll.poller import Poller
    from relaywatch.store import Store

    from .conftest import make_config

    with TestServer() as srv:
        url = srv.route("/f.xml", Response(rss([(f"g{i}", f"T{i}", f"<p>Words of story {i}.</p>") for i in range(5)])))
        config = make_config(tmp_path)
        with Store(config.database.path) as store:
            feed = store.feeds.upsert("f", url, "outlet", (), 1800, "cli")
            store.conn.execute("PRAGMA query_only = 1")  # every write refused, as on a read-only file
            outcome = Poller(config, store).poll(feed)
    assert not outcome.recorded
    assert failure_summary([outcome]) == "1 of 1 polls could not be stored (1 attempt to write a readonly database)"


# -- where the config comes from -------------------------------------------------------------------

def test_no_config_is_an_error_saying_where_it_looked(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELAYWATCH_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    if Path("/etc/relaywatch/relaywatch.toml").exists():
        pytest.skip("/etc/relaywatch/relaywatch.toml exists on this machine")
    assert run(capsys, "reposts") == (
        2, "", f"relaywatch: no configuration found: no --config FILE, no $RELAYWATCH_CONFIG, no {tmp_path}/xdg/"
               "relaywatch/relaywatch.toml, no /etc/relaywatch/relaywatch.toml (config/example.toml is one to "
               "start from)\n")
    assert list(tmp_path.iterdir()) == []  # no relaywatch.db left where the user stood
    (tmp_path / "xdg" / "relaywatch").mkdir(parents=True)
    (tmp_path / "xdg" / "relaywatch" / "relaywatch.toml").write_text('[database]\npath = "found.db"\n')
    assert run(capsys, "reposts") == (0, "(none)\n", "")
    assert (tmp_path / "xdg" / "relaywatch" / "found.db").exists()
