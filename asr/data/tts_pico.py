"""SVOX Pico (`pico2wave`, Debian `libttspico-utils`, non-free): en-US and en-GB, one female
speaker each; more speakers by the sample-rate warp of the voice id (`+w92`).

Speed and pitch go in as Pico's own markup (`<speed level="..">`, `<pitch level="..">`, percent).
"""

from __future__ import annotations

import shutil
from xml.sax.saxutils import escape

from asr.data.tts_process import run_to_wav, voice_warp, warp_voice

PICO_LANGUAGES = ("en-US", "en-GB")
SPEED_PERCENT = (80, 125)  # >100 is faster
PITCH_PERCENT = (85, 120)


def missing() -> list[str]:
    return [] if shutil.which("pico2wave") else ["libttspico-utils"]


def render(voice: str, rate: float, pitch: float, text: str) -> bytes:
    """Wav bytes of `text`; `voice` is a language with an optional warp, e.g. "en-GB+w92"."""
    language = voice.split("+", 1)[0]
    marked = (f'<speed level="{round(rate)}"><pitch level="{round(pitch)}">'
              f"{escape(text)}</pitch></speed>")
    raw = run_to_wav(lambda wav: ["pico2wave", "-l", language, "-w", wav, marked])
    return warp_voice(raw, voice_warp(voice))
