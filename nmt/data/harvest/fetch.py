"""Stage-1 fetching: build the pinned package list, download the packages, unpack the members
the readers need (German and English catalogues, help and documentation trees)."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from pathlib import Path

from tqdm import tqdm

from nmt.data.harvest.apt import PrivateApt, deb_path, extract_members
from nmt.data.harvest.package_list import (
    DOCUMENTATION_PACKAGES, PinnedPackage, catalogues_by_package, game_names, help_packages,
    is_game_catalogue, parse_stanzas, rank_packages, write_package_list)

# What is unpacked from each package: German catalogues, and English/German documentation trees.
KEPT_MEMBER = re.compile(
    r"(^|/)de(_DE)?/LC_MESSAGES/[^/]+\.mo$"
    r"|^usr/share/libreoffice/help/(de|en-US)/.*\.(xhp|html)$"
    r"|^usr/share/help/(C|de)/.*\.(page|xml|docbook)$"
    r"|^usr/share/doc/HTML/(en|de)/.*\.(docbook|html)$"
    r"|^usr/share/gimp/2\.0/help/(en|de)/.*\.html$"
    r"|^usr/share/doc/debian-handbook/html/(en-US|de-DE)/.*\.html$"
    r"|^usr/share/(debian-reference|developers-reference)/.*\.html$"
    r"|^usr/share/man/(de/)?man\d/[^/]+\.gz$"
)


def build_package_list(apt: PrivateApt, out: Path, games_out: Path) -> list[PinnedPackage]:
    """Write the pinned package list ``out`` (and the game names left out, ``games_out``) from
    the Contents indexes and the candidate versions APT knows now."""
    apt.update()
    contents = apt.index_files("Contents-deb")
    lines = (line for path in contents for line in apt.lines(path))
    counts, _ = catalogues_by_package(tqdm(lines, desc="Contents", unit=" lines"))
    # Help packages without catalogues of their own are fetched for their help pages (those
    # with catalogues are fetched anyway, and their help pages unpacked with them).
    helps = help_packages(line for path in contents for line in apt.lines(path))
    documentation = list(DOCUMENTATION_PACKAGES) + sorted(helps - set(counts)
                                                          - set(DOCUMENTATION_PACKAGES))
    names = sorted(set(counts) | set(documentation))
    stanzas = []
    for start in range(0, len(names), 500):
        stanzas += parse_stanzas(apt.show(names[start:start + 500]))
    # Game names come from every package APT knows (a game's catalogue may sit in a non-game
    # package); read them from the Packages indexes.
    every = parse_stanzas("".join(line for path in apt.index_files("Packages")
                                  for line in apt.lines(path)))
    games = game_names(every)
    packages = rank_packages(counts, stanzas, documentation)
    header = ("German gettext catalogues (densest first, games left out) and English/German "
              "documentation,\nfrom the Debian bookworm Contents index; regenerate with "
              "`python -m nmt.data.harvest packages`.")
    write_package_list(out, packages, header)
    games_out.write_text("# game packages and sources: their catalogues are left out\n"
                         + "".join(name + "\n" for name in sorted(games)))
    return packages


def read_game_names(path: Path) -> set[str]:
    return {line.strip() for line in Path(path).read_text().splitlines()
            if line.strip() and not line.startswith("#")}


def fetch_packages(apt: PrivateApt, packages: list[PinnedPackage], cache: Path,
                   games: set[str]) -> dict:
    """Download ``packages`` into ``cache/debs`` and unpack what the readers need into
    ``cache/tree/<name>``; packages done before are skipped. Returns counts."""
    debs, trees = cache / "debs", cache / "tree"
    failed = apt.download([package.spec for package in packages], debs)
    stats = {"packages": len(packages), "download_failed": failed, "unpacked_files": 0,
             "download_bytes": 0}

    def wanted(path: str) -> bool:
        return bool(KEPT_MEMBER.search(path)) and not is_game_catalogue(path, games)

    # Unpacked trees are redone when what is kept changes.
    signature = hashlib.sha256("\n".join([KEPT_MEMBER.pattern, *sorted(games)])
                               .encode()).hexdigest()[:16]

    for package in tqdm(packages, desc="unpack", unit=" packages"):
        deb = deb_path(debs, package.name)
        if deb is None:
            continue
        stats["download_bytes"] += deb.stat().st_size
        stats["unpacked_files"] += extract_members(deb, trees / package.name, wanted, signature)
    return stats


def read_wheel_list(path: Path) -> list[str]:
    """Pinned PyPI requirements (``name==version``), one a line, ``#`` comments allowed."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Wheel list {path} not found (one name==version a line).")
    return [line.split("#")[0].strip() for line in path.read_text().splitlines()
            if line.split("#")[0].strip()]


def fetch_wheels(specs: list[str], dest: Path) -> list[str]:
    """``pip download --no-deps`` each pinned wheel into ``dest`` unless a wheel of that name
    and version is there; returns the specs that failed."""
    dest.mkdir(parents=True, exist_ok=True)
    failed = []
    for spec in tqdm(specs, desc="pip download", unit=" wheels"):
        name, _, version = spec.partition("==")
        stem = f"{name.replace('-', '_').lower()}-{version}-"
        if any(path.name.lower().startswith(stem) for path in dest.glob("*.whl")):
            continue
        result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                                 "--only-binary", ":all:", "-q", "-d", str(dest), spec],
                                capture_output=True, text=True)
        if result.returncode:
            failed.append(spec)
    return failed
