"""Manifests from a local LibriSpeech copy (standard layout):

    ROOT/SUBSET/SPEAKER/CHAPTER/SPEAKER-CHAPTER-UTT.flac
    ROOT/SUBSET/SPEAKER/CHAPTER/SPEAKER-CHAPTER.trans.txt   lines "SPEAKER-CHAPTER-UTT TEXT"

One manifest per subset (`OUT/SUBSET.jsonl`), absolute audio paths, duration from the flac
header, text in `text_norm` form, speaker = the SPEAKER folder name.
"""

from __future__ import annotations

import logging
from pathlib import Path

from asr.audio import AudioError, audio_duration
from asr.data.manifest import Utterance, write_manifest
from echoformer.text_norm import normalize_transcript

log = logging.getLogger(__name__)
LAYOUT = "SUBSET/SPEAKER/CHAPTER/*.flac with SPEAKER-CHAPTER.trans.txt"


class LibriSpeechError(ValueError):
    """The given folder is not (or not entirely) a LibriSpeech copy."""


def read_subset(subset_dir: str | Path) -> tuple[list[Utterance], list[str]]:
    """Utterances of one subset folder, sorted by id, and one message per skipped utterance
    (transcript line without flac file, unreadable flac, text that does not normalise)."""
    subset_dir = Path(subset_dir)
    transcripts = sorted(subset_dir.glob("*/*/*.trans.txt"))
    if not transcripts:
        raise LibriSpeechError(
            f"{subset_dir}: no LibriSpeech transcripts (*/*/*.trans.txt) found; "
            f"expected the layout {LAYOUT}"
        )
    utterances, problems = [], []
    for trans in transcripts:
        for number, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            utt_id, _, raw_text = line.strip().partition(" ")
            flac = trans.parent / f"{utt_id}.flac"
            text = normalize_transcript(raw_text)
            try:
                if text is None:
                    raise LibriSpeechError(
                        f"text {raw_text!r} has characters outside a-z and apostrophe"
                    )
                duration = audio_duration(flac)
            except (AudioError, LibriSpeechError) as err:
                problems.append(f"{trans}:{number}: {utt_id}: {err}")
                continue
            speaker = utt_id.split("-", 1)[0]
            utterances.append(Utterance(flac.resolve(), duration, text, speaker, {"id": utt_id}))
    return utterances, problems


def prepare_librispeech(
    root: str | Path, subsets: list[str], out_dir: str | Path
) -> dict[str, Path]:
    """Write `OUT/SUBSET.jsonl` for each subset folder under `root`; returns subset -> manifest.
    Skipped utterances are logged; a subset with none usable raises LibriSpeechError."""
    root, out_dir = Path(root), Path(out_dir)
    if not root.is_dir():
        raise LibriSpeechError(
            f"{root}: no such folder; pass the LibriSpeech root (the folder holding {subsets[0]}/)"
        )
    missing = [subset for subset in subsets if not (root / subset).is_dir()]
    if missing:
        found = sorted(p.name for p in root.iterdir() if p.is_dir())
        raise LibriSpeechError(
            f"{root}: subset folder(s) {', '.join(missing)} not found "
            f"(folders there: {', '.join(found) or 'none'})"
        )
    manifests = {}
    for subset in subsets:
        utterances, problems = read_subset(root / subset)
        for problem in problems:
            log.warning("skipped %s", problem)
        if not utterances:
            raise LibriSpeechError(
                f"{root / subset}: no usable utterances; first problem: {problems[0]}"
            )
        manifests[subset] = write_manifest(out_dir / f"{subset}.jsonl", utterances)
        hours = sum(u.duration for u in utterances) / 3600
        log.info(
            "%s: %d utterances, %.2f h, %d skipped", subset, len(utterances), hours, len(problems)
        )
    return manifests
