"""Load (issue 6, item 6): many inputs in one call run in bounded memory and report progress.

Bounded memory is shown two ways: fast tests check that inputs are read lazily, a bounded window
ahead of the output; slow tests run the commands as subprocesses on N and 4N inputs and compare
their peak RSS (`ru_maxrss` from `os.wait4`). Tolerances: the peak may grow by at most 5 MB for
4× the text lines and 25 MB for 4× the audio, against ~11 MB of growth for a version of
nmt-translate that reads its whole input first (measured on 10,000 lines of 1,000 characters)
and ~170 MB for holding the extra 45 minutes of audio as float32 samples.
"""

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import nmt.cli
from asr.cli import transcribe_main
from asr.decoding import ASRDecodingOptions
from asr.transcribe import Transcriber
from asr_fixtures import untrained_model_dir, write_tone
from echoformer.model_dir import load_model_dir
from nmt.cli import translate_main
from nmt.translate import Translator
from tiny_nmt import random_model_dir, tiny_pairs, write_tiny_corpus

BIN = Path(sys.executable).parent
SENTENCES = [source for source, _ in tiny_pairs()]


@pytest.fixture(scope="module")
def nmt_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("nmt")
    return random_model_dir(root / "model", write_tiny_corpus(root / "corpus"), seed=1)


@pytest.fixture(scope="module")
def asr_model(tmp_path_factory):
    return untrained_model_dir(tmp_path_factory.mktemp("asr"))


class _CountingLines:
    """An iterable of lines that counts how many have been taken."""

    def __init__(self, lines):
        self.lines, self.taken = lines, 0

    def __iter__(self):
        for line in self.lines:
            self.taken += 1
            yield line


