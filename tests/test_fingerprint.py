"""Shingles, winnowing and token coverage, checked against plain (slow) definitions."""

from __future__ import annotations

import numpy as np
import pytest
from relaywatch.detect import fingerprint as fpmod

from .matchcases import STORY


@pytest.mark.parametrize("size", [0, 1, 2, 5, 400])
def test_unique_is_numpys_unique(size: int) -> None:
    rng = np.random.default_rng(size)
    hashes = rng.integers(-(2**63), 2**63 - 1, size, dtype=np.int64)
    hashes = np.concatenate([hashes, hashes[: size // 3]])  # with duplicates
    out = fpmod.unique(hashes)
    assert out.dtype == np.int64
    assert out.tolist() == np.unique(hashes).tolist()


def test_a_shared_run_of_window_plus_k_minus_1_words_shares_a_fingerprint() -> None:
    words = " ".join(STORY).split()
    run = words[20: 20 + fpmod.WINDOW + fpmod.K - 1]
    rng = np.random.default_rng(7)
    for _ in range(20):  # the run inside unrelated text, at different places
        filler = [f"w{int(x)}" for x in rng.integers(0, 10**6, 60)]
        cut = int(rng.integers(0, 60))
        other = " ".join(filler[:cut] + run + filler[cut:])
        assert fpmod.overlap(fpmod.fingerprint(" ".join(STORY)).winnowed, fpmod.fingerprint(other).winnowed) >= 1


def test_covered_marks_the_words_of_shared_shingles() -> None:
    a = fpmod.fingerprint("one two three four five six seven eight nine ten")
    b = fpmod.fingerprint("zero one two three four eleven twelve seven eight nine ten")
    mask = fpmod.covered(a, b.shingles)
    # shared 4-word runs: "one two three four" and "seven eight nine ten"; "five six" are a's own
    assert mask.tolist() == [True] * 4 + [False] * 2 + [True] * 4


def test_covered_agrees_with_a_word_by_word_definition() -> None:
    rng = np.random.default_rng(3)
    vocab = [f"w{i}" for i in range(12)]  # a small vocabulary: many partial matches
    for _ in range(50):
        a_words = [vocab[i] for i in rng.integers(0, 12, int(rng.integers(1, 40)))]
        b_words = [vocab[i] for i in rng.integers(0, 12, int(rng.integers(1, 40)))]
        a, b = fpmod.fingerprint(" ".join(a_words)), fpmod.fingerprint(" ".join(b_words))
        k = min(fpmod.K, len(a_words))
        b_grams = {tuple(b_words[i: i + min(fpmod.K, len(b_words))])
                   for i in range(len(b_words) - min(fpmod.K, len(b_words)) + 1)}
        expect = [False] * len(a_words)
        for i in range(len(a_words) - k + 1):
            if tuple(a_words[i: i + k]) in b_grams:
                for j in range(i, i + k):
                    expect[j] = True
        assert fpmod.covered(a, b.shingles).tolist() == expect


@pytest.mark.parametrize("lengths", [(0, 12), (1, 30), (3, 3), (4, 9), (25, 40)],
                         ids=["empty", "one word", "two short texts", "one shingle", "longer"])
def test_covered_both_is_covered_each_way(lengths: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(lengths))
    vocab = [f"w{i}" for i in range(10)]
    for _ in range(60):
        a = fpmod.fingerprint(" ".join(vocab[i] for i in rng.integers(0, 10, lengths[0])))
        b = fpmod.fingerprint(" ".join(vocab[i] for i in rng.integers(0, 10, lengths[1])))
        for x, y in ((a, b), (b, a)):
            x_in_y, y_in_x = fpmod.covered_both(x, y)
            assert x_in_y.tolist() == fpmod.covered(x, y.shingles).tolist()
            assert y_in_x.tolist() == fpmod.covered(y, x.shingles).tolist()


@pytest.mark.parametrize("size", [0, 1, fpmod.WINDOW, fpmod.WINDOW + 1, 300])
def test_winnow_keeps_the_minimum_of_every_window(size: int) -> None:
    hashes = np.random.default_rng(size).integers(-(2**63), 2**63 - 1, size, dtype=np.int64)
    w = fpmod.WINDOW
    expect = {min(hashes[i: i + w].tolist()) for i in range(max(1, size - w + 1))} if size else set()
    assert fpmod.winnow(hashes).tolist() == sorted(expect)


def test_fill_gaps_fills_short_runs_between_found_words_only() -> None:
    mask = np.array([0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0], dtype=bool)
    # the run of 2 between found words is filled; the run of 4 is too long; the ends have a side open
    assert fpmod.fill_gaps(mask, 3).astype(int).tolist() == [0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0]
    assert not fpmod.fill_gaps(np.zeros(5, dtype=bool), 3).any()


def test_fill_gaps_agrees_with_a_word_by_word_definition() -> None:
    rng = np.random.default_rng(5)
    for _ in range(200):
        mask = rng.random(int(rng.integers(0, 60))) < rng.random()
        width = int(rng.integers(0, 6))
        expect = mask.copy()
        found = np.flatnonzero(mask).tolist()
        for x, y in zip(found, found[1:], strict=False):
            if y - x - 1 <= width:
                expect[x + 1: y] = True
        assert fpmod.fill_gaps(mask, width).tolist() == expect.tolist()


@pytest.mark.parametrize("b_vocabulary", [range(8), range(4, 12)], ids=["same words", "half the words shared"])
def test_swapped_agrees_with_a_word_by_word_definition(b_vocabulary: range) -> None:
    """A shingle of one text that the other has with one word changed, that word an own word of both
    (with texts sharing half their words, most shingles hold a word the other text never uses)."""
    rng = np.random.default_rng(11)
    k = fpmod.K
    swaps = 0
    for _ in range(150):
        a_words = [f"w{i}" for i in rng.integers(0, 8, int(rng.integers(1, 30)))]
        b_words = [f"w{i}" for i in rng.choice(list(b_vocabulary), int(rng.integers(1, 30)))]
        a, b = fpmod.fingerprint(" ".join(a_words)), fpmod.fingerprint(" ".join(b_words))
        a_own, b_own = ~fpmod.covered(a, b.shingles), ~fpmod.covered(b, a.shingles)
        expect_a, expect_b = [False] * len(a_words), [False] * len(b_words)
        for i in range(len(a_words) - k + 1):
            for j in range(len(b_words) - k + 1):
                for p in range(k):
                    if a_own[i + p] and b_own[j + p] and all(
                            a_words[i + q] == b_words[j + q] for q in range(k) if q != p):
                        expect_a[i: i + k] = [True] * k
                        expect_b[j: j + k] = [True] * k
        sa, sb = fpmod.swapped(a, a_own, b, b_own)
        assert (sa.tolist(), sb.tolist()) == (expect_a, expect_b)
        swaps += any(expect_a)
    assert swaps >= 10  # the random texts did pair swapped words
