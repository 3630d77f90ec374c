"""Bad input is named and survived (issue 6, item 4): each bad input gets one message naming it;
batch jobs go on with the other inputs, report the failures and exit non-zero.

The matrix: input -> expected behaviour [where tested; "here" = this module].

Audio (asr-transcribe, asr.audio)
- not audio, truncated header -> AudioError naming the file [test_audio.py:
  test_text_file_is_not_audio, test_truncated_header_is_not_audio; in a batch: here]
- empty (0 bytes), a folder -> "is empty (0 bytes)", "is a folder" [here]
- zero-length (a header, no samples) -> "no samples" [test_audio.py:
  test_zero_length_audio_is_named; test_transcribe.py; here]
- NaN-filled float wav -> "NaN or infinite" [test_audio.py: test_nan_samples_are_named; here]
- silent, shorter than one 25 ms frame -> a transcript (empty under 25 ms), no error [here]
- a header promising more than the file holds -> what is there is transcribed [here]
- 8 kHz, 48 kHz stereo -> read as 16 kHz mono and transcribed [here; 44.1 kHz stereo and six
  channels: test_audio.py]
- 1 hour -> chunked, bounded memory [3 minutes here; the hour: test_load.py (slow)]
- a batch of all of these -> one row each in input order, failures named, exit 1 [here]

Text (nmt-translate)
- empty, whitespace only -> an empty output line [test_nmt_translate.py:
  test_every_input_line_gives_one_output_line_in_order; here]
- 10,000 tokens -> translated from its first tokens, a warning naming file and line [here]
- control characters -> read as spaces (translated like the clean line), line count kept [here]
- not UTF-8 -> an empty output line, reported by file and line at the end, exit 1 [here;
  test_nmt_translate.py]

Manifests (asr.data.manifest; asr-train, asr-score, bench)
- malformed JSON, missing audio -> FILE:LINE messages [test_manifest.py:
  test_malformed_lines_are_reported_with_their_line_numbers,
  test_a_missing_audio_file_is_reported_with_its_resolved_path]
- a line that is not UTF-8 -> FILE:LINE message; a leading BOM is read [here]

Configs (nmt-train, asr-train)
- unknown key, reuse pattern not summing to the layers -> the commands stop with one clear
  message and no traceback [here]; the same through the API: test_nmt_train.py
  (test_an_unknown_config_key_is_an_error,
  test_a_reuse_pattern_that_does_not_fit_the_encoder_is_a_clear_error), test_asr_model.py
  (test_an_unknown_key_is_an_error,
  test_a_reuse_pattern_that_does_not_sum_to_the_layers_stops_training_at_once)
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import asr.transcribe
from asr.audio import SAMPLE_RATE, AudioError, load_audio
from asr.cli import transcribe_main
from asr.data.manifest import ManifestError, read_manifest
from asr.decoding import ASRDecodingOptions
from asr.transcribe import Transcriber
from asr_fixtures import untrained_model_dir, write_tone
from echoformer.model_dir import load_model_dir
from nmt.cli import translate_main
from nmt.translate import Translator
from tiny_nmt import random_model_dir, write_tiny_corpus

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def asr_model(tmp_path_factory):
    return untrained_model_dir(tmp_path_factory.mktemp("asr_model"))


@pytest.fixture(scope="module")
def nmt_corpus(tmp_path_factory):
    return write_tiny_corpus(tmp_path_factory.mktemp("nmt_corpus"))


@pytest.fixture(scope="module")
def nmt_model(nmt_corpus):
    return random_model_dir(nmt_corpus.parent / "nmt_model", nmt_corpus, seed=1)


# --- audio -------------------------------------------------------------------------------------

def _bad_audio(folder: Path) -> dict[str, tuple[Path, str | None]]:
    """name -> (file, fragment of its error message, None when it must be transcribed)."""
    files = {}
    folder.mkdir()
    corrupt = folder / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x01garbage" * 50)
    files["corrupt"] = corrupt, "cannot be read as audio"
    zero_bytes = folder / "zero_bytes.wav"
    zero_bytes.write_bytes(b"")
    files["zero bytes"] = zero_bytes, "is empty (0 bytes)"
    files["zero-length"] = write_tone(folder / "zero_length.wav", 0.0), "no samples"
    files["folder"] = folder, "is a folder"
    nan = folder / "nan.wav"
    sf.write(nan, np.full(SAMPLE_RATE, np.nan, dtype=np.float32), SAMPLE_RATE, subtype="FLOAT")
    files["NaN-filled"] = nan, "NaN or infinite"
    silent = folder / "silent.wav"
    sf.write(silent, np.zeros(2 * SAMPLE_RATE, dtype=np.int16), SAMPLE_RATE)
    files["silent"] = silent, None
    files["8 kHz"] = write_tone(folder / "8k.wav", 1.0, rate=8000), None
    files["48 kHz stereo"] = write_tone(folder / "48k.flac", 1.0, rate=48000, channels=2), None
    files["10 ms"] = write_tone(folder / "10ms.wav", 0.01), None
    cut = write_tone(folder / "cut.wav", 4.0)  # the header says 4 s, the file holds 2 s
    cut.write_bytes(cut.read_bytes()[: 44 + 2 * 2 * SAMPLE_RATE])
    files["cut short"] = cut, None
    return files


def test_a_batch_of_bad_audio_names_each_failure_and_transcribes_the_rest(
        asr_model, tmp_path, capsys):
    cases = _bad_audio(tmp_path / "audio")
    good = write_tone(tmp_path / "good.wav", 1.0)
    paths = [good, *(path for path, _ in cases.values()), good]
    with pytest.raises(SystemExit) as exit_info:
        transcribe_main(["--model", str(asr_model), "--format", "jsonl", "--batch-size", "3",
                         "--chunk-seconds", "10", *map(str, paths)])
    out, err = capsys.readouterr()
    rows = [json.loads(line) for line in out.splitlines()]
    assert exit_info.value.code == 1
    assert [row["audio"] for row in rows] == [str(p) for p in paths]  # one row each, in order
    failing = 0
    for row, (name, (path, fragment)) in zip(rows[1:-1], cases.items()):
        if fragment is None:
            assert "error" not in row and isinstance(row["text"], str), name
        else:
            failing += 1
            assert row["error"].startswith(f"{path}: ") and fragment in row["error"], name
            assert row["text"] == ""
            assert row["error"] in err
    assert f"{failing} of {len(paths)} files failed" in err
    assert "Traceback" not in err


def test_audio_shorter_than_one_frame_gives_an_empty_transcript(asr_model, tmp_path):
    transcriber = Transcriber(load_model_dir(asr_model), ASRDecodingOptions("ctc_greedy"))
    [result] = transcriber.transcribe([write_tone(tmp_path / "10ms.wav", 0.01)])
    assert (result.text, result.error) == ("", None)


def test_a_file_cut_short_is_read_up_to_where_it_ends(tmp_path):
    cut = write_tone(tmp_path / "cut.wav", 4.0)
    cut.write_bytes(cut.read_bytes()[: 44 + 2 * 2 * SAMPLE_RATE])
    assert load_audio(cut).numel() == 2 * SAMPLE_RATE


@pytest.mark.parametrize("rate, channels", [(8000, 1), (48000, 2)])
def test_8k_and_48k_stereo_audio_is_read_as_16k_mono(tmp_path, rate, channels):
    samples = load_audio(write_tone(tmp_path / "clip.wav", 1.5, rate=rate, channels=channels))
    assert samples.dim() == 1 and samples.numel() == int(1.5 * SAMPLE_RATE)


def test_an_empty_file_and_a_folder_are_named(tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioError, match=r"empty.wav: is empty \(0 bytes\)"):
        load_audio(empty)
    with pytest.raises(AudioError, match="is a folder, not an audio file"):
        load_audio(tmp_path)


def test_three_minutes_of_audio_are_transcribed_in_chunks_of_bounded_size(
        asr_model, tmp_path, monkeypatch):
    seen = []
    fbank = asr.transcribe.compute_fbank
    monkeypatch.setattr(asr.transcribe, "compute_fbank",
                        lambda samples: seen.append(samples.numel()) or fbank(samples))
    path = write_tone(tmp_path / "three_minutes.wav", 180.0)
    transcriber = Transcriber(load_model_dir(asr_model), ASRDecodingOptions("ctc_greedy"),
                              batch_size=4, chunk_seconds=10.0, overlap_seconds=1.0)
    [result] = transcriber.transcribe([path])
    assert result.error is None and result.duration == pytest.approx(180.0)
    assert len(seen) == 20 and max(seen) == 10 * SAMPLE_RATE  # never more than one chunk


# --- text --------------------------------------------------------------------------------------

def test_bad_text_lines_keep_the_line_count_and_are_named(nmt_model, tmp_path, capsys):
    long_line = " ".join(["The cat sleeps."] * 2500)  # ≥ 10,000 tokens; the model allows 24
    lines = ["The cat sleeps.".encode(), b"", b" \t  ", long_line.encode(),
             "The\x00 cat\x07 sleeps.\x1b".encode(), b"\x01\x02\x7f", "Grüße.".encode("latin-1"),
             b"Her brother laughs."]
    source = tmp_path / "bad.en"
    source.write_bytes(b"\n".join(lines) + b"\n")
    code = translate_main(["--model", str(nmt_model), "--quiet", str(source)])
    out, err = capsys.readouterr()
    outputs = out.split("\n")[:-1]
    assert code == 1 and len(outputs) == len(lines)
    assert [bool(o) for o in outputs] == [True, False, False, True, True, False, False, True]
    assert outputs[4] == outputs[0]  # control characters are read as spaces
    [warning] = [line for line in err.splitlines() if "warning" in line]
    tokens = int(warning.split(" has ")[1].split()[0])
    assert f"{source} line 4 has" in warning and tokens >= 10_000 and "max_length=24" in warning
    assert f"{source}: 1 line(s) are not valid UTF-8 (line 7)" in err


def test_control_characters_and_long_lines_through_the_api(nmt_model):
    translator = Translator(nmt_model)
    clean, noisy, long = translator.translate(
        ["The dog eats.", "\x1bThe dog\x00eats.\x85", "The dog eats. " * 3000])
    assert noisy.text == clean.text and noisy.truncated_from is None
    assert long.truncated_from >= 10_000 and long.text


# --- manifests ---------------------------------------------------------------------------------

def test_a_manifest_line_that_is_not_utf8_is_named_by_line(tmp_path):
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    manifest = tmp_path / "train.jsonl"
    rows = ['{"audio": "a.wav", "duration": 1.0, "text": "fine"}',
            '{"audio": "a.wav", "duration": 1.0, "text": "grüße"}']
    manifest.write_bytes(b"\xef\xbb\xbf" + rows[0].encode() + b"\n" + rows[1].encode("latin-1"))
    with pytest.raises(ManifestError, match=r"train.jsonl:2: not valid UTF-8"):
        read_manifest(manifest)
    assert [u.text for u in read_manifest(manifest, skip_bad=True)] == ["fine"]  # BOM read


# --- configs, through the commands -------------------------------------------------------------

_REUSE_MESSAGE = ("reuse pattern [1, 2] covers 3 layers but the encoder has 4: make the group "
                  "sizes sum to 4")


@pytest.mark.parametrize("command, override, message", [
    pytest.param("nmt-train", "model.d_modle=64", "Key 'd_modle' not in 'NMTModelConfig'",
                 id="nmt-train-unknown-key"),
    pytest.param("asr-train", "model.num_layer=3", "Key 'num_layer' not in 'ASRModelConfig'",
                 id="asr-train-unknown-key"),
    pytest.param("nmt-train", "reuse.pattern=[1,2]", _REUSE_MESSAGE, id="nmt-train-reuse-sum"),
    pytest.param("asr-train", "reuse.pattern=[1,2]", _REUSE_MESSAGE, id="asr-train-reuse-sum"),
])
def test_a_bad_config_stops_the_command_with_a_clear_message(
        command, override, message, nmt_corpus, tmp_path):
    result = subprocess.run([BIN / command, override, f"data.dir={nmt_corpus}",
                             f"hydra.run.dir={tmp_path / 'run'}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
