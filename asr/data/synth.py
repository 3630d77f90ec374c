"""The embedded English speech corpus: sentences from the English side of the Ding dictionary,
spoken by espeak-ng and flite voices (the `default` voice set) or by every engine of
`asr.data.synth_voices` (`broad`: also MBROLA, SVOX Pico, Festival, hibari-tts) with varied
rate, pitch and intonation.

Output folder:
    wav/<split>/<utt_id>.wav     16 kHz mono 16-bit
    <split>.jsonl                manifests (audio paths relative to the folder)
    synth_info.json              size, seed, voice set, counts, hours, held-out voices and
                                 engines, real-time factor per engine, failures

Splits are disjoint by sentence. Voices matching `HELD_OUT_VOICE_PREFIXES` speak only
`test_unseen_voice` (whose sentences are, like every split's, its own). In the broad set the
held-out engines (`HELD_OUT_ENGINES`) speak only `test_unseen_engine`: the `test` sentences
again, so it differs from `test` by the engine alone. The plan (which sentence, voice, rate and
pitch for each utterance) is a function of the seed and the voice set alone; the default set's
plan is the one it has always been.

    python -m asr.data.synth --out data/synth_asr_broad --size demo --voices broad
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import multiprocessing
import random
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import soundfile as sf
import torch
from tqdm import tqdm

from asr.audio import SAMPLE_RATE, to_mono_16k
from asr.data.manifest import Utterance, write_manifest
from asr.data.synth_voices import (
    HELD_OUT_ENGINES,
    HELD_OUT_VOICE_PREFIXES,
    VOICE_SETS,
    Rendition,
    all_voices,
    check_engines,
    draw_broad_voices,
    draw_rendition,
    draw_voices,
    is_held_out,
    is_held_out_engine,
    render_wav,
)
from echoformer.data.split import ding_split
from echoformer.text_norm import normalize_transcript

log = logging.getLogger(__name__)
SPLITS = ("train", "dev", "test", "test_unseen_voice")
UNSEEN_ENGINE_SPLIT = "test_unseen_engine"  # broad voice set only


def splits_of(voice_set: str) -> tuple[str, ...]:
    """The splits a voice set's corpus has: the held-out-engine split where it holds one out."""
    held_out = any(engine in HELD_OUT_ENGINES for engine in VOICE_SETS[voice_set])
    return SPLITS + (UNSEEN_ENGINE_SPLIT,) if held_out else SPLITS


@dataclass(frozen=True)
class SynthSize:
    """Sentences per split and utterances (distinct voices) per sentence.

    `extra_train_sentences` (with `extra_train_variants` voices each) are training sentences
    planned after every other split, so a size that adds them to another's counts keeps that
    size's utterances, test sets included, exactly (`large` is `full` plus 7,500 sentences).
    """

    train_sentences: int
    dev_sentences: int
    test_sentences: int
    unseen_voice_sentences: int
    train_variants: int
    eval_variants: int = 1
    extra_train_sentences: int = 0
    extra_train_variants: int = 2

    def sentences(self, split: str) -> int:
        return {
            "train": self.train_sentences,
            "dev": self.dev_sentences,
            "test": self.test_sentences,
            "test_unseen_voice": self.unseen_voice_sentences,
        }[split]

    def variants(self, split: str) -> int:
        return self.train_variants if split == "train" else self.eval_variants


SIZES = {
    "tiny": SynthSize(8, 2, 2, 2, train_variants=2),  # 22 utterances: CI, seconds
    "demo": SynthSize(260, 40, 40, 40, train_variants=2),  # 640 utterances, about 0.5 h
    "full": SynthSize(4000, 400, 400, 400, train_variants=3),  # 13200 utterances, ~10 h
    # full's 13200 utterances plus 7500 training sentences x 2 voices: 28200, ~21 h
    "large": SynthSize(4000, 400, 400, 400, train_variants=3, extra_train_sentences=7500),
}

