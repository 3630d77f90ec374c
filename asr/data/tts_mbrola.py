"""MBROLA diphone voices (us1, us2, us3, en1) driven by espeak-ng.

espeak-ng turns the text into MBROLA phonemes with durations and pitch points (`--pho`); the
pitch points are spread or narrowed around the utterance's mean (`intonation`), then `mbrola`
speaks them. Needs the Debian packages `mbrola` and `mbrola-<voice>` (contrib/non-free:
`scripts/install_system_packages.sh voices`).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

from asr.data.tts_process import run_to_wav

MBROLA_VOICES = ("us1", "us2", "us3", "en1")
MBROLA_DIR = Path("/usr/share/mbrola")
RATE_WPM = (135, 185)  # espeak-ng -s
PITCH = (30, 70)  # espeak-ng -p
INTONATION = (0.6, 1.6)  # pitch excursions around the mean x this


def missing(voices: tuple[str, ...] = MBROLA_VOICES) -> list[str]:
    """Debian packages this engine lacks."""
    need = [] if shutil.which("mbrola") and shutil.which("espeak-ng") else ["mbrola", "espeak-ng"]
    return need + [f"mbrola-{v}" for v in voices if not (MBROLA_DIR / v / v).is_file()]


def scale_intonation(pho: str, factor: float) -> str:
    """MBROLA phoneme lines (`phone duration [position pitch]...`) with every pitch p replaced
    by m * (p / m) ** factor, m the geometric mean pitch of the utterance."""
    rows = [line.split() for line in pho.splitlines()]
    pitches = [float(p) for row in rows if len(row) > 2 and not row[0].startswith(";")
               for p in row[3::2]]
    if not pitches or factor == 1.0:
        return pho
    mean = math.exp(sum(math.log(p) for p in pitches) / len(pitches))
    out = []
    for row in rows:
        if len(row) > 2 and not row[0].startswith(";"):
            row = row[:2] + [
                value if i % 2 == 0 else str(round(mean * (float(value) / mean) ** factor))
                for i, value in enumerate(row[2:])
            ]
        out.append(" ".join(row))
    return "\n".join(out) + "\n"


def render(voice: str, rate: float, pitch: float, intonation: float, text: str) -> bytes:
    """Wav bytes (16 kHz) of `text` in MBROLA voice `voice` (e.g. "us2")."""
    espeak = ["espeak-ng", "-q", "--pho", "-v", f"mb-{voice}",
              "-s", str(round(rate)), "-p", str(round(pitch)), text]
    pho_bytes = run_to_wav(lambda pho_path: espeak + ["--phonout", pho_path], suffix=".pho")
    pho = scale_intonation(pho_bytes.decode("utf-8", "replace"), intonation)
    database = str(MBROLA_DIR / voice / voice)
    return run_to_wav(lambda wav: ["mbrola", "-e", database, "-", wav], stdin=pho)
