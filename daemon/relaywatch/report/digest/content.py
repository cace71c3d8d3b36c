"""What the daily digest says: one calendar day (in the configured zone) read from the store.

``build_content`` gathers the day's copies grouped by story, the outlets' counts, the feeds with
a problem and the copies of earlier days found late, all from the store's read-side questions
(``report.questions``). The result is plain data; ``render`` decides how it looks and ``send``
how it goes out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from relaywatch.errors import RelaywatchError
from relaywatch.report.lookup import FeedHealth, feed_status
from relaywatch.report.questions import (
    Copy,
    OutletStats,
    Story,
    copies_between,
    found_late,
    outlet_stats,
)
from relaywatch.store import Store

UTC = ZoneInfo("UTC")


class DigestError(RelaywatchError):
    pass


@dataclass(frozen=True)
class DigestContent:
    """One day's digest as data: its stories (most copied first), outlets, feed problems and late finds."""

    day: date
    timezone: str
    start: datetime          # UTC bounds of the zone's calendar day (end excluded)
    end: datetime
    stories: tuple[Story, ...]
    outlets: tuple[OutletStats, ...]
    problems: tuple[FeedHealth, ...]
    late: tuple[Copy, ...] = ()  # copies of earlier days found since the previous digest

    @property
    def tz(self) -> ZoneInfo:
        """The digest's zone."""
        return ZoneInfo(self.timezone)

    @property
    def copies(self) -> int:
        """How many copies the day's stories have, all together."""
        return sum(len(s.copies) for s in self.stories)

    @property
    def uncredited(self) -> list[Copy]:
        """The day's copies that do not credit their original, in the order they appeared."""
        return sorted((c for s in self.stories for c in s.copies if not c.credited),
                      key=lambda c: (c.when, c.copy_id))

    @property
    def empty(self) -> bool:
        """Nothing to tell: no copy on the day and none found late."""
        return not self.stories and not self.late

    @property
    def title_day(self) -> str:
        """The day as the digest's title writes it: Friday 27 November 2026."""
        return self.day.strftime("%A %-d %B %Y")


def day_window(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC start and end of a calendar day in a zone (23 or 25 hours long on DST changes)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _at(day: date, send_time: str, tz: ZoneInfo) -> datetime:
    """``send_time`` (HH:MM) on ``day`` in ``tz``, as UTC."""
    hour, minute = (int(x) for x in send_time.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


def build_content(store: Store, day: date, timezone: str, now: datetime | None = None,
                  send_time: str = "00:00") -> DigestContent:
    """The day's copies grouped by story (most copied first), outlet counts and feed problems.

    Copies that appeared on earlier days but were found only after the previous digest went out
    (between ``send_time`` on ``day`` and ``send_time`` the next day) come as ``late``: every link
    reaches some digest, however late its feed was read.
    """
    tz = ZoneInfo(timezone)
    start, end = day_window(day, tz)
    found_from = _at(day, send_time, tz)
    found_to = _at(day + timedelta(days=1), send_time, tz)
    with store.lock:  # read between writers' transactions
        stories = copies_between(store, start, end)
        late = found_late(store, start, found_from, found_to)
        problems = tuple(h for h in feed_status(store, now) if h.problem)
    outlets = outlet_stats([c for s in stories for c in s.copies])
    return DigestContent(day, timezone, start, end, tuple(stories), tuple(outlets), problems, tuple(late))


def subject_of(content: DigestContent, template: str) -> str:
    """The Subject line from ``digest.subject``: ``{date}``, ``{copies}`` and ``{stories}`` filled in."""
    try:
        text = template.format(date=content.day.isoformat(), copies=content.copies,
                               stories=len(content.stories))
    except (KeyError, IndexError, ValueError) as e:
        raise DigestError(f"digest.subject {template!r}: only {{date}}, {{copies}} and {{stories}} can be "
                          f"used ({e})") from e
    return " ".join(text.split())
