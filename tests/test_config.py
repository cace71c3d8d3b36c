from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from relaywatch.cli.main import main
from relaywatch.config import (
    SETTINGS,
    Config,
    ConfigError,
    DatabaseConfig,
    DigestConfig,
    FetchConfig,
    load_config,
    make_feed,
    parse_config,
    parse_interval,
)

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


FEEDS3 = """[defaults]
interval = "30m"

[[feeds]]
name = "one"
url = "http://x/1"

[[feeds]]
name = "two"
url = "http://x/2"

[[feeds]]
name = "three"
url = "http://x/3"
interval = "10x"
"""


def test_an_error_in_the_third_feed_names_feeds_3_and_its_line() -> None:
    """Array positions count from 1, as a reader counts [[feeds]] tables down the file."""
    with pytest.raises(ConfigError) as e:
        parse_config(FEEDS3, "config/x.toml")
    assert str(e.value) == "config/x.toml:15: feeds[3].interval: not a duration: '10x' (use e.g. 90s, 15m, 1h30m, 2d)"


@pytest.mark.parametrize(("toml", "message"), [
    ('[fetch]\nmax_bytes = 5\nconect_timeout = 3\n', "cfg.toml:3: fetch.conect_timeout: unknown key (did you mean "
                                                      "'connect_timeout'?)"),
    ('[scheduler]\nworkers = 4\n\n[colours]\nsky = "blue"\n', "cfg.toml:4: colours: unknown key (known: database, "),
    ('title = "mine"\n', "cfg.toml:1: title: unknown key (known: database, defaults, fetch"),
    ('source = "elsewhere"\n', "cfg.toml:1: source: unknown key"),
    ('[scheduler]\nworkers = "4"\n', "cfg.toml:2: scheduler.workers: must be an integer, not '4'"),
    ('[defaults]\nhonor_ttl = "yes"\n', "cfg.toml:2: defaults.honor_ttl: must be true or false, not 'yes'"),
    ('[smtp]\nport = 25.5\n', "cfg.toml:2: smtp.port: must be an integer, not 25.5"),
    ('database = "x.db"\n', "cfg.toml:1: database: must be a table ([database])"),
    ('[[feeds]]\nname = "a"\nurl = "http://x/"\ncredit = "Reuters"\n', "cfg.toml:4: feeds[1].credit: must be a list"),
    ('[digest]\ntimezone = "Europe/Lodnon"\n', "cfg.toml:2: digest.timezone: not an IANA time zone: 'Europe/Lodnon'"),
    ('[digest]\ntimezone = "../../etc/passwd"\n', "cfg.toml:2: digest.timezone: not an IANA time zone"),
    ('[digest]\nfrom = "a@x"\nsender = "b@x"\n', "cfg.toml:3: digest.sender: the same setting as digest.from"),
    ('[scheduler]\nworkers = 0\n', "cfg.toml:2: scheduler.workers: must be at least 1 and at most 1000, not 0"),
    ('[fetch]\nread_timeout = 0\n', "cfg.toml:2: fetch.read_timeout: must be more than 0 and at most 86400, not 0"),
    ('[fetch]\nmax_bytes = -1\n', "cfg.toml:2: fetch.max_bytes: must be at least 1 and at most 2147483648, not -1"),
    ('[fetch]\ntotal_timeout = nan\n', "cfg.toml:2: fetch.total_timeout: must be a finite number, not nan"),
    ('[smtp]\nport = 70000\n', "cfg.toml:2: smtp.port: must be at least 1 and at most 65535, not 70000"),
    ('[[feeds]]\nname = "a"\nurl = "http://x/"\nrole = "Wire"\n', "cfg.toml:4: feeds[1].role: must be one of 'wire'"),
    ('[defaults]\ninterval = "10000000d"\n', "cfg.toml:2: defaults.interval: must be between 1s and 30d, not "
                                             "'10000000d'"),
    ('[defaults]\nmax_backoff = "31d"\n', "cfg.toml:2: defaults.max_backoff: must be between 1s and 30d, not '31d'"),
    ('[[feeds]]\nname = "a"\nurl = "http://x/"\ninterval = "10000000d"\n',
     "cfg.toml:4: feeds[1].interval: must be between 1s and 30d, not '10000000d'"),
    ('[[feeds]]\nname = "a"\nurl = "http://x/"\ninterval = 99999999999999999\n',
     "cfg.toml:4: feeds[1].interval: must be between 1s and 30d, not 99999999999999999"),
    ('[[feeds]]\nname = "a"\nurl = "http://x/"\ninterval = "' + "9" * 400 + 's"\n',
     "cfg.toml:4: feeds[1].interval: must be between 1s and 30d, not '99999"),
    ('[database]\npath = "x.db"\n\n[fetch]\nmax_bytes = 10\ncontact = "me\n', "cfg.toml:6: not valid TOML: "),
    ('[fetch]\nmax_bytes = 10\n[fetch]\nmax_entries = 5\n', "cfg.toml:3: not valid TOML: Cannot declare ('fetch',)"),
    ('[scheduler]\nworkers = 0\njitter = -1\n', "cfg.toml:2: scheduler.workers: must be at least 1 and at most 1000, "
                                               "not 0 (and 1 more)"),
])
def test_schema_errors_name_line_key_path_and_range(toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        parse_config(toml, "cfg.toml")
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value)


