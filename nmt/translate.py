"""`nmt-translate`: translate text with a model directory, one output line per input line.

    nmt-translate --model exp/nmt/en-de/base-none/model < test.en > test.hyp.de
    nmt-translate --model DIR --beam-size 5 --softmax svd --svd-window 32 test.en

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

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import torch
from tqdm import tqdm

from echoformer.console import stops_quietly_on_closed_stdout
from echoformer.device import prepare_inference
from echoformer.model_dir import ModelDirError, load_model_dir, read_meta
from echoformer.shipped import default_model
from echoformer.output_layer import (SOFTMAX_KINDS, SoftmaxConfig, requested_softmax,
                                     stored_softmax)
from echoformer.search import BeamSearch, DecodingOptions
from echoformer.svd_cache import cached_svd_factors
from echoformer.text_norm import normalize_text
from echoformer.tokenizer import BOS_ID, EOS_ID, PAD_ID, Tokenizer
from echoformer.data.batching import pad
from nmt.data.local import iter_lines, not_utf8_message
from nmt.model import TransformerNMT

CHUNK_LINES = 1000  # lines read, translated and written at a time
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL, C1: read as spaces


@dataclass
class Translation:
    """n-best (text, length-normalised score), best first; source tokens before truncation
    when the line was longer than the model allows, else None."""

    nbest: list[tuple[str, float]]
    truncated_from: int | None = None

    @property
    def text(self) -> str:
        return self.nbest[0][0] if self.nbest else ""


class Translator:
    """A loaded model directory plus how to decode.

    softmax: the inference output layer (None = the model's own default);
    options: decoding options (None = the defaults stored with the model).
    """

    def __init__(self, model_dir: Path, device: str | torch.device = "cpu",
                 softmax: SoftmaxConfig | None = None,
                 options: DecodingOptions | None = None) -> None:
        loaded = load_model_dir(model_dir, device)
        if not isinstance(loaded.model, TransformerNMT):
            raise ModelDirError(f"{model_dir} holds a {loaded.meta.get('model_type')} model, "
                                "not a translation model")
        self.model: TransformerNMT = loaded.model
        self.tokenizer, self.device = loaded.tokenizer, torch.device(device)
        self.options = options or loaded.decoding_options(DecodingOptions)
        if softmax is not None:
            self.model.use_softmax(softmax)
        output = self.model.output
        if output.svd is not None:
            output.install_factors(cached_svd_factors(
                output.linear, output.svd.window, loaded.path, loaded.meta["weights_sha256"]))
        self.max_length = self.model.config.max_length

    def translate(self, lines: Sequence[str], batch_size: int = 32) -> list[Translation]:
        """One `Translation` per line, in order (`translate_lines` with this model)."""
        with torch.inference_mode():
            return translate_lines(self.model, self.tokenizer, self.options, lines, batch_size,
                                   self.device)

    def translate_stream(self, lines: Iterable[str], batch_size: int = 32,
                         chunk_lines: int = CHUNK_LINES) -> Iterator[Translation]:
        """`translate` for any number of lines, read lazily: `chunk_lines` lines at a time are
        translated (sorted by length within the chunk for batching) and given out in order, so
        memory does not grow with the input."""
        if chunk_lines < 1:
            raise ValueError(f"chunk of {chunk_lines} lines: must be ≥ 1")
        lines = iter(lines)
        while chunk := list(itertools.islice(lines, chunk_lines)):
            yield from self.translate(chunk, batch_size)


def translate_lines(model: TransformerNMT, tokenizer: Tokenizer, options: DecodingOptions,
                    lines: Sequence[str], batch_size: int, device: torch.device
                    ) -> list[Translation]:
    """One `Translation` per line, in order; batches of similar-length sentences. Control
    characters are read as spaces; a line longer than the model's max_length is translated
    from its first tokens (`Translation.truncated_from` says so). The caller picks the
    autograd mode (inference_mode, or no_grad for a model that trains on afterwards)."""
    if batch_size < 1:
        raise ValueError(f"batch size {batch_size}: must be ≥ 1")
    max_length = model.config.max_length
    results = [Translation([]) for _ in lines]
    sources: dict[int, list[int]] = {}
    for index, line in enumerate(lines):
        ids = tokenizer.encode(normalize_text(_CONTROL.sub(" ", line)))
        if not ids:
            results[index] = Translation([("", 0.0)])
            continue
        if len(ids) + 1 > max_length:
            results[index].truncated_from = len(ids)
            ids = ids[: max_length - 1]
        sources[index] = ids
    order = sorted(sources, key=lambda i: len(sources[i]))
    search = BeamSearch({"decoder": model.scorer()}, options, BOS_ID, EOS_ID,
                        forbidden_ids=[PAD_ID, BOS_ID])
    for start in range(0, len(order), batch_size):
        chunk = order[start:start + batch_size]
        source = pad([sources[i] + [EOS_ID] for i in chunk]).to(device)
        limits = [options.length_limit(len(sources[i])) for i in chunk]
        for index, hyps in zip(chunk, search(model.encode(source), limits, device)):
            results[index].nbest = [(tokenizer.decode(h.tokens), h.normalized_score)
                                    for h in hyps]
    return results


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
        prog="nmt-translate", description=__doc__,
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
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.device = str(prepare_inference(args.device, args.threads))  # auto -> cpu|cuda
        if args.batch_size < 1:
            raise ValueError(f"--batch-size {args.batch_size}: must be ≥ 1")
        if args.model is None:
            args.model = default_model("nmt")
        softmax = requested_softmax(args.softmax, args.svd_window, args.svd_candidates,
                                    stored_softmax(read_meta(args.model)))
        translator = Translator(args.model, args.device, softmax)
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
              f"{translator.model.output.softmax.kind}, {args.device})", file=sys.stderr)
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


if __name__ == "__main__":
    sys.exit(main())
