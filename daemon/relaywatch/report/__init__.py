"""Reading the record: the questions (``questions``, ``tables``), the spread timeline (``svg``)
and the daily digest (``digest``: content, render, send; its templates in ``templates``)."""
