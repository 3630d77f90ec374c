"""The broad voice set of the synthetic corpus: MBROLA, SVOX Pico, Festival, hibari-tts."""

import io
import json
from collections import defaultdict

import numpy as np
import pytest
import soundfile as sf

from asr.data import tts_festival, tts_hibari, tts_mbrola, tts_pico
from asr.data.manifest import read_manifest
from asr.data.synth import SIZES, UNSEEN_ENGINE_SPLIT, _save_16k, plan_corpus, synthesize_corpus
from asr.data.synth_voices import (
    HELD_OUT_ENGINES,
    Rendition,
    SynthEngineMissing,
    all_voices,
    engine_voices,
    is_held_out,
    is_held_out_engine,
    missing_engines,
    render_wav,
)
from asr.data.tts_process import voice_warp, warp_voice
from test_synth import SENTENCES

SENTENCE = "The children laughed at the clown in the garden."
INSTALL = "scripts/install_system_packages.sh voices installs it"


def needs(module):
    lacking = module.missing()
    return pytest.mark.skipif(bool(lacking), reason=f"{', '.join(lacking)} not installed ({INSTALL})")


# one voice of each new engine at a slow and a fast rate (the engine's own units) + pitch
ENGINE_CASES = {
    "mbrola-us1": (needs(tts_mbrola), 135, 185, 50, 1.3),
    "mbrola-en1": (needs(tts_mbrola), 135, 185, 50, 0.7),
    "pico-en-US": (needs(tts_pico), 80, 125, 100, 1.0),
    "pico-en-GB+w93": (needs(tts_pico), 80, 125, 100, 1.0),
    "festival-kal_diphone": (needs(tts_festival), 1.2, 0.85, 105, 1.5),
    "festival-ked_diphone+w108": (needs(tts_festival), 1.2, 0.85, 105, 0.7),
    "festival-cmu_us_slt_arctic_hts": (needs(tts_festival), 1.2, 0.85, 1.0, 1.0),
    "hibari-heart": (needs(tts_hibari), 0.85, 1.2, 1.0, 1.2),  # speed: >1 is faster
}


def _speak(tmp_path, rendition, name):
    duration = _save_16k(render_wav(rendition, SENTENCE), tmp_path / f"{name}.wav")
    audio, rate = sf.read(tmp_path / f"{name}.wav", dtype="float32")
    return duration, audio, rate


@pytest.mark.parametrize(
    "voice", [pytest.param(v, marks=case[0]) for v, case in ENGINE_CASES.items()]
)
def test_each_new_engine_speaks_a_sentence_as_16k_mono_and_its_rate_sets_the_length(
    voice, tmp_path
):
    _, slow, fast, pitch, intonation = ENGINE_CASES[voice]
    slow_s, audio, rate = _speak(tmp_path, Rendition(voice, slow, pitch, intonation), "slow")
    fast_s, _, _ = _speak(tmp_path, Rendition(voice, fast, pitch, intonation), "fast")
    assert rate == 16_000 and audio.ndim == 1
    assert 1.0 < fast_s < slow_s < 8.0, (fast_s, slow_s)
    assert np.sqrt(np.mean(audio**2)) > 0.01  # speech, not silence


def test_every_engine_voice_maps_to_a_package_check():
    for engine in ("mbrola", "pico", "festival", "hibari"):
        assert engine_voices(engine), engine
    assert isinstance(missing_engines("broad"), list)


def test_mbrola_intonation_spreads_pitch_points_around_their_mean_and_keeps_durations():
    pho = "h\t78\n@\t27\t 0 100 50 200\nl\t74\n_\t100\t50 141\n"
    wide = tts_mbrola.scale_intonation(pho, 2.0).splitlines()
    assert wide[0] == "h 78" and wide[2] == "l 74"
    points = [float(x) for line in wide for x in line.split()[3::2]]
    assert points[0] < 100 and points[1] > 200  # further from the mean (~141 Hz)
    assert points[2] == pytest.approx(141, abs=1)
    assert tts_mbrola.scale_intonation(pho, 1.0) == pho


def test_hibari_pitch_and_intonation_reshape_only_voiced_frames():
    f0 = np.array([0.0, 100.0, 200.0, 10.0], dtype=np.float32)
    shaped = tts_hibari.shape_f0(f0, pitch=1.1, intonation=0.0)
    mean = np.sqrt(100.0 * 200.0)
    assert shaped[[0, 3]].tolist() == [0.0, 10.0]  # unvoiced frames untouched
    assert shaped[1:3] == pytest.approx([1.1 * mean, 1.1 * mean], rel=1e-5)  # flat intonation


