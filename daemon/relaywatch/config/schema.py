"""The declared config schema: one frozen pydantic model per TOML table, ``[[feeds]]`` included.

Each field carries its type, its allowed range, its help text (``Field(description=...)``, printed
by ``relaywatch config``) and whether it is a secret. Unknown keys are refused (``extra="forbid"``)
and types are strict (a TOML string is not an integer). ``load.py`` turns pydantic's errors into
one line naming the file, the line and the key.
"""

from __future__ import annotations

import math
import os
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

ROLES = ("wire", "outlet", "relay")
MAX_DURATION = 30 * 86400  # 30 days: no poll interval or backoff is longer
DAY = 86400

_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_INTERVAL = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_EXAMPLES = "(use e.g. 90s, 15m, 1h30m, 2d)"


def parse_interval(text: str | int | float) -> int:
    """'90s', '15m', '1h30m', '2d' (or a number of seconds) -> seconds, 1s to 30d; ValueError otherwise."""
    shown = repr(text) if len(repr(text)) <= 60 else repr(text)[:57] + "..."
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"not a duration: {shown} {_EXAMPLES}")
    if isinstance(text, str):
        s = text.strip().lower().replace(" ", "")
        if not s or _INTERVAL.sub("", s):
            raise ValueError(f"not a duration: {shown} {_EXAMPLES}")
        total = sum(float(n) * _UNIT[u] for n, u in _INTERVAL.findall(s))
    else:
        total = text
    if not math.isfinite(total) or not 1 <= total <= MAX_DURATION:
        raise ValueError(f"must be between 1s and 30d, not {shown}")
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


def _duration_text(text: str) -> str:
    parse_interval(text)
    return text


def _seconds(value: Any) -> Any:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return parse_interval(value)
    raise PydanticCustomError("duration_type", "must be a duration like 15m or a number of seconds")


def _error_at(loc: tuple[int | str, ...], kind: str, message: str, value: Any, **ctx: Any) -> ValidationError:
    """An error at ``loc`` below the field being validated (pydantic prefixes the field's own path)."""
    return ValidationError.from_exception_data("Config", [InitErrorDetails(
        type=PydanticCustomError(kind, message, ctx or None), loc=loc, input=value)])


def _between(lo: float, hi: float, *, above: bool = False) -> AfterValidator:
    """Range check with one message giving both ends (``above``: lo itself is not allowed)."""

    def check(value: float) -> float:
        if value > hi or value < lo or (above and value == lo):
            low = f"more than {lo}" if above else f"at least {lo}"
            raise PydanticCustomError("out_of_range", f"must be {low} and at most {hi}")
        return value

    return AfterValidator(check)


def _listed(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _one_or_listed(value: Any) -> Any:
    return (value,) if isinstance(value, str) else _listed(value)


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:
        raise ValueError(f"not an IANA time zone: {name!r}") from e
    return name


def _clock(text: str) -> str:
    if not re.fullmatch(r"([01]?\d|2[0-3]):[0-5]\d", text):
        raise ValueError(f"must be HH:MM, not {text!r}")
    return text


def _credit(name: str) -> str:
    if not name.strip():
        raise ValueError(f"a credit must be a name, e.g. \"Reuters\", not {name!r}")
    return name.strip()


Duration = Annotated[str, AfterValidator(_duration_text)]  # kept as written ('30m'); checked 1s..30d
Seconds = Annotated[int, BeforeValidator(_seconds)]
Timeout = Annotated[float, _between(0, DAY, above=True)]
Role = Literal[ROLES]  # type: ignore[valid-type]


def _s(default: Any, help: str, secret: bool = False, alias: str | None = None) -> Any:  # noqa: A002
    return Field(default, description=help, alias=alias, json_schema_extra={"secret": secret})


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False,
                              populate_by_name=True)


