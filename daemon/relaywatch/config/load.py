"""Loading: TOML text -> ``Config`` (schema.py), every problem as ONE line naming file, line and key.

A key path is written as in TOML: ``database.path``, ``feeds[3].interval``. Array positions count
from 1, as a reader counts ``[[feeds]]`` tables down the file (the third ``[[feeds]]`` is
``feeds[3]``). Paths come from pydantic's ``ValidationError.errors()`` ``loc`` tuples; lines from
one scan of the TOML text (``_Lines``).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from relaywatch.config.schema import SECTIONS, Config, DefaultsConfig, FeedConfig
from relaywatch.errors import RelaywatchError


class ConfigError(RelaywatchError):
    exit_code = 2


@dataclass(frozen=True)
class Setting:
    section: str
    name: str
    type: str
    default: Any
    help: str
    secret: bool


def _type_name(t: Any) -> str:
    return {str: "string", int: "integer", float: "number", bool: "boolean"}.get(t, "list of strings")


SETTINGS: tuple[Setting, ...] = tuple(
    Setting(section, name, _type_name(f.annotation), f.get_default(call_default_factory=True), f.description or "",
            bool((f.json_schema_extra or {}).get("secret")))  # type: ignore[union-attr]
    for section, model in SECTIONS.items() for name, f in model.model_fields.items())


def describe(config: Config) -> Iterator[tuple[str, str, str]]:
    """(key, value, help) for every setting, secrets masked."""
    for s in SETTINGS:
        value = getattr(getattr(config, s.section), s.name)
        shown = "********" if s.secret and value else repr(value)
        yield f"{s.section}.{s.name}", shown, s.help


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
                self._headers.setdefault((current, counts[current]), no)
                continue
            k = self._KEY.match(line)
            if k:
                self._keys.setdefault((current, counts[current] if current else 0, k.group(1)), no)

    def find(self, section: str | None, key: str | None, index: int = 0) -> int:
        """Line of ``key`` in table ``index`` of ``section``, else of that table's header, else of
        ``section = ...`` at the top (inline tables), else 1."""
        if key is not None and (section, index if section else 0, key) in self._keys:
            return self._keys[(section, index if section else 0, key)]
        if section is None:
            return 1
        return self._headers.get((section, index)) or self._keys.get((None, 0, section), 1)

    def of(self, loc: tuple[int | str, ...]) -> int:
        """Line of a pydantic ``loc``: (section,), (section, key, ...) or (section, index, key, ...)."""
        section, rest = str(loc[0]), loc[1:]
        index = rest[0] if rest and isinstance(rest[0], int) else 0
        if rest and isinstance(rest[0], int):
            rest = rest[1:]
        return self.find(section, str(rest[0]) if rest else None, index)


_BARE = re.compile(r"[A-Za-z0-9_-]+")


def key_path(loc: tuple[int | str, ...]) -> str:
    """('feeds', 2, 'interval') -> 'feeds[3].interval' (1-based, as TOML tables are counted)."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part + 1}]"
        else:
            out += ("." if out else "") + (part if _BARE.fullmatch(part) else json.dumps(part))
    return out


