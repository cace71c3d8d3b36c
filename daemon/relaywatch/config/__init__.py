"""Configuration: one declared schema (``schema.py``, pydantic v2 models) loaded from TOML (``load.py``).

Every setting is a field of a frozen model carrying its type, range, help text and whether it is a
secret; ``relaywatch config`` prints that table. Errors are one line naming the file, the line and
the key path (``feeds[3].interval``, counting ``[[feeds]]`` tables from 1), raised before anything
else happens.
"""

from relaywatch.config.load import (
    SETTINGS,
    ConfigError,
    Setting,
    config_places,
    describe,
    find_config,
    key_path,
    load_config,
    make_feed,
    parse_config,
)
from relaywatch.config.schema import (
    MAX_DURATION,
    ROLES,
    SECTIONS,
    Config,
    DatabaseConfig,
    DefaultsConfig,
    DigestConfig,
    FeedConfig,
    FetchConfig,
    SchedulerConfig,
    SmtpConfig,
    check_name,
    check_url,
    parse_interval,
)

__all__ = [
    "MAX_DURATION", "ROLES", "SECTIONS", "SETTINGS", "Config", "ConfigError", "DatabaseConfig", "DefaultsConfig",
    "DigestConfig", "FeedConfig", "FetchConfig", "SchedulerConfig", "Setting", "SmtpConfig", "check_name",
    "check_url", "config_places", "describe", "find_config", "key_path", "load_config", "make_feed", "parse_config",
    "parse_interval",
]
