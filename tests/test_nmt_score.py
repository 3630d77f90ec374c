"""BLEU and chrF (nmt.score): sacreBLEU scores with signatures, aligned input only."""

import json

import pytest

from nmt.score import corpus_scores, main

REFERENCES = ["Die Katze schläft zu Hause.", "Der Hund isst im Garten."]


def test_identical_text_scores_100_with_signatures():
    scores = corpus_scores(REFERENCES, REFERENCES)
    assert scores.bleu == pytest.approx(100) and scores.chrf == pytest.approx(100)
    assert "nrefs:1" in scores.bleu_signature and "tok:13a" in scores.bleu_signature
    assert "nc:6" in scores.chrf_signature


def test_a_partly_wrong_translation_scores_between_0_and_100():
    scores = corpus_scores(["Die Katze schläft im Garten.", "Ein Hund isst im Garten."],
                           REFERENCES)
    assert 0 < scores.bleu < 100 and 0 < scores.chrf < 100


def test_unaligned_files_are_a_clear_error():
    with pytest.raises(ValueError, match="1 hypotheses but 2 references"):
        corpus_scores(REFERENCES[:1], REFERENCES)


def test_the_command_prints_scores_as_text_or_json(tmp_path, capsys):
    hyp, ref = tmp_path / "hyp.de", tmp_path / "ref.de"
    hyp.write_text("\n".join(REFERENCES) + "\n", encoding="utf-8")
    ref.write_text("\n".join(REFERENCES) + "\n", encoding="utf-8")
    assert main(["--hyp", str(hyp), "--ref", str(ref)]) == 0
    assert capsys.readouterr().out.startswith("BLEU = 100.00 (nrefs:1")
    assert main(["--hyp", str(hyp), "--ref", str(ref), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sentences"] == 2
    assert main(["--hyp", str(tmp_path / "missing"), "--ref", str(ref)]) == 2
    assert "missing not found" in capsys.readouterr().err
    ref.write_text("\n".join(REFERENCES[:1]) + "\n", encoding="utf-8")
    assert main(["--hyp", str(hyp), "--ref", str(ref)]) == 2
    assert f"{hyp} has 2 lines, {ref} 1: they must be line-aligned" in capsys.readouterr().err
