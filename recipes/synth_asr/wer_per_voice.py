"""WER per voice of one decoded test set: the per-voice figures of RESULTS.md.

    python recipes/synth_asr/wer_per_voice.py MANIFEST HYP.jsonl [--json OUT.json]

MANIFEST is a synthetic-corpus manifest (rows with `speaker`, e.g. `flite-awb` or
`espeak-en-gb-x-gbcwmd+m3`); HYP is `asr-transcribe --format jsonl` output for it (run.sh
stage 4 writes EXP_DIR/decode_METHOD/SET.jsonl). A voice is the speaker without its espeak-ng
variant (`+m3`), so `espeak-en-gb-x-gbcwmd` counts all of its variants together. Prints one
markdown row per voice.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from asr.data.manifest import read_manifest
from asr.score import read_hypotheses, word_error_rate
from echoformer.markdown import markdown_rows


def voice(speaker: str) -> str:
    return speaker.split("+", 1)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wer_per_voice.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("hyp", type=Path, help="asr-transcribe --format jsonl output")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.hyp.suffix != ".jsonl":
        parser.error(f"{args.hyp}: pass the .jsonl output of asr-transcribe --format jsonl")
    texts = {str(Path(row["audio"]).resolve()): row.get("text", "")
             for row in read_hypotheses(args.hyp)}
    pairs: dict[str, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
    for utt in read_manifest(args.manifest, check_audio=False):
        refs, hyps = pairs[voice(utt.speaker or "unknown")]
        refs.append(utt.text)
        hyps.append(texts.get(str(Path(utt.audio).resolve()), ""))
    results = [word_error_rate(refs, hyps, name) for name, (refs, hyps) in sorted(pairs.items())]
    print(markdown_rows(["voice", "utts", "words", "WER %", "sub", "del", "ins"],
                        [[r.name, r.utterances, r.reference_words, f"{100 * r.wer:.1f}",
                          r.substitutions, r.deletions, r.insertions] for r in results]))
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in results], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
