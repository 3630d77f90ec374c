"""Text blocks of a man page (roff with the man macros), for aligning English and German
pages (``manpages-de`` against the English pages of the packages they translate).

Headings (``.SH``, ``.SS``), paragraphs (text between ``.PP``/``.TP``/``.IP``/... breaks) and
``.TP`` tags are blocks; font macros (``.B``, ``.BR``, ...) and escapes (``\\fB``, ``\\-``,
``\\(em``) become plain text; no-fill text, examples, tables, macro definitions and the
SYNOPSIS section are left out.
"""

from __future__ import annotations

import gzip
import re
import shlex
from pathlib import Path

Block = tuple[None, str]

_BREAKS = frozenset({"PP", "LP", "P", "sp", "IP", "TP", "TQ", "HP", "RS", "RE", "br", "in",
                     "ti", "SY", "YS", "OP", "PD", "ne", "bp"})
_HEADINGS = frozenset({"SH", "SS"})
_FONTS_SPACED = frozenset({"B", "I", "SM", "SB"})
_FONTS_ALTERNATING = frozenset({"BR", "RB", "BI", "IB", "IR", "RI"})
_SKIP_UNTIL = {"nf": "fi", "EX": "EE", "TS": "TE", "de": "..", "ig": "..", "EQ": "EN"}
_SYNOPSIS = re.compile(r"^(SYNOPSIS|ÜBERSICHT)$", re.IGNORECASE)
_ESCAPES = {"-": "-", "e": "\\", "&": "", " ": " ", "~": " ", "|": "", "^": "", "%": "",
            "0": " ", "c": "", ":": "", "/": "", ",": ""}
_NAMED = {"em": "—", "en": "–", "aq": "'", "dq": '"', "lq": "“", "rq": "”", "bu": "•",
          "co": "©", "Fo": "«", "Fc": "»", "oq": "‘", "cq": "’", "hy": "-", "mi": "-",
          "at": "@", "sh": "#", "rs": "\\", "ti": "~", "ha": "^", "fo": "‹", "fc": "›",
          "Do": "$", "Eu": "€", "tm": "™", "rg": "®", "de": "°", "mu": "×", "->": "→",
          "ss": "ß", ":a": "ä", ":o": "ö", ":u": "ü", ":A": "Ä", ":O": "Ö", ":U": "Ü",
          "'e": "é", "`e": "è", "'a": "á", "`a": "à", "^e": "ê", "ua": "↑", "da": "↓",
          "<-": "←", "<=": "≤", ">=": "≥", "!=": "≠", "+-": "±", "pl": "+", "eq": "="}
_ESCAPE = re.compile(
    r"\\(?:f(?:\[[^\]]*\]|\(..|.)"     # font changes
    r"|s[-+]?\d+|s\([-+]?\d\d"          # size changes
    r"|\*(?:\[[^\]]*\]|\(..|.)"         # defined strings
    r"|\((?P<named>..)|\[(?P<bracketed>[^\]]*)\]"
    r"|(?P<single>.))")


def _unescape(text: str) -> str:
    def replace(match: re.Match) -> str:
        name = match.group("named") or match.group("bracketed")
        if name is not None:
            if re.fullmatch(r"u[0-9A-F]{4,5}", name):  # \[u00F6]
                return chr(int(name[1:], 16))
            return _NAMED.get(name, "")
        single = match.group("single")
        return _ESCAPES.get(single, "") if single is not None else ""
    return _ESCAPE.sub(replace, text)


def _arguments(text: str) -> list[str]:
    try:
        return shlex.split(text.replace("\\", "\\\\"), posix=True)
    except ValueError:
        return text.split()


def man_blocks(text: str) -> list[Block]:
    """Text blocks of a man page's roff source."""
    blocks: list[Block] = []
    current: list[str] = []
    skip_until: str | None = None
    in_synopsis = False

    def flush() -> None:
        joined = " ".join(_unescape(" ".join(current)).split())
        if joined and not in_synopsis:
            blocks.append((None, joined))
        current.clear()

    for line in text.splitlines():
        if skip_until is not None:
            if line.strip() in {f".{skip_until}", skip_until}:
                skip_until = None
            continue
        if line.startswith(("'", ".")):
            parts = line[1:].strip().split(None, 1)
            if not parts or parts[0].startswith('\\"'):
                continue
            macro, rest = parts[0], parts[1] if len(parts) > 1 else ""
            if macro in _SKIP_UNTIL:
                flush()
                skip_until = _SKIP_UNTIL[macro]
            elif macro in _HEADINGS:
                flush()
                heading = " ".join(_arguments(rest))
                in_synopsis = bool(_SYNOPSIS.match(_unescape(heading).strip()))
                current.append(heading)
                flush()
            elif macro in _FONTS_SPACED:
                current.append(" ".join(_arguments(rest)))
            elif macro in _FONTS_ALTERNATING:
                current.append("".join(_arguments(rest)))
            elif macro in {"UR", "UE", "MT", "ME"}:
                current.append("" if macro in {"UR", "MT"} else " ".join(_arguments(rest)))
            else:  # paragraph breaks and any other request end the block
                flush()
        else:
            current.append(line)
    flush()
    return blocks


def read_man_page(path: Path) -> list[Block] | None:
    """Blocks of a (gzipped) man page, or None for a ``.so`` link to another page."""
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    if text.lstrip().startswith(".so "):
        return None
    return man_blocks(text)
