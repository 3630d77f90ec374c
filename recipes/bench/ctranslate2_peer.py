"""Decoding speed and BLEU: our NMT decoder against CTranslate2 on the same weights.

    nice -n 10 .venv/bin/python recipes/bench/ctranslate2_peer.py \
        [--model models/nmt-en-de] [--data data/ding_nmt] [--lines 200] [--beam 5] \
        [--threads 2 1] [--repeats 3] [--out exp/bench/ctranslate2]

Every row translates the same first --lines sentences of the test split (`test.en`, scored
against `test.de` with sacreBLEU) one sentence at a time (batch 1) at the model's decoding
settings with beam --beam; each repeat runs every row once, in turn, after a warm-up. The
figure is the median sentences/s of the repeats; `ours ÷ row` is the median over the repeats
of our decoder's speed (the model as trained, SVD-softmax with the W and N stored in its
model.yaml, as `nmt-translate --softmax svd`) over the row's, each repeat's pair measured back
to back.

A model trained with encoder map reuse cannot be exported exactly (nmt.export_ctranslate2):
its CTranslate2 rows then run the `--without-reuse` variant (every layer computes its own map,
followers with their leader's query/key weights), a different function with its own BLEU;
the row `ours, no-reuse variant` runs that same function in our code, and every row counts
its output lines identical to that row's. Writes results.json, results.md and each row's
translations (hyp.*.de) under --out.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from echoformer.device import prepare_inference
from echoformer.model_dir import load_model_dir, read_meta, save_model_dir
from echoformer.output_layer import SoftmaxConfig, requested_softmax, stored_softmax
from nmt.export_ctranslate2 import export, translate_lines
from nmt.model import TransformerNMT
from nmt.score import corpus_scores
from nmt.translate import Translator


BASE = "ours (as trained), SVD-softmax"  # the decoder the ratios compare with


def no_reuse_variant(model_dir: Path, out_dir: Path) -> Path:
    """A model directory of the same weights with every layer plain: a follower gets its
    leader's query/key projections (what `export --without-reuse` writes for CTranslate2)."""
    loaded = load_model_dir(model_dir)
    model = loaded.model
    plain = TransformerNMT(model.config, model.vocab_size, None,
                           dataclasses.replace(model.output.softmax))
    weights = dict(model.state_dict())
    d, leader = model.embedding.embedding_dim, None
    for i, role in enumerate(model.encoder.roles):
        prefix = f"encoder.layers.{i}.attention"
        if role.value != "follower":
            leader = prefix
            continue
        for part in ("weight", "bias"):
            own_value = weights.pop(f"{prefix}.value.{part}")
            weights[f"{prefix}.qkv.{part}"] = torch.cat(
                [weights[f"{leader}.qkv.{part}"][: 2 * d], own_value])
    plain.load_state_dict(weights)
    return save_model_dir(out_dir, plain, plain.state_dict(), model_dir / "spm.model",
                          loaded.task)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("models/nmt-en-de"))
    parser.add_argument("--data", type=Path, default=Path("data/ding_nmt"))
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("exp/bench/ctranslate2"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ct2_peer.") as work:  # the exported models
        return run(args, Path(work))


def run(args: argparse.Namespace, work: Path) -> int:
    import ctranslate2

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()
    sources = (args.data / "test.en").read_text(encoding="utf-8").splitlines()[: args.lines]
    references = (args.data / "test.de").read_text(encoding="utf-8").splitlines()[: args.lines]
    reuse = any(size > 1 for size in load_model_dir(args.model).model.encoder.pattern)
    plain_dir = no_reuse_variant(args.model, work / "no_reuse") if reuse else args.model
    ct2_dirs = {kind: export(args.model, work / f"ct2_{kind}", quantization=kind,
                             without_reuse=reuse) for kind in ("float32", "int8")}

    def ours(model_dir: Path, softmax: SoftmaxConfig | None):
        translator = Translator(model_dir, "cpu", softmax)
        translator.options = dataclasses.replace(translator.options, beam_size=args.beam,
                                                 nbest=1)
        return lambda lines: [t.text for t in translator.translate(lines, batch_size=1)]

    def peer(kind: str, threads: int):
        translator = ctranslate2.Translator(str(ct2_dirs[kind]), device="cpu",
                                            compute_type=kind, inter_threads=1,
                                            intra_threads=threads)
        return lambda lines: [n[0][0] for n in translate_lines(
            translator, tokenizer, ours_options, lines, max_length, batch_size=1)]

    svd = requested_softmax("svd", None, None, stored_softmax(read_meta(args.model)))
    reference = Translator(args.model)
    tokenizer = reference.tokenizer
    ours_options = dataclasses.replace(reference.options, beam_size=args.beam, nbest=1)
    max_length = reference.max_length
    records = []
    args.out.mkdir(parents=True, exist_ok=True)
    for threads in args.threads:
        prepare_inference("cpu", threads)
        rows = {BASE: ours(args.model, svd),
                "ours (as trained), full softmax": ours(args.model, None)}
        same = "ours (as trained), full softmax"  # our code for the function CT2 runs
        if reuse:
            same = "ours, no-reuse variant, full softmax"
            rows[same] = ours(plain_dir, None)
        rows["CTranslate2 float32" + (", no-reuse variant" if reuse else "")] = peer(
            "float32", threads)
        rows["CTranslate2 int8" + (", no-reuse variant" if reuse else "")] = peer(
            "int8", threads)
        times: dict[str, list[float]] = {name: [] for name in rows}
        outputs: dict[str, list[str]] = {}
        for name, run in rows.items():  # warm-up
            run(sources[:10])
        for _ in range(args.repeats):
            for name, run in rows.items():
                started = time.perf_counter()
                outputs[name] = run(sources)
                times[name].append(time.perf_counter() - started)
        for name in rows:
            ratios = [t / b for b, t in zip(times[BASE], times[name])]
            records.append({
                "row": name, "threads": threads, "beam": args.beam, "batch": 1,
                "sentences": len(sources),
                "sentences_per_s": len(sources) / statistics.median(times[name]),
                "seconds": times[name], "ratio_to_ours": statistics.median(ratios),
                "ratios_per_repeat": ratios,
                "bleu": corpus_scores(outputs[name], references).bleu,
                "identical_to": same, "identical_lines": sum(
                    a == b for a, b in zip(outputs[name], outputs[same]))})
            print(json.dumps(records[-1]), file=sys.stderr)
            hyp = args.out / f"hyp.{threads}threads.{re.sub(r'[^A-Za-z0-9-]+', '_', name)}.de"
            hyp.write_text("".join(line + "\n" for line in outputs[name]), encoding="utf-8")
    meta = {"model": str(args.model), "reuse_pattern": load_model_dir(
        args.model).model.encoder.pattern, "svd_softmax": dataclasses.asdict(svd),
        "ctranslate2": ctranslate2.__version__,
        "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
        "commit": commit, "command": " ".join(sys.argv)}
    (args.out / "results.json").write_text(json.dumps({"meta": meta, "rows": records},
                                                      indent=2) + "\n", encoding="utf-8")
    table = ["| threads | row | sentences/s | ours ÷ row | per repeat | BLEU | lines equal to "
             "*ours* running CT2's function |", "|---|---|---|---|---|---|---|"]
    table += [f"| {r['threads']} | {r['row']} | {r['sentences_per_s']:.2f} | "
              f"{r['ratio_to_ours']:.2f} | {' '.join(f'{x:.2f}' for x in r['ratios_per_repeat'])}"
              f" | {r['bleu']:.2f} | {r['identical_lines']} / {r['sentences']} |"
              for r in records]
    (args.out / "results.md").write_text("\n".join(table) + "\n", encoding="utf-8")
    print("\n".join(table))
    return 0


if __name__ == "__main__":
    sys.exit(main())
