"""Reading the Ding dictionary (echoformer.data.ding)."""

from pathlib import Path

import pytest

from echoformer.data.ding import (
    DING_PATH,
    clean_term,
    is_sentence_like,
    iter_ding_pairs,
    parse_ding_line,
    read_ding_sentence_pairs,
    split_sentence_alternatives,
    strip_tags,
    term_pairs,
)

DING_FIXTURE = """\
# Version :: devel 2023-01-30
Aal {m} [zool.] | Aale {pl} :: eel | eels
Er ist heute krank. | Sie ist nicht da! :: He is ill today. | She is not here at all!
Irren ist menschlich. :: To err is human.; We all make mistakes.
Stehen Sie an?  :: Are you in  this line [Am.] ?
eins | zwei :: only one part
"""


@pytest.fixture
def ding_file(tmp_path: Path) -> Path:
    path = tmp_path / "de-en"
    path.write_text(DING_FIXTURE, encoding="utf-8")
    return path


def test_strip_tags_removes_braces_brackets_angles_and_tidies_spaces():
    assert strip_tags("  Aal {m}  [zool.] <Aalfisch> ") == "Aal"
    assert strip_tags("Are you in  this line [Am.] ?") == "Are you in this line?"


def test_parts_align_one_to_one():
    assert parse_ding_line("Aal {m} | Aale {pl} :: eel | eels") == [("Aal", "eel"), ("Aale", "eels")]


def test_comments_and_lines_with_unequal_part_counts_give_nothing():
    assert parse_ding_line("# License :: GPL") == []
    assert parse_ding_line("eins | zwei :: only one part") == []


def test_ding_pairs_are_german_english_parts_in_file_order(ding_file):
    pairs = list(iter_ding_pairs(ding_file))
    assert pairs[:3] == [("Aal", "eel"), ("Aale", "eels"), ("Er ist heute krank.", "He is ill today.")]
    assert len(pairs) == 6


def test_missing_file_error_says_how_to_install(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install trans-de-en"):
        iter_ding_pairs(tmp_path / "absent")  # at once, not on first iteration


@pytest.mark.parametrize("en, de, expected", [
    ("He is ill today.", "Er ist heute krank.", True),
    ("Are you in this line?", "Stehen Sie an?", True),
    ("She is not here at all!", "Sie ist nicht da!", True),
    ("He is ill.", "Er ist krank.", False),            # three English words
    ("He is ill today", "Er ist heute krank.", False),  # English lacks an end mark
    ("He is ill today.", "krank sein", False),          # German lacks an end mark
])
def test_sentence_like_needs_end_marks_on_both_sides_and_four_english_words(en, de, expected):
    assert is_sentence_like(en, de) is expected


def test_semicolon_splits_only_sentence_alternatives():
    assert split_sentence_alternatives("To err is human.; We all make mistakes.") == [
        "To err is human.", "We all make mistakes."]
    assert split_sentence_alternatives("He came; she left.") == ["He came; she left."]


def test_sentence_pairs_cross_alternatives_and_keep_only_sentence_like(ding_file):
    assert read_ding_sentence_pairs(ding_file) == [
        ("Er ist heute krank.", "He is ill today."),
        ("Sie ist nicht da!", "She is not here at all!"),
        ("Irren ist menschlich.", "To err is human."),
        ("Irren ist menschlich.", "We all make mistakes."),
        ("Stehen Sie an?", "Are you in this line?"),
    ]


@pytest.mark.parametrize("part, term", [
    ("Weinschaumcreme; Zabaglione; Sabayon", "Weinschaumcreme"),  # the first alternative
    ("jdn. fassen; fangen", "fassen"),                           # German placeholders
    ("to give sb. sth.", "to give"),                             # English placeholders
    ("sb.'s house", "house"),
    ("etw.s Wert", "Wert"),
    ("Gebläseluft (Metallurgie)", "Gebläseluft"),                # remarks in parentheses
    ("Health Service Journal /HSJ/", "Health Service Journal"),  # abbreviations
    ("I think so.", "I think so."),                              # "so." ends a sentence here
    ("er/sie erbt", ""),                                         # alternatives in one word
    ("jdn. … lassen", ""),                                       # gaps
    ("(etw.)", ""),
])
def test_clean_term_keeps_the_first_plain_alternative(part, term):
    assert clean_term(part) == term


def test_term_pairs_leave_out_sentences_and_parts_with_nothing_plain():
    parts = [("Aal", "eel"), ("Er ist heute krank.", "He is ill today."),
             ("er/sie erbt", "he/she inherits"), ("jdn. fassen; fangen", "to capture sb."),
             ("Aal", "eel")]
    assert term_pairs(parts) == [("Aal", "eel"), ("fassen", "to capture")]


@pytest.mark.slow
@pytest.mark.skipif(not DING_PATH.is_file(), reason="trans-de-en is not installed")
def test_installed_dictionary_gives_tens_of_thousands_of_sentence_pairs():
    assert 15_000 < len(read_ding_sentence_pairs()) < 30_000


@pytest.mark.slow
@pytest.mark.skipif(not DING_PATH.is_file(), reason="trans-de-en is not installed")
def test_installed_dictionary_gives_hundreds_of_thousands_of_term_pairs():
    assert 250_000 < len(term_pairs(iter_ding_pairs())) < 450_000
