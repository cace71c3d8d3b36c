"""Prometheus metrics for the operator: ``[metrics] listen = "127.0.0.1:9108"`` (off when absent).

``Metrics`` owns its own ``CollectorRegistry`` (no process-wide registry: two daemons in one
process, or the tests, never share counters) and is passed explicitly to what records into it:
the poller (each poll: its feed, failure, entries and links recorded, duration, last success),
the pipeline (the time to match one new entry) and the digest runner (each digest sent or
failed). ``serve`` exposes ``/metrics`` on the configured address with prometheus_client's own
HTTP server, in a thread of its own. docs/metrics.md lists the metrics, a scrape config and alerts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from relaywatch.errors import RelaywatchError

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from relaywatch.models import PollOutcome

POLL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
MATCH_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class MetricsError(RelaywatchError):
    pass


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9108`` for IPv6) as (host, port)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class Metrics:
    """The daemon's metrics, in one registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter("relaywatch_polls", "Polls of a feed (any outcome).", ["feed"], registry=r)
        self.poll_failures = Counter("relaywatch_poll_failures", "Polls of a feed that failed (an error recorded).",
                                     ["feed"], registry=r)
        self.entries = Counter("relaywatch_entries_recorded", "Entries recorded (new or updated), by feed.",
                               ["feed", "change"], registry=r)
        self.links = Counter("relaywatch_links_recorded", "Repost links recorded by polls of a feed.", ["feed"],
                             registry=r)
        self.poll_duration = Histogram("relaywatch_poll_duration_seconds",
                                       "Time to poll one feed: fetch, parse, store, match.",
                                       buckets=POLL_BUCKETS, registry=r)
        self.match_duration = Histogram("relaywatch_match_duration_seconds",
                                        "Time to match one new entry against the record.",
                                        buckets=MATCH_BUCKETS, registry=r)
        self.last_success = Gauge("relaywatch_feed_last_success_timestamp_seconds",
                                  "When a poll of the feed last succeeded (Unix time).", ["feed"], registry=r)
        self.last_poll = Gauge("relaywatch_last_poll_timestamp_seconds",
                               "When any poll last finished (Unix time).", registry=r)
        self.digests = Counter("relaywatch_digests", "Daily digests, by outcome (sent, failed).", ["status"],
                               registry=r)
        self.digest_sent = Gauge("relaywatch_digest_last_sent_timestamp_seconds",
                                 "When a daily digest was last sent (Unix time).", registry=r)
        self._server: WSGIServer | None = None

    def poll_done(self, feed: str, outcome: PollOutcome) -> None:
        """Record one poll of ``feed``."""
        self.polls.labels(feed).inc()
        end = outcome.started.timestamp() + outcome.duration_ms / 1000
        if outcome.error is None or outcome.error.startswith("malformed feed"):  # read, entries kept
            self.last_success.labels(feed).set(end)
        elif not outcome.error.startswith("deferred: "):  # deferred: the host was busy, not a failure
            self.poll_failures.labels(feed).inc()
        self.entries.labels(feed, "new").inc(outcome.new_entries)
        self.entries.labels(feed, "updated").inc(outcome.updated_entries)
        self.links.labels(feed).inc(outcome.links)
        self.poll_duration.observe(outcome.duration_ms / 1000)
        self.last_poll.set(end)

    def matched(self, seconds: float) -> None:
        self.match_duration.observe(seconds)

    def digest_done(self, sent: bool, when: float) -> None:
        self.digests.labels("sent" if sent else "failed").inc()
        if sent:
            self.digest_sent.set(when)

    def serve(self, listen: str) -> tuple[str, int]:
        """Serve ``/metrics`` on ``listen`` (HOST:PORT; port 0: any free one); the address bound."""
        host, port = parse_listen(listen)
        try:
            server, _thread = start_http_server(port, host, registry=self.registry)
        except OSError as e:
            raise MetricsError(f"metrics.listen {listen}: cannot listen: {e.strerror or e}") from e
        self._server = server
        return host, int(server.server_address[1])

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