_PLAIN = re.compile(r"[A-Z][A-Za-z' ,;:-]*[a-z][.?!]")
_ACRONYM = re.compile(r"\b[A-Z]{2,}\b")
_ABBREVIATIONS = set(
    "sb sth etc mr mrs ms dr st vs jr sr co inc ltd approx".split()  # read differently from written
)


@dataclass(frozen=True)
class PlannedUtterance:
    utt_id: str
    split: str
    spoken: str  # what the engine reads (plain sentence with its punctuation)
    transcript: str  # normalised, what the ASR should emit
    rendition: Rendition


def plain_sentence_transcript(sentence: str, min_words: int = 4, max_words: int = 16) -> str | None:
    """Normalised transcript of a plain sentence, or None when the sentence is not plain: ASCII,
    starts with a capital, one terminal `.?!`, only `,;:'-` inside, no acronyms, abbreviations,
    digits or symbols, `min_words`..`max_words` words (so the engines read it as written)."""
    sentence = sentence.strip()
    if not _PLAIN.fullmatch(sentence) or _ACRONYM.search(sentence) or "--" in sentence:
        return None
    transcript = normalize_transcript(sentence)
    if not transcript or not min_words <= len(transcript.split()) <= max_words:
        return None
    if _ABBREVIATIONS.intersection(transcript.split()):
        return None
    return transcript


def select_sentences(english: Iterable[str], **length) -> list[tuple[str, str]]:
    """(spoken, transcript) of the plain sentences, first occurrence of each transcript kept."""
    chosen: dict[str, str] = {}
    for sentence in english:
        transcript = plain_sentence_transcript(sentence, **length)
        if transcript is not None and transcript not in chosen:
            chosen[transcript] = sentence.strip()
    return [(spoken, transcript) for transcript, spoken in chosen.items()]


def ding_sentences(path: str | Path | None = None) -> list[tuple[str, str]]:
    """Plain English sentences of the Ding dictionary's sentence-like pairs."""
    from echoformer.data.ding import DING_PATH, read_ding_sentence_pairs

    return select_sentences(en for _, en in read_ding_sentence_pairs(path or DING_PATH))


# Which split of the shared Ding split (`echoformer.data.split.ding_split`) each ASR split
# draws its sentences from: the ASR test sentences are then never in the NMT training data.
_SHARED_FAMILY = {"train": "train", "dev": "valid", "test": "test", "test_unseen_voice": "test"}


def plan_corpus(
    sentences: list[tuple[str, str]], size: SynthSize, seed: int = 0, flite_share: float = 0.35,
    family_of: Callable[[str], str] | None = None, voice_set: str = "default",
) -> list[PlannedUtterance]:
    """Assign sentences to splits (disjoint) and a voice, rate and pitch to each utterance.

    With `family_of` (transcript -> "train" | "valid" | "test"), each split takes its
    sentences only from its family (`_SHARED_FAMILY`); without it, from one shuffled pool.
    `voice_set` "default" (espeak-ng + flite, `flite_share` of the picks flite) or "broad"
    (every engine, `BROAD_ENGINE_SHARES`; the held-out engines read the `test` sentences as
    `test_unseen_engine`, planned after every other split).
    """
    rng = random.Random(seed)
    families: dict[str, list[tuple[str, str]]] = {}
    for pair in sorted(sentences, key=lambda pair: pair[1]):
        families.setdefault(family_of(pair[1]) if family_of else "all", []).append(pair)
    for pool in families.values():
        rng.shuffle(pool)
    taken: dict[str, int] = {}

    def take(split: str, needed: int) -> list[tuple[str, str]]:
        family = _SHARED_FAMILY[split] if family_of else "all"
        start = taken.get(family, 0)
        chosen = families.get(family, [])[start : start + needed]
        taken[family] = start + needed
        if len(chosen) < needed:
            raise ValueError(
                f"split {split} needs {needed} distinct sentences"
                + (f" from the {family!r} part of the shared split" if family_of else "")
                + f", only {len(chosen)} are left; choose a smaller size or "
                "provide more sentences"
            )
        return chosen

    # (split, first index, sentences, voices per sentence); the extra training sentences last
    batches = [(split, 0, take(split, size.sentences(split)), size.variants(split))
               for split in SPLITS]
    if size.extra_train_sentences:
        batches.append(("train", size.train_sentences,
                        take("train", size.extra_train_sentences), size.extra_train_variants))
    if UNSEEN_ENGINE_SPLIT in splits_of(voice_set):
        batches.append((UNSEEN_ENGINE_SPLIT, 0, batches[SPLITS.index("test")][2],
                        size.eval_variants))
    voices = all_voices(voice_set)
    pools = {
        "seen": [v for v in voices if not is_held_out(v) and not is_held_out_engine(v)],
        "test_unseen_voice": [v for v in voices if is_held_out(v) and not is_held_out_engine(v)],
        UNSEEN_ENGINE_SPLIT: [v for v in voices if is_held_out_engine(v)],
    }
    planned = []
    for split, first, sentences_of_split, variants in batches:
        pool = pools.get(split, pools["seen"])
        for index, (spoken, transcript) in enumerate(sentences_of_split, start=first):
            if voice_set == "default":
                split_voices = draw_voices(pool, variants, flite_share, rng)
            else:
                split_voices = draw_broad_voices(pool, variants, rng)
            for variant, voice in enumerate(split_voices):
                utt_id = f"{split}-{index:05d}-{variant}"
                rendition = draw_rendition(voice, rng)
                planned.append(PlannedUtterance(utt_id, split, spoken, transcript, rendition))
    return planned


