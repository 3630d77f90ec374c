"""Voices of the synthetic English speech corpus and the engines that speak them.

A voice is one engine setting that stays fixed for a speaker: an espeak-ng accent with a voice
variant (`espeak-en-gb-scotland+f2`) or a flite voice (`flite-slt`); in the broad voice set
also MBROLA (`mbrola-us2`), SVOX Pico (`pico-en-GB+w92`: `+wNN` is a sample-rate warp of NN
percent, another vocal tract), Festival (`festival-kal_diphone`) and hibari-tts
(`hibari-heart`). Rate, pitch and, for the broad set's engines, intonation range are drawn per
utterance around the voice's defaults (`Rendition`).

Voice sets: `default` (espeak-ng + flite, Debian main: what make demo uses) and `broad` (all
engines; `scripts/install_system_packages.sh voices` installs them). In `broad` the engines of
`HELD_OUT_ENGINES` speak only `test_unseen_engine`.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass

from asr.data import tts_festival, tts_hibari, tts_mbrola, tts_pico
from asr.data.tts_process import run_to_wav

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
HELD_OUT_VOICE_PREFIXES = (
    "espeak-en-gb-x-gbcwmd", "flite-awb",  # the default set's
    "mbrola-us3", "pico-en-GB+w93", "festival-ked_diphone",  # and the broad set's
)

VOICE_SETS = {
    "default": ("espeak", "flite"),
    "broad": ("espeak", "flite", "mbrola", "pico", "festival", "hibari"),
}
# A whole engine out of training: hibari, the most natural voice, speaks only
# `test_unseen_engine` (the test sentences again), a test of an engine no training voice shares.
HELD_OUT_ENGINES = ("hibari",)
# broad set: the chance that a voice pick is of each training engine
BROAD_ENGINE_SHARES = {"espeak": 0.25, "flite": 0.15, "mbrola": 0.2, "pico": 0.15,
                       "festival": 0.25}
PICO_WARPS = ("", "+w86", "+w93", "+w108")  # Pico's speakers per language
FESTIVAL_WARPS = ("", "+w92", "+w108")

INSTALL_HINT = (
    "install them with `apt-get install espeak-ng flite` "
    "(stage 1 of recipes/synth_asr/run.sh does this)"
)


class SynthEngineMissing(RuntimeError):
    """An engine of the voice set is not installed."""


@dataclass(frozen=True)
class Rendition:
    """How one utterance is spoken: `voice` id plus this utterance's rate and pitch.

    espeak, mbrola: rate in words/minute, pitch 0-99. flite, festival diphones: rate is the
    duration stretch (>1 is slower), pitch the target mean F0 in Hz; festival HTS: pitch in
    semitones. pico: speed and pitch in percent. hibari: speed (>1 is faster), pitch a factor.
    `intonation` scales the F0 excursions around the mean (1: the engine's own; not used by
    espeak, flite and pico).
    """

    voice: str
    rate: float
    pitch: float
    intonation: float = 1.0

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


def engine_voices(engine: str) -> list[str]:
    """The voice ids of one engine."""
    if engine == "espeak":
        return [f"espeak-{accent}+{variant}" if variant else f"espeak-{accent}"
                for accent in ESPEAK_ACCENTS for variant in ESPEAK_VARIANTS]
    if engine == "flite":
        return [f"flite-{voice}" for voice in FLITE_VOICES]
    if engine == "mbrola":
        return [f"mbrola-{voice}" for voice in tts_mbrola.MBROLA_VOICES]
    if engine == "pico":
        return [f"pico-{lang}{warp}" for lang in tts_pico.PICO_LANGUAGES for warp in PICO_WARPS]
    if engine == "festival":
        return [f"festival-{voice}{warp}" for voice in tts_festival.FESTIVAL_VOICES
                for warp in FESTIVAL_WARPS]
    if engine == "hibari":
        return [f"hibari-{voice}" for voice in tts_hibari.HIBARI_VOICES]
    raise ValueError(f"unknown engine {engine!r}; known: {', '.join(VOICE_SETS['broad'])}")


def _check_voice_set(voice_set: str) -> tuple[str, ...]:
    if voice_set not in VOICE_SETS:
        raise ValueError(f"unknown voice set {voice_set!r}; choose one of {', '.join(VOICE_SETS)}")
    return VOICE_SETS[voice_set]


def all_voices(voice_set: str = "default") -> list[str]:
    """Every voice id of the set; default: 8 espeak accents x 13 variants, then the 4 flite
    voices."""
    return [voice for engine in _check_voice_set(voice_set) for voice in engine_voices(engine)]


def is_held_out(voice: str) -> bool:
    return any(voice == p or voice.startswith(p + "+") for p in HELD_OUT_VOICE_PREFIXES)


def is_held_out_engine(voice: str) -> bool:
    return voice.split("-", 1)[0] in HELD_OUT_ENGINES


def draw_rendition(voice: str, rng: random.Random) -> Rendition:
    """Rate, pitch (and intonation) drawn uniformly in the voice engine's ranges."""
    engine, name = voice.split("-", 1)
    if engine == "espeak":
        return Rendition(voice, rng.uniform(*ESPEAK_RATE_WPM), rng.uniform(*ESPEAK_PITCH))
    if engine == "flite":
        base_f0 = FLITE_VOICES[name]
        return Rendition(
            voice, rng.uniform(*FLITE_DURATION_STRETCH), base_f0 * rng.uniform(*FLITE_PITCH_FACTOR)
        )
    if engine == "mbrola":
        return Rendition(voice, rng.uniform(*tts_mbrola.RATE_WPM), rng.uniform(*tts_mbrola.PITCH),
                         rng.uniform(*tts_mbrola.INTONATION))
    if engine == "pico":
        return Rendition(voice, rng.uniform(*tts_pico.SPEED_PERCENT),
                         rng.uniform(*tts_pico.PITCH_PERCENT))
    if engine == "festival":
        stretch = rng.uniform(*tts_festival.DURATION_STRETCH)
        if tts_festival.is_hts(name):
            pitch = rng.uniform(*tts_festival.HTS_PITCH_SEMITONES)
        else:
            base_f0 = tts_festival.FESTIVAL_VOICES[name.split("+", 1)[0]][2]
            pitch = base_f0 * rng.uniform(*tts_festival.PITCH_FACTOR)
        return Rendition(voice, stretch, pitch, rng.uniform(*tts_festival.INTONATION))
    assert engine == "hibari", voice
    return Rendition(voice, rng.uniform(*tts_hibari.SPEED), rng.uniform(*tts_hibari.PITCH_FACTOR),
                     rng.uniform(*tts_hibari.INTONATION))


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


