"""Reading local line-aligned parallel text files (IWSLT/WMT-style ``train.src``/``train.tgt``)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from nmt.data.corpus import Pair

_SHOWN_BAD_LINES = 5


def read_lines(path: str | Path) -> list[str]:
    """Lines of the UTF-8 text file at ``path`` without line ends (a leading BOM dropped).

    Raises ``FileNotFoundError`` when it is missing and ``ValueError`` naming the file and the
    line numbers (1-based) that are not valid UTF-8.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Parallel text file not found: {path}. Check the path.")
    return decode_lines(path.read_bytes(), str(path))


def decode_lines(data: bytes, name: str) -> list[str]:
    """``data`` split into UTF-8 lines without line ends (``\\n`` or ``\\r\\n``; a leading BOM
    dropped). ``ValueError`` naming ``name`` and the 1-based numbers of undecodable lines."""
    lines, bad_line_numbers = [], []
    for number, text in iter_lines(io.BytesIO(data)):
        if text is None:
            bad_line_numbers.append(number)
        else:
            lines.append(text)
    if bad_line_numbers:
        raise ValueError(not_utf8_message(name, bad_line_numbers) + " Convert the file to "
                         "UTF-8, e.g. `iconv -f latin1 -t utf-8`, or fix those lines.")
    return lines


def iter_lines(stream: BinaryIO) -> Iterator[tuple[int, str | None]]:
    """(1-based number, text without its line end) of each line of a binary stream, read one
    line at a time; text is None for a line that is not valid UTF-8. Lines end at ``\\n``
    (a ``\\r`` before it is dropped too); a leading BOM is dropped."""
    for number, raw in enumerate(stream, start=1):
        raw = raw.removesuffix(b"\n").rstrip(b"\r")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield number, None
            continue
        yield number, text.removeprefix("\ufeff") if number == 1 else text


def not_utf8_message(name: str, line_numbers: list[int], count: int | None = None) -> str:
    """``NAME: K line(s) are not valid UTF-8 (line 3, 7 …).``; `count` (K) defaults to the
    number of `line_numbers`, of which the first few are shown."""
    count = len(line_numbers) if count is None else count
    shown = ", ".join(map(str, line_numbers[:_SHOWN_BAD_LINES]))
    more = " …" if count > _SHOWN_BAD_LINES else ""
    return f"{name}: {count} line(s) are not valid UTF-8 (line {shown}{more})."


def read_parallel(source_path: str | Path, target_path: str | Path) -> list[Pair]:
    """Line-aligned (source, target) pairs; ``ValueError`` naming both files when counts differ."""
    source_lines, target_lines = read_lines(source_path), read_lines(target_path)
    if len(source_lines) != len(target_lines):
        raise ValueError(
            f"Parallel files are not line-aligned: {source_path} has {len(source_lines)} lines "
            f"but {target_path} has {len(target_lines)}. Each line must translate the line with "
            "the same number in the other file."
        )
    return list(zip(source_lines, target_lines))
