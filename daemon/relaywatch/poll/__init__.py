"""Getting entries in: HTTP (``http``), feed documents (``feeds``), article pages (``articles``),
OPML lists (``opml``), one feed's poll (``poller``), the schedule of all of them (``scheduler``)
and archives of entries given as JSON lines (``archive``, the ``ingest`` command)."""
