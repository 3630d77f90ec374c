"""Real recorded English speech with transcripts, from Debian packages, as manifests:

    python -m asr.data.real_speech --out data/real_speech [--dev-fraction 0.25]
                                   [--test-fraction 0.25] [--seed 29]

Sources (installed with `apt-get install`; recipes/synth_asr/real_speech.sh does it):
- `asterisk-core-sounds-en-g722` (16 kHz G.722, decoded with ffmpeg) or, where that copy or
  ffmpeg is missing, `asterisk-core-sounds-en-wav` (8 kHz, resampled): telephone prompts of
  one US female speaker; transcripts in `core-sounds-en.txt(.gz)` of
  `asterisk-core-sounds-en`, lines `name: Text`. Bracketed notes (`[beep tone]`,
  `(10 seconds of silence)`, `<beep ascending>`) are removed; a prompt with nothing else is a
  sound, not speech, and is dropped. Numbers 0-99 standing alone ("press 1") are spelled out
  with num2words; a prompt with any other digits ("3D", "28.8", "extension 1234": how they
  are read is not written) or a spoken symbol (`#`, `*`) is dropped.
- `klettres-data`: letters and syllables read by two speakers (`en`, `en_GB`), listed in
  `sounds.xml`; text = the sound's name. Syllables without a vowel ("ch", "th") are phonics
  sounds, not words, and are dropped.
- `ktuberling-data`: single words (`en.soundtheme`); text = the sound's name less its theme
  prefix (`egypt_camel` -> "camel"), with the few file names that are not the spoken English
  spelling put right (`KTUBERLING_WORDS`).

Every kept recording is written as 16 kHz mono wav under `OUT/wav/SOURCE/`. The split is by
a seeded hash of the transcript (`echoformer.data.split.split_of`), near-duplicate prompts
taken as one (`split_keys`), so a prompt, every recording of it and its near-duplicates are
in one set only: `real_dev.jsonl`, `real_test.jsonl` and the rest in
`real_train.jsonl`. The isolated words go through the same hash, so every set holds all four
speakers. `OUT/summary.json` counts what each set holds and what was dropped, and why.
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import soundfile as sf

from asr.audio import SAMPLE_RATE, AudioError, load_audio
from asr.data.manifest import Utterance, write_manifest
from echoformer.data.split import split_of
from echoformer.text_norm import normalize_transcript

log = logging.getLogger(__name__)

ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en_US_f_Allison")
ASTERISK_TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
KLETTRES_DIR = Path("/usr/share/klettres")
KLETTRES_LANGUAGES = ("en", "en_GB")
KTUBERLING_SOUNDS = Path("/usr/share/ktuberling/sounds")
PACKAGES = ("asterisk-core-sounds-en-g722 asterisk-core-sounds-en-wav asterisk-core-sounds-en "
            "klettres-data ktuberling-data ffmpeg")

SPLIT_SEED = 29
DEV_FRACTION = 0.25
TEST_FRACTION = 0.25
NEAR_DUPLICATE = 0.8  # word-sequence similarity (difflib ratio) that puts prompts in one set
SET_NAMES = {"valid": "real_dev", "test": "real_test", "train": "real_train"}

# ktuberling file names that are not the English spelling of the spoken word
KTUBERLING_WORDS = {"palmtree": "palm tree", "fallingstar": "falling star",
                    "sphynx": "sphinx", "brocolli": "broccoli"}

_NOTE = re.compile(r"\[[^\]]*\]|\([^)]*\)|<[^>]*>")
_SMALL_NUMBER = re.compile(r"(?<![\w.,])\d{1,2}(?![\w.]|,\d)")
_VOWEL = re.compile(r"[aeiouy]")


class RealSpeechError(ValueError):
    """A source that is missing or not laid out as its Debian package lays it out."""


@dataclass(frozen=True)
class Recording:
    """One recording before conversion: `audio` in its package, `codec` how to read it."""

    source: str  # asterisk, klettres, ktuberling
    name: str  # unique within the source
    audio: Path
    text: str  # transcript form
    speaker: str
    codec: str = "soundfile"  # or "g722": decoded with ffmpeg


@dataclass
class Collected:
    """Recordings of one source and the count of prompts dropped, by reason."""

    recordings: list[Recording] = field(default_factory=list)
    dropped: Counter = field(default_factory=Counter)


def spell_small_numbers(text: str) -> str:
    """`"press 1, or 42"` -> `"press one, or forty-two"`: whole numbers 0-99 standing alone,
    in words (num2words); other digits are left as they are."""
    from num2words import num2words

    return _SMALL_NUMBER.sub(lambda match: num2words(int(match.group())), text)


def asterisk_transcript(raw: str) -> tuple[str | None, str]:
    """(transcript, "") for a prompt's text, or (None, reason it is dropped)."""
    spoken = " ".join(_NOTE.sub(" ", raw).split())
    text = normalize_transcript(spell_small_numbers(spoken))
    if text is None:
        reason = "digits not read as written" if re.search(r"\d", spoken) else "spoken symbols"
        return None, reason
    if not text:
        return None, "no speech (a tone or silence)"
    return text, ""


