"""asr.data.real_speech on tiny fixture trees laid out as the Debian packages lay them out."""

import gzip
import json
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from asr.data.manifest import read_manifest
from asr.data.real_speech import (RealSpeechError, asterisk_transcript, build_real_speech,
                                  ktuberling_transcript, spell_small_numbers, split_keys)

PROMPTS = {  # name: text in core-sounds-en.txt; all but the last two have a recording
    "auth-thankyou": "Thank you.",
    "vm-goodbye": "Goodbye!",
    "conf-getpin": "Please press 1 for help.",
    "beep": "[this is a simple beep tone]",
    "silence/1": "(1 second of silence)",
    "confbridge-binaural-on": "3D audio enabled",
    "dictate/forhelp": "press # for help",
    "no-such-prompt": "This prompt has no file.",
}
RECORDED = [name for name in PROMPTS if name != "no-such-prompt"]


def _tone(path, seconds, rate, **kwargs):
    t = np.arange(int(rate * seconds)) / rate
    sf.write(path, (0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), rate, **kwargs)


@pytest.fixture
def packages(tmp_path):
    """Asterisk prompts (8 kHz wav + transcripts), klettres en/en_GB, ktuberling en."""
    sounds = tmp_path / "asterisk/sounds/en_US_f_Allison"
    for name in RECORDED:
        (sounds / name).parent.mkdir(parents=True, exist_ok=True)
        _tone(sounds / f"{name}.wav", 0.5, 8000, subtype="PCM_16")
    transcripts = tmp_path / "asterisk/core-sounds-en.txt.gz"
    with gzip.open(transcripts, "wt", encoding="utf-8") as out:
        out.write("; Core Asterisk Sounds in English\n\n")
        out.writelines(f"{name}: {text}\n" for name, text in PROMPTS.items())
    klettres = tmp_path / "klettres"
    for language, names in (("en", ["A", "DOG", "CH"]), ("en_GB", ["a"])):
        (klettres / language / "alpha").mkdir(parents=True)
        for name in names:
            _tone(klettres / language / "alpha" / f"{name}.ogg", 0.3, 44100, format="OGG")
        sounds_xml = "".join(f'<sound name="{n}" file="{language}/alpha/{n}.ogg" />'
                             for n in names)
        (klettres / language / "sounds.xml").write_text(
            f'<!-- KLettres --><klettres><language code="{language}"><alphabet>'
            f"{sounds_xml}</alphabet></language></klettres>")
    ktuberling = tmp_path / "ktuberling/sounds"
    (ktuberling / "en").mkdir(parents=True)
    for name in ("ball", "egypt_palmtree"):
        _tone(ktuberling / "en" / f"{name}.ogg", 0.4, 22050, format="OGG")
    (ktuberling / "en.soundtheme").write_text(
        '<language code="en"><sound name="ball" file="en/ball.ogg" />'
        '<sound name="egypt_palmtree" file="en/egypt_palmtree.ogg" /></language>')
    return {"asterisk_sounds": sounds, "asterisk_transcripts": transcripts,
            "klettres_dir": klettres, "ktuberling_sounds": ktuberling}


def _all_rows(out):
    return [u for name in ("real_dev", "real_test", "real_train")
            for u in read_manifest(out / f"{name}.jsonl")]


def test_every_usable_recording_lands_in_one_set_as_16k_wav_with_its_transcript(packages,
                                                                                 tmp_path):
    build_real_speech(tmp_path / "out", use_g722=False, **packages)
    rows = _all_rows(tmp_path / "out")
    assert sorted((u.text, u.speaker) for u in rows) == [
        ("a", "klettres-en"), ("a", "klettres-en_GB"), ("ball", "ktuberling-en"),
        ("dog", "klettres-en"), ("goodbye", "asterisk-allison"),
        ("palm tree", "ktuberling-en"), ("please press one for help", "asterisk-allison"),
        ("thank you", "asterisk-allison")]
    for utt in rows:
        info = sf.info(utt.audio)
        assert (info.samplerate, info.channels) == (16_000, 1)
        assert utt.duration == pytest.approx(info.duration, abs=1e-3)
        assert utt.audio.is_relative_to((tmp_path / "out/wav").resolve())


