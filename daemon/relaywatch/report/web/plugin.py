"""relaywatch's Datasette plugin (entry point ``datasette: relaywatch``: the package, which
re-exports these hooks), active only where the Datasette metadata has a ``plugins.relaywatch``
section (``relaywatch serve`` writes it):

- ``register_routes``: the front page (``/``: the latest day's most copied stories and the
  outlets that copied most without credit; ``/?day=YYYY-MM-DD`` for another day), the story page
  (``/story/ID``: the original, every copy and the spread timeline) and the outlet page
  (``/outlet/NAME``: what it republished, by week);
- ``render_cell``: URLs as links, lags as ``+3h 42m``, stored UTC times in the configured zone,
  entry ids of links as links to their story;
- ``extra_template_vars``: the zone times are shown in (``relaywatch_zone``), for the pages;
- ``startup``: checks the plugin's settings once.

The pages read through ``pages`` in a worker thread (the store is synchronous); a missing story or
feed is a 404 page, a locked or unmigrated database a 503 page with the reason, never a traceback.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from datasette import hookimpl
from datasette.utils.asgi import NotFound, Request, Response
from datasette.views.base import DatasetteError
from markupsafe import Markup

from relaywatch.report.questions import ReportError
from relaywatch.report.tables import format_lag
from relaywatch.report.web import pages
from relaywatch.store import Store, StoreError, from_db

if TYPE_CHECKING:  # datasette.app loads this plugin while it is being imported
    from datasette.app import Datasette

NAME = "relaywatch"
STORED_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
STORY_ID_COLUMNS = ("original_id", "copy_id", "via_id", "copy_of")
LAG_COLUMNS = ("lag_seconds",)


def settings_of(datasette: Datasette) -> pages.WebSettings | None:
    """The plugin's settings, or None where Datasette was started without them (the plugin is off)."""
    cfg = datasette.plugin_config(NAME)
    return pages.WebSettings.from_plugin_config(cfg) if cfg else None


async def _read(settings: pages.WebSettings, fn: Callable[[Store], dict[str, Any]]) -> dict[str, Any]:
    """Run ``fn`` on a freshly opened store in a worker thread; errors become Datasette's error pages."""
    def work() -> dict[str, Any]:
        with pages.open_store(settings) as store:
            return fn(store)

    try:
        return await asyncio.to_thread(work)
    except ReportError as e:
        raise NotFound(str(e)) from e
    except (StoreError, sqlite3.Error) as e:  # a few reads of the store let SQLite's errors through
        raise DatasetteError(f"The database cannot be read now: {e}", title="Database unavailable",
                             status=503) from e
    except pages.WebError as e:
        status = 404 if str(e).startswith("no feed") else 503
        raise DatasetteError(str(e), title="Not found" if status == 404 else "Database unavailable",
                             status=status) from e


async def _page(datasette: Datasette, request: Request, template: str, data: dict[str, Any],
                settings: pages.WebSettings) -> Response:
    context = {**data, "db": settings.database}
    return Response.html(await datasette.render_template(template, context, request=request))


async def front_view(datasette: Datasette, request: Request) -> Response:
    settings = _required(datasette)
    try:
        day = pages.parse_day(request.args.get("day"))
    except pages.WebError as e:
        raise DatasetteError(str(e), title="Bad day", status=400) from e
    data = await _read(settings, partial(pages.front_page, settings=settings, day=day))
    return await _page(datasette, request, "relaywatch_front.html", data, settings)


async def story_view(datasette: Datasette, request: Request) -> Response:
    settings = _required(datasette)
    entry_id = int(request.url_vars["id"])
    data = await _read(settings, partial(pages.story_page, settings=settings, entry_id=entry_id))
    return await _page(datasette, request, "relaywatch_story.html", data, settings)


async def outlet_view(datasette: Datasette, request: Request) -> Response:
    settings = _required(datasette)
    data = await _read(settings, partial(pages.outlet_page, settings=settings, feed=request.url_vars["name"]))
    return await _page(datasette, request, "relaywatch_outlet.html", data, settings)


def _required(datasette: Datasette) -> pages.WebSettings:
    settings = settings_of(datasette)
    if settings is None:  # routes exist only with settings; kept for type checkers
        raise NotFound("relaywatch is not configured")
    return settings


@hookimpl
def register_routes(datasette: Datasette) -> list[tuple[str, Callable[..., Any]]]:
    if settings_of(datasette) is None:
        return []
    return [(r"^/$", front_view), (r"^/story/(?P<id>\d{1,18})$", story_view),
            (r"^/outlet/(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$", outlet_view)]


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str,
                datasette: Datasette) -> Markup | None:
    settings = settings_of(datasette)
    if settings is None or database != settings.database:
        return None
    if isinstance(value, str) and (column == "url" or column.endswith("_url")) \
            and value.startswith(("http://", "https://")):
        return Markup('<a href="{0}" rel="noopener noreferrer">{0}</a>').format(value)
    if column in LAG_COLUMNS and isinstance(value, int | float) and not isinstance(value, bool):
        return Markup("{}").format(format_lag(value))
    if column in STORY_ID_COLUMNS and isinstance(value, int) and not isinstance(value, bool):
        return Markup('<a href="/story/{0}">{0}</a>').format(value)
    if isinstance(value, str) and STORED_TIME.fullmatch(value):
        return Markup('<time datetime="{}">{}</time>').format(value, settings.local(from_db(value)))
    return None


@hookimpl
def extra_template_vars(datasette: Datasette) -> dict[str, Any]:
    settings = settings_of(datasette)
    return {} if settings is None else {"relaywatch_zone": settings.timezone}


@hookimpl
def startup(datasette: Datasette) -> None:
    settings_of(datasette)  # a WebError here names what the plugin configuration lacks
