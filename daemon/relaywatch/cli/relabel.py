"""``relaywatch relabel``: stored links get the labels of this release's rules."""

from __future__ import annotations

import sys

import click

from relaywatch.cli.common import CliState, command, pass_state


@command("relabel", "give stored links the labels of this release's rules (after an upgrade)")
@click.option("--batch", type=click.IntRange(1, 100_000), default=500, show_default=True,
              help="links re-decided and written per transaction")
@pass_state
def relabel_cmd(state: CliState, batch: int) -> None:
    """Re-decide kind, coverage, the words each copy added and credit for every stored link that
    older rules labelled, from the stored texts, in batches. Stopped, it resumes where it stopped
    when run again; the daemon may run meanwhile. Shows progress on a terminal unless --quiet."""
    from relaywatch.detect.decide import LABELS
    from relaywatch.poll.archive import ProgressLine
    from relaywatch.record.relabel import relabel_links, to_relabel

    with state.store() as store:
        total = to_relabel(store)
        bar = ProgressLine(total, sys.stderr, "relabel", "links") if total and sys.stderr.isatty() \
            and not state.quiet else None
        try:
            done = relabel_links(store, None, batch, bar.update if bar else None)
        finally:
            if bar is not None:
                bar.close()
    missing = f"; {done.missing} left as they were (their entries are gone)" if done.missing else ""
    print(f"{done.links} links relabelled with the rules of this release (labels {LABELS}), "
          f"{done.changed} changed{missing}")
