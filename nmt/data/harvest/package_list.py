"""The pinned list of Debian packages the harvest fetches, built once from the Contents index.

Two kinds: packages holding German gettext catalogues (``…/de/LC_MESSAGES/*.mo``), densest
first (German catalogues per MB of download), and documentation shipped in English and German.
Games are left out entirely (their catalogues are kept for independent evaluation): packages
in a ``games`` section or named like one, paths under ``/games/``, and catalogues whose domain
names a game package.

The list file has one package a line: ``name version section size_bytes catalogues kind``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

GERMAN_CATALOGUE = re.compile(r"(^|/)de(_DE)?/LC_MESSAGES/([^/]+)\.mo$")
GAME_NAME = re.compile(r"^(wesnoth|freeciv|supertux|minetest|0ad|widelands|pingus|hedgewars|"
                       r"warzone2100|openttd|neverball|frozen-bubble|megaglest|lincity|"
                       r"scorched3d|gcompris|kdegames|gnome-games)", re.IGNORECASE)

# Documentation in English and German whose block structures align (see documents.py).
DOCUMENTATION_PACKAGES = (
    "libreoffice-help-de", "libreoffice-help-en-us",
    "debian-handbook", "debian-reference-de", "debian-reference-en",
    "developers-reference-de", "developers-reference",
    "gnome-user-docs", "gimp-help-de", "gimp-help-en",
    "manpages-de", "manpages-de-dev", "manpages", "manpages-dev",
)
# German help that aligns with its English: Mallard pages, KDE DocBook handbooks.
GERMAN_HELP = re.compile(r"^usr/share/(help/de|doc/HTML/de)/[^/]+/[^/]+\.(page|docbook)$")
# Catalogue packages larger than this are left out: one catalogue in hundreds of MB of data.
MAX_CATALOGUE_PACKAGE_BYTES = 50_000_000


@dataclass(frozen=True)
class PinnedPackage:
    name: str
    version: str
    section: str
    size: int
    catalogues: int
    kind: str  # "catalogues" or "documentation"

    @property
    def spec(self) -> str:
        """What ``apt-get download`` is given: ``name=version``."""
        return f"{self.name}={self.version}"

    def line(self) -> str:
        return (f"{self.name} {self.version} {self.section} {self.size} {self.catalogues} "
                f"{self.kind}")


def is_game_package(name: str, section: str) -> bool:
    """True for a package in a games section or named like a game."""
    return section.split("/")[-1] == "games" or bool(GAME_NAME.match(name))


def catalogue_domain(path: str) -> str | None:
    """The gettext domain of a German catalogue path (``…/de/LC_MESSAGES/gimp20.mo`` →
    ``gimp20``), or None for any other path."""
    match = GERMAN_CATALOGUE.search(path)
    return match.group(3) if match else None


def is_game_catalogue(path: str, game_names: set[str]) -> bool:
    """True for a catalogue under ``/games/`` or whose domain starts with a game's name."""
    domain = catalogue_domain(path) or ""
    return ("/games/" in f"/{path}" or bool(GAME_NAME.match(domain))
            or any(domain == game or domain.startswith(game + "-") for game in game_names))


def parse_contents_line(line: str) -> tuple[str, list[tuple[str, str]]] | None:
    """``path  section/package,section/package`` → (path, [(section, package), ...])."""
    parts = line.rstrip("\n").rsplit(None, 1)
    if len(parts) != 2:
        return None
    owners = []
    for owner in parts[1].split(","):
        section, _, package = owner.rpartition("/")
        owners.append((section, package))
    return parts[0], owners


def catalogues_by_package(contents: Iterable[str]) -> tuple[dict[str, int], dict[str, str]]:
    """Per package, how many German catalogues it holds, and each package's section, from the
    lines of Contents indexes (games not yet removed)."""
    counts: dict[str, int] = defaultdict(int)
    sections: dict[str, str] = {}
    for line in contents:
        if "LC_MESSAGES" not in line:
            continue
        parsed = parse_contents_line(line)
        if parsed is None or catalogue_domain(parsed[0]) is None:
            continue
        for section, package in parsed[1]:
            counts[package] += 1
            sections[package] = section
    return dict(counts), sections