def test_tones_silence_unread_digits_symbols_and_missing_files_are_dropped_and_counted(
        packages, tmp_path):
    summary = build_real_speech(tmp_path / "out", use_g722=False, **packages)
    assert summary["dropped"] == {
        "asterisk: digits not read as written": 1, "asterisk: no recording": 1,
        "asterisk: no speech (a tone or silence)": 2, "asterisk: spoken symbols": 1,
        "klettres: not a word or letter": 1}
    assert sum(s["utterances"] for s in summary["sets"].values()) == 8
    on_disk = json.loads((tmp_path / "out/summary.json").read_text())
    assert on_disk["sets"] == summary["sets"]


def test_a_prompt_and_its_near_duplicates_are_in_one_set_only(packages, tmp_path):
    build_real_speech(tmp_path / "out", use_g722=False, dev_fraction=0.4, test_fraction=0.4,
                      **packages)
    sets = {name: {u.text for u in read_manifest(tmp_path / f"out/{name}.jsonl")}
            for name in ("real_dev", "real_test", "real_train")}
    assert sets["real_dev"].isdisjoint(sets["real_test"])
    assert (sets["real_dev"] | sets["real_test"]).isdisjoint(sets["real_train"])
    keys = split_keys(["press seven to delete this message",
                       "press seven to undelete this message", "thank you"])
    assert keys["press seven to undelete this message"] == "press seven to delete this message"
    assert keys["thank you"] == "thank you"


def test_prompt_text_becomes_transcript_form():
    assert spell_small_numbers("press 1, or 42 now") == "press one, or forty-two now"
    assert spell_small_numbers("extension 1234 at 28.8") == "extension 1234 at 28.8"
    assert asterisk_transcript("Dial 2 to send this caller to a polite \"don't call\" menu.") \
        == ("dial two to send this caller to a polite don't call menu", "")
    assert asterisk_transcript("dot [.]") == ("dot", "")
    assert asterisk_transcript("IAX (note: does not say \"2\")") == ("iax", "")
    assert asterisk_transcript("<beep ascending>") == (None, "no speech (a tone or silence)")
    assert ktuberling_transcript("moon_fallingstar") == "falling star"
    assert ktuberling_transcript("robot_workshop_antenna") == "antenna"
    assert ktuberling_transcript("pizzeria_brocolli") == "broccoli"


@pytest.mark.skipif(shutil.which("ffmpeg") is None,
                    reason="ffmpeg is not installed (recipes/synth_asr/real_speech.sh installs "
                           "it to decode the G.722 prompts)")
def test_g722_prompts_are_preferred_and_decoded_at_16k(packages, tmp_path):
    sounds = packages["asterisk_sounds"]
    _tone(tmp_path / "16k.wav", 0.75, 16000, subtype="PCM_16")
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(tmp_path / "16k.wav"),
                    "-ar", "16000", "-f", "g722", str(sounds / "auth-thankyou.g722")], check=True)
    build_real_speech(tmp_path / "out", use_g722=True, **packages)
    (thanks,) = [u for u in _all_rows(tmp_path / "out") if u.text == "thank you"]
    assert thanks.extra["codec"] == "g722"
    assert thanks.duration == pytest.approx(0.75, abs=0.01)  # the 8 kHz wav lasts 0.5 s


def test_a_missing_package_is_named(packages, tmp_path):
    shutil.rmtree(packages["klettres_dir"])
    with pytest.raises(RealSpeechError, match="apt-get install -y klettres-data"):
        build_real_speech(tmp_path / "out", use_g722=False, **packages)
