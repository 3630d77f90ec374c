"""Our NMT decoder against CTranslate2 on the same weights: `bench suite=nmt`'s peer rows alone.

    nice -n 10 .venv/bin/python recipes/bench/ctranslate2_peer.py \
        [--model models/nmt-en-de] [--lines 200] [--beam 5] [--batch 1] [--threads 2 1] \
        [--repeats 3] [--out exp/bench/ctranslate2] [--dry-run] [-- OVERRIDE ...]

A thin caller: it runs `bench suite=nmt` (the one place these rows are measured, see
nmt/bench_peer.py and CTRANSLATE2.md) on the first --lines sentences of the model's test
split at one beam and batch size, without the large-vocabulary rows, once per --threads value
(a Hydra multirun when there are several; each run's results.json and report.md go to a
numbered folder of --out). Further bench overrides follow `--`.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path


def bench_command(args: argparse.Namespace) -> list[str]:
    """The `bench` command line these options stand for."""
    command = [sys.executable, "-m", "echoformer.bench.app"]
    if len(args.threads) > 1:
        command += ["-m", f"threads={','.join(map(str, args.threads))}",
                    f"hydra.sweep.dir={args.out}"]
    else:
        command += [f"threads={args.threads[0]}", f"hydra.run.dir={args.out}"]
    return command + [
        "suite=nmt", f"model={args.model}", f"nmt.max_sentences={args.lines}",
        f"nmt.beams=[{args.beam}]", f"nmt.batches=[{args.batch}]", f"repeats={args.repeats}",
        "nmt.large_vocab=0", *args.overrides]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=Path("models/nmt-en-de"))
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--beam", type=int, default=5)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("exp/bench/ctranslate2"))
    parser.add_argument("--dry-run", action="store_true", help="print the bench command only")
    parser.add_argument("overrides", nargs="*", metavar="OVERRIDE",
                        help="more bench overrides (after --), e.g. nmt.peer_vmap=false")
    args = parser.parse_args(argv)
    command = bench_command(args)
    print(shlex.join(command), file=sys.stderr)
    if args.dry_run:
        return 0
    return subprocess.run(command).returncode


if __name__ == "__main__":
    sys.exit(main())
