"""Sentence pairs from gettext catalogues (echoformer.data.gettext_pairs)."""

import struct

from echoformer.data.gettext_pairs import (
    catalogue_sentence_pairs,
    clean_message,
    read_catalogue,
    read_gettext_pairs,
)


def test_gettext_messages_lose_accelerators_and_skip_placeholders_and_markup():
    assert clean_message("_Open the file now.") == "Open the file now."
    assert clean_message("&Save all changes!") == "Save all changes!"
    assert clean_message("Cannot open %s.") is None
    assert clean_message("Hello {name}, welcome back.") is None
    assert clean_message("<b>Bold</b> text is here.") is None


def test_gettext_catalogue_gives_sentence_like_pairs_only(tmp_path):
    mo = tmp_path / "demo.mo"
    mo.write_bytes(_mo_bytes({
        "": "Content-Type: text/plain; charset=UTF-8\n",
        "The file could not be saved.": "Die Datei konnte nicht gespeichert werden.",
        "_Quit": "_Beenden",
        "Unable to open %s.": "%s kann nicht geöffnet werden.",
        "menu\x04Close all open windows.": "Alle offenen Fenster schließen.",
    }))
    catalogue = read_catalogue(mo)
    assert catalogue_sentence_pairs(catalogue) == [
        ("The file could not be saved.", "Die Datei konnte nicht gespeichert werden."),
        ("Close all open windows.", "Alle offenen Fenster schließen."),
    ]


def _mo_bytes(messages: dict[str, str]) -> bytes:
    """A little-endian GNU .mo file holding ``messages`` (msgid → msgstr)."""
    keys = sorted(messages)
    ids = [key.encode() for key in keys]
    strs = [messages[key].encode() for key in keys]
    header_size = 7 * 4
    table_size = len(keys) * 8
    data_start = header_size + 2 * table_size
    data, id_table, str_table = b"", [], []
    for table, items in ((id_table, ids), (str_table, strs)):
        for item in items:
            table.append((len(item), data_start + len(data)))
            data += item + b"\0"
    out = struct.pack("<7I", 0x950412DE, 0, len(keys), header_size, header_size + table_size, 0, 0)
    for length, offset in id_table + str_table:
        out += struct.pack("<2I", length, offset)
    return out + data


def test_unreadable_catalogue_is_reported_and_skipped(tmp_path):
    broken = tmp_path / "broken.mo"
    broken.write_bytes(b"not a catalogue")
    pairs, skipped = read_gettext_pairs([broken])
    assert pairs == [] and "broken.mo" in skipped[0]