def read_asterisk_transcripts(path: Path) -> list[tuple[str, str]]:
    """(prompt name, raw text) of each `name: Text` line of core-sounds-en.txt(.gz)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as lines:
        rows = []
        for line in lines:
            if line.startswith(";") or not line.strip():
                continue
            name, sep, text = line.partition(":")
            if sep:
                rows.append((name.strip(), text.strip()))
    return rows


def collect_asterisk(sounds: Path, transcripts: Path, use_g722: bool) -> Collected:
    """The prompts of `transcripts` that have speech, a usable transcript and a recording
    (the .g722 copy when `use_g722` and present, else the .wav)."""
    for path, package in ((sounds, "asterisk-core-sounds-en-wav"),
                          (transcripts, "asterisk-core-sounds-en")):
        if not path.exists():
            raise RealSpeechError(f"{path}: not found; install the Debian package {package} "
                                  "(apt-get install -y " + package + ")")
    collected = Collected()
    for name, raw in read_asterisk_transcripts(transcripts):
        text, reason = asterisk_transcript(raw)
        if text is None:
            collected.dropped[f"asterisk: {reason}"] += 1
            continue
        g722, wav = sounds / f"{name}.g722", sounds / f"{name}.wav"
        if use_g722 and g722.is_file():
            audio, codec = g722, "g722"
        elif wav.is_file():
            audio, codec = wav, "soundfile"
        else:
            collected.dropped["asterisk: no recording"] += 1
            continue
        collected.recordings.append(
            Recording("asterisk", name, audio, text, "asterisk-allison", codec))
    return collected


def _xml_sounds(path: Path) -> list[tuple[str, str]]:
    """(name, file) of each `<sound name=... file=...>` element."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise RealSpeechError(f"{path}: not readable XML ({err})") from err
    return [(s.get("name", ""), s.get("file", "")) for s in root.iter("sound")]


def collect_klettres(root: Path, languages: tuple[str, ...] = KLETTRES_LANGUAGES) -> Collected:
    """Letters and syllables of `ROOT/LANG/sounds.xml` (files relative to ROOT)."""
    collected = Collected()
    for language in languages:
        listing = root / language / "sounds.xml"
        if not listing.is_file():
            raise RealSpeechError(f"{listing}: not found; install the Debian package "
                                  "klettres-data (apt-get install -y klettres-data)")
        for name, file in _xml_sounds(listing):
            text = normalize_transcript(name)
            if not text or (len(text) > 1 and not _VOWEL.search(text)):
                collected.dropped["klettres: not a word or letter"] += 1
                continue
            collected.recordings.append(Recording(
                "klettres", f"{language}/{Path(file).stem}", root / file, text,
                f"klettres-{language}"))
    return collected


def ktuberling_transcript(name: str) -> str | None:
    """`egypt_palmtree` -> `"palm tree"`."""
    word = name.rsplit("_", 1)[-1].lower()
    return normalize_transcript(KTUBERLING_WORDS.get(word, word))


def collect_ktuberling(sounds: Path) -> Collected:
    """The words of `SOUNDS/en.soundtheme` (files relative to SOUNDS)."""
    listing = sounds / "en.soundtheme"
    if not listing.is_file():
        raise RealSpeechError(f"{listing}: not found; install the Debian package "
                              "ktuberling-data (apt-get install -y ktuberling-data)")
    collected = Collected()
    for name, file in _xml_sounds(listing):
        text = ktuberling_transcript(name)
        if not text:
            collected.dropped["ktuberling: no transcript"] += 1
            continue
        collected.recordings.append(
            Recording("ktuberling", name, sounds / file, text, "ktuberling-en"))
    return collected


def split_keys(texts: list[str], threshold: float = NEAR_DUPLICATE) -> dict[str, str]:
    """Text -> the key it is split by: near-duplicate prompts (word-sequence similarity at
    least `threshold`: "... your party's first name ..." / "... last name ...") share the key
    of their group (its first text in sorted order), so they land in one set; every other
    text is its own key."""
    distinct = sorted(set(texts))
    group = {text: text for text in distinct}

    def root(text: str) -> str:
        while group[text] != text:
            text = group[text]
        return text

    words = {text: text.split() for text in distinct}
    for i, first in enumerate(distinct):
        matcher = difflib.SequenceMatcher(None, b=words[first], autojunk=False)
        for second in distinct[i + 1:]:
            matcher.set_seq1(words[second])
            if matcher.real_quick_ratio() >= threshold and matcher.ratio() >= threshold:
                a, b = root(first), root(second)
                group[max(a, b)] = min(a, b)
    return {text: root(text) for text in distinct}


