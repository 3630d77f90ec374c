"""hibari-tts (PyPI `hibari-tts` + `onnxruntime`): a small neural English voice whose weights
ship inside the wheel (voice "heart", American English, female; its other voices are fetched
at run time, so they are not used).

Speed goes to the model; the F0 track it predicts is raised or lowered (`pitch`, a factor)
and its excursions around the mean spread or narrowed (`intonation`) before the vocoder.
"""

from __future__ import annotations

import functools
import importlib.util
import io

import numpy as np
import soundfile as sf

HIBARI_VOICES = ("heart",)  # the one voice in the wheel
SPEED = (0.85, 1.2)  # >1 is faster
PITCH_FACTOR = (0.88, 1.12)
INTONATION = (0.75, 1.35)
_VOICED_HZ = 40.0  # hibari's own voicing threshold on its F0 track


def missing() -> list[str]:
    """PyPI packages this engine lacks."""
    return [name for name, module in (("hibari-tts", "hibari"), ("onnxruntime", "onnxruntime"))
            if importlib.util.find_spec(module) is None]


@functools.lru_cache(maxsize=2)
def _model(voice: str):
    from hibari import Hibari
    from hibari.voices import VOICES

    if not VOICES.get(voice, {}).get("bundled"):
        raise ValueError(f"hibari voice {voice!r} is not inside the wheel (it would be downloaded)")
    return Hibari(voice=voice, threads=1)


def shape_f0(f0: np.ndarray, pitch: float, intonation: float) -> np.ndarray:
    """F0 (Hz per frame; unvoiced frames below 40 Hz) with voiced frames mapped to
    pitch * m * (f0 / m) ** intonation, m their geometric mean."""
    voiced = f0 > _VOICED_HZ
    if not voiced.any():
        return f0
    mean = np.exp(np.log(f0[voiced]).mean())
    out = f0.copy()
    out[voiced] = pitch * mean * (f0[voiced] / mean) ** intonation
    return out


def render(voice: str, rate: float, pitch: float, intonation: float, text: str,
           seed: int = 0) -> bytes:
    """Wav bytes (24 kHz) of `text`; rate is hibari's speed (>1 faster)."""
    from hibari import dsp

    tts = _model(voice)
    rng = np.random.default_rng(seed)
    parts = []
    for phonemes in tts.phonemize(text):
        ids = tts.ids(phonemes)
        if len(ids) < 3:
            continue
        outputs = tts.sess.run(None, {"ids": np.asarray([ids], np.int64),
                                      "speed": np.asarray([rate], np.float32)})
        lh, th, ln, lr, phi, f0 = (o[0] for o in outputs)
        parts.append(dsp.synth(lh, th, ln, lr, phi, shape_f0(f0, pitch, intonation), rng))
    if not parts:
        raise RuntimeError(f"hibari produced no audio for {text!r}")
    audio = np.clip(np.concatenate(parts), -1.0, 1.0)
    out = io.BytesIO()
    sf.write(out, audio, tts.sample_rate, format="WAV", subtype="PCM_16")
    return out.getvalue()
