"""The detection core: pure functions, no I/O. Entry HTML to clean text (``text``), text to
fingerprints (``fingerprint``), how much of one text another holds (``measure``), and whether a
new entry republishes one of its candidates, which one is the original, and how (``decide``).
Imports nothing of the store, the fetcher, the config or the CLI."""
