"""Console scripts of the machine-translation task (see pyproject.toml): `nmt-train` (Hydra)
and `nmt-translate` (argparse: input reading, output writing; the library is nmt.translate)."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from echoformer.console import stops_quietly_on_closed_stdout
from echoformer.device import prepare_inference
from echoformer.model_dir import ModelDirError, read_meta
from echoformer.output_layer import SOFTMAX_KINDS, requested_softmax, stored_softmax
from echoformer.quantize import DTYPES
from echoformer.search import DecodingOptions
from echoformer.shipped import default_model
from nmt.data.local import iter_lines, not_utf8_message
from nmt.translate import CHUNK_LINES, Translation, Translator

TRANSLATE_DESCRIPTION = """`nmt-translate`: translate text with a model directory, one output line per input line.

    nmt-translate --model exp/nmt/en-de/base-none/model < test.en > test.hyp.de
    nmt-translate --model DIR --beam-size 5 --softmax svd --svd-window 32 test.en
    nmt-translate --model DIR --dtype int8 test.en   # int8 linear layers, CPU

Input lines keep their order; an empty (or blank) line gives an empty line; a line longer than
the model's max_length is translated from its first tokens, with a warning on stderr. With
--nbest N > 1 each input line gives up to N lines `LINE ||| translation ||| score` (LINE
counts from 0 over all inputs; Moses n-best style; an empty line gives one, with an empty
translation), so group them by LINE. Control characters are read as spaces. A line that
is not UTF-8 gives an empty line and is reported (file and line) at the end, exit status 1.

