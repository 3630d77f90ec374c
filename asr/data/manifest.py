"""JSON-lines speech manifests, one utterance a line:

    {"audio": "wav/train/utt1.wav", "duration": 2.31, "text": "hello there", "speaker": "spk1"}

A relative `audio` path is resolved against the manifest's folder. Other keys are kept in
`Utterance.extra` and written back. Problems are reported as `FILE:LINE: message`.
"""

from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

log = logging.getLogger(__name__)
REQUIRED_KEYS = ("audio", "duration", "text")


class ManifestError(ValueError):
    """A manifest that cannot be used as it is; the message lists the bad lines."""


@dataclass(frozen=True)
class Utterance:
    """One manifest row; `audio` is an absolute path once read."""

    audio: Path
    duration: float
    text: str
    speaker: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass
class ManifestScan:
    """What `scan_manifest` found: the good rows and one `FILE:LINE: message` per bad row."""

    utterances: list[Utterance]
    errors: list[str]


def _parse_row(row: Any, folder: Path, check_audio: bool) -> Utterance:
    """Raises ValueError with a message (no location) when the row is unusable."""
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in row]
    if missing:
        raise ValueError(
            f"missing key(s) {', '.join(missing)}; each row needs {', '.join(REQUIRED_KEYS)}"
        )
    audio, duration, text = row["audio"], row["duration"], row["text"]
    if not isinstance(audio, str) or not audio:
        raise ValueError(f"'audio' must be a non-empty path string, got {audio!r}")
    is_number = isinstance(duration, (int, float)) and not isinstance(duration, bool)
    if not is_number or not math.isfinite(duration) or duration <= 0:
        raise ValueError(f"'duration' must be a positive number of seconds, got {duration!r}")
    if not isinstance(text, str):
        raise ValueError(f"'text' must be a string, got {text!r}")
    path = Path(audio) if os.path.isabs(audio) else folder / audio
    if check_audio and not path.is_file():
        raise ValueError(
            f"audio file {path} not found (relative paths are resolved against {folder})"
        )
    extra = {k: v for k, v in row.items() if k not in (*REQUIRED_KEYS, "speaker")}
    return Utterance(path, float(duration), text, str(row.get("speaker", "")), extra)


def scan_manifest(path: str | Path, *, check_audio: bool = True) -> ManifestScan:
    """Read every row, collecting the bad ones instead of stopping at the first."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: no such manifest; check the path or run the data preparation")
    folder = path.resolve().parent
    utterances, errors = [], []
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                errors.append(f"{path}:{number}: not valid UTF-8; manifests are UTF-8 JSON "
                              "(convert with e.g. `iconv -f latin1 -t utf-8`)")
                continue
            if not line.strip():
                continue
            try:
                utterances.append(_parse_row(json.loads(line), folder, check_audio))
            except ValueError as err:  # json.JSONDecodeError is a ValueError
                errors.append(f"{path}:{number}: {err}")
    return ManifestScan(utterances, errors)


def read_manifest(
    path: str | Path, *, check_audio: bool = True, skip_bad: bool = False, max_listed: int = 10
) -> list[Utterance]:
    """Utterances of a manifest. Bad rows raise one ManifestError listing them, or, with
    `skip_bad`, are logged as a warning and left out."""
    scan = scan_manifest(path, check_audio=check_audio)
    if scan.errors:
        listed = "\n  ".join(scan.errors[:max_listed])
        more = len(scan.errors) - max_listed
        summary = f"{len(scan.errors)} bad row(s) in {path}:\n  {listed}" + (
            f"\n  ... and {more} more" if more > 0 else ""
        )
        if not skip_bad:
            raise ManifestError(summary + "\nFix or remove these rows, or read with skip_bad=True.")
        log.warning("skipping %s", summary)
    return scan.utterances


def write_manifest(path: str | Path, utterances: Iterable[Utterance]) -> Path:
    """Write rows atomically; audio under the manifest's folder is stored relative to it
    (so the folder can move), other audio as absolute paths."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = path.resolve().parent
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for utt in utterances:
            audio = Path(utt.audio).resolve()
            stored = audio.relative_to(folder) if audio.is_relative_to(folder) else audio
            row = {
                "audio": stored.as_posix(),
                "duration": round(utt.duration, 4),
                "text": utt.text,
                "speaker": utt.speaker,
            }
            out.write(json.dumps({**row, **utt.extra}, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
    return path