class DatabaseConfig(_Model):
    path: Annotated[str, Field(min_length=1)] = _s(
        "relaywatch.db", "SQLite file (relative paths are relative to the config file)")
    busy_timeout: Annotated[float, _between(0, DAY)] = _s(
        30.0, "seconds to wait for a lock held by a reader before giving up")

    @field_validator("path")
    @classmethod
    def _beside_the_file(cls, path: str, info: ValidationInfo) -> str:
        base = (info.context or {}).get("base_dir")
        if base is None or path == ":memory:" or os.path.isabs(path):
            return path
        return os.path.join(base, path)


class DefaultsConfig(_Model):
    interval: Duration = _s("30m", "default polling interval of a feed (e.g. 90s, 15m, 1h)")
    min_interval: Duration = _s("1m", "no feed is polled more often than this")
    max_backoff: Duration = _s("6h", "longest wait after repeated failures")
    honor_ttl: bool = _s(True, "use a feed's <ttl> / Cache-Control max-age when longer than its interval")
    fetch_article: bool = _s(False, "always fetch each entry's article page")
    summary_words: Annotated[int, _between(0, 100_000)] = _s(
        60, "fetch the article page when the feed text has fewer words than this")


class FetchConfig(_Model):
    connect_timeout: Timeout = _s(10.0, "seconds to connect")
    read_timeout: Timeout = _s(20.0, "seconds to wait for any byte")
    total_timeout: Timeout = _s(30.0, "seconds for a whole request, however slowly the server sends")
    max_bytes: Annotated[int, _between(1, 2**31)] = _s(
        10_000_000, "largest body accepted, counted after decompression")
    max_redirects: Annotated[int, _between(0, 50)] = _s(5, "redirects followed per request")
    max_entries: Annotated[int, _between(1, 1_000_000)] = _s(500, "entries taken from one poll of a feed")
    per_host_concurrency: Annotated[int, _between(1, 1000)] = _s(2, "requests in flight to one host at once")
    per_host_delay: Annotated[float, _between(0, 3600)] = _s(1.0, "seconds between two requests to one host")
    contact: str = _s("", "URL or e-mail put in the User-Agent so publishers can reach you")
    respect_robots: bool = _s(True, "obey robots.txt for article pages")
    allow_private_networks: bool = _s(
        False, "let links found in feeds (article pages) reach loopback, LAN and link-local addresses")


class SchedulerConfig(_Model):
    workers: Annotated[int, _between(1, 1000)] = _s(8, "threads polling feeds at once")
    jitter: Annotated[int, _between(0, DAY)] = _s(30, "seconds of random delay added to each scheduled poll")
    processes: Annotated[int, _between(0, 256)] = _s(
        2, "worker processes that parse large feeds and clean and fingerprint their entries (0: none)")
    fingerprint_cache_mb: Annotated[int, _between(1, 65536)] = _s(
        128, "MiB of recent entries' fingerprints kept in memory for matching (read back from the database past it)")
    article_cache_mb: Annotated[int, _between(1, 65536)] = _s(
        16, "MiB of article page texts kept in memory (each page is fetched once)")


class DigestConfig(_Model):
    to: Annotated[tuple[str, ...], BeforeValidator(_one_or_listed)] = _s(
        (), "recipients of the daily digest (empty: no digest is sent)")
    sender: str = _s("relaywatch@localhost", "From: address of the digest (TOML key: from)", alias="from")
    time: Annotated[str, AfterValidator(_clock)] = _s("07:00", "local time at which the digest is sent")
    timezone: Annotated[str, AfterValidator(_zone)] = _s("UTC", "IANA zone whose calendar day a digest covers")
    subject: str = _s("relaywatch digest for {date}: {copies} copies of {stories} stories",
                      "subject template; fields: date, copies, stories")
    send_empty: bool = _s(True, "send a short 'nothing found' digest for a day without copies")
    list_unsubscribe: str = _s("", "List-Unsubscribe header of the digest, e.g. <mailto:editor@example.org>")

    @model_validator(mode="before")
    @classmethod
    def _one_sender(cls, data: Any) -> Any:
        if isinstance(data, dict) and "from" in data and "sender" in data:
            raise _error_at(("sender",), "same_setting", "the same setting as digest.from: give one", data["sender"])
        return data