def convert(recording: Recording, out_path: Path) -> float:
    """Write `recording` as 16 kHz mono PCM wav at `out_path`; returns its duration."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    source = recording.audio
    with tempfile.TemporaryDirectory() as tmp:
        if recording.codec == "g722":
            source = Path(tmp) / "decoded.wav"
            done = subprocess.run(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "g722",
                 "-i", str(recording.audio), "-ac", "1", "-ar", str(SAMPLE_RATE), str(source)],
                capture_output=True, text=True)
            if done.returncode != 0:
                raise AudioError(f"{recording.audio}: ffmpeg cannot decode it as G.722 "
                                 f"({done.stderr.strip()})")
        samples = load_audio(source)
    sf.write(out_path, samples.numpy(), SAMPLE_RATE, subtype="PCM_16")
    return len(samples) / SAMPLE_RATE


def build_real_speech(
    out_dir: str | Path, *, asterisk_sounds: Path = ASTERISK_SOUNDS,
    asterisk_transcripts: Path = ASTERISK_TRANSCRIPTS, klettres_dir: Path = KLETTRES_DIR,
    ktuberling_sounds: Path = KTUBERLING_SOUNDS, use_g722: bool | None = None,
    dev_fraction: float = DEV_FRACTION, test_fraction: float = TEST_FRACTION,
    seed: int = SPLIT_SEED,
) -> dict:
    """Convert every usable recording and write the three manifests; returns the summary
    (also written to OUT/summary.json). `use_g722` None: when ffmpeg is on PATH."""
    out_dir = Path(out_dir)
    if use_g722 is None:
        use_g722 = shutil.which("ffmpeg") is not None
        if not use_g722:
            log.warning("ffmpeg not found: the asterisk prompts come from the 8 kHz wav copy "
                        "(apt-get install -y ffmpeg for the 16 kHz G.722 one)")
    parts = [collect_asterisk(asterisk_sounds, asterisk_transcripts, use_g722),
             collect_klettres(klettres_dir), collect_ktuberling(ktuberling_sounds)]
    dropped = sum((part.dropped for part in parts), Counter())
    keys = split_keys([r.text for part in parts for r in part.recordings])
    sets: dict[str, list[Utterance]] = {name: [] for name in SET_NAMES.values()}
    for recording in (r for part in parts for r in part.recordings):
        wav = out_dir / "wav" / recording.source / f"{recording.name}.wav"
        try:
            duration = convert(recording, wav)
        except AudioError as err:
            log.warning("dropped %s", err)
            dropped[f"{recording.source}: unreadable audio"] += 1
            continue
        split = split_of(keys[recording.text], seed, dev_fraction, test_fraction)
        sets[SET_NAMES[split]].append(Utterance(
            wav.resolve(), duration, recording.text, recording.speaker,
            {"source": recording.source, "codec": recording.codec}))
    summary = {"g722": use_g722, "dropped": dict(sorted(dropped.items())), "sets": {}}
    for name, utterances in sets.items():
        write_manifest(out_dir / f"{name}.jsonl", utterances)
        summary["sets"][name] = {
            "utterances": len(utterances),
            "prompts": len({u.text for u in utterances}),
            "words": sum(len(u.text.split()) for u in utterances),
            "minutes": round(sum(u.duration for u in utterances) / 60, 2),
            "by_source": dict(sorted(Counter(u.extra["source"] for u in utterances).items())),
        }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asr.data.real_speech", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--dev-fraction", type=float, default=DEV_FRACTION)
    parser.add_argument("--test-fraction", type=float, default=TEST_FRACTION)
    parser.add_argument("--seed", type=int, default=SPLIT_SEED, help="seed of the split hash")
    parser.add_argument("--no-g722", action="store_true",
                        help="use the 8 kHz wav prompts even where the G.722 copy is installed")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        summary = build_real_speech(args.out, use_g722=False if args.no_g722 else None,
                                    dev_fraction=args.dev_fraction,
                                    test_fraction=args.test_fraction, seed=args.seed)
    except (RealSpeechError, ValueError) as err:
        print(f"real_speech: {err}\n(all sources: apt-get install -y {PACKAGES})",
              file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
