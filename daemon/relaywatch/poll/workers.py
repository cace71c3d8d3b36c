"""Worker processes that end quietly with the process that started them.

When ``relaywatch ingest`` (or the daemon) is killed with SIGKILL, its worker processes live on:
a worker finishing its task writes the result to a pipe nobody reads any more, and
multiprocessing prints that BrokenPipeError's traceback on the terminal the user is looking at.
:func:`die_with_parent`, called first thing in a worker, ends the worker as soon as its parent is
gone: on Linux the kernel sends it SIGKILL (``prctl(PR_SET_PDEATHSIG)``: at once, and a worker holds
nothing to clean up, only read-only SQLite connections); elsewhere a thread checks every half
second whether the parent is still there and ends the process without a word.

The kernel's signal comes when the *thread* that started the worker ends, not the process: only a
pool started by a thread that lives as long as the process may ask for it (``ingest``'s, started
by its main thread). The daemon's pool starts workers from whichever poll thread submits first,
and those threads end: its workers watch (``kernel=False``), else the kernel killed a worker the
pool still counted on and the pool's shutdown waited for ever.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_EVERY = 0.5     # seconds, where the kernel cannot tell us


def die_with_parent(kernel: bool = True) -> None:
    """In a worker process: exit quietly when the process that started it ends. ``kernel``: the
    pool was started by a thread that lives as long as its process (see above)."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.pid is None:
        return
    if not (kernel and _kernel_tells(signal.SIGKILL)):
        threading.Thread(target=_watch, args=(parent.pid,), name="relaywatch-orphan-watch", daemon=True).start()
    if os.getppid() != parent.pid:  # the parent died before we asked
        os._exit(0)


def _kernel_tells(sig: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    return False


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(WATCH_EVERY)
    os._exit(0)
