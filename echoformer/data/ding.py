"""Reader of the Ding German–English dictionary (Debian package ``trans-de-en``).

A line reads ``de part | de part … :: en part | en part …``; the ``|``-separated parts of the two
sides align one to one. Inside a part, ``;`` separates alternatives and ``{…}`` ``[…]`` ``<…>``
carry grammar, usage and search tags. Lines starting with ``#`` are comments.

Most parts are words and phrases (~370K of the ~390K), not sentences: ``term_pairs`` turns them
into short training pairs (the first alternative of each side, placeholders and remarks removed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

DING_PATH = Path("/usr/share/trans/de-en")
SENTENCE_END = (".", "?", "!")
MIN_SENTENCE_WORDS = 4

_TAG = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]|<[^<>]*>")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")
# Dictionary conventions that are not text: object placeholders (``to give sb. sth.``,
# ``jdm. etw. geben``), remarks in parentheses, abbreviations between slashes (``/HSJ/``).
_PLACEHOLDER = re.compile(
    r"(?<![\w.])(?:sb|sth|jd|jdn|jdm|jds|etw)\.(?:'s|s)?(?!\w)", re.IGNORECASE)
_REMARK = re.compile(r"\([^()]*\)|/[^/\s][^/]*/")


def strip_tags(text: str) -> str:
    """Remove ``{…}`` ``[…]`` ``<…>`` tags and tidy whitespace: ``"Aal {m} [zool.]"`` → ``"Aal"``."""
    text = _TAG.sub(" ", text)
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(text.split()))


def parse_ding_line(line: str) -> list[tuple[str, str]]:
    """(german, english) pairs of the aligned parts of one dictionary line.

    Comments, blank lines, lines without ``::`` and lines whose sides have different part counts
    give ``[]``; parts empty after tag stripping are dropped.
    """
    if line.startswith("#") or "::" not in line:
        return []
    german, english = line.rstrip("\n").split("::", 1)
    german_parts, english_parts = german.split("|"), english.split("|")
    if len(german_parts) != len(english_parts):
        return []
    pairs = [(strip_tags(de), strip_tags(en)) for de, en in zip(german_parts, english_parts)]
    return [(de, en) for de, en in pairs if de and en]


def iter_ding_pairs(path: str | Path = DING_PATH) -> Iterator[tuple[str, str]]:
    """(german, english) pairs of aligned parts in the Ding file at ``path``, in file order.

    Raises ``FileNotFoundError`` at once (not on first iteration) when the file is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Ding dictionary not found at {path}. Install it with "
            "`apt-get install trans-de-en` (it provides /usr/share/trans/de-en), "
            "or pass the path of another copy of the file."
        )
    return _pairs_of_lines(path)


def _pairs_of_lines(path: Path) -> Iterator[tuple[str, str]]:
    with path.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            yield from parse_ding_line(line)


def is_sentence_like(en: str, de: str) -> bool:
    """True when both sides end in ``.`` ``?`` or ``!`` and the English side has ≥ 4 words."""
    en, de = en.strip(), de.strip()
    return (
        en.endswith(SENTENCE_END)
        and de.endswith(SENTENCE_END)
        and len(en.split()) >= MIN_SENTENCE_WORDS
    )


def split_sentence_alternatives(part: str) -> list[str]:
    """Split ``"It is late.; It's late."`` into its alternatives; other parts come back whole.

    Splits on ``;`` only when every piece ends a sentence, so ``"He came; she left."`` stays one.
    """
    pieces = [piece.strip() for piece in part.split(";")]
    if len(pieces) > 1 and all(piece.endswith(SENTENCE_END) for piece in pieces):
        return pieces
    return [part]


def sentence_pairs(part_pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Distinct sentence-like (german, english) pairs among ``part_pairs``, in input order.

    A part pair whose sides list ``;``-separated sentence alternatives gives every combination
    (each German alternative translates each English one).
    """
    pairs: dict[tuple[str, str], None] = {}
    for german, english in part_pairs:
        for de in split_sentence_alternatives(german):
            for en in split_sentence_alternatives(english):
                if is_sentence_like(en, de):
                    pairs[(de, en)] = None
    return list(pairs)


def read_ding_sentence_pairs(path: str | Path = DING_PATH) -> list[tuple[str, str]]:
    """Distinct sentence-like (german, english) pairs of the Ding file, alternatives crossed."""
    return sentence_pairs(iter_ding_pairs(path))


def plain_alternative(alternative: str) -> str:
    """One ``;`` alternative of a dictionary part without placeholders, remarks in parentheses
    and ``/ABBR/`` abbreviations: ``"jdn. fassen"`` → ``"fassen"``.

    Gives ``""`` when nothing plain is left, or the rest still holds ``/`` or ``…`` (``er/sie``
    alternatives, gaps): such text is not a plain phrase.
    """
    text = " ".join(_PLACEHOLDER.sub(" ", _REMARK.sub(" ", alternative)).split())
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text).strip(" ,:")
    if not text or any(mark in text for mark in ("/", "…", "...", "(", ")")):
        return ""
    return text


def clean_term(part: str) -> str:
    """The first ``;`` alternative of a dictionary part, plain (`plain_alternative`):
    ``"jdn. fassen; fangen"`` → ``"fassen"``; ``""`` when it teaches no clean translation."""
    return plain_alternative(part.split(";", 1)[0])


def term_pairs(part_pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Distinct (german, english) word and phrase pairs among ``part_pairs``, in input order.

    The parts that are not sentence-like (see ``is_sentence_like``), each side cleaned by
    ``clean_term``; a pair with an empty side is left out.
    """
    pairs: dict[tuple[str, str], None] = {}
    for german, english in part_pairs:
        if is_sentence_like(english, german):
            continue
        de, en = clean_term(german), clean_term(english)
        if de and en:
            pairs[(de, en)] = None
    return list(pairs)
