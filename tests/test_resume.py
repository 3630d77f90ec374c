"""Training commands killed mid-run resume from their last complete checkpoint.

`nmt-train` / `asr-train` run as subprocesses, are killed with SIGKILL once checkpoints exist,
and are rerun with the same command: the rerun names the checkpoint it resumed from, skips a
truncated newest one (clear message), continues the step count and ends with exactly the
weights of a run that was never interrupted. SIGINT saves a checkpoint and exits cleanly.
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tiny_nmt import write_tiny_corpus

BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_tiny_corpus(tmp_path_factory.mktemp("corpus"))


def nmt_train(corpus: Path, run_dir: Path, max_steps: int = 100) -> list:
    return [BIN / "nmt-train", f"data.dir={corpus}", "data.max_tokens=200",
            f"trainer.max_steps={max_steps}", "trainer.warmup_steps=10",
            "trainer.save_every=20", "trainer.valid_every=100", "trainer.log_every=10",
            "trainer.average_last=2", "trainer.progress=false", "threads=1", "device=cpu",
            f"hydra.run.dir={run_dir}"]


def complete_checkpoints(run_dir: Path) -> list[int]:
    """Steps whose checkpoint has its checksum file (written last)."""
    if not (run_dir / "checkpoints").is_dir():
        return []
    return sorted(int(p.name[5:13]) for p in (run_dir / "checkpoints").glob("step_*.pt.sha256"))


def start_and_wait(command: list, run_dir: Path, checkpoints: int) -> subprocess.Popen:
    """Start `command`; return once `run_dir` holds `checkpoints` complete checkpoints."""
    process = subprocess.Popen(command, env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while len(complete_checkpoints(run_dir)) < checkpoints:
        if process.poll() is not None:
            raise AssertionError(f"the run ended before it could be killed: "
                                 f"{process.stderr.read().decode()[-2000:]}")
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.02)
    return process


def kill(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait()
    process.stderr.close()
    assert process.returncode == -signal.SIGKILL


def train_steps(run_dir: Path) -> list[int]:
    with open(run_dir / "train_log.csv", newline="") as stream:
        return [int(row["step"]) for row in csv.DictReader(stream) if row["split"] == "train"]


def weights(run_dir: Path, step: int) -> dict[str, torch.Tensor]:
    path = run_dir / "checkpoints" / f"step_{step:08d}.pt"
    return torch.load(path, weights_only=True)["model"]


def check_killed_run_resumes(command: list, run_dir: Path, straight_command: list,
                             straight_dir: Path, max_steps: int, log_every: int) -> None:
    """Kill, damage the newest checkpoint, rerun; compare with an uninterrupted run (which
    runs meanwhile)."""
    straight = subprocess.Popen(straight_command, env=ENV, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
    kill(start_and_wait(command, run_dir, checkpoints=2))
    *_, previous, newest = complete_checkpoints(run_dir)
    path = run_dir / "checkpoints" / f"step_{newest:08d}.pt"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated
    leftover = run_dir / "checkpoints" / ".step_00099999.pt.x1y2.tmp"
    leftover.write_bytes(b"a write that a crash cut short")

    rerun = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert f"step_{newest:08d}.pt is damaged" in rerun.stderr
    assert "trying the previous checkpoint" in rerun.stderr
    assert f"resumed from step {previous} " in rerun.stderr
    assert f"max_steps at step {max_steps}" in rerun.stderr
    assert not leftover.exists()
    assert train_steps(run_dir) == sorted(set(train_steps(run_dir)))  # each step once
    assert train_steps(run_dir)[-1] == max_steps
    assert train_steps(run_dir)[:2] == [1, log_every]
    assert (run_dir / "model").is_dir()
    _, errors = straight.communicate(timeout=300)
    assert straight.returncode == 0, errors.decode()[-3000:]
    expected = weights(straight_dir, max_steps)
    for name, value in weights(run_dir, max_steps).items():
        torch.testing.assert_close(value, expected[name], atol=0, rtol=0)


def test_nmt_train_killed_with_sigkill_resumes_from_the_last_good_checkpoint(corpus,
                                                                               tmp_path):
    check_killed_run_resumes(nmt_train(corpus, tmp_path / "run"), tmp_path / "run",
                             nmt_train(corpus, tmp_path / "straight"), tmp_path / "straight",
                             max_steps=100, log_every=10)


def test_nmt_train_stops_cleanly_on_sigint_with_a_checkpoint(corpus, tmp_path):
    run_dir = tmp_path / "run"
    process = start_and_wait(nmt_train(corpus, run_dir, max_steps=100_000), run_dir, 1)
    process.send_signal(signal.SIGINT)
    _, errors = process.communicate(timeout=120)
    errors = errors.decode()
    assert process.returncode == 0, errors[-3000:]
    assert "interrupted: saving a checkpoint" in errors
    stopped_at = int(errors.split("nmt-train: interrupted at step ")[1].split(";")[0])
    assert complete_checkpoints(run_dir)[-1] == stopped_at
    assert (run_dir / "model").is_dir()


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    return write_speech_data(tmp_path_factory.mktemp("speech"))


def write_speech_data(folder: Path) -> Path:
    """Tone 'utterances' with real transcripts, a character tokenizer and CMVN."""
    from asr.data.prepare import compute_cmvn, train_transcript_tokenizer
    from asr_fixtures import SENTENCES, write_tone

    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, text in enumerate(SENTENCES * 2):
        seconds = 2.0 + 0.25 * (i % 4)
        write_tone(folder / f"utt{i}.wav", seconds)
        rows.append({"audio": f"utt{i}.wav", "duration": seconds, "text": text})
    for split, members in (("train", rows), ("dev", rows[:3])):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in members))
    train_transcript_tokenizer(folder / "train.jsonl", folder, vocab_size=30, model_type="char")
    compute_cmvn(folder / "train.jsonl", folder)
    return folder


def asr_train(data: Path, run_dir: Path, max_steps: int) -> list:
    return [BIN / "asr-train", f"data.dir={data}", "data.max_batch_seconds=6",
            f"trainer.max_steps={max_steps}", "trainer.warmup_steps=10",
            "trainer.save_every=5", "trainer.valid_every=100", "trainer.log_every=5",
            "trainer.average_last=2", "trainer.progress=false", "threads=1", "device=cpu",
            f"hydra.run.dir={run_dir}"]


def test_asr_train_killed_with_sigkill_resumes_from_the_last_good_checkpoint(speech,
                                                                               tmp_path):
    check_killed_run_resumes(asr_train(speech, tmp_path / "run", 30), tmp_path / "run",
                             asr_train(speech, tmp_path / "straight", 30),
                             tmp_path / "straight", max_steps=30, log_every=5)
