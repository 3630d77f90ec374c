"""asr-transcribe: input order, failures reported by name, long audio in chunks, jsonl rows."""

import json

import pytest
import torch

from asr.cli import transcribe_main
from asr.decoding import ASRDecodingOptions
from asr.stitch import join_overlapping
from asr.transcribe import Transcriber
from asr_fixtures import untrained_model_dir, write_tone
from echoformer.model_dir import load_model_dir


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return untrained_model_dir(tmp_path_factory.mktemp("asr_model"))


def test_a_bad_file_among_good_ones_is_reported_and_the_others_transcribed(
        model_dir, tmp_path, capsys):
    good1 = write_tone(tmp_path / "good1.wav", 1.5)
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not audio")
    empty = write_tone(tmp_path / "empty.wav", 0.0)
    good2 = write_tone(tmp_path / "good2.flac", 2.0, rate=44100, channels=2)
    missing = tmp_path / "missing.ogg"
    files = [good1, not_audio, empty, good2, missing]
    with pytest.raises(SystemExit) as exit_info:
        transcribe_main(["--model", str(model_dir), "--format", "jsonl", "--batch-size", "2",
                         *map(str, files)])
    assert exit_info.value.code == 1
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["audio"] for r in rows] == [str(f) for f in files]  # input order, one row each
    assert [("error" in r) for r in rows] == [False, True, True, False, True]
    assert rows[3]["duration"] == pytest.approx(2.0, abs=0.01)
    assert all(r["processing_seconds"] >= 0 and isinstance(r["text"], str) for r in rows)
    for bad in (not_audio, empty, missing):
        assert str(bad) in err
    assert "3 of 5 files failed" in err


def test_all_good_files_give_text_lines_and_exit_status_zero(model_dir, tmp_path, capsys):
    files = [str(write_tone(tmp_path / f"{i}.wav", 0.5 + i)) for i in range(3)]
    transcribe_main(["--model", str(model_dir), "--method", "attention_rescoring",
                     "--softmax", "svd", "--svd-window", "8", "--svd-candidates", "10", *files])
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert (model_dir / "svd_factors.pt").is_file()  # factored once, cached in the directory


class _SecondsTranscriber(Transcriber):
    """Hears the time: a piece's words are `wK` for each second K it holds at least half of."""

    def decode_pieces(self, batch):
        assert len(batch) <= self.batch_size
        self.pieces += len(batch)
        words = []
        for piece in batch:
            start, end = piece.start, piece.start + piece.seconds
            words.append([f"w{k}" for k in range(int(end) + 1)
                          if min(end, k + 1) - max(start, k) >= 0.5])
        return words


@pytest.mark.parametrize("seconds, chunk, overlap", [(95.0, 20.0, 2.0), (61.3, 10.0, 3.0),
                                                     (20.4, 20.0, 2.0)])
def test_long_audio_is_cut_into_overlapping_chunks_that_cover_the_whole_file(
        model_dir, tmp_path, seconds, chunk, overlap):
    path = write_tone(tmp_path / "long.wav", seconds)
    transcriber = _SecondsTranscriber(load_model_dir(model_dir), ASRDecodingOptions(),
                                      batch_size=2, chunk_seconds=chunk, overlap_seconds=overlap)
    transcriber.pieces = 0
    [result] = transcriber.transcribe([path])
    assert result.text.split() == [f"w{k}" for k in range(round(seconds))]
    assert result.duration == pytest.approx(seconds, abs=0.01)
    assert transcriber.pieces > seconds / chunk


def test_a_long_file_is_transcribed_by_the_model_chunk_by_chunk(model_dir, tmp_path):
    path = write_tone(tmp_path / "long.wav", 65.0)
    loaded = load_model_dir(model_dir)
    transcriber = Transcriber(loaded, ASRDecodingOptions("ctc_greedy"), batch_size=2,
                              chunk_seconds=10.0, overlap_seconds=2.0)
    [result] = transcriber.transcribe([path])
    assert result.error is None and result.duration == pytest.approx(65.0)


@pytest.mark.parametrize("before, after, joined", [
    ("a b c d e".split(), "d e f g".split(), "a b c d e f g".split()),
    ("a b c d".split(), "x d e f".split(), "a b c d e f".split()),   # a cut word on one side
    ("a b c".split(), "p q r".split(), "a b c q r".split()),        # no common word: drop share
    ([], "p q".split(), "p q".split()),
])
def test_chunk_transcripts_join_at_their_common_words(before, after, joined):
    assert join_overlapping(before, after, tail=3, head=3, fallback_drop=1) == joined


def test_a_cuda_device_that_is_absent_is_a_clear_error(model_dir, capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is present here")
    with pytest.raises(SystemExit) as exit_info:
        transcribe_main(["--model", str(model_dir), "--device", "cuda", "x.wav"])
    assert exit_info.value.code == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_device_auto_runs_where_it_can_and_a_bad_name_is_a_clear_error(model_dir, tmp_path,
                                                                       capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is present here (auto would pick it)")
    audio = write_tone(tmp_path / "a.wav", 1.0)
    transcribe_main(["--model", str(model_dir), "--device", "auto", str(audio)])
    assert len(capsys.readouterr().out.splitlines()) == 1
    with pytest.raises(SystemExit) as exit_info:
        transcribe_main(["--model", str(model_dir), "--device", "gpu0", str(audio)])
    assert exit_info.value.code == 2
    assert "--device gpu0: not a device" in capsys.readouterr().err


def test_flags_replace_the_stored_decoding_options_and_the_rest_stay(tmp_path):
    from asr.cli import build_transcribe_parser, load_transcriber

    stored = {"method": "joint_beam", "beam_size": 3, "ctc_weight": 0.5, "length_penalty": 0.2}
    model = untrained_model_dir(tmp_path, {"task": "speech_recognition", "decoding": stored})
    args = build_transcribe_parser().parse_args(["--model", str(model), "--beam-size", "2",
                                                 "x.wav"])
    args.device = "cpu"
    assert load_transcriber(args).options == ASRDecodingOptions(
        method="joint_beam", beam_size=2, ctc_weight=0.5, length_penalty=0.2)


def test_an_unknown_decoding_key_in_model_yaml_is_a_clear_error(tmp_path, capsys):
    model = untrained_model_dir(tmp_path, {"task": "speech_recognition",
                                           "decoding": {"method": "ctc_greedy", "beam": 4}})
    with pytest.raises(SystemExit) as exit_info:
        transcribe_main(["--model", str(model), "x.wav"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "model.yaml, decoding" in err and "'beam'" in err
