"""(english, german) messages of gettext catalogues: compiled ``.mo`` and source ``.po``.

Singular entries give ``msgid → msgstr``; plural entries give ``msgid → msgstr[0]`` and
``msgid_plural → msgstr[1]`` (German has two forms); a context (``msgctxt``) is dropped from the
pair; fuzzy, obsolete and untranslated entries are left out. The header entry is skipped.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import polib

Message = tuple[str, str]


def read_messages(path: Path, counts: Counter | None = None) -> list[Message]:
    """The translated (english, german) messages of the ``.mo`` or ``.po`` file ``path``.

    ``counts`` (when given) gets ``fuzzy``, ``untranslated`` and ``plural_forms`` added.
    Raises ``ValueError`` naming the file when it is not a readable catalogue.
    """
    counts = Counter() if counts is None else counts
    path = Path(path)
    try:
        catalogue = polib.mofile(str(path)) if path.suffix == ".mo" else polib.pofile(str(path))
    except (OSError, ValueError, UnicodeDecodeError, LookupError) as error:
        raise ValueError(f"Cannot read gettext catalogue {path}: {error}") from error
    messages = []
    for entry in catalogue:
        if not entry.msgid or entry.obsolete:
            continue
        if "fuzzy" in entry.flags:
            counts["fuzzy"] += 1
            continue
        if entry.msgid_plural:
            forms = [entry.msgstr_plural[index] for index in sorted(entry.msgstr_plural)]
            if len(forms) < 2 or not all(forms):
                counts["untranslated"] += 1
                continue
            counts["plural_forms"] += 2
            messages += [(entry.msgid, forms[0]), (entry.msgid_plural, forms[1])]
        elif entry.msgstr:
            messages.append((entry.msgid, entry.msgstr))
        else:
            counts["untranslated"] += 1
    return messages
