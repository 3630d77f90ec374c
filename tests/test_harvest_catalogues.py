"""Harvest readers: gettext catalogues (.mo, .po) and Debian package descriptions."""

from collections import Counter

import polib
import pytest

from nmt.data.harvest.catalogues import read_messages
from nmt.data.harvest.descriptions import description_pairs, description_text

_METADATA = {"Content-Type": "text/plain; charset=UTF-8",
             "Plural-Forms": "nplurals=2; plural=(n != 1);"}


def _catalogue(*entries: polib.POEntry) -> polib.POFile:
    catalogue = polib.POFile()
    catalogue.metadata = _METADATA
    for entry in entries:
        catalogue.append(entry)
    return catalogue


def test_mo_gives_singular_both_plural_forms_and_drops_the_context(tmp_path):
    mo = tmp_path / "demo.mo"
    _catalogue(
        polib.POEntry(msgid="Open the file.", msgstr="Die Datei öffnen."),
        polib.POEntry(msgid="One file", msgid_plural="%d files",
                      msgstr_plural={0: "Eine Datei", 1: "%d Dateien"}),
        polib.POEntry(msgctxt="menu", msgid="Close", msgstr="Schließen"),
    ).save_as_mofile(str(mo))
    assert sorted(read_messages(mo)) == [("%d files", "%d Dateien"), ("Close", "Schließen"),
                                         ("One file", "Eine Datei"),
                                         ("Open the file.", "Die Datei öffnen.")]


def test_po_drops_fuzzy_untranslated_and_obsolete_entries(tmp_path):
    po = tmp_path / "demo.po"
    fuzzy = polib.POEntry(msgid="Save changes?", msgstr="Änderungen sichern?", flags=["fuzzy"])
    obsolete = polib.POEntry(msgid="Old text.", msgstr="Alter Text.", obsolete=True)
    _catalogue(polib.POEntry(msgid="Quit now.", msgstr="Jetzt beenden."), fuzzy,
               polib.POEntry(msgid="Not done yet.", msgstr=""), obsolete).save(str(po))
    counts = Counter()
    assert read_messages(po, counts) == [("Quit now.", "Jetzt beenden.")]
    assert counts["fuzzy"] == 1 and counts["untranslated"] == 1


def test_unreadable_catalogue_raises_naming_the_file(tmp_path):
    broken = tmp_path / "broken.mo"
    broken.write_bytes(b"not a catalogue at all")
    with pytest.raises(ValueError, match="broken.mo"):
        read_messages(broken)


def test_description_text_has_short_line_paragraphs_and_list_items():
    value = ("Tool to edit files\n Edits text files quickly.\n It is small.\n .\n"
             " Features:\n  * undo\n  * search")
    assert description_text(value) == ("Tool to edit files\n\nEdits text files quickly. It is "
                                       "small.\n\nFeatures:\n\nundo\n\nsearch")


def test_descriptions_pair_by_md5_and_skip_unknown_english():
    english = ("Package: ed\nDescription-md5: aaa\nDescription-en: line editor\n"
               " The classic editor.\n\n")
    german = ("Package: ed\nDescription-md5: aaa\nDescription-de: Zeileneditor\n"
              " Der klassische Editor.\n\n"
              "Package: vi\nDescription-md5: bbb\nDescription-de: Bildschirmeditor\n")
    assert list(description_pairs([english], [german])) == [
        ("line editor\n\nThe classic editor.", "Zeileneditor\n\nDer klassische Editor.", "ed")]


def test_game_descriptions_are_left_out_and_counted():
    english = ("Package: chess\nDescription-md5: ccc\nDescription-en: a chess game\n\n"
               "Package: wesnoth-1.16\nDescription-md5: ddd\nDescription-en: fantasy game\n\n"
               "Package: ed\nDescription-md5: aaa\nDescription-en: line editor\n\n")
    german = ("Package: chess\nDescription-md5: ccc\nDescription-de: ein Schachspiel\n\n"
              "Package: wesnoth-1.16\nDescription-md5: ddd\nDescription-de: Fantasyspiel\n\n"
              "Package: ed\nDescription-md5: aaa\nDescription-de: Zeileneditor\n\n")
    counts = Counter()
    assert list(description_pairs([english], [german], {"chess"}, counts)) == [
        ("line editor", "Zeileneditor", "ed")]
    assert counts["game_descriptions"] == 2
