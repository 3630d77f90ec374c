"""`st-translate`: English audio in, German text out (ASR, then NMT on the transcript).

    st-translate talk.wav                                 the shipped models
    st-translate --asr exp/demo/asr/model --nmt exp/demo/nmt/model a.wav b.flac
    st-translate --format jsonl *.wav                     transcript, translation, timings

The same as the pipe `asr-transcribe A.wav B.wav | nmt-translate` but with one model load and
an error line per failed file: one line per audio file in input order (empty for a file that
could not be read, which is reported on stderr; the exit status is then 1). The translator
reads what the recogniser writes (lower case, no punctuation): the NMT training data holds such
copies of its English side. Without --asr the shipped recogniser runs with the shipped
word-piece language model (models/asr-en-lm), as asr-transcribe does; --no-lm leaves it out.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Iterator, Sequence

from tqdm import tqdm

from asr.cli import build_transcribe_parser, load_transcriber
from asr.decoding import METHODS
from echoformer.console import stops_quietly_on_closed_stdout
from echoformer.device import prepare_inference
from echoformer.model_dir import ModelDirError, read_meta
from echoformer.output_layer import SOFTMAX_KINDS, requested_softmax, stored_softmax
from echoformer.shipped import default_model
from nmt.translate import Translator

WINDOW = 32  # files transcribed before their transcripts are translated together


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="st-translate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("audio", nargs="+", metavar="AUDIO", help="English audio files")
    parser.add_argument("--asr", metavar="DIR", help="speech model directory (default: the "
                        "shipped models/asr-en)")
    parser.add_argument("--nmt", metavar="DIR", help="English→German model directory "
                        "(default: the shipped models/nmt-en-de)")
    parser.add_argument("--method", choices=METHODS,
                        help="ASR decoding method (default: the speech model's)")
    parser.add_argument("--asr-beam-size", type=int, metavar="K", help="ASR beam size "
                        "(default: the LM's where it stores one, else the speech model's)")
    parser.add_argument("--lm", metavar="DIR", help="ASR language model (asr-lm-train) fused "
                        "with joint_beam or attention_rescoring; default without --asr: the "
                        "shipped models/asr-en-lm, where present")
    parser.add_argument("--no-lm", action="store_true",
                        help="recognise without a language model (also the shipped one)")
    parser.add_argument("--lm-weight", type=float, metavar="B",
                        help="β of the ASR language model (default: the LM's)")
    parser.add_argument("--nmt-beam-size", type=int, metavar="K", help="translation beam size")
    parser.add_argument("--softmax", choices=SOFTMAX_KINDS,
                        help="output layer of both decoders (default: each model's)")
    parser.add_argument("--batch-size", type=int, default=8, metavar="B",
                        help="files decoded together (default 8)")
    parser.add_argument("--format", choices=("text", "jsonl"), default="text",
                        help="text: one translation a line; jsonl: audio, transcript, "
                             "translation, duration and seconds")
    parser.add_argument("--device", default="cpu", help="cpu, cuda[:N] or auto (default cpu)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction,
                        help="progress bar on stderr (default: when stderr is a terminal)")
    return parser


def _asr_args(args: argparse.Namespace) -> argparse.Namespace:
    """asr-transcribe's options for st-translate's (its own defaults for the rest)."""
    given = {"--model": args.asr, "--method": args.method, "--beam-size": args.asr_beam_size,
             "--softmax": args.softmax, "--batch-size": args.batch_size,
             "--device": args.device, "--lm": args.lm, "--lm-weight": args.lm_weight}
    argv = [part for flag, value in given.items() if value is not None
            for part in (flag, str(value))]
    if args.no_lm:
        argv.append("--no-lm")
    return build_transcribe_parser().parse_args([*argv, "--", *args.audio])


def _windows(items: Iterator, size: int) -> Iterator[list]:
    window = []
    for item in items:
        window.append(item)
        if len(window) == size:
            yield window
            window = []
    if window:
        yield window


@stops_quietly_on_closed_stdout
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.device = str(prepare_inference(args.device, args.threads))  # auto -> cpu|cuda
        transcriber = load_transcriber(_asr_args(args), model_flag="--asr")
        nmt_dir = args.nmt or default_model("nmt", "--nmt")
        translator = Translator(nmt_dir, args.device, requested_softmax(
            args.softmax, None, None, stored_softmax(read_meta(nmt_dir))))
        if args.nmt_beam_size is not None:
            translator.options = dataclasses.replace(translator.options,
                                                     beam_size=args.nmt_beam_size)
    except (ModelDirError, FileNotFoundError, ValueError) as error:
        print(f"st-translate: {error}", file=sys.stderr)
        return 2
    show = sys.stderr.isatty() if args.progress is None else args.progress
    failures = _translate_files(transcriber, translator, args, show)
    if failures:
        listed = "".join(f"\n  {error}" for error in failures)
        print(f"st-translate: {len(failures)} of {len(args.audio)} files failed:{listed}",
              file=sys.stderr)
        return 1
    return 0


def _translate_files(transcriber, translator: Translator, args: argparse.Namespace,
                     show_progress: bool) -> list[str]:
    """Print one line per audio file in input order; returns the errors of failed files."""
    failures = []
    bar = tqdm(total=len(args.audio), unit="file", desc="st-translate", file=sys.stderr,
               disable=not show_progress, dynamic_ncols=True)
    for window in _windows(transcriber.transcribe(args.audio), WINDOW):
        started = time.perf_counter()
        translations = translator.translate([t.text for t in window], args.batch_size)
        share = (time.perf_counter() - started) / len(window)
        for transcript, translation in zip(window, translations):
            if transcript.error:
                failures.append(transcript.error)
                tqdm.write(f"st-translate: skipped {transcript.error}", file=sys.stderr)
            if args.format == "jsonl":
                row = {"audio": transcript.audio, "transcript": transcript.text,
                       "translation": translation.text, "duration": transcript.duration,
                       "asr_seconds": transcript.seconds, "nmt_seconds": round(share, 4)}
                if transcript.error:
                    row["error"] = transcript.error
                print(json.dumps(row, ensure_ascii=False), flush=True)
            else:
                print(translation.text, flush=True)
        bar.update(len(window))
    bar.close()
    return failures


def entry_point() -> None:
    sys.exit(main())
