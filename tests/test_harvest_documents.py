"""Harvest: documentation in two languages aligned by structure; the pinned package list."""

import gzip
import shutil
import subprocess

import pytest

from nmt.data.harvest.apt import extract_members
from nmt.data.harvest.documents import align_blocks, docbook_blocks, html_blocks, mallard_blocks
from nmt.data.harvest.manpages import man_blocks, read_man_page
from nmt.data.harvest.package_list import (PinnedPackage, catalogues_by_package,
                                           help_packages, is_game_catalogue, rank_packages,
                                           read_package_list, write_package_list)

_HELP_PAGE = """<html><head><title>{title}</title></head><body>
<header><p>LibreOffice Help</p></header>
<div id="DisplayArea"><h1 id="hd_1">{title}</h1>
<p id="par_1">{first}</p><p id="par_2">{second}</p></div>
<footer><p>Licence</p></footer></body></html>"""


def test_html_blocks_carry_ids_and_leave_navigation_out():
    page = _HELP_PAGE.format(title="Table", first="Inserts a <b>table</b>.", second="Deletes it.")
    assert html_blocks(page) == [("hd_1", "Table"), ("par_1", "Inserts a table."),
                                 ("par_2", "Deletes it.")]


def test_publican_paragraph_divs_are_blocks_and_sphinx_header_links_are_left_out():
    page = ('<div class="section"><h2>Setup<a class="headerlink" href="#s">¶</a></h2>'
            '<div class="para">First paragraph.</div><div class="para">Second one.</div></div>')
    assert html_blocks(page) == [(None, "Setup"), (None, "First paragraph."),
                                 (None, "Second one.")]


def test_html_pages_align_by_element_id_even_when_order_differs():
    english = html_blocks(_HELP_PAGE.format(title="Table", first="Inserts a table.",
                                            second="Deletes it."))
    german = html_blocks(_HELP_PAGE.format(title="Tabelle", first="Fügt eine Tabelle ein.",
                                           second="Löscht sie.").replace('"par_1"', '"par_x"'))
    assert align_blocks(english, german) == [("Table", "Tabelle"), ("Deletes it.", "Löscht sie.")]


_MALLARD = """<page xmlns="http://projectmallard.org/1.0/" id="intro">
<info><credit><name>Jane</name></credit></info>
<title>{title}</title><p>{para}</p><screen>ls -l</screen>
<list><item><p>{item}</p></item></list></page>"""


def test_mallard_pages_align_block_by_block():
    english = mallard_blocks(_MALLARD.format(title="Intro", para="Open <gui>Files</gui>.",
                                             item="Click it."))
    german = mallard_blocks(_MALLARD.format(title="Einführung", item="Klicken Sie.",
                                            para="Öffnen Sie <gui>Dateien</gui>."))
    assert align_blocks(english, german) == [("Intro", "Einführung"),
                                             ("Open Files.", "Öffnen Sie Dateien."),
                                             ("Click it.", "Klicken Sie.")]


def test_documents_whose_block_counts_differ_a_little_align_by_length():
    english = [(None, text) for text in ["Introduction", "This program edits text files quickly.",
                                         "Start it from the menu."]]
    german = [(None, text) for text in
              ["Einführung", "Dieses Programm bearbeitet Textdateien schnell.",
               "Übersetzung: Hans Muster", "Starten Sie es aus dem Menü."]]
    assert align_blocks(english, german) == [
        ("Introduction", "Einführung"),
        ("This program edits text files quickly.",
         "Dieses Programm bearbeitet Textdateien schnell."),
        ("Start it from the menu.", "Starten Sie es aus dem Menü.")]


def test_documents_whose_block_structures_differ_more_give_nothing():
    english = [(None, f"Paragraph {index}.") for index in range(10)]
    german = [(None, f"Absatz {index}.") for index in range(6)]
    assert align_blocks(english, german) is None


_DOCBOOK = """<?xml version="1.0" ?>
<!DOCTYPE article PUBLIC "-//KDE//DTD DocBook XML V4.5-Based Variant V1.1//EN" "dtd/kdedbx45.dtd" [
  <!ENTITY kappname "<application>Kate</application>">
]>
<article><articleinfo><title>Handbook</title></articleinfo>
<para>&kappname; runs on &kde; with &dolphin;.</para>
<para>Choose <menuchoice><shortcut><keycombo>Ctrl S</keycombo></shortcut><guimenu>File</guimenu>
<guimenuitem>Save</guimenuitem></menuchoice>.</para>
<programlisting>make install</programlisting></article>"""


def test_docbook_blocks_expand_entities_and_separate_menu_steps_without_shortcuts():
    assert docbook_blocks(_DOCBOOK) == [(None, "Kate runs on KDE with Dolphin."),
                                        (None, "Choose File > Save.")]


def test_contents_lines_count_german_catalogues_per_package():
    contents = [
        "usr/share/locale/de/LC_MESSAGES/gedit.mo     gnome/gedit-common\n",
        "usr/share/locale/de/LC_MESSAGES/glib20.mo    libs/libglib2.0-data,libs/glib-extra\n",
        "usr/share/locale/fr/LC_MESSAGES/gedit.mo     gnome/gedit-common\n",
        "usr/share/doc/gedit/README                   gnome/gedit-common\n",
    ]
    counts, sections = catalogues_by_package(contents)
    assert counts == {"gedit-common": 1, "libglib2.0-data": 1, "glib-extra": 1}
    assert sections["gedit-common"] == "gnome"


