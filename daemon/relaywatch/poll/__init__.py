"""Getting entries in: HTTP (``http``, built on ``transport``: sockets under a deadline,
``netguard``: the addresses a link found in a feed may reach, ``hostlimit``: per-host politeness,
``fetcherrors``), feed documents (``feeds``), article pages (``articles``), OPML lists (``opml``),
one feed's poll (``poller``), the schedule of all of them (``scheduler``), archives of entries
given as JSON lines (``archive``, the ``ingest`` command) and worker processes that end with their
parent (``workers``)."""
