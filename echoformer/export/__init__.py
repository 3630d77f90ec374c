"""Export a trained model directory for another runtime: one command for every format.

    python -m echoformer.export FORMAT MODEL_DIR OUT [options]
    python -m echoformer.export FORMAT --help          # what FORMAT writes, its options

FORMAT is one the installed tasks registered (`echoformer.tasks.register_exporter`), e.g.
``ctranslate2`` (a translation model for CTranslate2) or ``onnx`` (the encoder of a speech
recognition or translation model as an ONNX graph). The exporter is chosen by the model
directory's ``model_type`` (model.yaml); the core names no task.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

from echoformer.model_dir import ModelDirError, read_meta
from echoformer.tasks import Exporter, exporters

PROG = "python -m echoformer.export"


def build_parser(by_format: dict[str, dict[str, Exporter]]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    formats = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    for name, by_type in by_format.items():
        described = "\n\n".join(textwrap.fill(f"{model_type}: {exporter.help}", 88)
                                for model_type, exporter in by_type.items())
        sub = formats.add_parser(
            name, help=f"for model types {', '.join(by_type)}", conflict_handler="resolve",
            description=f"Export a model directory to {name}.\n\n{described}",
            formatter_class=argparse.RawDescriptionHelpFormatter, prog=f"{PROG} {name}")
        sub.add_argument("model_dir", type=Path, metavar="MODEL_DIR",
                         help="model directory written by a training run "
                              f"(model type {' or '.join(by_type)})")
        sub.add_argument("out", type=Path, metavar="OUT", help="what to write")
        for exporter in by_type.values():
            exporter.add_arguments(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    by_format = exporters()
    if not by_format:
        print(f"{PROG}: no exporters are installed (the tasks register them); install the "
              "project with `pip install -e .`", file=sys.stderr)
        return 2
    args = build_parser(by_format).parse_args(argv)
    where = f"{PROG} {args.format}: {args.model_dir}"
    try:
        model_type = read_meta(args.model_dir).get("model_type")
        exporter = by_format[args.format].get(model_type)
        if exporter is None:
            raise ModelDirError(
                f"holds a {model_type!r} model; {args.format} export is for "
                f"{', '.join(by_format[args.format])} models (formats for {model_type!r}: "
                f"{', '.join(f for f, t in by_format.items() if model_type in t) or 'none'})")
        missing = [m for m in exporter.requires if importlib.util.find_spec(m) is None]
        if missing:
            print(f"{PROG} {args.format}: needs {', '.join(missing)}, not installed; install "
                  f"it with `pip install 'echoformer[peers]'` (or `pip install "
                  f"{' '.join(missing)}`)", file=sys.stderr)
            return 2
        out = exporter.export(args.model_dir, args.out, args)
    except (ModelDirError, RuntimeError, ValueError) as error:
        print(f"{where}: {error}", file=sys.stderr)
        return 2
    print(f"{PROG} {args.format}: wrote {out}", file=sys.stderr)
    return 0
