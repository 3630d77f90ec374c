"""Training with several processes (echoformer.training.distributed): DDP on CPU with gloo.

Two processes, each on half of every update's batches, must make the same update as one
process on the whole batch: gradients are normalised by the tokens of the global update.
Tolerance: float32, atol 1e-6 / rtol 1e-5 on gradients and parameters (the two runs sum the
same numbers in a different order).
"""

import csv
import dataclasses
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from echoformer.training import Trainer, TrainerConfig
from echoformer.training.distributed import World, load_own, process_group

BIN = Path(sys.executable).parent
TOLERANCE = {"atol": 1e-6, "rtol": 1e-5}
EXAMPLES = 24
DATA_X = torch.randn(EXAMPLES, 4, generator=torch.Generator().manual_seed(1))
DATA_Y = DATA_X @ torch.tensor([1.0, -2.0, 0.5, 3.0])
WEIGHTS = torch.tensor([1.0, 2.0, 3.0]).repeat(EXAMPLES // 3)  # uneven tokens per batch


class WeightedRegression(nn.Module):
    """Weighted squared error of a small MLP; `tokens` = the weights' sum, so the ranks' halves
    of an update have different token counts. Remembers which examples it trained on."""

    def __init__(self, poisoned_example: int | None = None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1))
        self.seen: list[int] = []
        self.poisoned_example = poisoned_example  # its batch gets a NaN loss

    def forward(self, ids, x, y, w):
        if self.training:
            self.seen.extend(ids.tolist())
        loss = (w * (self.net(x).squeeze(-1) - y) ** 2).sum()
        if self.poisoned_example in ids.tolist():
            loss = loss * float("nan")
        return {"loss": loss, "tokens": w.sum()}


def batches(epoch: int, size: int):
    """Consecutive chunks of a per-epoch permutation: chunk k of size 4 is chunks 2k and
    2k+1 of size 2 together."""
    order = torch.randperm(EXAMPLES, generator=torch.Generator().manual_seed(epoch))
    for start in range(0, EXAMPLES, size):
        rows = order[start:start + size]
        yield {"ids": rows, "x": DATA_X[rows], "y": DATA_Y[rows], "w": WEIGHTS[rows]}


def config(max_steps: int) -> TrainerConfig:
    return TrainerConfig(lr=0.05, warmup_steps=2, max_steps=max_steps, valid_every=2,
                         save_every=2, keep_checkpoints=10, average_last=2, patience=0,
                         log_every=1, progress=False, seed=3, amp=False,
                         clip_norm=0.0)  # no clipping: it would hide a wrong scale


def train_recording(trainer: Trainer, batch_size: int) -> list[list[torch.Tensor]]:
    """Fit, recording the gradients each optimizer step applies."""
    gradients = []
    params = list(trainer.model.parameters())
    trainer.optimizer.register_step_pre_hook(
        lambda *_: gradients.append([p.grad.clone() for p in params]))
    trainer.fit(lambda epoch: batches(epoch, batch_size), lambda: batches(99, batch_size))
    return gradients


