"""Token starts read from character tables agree with the regex that finds the tokens."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from relaywatch.detect import fingerprint as fpmod
from relaywatch.detect.chars import token_starts

# word characters of several scripts, CJK (with the kana middle dot, in a CJK range but no word
# character), the Kelvin sign (lowers to an ASCII letter), punctuation, digits of other scripts,
# combining marks, and code points past the Basic Multilingual Plane (an emoji, a CJK ideograph of
# extension B, a letter of Gothic)
ALPHABET = list("abcXYZ _-.,!?\"'\n\t0123456789") + ["\u212a", "İ", "ǅ", "ß", "É", "世", "界", "。", "ｦ", "・",
                                                   "\u0307", "²", "٣", "Ⅻ", "Σ", "😀", "𠀋", "𐌰", "\u00a0", "\u2019"]


def _regex_starts(text: str) -> list[int]:
    return [m.start() for m in fpmod.TOKEN.finditer(text)]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET), max_size=80).map("".join))
def test_token_starts_are_where_the_token_regex_finds_tokens(text: str) -> None:
    at, capital = token_starts(text)
    assert at.tolist() == _regex_starts(text)
    assert capital.tolist() == [text[i].lower() != text[i] for i in at.tolist()]


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_token_starts_agree_on_any_text(text: str) -> None:
    assert token_starts(text)[0].tolist() == _regex_starts(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=80))
def test_token_starts_of_ascii_text(text: str) -> None:
    at, capital = token_starts(text)  # the ASCII path
    assert at.tolist() == _regex_starts(text)
    assert capital.tolist() == [text[i].isupper() for i in at.tolist()]


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=60), st.text(alphabet=st.characters(max_codepoint=127), max_size=80),
                 st.lists(st.sampled_from(ALPHABET), max_size=80).map("".join)))
def test_tokenize_finds_the_token_regex_tokens_of_the_lowered_text(text: str) -> None:
    # ASCII or not ("\u212a", the Kelvin sign, lowers to an ASCII "k")
    assert fpmod.tokenize(text) == fpmod.TOKEN.findall(text.lower())


def test_token_starts_of_a_mixed_text() -> None:
    text = "Über 2,5 Mio. 東京 stock_up 😀 𐌰𐌱 İz"
    at, capital = token_starts(text)
    assert [text[i] for i in at.tolist()] == ["Ü", "2", "5", "M", "東", "京", "s", "𐌰", "İ"]
    assert capital.tolist() == [True, False, False, True, False, False, False, False, True]
    assert token_starts("")[0].tolist() == [] and token_starts("... ")[0].tolist() == []
