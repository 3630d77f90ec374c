"""Word error rate with substitutions, deletions and insertions (jiwer), per test set.

    asr-score --ref data/synth_asr/test.jsonl --hyp exp/decode/test.jsonl \
        [--ref REF2 --hyp HYP2 ...] [--label NAME ...] [--peer pocketsphinx] [--json wer.json]

REF is a manifest (JSON lines with `audio` and `text`); HYP is the output of
`asr-transcribe --format jsonl` (rows with `audio` and `text`, matched to REF by audio path)
or of `--format text` (one line per REF row, in REF's order). A REF utterance without a
hypothesis counts as an empty one (all deletions) and is reported on stderr.

--label names the system of each --hyp (a `system` column; e.g. "asr-en + LM"). --peer
decodes every --ref with a peer recogniser (asr.peers: pocketsphinx, from the peers extra)
and adds its rows, WER and real-time factor, to the same table.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import jiwer

from asr.data.manifest import ManifestError, read_manifest
from echoformer.console import stops_quietly_on_closed_stdout
from echoformer.markdown import markdown_rows


@dataclass(frozen=True)
class WER:
    """Error counts over a test set; `wer` = (S + D + I) / reference words."""

    name: str
    utterances: int
    reference_words: int
    substitutions: int
    deletions: int
    insertions: int
    missing: int = 0  # reference utterances without a hypothesis
    rtf: float | None = None  # processing seconds / audio seconds, from jsonl decodes
    system: str = ""  # the recogniser that made the hypotheses, where named

    @property
    def wer(self) -> float:
        errors = self.substitutions + self.deletions + self.insertions
        return errors / max(1, self.reference_words)

    def as_dict(self) -> dict:
        return {**asdict(self), "wer": self.wer}


def word_error_rate(references: list[str], hypotheses: list[str], name: str = "") -> WER:
    """WER of aligned lists of transcripts (lower-case words; empty strings allowed)."""
    assert len(references) == len(hypotheses), "one hypothesis per reference"
    if not references:
        return WER(name, 0, 0, 0, 0, 0)
    words = sum(len(r.split()) for r in references)
    if words == 0:  # jiwer needs at least one reference word
        return WER(name, len(references), 0, 0, 0, sum(len(h.split()) for h in hypotheses))
    out = jiwer.process_words(references, hypotheses)
    return WER(name, len(references), words, out.substitutions, out.deletions, out.insertions)


def read_hypotheses(path: Path) -> list[dict] | list[str]:
    """Rows of a jsonl decode (dicts with `audio`, `text`) or lines of a text decode."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such hypothesis file; run the decode stage first")
    lines = path.read_text(encoding="utf-8").splitlines()
    if path.suffix == ".jsonl":
        try:
            return [json.loads(line) for line in lines if line.strip()]
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: not JSON lines ({err}); pass a .txt for text output")
    return lines


def score_test_set(ref_manifest: Path, hyp_path: Path, system: str = "") -> WER:
    """WER of one test set; name = the manifest's file stem."""
    return score_hypotheses(ref_manifest, read_hypotheses(hyp_path), hyp_path, system)


def score_hypotheses(ref_manifest: Path, hyps: list[dict] | list[str], hyp_path: Path | str,
                     system: str = "") -> WER:
    """WER of hypotheses already read (`read_hypotheses`'s form) against a manifest."""
    utterances = read_manifest(ref_manifest, check_audio=False)
    rtf = None
    if hyps and isinstance(hyps[0], dict):
        by_audio = {_key(Path(row["audio"])): row for row in hyps}
        rows = [by_audio.get(_key(u.audio)) for u in utterances]
        texts = [None if row is None else row.get("text", "") for row in rows]
        timed = [r for r in rows if r and "processing_seconds" in r and r.get("duration")]
        if timed:
            rtf = sum(r["processing_seconds"] for r in timed) / sum(r["duration"] for r in timed)
    else:
        texts = [hyps[i] if i < len(hyps) else None for i in range(len(utterances))]
    missing = sum(t is None for t in texts)
    if missing:
        print(f"warning: {missing} of {len(utterances)} utterances of {ref_manifest} have no "
              f"hypothesis in {hyp_path}; counted as empty", file=sys.stderr)
    result = word_error_rate([u.text for u in utterances], [t or "" for t in texts],
                             ref_manifest.stem)
    return WER(**{**asdict(result), "missing": missing, "rtf": rtf, "system": system})


def _key(path: Path) -> str:
    return str(path.resolve())


def score_peer(peer_name: str, ref_manifest: Path) -> WER:
    """Decode `ref_manifest` with a peer recogniser (asr.peers) and score it."""
    from asr.peers import decode_manifest, load_peer

    rows = [row.as_dict() for row in decode_manifest(load_peer(peer_name), ref_manifest)]
    return score_hypotheses(ref_manifest, rows, peer_name, peer_name)


def markdown_table(results: list[WER]) -> str:
    """One row per result; a leading `system` column when any result names its system."""
    named = any(r.system for r in results)
    return markdown_rows(
        ["system"] * named + ["test set", "utts", "words", "WER %", "sub", "del", "ins", "RTF"],
        [[r.system] * named + [r.name, r.utterances, r.reference_words, f"{100 * r.wer:.2f}",
          r.substitutions, r.deletions, r.insertions, None if r.rtf is None else f"{r.rtf:.4f}"]
         for r in results])


@stops_quietly_on_closed_stdout
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="asr-score", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", type=Path, action="append", required=True,
                        help="reference manifest (repeat for several test sets)")
    parser.add_argument("--hyp", type=Path, action="append", required=True,
                        help="hypotheses of the matching --ref (jsonl or text)")
    parser.add_argument("--label", action="append", metavar="NAME",
                        help="system that made the matching --hyp (give one per --hyp)")
    parser.add_argument("--peer", action="append", default=[], metavar="NAME",
                        help="also decode every --ref with this recogniser (pocketsphinx) "
                             "and add its rows")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if len(args.ref) != len(args.hyp):
        parser.error(f"give one --hyp per --ref (got {len(args.ref)} --ref, "
                     f"{len(args.hyp)} --hyp)")
    if args.label is not None and len(args.label) != len(args.hyp):
        parser.error(f"give one --label per --hyp (got {len(args.label)} --label, "
                     f"{len(args.hyp)} --hyp)")
    labels = args.label or [""] * len(args.hyp)
    try:
        results = [score_test_set(r, h, s) for r, h, s in zip(args.ref, args.hyp, labels)]
        results += [score_peer(peer, ref) for peer in args.peer for ref in dict.fromkeys(args.ref)]
    except (ManifestError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"asr-score: {err}", file=sys.stderr)
        return 1
    print(markdown_table(results))
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in results], indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