def _rank_main(rank: int, port: int, run_dir: Path, results: Path) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE="2", LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    # Each rank is given its own folder so that the test can tell who wrote what; in real
    # runs all ranks get the same one.
    out_dir = run_dir if rank == 0 else run_dir.with_name(f"{run_dir.name}_rank{rank}")
    with process_group(torch.device("cpu")) as (world, device):
        assert (world.rank, world.size) == (rank, 2)
        first = Trainer(WeightedRegression(), config(max_steps=4), out_dir, device)
        first_gradients = train_recording(first, batch_size=2)
        # A new run into the same folder: rank 0 reads the checkpoint and sends it on.
        second = Trainer(WeightedRegression(), config(max_steps=6), out_dir, device)
        second_gradients = train_recording(second, batch_size=2)
        # A NaN loss on one rank only: every rank skips that update.
        poisoned_example = int(torch.randperm(EXAMPLES, generator=torch.Generator()
                                              .manual_seed(0))[2])  # rank 1's first batch
        poisoned = Trainer(WeightedRegression(poisoned_example), config(max_steps=3),
                           run_dir.with_name(f"poisoned{rank}"), device).fit(
            lambda epoch: batches(epoch, 2))
        # Out of time by rank 0's clock: every rank stops after the same update.
        timed = Trainer(WeightedRegression(), dataclasses.replace(
            config(max_steps=100), max_minutes=0.0), run_dir.with_name(f"timed{rank}"),
            device).fit(lambda epoch: batches(epoch, 2))
        # Validation metrics (BLEU) come from rank 0 to all; checkpoints averaged by them.
        best = Trainer(WeightedRegression(), dataclasses.replace(
            config(max_steps=6), best_metric="bleu", average_by="best", average_last=1,
            keep_checkpoints=1), run_dir.with_name(f"best{rank}"), device)
        by_bleu = best.fit(lambda epoch: batches(epoch, 2), lambda: batches(99, 2),
                           lambda model: {"bleu": {2: 1.0, 4: 3.0, 6: 2.0}[best.progress.step]})
        # ... and an error there is raised on every rank, not left to hang the others.
        try:
            Trainer(WeightedRegression(), config(max_steps=2), run_dir.with_name(
                f"failing{rank}"), device).fit(lambda epoch: batches(epoch, 2),
                                                lambda: batches(99, 2), _fail_on_rank_0)
            failed = ""
        except RuntimeError as error:
            failed = str(error)
        torch.save({"seen": first.model.seen, "gradients": first_gradients + second_gradients,
                    "params": second.model.state_dict(),
                    "poisoned": (poisoned.progress.step, poisoned.progress.skipped_updates),
                    "timed": (timed.stop_reason, timed.progress.step),
                    "by_bleu": (by_bleu.progress.valid_history, by_bleu.averaged_steps),
                    "failed": failed},
                   results / f"rank{rank}.pt")


