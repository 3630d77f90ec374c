"""asr.data.text_norm: transcripts in the form the ASR emits."""

import pytest

from echoformer.text_norm import normalize_transcript


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("Don't panic -- it's 'fine'!", "don't panic it's fine"),
        ("Café au lait, please.", "cafe au lait please"),
        ("A well-known  “quote”", "a well known quote"),
        ("HE SAID O'CLOCK", "he said o'clock"),
        ("I have 3 cats.", None),
        ("Fish & chips", None),
    ],
)
def test_transcripts_are_normalised_to_lower_case_letters_and_apostrophes(raw, expected):
    assert normalize_transcript(raw) == expected


def test_text_with_only_punctuation_normalises_to_empty():
    assert normalize_transcript("... !?") == ""


def test_normalised_text_is_a_fixed_point():
    text = normalize_transcript("Isn't it 'odd', she said?")
    assert text == "isn't it odd she said" and normalize_transcript(text) == text
