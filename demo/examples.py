"""Speech-translation examples: test utterances and the German references of their sentences."""

from __future__ import annotations

import json
from pathlib import Path

from echoformer.data.split import english_split_key

TEST_SETS = ("test", "test_unseen_voice")


def pick_examples(asr_data: Path, count: int) -> list[dict]:
    """The first `count` utterances of each ASR test set: audio, English text, test set."""
    examples = []
    for test_set in TEST_SETS:
        lines = (Path(asr_data) / f"{test_set}.jsonl").read_text(encoding="utf-8").splitlines()
        for line in lines[:count]:
            row = json.loads(line)
            audio = Path(row["audio"])  # relative to the manifest's folder
            audio = audio if audio.is_absolute() else Path(asr_data) / audio
            examples.append({"test_set": test_set, "audio": str(audio), "text": row["text"],
                             "speaker": row.get("speaker")})
    return examples


def reference_translations(nmt_data: Path, english: list[str]) -> list[str | None]:
    """The German side of the NMT test pair with the same English sentence (matched in its
    ASR form), or None; the ASR test sets read sentences of the NMT test split."""
    nmt_data = Path(nmt_data)
    sources = (nmt_data / "test.en").read_text(encoding="utf-8").splitlines()
    targets = (nmt_data / "test.de").read_text(encoding="utf-8").splitlines()
    german = {english_split_key(s): t for s, t in zip(sources, targets)}
    return [german.get(english_split_key(text)) for text in english]
