"""Voices of the synthetic English speech corpus and the engine command lines that speak them.

A voice is one engine setting that stays fixed for a speaker: an espeak-ng accent with a voice
variant (`espeak-en-gb-scotland+f2`) or a flite voice (`flite-slt`). Rate and pitch are drawn
per utterance around the voice's defaults (`Rendition`).
"""

from __future__ import annotations

import os
import random
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

ESPEAK_ACCENTS = (
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-029",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-us-nyc",
)
ESPEAK_VARIANTS = ("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
ESPEAK_RATE_WPM = (130, 190)  # espeak-ng -s
ESPEAK_PITCH = (30, 70)  # espeak-ng -p (0-99, default 50)

# flite voice -> approximate mean F0 in Hz around which int_f0_target_mean is varied
FLITE_VOICES = {"kal16": 105.0, "awb": 115.0, "rms": 100.0, "slt": 170.0}
FLITE_PITCH_FACTOR = (0.85, 1.15)
FLITE_DURATION_STRETCH = (0.85, 1.2)

# Never used for train/dev/test; they speak only `test_unseen_voice`.
HELD_OUT_VOICE_PREFIXES = ("espeak-en-gb-x-gbcwmd", "flite-awb")

INSTALL_HINT = (
    "install them with `apt-get install espeak-ng flite` "
    "(stage 1 of recipes/synth_asr/run.sh does this)"
)


class SynthEngineMissing(RuntimeError):
    """espeak-ng or flite is not installed."""


@dataclass(frozen=True)
class Rendition:
    """How one utterance is spoken: `voice` id plus this utterance's rate and pitch.

    espeak: rate in words/minute, pitch 0-99. flite: rate is duration_stretch (>1 is slower),
    pitch is the target mean F0 in Hz.
    """

    voice: str
    rate: float
    pitch: float

    @property
    def engine(self) -> str:
        return self.voice.split("-", 1)[0]

    def command(self, wav_path: str, text: str) -> list[str]:
        """The engine command that writes `text` to `wav_path`. Text must not start with '-'."""
        name = self.voice.split("-", 1)[1]
        if self.engine == "espeak":
            settings = ["-s", str(round(self.rate)), "-p", str(round(self.pitch))]
            return ["espeak-ng", "-v", name, *settings, "-w", wav_path, text]
        assert self.engine == "flite", self.voice
        settings = ["--setf", f"duration_stretch={self.rate:.3f}"]
        settings += ["--setf", f"int_f0_target_mean={self.pitch:.1f}"]
        return ["flite", "-voice", name, *settings, "-t", text, "-o", wav_path]


def all_voices() -> list[str]:
    """Every voice id: 8 espeak accents x 13 variants, then the 4 flite voices."""
    espeak = [
        f"espeak-{accent}+{variant}" if variant else f"espeak-{accent}"
        for accent in ESPEAK_ACCENTS
        for variant in ESPEAK_VARIANTS
    ]
    return espeak + [f"flite-{voice}" for voice in FLITE_VOICES]


def is_held_out(voice: str) -> bool:
    return any(voice == p or voice.startswith(p + "+") for p in HELD_OUT_VOICE_PREFIXES)


def draw_rendition(voice: str, rng: random.Random) -> Rendition:
    """Rate and pitch drawn uniformly in the voice engine's ranges."""
    if voice.startswith("espeak-"):
        return Rendition(voice, rng.uniform(*ESPEAK_RATE_WPM), rng.uniform(*ESPEAK_PITCH))
    base_f0 = FLITE_VOICES[voice.split("-", 1)[1]]
    return Rendition(
        voice, rng.uniform(*FLITE_DURATION_STRETCH), base_f0 * rng.uniform(*FLITE_PITCH_FACTOR)
    )


def draw_voices(pool: list[str], count: int, flite_share: float, rng: random.Random) -> list[str]:
    """`count` distinct voices (while the pool lasts): each pick is a flite voice with
    probability `flite_share` (flite has 4 voices, espeak ~100, so picks are by engine first)."""
    by_engine = {
        engine: [v for v in pool if v.startswith(engine + "-")] for engine in ("espeak", "flite")
    }
    chosen: list[str] = []
    for _ in range(count):
        engine = "flite" if rng.random() < flite_share else "espeak"
        left = [v for v in by_engine[engine] if v not in chosen] or [
            v for v in pool if v not in chosen
        ]
        if not left:
            break
        chosen.append(rng.choice(left))
    return chosen


def check_engines() -> None:
    """Raise SynthEngineMissing naming the missing binaries and how to install them."""
    missing = [exe for exe in ("espeak-ng", "flite") if shutil.which(exe) is None]
    if missing:
        raise SynthEngineMissing(f"{' and '.join(missing)} not found on PATH; {INSTALL_HINT}")


def render_wav(rendition: Rendition, text: str, timeout_s: float = 120.0) -> bytes:
    """Run the engine and return the wav file it wrote (engine's own rate). Raises RuntimeError
    with the command and its stderr when the engine fails."""
    with tempfile.TemporaryDirectory(prefix="echoformer-synth-") as tmp:
        wav_path = os.path.join(tmp, "utt.wav")
        command = rendition.command(wav_path, text)
        try:
            proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise RuntimeError(f"{shlex.join(command)}: {err}") from err
        if proc.returncode != 0 or not os.path.isfile(wav_path) or os.path.getsize(wav_path) <= 44:
            raise RuntimeError(
                f"{shlex.join(command)} exited {proc.returncode} without audio: "
                f"{proc.stderr.strip()[-300:]}"
            )
        with open(wav_path, "rb") as f:
            return f.read()
