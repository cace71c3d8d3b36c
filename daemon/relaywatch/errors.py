"""The one base class of every error relaywatch raises on purpose.

Each module defines its own subclass (ConfigError in config, FetchError in fetch, ...), and
raises it ``from`` the underlying exception, so the CLI can turn any of them into one line.
"""


class RelaywatchError(Exception):
    """Base class: its message is one line meant for the user."""

    exit_code = 1