def _save_16k(raw_wav: bytes, out_path: Path) -> float:
    """Downmix/resample an engine's wav to 16 kHz mono 16-bit; returns its duration in seconds."""
    samples, rate = sf.read(io.BytesIO(raw_wav), dtype="float32", always_2d=True)
    audio = to_mono_16k(samples, rate, out_path).clamp(-1.0, 1.0)
    if audio.numel() < SAMPLE_RATE // 10:
        raise RuntimeError(f"engine produced only {audio.numel()} samples")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(out_path, audio.numpy(), SAMPLE_RATE, subtype="PCM_16")
    return audio.numel() / SAMPLE_RATE


def _init_worker() -> None:
    # One intra-op thread per worker (as DataLoader workers do): no oversubscription, and no
    # OpenMP parallel region in a forked child.
    torch.set_num_threads(1)


def _synthesize_one(
    job: tuple[int, Rendition, str, Path],
) -> tuple[int, float | None, str, float]:
    """Pool worker: (index, duration, "", engine seconds) or (index, None, error, seconds);
    never raises, so one failed utterance does not stop a run."""
    index, rendition, text, wav = job
    began = time.perf_counter()
    try:
        raw = render_wav(rendition, text)
        seconds = time.perf_counter() - began
        return index, _save_16k(raw, wav), "", seconds
    except (RuntimeError, ValueError, sf.LibsndfileError) as err:
        return index, None, str(err), time.perf_counter() - began


