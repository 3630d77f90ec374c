"""The tools' output cut off by the reader (`tool ... | head`): status 1, no traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from asr_fixtures import untrained_model_dir, write_tone
from tiny_nmt import random_model_dir, write_tiny_corpus

BIN = Path(sys.executable).parent


def run_with_stdout_closed(argv: list, stdin: str = "") -> subprocess.CompletedProcess:
    """Run a console script whose reader has gone before it writes (as `| head` is once it has
    its lines): the read end of its stdout is closed at once."""
    process = subprocess.Popen([str(BIN / argv[0]), *map(str, argv[1:])],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    _, stderr = process.communicate(stdin, timeout=120)
    return subprocess.CompletedProcess(argv, process.returncode, "", stderr)


def assert_stopped_quietly(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr


def test_nmt_score_stops_quietly(tmp_path):
    text = tmp_path / "text.de"
    text.write_text("Das ist ein Haus.\nDie Katze schläft.\n", encoding="utf-8")
    assert_stopped_quietly(run_with_stdout_closed(["nmt-score", "--hyp", text, "--ref", text]))


def test_asr_score_stops_quietly(tmp_path):
    manifest = tmp_path / "test.jsonl"
    manifest.write_text('{"id": "a", "audio": "a.wav", "duration": 1.0, "text": "a cat"}\n',
                        encoding="utf-8")
    hypotheses = tmp_path / "hyp.txt"
    hypotheses.write_text("a cat\n", encoding="utf-8")
    assert_stopped_quietly(run_with_stdout_closed(
        ["asr-score", "--ref", manifest, "--hyp", hypotheses]))


def test_nmt_translate_stops_quietly(tmp_path):
    model = random_model_dir(tmp_path / "model", write_tiny_corpus(tmp_path / "corpus"))
    result = run_with_stdout_closed(["nmt-translate", "--model", model, "--no-progress"],
                                    stdin="The cat sleeps.\n" * 40)
    assert_stopped_quietly(result)


@pytest.mark.parametrize("tool", ["asr-transcribe", "st-translate"])
def test_audio_tools_stop_quietly(tool, tmp_path):
    asr = untrained_model_dir(tmp_path / "asr")
    audio = [write_tone(tmp_path / f"tone{i}.wav", 1.0) for i in range(3)]
    models = ["--model", asr] if tool == "asr-transcribe" else [
        "--asr", asr, "--nmt",
        random_model_dir(tmp_path / "nmt", write_tiny_corpus(tmp_path / "corpus"))]
    assert_stopped_quietly(run_with_stdout_closed([tool, *models, "--no-progress", *audio]))