def test_a_warp_is_a_rate_multiple_of_200_hz_that_lengthens_a_lower_voice(tmp_path):
    samples = (np.sin(np.arange(16_000) * 0.05) * 8000).astype(np.int16)
    raw = io.BytesIO()
    sf.write(raw, samples, 16_000, format="WAV", subtype="PCM_16")
    warped = warp_voice(raw.getvalue(), voice_warp("pico-en-GB+w93"))
    assert sf.info(io.BytesIO(warped)).samplerate == 14_800
    duration = _save_16k(warped, tmp_path / "warp.wav")
    assert duration == pytest.approx(16_000 / 14_800, abs=1e-3)
    assert voice_warp("festival-kal_diphone") == 1.0 and warp_voice(raw.getvalue(), 1.0) == (
        raw.getvalue()
    )


def test_the_default_voice_set_plan_is_unchanged_by_the_broad_set():
    plan = plan_corpus(SENTENCES, SIZES["tiny"], seed=0)
    assert [u.rendition.voice for u in plan][:6] == [
        "flite-kal16", "espeak-en-gb-scotland+m6", "flite-kal16", "espeak-en-us-nyc+f2",
        "espeak-en-gb-scotland", "espeak-en-029+f3",
    ]
    assert [round(u.rendition.rate, 6) for u in plan[:3]] == [1.195541, 172.310335, 0.965569]
    assert {u.split for u in plan} == {"train", "dev", "test", "test_unseen_voice"}
    assert all(u.rendition.intonation == 1.0 for u in plan)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("size", ["tiny", "demo"])
def test_the_held_out_engine_speaks_only_its_split_and_reads_the_test_sentences(size, seed):
    sentences = SENTENCES if size == "tiny" else [(f"Word {i}.", f"w{i}") for i in range(400)]
    plan = plan_corpus(sentences, SIZES[size], seed=seed, voice_set="broad")
    texts = defaultdict(set)
    for u in plan:
        texts[u.split].add(u.transcript)
        assert is_held_out_engine(u.rendition.voice) == (u.split == UNSEEN_ENGINE_SPLIT), u
        if u.split == "train":
            assert not is_held_out(u.rendition.voice)
    assert texts[UNSEEN_ENGINE_SPLIT] == texts["test"]
    train_engines = {u.rendition.engine for u in plan if u.split == "train"}
    assert not train_engines & set(HELD_OUT_ENGINES)
    if size == "demo":  # every training engine is used
        assert train_engines == {"espeak", "flite", "mbrola", "pico", "festival"}


def test_every_new_engine_has_a_held_out_voice_and_seen_voices():
    voices = all_voices("broad")
    for engine in ("mbrola", "pico", "festival"):
        mine = [v for v in voices if v.startswith(engine + "-")]
        assert any(is_held_out(v) for v in mine) and not all(is_held_out(v) for v in mine)


def test_an_unknown_voice_set_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="unknown voice set 'wide'; choose one of default, broad"):
        synthesize_corpus(tmp_path, "tiny", sentences=SENTENCES, voice_set="wide")


def test_missing_broad_engines_say_how_to_install_them(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SynthEngineMissing, match=r"lacks .*libttspico-utils.*install_system_pack"):
        synthesize_corpus(tmp_path / "out", "tiny", sentences=SENTENCES, voice_set="broad")


broad_installed = not missing_engines("broad")


@pytest.mark.skipif(not broad_installed,
                    reason=f"broad voice set incomplete: {missing_engines('broad')} ({INSTALL})")
def test_a_tiny_broad_corpus_keeps_the_held_out_engine_out_of_the_training_manifest(tmp_path):
    info = synthesize_corpus(tmp_path, "tiny", seed=0, jobs=2, sentences=SENTENCES,
                             progress=False, voice_set="broad")
    assert info["failures"] == []
    assert info["utterances"][UNSEEN_ENGINE_SPLIT] == 2
    train = read_manifest(tmp_path / "train.jsonl")
    assert train and not any(is_held_out_engine(u.speaker) for u in train)
    engine_test = read_manifest(tmp_path / f"{UNSEEN_ENGINE_SPLIT}.jsonl")
    assert {u.speaker.split("-")[0] for u in engine_test} == set(HELD_OUT_ENGINES)
    for utt in train + engine_test:
        assert sf.info(str(utt.audio)).samplerate == 16_000
    summary = json.loads((tmp_path / "synth_info.json").read_text())
    assert summary["held_out_engines"] == list(HELD_OUT_ENGINES)
    assert set(summary["rtf_by_engine"]) >= {"hibari"} and all(
        r > 0 for r in summary["rtf_by_engine"].values())
