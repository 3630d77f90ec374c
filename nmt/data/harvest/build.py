"""Stage 2: harvested messages → a cleaned, de-duplicated, split corpus in the repository's
parallel-text layout (``{train,valid,test}.{en,de}`` line-aligned, ``stats.json``).

Sources are read in priority order; a pair already kept from an earlier source is a
duplicate. The split is by a seeded hash of the normalised English (``english_split_key``), so
no English sentence is in two splits. Train loses the pairs whose English is a Ding valid or
test sentence (the Ding test split stays comparable); valid and test are drawn from their hash
buckets, sentence-like pairs only, one reference per English, round-robin across sources (a
multi-domain test set), and none whose English is any Ding sentence.
"""

from __future__ import annotations

import json
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path

from tqdm import tqdm

from echoformer.data.split import SPLITS, english_split_key, split_of
from nmt.data.corpus import Pair, with_asr_copies
from nmt.data.harvest.align import split_message
from nmt.data.harvest.clean import CleanSettings, clean_pair, is_sentence_like
from nmt.data.prepare import STATS_FILE, english_overlap, write_corpus

HARVEST_SPLIT_SEED = 4321
VALID_FRACTION = 0.01
TEST_FRACTION = 0.015


def read_raw(path: Path) -> Iterator[tuple[str, str, str]]:
    """(english, german, origin) of a stage-1 ``pairs/<source>.jsonl`` file."""
    with Path(path).open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            yield row["en"], row["de"], row["origin"]


def write_raw(path: Path, messages: Iterable[tuple[str, str, str]]) -> int:
    """Write messages as JSON lines (via a temp file, renamed when complete); returns count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    count = 0
    with partial.open("w", encoding="utf-8") as out:
        for english, german, origin in messages:
            out.write(json.dumps({"en": english, "de": german, "origin": origin},
                                 ensure_ascii=False) + "\n")
            count += 1
    partial.rename(path)
    return count


def clean_source(messages: Iterable[tuple[str, str, str]], kept: dict[Pair, str], source: str,
                 counts: Counter, settings: CleanSettings) -> None:
    """Segment, clean and de-duplicate one source's messages into ``kept`` (pair → source)."""
    for english, german, _ in messages:
        counts["messages"] += 1
        for segment in split_message(english, german, counts):
            pair = clean_pair(segment, counts, settings)
            if pair is None:
                continue
            if pair in kept:
                counts["drop:duplicate"] += 1
                continue
            kept[pair] = source
            counts["kept"] += 1
            counts["sentence_like"] += is_sentence_like(pair[0])


def ding_english_keys() -> dict[str, set[str]]:
    """Split keys of the Ding sentence pairs' English, per Ding split (as
    ``nmt.data.prepare ding`` splits them)."""
    from echoformer.data.ding import DING_PATH, iter_ding_pairs, sentence_pairs
    from echoformer.data.split import ding_split
    if not Path(DING_PATH).is_file():
        raise FileNotFoundError(
            f"{DING_PATH} not found: `apt-get install trans-de-en` (the Ding splits are held "
            "out of the harvest's train), or pass --no-ding-holdout.")
    keys: dict[str, set[str]] = {split: set() for split in SPLITS}
    for _, english in sentence_pairs(list(iter_ding_pairs(DING_PATH))):
        keys[ding_split(english)].add(english_split_key(english))
    return keys


def round_robin(candidates: dict[str, list[Pair]], limit: int) -> list[tuple[Pair, str]]:
    """Up to ``limit`` pairs taken one per source in turn (sources in the given order)."""
    chosen, position = [], 0
    while len(chosen) < limit and any(position < len(items) for items in candidates.values()):
        for source, items in candidates.items():
            if position < len(items) and len(chosen) < limit:
                chosen.append((items[position], source))
        position += 1
    return chosen


