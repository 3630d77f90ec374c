"""Build NMT corpora: ``{split}.{lang}`` line-aligned files plus ``stats.json`` in one folder.

    python -m nmt.data.prepare ding  --out data/ding_nmt
    python -m nmt.data.prepare local --train-src train.en --train-tgt train.de \\
        --valid-src ... --valid-tgt ... --test-src ... --test-tgt ... \\
        --src-lang en --tgt-lang de --out data/wmt
    python -m nmt.data.prepare spm   --data data/ding_nmt --vocab-size 8000

Files are named by language, not by direction: en→de or de→en is chosen at training time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from echoformer.data.ding import DING_PATH, iter_ding_pairs, sentence_pairs, term_pairs
from echoformer.data.gettext_pairs import find_german_catalogues, read_gettext_pairs
from echoformer.tokenizer import train_sentencepiece
from nmt.data.corpus import LengthFilter, Pair, clean_pairs, split_by_english, with_asr_copies
from nmt.data.local import read_parallel
from echoformer.data.split import (DING_SPLIT_SEED, DING_TEST_FRACTION, DING_VALID_FRACTION,
                                   english_split_key)
from echoformer.text_norm import normalize_text
from echoformer.data.split import SPLITS

STATS_FILE = "stats.json"
SPM_PREFIX = "spm"


def write_corpus(out_dir: Path, splits: dict[str, list[Pair]], langs: tuple[str, str]) -> None:
    """Write ``out_dir/{split}.{lang}`` for each split and both languages, one sentence a line."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for split, pairs in splits.items():
        for side, lang in enumerate(langs):
            text = "".join(pair[side] + "\n" for pair in pairs)
            (out_dir / f"{split}.{lang}").write_text(text, encoding="utf-8")


def english_overlap(splits: dict[str, list[Pair]], english_side: int) -> dict[str, int]:
    """Per held-out split, how many of its distinct ASR-style English sentences train also has."""
    def keys(split: str) -> set[str]:
        return {english_split_key(pair[english_side]) for pair in splits[split]}
    train = keys("train")
    return {split: len(keys(split) & train) for split in SPLITS if split != "train"}


def with_terms(train: list[Pair], terms: list[Pair], splits: dict[str, list[Pair]],
               length_filter: LengthFilter) -> tuple[list[Pair], dict[str, int]]:
    """``train`` followed by the ``(english, german)`` term pairs that pass ``length_filter``,
    are not in train already and whose English is no valid or test sentence; and the counts
    (``added``, ``held_out``: left out for the English of a valid/test sentence)."""
    held_out = {english_split_key(english) for split in ("valid", "test")
                for english, _ in splits[split]}
    cleaned, _ = clean_pairs(terms, length_filter)
    present = set(train)
    added = [pair for pair in cleaned
             if pair not in present and english_split_key(pair[0]) not in held_out]
    left_out = sum(english_split_key(pair[0]) in held_out for pair in cleaned)
    return train + added, {"added": len(added), "held_out": left_out}


def _finish(out_dir: Path, splits: dict[str, list[Pair]], langs: tuple[str, str],
            stats: dict, started: float) -> dict:
    write_corpus(out_dir, splits, langs)
    stats["pairs"] = {split: len(pairs) for split, pairs in splits.items()}
    if "en" in langs:
        stats["english_also_in_train"] = english_overlap(splits, langs.index("en"))
    stats["seconds"] = round(time.perf_counter() - started, 1)
    (out_dir / STATS_FILE).write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    return stats


