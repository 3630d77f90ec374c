"""`nmt-translate`: translate text with a model directory, one output line per input line.

    nmt-translate --model exp/nmt/en-de/base-none/model < test.en > test.hyp.de
    nmt-translate --model DIR --beam-size 5 --softmax svd --svd-window 32 test.en

Input lines keep their order; an empty (or blank) line gives an empty line; a line longer than
the model's max_length is translated from its first tokens, with a warning on stderr. With
--nbest N > 1 each input line gives N lines `LINE ||| translation ||| score` (LINE counts
from 0 over all inputs; Moses n-best style).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import torch

from echoformer.cpu_memory import keep_freed_memory
from echoformer.model_dir import ModelDirError, load_model_dir, read_meta
from echoformer.output_layer import SOFTMAX_KINDS, SoftmaxConfig
from echoformer.search import BeamSearch, DecodingOptions
from echoformer.svd_cache import cached_svd_factors
from echoformer.text_norm import normalize_text
from echoformer.tokenizer import BOS_ID, EOS_ID, PAD_ID
from nmt.data.batching import pad
from nmt.data.local import decode_lines
from nmt.model import TransformerNMT


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
        self.options = options or self.stored_options(loaded.task)
        if softmax is not None:
            self.model.use_softmax(softmax)
        output = self.model.output
        if output.svd is not None:
            output.install_factors(cached_svd_factors(
                output.linear, output.svd.window, loaded.path, loaded.meta["weights_sha256"]))
        self.max_length = self.model.config.max_length

    @staticmethod
    def stored_options(task: dict) -> DecodingOptions:
        return DecodingOptions(**task.get("decoding", {}))

    def translate(self, lines: Sequence[str], batch_size: int = 32) -> list[Translation]:
        """One `Translation` per line, in order; batches of similar-length sentences."""
        if batch_size < 1:
            raise ValueError(f"batch size {batch_size}: must be ≥ 1")
        results = [Translation([]) for _ in lines]
        sources: dict[int, list[int]] = {}
        for index, line in enumerate(lines):
            ids = self.tokenizer.encode(normalize_text(line))
            if not ids:
                results[index] = Translation([("", 0.0)])
                continue
            if len(ids) + 1 > self.max_length:
                results[index].truncated_from = len(ids)
                ids = ids[: self.max_length - 1]
            sources[index] = ids
        order = sorted(sources, key=lambda i: len(sources[i]))
        search = BeamSearch({"decoder": self.model.scorer()}, self.options, BOS_ID, EOS_ID,
                            forbidden_ids=[PAD_ID, BOS_ID])
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                source = pad([sources[i] + [EOS_ID] for i in chunk]).to(self.device)
                limits = [self.options.length_limit(len(sources[i])) for i in chunk]
                for index, hyps in zip(chunk, search(self.model.encode(source), limits,
                                                     self.device)):
                    results[index].nbest = [(self.tokenizer.decode(h.tokens), h.normalized_score)
                                            for h in hyps]
        return results


def read_inputs(files: Sequence[str]) -> list[tuple[str, int, str]]:
    """(input name, line number, text) of every line of `files` (stdin when empty).

    Raises ValueError naming the input and line numbers that are not UTF-8."""
    rows = []
    for name in files or ["-"]:
        if name == "-":
            data, shown = sys.stdin.buffer.read(), "<stdin>"
        else:
            path = Path(name)
            if not path.is_file():
                raise FileNotFoundError(f"input file not found: {name}")
            data, shown = path.read_bytes(), name
        rows += [(shown, number, text)
                 for number, text in enumerate(decode_lines(data, shown), start=1)]
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nmt-translate", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", metavar="FILE", help="input text (default stdin)")
    parser.add_argument("--model", required=True, type=Path, help="model directory")
    parser.add_argument("--beam-size", type=int, help="beam size (1 = greedy; default: model)")
    parser.add_argument("--nbest", type=int, default=1, help="hypotheses per line (default 1)")
    parser.add_argument("--batch-size", type=int, default=32, help="sentences per batch")
    parser.add_argument("--length-penalty", type=float, help="α in score/length^α")
    parser.add_argument("--max-length-a", type=float, help="output ≤ a·|source| + b tokens")
    parser.add_argument("--max-length-b", type=int)
    parser.add_argument("--softmax", choices=SOFTMAX_KINDS,
                        help="output layer at inference (default: the model's)")
    parser.add_argument("--svd-window", type=int, help="SVD-softmax window W (default D/8)")
    parser.add_argument("--svd-candidates", type=int, help="SVD-softmax candidates N (V/16)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0 = default)")
    parser.add_argument("--quiet", action="store_true", help="no summary on stderr")
    return parser


def _options(args: argparse.Namespace, stored: DecodingOptions) -> DecodingOptions:
    given = {"beam_size": args.beam_size, "length_penalty": args.length_penalty,
             "max_length_a": args.max_length_a, "max_length_b": args.max_length_b}
    changes = {key: value for key, value in given.items() if value is not None}
    changes["nbest"] = args.nbest
    if args.nbest > changes.get("beam_size", stored.beam_size):
        changes["beam_size"] = args.nbest
    return dataclasses.replace(stored, **changes)


def _softmax(args: argparse.Namespace, stored: dict) -> SoftmaxConfig | None:
    """--svd-window / --svd-candidates alone imply --softmax svd."""
    if args.softmax is None and args.svd_window is None and args.svd_candidates is None:
        return None
    kind = args.softmax or "svd"
    return SoftmaxConfig(kind,
                         args.svd_window or stored.get("window"),
                         args.svd_candidates or stored.get("candidates"))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    keep_freed_memory()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        if args.device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"--device {args.device}: CUDA is not available here; use cpu")
        meta_softmax = _stored_softmax(args.model)
        translator = Translator(args.model, args.device, _softmax(args, meta_softmax))
        translator.options = _options(args, translator.options)
        rows = read_inputs(args.files)
        started = time.perf_counter()
        results = translator.translate([text for _, _, text in rows], args.batch_size)
        seconds = time.perf_counter() - started
    except (ModelDirError, FileNotFoundError, ValueError) as error:
        print(f"nmt-translate: {error}", file=sys.stderr)
        return 2
    for (name, number, _), result in zip(rows, results):
        if result.truncated_from is not None:
            print(f"nmt-translate: warning: {name} line {number} has {result.truncated_from} "
                  f"tokens, more than the model's max_length={translator.max_length}; "
                  f"translated its first {translator.max_length - 1}", file=sys.stderr)
    write_translations(results, args.nbest, sys.stdout)
    if not args.quiet:
        words = sum(len(r.text.split()) for r in results)
        o = translator.options
        print(f"nmt-translate: {len(results)} lines, {words} output words in {seconds:.1f} s "
              f"({len(results) / max(seconds, 1e-9):.1f} lines/s; beam {o.beam_size}, batch "
              f"{args.batch_size}, softmax {translator.model.output.softmax.kind}, "
              f"{args.device})", file=sys.stderr)
    return 0


def write_translations(results: Sequence[Translation], nbest: int, out: TextIO) -> None:
    """One line per result; with nbest > 1, `index ||| text ||| score` lines per result."""
    if hasattr(out, "reconfigure"):
        out.reconfigure(encoding="utf-8")
    for index, result in enumerate(results):
        if nbest == 1:
            out.write(_one_line(result.text) + "\n")
        else:
            for text, score in result.nbest or [("", 0.0)]:
                out.write(f"{index} ||| {_one_line(text)} ||| {score:.4f}\n")
    out.flush()


def _stored_softmax(model_dir: Path) -> dict:
    return read_meta(model_dir).get("architecture", {}).get("softmax", {})


def _one_line(text: str) -> str:
    return " ".join(text.splitlines())


if __name__ == "__main__":
    sys.exit(main())
