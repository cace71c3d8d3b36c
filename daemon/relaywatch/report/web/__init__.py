"""The web view of the record: ``relaywatch serve`` (extra ``[web]``).

Datasette over the database, with relaywatch's metadata and canned queries (``datasette.yaml``)
applied, and relaywatch's Datasette plugin (``plugin``, registered by the ``datasette`` entry
point) adding a front page, a story page and an outlet page and rendering cells (URLs as links,
lags as ``+3h 42m``, times in the configured zone). ``pages`` gathers what each page shows from
the store's read-side questions (``report.questions``); ``app`` builds the Datasette instance and
serves it. Nothing here writes to the database: the daemon may be writing to it meanwhile (WAL).
"""

# Datasette loads this package as the plugin (entry point ``datasette: relaywatch``): it finds the
# hooks here and the pages' templates in ``templates/`` beside this file.
from relaywatch.report.web.plugin import extra_template_vars, register_routes, render_cell, startup

__all__ = ["extra_template_vars", "register_routes", "render_cell", "startup"]