def _fail_on_rank_0(model: nn.Module) -> dict[str, float]:
    if int(os.environ["RANK"]) == 0:
        raise ValueError("no sentences to score")
    raise AssertionError("only rank 0 computes the validation metrics")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def log_rows(run_dir: Path) -> list[dict]:
    with open(run_dir / "train_log.csv", newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """Rank results of a 2-process run (4 steps, then a resumed run to step 6)."""
    root = tmp_path_factory.mktemp("ddp")
    results = root / "results"
    results.mkdir()
    mp.spawn(_rank_main, args=(free_port(), root / "run", results), nprocs=2, join=True)
    return root, [torch.load(results / f"rank{r}.pt") for r in range(2)]


def test_each_rank_trains_on_its_own_batches(two_ranks):
    _, (rank0, rank1) = two_ranks
    assert rank0["seen"] and rank1["seen"]
    assert not set(rank0["seen"]) & set(rank1["seen"])  # 4 updates: 16 of 24 examples
    together = sorted(rank0["seen"] + rank1["seen"])
    first_16 = sorted(torch.randperm(EXAMPLES, generator=torch.Generator().manual_seed(0))
                      [:16].tolist())
    assert together == first_16


def test_two_ranks_make_the_update_of_one_process_on_the_global_batch(two_ranks, tmp_path):
    root, (rank0, rank1) = two_ranks
    single = Trainer(WeightedRegression(), config(max_steps=6), tmp_path / "single", "cpu")
    single_gradients = train_recording(single, batch_size=4)
    assert len(rank0["gradients"]) == len(single_gradients) == 6  # 4 + 2 after the resume
    for step, expected in enumerate(single_gradients):
        for got0, got1, want in zip(rank0["gradients"][step], rank1["gradients"][step],
                                    expected):
            torch.testing.assert_close(got0, want, **TOLERANCE)
            torch.testing.assert_close(got1, got0, atol=0, rtol=0)
    for name, want in single.model.state_dict().items():
        torch.testing.assert_close(rank0["params"][name], want, **TOLERANCE)
        torch.testing.assert_close(rank1["params"][name], want, **TOLERANCE)
    # The logged losses (train and the sharded validation) are those of the global batches.
    for ours, theirs in zip(log_rows(root / "run"), log_rows(tmp_path / "single"), strict=True):
        assert (ours["step"], ours["split"]) == (theirs["step"], theirs["split"])
        assert float(ours["loss"]) == pytest.approx(float(theirs["loss"]), rel=1e-5)


def test_only_rank_0_writes_files(two_ranks):
    root, _ = two_ranks
    assert not (root / "run_rank1").exists()
    assert sorted(p.name for p in (root / "run" / "checkpoints").glob("*.pt")) == [
        f"step_0000000{s}.pt" for s in (2, 4, 6)]
    steps = [int(r["step"]) for r in log_rows(root / "run") if r["split"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]  # each once: one writer, resumed at 4
    state = torch.load(root / "run" / "checkpoints" / "step_00000006.pt", weights_only=True)
    assert len(state["rng_by_rank"]) == 2  # every rank's RNG, to resume each


def test_a_non_finite_loss_on_one_rank_skips_the_update_on_all(two_ranks):
    _, ranks = two_ranks
    assert [rank["poisoned"] for rank in ranks] == [(3, 1), (3, 1)]  # 3 steps, 1 skipped


def test_ranks_stop_together_on_rank_0s_clock(two_ranks):
    _, ranks = two_ranks
    assert [rank["timed"] for rank in ranks] == [("max_minutes", 1), ("max_minutes", 1)]


def test_validation_metrics_of_rank_0_steer_every_rank(two_ranks):
    _, (rank0, rank1) = two_ranks
    history = {2: 1.0, 4: 3.0, 6: 2.0}
    assert rank0["by_bleu"] == (history, [4])  # only rank 0 reads checkpoints back
    assert rank1["by_bleu"] == (history, [])
    assert [rank["failed"] for rank in (rank0, rank1)] == [
        "validation metrics failed on rank 0: ValueError: no sentences to score"] * 2


def test_a_rank_loads_only_its_own_batches():
    loaded = []

    def load(mine):
        loaded.extend(mine)
        return [f"batch {b}" for b in mine]

    world = World(rank=1, size=3)
    assert list(load_own(["a", "b", "c", "d", "e"], load, world)) == [
        None, "batch b", None, None, "batch e"]
    assert loaded == ["b", "e"]


def test_single_process_world_is_the_default():
    with process_group(torch.device("cpu")) as (world, device):
        assert (world.rank, world.size, world.is_main, device.type) == (0, 1, True, "cpu")
        assert world.from_main("x") == "x" and world.sum([1.0, 2.0]) == [1.0, 2.0]


def test_torchrun_nmt_train_with_two_processes(tmp_path):
    """The console script under torchrun: one run folder, written by rank 0 only."""
    from tiny_nmt import write_tiny_corpus

    corpus = write_tiny_corpus(tmp_path / "corpus")
    run_dir, cwd = tmp_path / "run", tmp_path / "cwd"
    cwd.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [BIN / "torchrun", "--standalone", "--nproc-per-node", "2", BIN / "nmt-train",
         f"data.dir={corpus}", "data.max_tokens=200", "trainer.max_steps=6",
         "trainer.warmup_steps=2", "trainer.save_every=3", "trainer.valid_every=3",
         "trainer.log_every=1", "trainer.progress=false", "threads=1", "device=cpu",
         f"hydra.run.dir={run_dir}"], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stderr
    assert "× 2 processes" in result.stderr
    assert sorted(os.listdir(cwd)) == []  # the other rank made no folder of its own
    assert sorted(p.name for p in run_dir.iterdir()) == [
        ".hydra", "checkpoints", "model", "run_config.yaml", "train.log", "train_log.csv"]
    steps = [int(r["step"]) for r in log_rows(run_dir) if r["split"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_torchrun_asr_train_with_two_processes(tmp_path):
    """asr-train under torchrun: each rank loads only its own batches; rank 0 writes."""
    from test_resume import write_speech_data

    speech = write_speech_data(tmp_path / "speech")
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [BIN / "torchrun", "--standalone", "--nproc-per-node", "2", BIN / "asr-train",
         f"data.dir={speech}", "data.max_batch_seconds=6", "trainer.max_steps=4",
         "trainer.warmup_steps=2", "trainer.save_every=2", "trainer.valid_every=2",
         "trainer.log_every=1", "trainer.progress=false", "threads=1", "device=cpu",
         "reuse=g2", f"hydra.run.dir={run_dir}"], cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stderr
    assert "× 2 processes" in result.stderr
    assert (run_dir / "model").is_dir()
    steps = [int(r["step"]) for r in log_rows(run_dir) if r["split"] == "train"]
    assert steps == [1, 2, 3, 4]