def prepare_ding(
    out_dir: Path,
    ding_path: Path = DING_PATH,
    use_gettext: bool = True,
    length_filter: LengthFilter = LengthFilter(),
    seed: int = DING_SPLIT_SEED,
    valid_fraction: float = DING_VALID_FRACTION,
    test_fraction: float = DING_TEST_FRACTION,
    min_eval_pairs: int = 1000,
    asr_copies: bool = True,
    terms: bool = False,
    progress: bool = False,
) -> dict:
    """English–German corpus from Ding sentence-like pairs (+ gettext pairs); returns the stats.

    Splits by a seeded hash of the English side, so no English sentence is in two splits; raises
    ``ValueError`` when valid or test gets fewer than ``min_eval_pairs`` pairs. Train also gets an
    ASR-style copy of each pair (lower-case English without punctuation) when ``asr_copies``,
    and, when ``terms``, the dictionary's word and phrase pairs (``term_pairs``) after its
    sentences, except those whose English is a valid or test sentence.
    """
    started = time.perf_counter()
    parts = list(tqdm(iter_ding_pairs(ding_path), desc="Ding parts", unit=" parts",
                      disable=not progress))
    ding = [(english, german) for german, english in sentence_pairs(parts)]
    stats: dict = {"mode": "ding", "langs": ["en", "de"], "sources": {"ding": len(ding)}}
    gettext: list[Pair] = []
    if use_gettext:
        catalogues = tqdm(find_german_catalogues(), desc="gettext", unit=" files", disable=not progress)
        gettext, skipped = read_gettext_pairs(catalogues)
        stats["sources"]["gettext"] = len(gettext)
        stats["gettext_unreadable"] = skipped
    pairs, counts = clean_pairs(ding + gettext, length_filter)
    splits = split_by_english(pairs, seed, valid_fraction, test_fraction)
    for split in ("valid", "test"):
        if len(splits[split]) < min_eval_pairs:
            raise ValueError(
                f"The {split} split has {len(splits[split])} pairs, fewer than "
                f"min_eval_pairs={min_eval_pairs}; raise --{split}-fraction or lower --min-eval-pairs."
            )
    if asr_copies:
        splits["train"], stats["asr_copies_in_train"] = with_asr_copies(splits["train"])
    if terms:
        splits["train"], stats["terms"] = with_terms(
            splits["train"], [(en, de) for de, en in term_pairs(parts)], splits, length_filter)
    stats["cleaning"] = dict(counts)
    stats["settings"] = {"ding_path": str(ding_path), "seed": seed, "valid_fraction": valid_fraction,
                         "test_fraction": test_fraction, "length_filter": asdict(length_filter)}
    return _finish(Path(out_dir), splits, ("en", "de"), stats, started)


def prepare_local(
    out_dir: Path,
    files: dict[str, tuple[Path, Path]],
    src_lang: str,
    tgt_lang: str,
    length_filter: LengthFilter = LengthFilter(),
    asr_copies: bool = True,
) -> dict:
    """Corpus from local line-aligned files ``files[split] = (source, target)``; returns stats.

    Every split is normalised (NFC, tidy spaces); only train is length-filtered, de-duplicated
    and, when the source language is ``en`` and ``asr_copies``, given ASR-style English copies
    (as targets they would teach a model to drop case and punctuation).
    """
    started = time.perf_counter()
    if src_lang == tgt_lang:
        raise ValueError(f"--src-lang and --tgt-lang are both {src_lang!r}; give two languages.")
    missing = [split for split in SPLITS if split not in files]
    if missing:
        raise ValueError(f"Missing source/target files for split(s) {missing}.")
    splits = {split: read_parallel(*files[split]) for split in SPLITS}
    stats: dict = {"mode": "local", "langs": [src_lang, tgt_lang],
                   "sources": {split: [str(path) for path in files[split]] for split in SPLITS}}
    splits["train"], counts = clean_pairs(splits["train"], length_filter)
    stats["cleaning_train"] = dict(counts)
    for split in ("valid", "test"):
        splits[split] = [(normalize_text(a), normalize_text(b)) for a, b in splits[split]]
    if asr_copies and src_lang == "en":
        splits["train"], stats["asr_copies_in_train"] = with_asr_copies(splits["train"])
    stats["settings"] = {"length_filter": asdict(length_filter)}
    return _finish(Path(out_dir), splits, (src_lang, tgt_lang), stats, started)


def corpus_languages(data_dir: Path) -> list[str]:
    """Languages of the corpus in ``data_dir``, from its stats.json or its ``train.*`` files."""
    stats_path = data_dir / STATS_FILE
    if stats_path.is_file():
        return json.loads(stats_path.read_text())["langs"]
    langs = sorted(path.suffix[1:] for path in data_dir.glob("train.*"))
    if not langs:
        raise FileNotFoundError(
            f"No train.<lang> files in {data_dir}; run `python -m nmt.data.prepare ding` first."
        )
    return langs


def asr_copies_in_train(data_dir: Path) -> int:
    """How many ASR-style English copies the corpus in ``data_dir`` put in train (its stats.json;
    0 without one)."""
    stats_path = Path(data_dir) / STATS_FILE
    if not stats_path.is_file():
        return 0
    return int(json.loads(stats_path.read_text()).get("asr_copies_in_train", 0))


