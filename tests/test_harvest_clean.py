"""Harvest cleaning rules and segmenting: each rule on its own, with its count."""

from collections import Counter

from nmt.data.corpus import LengthFilter
from nmt.data.harvest.align import sentences, split_message
from nmt.data.harvest.clean import (CleanSettings, clean_pair, placeholders, strip_accelerators,
                                    strip_markup)


def _clean(english, german, settings=CleanSettings()):
    counts = Counter()
    return clean_pair((english, german), counts, settings), counts


def test_accelerators_are_removed_one_mnemonic_per_text():
    assert strip_accelerators("_Open") == "Open"
    assert strip_accelerators("Datei ö_ffnen") == "Datei öffnen"
    assert strip_accelerators("&Save") == "Save"
    assert strip_accelerators("~Datei") == "Datei"
    assert strip_accelerators("Drag && drop") == "Drag & drop"
    assert strip_accelerators("file_name_here") == "file_name_here"
    assert strip_accelerators("Fish &amp; chips") == "Fish &amp; chips"


def test_accelerator_stripping_is_counted():
    pair, counts = _clean("_Quit the program", "Programm _beenden")
    assert pair == ("Quit the program", "Programm beenden") and counts["accelerator"] == 1


def test_markup_tags_are_stripped_and_entities_decoded_but_not_angle_placeholders():
    assert strip_markup("<b>Bold</b> and <span weight='bold'>more</span>") == "Bold and more"
    assert strip_markup("Fish &amp; chips") == "Fish & chips"
    assert strip_markup("Usage: run <file>") == "Usage: run <file>"
    pair, counts = _clean("<i>Save</i> the file", "Datei <i>speichern</i>")
    assert pair == ("Save the file", "Datei speichern") and counts["markup"] == 1


def test_placeholders_are_kept_verbatim_when_both_sides_hold_the_same_ones():
    assert placeholders("Copy %1$s to %2$s") == placeholders("%2$s nach %1$s kopieren")
    pair, counts = _clean("Copy %1$s to %2$s", "%2$s nach %1$s kopieren")
    assert pair == ("Copy %1$s to %2$s", "%2$s nach %1$s kopieren")
    assert counts["placeholders_kept"] == 1


def test_pairs_whose_placeholder_sets_differ_are_dropped():
    for english, german in [("Delete {name}?", "{count} löschen?"),
                            ("Cannot open %s.", "Kann nicht geöffnet werden."),
                            ("Path: $HOME", "Pfad: $PATH"), ("Build @VERSION@", "Version")]:
        pair, counts = _clean(english, german)
        assert pair is None and counts["drop:placeholder_mismatch"] == 1, english


def test_untranslated_german_is_dropped():
    pair, counts = _clean("The file is open.", "The File is open.")
    assert pair is None and counts["drop:untranslated"] == 1


def test_german_that_reads_as_english_is_dropped():
    pair, counts = _clean("Save the file and quit.", "Save the file and then quit it.")
    assert pair is None and counts["drop:german_reads_english"] == 1


def test_english_that_reads_as_german_is_dropped():
    pair, counts = _clean("Die Datei ist nicht da.", "Die Datei fehlt und ist nicht da.")
    assert pair is None and counts["drop:english_reads_german"] == 1


def test_mixed_technical_german_is_kept():
    pair, _ = _clean("Open the file in the editor.", "Die Datei im Editor öffnen.")
    assert pair == ("Open the file in the editor.", "Die Datei im Editor öffnen.")


def test_length_and_ratio_filters_drop_and_count():
    settings = CleanSettings(LengthFilter(1, 5, 2.0))
    pair, counts = _clean("one two three four five six", "eins zwei drei vier fünf sechs",
                          settings)
    assert pair is None and counts["drop:length"] == 1
    pair, counts = _clean("Open", "Öffnen Sie bitte die Datei", settings)
    assert pair is None and counts["drop:length"] == 1


def test_translator_credits_and_pairs_without_letters_are_dropped():
    pair, counts = _clean("translator-credits", "Hans Muster")
    assert pair is None and counts["drop:credits"] == 1
    pair, counts = _clean("%s: %d", "%s: %d")
    assert pair is None and counts["drop:no_text"] == 1


def test_sentences_split_at_ends_but_not_at_abbreviations():
    assert sentences("Das ist z. B. ein Test. Öffnen Sie die Datei.") == [
        "Das ist z. B. ein Test.", "Öffnen Sie die Datei."]
    assert sentences("Use e.g. a pen. Version 2.0 is out!") == ["Use e.g. a pen.",
                                                               "Version 2.0 is out!"]


def test_messages_split_by_paragraph_and_sentence_only_where_the_counts_match():
    counts = {}
    english = "First part.\n\nSecond part. Third part."
    german = "Erster Teil.\n\nZweiter Teil. Dritter Teil."
    assert list(split_message(english, german, counts)) == [
        ("First part.", "Erster Teil."), ("Second part.", "Zweiter Teil."),
        ("Third part.", "Dritter Teil.")]
    assert counts == {"split_paragraphs": 1, "split_sentences": 1}
    assert list(split_message("One. Two.\nThree.", "Eins, zwei.\nDrei.")) == [
        ("One. Two. Three.", "Eins, zwei. Drei.")]
