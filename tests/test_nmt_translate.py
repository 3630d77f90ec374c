"""`nmt-translate` (nmt.translate): line discipline, input errors, SVD-softmax, n-best."""

import io
import shutil
import sys

import pytest
import yaml

from echoformer.output_layer import SoftmaxConfig
from echoformer.search import DecodingOptions
from nmt.cli import translate_main as main
from nmt.translate import Translator
from tiny_nmt import TINY, random_model_dir, write_tiny_corpus

LONG = " ".join(["The cat sleeps at home."] * 12)  # ~150 tokens; the model allows 24


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("translate")
    return random_model_dir(root / "model", write_tiny_corpus(root / "corpus"), seed=1,
                            reuse_pattern=[1, 3])


def run(argv, capsys):
    code = main([str(a) for a in argv] + ["--quiet"])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_input_line_gives_one_output_line_in_order(model_dir, tmp_path, capsys):
    lines = ["The cat sleeps.", "", "   ", LONG, "The dog eats at home.", ""]
    source = tmp_path / "in.en"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run(["--model", model_dir, source], capsys)
    outputs = out.split("\n")[:-1]
    assert code == 0 and len(outputs) == len(lines)
    assert outputs[1] == outputs[2] == outputs[5] == ""
    assert outputs[0] and outputs[3] and outputs[4]
    assert f"{source} line 4 has" in err and "max_length=24" in err
    alone = Translator(model_dir).translate(["The dog eats at home."])[0].text
    assert outputs[4] == alone


def test_lines_are_read_from_stdin_without_a_file(model_dir, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"The cat sleeps.\n\nHi.\n")))
    code, out, _ = run(["--model", model_dir], capsys)
    assert code == 0 and out.count("\n") == 3 and out.split("\n")[1] == ""


def test_a_line_that_is_not_utf8_is_reported_by_line_and_the_others_translated(
        model_dir, tmp_path, capsys):
    source = tmp_path / "latin1.en"
    source.write_bytes("Good morning.\nGrüße.\nHello.\n".encode("latin-1"))
    code, out, err = run(["--model", model_dir, source], capsys)
    outputs = out.split("\n")[:-1]
    assert code == 1 and len(outputs) == 3 and outputs[1] == "" and outputs[0] and outputs[2]
    assert f"{source}: 1 line(s) are not valid UTF-8 (line 2)" in err and "iconv" in err


def test_a_missing_input_file_is_an_error_before_anything_is_translated(
        model_dir, tmp_path, capsys):
    good = tmp_path / "good.en"
    good.write_text("The cat sleeps.\n", encoding="utf-8")
    code, out, err = run(["--model", model_dir, good, tmp_path / "typo.en"], capsys)
    assert code == 2 and out == "" and "input file not found" in err and "typo.en" in err


def test_a_folder_given_as_input_is_named_in_one_clear_error(model_dir, tmp_path, capsys):
    code, out, err = run(["--model", model_dir, tmp_path], capsys)
    assert code == 2 and out == "" and f"{tmp_path}: a folder, not a text file" in err


def test_a_missing_model_directory_is_a_clear_error(tmp_path, capsys):
    code, _, err = run(["--model", tmp_path / "nope"], capsys)
    assert code == 2 and "is not a model directory" in err


def test_svd_softmax_at_full_width_and_all_candidates_translates_identically(model_dir):
    sentences = ["The cat sleeps.", "My friend reads in the garden.", "Her brother laughs."]
    options = DecodingOptions(beam_size=3, nbest=3, max_length_b=8)
    full = Translator(model_dir, options=options).translate(sentences)
    exact_svd = SoftmaxConfig("svd", window=TINY.d_model, candidates=70)
    svd = Translator(model_dir, softmax=exact_svd, options=options).translate(sentences)
    for a, b in zip(full, svd):
        assert [text for text, _ in a.nbest] == [text for text, _ in b.nbest]
        assert [s for _, s in a.nbest] == pytest.approx([s for _, s in b.nbest], abs=1e-4)
    assert (model_dir / "svd_factors.pt").is_file()


def test_batch_size_does_not_change_the_translations(model_dir):
    sentences = ["The cat sleeps.", "My friend reads in the garden.", "Her brother laughs.",
                 "The teacher waits at home."]
    one_by_one = [t.text for t in Translator(model_dir).translate(sentences, batch_size=1)]
    together = [t.text for t in Translator(model_dir).translate(sentences, batch_size=4)]
    assert one_by_one == together


def test_nbest_gives_numbered_hypotheses_with_scores(model_dir, tmp_path, capsys):
    source = tmp_path / "in.en"
    source.write_text("The cat sleeps.\n\n", encoding="utf-8")
    code, out, _ = run(["--model", model_dir, "--nbest", "3", source], capsys)
    rows = [line.split(" ||| ") for line in out.splitlines()]
    assert code == 0 and [row[0] for row in rows] == ["0", "0", "0", "1"]
    scores = [float(row[2]) for row in rows[:3]]
    assert scores == sorted(scores, reverse=True)
    assert rows[3][1] == ""


def test_an_unknown_decoding_key_in_model_yaml_is_a_clear_error(model_dir, tmp_path, capsys):
    broken = tmp_path / "model"
    shutil.copytree(model_dir, broken)
    meta = yaml.safe_load((broken / "model.yaml").read_text())
    meta["task"]["decoding"]["beam"] = 4  # a typo for beam_size
    (broken / "model.yaml").write_text(yaml.safe_dump(meta))
    code, out, err = run(["--model", broken], capsys)
    assert code == 2 and out == ""
    assert "model.yaml, decoding" in err and "'beam'" in err
