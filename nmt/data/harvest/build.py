"""Stage 2: harvested messages → a cleaned, de-duplicated, split corpus in the repository's
parallel-text layout (``{train,valid,test}.{en,de}`` line-aligned, ``stats.json``).

Sources are read in priority order; a pair already kept from an earlier source is a
duplicate. Valid and test are drawn from hash buckets of the normalised English
(``english_split_key``): sentence-like pairs only, one reference per English, round-robin
across sources (a multi-domain test set), none whose English is any Ding sentence. No English
sentence is in two splits. Train gets the rest, except pairs whose English is in the valid
or test split of the Ding corpus (``nmt.data.prepare ding``: dictionary sentences and the
installed catalogues' sentences), so the Ding test split stays comparable.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
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
# Hash buckets the valid/test pairs are drawn from; what is not drawn goes to train.
VALID_FRACTION = 0.03
TEST_FRACTION = 0.05


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


def ding_corpus_keys(folder: Path) -> dict[str, set[str]]:
    """Split keys of the English of each split of a corpus written by
    ``python -m nmt.data.prepare ding`` (its ``{train,valid,test}.en``)."""
    folder = Path(folder)
    missing = [split for split in SPLITS if not (folder / f"{split}.en").is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} has no {', '.join(f'{split}.en' for split in missing)}: build the Ding "
            f"corpus first (python -m nmt.data.prepare ding --out {folder}), or pass "
            "--no-ding-holdout.")
    keys = {}
    for split in SPLITS:
        with (folder / f"{split}.en").open(encoding="utf-8") as lines:
            keys[split] = {english_split_key(line.rstrip("\n")) for line in lines}
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


def assign_splits(kept: dict[Pair, str], sources: list[str], counts: dict[str, Counter],
                  seed: int, valid_fraction: float, test_fraction: float,
                  sizes: dict[str, int], ding_keys: dict[str, set[str]] | None,
                  ) -> tuple[dict[str, list[Pair]], dict[str, list[str]]]:
    """Train/valid/test pairs from the kept ``pair → source``, and the source of each valid
    and test pair.

    The seeded hash of the English puts a pair in the valid or test candidates; of those,
    sentence-like pairs (one per English, none a Ding sentence) are drawn, shuffled with
    ``seed``, round-robin across ``sources`` up to ``sizes[split]``. Every other pair goes to
    train unless its English is a drawn one (``drop:eval_english``) or a Ding valid/test
    sentence (``drop:ding_heldout``).
    """
    held_out = set() if ding_keys is None else ding_keys["valid"] | ding_keys["test"]
    every_ding = set() if ding_keys is None else set().union(*ding_keys.values())
    keys = {pair: english_split_key(pair[0]) for pair in kept}
    candidates: dict[str, dict[str, list[Pair]]] = {
        split: {source: [] for source in sources} for split in sizes}
    seen: set[str] = set()
    for pair, source in kept.items():
        key = keys[pair]
        split = split_of(key, seed, valid_fraction, test_fraction)
        if (split != "train" and is_sentence_like(pair[0]) and key not in seen
                and key not in every_ding):
            seen.add(key)
            candidates[split][source].append(pair)
    rng = random.Random(seed)
    splits: dict[str, list[Pair]] = {"train": []}
    eval_sources: dict[str, list[str]] = {}
    for split, size in sizes.items():
        for items in candidates[split].values():
            rng.shuffle(items)
        chosen = round_robin(candidates[split], size)
        splits[split] = [pair for pair, _ in chosen]
        eval_sources[split] = [source for _, source in chosen]
        for _, source in chosen:
            counts[source][split] += 1
    drawn = {keys[pair] for split in sizes for pair in splits[split]}
    chosen_pairs = {pair for split in sizes for pair in splits[split]}
    for pair, source in kept.items():
        if pair in chosen_pairs:
            continue
        if keys[pair] in drawn:
            counts[source]["drop:eval_english"] += 1
        elif keys[pair] in held_out:
            counts[source]["drop:ding_heldout"] += 1
        else:
            splits["train"].append(pair)
            counts[source]["train"] += 1
    return splits, eval_sources


def build_corpus(pairs_dir: Path, out_dir: Path, sources: list[str],
                 settings: CleanSettings = CleanSettings(), seed: int = HARVEST_SPLIT_SEED,
                 valid_fraction: float = VALID_FRACTION, test_fraction: float = TEST_FRACTION,
                 valid_pairs: int = 2000, test_pairs: int = 3000,
                 ding_keys: dict[str, set[str]] | None = None, asr_copies: bool = False,
                 ) -> dict:
    """Clean, de-duplicate and split the stage-1 messages of ``sources`` (files
    ``pairs_dir/<source>.jsonl``, read in this order) into ``out_dir``; returns the stats.

    ``ding_keys`` (``ding_corpus_keys()``): Ding English held out of train (valid/test keys)
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
    splits, eval_sources = assign_splits(kept, sources, counts, seed, valid_fraction,
                                         test_fraction, {"valid": valid_pairs,
                                                         "test": test_pairs}, ding_keys)
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
