"""Running a TTS command line that writes a wav file, and the sample-rate warp that turns one
voice into several speakers.

Shared by the command-line engines of `asr.data.synth_voices` (espeak-ng, flite, MBROLA, SVOX
Pico, Festival).
"""

from __future__ import annotations

import io
import os
import shlex
import subprocess
import tempfile
from typing import Callable

import soundfile as sf


def run_to_wav(
    command: Callable[[str], list[str]], stdin: str | None = None, timeout_s: float = 120.0,
    suffix: str = ".wav", extra_files: dict[str, str] | None = None,
) -> bytes:
    """Run `command(wav_path)` in a fresh temporary folder and return the wav it wrote.

    `extra_files` (name -> text) are written into that folder first and their names are
    replaced by their paths in the command (Festival reads its text from a file). Raises
    RuntimeError with the command and its stderr when the engine writes no audio.
    """
    with tempfile.TemporaryDirectory(prefix="echoformer-synth-") as tmp:
        wav_path = os.path.join(tmp, "utt" + suffix)
        argv = command(wav_path)
        for name, text in (extra_files or {}).items():
            path = os.path.join(tmp, name)
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            argv = [path if arg == name else arg for arg in argv]
        try:
            proc = subprocess.run(
                argv, input=stdin, capture_output=True, text=True, timeout=timeout_s, cwd=tmp
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise RuntimeError(f"{shlex.join(argv)}: {err}") from err
        if proc.returncode != 0 or not os.path.isfile(wav_path) or os.path.getsize(wav_path) <= 44:
            raise RuntimeError(
                f"{shlex.join(argv)} exited {proc.returncode} without audio: "
                f"{proc.stderr.strip()[-300:]}"
            )
        with open(wav_path, "rb") as f:
            return f.read()


WARP_RATE_STEP_HZ = 200  # warped rates are multiples of it: resampling to 16 kHz stays cheap


def warp_voice(raw_wav: bytes, factor: float) -> bytes:
    """The same samples declared at about `factor` x their rate (rounded to a multiple of
    `WARP_RATE_STEP_HZ`: a rate prime to 16 kHz would make the resampling filter huge): pitch
    and formants x factor, duration / factor (a shorter or longer vocal tract: another
    speaker). A factor that rounds to the same rate returns the input."""
    samples, rate = sf.read(io.BytesIO(raw_wav), dtype="int16", always_2d=True)
    warped = max(WARP_RATE_STEP_HZ, round(rate * factor / WARP_RATE_STEP_HZ) * WARP_RATE_STEP_HZ)
    if warped == rate:
        return raw_wav
    out = io.BytesIO()
    sf.write(out, samples, warped, format="WAV", subtype="PCM_16")
    return out.getvalue()


def voice_warp(voice: str) -> float:
    """The warp of a voice id whose variant is `+wNN` (NN percent), else 1.0:
    `pico-en-GB+w92` -> 0.92."""
    _, _, variant = voice.partition("+")
    if variant.startswith("w") and variant[1:].isdigit():
        return int(variant[1:]) / 100
    return 1.0
