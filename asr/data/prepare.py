"""ASR data preparation command line:

    python -m asr.data.prepare synth --out data/synth_asr --size demo [--jobs N] [--seed S]
    python -m asr.data.prepare librispeech --root DIR --subsets train-clean-100,dev-clean --out DIR
    python -m asr.data.prepare stats --manifest DIR/train.jsonl --vocab-size 256 --out DIR
    python -m asr.data.prepare lm-text --out DIR --exclude DIR/dev.jsonl DIR/test.jsonl ...
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path

from tqdm import tqdm

from asr.audio import AudioError, load_audio
from asr.data.manifest import ManifestError, read_manifest
from asr.features import CMVNAccumulator, compute_fbank

CMVN_FILE = "cmvn.json"
TOKENIZER_PREFIX = "tokenizer"  # -> tokenizer.model, tokenizer.vocab


def compute_cmvn(
    manifest: Path, out_dir: Path, max_utterances: int | None = None, seed: int = 0
) -> Path:
    """Global CMVN of `compute_fbank` features over the manifest (or a seeded sample of it)."""
    utterances = read_manifest(manifest)
    if max_utterances is not None and len(utterances) > max_utterances:
        utterances = random.Random(seed).sample(utterances, max_utterances)
    accumulator = CMVNAccumulator()
    for utt in tqdm(utterances, desc="cmvn", disable=not sys.stderr.isatty()):
        accumulator.update(compute_fbank(load_audio(utt.audio)))
    out_dir.mkdir(parents=True, exist_ok=True)
    accumulator.finish().save(out_dir / CMVN_FILE)
    return out_dir / CMVN_FILE


def train_transcript_tokenizer(
    manifest: Path, out_dir: Path, vocab_size: int, model_type: str
) -> Path:
    from echoformer.tokenizer import train_sentencepiece

    texts = [utt.text for utt in read_manifest(manifest, check_audio=False)]
    return train_sentencepiece(texts, out_dir / TOKENIZER_PREFIX, vocab_size, model_type=model_type)


def _synth(args: argparse.Namespace) -> dict:
    from asr.data.synth import synthesize_corpus

    return synthesize_corpus(args.out, args.size, seed=args.seed, jobs=args.jobs)


def _librispeech(args: argparse.Namespace) -> dict:
    from asr.data.librispeech import prepare_librispeech

    subsets = [s for s in args.subsets.split(",") if s]
    manifests = prepare_librispeech(args.root, subsets, args.out)
    return {subset: str(path) for subset, path in manifests.items()}


def _stats(args: argparse.Namespace) -> dict:
    model = train_transcript_tokenizer(args.manifest, args.out, args.vocab_size, args.model_type)
    cmvn = compute_cmvn(args.manifest, args.out, args.cmvn_max_utterances, args.seed)
    return {"cmvn": str(cmvn), "tokenizer": str(model)}


def _lm_text(args: argparse.Namespace) -> dict:
    from asr.data.lm_text import write_lm_text

    excluded = [utt.text for manifest in args.exclude
                for utt in read_manifest(manifest, check_audio=False)]
    return {"excluded_transcripts": len(excluded),
            **write_lm_text(args.out, excluded, args.ding, args.sentence_copies)}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m asr.data.prepare",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser(
        "synth", help="synthesise the embedded English speech corpus (espeak-ng, flite)"
    )
    synth.add_argument(
        "--out", type=Path, required=True, help="output folder (wav/, SPLIT.jsonl, synth_info.json)"
    )
    synth.add_argument(
        "--size",
        choices=["tiny", "demo", "full", "large"],
        default="demo",
        help="tiny: 22 utterances (CI); demo: 640 (~0.5 h); full: 13200 (~10 h); large: full's "
        "13200 plus 15000 training utterances of 7500 more sentences (~21 h)",
    )
    synth.add_argument(
        "--jobs", type=int, default=None, help="parallel processes (default: all cores)"
    )
    synth.add_argument(
        "--seed", type=int, default=0, help="seed of the split, voice, rate and pitch plan"
    )
    synth.set_defaults(run=_synth)

    libri = commands.add_parser("librispeech", help="manifests from a local LibriSpeech copy")
    libri.add_argument(
        "--root",
        type=Path,
        required=True,
        help="folder holding the subset folders (train-clean-100/, ...)",
    )
    libri.add_argument(
        "--subsets",
        required=True,
        help="comma-separated subset folder names, e.g. train-clean-100,dev-clean",
    )
    libri.add_argument("--out", type=Path, required=True, help="output folder for SUBSET.jsonl")
    libri.set_defaults(run=_librispeech)

    stats = commands.add_parser(
        "stats",
        help=f"global CMVN ({CMVN_FILE}) and sentencepiece model ({TOKENIZER_PREFIX}.model)",
    )
    stats.add_argument(
        "--manifest", type=Path, required=True, help="training manifest (JSON lines)"
    )
    stats.add_argument(
        "--vocab-size",
        type=int,
        required=True,
        help="sentencepiece vocabulary size, e.g. 256 (demo) or 5000",
    )
    stats.add_argument("--out", type=Path, required=True, help="output folder")
    stats.add_argument(
        "--model-type",
        default="unigram",
        choices=["unigram", "bpe", "char"],
        help="sentencepiece model type",
    )
    stats.add_argument(
        "--cmvn-max-utterances",
        type=int,
        default=None,
        help="estimate CMVN on a seeded sample of this many utterances",
    )
    stats.add_argument("--seed", type=int, default=0, help="seed of the CMVN sample")
    stats.set_defaults(run=_stats)

    lm_text = commands.add_parser(
        "lm-text", help="language-model text (lm_train.txt, lm_valid.txt, "
        "lm_valid_sentences.txt) from the Ding dictionary's English side, in transcript form")
    lm_text.add_argument("--out", type=Path, required=True, help="output folder")
    lm_text.add_argument(
        "--exclude", type=Path, nargs="*", default=[],
        help="manifests whose transcripts no LM line may contain (the dev and test sets)")
    lm_text.add_argument("--ding", type=Path, default=Path("/usr/share/trans/de-en"),
                         help="the Ding dictionary file (Debian package trans-de-en)")
    lm_text.add_argument("--sentence-copies", type=int, default=0, metavar="K",
                         help="extra copies of each sentence-like training line (4+ words; "
                              "the shipped LM was trained with 4); default 0")
    lm_text.set_defaults(run=_lm_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    began = time.monotonic()
    try:
        summary = args.run(args)
    except (AudioError, ManifestError, ValueError, FileNotFoundError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    summary = {
        "command": args.command,
        **summary,
        "wall_seconds": round(time.monotonic() - began, 1),
    }
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
