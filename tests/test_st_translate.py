"""st-translate: the ASR → NMT cascade, one line per audio file, bad files survived."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asr.cli import build_transcribe_parser, chosen_lm, load_transcriber
from nmt.translate import Translator
from st.cli import _asr_args, build_parser, main
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


def test_models_swapped_are_one_clear_error_each(models, tmp_path, capsys):
    asr, nmt = models
    audio = write_tone(tmp_path / "a.wav", 0.5)
    assert main(["--asr", str(nmt), "--nmt", str(nmt), str(audio)]) == 2
    assert "not a speech recognition model" in capsys.readouterr().err
    assert main(["--asr", str(asr), "--nmt", str(asr), str(audio)]) == 2
    assert "not a translation model" in capsys.readouterr().err


def test_svd_options_alone_mean_svd_and_a_model_trained_with_svd_decodes_with_it(
        models, tmp_path):
    from asr.model import ASRModel
    from asr_fixtures import TINY, tokenizer_model
    from echoformer.model_dir import save_model_dir
    from echoformer.output_layer import SoftmaxConfig
    from echoformer.tokenizer import Tokenizer

    asr, _ = models
    parse = build_transcribe_parser().parse_args
    assert load_transcriber(parse(["--model", str(asr), "x.wav"])).model.output.softmax.kind \
        == "full"
    windowed = load_transcriber(parse(["--model", str(asr), "--svd-window", "4", "x.wav"]))
    assert windowed.model.output.softmax == SoftmaxConfig("svd", 4, None)
    # asr-train softmax=svd: the exported model names it and decodes with it by default.
    spm = tokenizer_model(tmp_path)
    model = ASRModel(TINY, Tokenizer(spm).vocab_size, [2])
    model.use_softmax(SoftmaxConfig("svd", 8, 16))
    folder = save_model_dir(tmp_path / "svd_model", model, model.state_dict(), spm,
                            {"task": "speech_recognition"})
    stored = load_transcriber(parse(["--model", str(folder), "x.wav"])).model.output
    assert stored.softmax == SoftmaxConfig("svd", 8, 16) and stored.svd is not None
    assert load_transcriber(parse(["--model", str(folder), "--softmax", "full",
                                   "x.wav"])).model.output.svd is None


def test_without_a_shipped_model_the_message_names_st_translates_own_option(
        models, tmp_path, capsys, monkeypatch):
    from echoformer import shipped

    asr, _ = models
    audio = write_tone(tmp_path / "a.wav", 0.5)
    monkeypatch.setitem(shipped.SHIPPED, "asr", tmp_path / "absent")
    monkeypatch.setitem(shipped.SHIPPED, "nmt", tmp_path / "absent")
    assert main([str(audio)]) == 2
    assert "no --asr given" in capsys.readouterr().err
    assert main(["--asr", str(asr), str(audio)]) == 2
    assert "no --nmt given" in capsys.readouterr().err


def test_language_model_options_reach_the_recogniser(tmp_path, monkeypatch):
    from echoformer import shipped

    lm_dir = tmp_path / "asr-en-lm"
    lm_dir.mkdir()
    (lm_dir / "model.yaml").write_text("format_version: 1\n")
    monkeypatch.setitem(shipped.SHIPPED, "asr_lm", lm_dir)
    parse = build_parser().parse_args
    assert chosen_lm(_asr_args(parse(["a.wav"]))) == lm_dir  # the shipped LM by default
    assert chosen_lm(_asr_args(parse(["--no-lm", "a.wav"]))) is None
    asr = _asr_args(parse(["--asr", "A", "--lm", "L", "--lm-weight", "0.3", "a.wav"]))
    assert (chosen_lm(asr), asr.lm_weight, asr.audio) == ("L", 0.3, ["a.wav"])
