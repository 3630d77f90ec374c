"""asr.score: WER with substitutions, deletions and insertions, per test set."""

import json

import pytest

from asr.score import main, score_test_set, word_error_rate


def test_wer_counts_substitutions_deletions_and_insertions():
    result = word_error_rate(["the cat sat on the mat", "hello world"],
                             ["the cat sit on mat", "hello big world"])
    assert (result.substitutions, result.deletions, result.insertions) == (1, 1, 1)
    assert result.reference_words == 8
    assert result.wer == pytest.approx(3 / 8)


def _test_set(tmp_path):
    (tmp_path / "wav").mkdir()
    rows = [{"audio": f"wav/{i}.wav", "duration": 2.0, "text": text}
            for i, text in enumerate(["a b c", "d e", "f"])]
    ref = tmp_path / "test.jsonl"
    ref.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return ref


def test_jsonl_hypotheses_are_matched_by_audio_path_and_missing_ones_count_as_empty(
        tmp_path, capsys):
    ref = _test_set(tmp_path)
    hyp = tmp_path / "hyp.jsonl"
    hyp.write_text("".join(json.dumps(r) + "\n" for r in [  # other order, one missing
        {"audio": str(tmp_path / "wav/1.wav"), "text": "d e", "duration": 2.0,
         "processing_seconds": 0.2},
        {"audio": str(tmp_path / "wav/0.wav"), "text": "a x c", "duration": 2.0,
         "processing_seconds": 0.2}]))
    result = score_test_set(ref, hyp)
    assert (result.substitutions, result.deletions, result.missing) == (1, 1, 1)
    assert result.name == "test" and result.rtf == pytest.approx(0.1)
    assert "1 of 3 utterances" in capsys.readouterr().err


def test_text_hypotheses_follow_the_manifest_order(tmp_path):
    ref = _test_set(tmp_path)
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("a b c\nd e\nf\n")
    assert score_test_set(ref, hyp).wer == 0.0


def test_the_command_prints_a_table_and_writes_json(tmp_path, capsys):
    ref = _test_set(tmp_path)
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("a b c\nd\nf g\n")
    assert main(["--ref", str(ref), "--hyp", str(hyp), "--json", str(tmp_path / "w.json")]) == 0
    assert "| test | 3 | 6 | 33.33 | 0 | 1 | 1 |" in capsys.readouterr().out
    assert json.loads((tmp_path / "w.json").read_text())[0]["wer"] == pytest.approx(2 / 6)


def test_a_missing_hypothesis_file_is_a_clear_error(tmp_path, capsys):
    ref = _test_set(tmp_path)
    assert main(["--ref", str(ref), "--hyp", str(tmp_path / "none.jsonl")]) == 1
    assert "none.jsonl: no such hypothesis file" in capsys.readouterr().err
