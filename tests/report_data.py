"""Sample news for the report and digest tests, put through the real ingest pipeline.

A wire (meridian-wire) and three sites. On 2026-11-27 (UTC, which is Europe/London's day in
November): the harbour story is copied verbatim with credit by the-ledger, excerpted without
credit by courier, and relayed from the-ledger by echo-relay (via); the orchard story is
rewritten with credit by courier. On 2026-11-26 the comet story is copied by the-ledger.
"""

from __future__ import annotations

import json
from pathlib import Path

from relaywatch.poll.archive import FeedSpec, ingest_file
from relaywatch.store import Store

HARBOUR = [
    "The harbour board of Port Ellery voted on Thursday evening to approve a tidal barrier across the "
    "mouth of the old fishing basin, ending a planning dispute that has divided the town for almost "
    "nine years and delayed repairs to the eastern quay.",
    "The barrier, a row of steel gates that will lie flat on the seabed and rise during spring tides and "
    "storm surges, is expected to cost forty-one million crowns and take three winters to build, the "
    "board's engineer told members before the vote.",
    "Fishing families who moor in the basin had opposed earlier designs because they narrowed the channel "
    "so much that larger trawlers could not pass at low water. The approved plan keeps a channel of "
    "twenty-two metres and adds a lock for smaller boats.",
    "Residents of the lower town, whose cellars flooded twice last winter, cheered when the result was "
    "read out. One shopkeeper said she had moved her stock upstairs every November since the storm that "
    "swept the quay clean of market stalls.",
    "Work on the foundations is due to begin in March, once the migrating eider ducks have left the "
    "sandbanks. The board said the old lighthouse steps would be rebuilt with stone recovered from the "
    "demolished sea wall.",
]

ORCHARD = [
    "Orchards across the Saint-Émilion valley expect a record pear harvest this autumn despite a late "
    "frost in April that growers feared would destroy most of the blossom on the lower slopes.",
    "The growers' cooperative said on Friday that its members had picked more than eleven thousand "
    "tonnes so far, a fifth more than last year, and that cold stores in three villages were already full.",
    "Older trees on the upper terraces flowered late and escaped the frost entirely, while smoke pots and "
    "wind machines saved much of the fruit lower down, according to the cooperative's agronomist.",
    "Prices at the regional market have fallen by almost a third since September, and some smaller farms "
    "say they will leave part of the crop unpicked unless a juice factory agrees to buy the surplus.",
    "The cooperative plans to open a second pressing plant next year and is asking the regional council "
    "for help with the cost of new refrigerated lorries to reach buyers in the capital.",
]

ORCHARD_REWRITE = [
    "Pear growers in the Saint-Émilion valley are heading for their biggest harvest on record, months "
    "after an April frost threatened to wipe out the blossom on the valley floor, local farmers say.",
    ORCHARD[1],
    ORCHARD[2],
    ORCHARD[3],
    "Farmers we spoke to at the Thursday market in Lussac were cheerful but worried about what the glut "
    "means for prices next spring, when stored fruit comes back on sale.",
]

COMET = [
    "Volunteers at the Halvard Hill observatory have catalogued a small fragment of a comet that broke "
    "apart near the orbit of Mars in the summer, the observatory announced on Wednesday.",
    "The fragment, roughly the size of a football pitch, was found on photographs taken by a retired "
    "schoolteacher who spends three nights a week at the telescope, checking images against star charts.",
    "Astronomers at the national institute confirmed the find after tracking the fragment for eleven "
    "nights. It poses no danger to Earth and will pass no closer than forty million kilometres next March.",
    "The observatory, which is run entirely by volunteers and funded by a bakery raffle, plans to name the "
    "fragment after the village school whose pupils helped paint the dome last spring.",
]

LIBRARY = [
    "The town library will open until nine in the evening on weekdays from January, after the council "
    "agreed to fund two more librarians from the parking budget.",
    "Readers had asked for longer hours for years, the head librarian said, especially students who work "
    "in the shops until six and have nowhere quiet to study in the evening.",
    "The reading room will also get new lamps and a dozen desks made by apprentices at the joinery "
    "college, who offered to build them at the cost of the timber.",
]


def _html(paragraphs: list[str]) -> str:
    return "".join(f"<p>{p}</p>" for p in paragraphs)


ENTRIES = [
    {"feed": "meridian-wire", "guid": "mw-comet", "url": "https://meridian.example/comet",
     "title": "Observatory volunteers catalogue comet fragment", "published": "2026-11-26T10:00:00Z",
     "html": _html(COMET)},
    {"feed": "the-ledger", "guid": "ld-comet", "url": "https://ledger.example/comet",
     "title": "Volunteers find comet fragment", "published": "2026-11-26T15:30:00Z",
     "html": _html([*COMET, "Source: Meridian Wire"])},
    {"feed": "meridian-wire", "guid": "mw-harbour", "url": "https://meridian.example/harbour",
     "title": "Harbour board approves tidal barrier for Port Ellery", "published": "2026-11-27T06:00:00Z",
     "html": _html(HARBOUR)},
    {"feed": "meridian-wire", "guid": "mw-orchard", "url": "https://meridian.example/orchard",
     "title": "Saint-Émilion orchards expect record pear harvest — despite frost",
     "published": "2026-11-27T08:30:00Z", "html": _html(ORCHARD)},
    {"feed": "the-ledger", "guid": "ld-harbour", "url": "https://ledger.example/harbour",
     "title": "Tidal barrier approved", "published": "2026-11-27T09:12:00Z",
     "html": _html([*HARBOUR, "Source: Meridian Wire"])},
    {"feed": "courier", "guid": "co-harbour", "url": "https://courier.example/harbour",
     "title": "Port Ellery gets its barrier", "published": "2026-11-27T11:47:00Z",
     "html": _html(HARBOUR[:2])},
    {"feed": "courier", "guid": "co-library", "url": "https://courier.example/library",
     "title": "Library extends opening hours", "published": "2026-11-27T12:00:00Z",
     "html": _html(LIBRARY)},
    {"feed": "courier", "guid": "co-orchard", "url": "https://courier.example/orchard",
     "title": "A bumper year for pears", "published": "2026-11-27T13:00:00Z",
     "html": _html([*ORCHARD_REWRITE, "(Meridian Wire)"])},
    {"feed": "echo-relay", "guid": "ec-harbour", "url": "https://echo.example/harbour",
     "title": "Tidal barrier approved", "published": "2026-11-27T14:05:00Z",
     "html": _html([*HARBOUR, "The post Tidal barrier approved appeared first on The Ledger."])},
]

SPECS = {
    "meridian-wire": FeedSpec("meridian-wire", "wire", ("Meridian Wire",)),
    "the-ledger": FeedSpec("the-ledger", "outlet", ("The Ledger",)),
    "courier": FeedSpec("courier", "outlet", ("The Courier",)),
    "echo-relay": FeedSpec("echo-relay", "relay", ()),
}


def write_jsonl(path: Path, entries: list[dict[str, str]] | None = None) -> Path:
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in (entries or ENTRIES)),
                    encoding="utf-8")
    return path


def populate(db_path: Path, jsonl: Path | None = None) -> Store:
    """A store at db_path holding the sample entries, ingested through the real pipeline."""
    jsonl = jsonl or write_jsonl(db_path.parent / "sample.jsonl")
    store = Store(db_path)
    ingest_file(store, jsonl, SPECS)
    return store
