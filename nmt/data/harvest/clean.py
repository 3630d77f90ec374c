"""Cleaning rules for harvested (english, german) pairs; each rule counts what it does.

In order: translator credits dropped; accelerators (``_File``, ``&File``, ``~File``) and
markup (``<b>``, ``<span …>``, entities) stripped; spaces tidied; pairs without letters
dropped; placeholders (``%s``, ``%1$d``, ``%(name)s``, ``{name}``, ``$VAR``, ``@VAR@``) kept as
they are but the pair dropped when the two sides do not hold the same ones; untranslated pairs
(German identical to the English) and pairs whose German reads as English (or English as
German, by a stop-word test) dropped; length and ratio filter.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass, field

from echoformer.text_norm import normalize_text
from nmt.data.corpus import LengthFilter, Pair

CREDITS = frozenset({"translator-credits", "translator_credits", "TRANSLATOR-CREDITS",
                     "Your names", "Your emails", "NAME OF TRANSLATORS", "EMAIL OF TRANSLATORS",
                     "ROLES_OF_TRANSLATORS", "CREDIT_FOR_TRANSLATORS"})

_ACCELERATOR = re.compile(r"(?<![_&~])(?:_|~|&(?![#\w]+;))(?=[^\W_])")
_TAG_NAMES = ("a|abbr|b|big|blockquote|body|br|center|code|div|em|emph|font|guibutton|guilabel|"
              "h[1-6]|head|hr|html|i|img|kbd|li|link|nobr|ol|p|pre|qt|s|samp|small|span|strong|"
              "sub|sup|table|td|th|tr|tt|u|ul|var|filename|command|literal|quote|ulink|para")
_MARKUP = re.compile(rf"</?(?:{_TAG_NAMES})(?:\s[^<>]*)?/?>", re.IGNORECASE)
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
PLACEHOLDER = re.compile(
    r"%\(\w+\)[-+ #0]*\d*(?:\.\d+)?[a-zA-Z]"          # %(name)s
    r"|%(?:\d+\$)?[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?"    # printf: %s, %1$d, %-5.2f
    r"(?:hh|h|ll|l|L|q|j|z|t|I64)?[diouxXeEfFgGcsSpn@]"
    r"|%\d+"                                            # %1 (Qt)
    r"|\{[\w.\[\]]*(?:![rsa])?(?::[^{}]*)?\}"           # {name}, {0}, {:.2f}
    r"|\$\{?[A-Za-z_]\w*\}?"                            # $VAR, ${VAR}
    r"|@[A-Za-z_]\w*@"                                  # @VAR@
)
_POSITION = re.compile(r"^%\d+\$")
_LETTER = re.compile(r"[^\W\d_]")

ENGLISH_STOPWORDS = frozenset(
    "the a an and or of to is are was be been this that these those with for from by on in "
    "it its you your not can cannot could should would will has have had which when there "
    "their if than then into any all".split())
GERMAN_STOPWORDS = frozenset(
    "der die das den dem des ein eine einen einem einer und oder ist sind war nicht mit für "
    "von zu auf im in es sie ich wir ihr kann können werden wird wurde hat haben bei aus als "
    "wenn dass diese dieser dieses nach noch auch sich zum zur über keine kein".split())


@dataclass(frozen=True)
class CleanSettings:
    """Length and ratio limits (``LengthFilter``: words per side, longer/shorter ratio) and the
    stop-word count from which a side's language is judged."""

    length: LengthFilter = field(default_factory=lambda: LengthFilter(1, 80, 3.0))
    min_stopwords: int = 2


def strip_accelerators(text: str) -> str:
    """``_File``, ``&File``, ``~File`` → ``File``, ``Ö_ffnen`` → ``Öffnen``; ``&&`` → ``&``.

    A text has one mnemonic: a marker that occurs more than once (``file_name_here``) is
    left alone."""
    for match in _ACCELERATOR.finditer(text):
        marker = match.group()
        others = text.count(marker) - (text.count("&&") * 2 if marker == "&" else 0)
        if marker == "&":
            others -= len(_ENTITY.findall(text))
        if others == 1:
            text = text[:match.start()] + text[match.end():]
            break
    return text.replace("&&", "&")


def strip_markup(text: str) -> str:
    """Text without HTML/Pango/DocBook inline tags and with entities decoded."""
    text = _MARKUP.sub("", text)
    return html.unescape(text) if _ENTITY.search(text) else text


def placeholders(text: str) -> Counter:
    """The placeholders of ``text`` as a multiset, positions removed (``%1$s`` counts as
    ``%s``: a translation may reorder them)."""
    return Counter(_POSITION.sub("%", token) for token in PLACEHOLDER.findall(text))


def stopword_counts(text: str) -> tuple[int, int]:
    """(English, German) stop words in ``text``."""
    words = re.findall(r"[^\W\d_]+", text.lower())
    return (sum(word in ENGLISH_STOPWORDS for word in words),
            sum(word in GERMAN_STOPWORDS for word in words))


def reads_as(text: str, language: str, min_stopwords: int) -> bool:
    """True when ``text`` holds at least ``min_stopwords`` stop words of ``language``
    (``"en"``/``"de"``) and more of them than of the other language."""
    english, german = stopword_counts(text)
    mine, other = (english, german) if language == "en" else (german, english)
    return mine >= min_stopwords and mine > other


def is_sentence_like(english: str) -> bool:
    """English of at least four words ending in ``.``, ``!`` or ``?``."""
    return len(english.split()) >= 4 and english.rstrip().endswith((".", "!", "?"))


def clean_pair(pair: Pair, counts: Counter, settings: CleanSettings = CleanSettings(),
               ) -> Pair | None:
    """The cleaned pair, or None when a rule drops it; ``counts`` gets the rule's name
    (``drop:<rule>`` for drops, the name alone for changes)."""
    english, german = pair
    if english.strip() in CREDITS:
        counts["drop:credits"] += 1
        return None
    stripped = strip_accelerators(english), strip_accelerators(german)
    if stripped != (english, german):
        counts["accelerator"] += 1
    unmarked = strip_markup(stripped[0]), strip_markup(stripped[1])
    if unmarked != stripped:
        counts["markup"] += 1
    english, german = normalize_text(unmarked[0]), normalize_text(unmarked[1])
    if not (_LETTER.search(PLACEHOLDER.sub("", english))
            and _LETTER.search(PLACEHOLDER.sub("", german))):
        counts["drop:no_text"] += 1
        return None
    found = placeholders(english)
    if found != placeholders(german):
        counts["drop:placeholder_mismatch"] += 1
        return None
    if found:
        counts["placeholders_kept"] += 1
    if english.casefold() == german.casefold():
        counts["drop:untranslated"] += 1
        return None
    if reads_as(german, "en", settings.min_stopwords):
        counts["drop:german_reads_english"] += 1
        return None
    if reads_as(english, "de", settings.min_stopwords):
        counts["drop:english_reads_german"] += 1
        return None
    if not settings.length.keeps((english, german)):
        counts["drop:length"] += 1
        return None
    return english, german
