"""BLEU and chrF of translations against references (sacreBLEU), with their signatures.

    nmt-score --hyp test.hyp.de --ref data/ding_nmt/test.de [--json]

Both files hold detokenised text, one sentence a line, line-aligned (nmt-translate writes
detokenised text; sacreBLEU tokenises internally, 13a by default).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from sacrebleu.metrics import BLEU, CHRF

from echoformer.console import stops_quietly_on_closed_stdout
from nmt.data.local import read_lines


@dataclass
class Scores:
    """Corpus BLEU and chrF (0-100) and the sacreBLEU signatures that make them comparable."""

    bleu: float
    chrf: float
    bleu_signature: str
    chrf_signature: str
    sentences: int

    def report(self) -> str:
        return (f"BLEU = {self.bleu:.2f} ({self.bleu_signature})\n"
                f"chrF = {self.chrf:.2f} ({self.chrf_signature})\n"
                f"sentences = {self.sentences}")


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str], tokenize: str = "13a"
          ) -> Scores:
    """Corpus-level scores; ValueError when the two do not have the same number of lines."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references: "
                         "they must be line-aligned (one translation per reference line)")
    if not references:
        raise ValueError("no sentences to score")
    bleu, chrf = BLEU(tokenize=tokenize), CHRF()
    bleu_score = bleu.corpus_score(list(hypotheses), [list(references)])
    chrf_score = chrf.corpus_score(list(hypotheses), [list(references)])
    return Scores(bleu_score.score, chrf_score.score, str(bleu.get_signature()),
                  str(chrf.get_signature()), len(references))


@stops_quietly_on_closed_stdout
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nmt-score", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hyp", required=True, type=Path, help="translations, one a line")
    parser.add_argument("--ref", required=True, type=Path, help="references, one a line")
    parser.add_argument("--tokenize", default="13a", help="sacreBLEU tokenizer (default 13a)")
    parser.add_argument("--json", action="store_true", help="print the scores as JSON")
    args = parser.parse_args(argv)
    try:
        hyp_lines = _read(args.hyp)
        ref_lines = _read(args.ref)
        if len(hyp_lines) != len(ref_lines):
            raise ValueError(f"{args.hyp} has {len(hyp_lines)} lines, {args.ref} "
                             f"{len(ref_lines)}: they must be line-aligned (one translation "
                             "per reference line)")
        result = corpus_scores(hyp_lines, ref_lines, args.tokenize)
    except (FileNotFoundError, ValueError) as error:
        print(f"nmt-score: {error}", file=sys.stderr)
        return 2
    print(json.dumps(asdict(result), indent=2) if args.json else result.report())
    return 0


def _read(path: Path) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found")
    return read_lines(path)


if __name__ == "__main__":
    sys.exit(main())
