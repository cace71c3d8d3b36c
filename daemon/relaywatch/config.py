"""Configuration: one declared table of settings, loaded from TOML into frozen dataclasses.

Every setting is a dataclass field whose metadata carries its help text and whether it is a
secret; ``SETTINGS`` (built from those fields) is the table that ``relaywatch config`` prints and
that the loader checks keys against. Errors name the key and the line of the file, and are
raised before anything else happens.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from relaywatch.errors import RelaywatchError

ROLES = ("wire", "outlet", "relay")


class ConfigError(RelaywatchError):
    exit_code = 2


def _s(default: Any, help: str, secret: bool = False) -> Any:  # noqa: A002 - the table's word
    if isinstance(default, list | tuple):
        return field(default_factory=lambda: tuple(default), metadata={"help": help, "secret": secret})
    return field(default=default, metadata={"help": help, "secret": secret})


@dataclass(frozen=True)
class DatabaseConfig:
    path: str = _s("relaywatch.db", "SQLite file (relative paths are relative to the config file)")
    busy_timeout: float = _s(30.0, "seconds to wait for a lock held by a reader before giving up")


@dataclass(frozen=True)
class DefaultsConfig:
    interval: str = _s("30m", "default polling interval of a feed (e.g. 90s, 15m, 1h)")
    min_interval: str = _s("1m", "no feed is polled more often than this")
    max_backoff: str = _s("6h", "longest wait after repeated failures")
    honor_ttl: bool = _s(True, "use a feed's <ttl> / Cache-Control max-age when longer than its interval")
    fetch_article: bool = _s(False, "always fetch each entry's article page")
    summary_words: int = _s(60, "fetch the article page when the feed text has fewer words than this")


@dataclass(frozen=True)
class FetchConfig:
    connect_timeout: float = _s(10.0, "seconds to connect")
    read_timeout: float = _s(20.0, "seconds to wait for any byte")
    total_timeout: float = _s(30.0, "seconds for a whole request, however slowly the server sends")
    max_bytes: int = _s(10_000_000, "largest body accepted, counted after decompression")
    max_redirects: int = _s(5, "redirects followed per request")
    max_entries: int = _s(500, "entries taken from one poll of a feed")
    per_host_concurrency: int = _s(2, "requests in flight to one host at once")
    per_host_delay: float = _s(1.0, "seconds between two requests to one host")
    contact: str = _s("", "URL or e-mail put in the User-Agent so publishers can reach you")
    respect_robots: bool = _s(True, "obey robots.txt for article pages")


@dataclass(frozen=True)
class SchedulerConfig:
    workers: int = _s(8, "threads polling feeds at once")
    jitter: int = _s(30, "seconds of random delay added to each scheduled poll")
    processes: int = _s(2, "worker processes that parse large feeds and clean and fingerprint their entries (0: none)")


@dataclass(frozen=True)
class DigestConfig:
    to: tuple[str, ...] = _s([], "recipients of the daily digest (empty: no digest is sent)")
    sender: str = _s("relaywatch@localhost", "From: address of the digest (TOML key: from)")
    time: str = _s("07:00", "local time at which the digest is sent")
    timezone: str = _s("UTC", "IANA zone whose calendar day a digest covers")
    subject: str = _s("relaywatch digest for {date}: {copies} copies of {stories} stories",
                      "subject template; fields: date, copies, stories")
    send_empty: bool = _s(True, "send a short 'nothing found' digest for a day without copies")
    list_unsubscribe: str = _s("", "List-Unsubscribe header of the digest, e.g. <mailto:editor@example.org>")


@dataclass(frozen=True)
class SmtpConfig:
    host: str = _s("localhost", "SMTP server")
    port: int = _s(25, "SMTP port")
    security: str = _s("none", "starttls, tls or none")
    username: str = _s("", "SMTP user name (empty: no login)")
    password_env: str = _s("", "environment variable holding the SMTP password", secret=True)
    timeout: float = _s(30.0, "seconds for the SMTP conversation")


@dataclass(frozen=True)
class FeedConfig:
    name: str
    url: str
    role: str = "outlet"
    interval: int = 1800
    credit: tuple[str, ...] = ()
    fetch_article: bool | None = None


FEED_KEYS = {
    "name": (str, "unique name of the feed"),
    "url": (str, "http(s) address of the RSS/Atom/RDF feed"),
    "role": (str, "wire, outlet or relay"),
    "interval": (str, "polling interval (e.g. 15m); default from [defaults]"),
    "credit": (list, "names that credit this feed's stories (e.g. [\"Reuters\"])"),
    "fetch_article": (bool, "fetch each entry's article page"),
}


@dataclass(frozen=True)
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    defaults: DefaultsConfig = field(default_factory=DefaultsConfig)
    fetch: FetchConfig = field(default_factory=FetchConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    feeds: tuple[FeedConfig, ...] = ()
    source: str = ""  # the file it came from, for messages

    @property
    def db_path(self) -> str:
        return self.database.path

    def smtp_password(self) -> str | None:
        env = self.smtp.password_env
        return os.environ.get(env) if env else None


SECTIONS: dict[str, type] = {
    "database": DatabaseConfig,
    "defaults": DefaultsConfig,
    "fetch": FetchConfig,
    "scheduler": SchedulerConfig,
    "digest": DigestConfig,
    "smtp": SmtpConfig,
}


@dataclass(frozen=True)
class Setting:
    section: str
    name: str
    type: str
    default: Any
    help: str
    secret: bool


def _settings() -> tuple[Setting, ...]:
    out = []
    for section, cls in SECTIONS.items():
        hints = get_type_hints(cls)
        for f in fields(cls):
            default = f.default if f.default is not MISSING else f.default_factory()  # type: ignore[misc]
            out.append(Setting(section, f.name, _type_name(hints[f.name]), default,
                               f.metadata["help"], f.metadata["secret"]))
    return tuple(out)


def _type_name(t: Any) -> str:
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(t, "list of strings")


SETTINGS: tuple[Setting, ...] = _settings()


_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")


def parse_interval(text: str | int | float) -> int:
    """'90s', '15m', '1h30m', '2d' (or a number of seconds) -> seconds; ValueError if malformed."""
    if isinstance(text, bool):
        raise ValueError(f"not an interval: {text!r}")
    if isinstance(text, int | float):
        if text <= 0:
            raise ValueError(f"interval must be positive: {text!r}")
        return int(text)
    s = text.strip().lower().replace(" ", "")
    if not s or _INTERVAL.sub("", s):
        raise ValueError(f"not an interval: {text!r} (use e.g. 90s, 15m, 1h30m, 2d)")
    total = sum(float(n) * _UNIT[u] for n, u in _INTERVAL.findall(s))
    if total < 1:
        raise ValueError(f"interval must be at least 1s: {text!r}")
    return int(total)


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url


def check_name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
        raise ValueError(f"feed name must be letters, digits, '-', '_' or '.': {name!r}")
    return name


def make_feed(name: str, url: str, role: str = "outlet", interval: str | int | None = None,
              credit: list[str] | tuple[str, ...] = (), fetch_article: bool | None = None,
              defaults: DefaultsConfig | None = None) -> FeedConfig:
    """A checked FeedConfig (ValueError naming what is wrong)."""
    defaults = defaults or DefaultsConfig()
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}: {role!r}")
    seconds = parse_interval(interval if interval is not None else defaults.interval)
    seconds = max(seconds, parse_interval(defaults.min_interval))
    if isinstance(credit, str) or not all(isinstance(c, str) and c.strip() for c in credit):
        raise ValueError("credit must be a list of names, e.g. [\"Reuters\"]")
    return FeedConfig(check_name(name), check_url(url), role, seconds, tuple(c.strip() for c in credit),
                      fetch_article)


class _Lines:
    """Finds the line of a key in the TOML text (tomllib gives values, not positions).

    One pass over the text, then lookups: a config with thousands of ``[[feeds]]`` asks once per feed.
    """

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"]+)\s*\]\]?")
    _KEY = re.compile(r"^\s*\"?([A-Za-z0-9_\-]+)\"?\s*=")

    def __init__(self, text: str) -> None:
        self._keys: dict[tuple[str | None, int, str], int] = {}  # (section, table index, key): line
        self._headers: dict[tuple[str, int], int] = {}  # (section, table index): line of its header
        counts: dict[str, int] = {}  # per section: which table of it ([[array]] index; [table]: 0)
        current: str | None = None
        for no, line in enumerate(text.splitlines(), 1):
            m = self._HEADER.match(line)
            if m:
                current = m.group(2).strip('"')
                counts[current] = counts.get(current, -1) + 1 if m.group(1) == "[[" else 0
                self._headers[(current, counts[current])] = no
                continue
            k = self._KEY.match(line)
            if k:
                self._keys.setdefault((current, counts[current] if current else 0, k.group(1)), no)

    def find(self, section: str | None, key: str | None, index: int = 0) -> int:
        where = (section, index if section else 0, key or "")
        if key is not None and where in self._keys:
            return self._keys[where]
        return self._headers.get((section, index), 1) if section else 1


def _convert(value: Any, want: type, where: str) -> Any:
    if want is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{where} must be true or false, not {value!r}")
        return value
    if want is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{where} must be an integer, not {value!r}")
        return value
    if want is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{where} must be a number, not {value!r}")
        return float(value)
    if want is str:
        if not isinstance(value, str):
            raise ValueError(f"{where} must be a string, not {value!r}")
        return value
    # tuple[str, ...]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where} must be a list of strings, not {value!r}")
    return tuple(value)


# TOML keys that name a field differently (``from`` is a Python keyword)
ALIASES: dict[str, dict[str, str]] = {"digest": {"from": "sender"}}


def _section(cls: type, raw: Mapping[str, Any], name: str, lines: _Lines, path: str) -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    aliases = ALIASES.get(name, {})
    values = {}
    for toml_key, value in raw.items():
        line = lines.find(name, toml_key)
        key = aliases.get(toml_key, toml_key)
        if key != toml_key and key in raw:
            raise ConfigError(f"{path}:{line}: '{name}.{toml_key}' and '{name}.{key}' are the same setting: "
                              f"give one")
        if key not in known:
            raise ConfigError(f"{path}:{line}: unknown key '{name}.{toml_key}' "
                              f"(known: {', '.join(sorted(known | set(aliases)))})")
        try:
            values[key] = _convert(value, hints[key], f"'{name}.{toml_key}'")
        except ValueError as e:
            raise ConfigError(f"{path}:{line}: {e}") from e
    obj = cls(**values)
    try:
        _validate(name, obj)
    except ValueError as e:
        key = str(e).split("'")[1].split(".")[-1] if "'" in str(e) else None
        raise ConfigError(f"{path}:{lines.find(name, key)}: {e}") from e
    return obj


def _validate(name: str, obj: Any) -> None:
    if name == "defaults":
        for key in ("interval", "min_interval", "max_backoff"):
            try:
                parse_interval(getattr(obj, key))
            except ValueError as e:
                raise ValueError(f"'defaults.{key}': {e}") from e
    elif name == "smtp" and obj.security not in ("starttls", "tls", "none"):
        raise ValueError(f"'smtp.security' must be starttls, tls or none, not {obj.security!r}")
    elif name == "digest":
        if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", obj.time):
            raise ValueError(f"'digest.time' must be HH:MM, not {obj.time!r}")
        try:
            ZoneInfo(obj.timezone)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"'digest.timezone' is not an IANA time zone: {obj.timezone!r}") from e
    elif name == "fetch":
        for key in ("connect_timeout", "read_timeout", "total_timeout", "max_bytes", "max_entries",
                    "per_host_concurrency"):
            if getattr(obj, key) <= 0:
                raise ValueError(f"'fetch.{key}' must be positive")
    elif name == "scheduler" and obj.workers < 1:
        raise ValueError("'scheduler.workers' must be at least 1")
    elif name == "scheduler" and obj.processes < 0:
        raise ValueError("'scheduler.processes' must be 0 or more")


def parse_config(text: str, path: str = "<config>", base_dir: Path | None = None) -> Config:
    """Parse TOML text into a Config; ConfigError names the file, line and key."""
    lines = _Lines(text)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    sections = {}
    for key, value in raw.items():
        if key == "feeds":
            continue
        if key not in SECTIONS:
            raise ConfigError(f"{path}:{lines.find(key, None) if isinstance(value, dict) else lines.find(None, key)}:"
                              f" unknown key '{key}' (known: {', '.join(sorted([*SECTIONS, 'feeds']))})")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}:{lines.find(None, key)}: '{key}' must be a table ([{key}])")
        sections[key] = _section(SECTIONS[key], value, key, lines, path)
    defaults = sections.get("defaults", DefaultsConfig())
    database = sections.get("database", DatabaseConfig())
    if base_dir is not None and database.path != ":memory:" and not Path(database.path).is_absolute():
        database = replace(database, path=str(base_dir / database.path))
    sections["database"] = database
    feeds_raw = raw.get("feeds", [])
    if not isinstance(feeds_raw, list):
        raise ConfigError(f"{path}:{lines.find(None, 'feeds')}: 'feeds' must be an array of tables ([[feeds]])")
    feeds: list[FeedConfig] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(feeds_raw):
        for key in item:
            if key not in FEED_KEYS:
                raise ConfigError(f"{path}:{lines.find('feeds', key, i)}: unknown key 'feeds.{key}' "
                                  f"(known: {', '.join(FEED_KEYS)})")
        for key in ("name", "url"):
            if key not in item:
                raise ConfigError(f"{path}:{lines.find('feeds', None, i)}: feed #{i + 1} has no '{key}'")
        for key, value in item.items():
            want = FEED_KEYS[key][0]
            ok = isinstance(value, want) and not (want is not bool and isinstance(value, bool))
            if key == "interval" and isinstance(value, int) and not isinstance(value, bool):
                ok = True
            if not ok:
                raise ConfigError(f"{path}:{lines.find('feeds', key, i)}: 'feeds.{key}' of feed #{i + 1} "
                                  f"has the wrong type: {value!r}")
        try:
            feed = make_feed(item["name"], item["url"], item.get("role", "outlet"), item.get("interval"),
                             item.get("credit", ()), item.get("fetch_article"), defaults)
        except ValueError as e:
            bad = next((k for k in ("role", "interval", "credit", "url", "name") if k in str(e) or
                        (k == "url" and "URL" in str(e)) or (k == "name" and "name" in str(e))), None)
            raise ConfigError(f"{path}:{lines.find('feeds', bad, i)}: feed #{i + 1}: {e}") from e
        if feed.name in seen:
            raise ConfigError(f"{path}:{lines.find('feeds', 'name', i)}: duplicate feed name "
                              f"'{feed.name}' (first on line {seen[feed.name]})")
        seen[feed.name] = lines.find("feeds", "name", i)
        feeds.append(feed)
    return Config(**sections, feeds=tuple(feeds), source=path)


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """Load a config file (None: built-in defaults, database in the current directory)."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{p}: cannot read config: {e.strerror or e}") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{p}: config is not UTF-8 text") from e
    return parse_config(text, str(p), p.resolve().parent)


def describe(config: Config) -> Iterator[tuple[str, str, str]]:
    """(key, value, help) for every setting, secrets masked."""
    for s in SETTINGS:
        value = getattr(getattr(config, s.section), s.name)
        shown = "********" if s.secret and value else repr(value)
        yield f"{s.section}.{s.name}", shown, s.help
