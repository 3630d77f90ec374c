"""Text for the ASR language model (`asr.lm`) from the Ding dictionary's English side.

Every `;` alternative of every English part (words, phrases and sentences, ~390K parts) in
its ASR form (`normalize_transcript`: lower case, no punctuation), dictionary placeholders and
remarks removed. The lines go to the shared Ding split's train and valid families
(`echoformer.data.split.ding_split`), so the ASR test sentences (test family) are never LM
training text; besides, any line that holds an excluded transcript (the ASR dev and test
manifests') as a run of its words is left out, so a longer dictionary phrase cannot carry a
test sentence in. `--sentence-copies K` repeats the sentence-like lines (4 words or more) K
extra times in the training text; lm_valid_sentences.txt holds the valid ones alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from echoformer.data.ding import DING_PATH, iter_ding_pairs, plain_alternative
from echoformer.data.split import ding_split
from echoformer.text_norm import normalize_transcript


def lm_line(alternative: str) -> str | None:
    """The ASR form of one dictionary alternative (`plain_alternative`), or None when no plain
    words are left (digits, symbols, non-Latin letters: `normalize_transcript` refuses them)."""
    text = plain_alternative(alternative)
    return (normalize_transcript(text) or None) if text else None


def contains_any(line: str, excluded: set[str], longest: int) -> bool:
    """Whether a run of `line`'s words (up to `longest` words) is one of `excluded`."""
    words = line.split()
    for start in range(len(words)):
        for end in range(start + 1, min(len(words), start + longest) + 1):
            if " ".join(words[start:end]) in excluded:
                return True
    return False


def ding_lm_lines(english_parts: Iterable[str], excluded: Iterable[str] = ()
                  ) -> dict[str, list[str]]:
    """Distinct LM lines of `english_parts` by shared split family: {"train": [...],
    "valid": [...]} in input order; test-family lines and lines holding an `excluded`
    transcript are dropped."""
    excluded = {e for e in excluded if e}
    longest = max((len(e.split()) for e in excluded), default=0)
    families: dict[str, dict[str, None]] = {"train": {}, "valid": {}}
    for part in english_parts:
        for alternative in part.split(";"):
            line = lm_line(alternative)
            if line is None:
                continue
            family = ding_split(line)
            if family == "test" or line in families.get(family, {}):
                continue
            if excluded and contains_any(line, excluded, longest):
                continue
            families[family][line] = None
    return {family: list(lines) for family, lines in families.items()}


def english_parts(path: str | Path = DING_PATH) -> Iterator[str]:
    """The English side of every aligned part of the Ding file."""
    return (english for _, english in iter_ding_pairs(path))


SENTENCE_WORDS = 4  # a line of this many words or more counts as sentence-like


def sentence_like(line: str) -> bool:
    return len(line.split()) >= SENTENCE_WORDS


def weighted(lines: Iterable[str], sentence_copies: int) -> Iterator[str]:
    """`lines` with each sentence-like one (≥ SENTENCE_WORDS words) given `sentence_copies`
    extra copies in place: the dictionary's words and short phrases outnumber its sentences
    six to one, while speech is sentences."""
    for line in lines:
        yield from [line] * (1 + (sentence_copies if sentence_like(line) else 0))


def write_lm_text(out_dir: Path, excluded: Iterable[str], ding_path: str | Path = DING_PATH,
                  sentence_copies: int = 0) -> dict[str, object]:
    """lm_train.txt (sentence-like lines `sentence_copies` extra times), lm_valid.txt and
    lm_valid_sentences.txt (its sentence-like lines) in `out_dir`; returns their counts."""
    if sentence_copies < 0:
        raise ValueError(f"--sentence-copies {sentence_copies}: use 0 or more")
    families = ding_lm_lines(english_parts(ding_path), excluded)
    texts = {"lm_train": list(weighted(families["train"], sentence_copies)),
             "lm_valid": families["valid"],
             "lm_valid_sentences": [line for line in families["valid"] if sentence_like(line)]}
    out_dir.mkdir(parents=True, exist_ok=True)
    summary: dict[str, object] = {}
    for name, lines in texts.items():
        path = out_dir / f"{name}.txt"
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        summary[name] = {"path": str(path), "lines": len(lines),
                         "words": sum(len(line.split()) for line in lines)}
    return summary