def help_packages(contents: Iterable[str]) -> set[str]:
    """Packages holding German Mallard or KDE DocBook help (``GERMAN_HELP``), from the lines of
    Contents indexes."""
    found = set()
    for line in contents:
        if not line.startswith(("usr/share/help/de/", "usr/share/doc/HTML/de/")):
            continue
        parsed = parse_contents_line(line)
        if parsed and GERMAN_HELP.match(parsed[0]):
            found.update(package for _, package in parsed[1])
    return found


def parse_stanzas(text: str) -> list[dict[str, str]]:
    """Deb822 stanzas (``Field: value``, continuation lines joined with newlines)."""
    stanzas, current, field = [], {}, None
    for line in text.splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
            current, field = {}, None
        elif line[0] in " \t" and field:
            current[field] += "\n" + line
        elif ":" in line:
            field, _, value = line.partition(":")
            current[field] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def rank_packages(counts: dict[str, int], stanzas: list[dict[str, str]],
                  documentation: Iterable[str] = DOCUMENTATION_PACKAGES,
                  max_bytes: int = MAX_CATALOGUE_PACKAGE_BYTES) -> list[PinnedPackage]:
    """Pinned packages: documentation first, then catalogue packages by catalogues per MB
    (densest first); games, packages APT does not know and catalogue packages over
    ``max_bytes`` are left out."""
    by_name = {stanza["Package"]: stanza for stanza in stanzas if "Package" in stanza}
    pinned = []
    for name in documentation:
        stanza = by_name.get(name)
        if stanza and not is_game_package(name, stanza.get("Section", "")):
            pinned.append(PinnedPackage(name, stanza["Version"], stanza.get("Section", "doc"),
                                        int(stanza.get("Size", 0)), counts.get(name, 0),
                                        "documentation"))
    game_sources = {stanza.get("Source", name).split()[0] for name, stanza in by_name.items()
                    if is_game_package(name, stanza.get("Section", ""))}
    chosen = []
    for name, count in counts.items():
        stanza = by_name.get(name)
        if stanza is None or name in documentation:
            continue
        section = stanza.get("Section", "")
        source = stanza.get("Source", name).split()[0]
        if is_game_package(name, section) or source in game_sources:
            continue
        size = int(stanza.get("Size", 0))
        if size > max_bytes:
            continue
        chosen.append(PinnedPackage(name, stanza["Version"], section, size, count, "catalogues"))
    chosen.sort(key=lambda package: (-package.catalogues / max(package.size, 1), package.name))
    return pinned + chosen


def write_package_list(path: Path, packages: list[PinnedPackage], header: str) -> None:
    lines = [f"# {line}" for line in header.splitlines()]
    lines.append("# name version section size_bytes german_catalogues kind")
    lines += [package.line() for package in packages]
    Path(path).write_text("\n".join(lines) + "\n")


def read_package_list(path: Path) -> list[PinnedPackage]:
    """The packages of a list written by ``write_package_list``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Package list {path} not found; build it with `python -m nmt.data.harvest packages`.")
    packages = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 6:
            raise ValueError(f"{path}:{number}: expected 6 fields, got {line!r}.")
        name, version, section, size, count, kind = fields
        packages.append(PinnedPackage(name, version, section, int(size), int(count), kind))
    return packages


def game_names(stanzas: list[dict[str, str]]) -> set[str]:
    """Names (and source names) of the game packages in ``stanzas``; catalogues whose domain
    is one of them are left out even when another package ships them."""
    names = set()
    for stanza in stanzas:
        if is_game_package(stanza.get("Package", ""), stanza.get("Section", "")):
            names.add(stanza["Package"])
            names.add(stanza.get("Source", stanza["Package"]).split()[0])
    return {name for name in names if len(name) >= 4}