def synthesize_corpus(
    out_dir: str | Path,
    size: SynthSize | str = "tiny",
    seed: int = 0,
    jobs: int | None = None,
    sentences: list[tuple[str, str]] | None = None,
    progress: bool = True,
    voice_set: str = "default",
) -> dict:
    """Synthesise, write wavs and one manifest per split; return the summary also written to
    synth_info.json. `sentences` as (spoken, transcript) pairs; default: the Ding dictionary's.
    `voice_set`: "default" (espeak-ng + flite) or "broad" (`asr.data.synth_voices`)."""
    if voice_set not in VOICE_SETS:
        raise ValueError(f"unknown voice set {voice_set!r}; choose one of {', '.join(VOICE_SETS)}")
    check_engines(voice_set)
    size = SIZES[size] if isinstance(size, str) else size
    out_dir = Path(out_dir)
    if sentences is None:  # the embedded corpus: aligned with the NMT corpus's split
        planned = plan_corpus(ding_sentences(), size, seed, family_of=ding_split,
                              voice_set=voice_set)
    else:
        planned = plan_corpus(sentences, size, seed, voice_set=voice_set)
    done: dict[str, list[Utterance]] = {split: [] for split in splits_of(voice_set)}
    engine_time: dict[str, list[float]] = {}  # engine -> [engine seconds, audio seconds]
    failures: list[str] = []
    began = time.monotonic()
    wav_of = [out_dir / "wav" / item.split / f"{item.utt_id}.wav" for item in planned]
    work = [(i, item.rendition, item.spoken, wav_of[i]) for i, item in enumerate(planned)]
    with multiprocessing.Pool(jobs or multiprocessing.cpu_count(), _init_worker) as pool:
        results = pool.imap_unordered(_synthesize_one, work, chunksize=4)
        for index, duration, error, engine_seconds in tqdm(
            results, total=len(planned), desc="synthesising", disable=not progress
        ):
            item = planned[index]
            if duration is not None:
                spent = engine_time.setdefault(item.rendition.engine, [0.0, 0.0])
                spent[0] += engine_seconds
                spent[1] += duration
            if duration is None:
                failures.append(f"{item.utt_id}: {error}")
                log.warning("synthesis failed, skipped: %s: %s", item.utt_id, error)
                continue
            extra = {
                "id": item.utt_id,
                "rate": round(item.rendition.rate, 3),
                "pitch": round(item.rendition.pitch, 1),
            }
            if item.rendition.engine not in ("espeak", "flite"):
                extra["intonation"] = round(item.rendition.intonation, 3)
            utterance = Utterance(
                wav_of[index], duration, item.transcript, item.rendition.voice, extra
            )
            done[item.split].append(utterance)
    seconds = time.monotonic() - began
    rtf = {engine: round(spent / audio, 4)
           for engine, (spent, audio) in sorted(engine_time.items())}
    return _write_manifests_and_summary(out_dir, done, failures, size, seed, seconds,
                                        voice_set, rtf)


def _write_manifests_and_summary(
    out_dir: Path,
    done: dict[str, list[Utterance]],
    failures: list[str],
    size: SynthSize,
    seed: int,
    seconds: float,
    voice_set: str = "default",
    rtf_by_engine: dict[str, float] | None = None,
) -> dict:
    for split, utterances in done.items():
        write_manifest(out_dir / f"{split}.jsonl", sorted(utterances, key=lambda u: u.extra["id"]))
    voices = all_voices(voice_set)
    info = {
        "size": asdict(size),
        "seed": seed,
        "voice_set": voice_set,
        "held_out_voice_prefixes": [p for p in HELD_OUT_VOICE_PREFIXES
                                    if any(v == p or v.startswith(p + "+") for v in voices)],
        "held_out_engines": [e for e in HELD_OUT_ENGINES if e in VOICE_SETS[voice_set]],
        "utterances": {split: len(utts) for split, utts in done.items()},
        "hours": {
            split: round(sum(u.duration for u in utts) / 3600, 4) for split, utts in done.items()
        },
        "failures": failures,
        "synthesis_seconds": round(seconds, 1),
        # engine wall time / audio duration, summed over the engine's utterances (each process
        # one thread; with --jobs above the free cores it counts waiting too)
        "rtf_by_engine": rtf_by_engine or {},
    }
    (out_dir / "synth_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m asr.data.synth", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True,
                        help="output folder (wav/, SPLIT.jsonl, synth_info.json)")
    parser.add_argument("--size", choices=sorted(SIZES), default="demo", help="corpus size")
    parser.add_argument("--voices", choices=sorted(VOICE_SETS), default="default",
                        help="default: espeak-ng + flite; broad: also MBROLA, SVOX Pico, "
                        "Festival and hibari-tts (the held-out engine)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="parallel processes (default: all cores)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the split, voice, rate and pitch plan")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    info = synthesize_corpus(args.out, args.size, seed=args.seed, jobs=args.jobs,
                             voice_set=args.voices)
    print(json.dumps({k: info[k] for k in ("voice_set", "utterances", "hours",
                                           "synthesis_seconds", "rtf_by_engine")}))
    if info["failures"]:
        print(f"{len(info['failures'])} utterances failed: see {args.out}/synth_info.json")


if __name__ == "__main__":
    main()
