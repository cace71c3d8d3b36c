"""The command line: exact output of each command, exit codes, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from relaywatch.cli.main import main

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
    assert out == ("copy    title  original  kind      coverage  lag      credited  via\n"
                   "------  -----  --------  --------  --------  -------  --------  ---\n"
                   "ledger  b      wire      verbatim  100%      +2h 00m  yes\n")
    code, out, _ = run(capsys, "-c", cfg, "reposts", "--json")
    [link] = json.loads(out)
    assert {k: link[k] for k in ("original_url", "copy_url", "via_url", "kind", "coverage", "lag_seconds",
                                 "credited", "original_published", "copy_published")} == {
        "original_url": "https://wire.example.com/a", "copy_url": "https://ledger.example.com/b", "via_url": None,
        "kind": "verbatim", "coverage": 1.0, "lag_seconds": 7200.0, "credited": True,
        "original_published": "2026-11-24T16:00:00Z", "copy_published": "2026-11-24T18:00:00Z"}


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
    listed = [line.split()[0] for line in out.split("Commands:\n")[1].splitlines() if line.startswith("  ")]
    assert listed == ["run", "poll", "ingest", "demo", "spark-ingest", "import", "feeds", "reposts", "stories",
                      "story", "outlets", "search", "status", "digest", "config", "Exit"]
    assert "Exit status: 0 all well, 1 a runtime failure, 2 a usage or configuration error.\n" in out
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