Input is read, translated and written `CHUNK_LINES` lines at a time (one line at a time from a
terminal), so memory does not grow with the input. Progress goes to stderr as a bar when
stderr is a terminal or with --progress.
"""


def train_main() -> None:
    """`nmt-train`: a Hydra app (conf/nmt_train.yaml)."""
    from nmt.train import main

    main()


@dataclass(frozen=True)
class InputLine:
    """One input line: where it is from and its text (None when it is not UTF-8)."""

    name: str
    number: int
    text: str | None


def iter_inputs(files: Sequence[str]) -> Iterator[InputLine]:
    """The lines of `files` ("-" or none: stdin) in order, read one at a time. Raises
    FileNotFoundError (missing) or ValueError (a folder, unreadable) at once, before reading
    anything."""
    names = list(files) or ["-"]
    for name in names:
        if name == "-":
            continue
        if Path(name).is_dir():
            raise ValueError(f"{name}: a folder, not a text file; name the files in it")
        if not Path(name).is_file():
            raise FileNotFoundError(f"input file not found: {name}")
        if not os.access(name, os.R_OK):
            raise ValueError(f"{name}: not readable (permission denied)")
    return _read_inputs(names)


def _read_inputs(names: list[str]) -> Iterator[InputLine]:
    for name in names:
        if name == "-":
            yield from (InputLine("<stdin>", n, t) for n, t in iter_lines(sys.stdin.buffer))
            continue
        with open(name, "rb") as stream:
            yield from (InputLine(name, n, t) for n, t in iter_lines(stream))


def count_lines(files: Sequence[str]) -> int | None:
    """Lines in `files` (for the progress bar), None when one is stdin."""
    if not files or "-" in files:
        return None
    total = 0
    for name in files:
        with open(name, "rb") as stream:
            last = b"\n"
            for block in iter(lambda: stream.read(1 << 20), b""):
                total += block.count(b"\n")
                last = block[-1:]
            total += last != b"\n"
    return total


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nmt-translate", description=TRANSLATE_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", metavar="FILE", help="input text (default stdin)")
    parser.add_argument("--model", type=Path,
                        help="model directory written by nmt-train (<run dir>/model); default: "
                             "the shipped English→German model, models/nmt-en-de")
    parser.add_argument("--beam-size", type=int, help="beam size (1 = greedy; default: model)")
    parser.add_argument("--nbest", type=int, default=1, help="hypotheses per line (default 1)")
    parser.add_argument("--batch-size", type=int, default=32,
                        help="sentences per batch (default 32)")
    parser.add_argument("--length-penalty", type=float,
                        help="α in score/length^α (default: model)")
    parser.add_argument("--max-length-a", type=float,
                        help="output ≤ a·|source| + b tokens (default: model)")
    parser.add_argument("--max-length-b", type=int, help="b of --max-length-a (default: model)")
    parser.add_argument("--softmax", choices=SOFTMAX_KINDS,
                        help="output layer at inference (default: the model's)")
    parser.add_argument("--svd-window", type=int, help="SVD-softmax window W (default D/8)")
    parser.add_argument("--svd-candidates", type=int, help="SVD-softmax candidates N (V/16)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda[:N] or auto (default cpu)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32",
                        help="float32, or int8: dynamic int8 linear layers, CPU only "
                             "(default float32)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0 = default)")
    parser.add_argument("--quiet", action="store_true", help="no summary on stderr")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction,
                        help="progress bar on stderr (default: when stderr is a terminal)")
    return parser


def _options(args: argparse.Namespace, stored: DecodingOptions) -> DecodingOptions:
    given = {"beam_size": args.beam_size, "length_penalty": args.length_penalty,
             "max_length_a": args.max_length_a, "max_length_b": args.max_length_b}
    changes = {key: value for key, value in given.items() if value is not None}
    changes["nbest"] = args.nbest
    if args.nbest > changes.get("beam_size", stored.beam_size):
        changes["beam_size"] = args.nbest
    return dataclasses.replace(stored, **changes)


@stops_quietly_on_closed_stdout
def translate_main(argv: Sequence[str] | None = None) -> int:
    """`nmt-translate --model DIR [options] [FILE...]`; returns the exit status (the console
    script exits with it): 0, 1 when a line was not UTF-8, 2 for a setup error."""
    args = build_parser().parse_args(argv)
    try:
        args.device = str(prepare_inference(args.device, args.threads))  # auto -> cpu|cuda
        if args.batch_size < 1:
            raise ValueError(f"--batch-size {args.batch_size}: must be ≥ 1")
        if args.model is None:
            args.model = default_model("nmt")
        softmax = requested_softmax(args.softmax, args.svd_window, args.svd_candidates,
                                    stored_softmax(read_meta(args.model)))
        translator = Translator(args.model, args.device, softmax, dtype=args.dtype)
        translator.options = _options(args, translator.options)
        rows = iter_inputs(args.files)
    except (ModelDirError, FileNotFoundError, ValueError) as error:
        print(f"nmt-translate: {error}", file=sys.stderr)
        return 2
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(encoding="utf-8")
    show = sys.stderr.isatty() if args.progress is None else args.progress
    started = time.perf_counter()
    with tqdm(total=count_lines(args.files), unit="line", desc="nmt-translate",
              file=sys.stderr, disable=not show, dynamic_ncols=True) as bar:
        report = _translate_rows(translator, rows, args, sys.stdout, bar)
    seconds = time.perf_counter() - started
    if not args.quiet:
        o = translator.options
        print(f"nmt-translate: {report.lines} lines, {report.words} output words in "
              f"{seconds:.1f} s ({report.lines / max(seconds, 1e-9):.1f} lines/s; beam "
              f"{o.beam_size}, batch {args.batch_size}, softmax "
              f"{translator.model.output.softmax.kind}, {args.dtype}, {args.device})",
              file=sys.stderr)
    for name, count in report.not_utf8.items():
        message = not_utf8_message(name, report.not_utf8_shown[name], count)
        print(f"nmt-translate: {message} Their output lines are empty; convert the file to "
              "UTF-8, e.g. `iconv -f latin1 -t utf-8`.", file=sys.stderr)
    return 1 if report.not_utf8 else 0


@dataclass
class _Report:
    lines: int = 0
    words: int = 0
    not_utf8: dict[str, int] = dataclasses.field(default_factory=dict)  # bad lines per input
    not_utf8_shown: dict[str, list[int]] = dataclasses.field(default_factory=dict)  # first few


def _translate_rows(translator: Translator, rows: Iterator[InputLine],
                    args: argparse.Namespace, out: TextIO, bar: tqdm) -> _Report:
    """Translate and write `rows` chunk by chunk; warnings on stderr as they come."""
    interactive = (not args.files or "-" in args.files) and sys.stdin.isatty()
    rows, reading = itertools.tee(rows)  # holds at most one chunk between the two
    results = translator.translate_stream((row.text or "" for row in reading), args.batch_size,
                                          1 if interactive else CHUNK_LINES)
    report = _Report()
    for index, (row, result) in enumerate(zip(rows, results)):
        if row.text is None:
            report.not_utf8[row.name] = report.not_utf8.get(row.name, 0) + 1
            shown = report.not_utf8_shown.setdefault(row.name, [])
            if len(shown) < 5:
                shown.append(row.number)
        if result.truncated_from is not None:
            tqdm.write(f"nmt-translate: warning: {row.name} line {row.number} has "
                       f"{result.truncated_from} tokens, more than the model's "
                       f"max_length={translator.max_length}; translated its first "
                       f"{translator.max_length - 1}", file=sys.stderr)
        write_translation(result, index, args.nbest, out)
        report.lines += 1
        report.words += len(result.text.split())
        bar.update(1)
    return report


def write_translation(result: Translation, index: int, nbest: int, out: TextIO) -> None:
    """`result` as one line, or with nbest > 1 as `index ||| text ||| score` lines; flushed."""
    if nbest == 1:
        out.write(_one_line(result.text) + "\n")
    else:
        for text, score in result.nbest or [("", 0.0)]:
            out.write(f"{index} ||| {_one_line(text)} ||| {score:.4f}\n")
    out.flush()


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())