def test_absurd_interval_is_refused_by_the_loader_not_later(tmp_path: Path) -> None:
    """'10000000d' used to pass the check and crash the poller with OverflowError."""
    cfg = tmp_path / "c.toml"
    cfg.write_text('[[feeds]]\nname = "a"\nurl = "http://x/"\ninterval = "10000000d"\n')
    with pytest.raises(ConfigError, match=r"c\.toml:4: feeds\[1\]\.interval: must be between 1s and 30d"):
        load_config(cfg)
    with pytest.raises(ValueError, match="interval: must be between 1s and 30d"):
        make_feed("a", "http://x/", interval="10000000d")
    for text in ("10000000d", "31d", "inf", float("inf"), float("nan"), 10**30, True):
        with pytest.raises(ValueError):
            parse_interval(text)  # type: ignore[arg-type]
    assert parse_interval("30d") == 30 * 86400


def test_feeds_take_the_default_interval_and_respect_min_interval() -> None:
    config = parse_config('[defaults]\ninterval = "2h"\nmin_interval = "10m"\n'
                          '[[feeds]]\nname = "a"\nurl = "http://x/"\n'
                          '[[feeds]]\nname = "b"\nurl = "http://y/"\ninterval = "1m"\n'
                          '[[feeds]]\nname = "c"\nurl = "http://z/"\ninterval = 900\n')
    assert [f.interval for f in config.feeds] == [7200, 600, 900]
    assert make_feed("d", "http://x/", defaults=config.defaults).interval == 7200


def test_relative_database_path_is_beside_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    cfg = tmp_path / "sub" / "c.toml"
    cfg.write_text('[database]\npath = "data/rw.db"\n')
    config = load_config(cfg)
    assert Path(config.database.path) == tmp_path / "sub" / "data" / "rw.db"
    assert config.source == str(cfg)
    assert parse_config('[database]\npath = ":memory:"\n', base_dir=tmp_path).database.path == ":memory:"


def test_sections_are_frozen_and_built_by_keyword() -> None:
    fetch = FetchConfig(connect_timeout=2.0, max_bytes=1000)
    config = Config(database=DatabaseConfig(path="x.db"), fetch=fetch, digest=DigestConfig(to="a@x"))
    assert (config.fetch.max_bytes, config.digest.to, config.feeds) == (1000, ("a@x",), ())
    with pytest.raises(ValidationError):
        config.fetch.max_bytes = 5  # type: ignore[misc]
    with pytest.raises(ValidationError):
        FetchConfig(max_bytes=0)
    assert parse_config('[digest]\nfrom = "Desk <d@x>"\n').digest.sender == "Desk <d@x>"


# -- property: whatever the file holds, the loader answers Config or ConfigError, nothing else ----------

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
_scalars = st.one_of(_text, st.integers(-(2**63), 2**63 - 1), st.floats(), st.booleans(),
                     st.sampled_from(["15m", "0s", "10000000d", "UTC", "Mars/X", "http://x/", "wire", "a", ""]))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(_text, inner, max_size=4)), max_leaves=12)
_KNOWN = {s.section: [x.name for x in SETTINGS if x.section == s.section] for s in SETTINGS}
_FEED_KEYS = ["name", "url", "role", "interval", "credit", "fetch_article"]
_sections = st.sampled_from(sorted(_KNOWN)).flatmap(
    lambda sec: st.tuples(st.just(sec), st.dictionaries(st.sampled_from([*_KNOWN[sec], "from", "x"]), _values,
                                                        max_size=4)))
_feed = st.dictionaries(st.sampled_from([*_FEED_KEYS, "rol"]), _values, max_size=6)
_documents = st.one_of(
    st.dictionaries(_text, _values, max_size=4),  # anything at all
    st.builds(lambda secs, feeds: {**dict(secs), "feeds": feeds},  # the right shape, wrong values
              st.lists(_sections, max_size=3), st.lists(_feed, max_size=3)),
    st.builds(lambda secs, extra: {**dict(secs), **extra}, st.lists(_sections, max_size=3),
              st.dictionaries(st.sampled_from(["feeds", "database", "digest"]), _values, max_size=2)),
)


def _only_config_error(text: str) -> None:
    try:
        parse_config(text, "fuzz.toml")
    except ConfigError as e:
        assert str(e).startswith("fuzz.toml") and "\n" not in str(e), str(e)


@settings(max_examples=200, deadline=None)
@given(_documents)
def test_any_toml_document_gives_config_or_one_line_config_error(doc: dict) -> None:
    _only_config_error(tomli_w.dumps(doc))


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from('[]{}="\'.,#\n \\abx019-_feeds') | st.characters(blacklist_categories=("Cs",)),
               max_size=60))
def test_any_text_gives_config_or_one_line_config_error(text: str) -> None:
    _only_config_error(text)
