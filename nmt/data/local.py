"""Reading local line-aligned parallel text files (IWSLT/WMT-style ``train.src``/``train.tgt``)."""

from __future__ import annotations

from pathlib import Path

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
    raw_lines = data.split(b"\n")
    if raw_lines[-1] == b"":
        raw_lines.pop()
    lines, bad_line_numbers = [], []
    for number, raw in enumerate(raw_lines, start=1):
        try:
            lines.append(raw.rstrip(b"\r").decode("utf-8"))
        except UnicodeDecodeError:
            bad_line_numbers.append(number)
    if bad_line_numbers:
        shown = ", ".join(map(str, bad_line_numbers[:_SHOWN_BAD_LINES]))
        more = " …" if len(bad_line_numbers) > _SHOWN_BAD_LINES else ""
        raise ValueError(
            f"{name}: {len(bad_line_numbers)} line(s) are not valid UTF-8 (line {shown}{more}). "
            "Convert the file to UTF-8, e.g. `iconv -f latin1 -t utf-8`, or fix those lines."
        )
    if lines:
        lines[0] = lines[0].removeprefix("\ufeff")
    return lines


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