def build_corpus(pairs_dir: Path, out_dir: Path, sources: list[str],
                 settings: CleanSettings = CleanSettings(), seed: int = HARVEST_SPLIT_SEED,
                 valid_fraction: float = VALID_FRACTION, test_fraction: float = TEST_FRACTION,
                 valid_pairs: int = 2000, test_pairs: int = 3000,
                 ding_keys: dict[str, set[str]] | None = None, asr_copies: bool = False,
                 ) -> dict:
    """Clean, de-duplicate and split the stage-1 messages of ``sources`` (files
    ``pairs_dir/<source>.jsonl``, read in this order) into ``out_dir``; returns the stats.

    ``ding_keys`` (``ding_english_keys()``): Ding English held out of train (valid/test keys)
    and out of valid/test (all keys); None holds nothing out.
    """
    started = time.perf_counter()
    counts: dict[str, Counter] = {source: Counter() for source in sources}
    kept: dict[Pair, str] = {}
    for source in sources:
        path = Path(pairs_dir) / f"{source}.jsonl"
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: run stage 1 (the harvest) for {source}.")
        clean_source(tqdm(read_raw(path), desc=f"clean {source}", unit=" messages"),
                     kept, source, counts[source], settings)
    held_out_of_train = set() if ding_keys is None else ding_keys["valid"] | ding_keys["test"]
    every_ding = set() if ding_keys is None else set().union(*ding_keys.values())
    train: list[Pair] = []
    evaluation: dict[str, dict[str, list[Pair]]] = {
        split: defaultdict(list) for split in ("valid", "test")}
    seen_eval: set[str] = set()
    for pair, source in kept.items():
        key = english_split_key(pair[0])
        split = split_of(key, seed, valid_fraction, test_fraction)
        if split == "train":
            if key in held_out_of_train:
                counts[source]["drop:ding_heldout"] += 1
            else:
                train.append(pair)
                counts[source]["train"] += 1
        elif not is_sentence_like(pair[0]) or key in seen_eval or key in every_ding:
            counts[source]["eval_bucket_unused"] += 1
        else:
            seen_eval.add(key)
            evaluation[split][source].append(pair)
    splits: dict[str, list[Pair]] = {"train": train}
    eval_sources: dict[str, list[str]] = {}
    for split, limit in (("valid", valid_pairs), ("test", test_pairs)):
        ordered = {source: evaluation[split][source] for source in sources}
        chosen = round_robin(ordered, limit)
        splits[split] = [pair for pair, _ in chosen]
        eval_sources[split] = [source for _, source in chosen]
        for source in sources:
            taken = eval_sources[split].count(source)
            counts[source][split] = taken
            counts[source]["eval_bucket_unused"] += len(ordered[source]) - taken
    stats: dict = {"mode": "harvest", "langs": ["en", "de"], "sources": {}}
    if asr_copies:
        splits["train"], stats["asr_copies_in_train"] = with_asr_copies(splits["train"])
    write_corpus(Path(out_dir), splits, ("en", "de"))
    for split, names in eval_sources.items():
        (Path(out_dir) / f"{split}.source").write_text("".join(name + "\n" for name in names))
    for source in sources:
        source_counts = counts[source]
        stats["sources"][source] = {
            "messages": source_counts["messages"], "kept": source_counts["kept"],
            "sentence_like": source_counts["sentence_like"],
            "train": source_counts["train"], "valid": source_counts["valid"],
            "test": source_counts["test"],
            "dropped": {name[5:]: value for name, value in sorted(source_counts.items())
                        if name.startswith("drop:")},
            "changed": {name: value for name, value in sorted(source_counts.items())
                        if name in {"accelerator", "markup", "placeholders_kept",
                                    "split_paragraphs", "split_sentences"}},
            "eval_bucket_unused": source_counts["eval_bucket_unused"],
        }
    stats["pairs"] = {split: len(pairs) for split, pairs in splits.items()}
    stats["english_also_in_train"] = english_overlap(splits, 0)
    stats["settings"] = {"sources": sources, "seed": seed, "valid_fraction": valid_fraction,
                         "test_fraction": test_fraction, "valid_pairs": valid_pairs,
                         "test_pairs": test_pairs, "ding_holdout": ding_keys is not None,
                         "length_filter": asdict(settings.length),
                         "min_stopwords": settings.min_stopwords}
    stats["seconds"] = round(time.perf_counter() - started, 1)
    (Path(out_dir) / STATS_FILE).write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    return stats