def test_help_packages_are_those_with_german_mallard_or_docbook_help():
    contents = [
        "usr/share/help/de/gedit/index.page           gnome/gedit\n",
        "usr/share/doc/HTML/de/kate/index.docbook     kde/kate-doc\n",
        "usr/share/help/C/eog/index.page              gnome/eog\n",
        "usr/share/help/de/eog/figures/view.png       gnome/eog\n",
    ]
    assert help_packages(contents) == {"gedit", "kate-doc"}


def test_games_are_left_out_of_the_package_list_by_section_name_and_source():
    counts = {"gedit-common": 2, "wesnoth-1.16-data": 40, "chess-data": 5, "chess-tools": 1,
              "tiny": 1}
    stanzas = [
        {"Package": "gedit-common", "Version": "1", "Section": "gnome", "Size": "1000000"},
        {"Package": "wesnoth-1.16-data", "Version": "1", "Section": "misc", "Size": "10"},
        {"Package": "chess-data", "Version": "2", "Section": "games", "Size": "10",
         "Source": "chess"},
        {"Package": "chess-tools", "Version": "2", "Section": "utils", "Size": "10",
         "Source": "chess (2)"},
        {"Package": "tiny", "Version": "3", "Section": "libs", "Size": "1000"},
    ]
    ranked = rank_packages(counts, stanzas, documentation=())
    assert [package.name for package in ranked] == ["tiny", "gedit-common"]


def test_game_catalogues_are_recognised_by_path_and_domain():
    assert is_game_catalogue("usr/share/games/foo/locale/de/LC_MESSAGES/foo.mo", set())
    assert is_game_catalogue("usr/share/locale/de/LC_MESSAGES/wesnoth-lib.mo", set())
    assert is_game_catalogue("usr/share/locale/de/LC_MESSAGES/gnome-chess.mo", {"gnome-chess"})
    assert not is_game_catalogue("usr/share/locale/de/LC_MESSAGES/gedit.mo", {"gnome-chess"})


def test_package_list_round_trips_through_its_file(tmp_path):
    packages = [PinnedPackage("gimp-data", "2.10-1", "graphics", 14214540, 4, "catalogues")]
    write_package_list(tmp_path / "packages.txt", packages, "header line")
    assert read_package_list(tmp_path / "packages.txt") == packages


def test_missing_package_list_names_the_command_that_builds_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nmt.data.harvest packages"):
        read_package_list(tmp_path / "absent.txt")


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_extract_members_unpacks_wanted_files_resumes_and_redoes_when_wanted_changes(tmp_path):
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN/control").write_text("Package: demo\nVersion: 1\nArchitecture: all\n"
                                         "Maintainer: x <x@example.org>\nDescription: demo\n")
    catalogue = root / "usr/share/locale/de/LC_MESSAGES/demo.mo"
    catalogue.parent.mkdir(parents=True)
    catalogue.write_bytes(b"mo")
    (root / "usr/share/doc").mkdir(parents=True)
    (root / "usr/share/doc/README").write_text("readme")
    deb = tmp_path / "demo_1_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(root), str(deb)], check=True,
                   capture_output=True)
    dest = tmp_path / "tree"
    assert extract_members(deb, dest, lambda path: path.endswith(".mo")) == 1
    assert (dest / "usr/share/locale/de/LC_MESSAGES/demo.mo").read_bytes() == b"mo"
    assert not (dest / "usr/share/doc/README").exists()
    assert extract_members(deb, dest, lambda path: True, signature="all") == 2  # kept more
    deb.unlink()  # done once with this signature: not unpacked again
    assert extract_members(deb, dest, lambda path: True, signature="all") == 2


_MAN_PAGE = r""".\" Comment line
.TH LS 1 "2022" "GNU coreutils"
.SH NAME
ls \- list directory contents
.SH SYNOPSIS
.B ls
[\fIOPTION\fR]... [\fIFILE\fR]...
.SH DESCRIPTION
List information about the FILEs
(the current directory by default).
.TP
\fB\-a\fR, \fB\-\-all\fR
do not ignore entries starting with .
.PP
See
.BR dir (1)
for more.
.nf
ls -l /tmp
.fi
"""


def test_man_pages_give_headings_and_paragraphs_without_synopsis_or_code():
    assert man_blocks(_MAN_PAGE) == [
        (None, "NAME"), (None, "ls - list directory contents"), (None, "DESCRIPTION"),
        (None, "List information about the FILEs (the current directory by default)."),
        (None, "-a, --all do not ignore entries starting with ."),
        (None, "See dir(1) for more.")]


def test_man_page_escapes_for_german_letters_become_the_letters():
    assert man_blocks(r"Datenstr\(:ome au\(sser \[u00DC]bersicht") == [
        (None, "Datenströme außer Übersicht")]


def test_man_page_links_give_no_blocks(tmp_path):
    link = tmp_path / "vdir.1.gz"
    with gzip.open(link, "wt") as handle:
        handle.write(".so man1/ls.1\n")
    assert read_man_page(link) is None
