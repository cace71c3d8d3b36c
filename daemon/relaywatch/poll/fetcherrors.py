"""The errors of an HTTP request (``http.Fetcher``), in a module of their own so that every part of
the fetcher (host limits, address checks, the fetcher itself) can raise them."""

from __future__ import annotations

from relaywatch.errors import RelaywatchError


class FetchError(RelaywatchError):
    """A request failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class HostBusy(FetchError):
    """No request was sent: the host's politeness slot did not come free in time (not the feed's fault)."""


class AddressRefused(FetchError):
    """No request was sent: the URL came from feed content and its host is on a private network."""
