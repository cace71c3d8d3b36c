"""What happened to the original's text in a copy (``detect.align``), on word sequences."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect.align import Alignment, align

from .matchcases import STORY


def words(text: str) -> list[int]:
    return fpmod.fingerprint(text).words.tolist()


WIRE = " ".join(STORY)
CAPTION = "Workers walk past idle cranes at the Kestrel Point site in Port Alder on Monday. Picture taken by our staff."
HEADLINES = "You may also like: Ferry fares rise again. Council approves new library. Storm warning for the coast."


def kind(a_text: str, b_text: str) -> str:
    return align(words(a_text), words(b_text)).kind(1, 0.9)


def test_a_whole_copy_with_a_caption_above_is_verbatim_and_counts_the_caption() -> None:
    a = align(words(WIRE), words(CAPTION + " " + WIRE))
    assert a.kind(1, 0.9) == "verbatim"
    assert (a.kept, a.cut, a.changed) == (a.original_words, 0, 0)
    assert (a.added_before, a.added_inside, a.added_after) == (len(words(CAPTION)), 0, 0)


def test_an_intro_and_a_list_of_headlines_around_the_story_are_additions() -> None:
    intro = "Editor's note: this report comes from a wire service."
    a = align(words(WIRE), words(f"{intro} {WIRE} {HEADLINES}"))
    assert a.kind(1, 0.9) == "verbatim"
    assert (a.added_before, a.added_after) == (len(words(intro)), len(words(HEADLINES)))


def test_a_lead_only_cut_is_an_excerpt_even_with_a_footer() -> None:
    a = align(words(WIRE), words(" ".join(STORY[:4]) + " " + HEADLINES))
    assert a.kind(1, 0.9) == "excerpt"
    assert a.cut == len(words(" ".join(STORY[4:]))) and a.added_after == len(words(HEADLINES))


def test_paragraphs_cut_from_the_middle_are_an_excerpt() -> None:
    assert kind(WIRE, " ".join(STORY[:3] + STORY[6:9])) == "excerpt"


def test_words_swapped_for_others_are_an_edit() -> None:
    reworded = WIRE.replace("halted", "stopped").replace("told reporters", "said")
    a = align(words(WIRE), words(reworded))
    assert a.kind(1, 0.9) == "edited" and a.changed >= 2 and a.added == 0


def test_a_sentence_rewritten_in_place_is_an_edit_not_a_cut_and_an_addition() -> None:
    rewritten = STORY[3].replace("Authority chairman Tomas Varga told reporters that crews had been sent home",
                                 "Crews have gone home, the authority's chairman Tomas Varga told the press")
    a = align(words(WIRE), words(" ".join(STORY[:3] + [rewritten] + STORY[4:])))
    assert a.kind(1, 0.9) == "edited" and a.changed > 0


def test_a_paragraph_moved_up_is_an_edit() -> None:
    moved = [STORY[4]] + STORY[:4] + STORY[5:]
    a = align(words(WIRE), words(" ".join(moved)))
    assert a.kind(1, 0.9) == "edited" and a.changed >= len(words(STORY[4])) - 1


def test_a_sentence_of_the_outlets_own_written_into_the_story_is_an_addition_not_an_edit() -> None:
    """Kind is what happened to the original's words: all there, in order, unchanged is verbatim;
    the outlet's sentence between two of the wire's is counted apart, inside."""
    own = "Our correspondent saw the cranes standing still on Tuesday morning."
    a = align(words(WIRE), words(" ".join(STORY[:5] + [own] + STORY[5:])))
    assert a.kind(1, 0.9) == "verbatim"
    assert (a.added_before, a.added_inside, a.added_after) == (0, len(own.split()), 0)


def test_case_quotes_dashes_and_paragraphs_are_no_edit() -> None:
    variant = WIRE.upper().replace("'", "\u2019").replace(". ", ".\n\n")
    assert kind(WIRE, variant) == "verbatim"


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(0, 40), st.integers(0, 40))
def test_additions_around_an_untouched_story_never_make_it_edited(seed: int, before: int, after: int) -> None:
    """Whatever words a page puts before and after the whole story, it is verbatim and they are
    counted where they are."""
    rnd = random.Random(seed)
    vocab = ["ferry", "council", "storm", "library", "market", "school", "road", "bridge", "festival", "weather"]
    pre = " ".join(rnd.choice(vocab) for _ in range(before))
    post = " ".join(rnd.choice(vocab) for _ in range(after))
    a = align(words(WIRE), words(f"{pre} {WIRE} {post}"))
    assert a.kind(1, 0.9) == "verbatim"
    assert (a.added_before, a.added_after, a.cut, a.changed) == (before, after, 0, 0)


def test_one_sentence_against_a_long_original_is_bounded_and_sensible() -> None:
    long = " ".join(STORY * 80)  # ~8,000 words
    a = align(words(long), words(STORY[2]))
    assert a.kind(1, 0.9) == "excerpt" and a.kept == len(words(STORY[2]))


def test_a_copy_word_for_word_is_kept_whole_with_nothing_added() -> None:
    """What ``label.make_link`` takes for granted without aligning a copy identical to its original."""
    words = fpmod.fingerprint("\n\n".join(STORY)).words.tolist()
    assert align(words, words) == Alignment(len(words), len(words))


def test_a_cut_is_no_edit_where_the_alignment_matched_the_copys_words_elsewhere() -> None:
    """The copy goes on with two words the original has at the end of the passage it cut; the
    alignment, breaking a tie, took them as a chance match between two gaps: still a cut."""
    original = [1, 2, 3, 4, 50, 51, 52, 60, 61, 70, 71, 72, 73, 5, 6, 7, 8]
    copy = [1, 2, 3, 4, 60, 61, 5, 6, 7, 8]
    a = align(original, copy)
    assert (a.kind(1, 0.9), a.kept, a.changed, a.cut, a.added) == ("excerpt", 10, 0, 7, 0)