def peak_rss_mb(command: list, folder: Path) -> float:
    """Run `command` (stdout and stderr to files in `folder`); its peak RSS in MiB."""
    with open(folder / "out.txt", "w") as out, open(folder / "err.txt", "w") as err:
        process = subprocess.Popen([str(c) for c in command], stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, (folder / "err.txt").read_text()
    return usage.ru_maxrss / 1024  # Linux: KiB


# --- text --------------------------------------------------------------------------------------

def test_translate_stream_reads_one_chunk_ahead_and_keeps_the_order(nmt_model):
    translator = Translator(nmt_model)
    lines = _CountingLines(SENTENCES[:10])
    stream = translator.translate_stream(lines, batch_size=3, chunk_lines=4)
    first = next(stream)
    assert lines.taken == 4
    rest = list(stream)
    assert [t.text for t in [first, *rest]] == [
        t.text for t in translator.translate(SENTENCES[:10], batch_size=3)]


def test_nmt_translate_writes_each_chunk_before_reading_the_next(nmt_model, monkeypatch):
    monkeypatch.setattr(nmt.cli, "CHUNK_LINES", 5)
    lines = _CountingLines([s.encode() + b"\n" for s in SENTENCES[:23]])
    taken_at_write = []

    class Stdin:
        buffer = lines

        def isatty(self):
            return False

    class Stdout(io.StringIO):
        def write(self, text):
            taken_at_write.append(lines.taken)
            return super().write(text)

    monkeypatch.setattr(sys, "stdin", Stdin())
    monkeypatch.setattr(sys, "stdout", Stdout())
    assert translate_main(["--model", str(nmt_model), "--quiet", "--no-progress"]) == 0
    assert len(taken_at_write) == 23 and sys.stdout.getvalue().count("\n") == 23
    # the first output line is written after 5 lines are read, the last chunk's after all 23
    assert taken_at_write[0] == 5 and taken_at_write[5] == 10 and taken_at_write[-1] == 23


def test_nmt_translate_reports_progress_on_stderr_when_asked(nmt_model, tmp_path, capsys):
    source = tmp_path / "in.en"
    source.write_text("".join(s + "\n" for s in SENTENCES[:7]), encoding="utf-8")
    assert translate_main(["--model", str(nmt_model), "--quiet", "--progress",
                           str(source)]) == 0
    out, err = capsys.readouterr()
    assert out.count("\n") == 7 and "nmt-translate" in err and "7/7" in err
    assert translate_main(["--model", str(nmt_model), "--quiet", str(source)]) == 0
    assert capsys.readouterr().err == ""  # stderr is not a terminal here: no bar by default


@pytest.mark.slow
def test_translating_10000_lines_needs_no_more_memory_than_2500(nmt_model, tmp_path):
    peaks = {}
    for n in (2_500, 10_000):
        source = tmp_path / f"in{n}.en"
        with open(source, "w", encoding="utf-8") as stream:
            for i in range(n):  # 1,000 characters a line, truncated to the model's max_length
                words = " ".join(SENTENCES[(i + k) % len(SENTENCES)] for k in range(40))
                stream.write(words[:1000] + "\n")
        peaks[n] = peak_rss_mb([BIN / "nmt-translate", "--model", nmt_model, "--threads", "1",
                                "--beam-size", "1", "--batch-size", "64", source], tmp_path)
        assert (tmp_path / "out.txt").read_text().count("\n") == n
    assert peaks[10_000] - peaks[2_500] < 5, peaks


# --- audio -------------------------------------------------------------------------------------

def test_transcribe_reads_a_bounded_window_of_files(asr_model, tmp_path):
    paths = _CountingLines([write_tone(tmp_path / f"{i}.wav", 0.5 + 0.1 * i)
                            for i in range(9)])
    transcriber = Transcriber(load_model_dir(asr_model), ASRDecodingOptions("ctc_greedy"),
                              batch_size=2)
    taken = [paths.taken for _ in transcriber.transcribe(paths)]
    assert len(taken) == 9
    assert all(t - given <= 2 for given, t in enumerate(taken, start=1))  # batch_size ahead


def test_asr_transcribe_reports_progress_on_stderr_when_asked(asr_model, tmp_path, capsys):
    files = [str(write_tone(tmp_path / f"{i}.wav", 0.5)) for i in range(3)]
    transcribe_main(["--model", str(asr_model), "--progress", *files])
    out, err = capsys.readouterr()
    assert out.count("\n") == 3 and "asr-transcribe" in err and "3/3" in err


@pytest.mark.slow
def test_transcribing_200_files_needs_no_more_memory_than_50(asr_model, tmp_path):
    files = [write_tone(tmp_path / f"{i}.wav", 3.0 + i % 3) for i in range(200)]
    peaks = {n: peak_rss_mb([BIN / "asr-transcribe", "--model", asr_model, "--method",
                             "ctc_greedy", "--threads", "1", *files[:n]], tmp_path)
             for n in (50, 200)}
    assert (tmp_path / "out.txt").read_text().count("\n") == 200
    assert peaks[200] - peaks[50] < 25, peaks


def _write_minutes(path: Path, minutes: int) -> Path:
    """A 16 kHz 16-bit tone of `minutes`, written a minute at a time."""
    t = np.arange(60 * 16_000) / 16_000
    minute = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * np.random.default_rng(0).normal(size=t.size)
    with sf.SoundFile(path, "w", 16_000, 1, "PCM_16") as stream:
        for _ in range(minutes):
            stream.write(minute)
    return path


@pytest.mark.slow
def test_an_hour_of_audio_needs_no_more_memory_than_15_minutes(asr_model, tmp_path):
    peaks = {}
    for minutes in (15, 60):
        audio = _write_minutes(tmp_path / f"{minutes}min.wav", minutes)
        peaks[minutes] = peak_rss_mb([BIN / "asr-transcribe", "--model", asr_model, "--format",
                                      "jsonl", "--threads", "1", "--chunk-seconds", "20",
                                      audio], tmp_path)
        assert f'"duration": {minutes * 60}.0' in (tmp_path / "out.txt").read_text()
    assert peaks[60] - peaks[15] < 25, peaks
