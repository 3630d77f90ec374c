"""Festival voices (`text2wave`): the kal and ked diphone voices (`festvox-kallpc16k`,
`festvox-kdlpc16k`) and the HTS voice `cmu_us_slt_arctic_hts` (`festvox-us-slt-hts`).

Diphone voices: duration stretch and the mean and spread of the F0 targets (`int_lr_params`).
The HTS voice makes its own F0, so its pitch is a per-utterance sample-rate warp (semitones),
whose change of duration the HTS speed (`-r`) makes up for. The voice id's `+wNN` warp gives
more speakers to every voice.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from asr.data.tts_process import run_to_wav, voice_warp, warp_voice

VOICE_DIRS = Path("/usr/share/festival/voices")
# voice -> (its folder, the Debian package, mean F0 Hz and F0 spread Hz of its intonation targets)
FESTIVAL_VOICES = {
    "kal_diphone": ("english/kal_diphone", "festvox-kallpc16k", 105.0, 14.0),
    "ked_diphone": ("english/ked_diphone", "festvox-kdlpc16k", 105.0, 15.0),
    "cmu_us_slt_arctic_hts": ("us/cmu_us_slt_arctic_hts", "festvox-us-slt-hts", 0.0, 0.0),
}
DURATION_STRETCH = (0.85, 1.2)  # >1 is slower
PITCH_FACTOR = (0.85, 1.15)  # diphone voices: x the mean F0 target
HTS_PITCH_SEMITONES = (-1.5, 1.5)
INTONATION = (0.6, 1.7)  # diphone voices: x the F0 spread


def missing(voices=tuple(FESTIVAL_VOICES)) -> list[str]:
    need = [] if shutil.which("text2wave") else ["festival"]
    return need + [FESTIVAL_VOICES[v][1] for v in voices
                   if not (VOICE_DIRS / FESTIVAL_VOICES[v][0]).is_dir()]


def is_hts(voice: str) -> bool:
    return voice.split("+", 1)[0].endswith("_hts")


def render(voice: str, rate: float, pitch: float, intonation: float, text: str) -> bytes:
    """Wav bytes of `text`. rate: duration stretch; pitch: the mean F0 target in Hz (diphone) or
    semitones (HTS); intonation: x the voice's F0 spread (diphone)."""
    name = voice.split("+", 1)[0]
    settings = [f"(voice_{name})"]
    warp = voice_warp(voice)
    if is_hts(voice):
        warp *= 2 ** (pitch / 12)
        # output duration = base / (speed * warp); asked for: base * stretch
        speed = 1.0 / (rate * warp)
        settings.append(
            f"(set! hts_engine_params (append hts_engine_params (list (list \"-r\" {speed:.4f}))))"
        )
    else:
        _, _, f0_mean, f0_std = FESTIVAL_VOICES[name]
        settings.append(f"(Parameter.set 'Duration_Stretch {rate:.4f})")
        settings.append(
            f"(set! int_lr_params '((target_f0_mean {pitch:.1f}) (target_f0_std "
            f"{f0_std * intonation:.1f}) (model_f0_mean 170) (model_f0_std 34)))"
        )
    evals = [arg for expression in settings for arg in ("-eval", expression)]
    raw = run_to_wav(lambda wav: ["text2wave", *evals, "utt.txt", "-o", wav],
                     extra_files={"utt.txt": text + "\n"})
    return warp_voice(raw, warp)
