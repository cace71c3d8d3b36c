"""``relaywatch feeds boilerplate NAME``: the lines a feed has learned are its boilerplate."""

from __future__ import annotations

from typing import Any

import click

from relaywatch.cli.common import CliState, command, json_option, pass_state, print_json
from relaywatch.errors import RelaywatchError


@command("boilerplate", "the lines learned as a feed's boilerplate")
@click.argument("name")
@json_option("one object per line learned")
@pass_state
def boilerplate_cmd(state: CliState, name: str, as_json: bool) -> None:
    """The short lines that recur across the stories of the feed NAME (learned from its last 50
    entries, each story counted once: at least 4 stories and a fifth of the entries). An outlet's or
    a relay's are stripped from its new entries before they are matched; a wire's are its standard
    text (a disclaimer in its stories), kept in its stories and in their copies."""
    from relaywatch.report.questions import local_time
    from relaywatch.report.tables import table
    from relaywatch.store import from_db

    with state.store() as store:
        feed = store.feeds.by_name(name)
        if feed is None:
            raise RelaywatchError(f"no feed named {name}")
        rows = store.boiler.learned(feed.id)
    if as_json:
        print_json([{"line": r["sample"], "stories": r["stories"], "learned_at": r["learned_at"],
                     "last_seen": r["last_seen"], "key": r["key"], "kept": feed.role == "wire"} for r in rows])
        return
    print(_heading(feed.name, feed.role, len(rows)))
    if rows:
        tz = state.tz()
        view: list[dict[str, Any]] = [dict(r, learned=local_time(from_db(r["learned_at"]), tz),
                                           seen=local_time(from_db(r["last_seen"]), tz)) for r in rows]
        print(table(view, [("stories", "stories"), ("learned", "learned"), ("seen", "last seen"),
                           ("sample", "line")], max_width=100))


def _heading(name: str, role: str, lines: int) -> str:
    if not lines:
        return f"{name} ({role}): no lines learned"
    learned = f"{name} ({role}): {lines} line{'s' * (lines != 1)} learned"
    if role == "wire":
        return f"{learned}, its standard text: kept in its stories and in their copies"
    return f"{learned}, stripped from its new entries before they are matched"
