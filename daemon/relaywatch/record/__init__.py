"""Where detection meets the store: the matcher asks the store for a new entry's candidates and
hands them to ``detect.decide``; the pipeline stores entries and the links decided, a batch in one
transaction; ``cache`` keeps what they read back within a budget of bytes."""
