"""Console scripts of the speech-recognition task: `asr-train`, `asr-lm-train` (Hydra) and
`asr-transcribe`."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

from tqdm import tqdm

from asr.decoding import LM_METHODS, METHODS, check_lm
from echoformer.console import stops_quietly_on_closed_stdout
from echoformer.device import prepare_inference
from echoformer.model_dir import ModelDirError
from echoformer.output_layer import (SOFTMAX_KINDS, SoftmaxConfig, requested_softmax,
                                     stored_softmax)
from echoformer.quantize import DTYPES, check_dtype


def train_main() -> None:
    """`asr-train [key=value ...] [-m]`: see conf/asr_train.yaml."""
    from asr.train import main

    main()


def lm_train_main() -> None:
    """`asr-lm-train [key=value ...]`: see conf/asr_lm_train.yaml."""
    from asr.lm_train import main

    main()


def build_transcribe_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asr-transcribe",
        description="Transcribe audio files (wav, flac, ogg, mp3; any rate or channel count), "
                    "one line per file in input order. Files that cannot be read are reported "
                    "on stderr; the others are still transcribed, and the exit status is 1. "
                    "A setup error (model folder, device, options) exits with status 2.")
    parser.add_argument("audio", nargs="+", metavar="AUDIO", help="audio files")
    parser.add_argument("--model", metavar="DIR",
                        help="model directory written by asr-train (<run dir>/model); "
                             "default: the shipped English model, models/asr-en")
    parser.add_argument("--method", choices=METHODS,
                        help="decoding method (default: the model's decoding.method; "
                             "joint_beam for the shipped model)")
    parser.add_argument("--beam-size", type=int, metavar="K", help="beam size (default: the "
                        "LM's decoding.beam_size with an LM that sets one, else the model's)")
    parser.add_argument("--ctc-weight", type=float, metavar="W",
                        help="CTC weight of joint_beam / attention_rescoring (default: model's)")
    parser.add_argument("--length-penalty", type=float, metavar="A",
                        help="α of joint_beam's ranking score/length^α (default: the LM's "
                             "decoding.length_penalty with an LM, else the model's, 0)")
    parser.add_argument("--lm", metavar="DIR",
                        help="language model directory (asr-lm-train, on this model's pieces) "
                             "fused with joint_beam or attention_rescoring; default without "
                             "--model: the shipped models/asr-en-lm, where present")
    parser.add_argument("--no-lm", action="store_true",
                        help="decode without a language model (also the shipped one)")
    parser.add_argument("--lm-weight", type=float, metavar="B",
                        help="β of the language model's log-probabilities (default: the "
                             "LM's decoding.lm_weight, tuned with the shipped recogniser)")
    parser.add_argument("--batch-size", type=int, default=8, metavar="B",
                        help="files (or chunks) decoded together (default 8)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda[:N] or auto (default cpu)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32",
                        help="float32, or int8: dynamic int8 linear layers (the decoder's "
                             "output layer and an LM stay float32), CPU only (default float32)")
    parser.add_argument("--format", choices=("text", "jsonl"), default="text",
                        help="text: one transcript a line; jsonl: audio, text, duration and "
                             "processing seconds")
    parser.add_argument("--softmax", choices=SOFTMAX_KINDS,
                        help="decoder output layer at inference (default: the model's, full "
                             "unless trained with softmax=svd)")
    parser.add_argument("--svd-window", type=int, metavar="W",
                        help="SVD-softmax preview width (default D/8); alone implies "
                             "--softmax svd")
    parser.add_argument("--svd-candidates", type=int, metavar="N",
                        help="SVD-softmax candidates with exact logits (default V/16); alone "
                             "implies --softmax svd")
    parser.add_argument("--chunk-seconds", type=float, metavar="S",
                        help="longer audio is cut into chunks of this length (default: 2× the "
                             "longest training utterance, within 10-30 s)")
    parser.add_argument("--overlap-seconds", type=float, default=2.0, metavar="S",
                        help="audio shared by consecutive chunks (default 2)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction,
                        help="progress bar on stderr (default: when stderr is a terminal)")
    return parser


def default_chunk_seconds(task: dict) -> float:
    """2× the longest training utterance, kept within 10-30 s."""
    longest = float(task.get("longest_training_utterance_s", 15.0))
    return min(30.0, max(10.0, 2 * longest))


def load_transcriber(args: argparse.Namespace, model_flag: str = "--model"):
    """A `Transcriber` as the parsed options of `build_transcribe_parser` say (also used by
    st-translate, whose option for the model is `model_flag`); what is not given comes from
    the language model's fusion settings (with an LM, `chosen_lm`), then from the model's
    stored decoding settings. The shipped LM goes unused by a CTC-only method."""
    from asr.transcribe import Transcriber
    from echoformer.model_dir import load_model_dir
    from echoformer.shipped import default_model

    dtype = getattr(args, "dtype", "float32")
    check_dtype(dtype, args.device)  # before loading anything
    loaded = load_model_dir(args.model or default_model("asr", model_flag), args.device)
    chunk = args.chunk_seconds or default_chunk_seconds(loaded.task)
    transcriber = Transcriber(loaded, None, args.batch_size, chunk, args.overlap_seconds,
                              args.device)  # the model's stored decoding options, then the flags
    lm = chosen_lm(args)
    if lm is not None:  # its fusion settings, then the flags
        transcriber.use_lm(lm)
    given = {"method": args.method, "beam_size": args.beam_size,
             "ctc_weight": args.ctc_weight, "length_penalty": args.length_penalty,
             "lm_weight": args.lm_weight}
    transcriber.options = dataclasses.replace(
        transcriber.options, **{key: value for key, value in given.items() if value is not None})
    if lm is not None and transcriber.options.method not in LM_METHODS:
        if args.lm:  # asked for: an error; the shipped default: the method goes without
            check_lm(transcriber.options, transcriber.lm)
        transcriber.lm = None
        transcriber.options = dataclasses.replace(transcriber.options, lm_weight=0.0)
    check_lm(transcriber.options, transcriber.lm)
    stored = stored_softmax(loaded.meta)
    transcriber.use_softmax(requested_softmax(args.softmax, args.svd_window,
                                              args.svd_candidates, stored)
                            or SoftmaxConfig(**stored))
    transcriber.use_dtype(dtype)
    return transcriber


def chosen_lm(args: argparse.Namespace):
    """The language model directory to fuse: --lm; without --model and --lm, the shipped
    one where this checkout has it; none with --no-lm."""
    from echoformer.shipped import shipped_lm

    if args.no_lm:
        if args.lm:
            raise ValueError("--lm and --no-lm contradict each other; pass one")
        return None
    return args.lm or (shipped_lm() if not args.model else None)


@stops_quietly_on_closed_stdout
def transcribe_main(argv: list[str] | None = None) -> None:
    args = build_transcribe_parser().parse_args(argv)
    try:
        args.device = str(prepare_inference(args.device, args.threads))  # auto -> cpu|cuda
        transcriber = load_transcriber(args)
    except (ModelDirError, FileNotFoundError, ValueError) as error:
        print(f"asr-transcribe: {error}", file=sys.stderr)
        sys.exit(2)  # a setup error, as in nmt-translate and st-translate; failed files: 1
    show = sys.stderr.isatty() if args.progress is None else args.progress
    with tqdm(total=len(args.audio), unit="file", desc="asr-transcribe", file=sys.stderr,
              disable=not show, dynamic_ncols=True) as bar:
        failures = _print_transcripts(transcriber, args.audio, args.format, bar)
    if failures:
        listed = "".join(f"\n  {error}" for error in failures)
        print(f"asr-transcribe: {len(failures)} of {len(args.audio)} files failed:{listed}",
              file=sys.stderr)
        sys.exit(1)


def _print_transcripts(transcriber, paths: list[str], output_format: str, bar: tqdm
                       ) -> list[str]:
    """Print one line per file in input order; returns the errors of the files that failed."""
    failures = []
    for result in transcriber.transcribe(paths):
        if result.error:
            failures.append(result.error)
            tqdm.write(f"asr-transcribe: skipped {result.error}", file=sys.stderr)
        if output_format == "jsonl":
            row = {"audio": result.audio, "text": result.text, "duration": result.duration,
                   "processing_seconds": result.seconds}
            if result.error:
                row["error"] = result.error
            print(json.dumps(row, ensure_ascii=False), flush=True)
        else:
            print(result.text, flush=True)
        bar.update(1)
    return failures
