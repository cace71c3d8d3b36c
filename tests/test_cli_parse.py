"""Values at the edge: arbitrary strings and numbers thrown (Hypothesis) at the config loader and at
the CLI's date, limit, id and duration parsers give a value in range or one clean error line,
never a traceback."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relaywatch.cli.main import main
from relaywatch.cli.parse import FIRST_DAY, LAST_DAY, parse_day, parse_span, parse_when
from relaywatch.config import MAX_DURATION, SETTINGS, Config, ConfigError, parse_config, parse_interval

NUMBERS = st.one_of(st.integers(), st.integers(min_value=-(2**64), max_value=2**64),
                    st.floats(allow_nan=True, allow_infinity=True))
DURATION_TEXT = st.one_of(
    st.text(),
    st.builds(lambda n, u: f"{n}{u}", st.one_of(st.integers(min_value=0), st.floats(min_value=0)),
              st.sampled_from(["s", "m", "h", "d", "", "x", "d1"])),
    st.from_regex(r"\A[0-9]{1,400}(\.[0-9]{1,30})?[smhd]\Z"),
)
DATE_TEXT = st.one_of(
    st.text(max_size=40),
    st.datetimes(timezones=st.one_of(st.none(), st.timezones())).map(lambda d: d.isoformat()),
    st.dates().map(lambda d: d.isoformat()),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}([+-][0-9]{2}:[0-9]{2})?)?\Z"),
)
SCALARS = st.one_of(st.text(max_size=30), NUMBERS, st.booleans(), DURATION_TEXT,
                    st.lists(st.text(max_size=10), max_size=3), st.datetimes())
SETTING_NAMES = st.sampled_from([(s.section, s.name) for s in SETTINGS])
FEED_KEYS = st.sampled_from(["name", "url", "role", "interval", "credit", "fetch_article", "bogus"])


def _one_clean_line(message: str) -> None:
    assert message and "\n" not in message and "Traceback" not in message


# -- the config loader ------------------------------------------------------------------------------

@given(st.text())
@settings(max_examples=300)
def test_any_text_is_a_config_or_one_error_line(text: str) -> None:
    try:
        parse_config(text, "fuzz.toml")
    except ConfigError as e:
        assert str(e).startswith("fuzz.toml:")
        _one_clean_line(str(e))


@given(st.dictionaries(SETTING_NAMES, SCALARS, max_size=4),
       st.lists(st.dictionaries(FEED_KEYS, SCALARS, max_size=5), max_size=3))
@settings(max_examples=300)
def test_any_values_are_a_config_or_one_error_line(values: dict[tuple[str, str], Any],
                                                    feeds: list[dict[str, Any]]) -> None:
    doc: dict[str, Any] = {}
    for (section, name), value in values.items():
        doc.setdefault(section, {})["from" if name == "sender" else name] = value
    if feeds:
        doc["feeds"] = feeds
    try:
        config = parse_config(tomli_w.dumps(doc), "fuzz.toml")
    except ConfigError as e:
        assert str(e).startswith("fuzz.toml:")
        _one_clean_line(str(e))
        return
    assert isinstance(config, Config)
    for feed in config.feeds:  # what the scheduler will add to a datetime
        assert 1 <= feed.interval <= MAX_DURATION
    for key in ("interval", "min_interval", "max_backoff"):
        assert 1 <= parse_interval(getattr(config.defaults, key)) <= MAX_DURATION


@given(st.one_of(DURATION_TEXT, NUMBERS))
@settings(max_examples=500)
def test_a_duration_is_1s_to_30d_or_one_error_line(value: Any) -> None:
    try:
        seconds = parse_interval(value)
    except ValueError as e:
        _one_clean_line(str(e))
        return
    assert 1 <= seconds <= MAX_DURATION and isinstance(seconds, int)


def test_the_durations_of_the_issue_are_refused_naming_the_key() -> None:
    for text, shown in (("10000000d", "'10000000d'"), ("99999999999999999999d", "'99999999999999999999d'"),
                        ("9" * 400 + "d", "'" + "9" * 56 + "...")):
        with pytest.raises(ConfigError) as e:
            parse_config(f'[[feeds]]\nname = "a"\nurl = "https://a.example/rss"\ninterval = "{text}"\n', "c.toml")
        assert str(e.value) == f"c.toml:4: feeds[1].interval: must be between 1s and 30d, not {shown}"


# -- the CLI's parsers ------------------------------------------------------------------------------

@given(DATE_TEXT)
@settings(max_examples=500)
def test_a_since_is_a_date_in_range_or_one_error_line(text: str) -> None:
    try:
        when = parse_when(text, "--since")
    except ConfigError as e:
        assert str(e).startswith("--since must be ")
        _one_clean_line(str(e))
        return
    assert when is None or (when.tzinfo is UTC and FIRST_DAY <= when.date() <= LAST_DAY)


@given(DATE_TEXT)
@settings(max_examples=500)
def test_a_digest_day_is_in_range_or_one_error_line(text: str) -> None:
    try:
        day = parse_day(text)
    except ConfigError as e:
        assert str(e).startswith("--date must be ")
        _one_clean_line(str(e))
        return
    assert FIRST_DAY <= day <= LAST_DAY


@given(DATE_TEXT, DATE_TEXT)
@settings(max_examples=300)
def test_since_is_never_after_until(since: str, until: str) -> None:
    try:
        start, end = parse_span(since, until)
    except ConfigError as e:
        _one_clean_line(str(e))
        return
    assert start is None or end is None or start <= end


def test_dates_past_what_the_record_holds_name_the_range() -> None:
    with pytest.raises(ConfigError) as e:
        parse_day("9999-12-31")
    assert str(e.value) == "--date must be between 1970-01-01 and 9998-12-31, not '9999-12-31'"
    with pytest.raises(ConfigError) as e:
        parse_when("9998-12-31T23:00-05:00", "--until")  # the next year in UTC
    assert str(e.value) == "--until must be between 1970-01-01 and 9998-12-31 (UTC), not '9998-12-31T23:00-05:00'"
    assert parse_when("9998-12-31T23:00+05:00") == datetime(9998, 12, 31, 18, 0, tzinfo=UTC)


# -- the same, through the command line (a real database) ------------------------------------------

@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("fuzz") / "c.toml"
    path.write_text('[database]\npath = "r.db"\n')
    assert main(["-c", str(path), "-q", "reposts"]) == 0  # the database made once
    return str(path)


ARGV = st.one_of(
    st.tuples(st.just("reposts"), st.just("--limit"), NUMBERS.map(str)),
    st.tuples(st.just("stories"), st.just("--min-copies"), st.one_of(NUMBERS.map(str), st.text(max_size=8))),
    st.tuples(st.just("story"), st.one_of(NUMBERS.map(str), st.text(max_size=8))),
    st.tuples(st.just("reposts"), st.just("--since"), DATE_TEXT),
    st.tuples(st.just("outlets"), st.just("--since"), DATE_TEXT, st.just("--until"), DATE_TEXT),
    st.tuples(st.just("digest"), st.just("--print"), st.just("--date"), DATE_TEXT),
    st.tuples(st.just("search"), st.just("--limit"), NUMBERS.map(str), st.just("--"), st.text(min_size=1, max_size=12)),
    st.tuples(st.just("feeds"), st.just("add"), st.just("fuzz"), st.just("https://f.example/rss"),
              st.just("--interval"), st.one_of(DURATION_TEXT, NUMBERS.map(str))),
)


@given(ARGV)
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_the_command_line_answers_or_says_why_in_one_line(cfg: str, capsys: pytest.CaptureFixture[str],
                                                          argv: tuple[str, ...]) -> None:
    if "\x00" in "".join(argv):  # not a value a shell can pass
        return
    code = main(["-c", cfg, "-q", *argv])
    _, err = capsys.readouterr()
    assert "Traceback" not in err and "unexpected error" not in err
    if code == 0:
        assert err == ""
    else:
        assert code in (1, 2)
        assert err.startswith(("relaywatch: ", "Usage: ")) and err.count("relaywatch: ") <= 1


def test_limit_zero_or_negative_is_a_usage_error(cfg: str, capsys: pytest.CaptureFixture[str]) -> None:
    for value in ("0", "-1"):
        assert main(["-c", cfg, "reposts", "--limit", value]) == 2
        assert capsys.readouterr().err.endswith(
            f"Error: Invalid value for '--limit': {value} is not in the range 1<=x<=1000000.\n")