def draw_broad_voices(pool: list[str], count: int, rng: random.Random) -> list[str]:
    """`count` distinct voices (while the pool lasts): each pick is first an engine, by
    `BROAD_ENGINE_SHARES` among the engines with voices left, then one of its voices."""
    chosen: list[str] = []
    for _ in range(count):
        left = [v for v in pool if v not in chosen]
        if not left:
            break
        engines = sorted({v.split("-", 1)[0] for v in left})
        weights = [BROAD_ENGINE_SHARES.get(engine, 0.1) for engine in engines]
        engine = rng.choices(engines, weights)[0]
        chosen.append(rng.choice([v for v in left if v.startswith(engine + "-")]))
    return chosen


def missing_engines(voice_set: str = "default") -> list[str]:
    """The packages (Debian or PyPI) the voice set's engines lack."""
    missing = []
    for engine in _check_voice_set(voice_set):
        if engine in ("espeak", "flite"):
            exe = "espeak-ng" if engine == "espeak" else "flite"
            missing += [] if shutil.which(exe) else [exe]
        else:
            module = {"mbrola": tts_mbrola, "pico": tts_pico, "festival": tts_festival,
                      "hibari": tts_hibari}[engine]
            missing += [p for p in module.missing() if p not in missing]
    return missing


def check_engines(voice_set: str = "default") -> None:
    """Raise SynthEngineMissing naming the missing packages and how to install them."""
    missing = missing_engines(voice_set)
    if not missing:
        return
    if voice_set == "default":
        raise SynthEngineMissing(f"{' and '.join(missing)} not found on PATH; {INSTALL_HINT}")
    raise SynthEngineMissing(
        f"the {voice_set!r} voice set lacks {', '.join(missing)}; install them with "
        "`scripts/install_system_packages.sh voices` (recipes/synth_asr/run.sh --voices broad "
        "runs it)"
    )


def render_wav(rendition: Rendition, text: str, timeout_s: float = 120.0) -> bytes:
    """Run the engine and return the wav it made (engine's own rate). Raises RuntimeError
    with the command and its stderr when the engine fails."""
    engine, name = rendition.voice.split("-", 1)
    if engine in ("espeak", "flite"):
        return run_to_wav(lambda wav: rendition.command(wav, text), timeout_s=timeout_s)
    if engine == "mbrola":
        return tts_mbrola.render(name, rendition.rate, rendition.pitch, rendition.intonation, text)
    if engine == "pico":
        return tts_pico.render(name, rendition.rate, rendition.pitch, text)
    if engine == "festival":
        return tts_festival.render(name, rendition.rate, rendition.pitch, rendition.intonation,
                                   text)
    if engine == "hibari":
        return tts_hibari.render(name, rendition.rate, rendition.pitch, rendition.intonation, text)
    raise ValueError(f"unknown engine of voice {rendition.voice!r}")
