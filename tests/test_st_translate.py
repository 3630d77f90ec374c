"""st-translate: the ASR → NMT cascade, one line per audio file, bad files survived."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asr.cli import build_transcribe_parser, load_transcriber
from nmt.translate import Translator
from st.cli import main
from asr_fixtures import untrained_model_dir, write_tone
from tiny_nmt import random_model_dir, write_tiny_corpus


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("st")
    asr = untrained_model_dir(folder / "asr")
    corpus = write_tiny_corpus(folder / "corpus")
    return asr, random_model_dir(folder / "nmt", corpus)


def test_one_line_per_file_in_order_and_a_bad_file_reported(models, tmp_path, capsys):
    asr, nmt = models
    good = [write_tone(tmp_path / f"tone{i}.wav", 1.0 + i) for i in range(2)]
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really audio")
    files = [str(good[0]), str(bad), str(good[1])]
    status = main(["--asr", str(asr), "--nmt", str(nmt), "--format", "jsonl", *files])
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert status == 1
    assert [row["audio"] for row in rows] == files
    assert "error" in rows[1] and rows[1]["translation"] == ""
    assert "broken.wav" in captured.err and "1 of 3 files failed" in captured.err


def test_cascade_equals_transcribe_then_translate(models, tmp_path, capsys):
    asr, nmt = models
    files = [str(write_tone(tmp_path / f"t{i}.wav", 0.8 + 0.5 * i)) for i in range(3)]
    assert main(["--asr", str(asr), "--nmt", str(nmt), *files]) == 0
    cascade = capsys.readouterr().out.splitlines()
    transcriber = load_transcriber(build_transcribe_parser().parse_args(
        ["--model", str(asr), *files]))
    transcripts = [t.text for t in transcriber.transcribe(files)]
    expected = [t.text for t in Translator(nmt).translate(transcripts)]
    assert cascade == expected


def test_missing_model_is_one_clear_error(tmp_path, capsys):
    audio = write_tone(tmp_path / "a.wav", 0.5)
    assert main(["--asr", str(tmp_path / "nowhere"), str(audio)]) == 2
    assert "nowhere" in capsys.readouterr().err