def _show(value: Any) -> str:
    text = ("true" if value else "false") if isinstance(value, bool) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _known(loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed where ``loc`` points (its parent table), TOML spellings."""
    model: type[BaseModel] = Config
    if len(loc) > 1:
        model = FeedConfig if loc[0] == "feeds" else SECTIONS.get(str(loc[0]), Config)
    return [f.alias or name for name, f in model.model_fields.items()]


def _unknown(loc: tuple[int | str, ...]) -> str:
    known = _known(loc)
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return f"unknown key (did you mean {close[0]!r}?)" if close else f"unknown key (known: {', '.join(known)})"


_TYPES = {
    "string_type": "must be a string", "int_type": "must be an integer", "int_from_float": "must be an integer",
    "float_type": "must be a number", "finite_number": "must be a finite number", "bool_type": "must be true or false",
    "tuple_type": "must be a list", "list_type": "must be a list", "model_type": "must be a table",
    "dict_type": "must be a table", "model_attributes_type": "must be a table",
    "missing": "required key is missing", "string_too_short": "must not be empty",
}
_SHOW_INPUT = {*_TYPES, "out_of_range", "duration_type"} - {"missing", "string_too_short"}


def _problem(err: ErrorDetails, lines: _Lines) -> str:
    loc, kind, ctx = err["loc"], err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown(loc)
    if kind == "value_error":
        return str(ctx.get("error", err["msg"]))
    if kind == "duplicate_name":
        return f"{err['msg']} (first on line {lines.find('feeds', 'name', ctx['first'])})"
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}, not {_show(err['input'])}"
    if kind in ("tuple_type", "list_type") and loc == ("feeds",):
        return "must be an array of tables ([[feeds]])"
    if kind in ("model_type", "dict_type") and len(loc) == 1:
        return f"must be a table ([{loc[0]}])"
    if kind in ("model_type", "dict_type") and loc[0] == "feeds":
        return "must be a table ([[feeds]])"
    text = _TYPES.get(kind, err["msg"])
    return f"{text}, not {_show(err['input'])}" if kind in _SHOW_INPUT else text


def _explain(e: ValidationError, lines: _Lines, path: str) -> str:
    """The first problem in file order, one line; how many more there are."""
    found = sorted((lines.of(err["loc"]) if err["loc"] else 1, n, err) for n, err in enumerate(e.errors()))
    line, _, err = found[0]
    where = key_path(err["loc"])
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return f"{path}:{line}: {where + ': ' if where else ''}{_problem(err, lines)}{more}"


def _toml_error(e: tomllib.TOMLDecodeError, text: str) -> tuple[int, str]:
    """tomllib (Python < 3.14) gives the position only inside its message: '... (at line 3, column 7)'."""
    message = str(e.args[0] if e.args else e)
    m = re.search(r" \(at line (\d+), column (\d+)\)$", message)
    if m:
        return int(m.group(1)), f"{message[:m.start()]} (column {m.group(2)})"
    line = getattr(e, "lineno", None) or max(1, text.count("\n") + (not text.endswith("\n")))
    return line, message.removesuffix(" (at end of document)")


def _one_line(text: str) -> str:
    return " ".join(text.split("\n"))


def parse_config(text: str, path: str = "<config>", base_dir: Path | None = None) -> Config:
    """Parse TOML text into a Config; ConfigError names the file, line and key."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line, message = _toml_error(e, text)
        raise ConfigError(_one_line(f"{path}:{line}: not valid TOML: {message}")) from e
    except RecursionError as e:
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from e
    try:
        config = Config.model_validate(raw, context={"base_dir": base_dir})
    except ValidationError as e:
        raise ConfigError(_one_line(_explain(e, _Lines(text), path))) from e
    config._source = path
    return config


def config_places() -> list[Path]:
    """Where a config is looked for when neither --config nor $RELAYWATCH_CONFIG names one."""
    home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return [Path(home) / "relaywatch" / "relaywatch.toml", Path("/etc/relaywatch/relaywatch.toml")]


def find_config(given: str | os.PathLike[str] | None) -> Path:
    """The config file to load: ``given`` (--config, or $RELAYWATCH_CONFIG through click), else the
    first of ``config_places()`` that exists; ConfigError saying where it looked when none does."""
    if given is not None and str(given) != "":
        return Path(given)
    places = config_places()
    for place in places:
        if place.is_file():
            return place
    looked = ", no ".join(str(p) for p in places)
    raise ConfigError(f"no configuration found: no --config FILE, no $RELAYWATCH_CONFIG, no {looked}"
                      " (config/example.toml is one to start from)")


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """Load a config file (None: built-in defaults, e.g. for tests and library use; the CLI
    always names a file, see ``find_config``)."""
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


def make_feed(name: str, url: str, role: str = "outlet", interval: str | int | None = None,
              credit: list[str] | tuple[str, ...] = (), fetch_article: bool | None = None,
              defaults: DefaultsConfig | None = None) -> FeedConfig:
    """A checked FeedConfig (ValueError naming the key that is wrong, e.g. 'interval: not a duration ...')."""
    given: dict[str, Any] = {"name": name, "url": url, "role": role, "credit": credit, "fetch_article": fetch_article}
    if interval is not None:
        given["interval"] = interval
    try:
        feed = FeedConfig.model_validate(given)
    except ValidationError as e:
        err = e.errors()[0]
        raise ValueError(_one_line(f"{key_path(err['loc'])}: {_problem(err, _Lines(''))}")) from None
    return feed.with_defaults(defaults or DefaultsConfig())
