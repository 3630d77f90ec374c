"""Sentence-like (english, german) pairs from gettext catalogues (``.mo``) installed here.

Programs ship their German interface wording as compiled catalogues mapping the English
``msgid`` to the German ``msgstr``. Only plain sentences are kept: plural entries, format strings
(``%s``, ``{name}``, ``$VAR``, ``@VAR@``), markup and multi-line texts are skipped; keyboard
accelerators (``_Open``, ``&Save``) are removed.
"""

from __future__ import annotations

import gettext
import glob
import re
import struct
from collections.abc import Iterable
from pathlib import Path

from echoformer.data.ding import is_sentence_like

GERMAN_CATALOGUE_GLOBS = (
    "/usr/share/locale/de*/LC_MESSAGES/*.mo",
    "/usr/share/locale-langpack/de*/LC_MESSAGES/*.mo",
    "/usr/share/*/lang/de*/LC_MESSAGES/*.mo",
    "/usr/share/*/*/lang/de*/LC_MESSAGES/*.mo",
    "/usr/lib/*/locale/de*/LC_MESSAGES/*.mo",
)

_CONTEXT_SEPARATOR = "\x04"
_PLACEHOLDER = re.compile(r"%|\{|\}|\$\w|@\w+@")
_MARKUP = re.compile(r"<[^>]*>|&[#\w]+;")
_ACCELERATOR = re.compile(r"(?<![\w&_])[_&](?=\w)")


def find_german_catalogues(patterns: Iterable[str] = GERMAN_CATALOGUE_GLOBS) -> list[Path]:
    """Sorted, distinct ``.mo`` files matching ``patterns``."""
    return sorted({Path(path).resolve() for pattern in patterns for path in glob.glob(pattern)})


def read_catalogue(path: Path) -> dict[str, str]:
    """Singular msgid → msgstr entries of one ``.mo`` file (header and plurals left out).

    Raises ``ValueError`` naming the file when it is not a readable catalogue.
    """
    try:
        with Path(path).open("rb") as handle:
            catalog = gettext.GNUTranslations(handle)._catalog
    except (OSError, UnicodeDecodeError, LookupError, struct.error) as error:
        raise ValueError(f"Cannot read gettext catalogue {path}: {error}") from error
    return {
        msgid.split(_CONTEXT_SEPARATOR)[-1]: msgstr
        for msgid, msgstr in catalog.items()
        if isinstance(msgid, str) and msgid and isinstance(msgstr, str)
    }


def clean_message(text: str) -> str | None:
    """The message without accelerators and extra spaces, or ``None`` when it is not plain text."""
    if "\n" in text.strip() or "\t" in text or _PLACEHOLDER.search(text) or _MARKUP.search(text):
        return None
    text = " ".join(_ACCELERATOR.sub("", text).split())
    return text if any(char.isalpha() for char in text) else None


def catalogue_sentence_pairs(catalogue: dict[str, str]) -> list[tuple[str, str]]:
    """Sentence-like (english, german) pairs of one catalogue (see ``is_sentence_like``)."""
    pairs = []
    for msgid, msgstr in catalogue.items():
        english, german = clean_message(msgid), clean_message(msgstr)
        if english and german and english != german and is_sentence_like(english, german):
            pairs.append((english, german))
    return pairs


def read_gettext_pairs(
    paths: Iterable[Path] | None = None,
) -> tuple[list[tuple[str, str]], list[str]]:
    """Distinct sentence-like (english, german) pairs from ``paths`` (default: installed German
    catalogues), and one message per unreadable file that was skipped."""
    pairs: dict[tuple[str, str], None] = {}
    skipped = []
    for path in find_german_catalogues() if paths is None else paths:
        try:
            catalogue = read_catalogue(path)
        except ValueError as error:
            skipped.append(str(error))
            continue
        pairs.update(dict.fromkeys(catalogue_sentence_pairs(catalogue)))
    return list(pairs), skipped
