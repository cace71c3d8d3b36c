"""Search: the user's words as words (FTS5 syntax only with fts=True), words of scripts written
without spaces (Chinese, Japanese, Thai) found inside sentences through the trigram index, Arabic
through the word index; the trigram index kept right through updates and deletes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from relaywatch.poll.archive import ingest_file
from relaywatch.report.lookup import search
from relaywatch.report.questions import ReportError
from relaywatch.store import Store

from . import report_data


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    s = report_data.populate(tmp_path / "rw.db")
    yield s
    s.close()


WORLD = [  # (guid, title, text): news in scripts written without spaces, and in Arabic
    ("zh-1", "日本开始排放福岛核电站处理水",
     "日本政府周二宣布，福岛第一核电站的处理水将于周四开始排放入海，中国外交部表示强烈反对。"),
    ("zh-2", "福岛", "一个标题只有一个词的条目。"),
    ("ja-1", "東京電力、処理水の海洋放出を開始",
     "東京電力は24日午後、福島第一原子力発電所にたまる処理水の海洋放出を始めた。"),
    ("th-1", "รัฐบาลประกาศมาตรการใหม่", "รัฐบาลไทยประกาศมาตรการช่วยเหลือเกษตรกรผู้ปลูกข้าวในภาคอีสานวันนี้"),
    ("ar-1", "الحكومة تعلن خطة جديدة للموانئ",
     "أعلنت الحكومة اليوم عن خطة جديدة لتطوير الموانئ على ساحل البحر الأحمر."),
]


def _world(store: Store, tmp_path: Path) -> dict[str, int]:
    rows = [{"feed": "world", "guid": g, "url": f"https://world.example/{g}", "title": t,
             "published": "2026-11-27T10:00:00Z", "text": x} for g, t, x in WORLD]
    ingest_file(store, report_data.write_jsonl(tmp_path / "world.jsonl", rows))
    return {r["guid"]: r["id"] for r in store.query("SELECT guid, id FROM entries WHERE guid LIKE '__-_'")}


@pytest.mark.parametrize("words,found", [
    ("福岛", ["zh-1", "zh-2"]),            # two characters inside a sentence (a scan: below a trigram)
    ("核电站", ["zh-1"]),                  # three: the trigram index
    ("福岛第一核电站", ["zh-1"]),
    ("中国外交部 反对", ["zh-1"]),          # every word, anywhere
    ("処理水", ["ja-1"]),
    ("海洋放出", ["ja-1"]),
    ("原子力 福島", ["ja-1"]),
    ("มาตรการ", ["th-1"]),
    ("เกษตรกร", ["th-1"]),
    ("الموانئ", ["ar-1"]),                 # Arabic is written with spaces: a word inside the text
    ("البحر الأحمر", ["ar-1"]),
    ("福岛 zebra", []),
    ("核电站 东京", []),
])
def test_search_finds_a_word_inside_cjk_thai_and_arabic_text(store: Store, tmp_path: Path, words: str,
                                                             found: list[str]) -> None:
    ids = _world(store, tmp_path)
    hits = search(store, words)
    assert sorted(h.id for h in hits) == sorted(ids[g] for g in found)
    for h in hits:  # the match is shown, in brackets, from the title or the text
        assert "[" in h.snippet or any(w in h.title for w in words.split())


def test_search_snippet_of_a_short_cjk_word_shows_it(store: Store, tmp_path: Path) -> None:
    ids = _world(store, tmp_path)
    [hit] = [h for h in search(store, "外交") if h.id == ids["zh-1"]]
    assert hit.snippet == "…于周四开始排放入海,中国[外交]部表示强烈反对。"  # the stored text is NFKC: ， is ,
    [hit] = search(store, "核电站")
    assert hit.snippet == "日本政府周二宣布,福岛第一[核电站]的处理水将于周四开始…"  # FTS5's snippet(): 24 trigrams


@pytest.mark.parametrize("text", ['"', '""', "'", '"tidal', 'tidal AND (', "barrier*", "NEAR(", "-", "a:b", "%", "_",
                                  "100%", '福岛"'])
def test_search_takes_the_users_words_as_words(store: Store, text: str) -> None:
    try:
        hits = search(store, text)
    except ReportError as e:
        assert str(e) == f"search needs some words (letters or digits), not {text!r}"
        assert text in ('"', '""', "'", "-", "%", "_")
    else:
        assert all(isinstance(h.id, int) for h in hits)


def test_search_like_wildcards_are_literal(store: Store, tmp_path: Path) -> None:
    _world(store, tmp_path)
    assert search(store, "福%") == [] and search(store, "福_") == []


def test_trigram_index_follows_updates_in_and_out_of_cjk(store: Store, tmp_path: Path) -> None:
    ids = _world(store, tmp_path)
    store.entries.index_text()

    def edit(guid: str, title: str, text: str) -> None:
        row = {"feed": "world", "guid": guid, "url": f"https://world.example/{guid}", "title": title,
               "published": "2026-11-27T10:00:00Z", "text": text}
        ingest_file(store, report_data.write_jsonl(tmp_path / f"{guid}.jsonl", [row]))

    edit("zh-1", "日本开始排放处理水", "日本政府周二宣布，处理水将于周四开始排放入海。")
    assert search(store, "核电站") == [] and [h.id for h in search(store, "排放入海")] == [ids["zh-1"]]
    edit("th-1", "Rice farmers", "The Thai government announced new help for rice growers in Isan.")
    assert search(store, "มาตรการ") == [] and [h.id for h in search(store, "Isan")] == [ids["th-1"]]
    edit("ar-1", "港口", "政府宣布了新的港口发展计划。")
    assert [h.id for h in search(store, "港口发展")] == [ids["ar-1"]]
    store.conn.execute("INSERT INTO entries_trigram (entries_trigram) VALUES ('integrity-check')")  # raises if not
    store.conn.execute("PRAGMA foreign_keys = OFF")  # its fingerprints stay: only the index is looked at here
    with store.transaction():
        store.conn.execute("DELETE FROM entries WHERE id = ?", (ids["zh-2"],))
    assert [h.id for h in search(store, "福岛")] == []
    store.conn.execute("INSERT INTO entries_trigram (entries_trigram) VALUES ('integrity-check')")
