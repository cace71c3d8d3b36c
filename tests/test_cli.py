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
