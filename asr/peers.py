"""Recognisers a user might install instead of ours, decoding the same manifests:

    python -m asr.peers pocketsphinx MANIFEST > hyps.jsonl
    asr-score --ref MANIFEST --hyp hyps.jsonl --label pocketsphinx

Rows are in `asr-transcribe --format jsonl` form (`audio`, `text`, `duration`,
`processing_seconds`), so `asr-score` scores them as it scores ours, WER and real-time factor
alike; `asr-score --peer pocketsphinx` decodes its --ref manifests itself and adds the rows.
Hypotheses are put in transcript form (`normalize_transcript`), as the references are.

pocketsphinx: the PyPI wheel (`pip install '.[peers]'`) with the en-us acoustic model,
language model and dictionary it bundles, default settings, 16 kHz mono 16-bit input (read
and resampled by `asr.audio.load_audio`, as ours). `processing_seconds` is the wall time of
its decode of the whole file (its own feature extraction included, reading the file not),
on one thread: pocketsphinx does not use more.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from asr.audio import SAMPLE_RATE, AudioError, load_audio
from asr.data.manifest import ManifestError, read_manifest
from echoformer.console import stops_quietly_on_closed_stdout
from echoformer.text_norm import normalize_transcript

INSTALL = "pip install '.[peers]' (or: pip install pocketsphinx)"
_NOT_TRANSCRIPT = re.compile(r"[^a-z' ]")


class PeerError(RuntimeError):
    """A peer recogniser that is not installed or cannot be set up."""


@dataclass(frozen=True)
class PeerRow:
    """One decoded file, as asr-transcribe's jsonl row."""

    audio: str
    text: str
    duration: float
    processing_seconds: float

    def as_dict(self) -> dict:
        return {"audio": self.audio, "text": self.text, "duration": self.duration,
                "processing_seconds": self.processing_seconds}


def peer_transcript(text: str) -> str:
    """A peer's words in transcript form; what does not normalise keeps its letters only."""
    normal = normalize_transcript(text)
    if normal is None:
        normal = " ".join(_NOT_TRANSCRIPT.sub(" ", text.lower()).split())
    return normal


class PocketSphinx:
    """pocketsphinx with the en-us model its wheel bundles."""

    name = "pocketsphinx"

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as err:
            raise PeerError(f"pocketsphinx is not installed; {INSTALL}") from err
        self.decoder = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL")

    def transcribe(self, samples: np.ndarray) -> str:
        """Words of (samples,) float mono 16 kHz audio, in transcript form."""
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        hypothesis = self.decoder.hyp()
        return peer_transcript(hypothesis.hypstr if hypothesis is not None else "")


PEERS = {"pocketsphinx": PocketSphinx}


def load_peer(name: str):
    if name not in PEERS:
        raise PeerError(f"unknown peer {name!r}; choose one of {', '.join(PEERS)}")
    return PEERS[name]()


def decode_manifest(peer, manifest: str | Path) -> Iterator[PeerRow]:
    """One row per manifest utterance, in its order; audio paths absolute."""
    for utt in read_manifest(manifest):
        samples = load_audio(utt.audio).numpy()
        started = time.perf_counter()
        text = peer.transcribe(samples)
        seconds = time.perf_counter() - started
        yield PeerRow(str(utt.audio), text, round(len(samples) / SAMPLE_RATE, 3),
                      round(seconds, 4))


@stops_quietly_on_closed_stdout
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m asr.peers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("peer", choices=sorted(PEERS), help="the recogniser to run")
    parser.add_argument("manifest", type=Path, help="manifest (JSON lines) to decode")
    args = parser.parse_args(argv)
    try:
        peer = load_peer(args.peer)
        for row in decode_manifest(peer, args.manifest):
            print(json.dumps(row.as_dict(), ensure_ascii=False), flush=True)
    except (PeerError, ManifestError, AudioError) as err:
        print(f"asr.peers: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
