"""The command line."""

from relaywatch.cli.main import main

__all__ = ["main"]
