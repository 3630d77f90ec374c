"""(english, german) package descriptions: APT's Translation-en and Translation-de indexes,
paired by ``Description-md5`` (the German entry names the md5 of the English it translates).

A description is its short line, then paragraphs (`` .`` lines separate them); list items
(lines starting ``*``, ``-``, ``+`` or ``o``) become paragraphs of their own, so the two sides
can be aligned paragraph by paragraph (``align.split_message``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Iterable, Iterator

from nmt.data.harvest.package_list import is_game_package, parse_stanzas

_BULLET = re.compile(r"^\s*[*\-+o]\s+")


def description_text(value: str) -> str:
    """A ``Description-xx`` field value as plain text: short line, blank line, paragraphs
    separated by blank lines, list items as paragraphs of their own."""
    lines = value.split("\n")
    blocks, current = [lines[0].strip()], []
    for line in lines[1:]:
        line = line[1:] if line.startswith(" ") else line
        if line.strip() == ".":
            blocks.append(" ".join(current))
            current = []
        elif _BULLET.match(line):
            blocks.append(" ".join(current))
            current = [_BULLET.sub("", line).strip()]
        else:
            current.append(line.strip())
    blocks.append(" ".join(current))
    return "\n\n".join(block for block in blocks if block.strip())


def descriptions_by_md5(text: str, language: str) -> dict[str, tuple[str, str]]:
    """``Description-md5`` → (package, description text) of one Translation index's text."""
    field = f"Description-{language}"
    return {stanza["Description-md5"]: (stanza.get("Package", ""), description_text(stanza[field]))
            for stanza in parse_stanzas(text)
            if field in stanza and "Description-md5" in stanza}


def description_pairs(english_indexes: Iterable[str], german_indexes: Iterable[str],
                      games: Collection[str] = (), counts: Counter | None = None,
                      ) -> Iterator[tuple[str, str, str]]:
    """(english, german, package) of every German description whose English is known, games
    (packages in ``games`` or named like a game) left out and counted in ``counts``
    (``game_descriptions``)."""
    counts = Counter() if counts is None else counts
    english: dict[str, tuple[str, str]] = {}
    for text in english_indexes:
        english.update(descriptions_by_md5(text, "en"))
    seen = set()
    for text in german_indexes:
        for md5, (package, german) in descriptions_by_md5(text, "de").items():
            if md5 in english and md5 not in seen:
                seen.add(md5)
                if package in games or is_game_package(package, ""):
                    counts["game_descriptions"] += 1
                    continue
                yield english[md5][1], german, package