def _lines(paths: Iterable[Path]) -> Iterable[str]:
    for path in paths:
        with path.open(encoding="utf-8") as lines:
            yield from lines


def train_joint_sentencepiece(data_dir: Path, vocab_size: int, model_type: str = "unigram",
                              character_coverage: float = 1.0) -> Path:
    """Train one sentencepiece model on the train text of both languages → ``data_dir/spm.model``."""
    data_dir = Path(data_dir)
    paths = [data_dir / f"train.{lang}" for lang in corpus_languages(data_dir)]
    return train_sentencepiece(_lines(paths), data_dir / SPM_PREFIX, vocab_size,
                               model_type, character_coverage)


def _length_filter_options(parser: argparse.ArgumentParser) -> None:
    defaults = LengthFilter()
    parser.add_argument("--min-words", type=int, default=defaults.min_words,
                        help="drop pairs with a side shorter than this (default %(default)s)")
    parser.add_argument("--max-words", type=int, default=defaults.max_words,
                        help="drop pairs with a side longer than this (default %(default)s)")
    parser.add_argument("--max-ratio", type=float, default=defaults.max_ratio,
                        help="drop pairs whose word counts differ more than this factor "
                             "(default %(default)s)")
    parser.add_argument("--no-asr-copies", action="store_true",
                        help="do not add ASR-style (lower case, unpunctuated) English copies to train")
    parser.add_argument("--out", type=Path, required=True, help="output folder")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nmt.data.prepare", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    ding = commands.add_parser("ding", help="English–German corpus from the Ding dictionary "
                               "(apt-get install trans-de-en) and installed gettext catalogues")
    ding.add_argument("--ding-path", type=Path, default=DING_PATH, help="default %(default)s")
    ding.add_argument("--no-gettext", action="store_true", help="leave out gettext pairs")
    ding.add_argument("--seed", type=int, default=DING_SPLIT_SEED, help="split hash seed (default %(default)s)")
    ding.add_argument("--valid-fraction", type=float, default=DING_VALID_FRACTION, help="default %(default)s")
    ding.add_argument("--test-fraction", type=float, default=DING_TEST_FRACTION, help="default %(default)s")
    ding.add_argument("--min-eval-pairs", type=int, default=1000,
                      help="fail when valid or test has fewer pairs (default %(default)s)")
    ding.add_argument("--terms", action="store_true",
                      help="also train on the dictionary's word and phrase pairs (~350K short "
                           "pairs, first alternative of each side, placeholders such as sb./jdn. "
                           "removed), none whose English is a valid or test sentence")
    _length_filter_options(ding)

    local = commands.add_parser("local", help="a local line-aligned parallel corpus (IWSLT/WMT style)")
    for split in SPLITS:
        for side in ("src", "tgt"):
            local.add_argument(f"--{split}-{side}", type=Path, required=True,
                               help=f"{split} {'source' if side == 'src' else 'target'} text file")
    local.add_argument("--src-lang", required=True, help="language code of the source files, e.g. en")
    local.add_argument("--tgt-lang", required=True, help="language code of the target files, e.g. de")
    _length_filter_options(local)

    spm = commands.add_parser("spm", help="joint sentencepiece model on train text → DATA/spm.model")
    spm.add_argument("--data", type=Path, required=True, help="folder written by `ding` or `local`")
    spm.add_argument("--vocab-size", type=int, default=8000, help="default %(default)s")
    spm.add_argument("--model-type", default="unigram", choices=["unigram", "bpe"])
    spm.add_argument("--character-coverage", type=float, default=1.0, help="default %(default)s")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "spm":
            model = train_joint_sentencepiece(args.data, args.vocab_size, args.model_type,
                                              args.character_coverage)
            print(f"wrote {model}")
            return 0
        length_filter = LengthFilter(args.min_words, args.max_words, args.max_ratio)
        if args.command == "ding":
            stats = prepare_ding(args.out, args.ding_path, not args.no_gettext, length_filter,
                                 args.seed, args.valid_fraction, args.test_fraction,
                                 args.min_eval_pairs, not args.no_asr_copies, args.terms,
                                 progress=True)
        else:
            files = {split: (getattr(args, f"{split}_src"), getattr(args, f"{split}_tgt"))
                     for split in SPLITS}
            stats = prepare_local(args.out, files, args.src_lang, args.tgt_lang, length_filter,
                                  not args.no_asr_copies)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: " + ", ".join(f"{k} {v}" for k, v in stats["pairs"].items())
          + f" pairs ({stats['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
