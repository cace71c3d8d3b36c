"""``relaywatch config``: every setting with its value and help, secrets masked."""

from __future__ import annotations

from relaywatch.cli.common import CliState, command, pass_state
from relaywatch.config import describe


@command("config", "show every setting (secrets masked)")
@pass_state
def config_cmd(state: CliState) -> None:
    """Show every setting, its value (from the config file or the default) and what it does;
    secrets are masked."""
    config = state.config
    for key, value, help_text in describe(config):
        print(f"{key} = {value}    # {help_text}")
    print(f"feeds: {len(config.feeds)} configured")