class SmtpConfig(_Model):
    host: str = _s("localhost", "SMTP server")
    port: Annotated[int, _between(1, 65535)] = _s(25, "SMTP port")
    security: Literal["starttls", "tls", "none"] = _s("none", "starttls, tls or none")
    username: str = _s("", "SMTP user name (empty: no login)")
    password_env: str = _s("", "environment variable holding the SMTP password", secret=True)
    timeout: Timeout = _s(30.0, "seconds for the SMTP conversation")


def _listen(text: str) -> str:
    if text and not re.fullmatch(r"[A-Za-z0-9_.:\[\]-]+:\d{1,5}", text):
        raise ValueError(f"must be HOST:PORT, e.g. 127.0.0.1:9108, not {text!r}")
    if text and not 1 <= int(text.rsplit(":", 1)[1]) <= 65535:
        raise ValueError(f"the port must be 1 to 65535, not {text!r}")
    return text


class WebConfig(_Model):
    host: str = _s("127.0.0.1", "address relaywatch serve listens on (127.0.0.1: this machine only)")
    port: Annotated[int, _between(1, 65535)] = _s(8001, "port relaywatch serve listens on")


class MetricsConfig(_Model):
    listen: Annotated[str, AfterValidator(_listen)] = _s(
        "", "HOST:PORT where the daemon serves Prometheus metrics, e.g. 127.0.0.1:9108 (empty: off)")


class FeedConfig(_Model):
    """One ``[[feeds]]`` table. ``interval`` is in seconds once loaded; if the file leaves it out,
    ``Config`` fills in ``[defaults] interval`` (and no feed goes below ``min_interval``)."""

    name: Annotated[str, AfterValidator(check_name)] = Field(description="unique name of the feed")
    url: Annotated[str, AfterValidator(check_url)] = Field(description="http(s) address of the RSS/Atom/RDF feed")
    role: Role = _s("outlet", "wire, outlet or relay")
    interval: Seconds = _s(1800, "polling interval (e.g. 15m); default from [defaults]")
    credit: Annotated[tuple[Annotated[str, AfterValidator(_credit)], ...], BeforeValidator(_listed)] = _s(
        (), "names that credit this feed's stories (e.g. [\"Reuters\"])")
    fetch_article: bool | None = _s(None, "fetch each entry's article page")

    def with_defaults(self, defaults: DefaultsConfig) -> FeedConfig:
        """This feed with the default interval if it gave none, and never below min_interval."""
        seconds = self.interval if "interval" in self.model_fields_set else parse_interval(defaults.interval)
        return self.model_copy(update={"interval": max(seconds, parse_interval(defaults.min_interval))})


class Config(_Model):
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    defaults: DefaultsConfig = Field(default_factory=DefaultsConfig)
    fetch: FetchConfig = Field(default_factory=FetchConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    digest: DigestConfig = Field(default_factory=DigestConfig)
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    web: WebConfig = Field(default_factory=WebConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    feeds: Annotated[tuple[FeedConfig, ...], BeforeValidator(_listed)] = ()
    _source: str = PrivateAttr("")  # the file it came from, for messages (set by the loader, not a TOML key)

    @field_validator("feeds")
    @classmethod
    def _resolve_feeds(cls, feeds: tuple[FeedConfig, ...], info: ValidationInfo) -> tuple[FeedConfig, ...]:
        first: dict[str, int] = {}
        for i, feed in enumerate(feeds):
            if feed.name in first:
                raise _error_at((i, "name"), "duplicate_name", f"duplicate feed name {feed.name!r}", feed.name,
                                first=first[feed.name])
            first[feed.name] = i
        defaults = info.data.get("defaults")
        return feeds if defaults is None else tuple(f.with_defaults(defaults) for f in feeds)

    @property
    def source(self) -> str:
        return self._source

    @property
    def db_path(self) -> str:
        return self.database.path

    def smtp_password(self) -> str | None:
        env = self.smtp.password_env
        return os.environ.get(env) if env else None


SECTIONS: dict[str, type[BaseModel]] = {
    name: info.annotation for name, info in Config.model_fields.items() if name != "feeds"  # type: ignore[misc]
}
