from pathlib import Path

import pytest
from relaywatch.cli.main import main
from relaywatch.config import ConfigError, load_config, parse_config, parse_interval

REPO = Path(__file__).resolve().parents[1]


def test_example_config_loads_with_four_feeds() -> None:
    config = load_config(REPO / "config" / "example.toml")
    assert [f.name for f in config.feeds] == ["meridian", "daily-ledger", "echo-relay", "coastal-courier"]
    wire = config.feeds[0]
    assert (wire.role, wire.interval, wire.credit) == ("wire", 900, ("Meridian Wire", "Meridian"))
    assert config.feeds[1].interval == 1800  # the [defaults] interval
    assert Path(config.database.path) == REPO / "config" / "relaywatch.db"


@pytest.mark.parametrize(("text", "expected"), [
    ("90s", 90), ("15m", 900), ("1h30m", 5400), ("2d", 172800), ("1.5h", 5400), (600, 600)])
def test_parse_interval(text: str | int, expected: int) -> None:
    assert parse_interval(text) == expected


@pytest.mark.parametrize("text", ["", "15", "5 parsecs", "m", "-5m", "0s"])
def test_parse_interval_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_interval(text)


@pytest.mark.parametrize(("toml", "message"), [
    ('[[feeds]]\nname = "a"\nurl = "http://x/"\nintervall = "5m"\n',
     "cfg.toml:4: feeds[1].intervall: unknown key (did you mean 'interval'?)"),
    ('[database]\npath = "x.db"\ncolour = "red"\n',
     "cfg.toml:3: database.colour: unknown key (known: path, busy_timeout)"),
    ('[databse]\npath = "x.db"\n', "cfg.toml:1: databse: unknown key (did you mean 'database'?)"),
    ('[[feeds]]\nname = "a"\nurl = "ftp://x/"\n', "cfg.toml:3: feeds[1].url: not an http(s) URL: 'ftp://x/'"),
    ('[[feeds]]\nname = "a"\nurl = "http://x/"\n\n[[feeds]]\nname = "a"\nurl = "http://y/"\n',
     "cfg.toml:6: feeds[2].name: duplicate feed name 'a' (first on line 2)"),
    ('[[feeds]]\nname = "a"\nurl = "http://x/"\ninterval = "soon"\n',
     "cfg.toml:4: feeds[1].interval: not a duration: 'soon'"),
    ('[[feeds]]\nname = "a"\nurl = "http://x/"\nrole = "blog"\n',
     "cfg.toml:4: feeds[1].role: must be one of 'wire', 'outlet' or 'relay', not 'blog'"),
    ('[fetch]\nmax_bytes = "big"\n', "cfg.toml:2: fetch.max_bytes: must be an integer, not 'big'"),
    ('[digest]\ntimezone = "Mars/Olympus"\n', "cfg.toml:2: digest.timezone: not an IANA time zone: 'Mars/Olympus'"),
    ('[smtp]\nsecurity = "ssl3"\n', "cfg.toml:2: smtp.security: must be one of 'starttls', 'tls' or 'none'"),
    ('[[feeds]]\nurl = "http://x/"\n', "cfg.toml:1: feeds[1].name: required key is missing"),
    ("[[feeds]\n", "cfg.toml:1: not valid TOML: Expected ']]' at the end of an array declaration (column 8)"),
])
def test_bad_config_names_file_line_and_key(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(toml, "cfg.toml")
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value)


def test_errors_deep_in_a_long_feed_list_name_their_lines() -> None:
    """Line numbers come from one scan of the text (a config of thousands of feeds asks once a feed)."""
    feeds = "".join(f'[[feeds]]\nname = "f{i}"\nurl = "http://x/{i}"\n\n' for i in range(3000))
    assert len(parse_config(feeds, "cfg.toml").feeds) == 3000
    with pytest.raises(ConfigError) as e:  # feed #3001 starts on line 12001; its name is line 12002
        parse_config(feeds + '[[feeds]]\nurl = "http://y/"\nname = "f1234"\n', "cfg.toml")
    assert str(e.value) == "cfg.toml:12003: feeds[3001].name: duplicate feed name 'f1234' (first on line 4938)"
    with pytest.raises(ConfigError) as e:
        parse_config(feeds + '[[feeds]]\nname = "z"\nurl = "http://y/"\nrol = "wire"\n', "cfg.toml")
    assert str(e.value) == "cfg.toml:12004: feeds[3001].rol: unknown key (did you mean 'role'?)"


def test_cli_exits_2_with_one_line_before_doing_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        f'[database]\npath = "{tmp_path / "x.db"}"\n[[feeds]]\nname = "a"\nurl = "http://x/"\nrol = "wire"\n'
    )
    assert main(["--config", str(cfg), "poll", "--once"]) == 2
    err = capsys.readouterr().err
    assert err == f"relaywatch: {cfg}:6: feeds[1].rol: unknown key (did you mean 'role'?)\n"
    assert not (tmp_path / "x.db").exists()


def test_secrets_are_masked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database]\npath = "{tmp_path / "x.db"}"\n[smtp]\npassword_env = "RW_SECRET_ENV"\n')
    assert main(["--config", str(cfg), "config"]) == 0
    out = capsys.readouterr().out
    assert "smtp.password_env = ********" in out
    assert "RW_SECRET_ENV" not in out
