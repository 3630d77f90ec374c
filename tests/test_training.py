"""The task-agnostic trainer (echoformer.training): loop, resume, checkpoints, averaging."""

import csv
import dataclasses

import pytest
import torch
from torch import nn

from echoformer.training import (CheckpointStore, NonFiniteLossError, Trainer, TrainerConfig)
from echoformer.training.run_dir import check_resumable, describe_start, starting_point
from echoformer.training.schedule import inverse_sqrt_factor


class Regression(nn.Module):
    """Sum of squared errors of a linear map; `tokens` = examples. Dropout uses the RNG."""

    def __init__(self, dropout: float = 0.1) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(4, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, y, poison=None):
        loss = ((self.linear(self.dropout(x)).squeeze(-1) - y) ** 2).sum()
        if poison is not None and bool(poison.any()):
            loss = loss * float("nan")
        return {"loss": loss, "tokens": torch.tensor(float(len(y)))}


DATA_X = torch.randn(32, 4, generator=torch.Generator().manual_seed(1))
DATA_Y = DATA_X @ torch.tensor([1.0, -2.0, 0.5, 3.0])


def batches(epoch: int, size: int = 4, poisoned: frozenset = frozenset()):
    order = torch.randperm(32, generator=torch.Generator().manual_seed(epoch))
    for number, start in enumerate(range(0, 32, size)):
        rows = order[start:start + size]
        yield {"x": DATA_X[rows], "y": DATA_Y[rows],
               "poison": torch.tensor([(epoch, number) in poisoned])}


def config(**changes) -> TrainerConfig:
    base = TrainerConfig(lr=0.05, warmup_steps=2, max_steps=20, valid_every=5, save_every=5,
                         keep_checkpoints=10, average_last=3, patience=0, log_every=1,
                         progress=False, seed=3)
    return dataclasses.replace(base, **changes)


def log_rows(out_dir, split="train"):
    with open(out_dir / "train_log.csv", newline="") as stream:
        return [row for row in csv.DictReader(stream) if row["split"] == split]


def test_loss_drops_and_is_logged_with_throughput(tmp_path):
    trainer = Trainer(Regression(dropout=0.0), config(lr=0.5, max_steps=40), tmp_path)
    summary = trainer.fit(batches)
    rows = log_rows(tmp_path)
    losses = [float(row["loss"]) for row in rows]
    assert summary.progress.step == 40 and summary.stop_reason == "max_steps"
    assert sum(losses[-8:]) < 0.1 * sum(losses[:8])
    assert all(float(row["tokens_per_s"]) > 0 for row in rows)


@pytest.mark.parametrize("max_minutes", [None, 10.0])
def test_the_progress_bar_shows_the_time_budget_left_instead_of_an_eta_to_max_steps(
        tmp_path, capsys, max_minutes):
    Trainer(Regression(), config(progress=True, max_minutes=max_minutes), tmp_path).fit(batches)
    bar = capsys.readouterr().err
    assert ("20/20" in bar) is (max_minutes is None)
    assert ("left=9:" in bar or "left=10:" in bar) is (max_minutes is not None)


def test_validation_runs_every_n_steps(tmp_path):
    Trainer(Regression(), config(max_steps=20), tmp_path).fit(batches, lambda: batches(99))
    assert [int(row["step"]) for row in log_rows(tmp_path, "valid")] == [5, 10, 15, 20]


def test_a_rerun_resumes_and_ends_exactly_where_an_uninterrupted_run_ends(tmp_path):
    straight = Trainer(Regression(), config(max_steps=20), tmp_path / "a")
    straight.fit(batches)
    Trainer(Regression(), config(max_steps=10), tmp_path / "b").fit(batches)
    resumed = Trainer(Regression(), config(max_steps=20), tmp_path / "b")
    summary = resumed.fit(batches)
    assert summary.progress.step == 20
    assert [int(r["step"]) for r in log_rows(tmp_path / "b")] == list(range(1, 21))
    for name, value in straight.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, atol=0, rtol=0)


def test_a_resumed_run_keeps_the_record_of_the_weights_it_began_from(tmp_path):
    record = starting_point(tmp_path, "models/x", "aaa")
    assert record == {"path": "models/x", "weights_sha256": "aaa"}
    check_resumable(tmp_path, {"initialised_from": record}, {})
    assert describe_start(tmp_path, record) == "; starting from the weights of models/x"
    # No checkpoint yet: a rerun starts from the folder's weights again, so records them anew.
    assert starting_point(tmp_path, "models/x", "bbb")["weights_sha256"] == "bbb"
    Trainer(Regression(), config(max_steps=5), tmp_path).fit(batches)
    # Resuming: the checkpoints carry the run on, whatever models/x holds by now.
    assert starting_point(tmp_path, "models/x", "bbb") == record
    assert describe_start(tmp_path, record) == "; begun from the weights of models/x"
    # A run begun from random weights stays so when init_from is added on resuming.
    check_resumable(tmp_path, {"initialised_from": None}, {})
    assert starting_point(tmp_path, "models/x", "bbb") is None
    assert describe_start(tmp_path, None) == ""


def test_checkpoints_are_plain_state_dicts_written_without_leftovers(tmp_path):
    Trainer(Regression(), config(max_steps=10), tmp_path).fit(batches)
    folder = tmp_path / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == [
        "step_00000005.pt", "step_00000005.pt.sha256", "step_00000010.pt",
        "step_00000010.pt.sha256"]
    state = torch.load(folder / "step_00000010.pt", weights_only=True)
    assert state["progress"]["step"] == 10
    assert set(state) >= {"model", "optimizer", "scheduler", "scaler", "rng"}


def test_the_last_k_checkpoints_are_averaged(tmp_path):
    summary = Trainer(Regression(), config(max_steps=20), tmp_path).fit(batches)
    store = CheckpointStore(tmp_path / "checkpoints")
    assert summary.averaged_steps == [10, 15, 20]
    expected = sum(store.load(s)["model"]["linear.weight"] for s in (10, 15, 20)) / 3
    torch.testing.assert_close(summary.averaged_state["linear.weight"], expected)


# A validation figure to maximise, by step: best at 10, then 25.
BLEU_BY_STEP = {5: 1.0, 10: 3.0, 15: 2.0, 20: 0.5, 25: 2.5, 30: 1.5}


def fit_with_bleu(out_dir, bleu_by_step=BLEU_BY_STEP, **changes):
    trainer = Trainer(Regression(), config(**changes), out_dir)
    return trainer.fit(batches, lambda: batches(99),
                       lambda model: {"bleu": bleu_by_step[trainer.progress.step]})


def test_the_best_k_checkpoints_by_a_validation_metric_are_kept_and_averaged(tmp_path):
    best = dict(save_every=10, keep_checkpoints=1, average_last=2, best_metric="bleu",
                average_by="best")
    fit_with_bleu(tmp_path, max_steps=15, **best)  # interrupted, then resumed
    summary = fit_with_bleu(tmp_path, max_steps=30, **best)
    store = CheckpointStore(tmp_path / "checkpoints")
    assert summary.averaged_steps == [10, 25]  # validated steps are saved too (25)
    assert store.steps() == [10, 25, 30]  # the best two and the newest
    expected = sum(store.load(s)["model"]["linear.weight"] for s in (10, 25)) / 2
    torch.testing.assert_close(summary.averaged_state["linear.weight"], expected)
    valid = log_rows(tmp_path, "valid")
    assert [float(row["bleu"]) for row in valid] == [BLEU_BY_STEP[s] for s in (5, 10, 15, 20,
                                                                               25, 30)]
    assert all(row["bleu"] == "" for row in log_rows(tmp_path))  # the widened header


def test_best_averaging_keeps_saved_checkpoints_over_validated_steps_never_saved(tmp_path):
    unsaved_best = {**BLEU_BY_STEP, 5: 9.0}  # step 5 is validated but has no checkpoint
    fit_with_bleu(tmp_path, unsaved_best, max_steps=15, save_every=10, best_metric="bleu")
    summary = fit_with_bleu(tmp_path, unsaved_best, max_steps=30, save_every=10,
                            keep_checkpoints=1, average_last=2, best_metric="bleu",
                            average_by="best")
    assert summary.averaged_steps == [10, 25]
    assert CheckpointStore(tmp_path / "checkpoints").steps() == [10, 25, 30]


def test_a_resumed_run_watching_another_metric_starts_its_history_afresh(tmp_path, capsys):
    fit_with_bleu(tmp_path, max_steps=15, best_metric="bleu")
    summary = Trainer(Regression(), config(max_steps=30), tmp_path).fit(batches,
                                                                        lambda: batches(99))
    assert sorted(summary.progress.valid_history) == [20, 25, 30]
    assert summary.progress.best_metric == "nll"
    assert "best_metric is now nll (was bleu)" in capsys.readouterr().err


def test_early_stop_watches_the_best_metric_and_maximises_bleu(tmp_path):
    summary = fit_with_bleu(tmp_path, max_steps=30, patience=2, best_metric="bleu")
    assert (summary.stop_reason, summary.progress.step) == ("early_stop", 20)
    assert summary.averaged_steps == [10, 15, 20]  # average_by: last


def test_a_best_metric_the_validation_does_not_report_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="best_metric='bleu'.*reports loss"):
        Trainer(Regression(), config(best_metric="bleu"), tmp_path).fit(batches,
                                                                        lambda: batches(99))
    with pytest.raises(ValueError, match="average_by='top'"):
        TrainerConfig(average_by="top")


def test_a_damaged_checkpoint_is_reported_and_the_previous_one_used(tmp_path, capsys):
    Trainer(Regression(), config(max_steps=10), tmp_path).fit(batches)
    newest = tmp_path / "checkpoints" / "step_00000010.pt"
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a bit flip torch.load alone would not notice
    newest.write_bytes(bytes(data))
    trainer = Trainer(Regression(), config(max_steps=10), tmp_path)
    assert trainer.resume()
    assert trainer.progress.step == 5
    assert "step_00000010.pt is damaged" in capsys.readouterr().err


def test_a_checkpoint_without_its_checksum_counts_as_incomplete(tmp_path, capsys):
    Trainer(Regression(), config(max_steps=10), tmp_path).fit(batches)
    (tmp_path / "checkpoints" / "step_00000010.pt.sha256").unlink()
    trainer = Trainer(Regression(), config(max_steps=10), tmp_path)
    trainer.resume()
    assert trainer.progress.step == 5
    assert "incomplete" in capsys.readouterr().err


def test_updates_with_a_non_finite_loss_are_skipped_and_counted(tmp_path):
    poisoned = frozenset({(0, 1), (0, 3)})
    trainer = Trainer(Regression(), config(max_steps=10), tmp_path)
    summary = trainer.fit(lambda epoch: batches(epoch, poisoned=poisoned))
    assert summary.progress.skipped_updates == 2
    assert summary.progress.step == 10
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())


def test_too_many_non_finite_updates_in_a_row_stop_with_advice(tmp_path):
    always = frozenset((e, n) for e in range(5) for n in range(8))
    trainer = Trainer(Regression(), config(max_skipped_in_a_row=3), tmp_path)
    with pytest.raises(NonFiniteLossError, match="lower trainer.lr"):
        trainer.fit(lambda epoch: batches(epoch, poisoned=always))


def test_accumulating_two_batches_equals_one_batch_twice_the_size(tmp_path):
    one = Trainer(Regression(dropout=0.0), config(max_steps=1, accumulate=2), tmp_path / "a")
    one.fit(lambda epoch: batches(epoch, size=2))
    big = Trainer(Regression(dropout=0.0), config(max_steps=1), tmp_path / "b")
    big.fit(lambda epoch: batches(epoch, size=4))
    torch.testing.assert_close(one.model.linear.weight, big.model.linear.weight)


def test_training_stops_early_when_validation_stops_improving(tmp_path):
    summary = Trainer(Regression(), config(lr=0.0, max_steps=100, patience=2),
                      tmp_path).fit(batches, lambda: batches(99))
    assert summary.stop_reason == "early_stop"
    assert summary.progress.step == 15  # step 5 sets the best, 10 and 15 do not improve


def test_training_stops_after_max_epochs_or_max_minutes(tmp_path):
    by_epochs = Trainer(Regression(), config(max_steps=1000, max_epochs=2), tmp_path / "a")
    summary = by_epochs.fit(batches)
    assert (summary.stop_reason, summary.progress.step) == ("max_epochs", 16)  # 8 a epoch
    by_time = Trainer(Regression(), config(max_steps=1000, max_minutes=0.0), tmp_path / "b")
    assert by_time.fit(batches).stop_reason == "max_minutes"


def test_learning_rate_warms_up_linearly_then_decays_with_inverse_square_root():
    factor = inverse_sqrt_factor(warmup_steps=4)
    assert [factor(done) for done in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert factor(15) == pytest.approx(0.5)  # update 16: √(4/16)


def test_bad_trainer_settings_are_clear_errors():
    with pytest.raises(ValueError, match="trainer.accumulate=0"):
        TrainerConfig(accumulate=0)


def test_empty_training_data_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no training batches"):
        Trainer(Regression(), config(), tmp_path).fit(lambda epoch: iter([]))


def test_ctrl_c_finishes_the_update_saves_a_checkpoint_and_a_rerun_resumes(tmp_path):
    import os
    import signal

    def interrupted_batches(epoch):
        for number, batch in enumerate(batches(epoch)):
            if epoch == 0 and number == 6:
                os.kill(os.getpid(), signal.SIGINT)  # as if the user pressed Ctrl-C here
            yield batch

    # Python's own handler, as in a terminal (a shell's background job starts with SIGINT ignored)
    outer = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        summary = Trainer(Regression(), config(max_steps=20), tmp_path).fit(interrupted_batches)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    finally:
        signal.signal(signal.SIGINT, outer)
    assert summary.stop_reason == "interrupted"
    assert summary.progress.step == 7  # the update under way when Ctrl-C came was finished
    assert 7 in CheckpointStore(tmp_path / "checkpoints", 10).steps()
    resumed = Trainer(Regression(), config(max_steps=20), tmp_path).fit(batches)
    assert resumed.stop_reason == "max_steps" and resumed.progress.step == 20


def test_asr_resume_identity_allows_new_batching_but_not_new_data(tmp_path):
    from asr.train import run_identity
    from echoformer.training.run_dir import check_resumable

    config = {"data": {"dir": "d", "train": "train.jsonl", "max_batch_seconds": 120.0,
                       "cache_features": True}, "model": {"d_model": 144}, "reuse": {}}
    check_resumable(tmp_path, config, run_identity())
    rebatched = {**config, "data": {**config["data"], "max_batch_seconds": 40.0,
                                    "cache_features": False}}
    check_resumable(tmp_path, rebatched, run_identity())  # same run, other batching: fine
    other_data = {**config, "data": {**config["data"], "dir": "elsewhere"}}
    with pytest.raises(ValueError, match="data.dir"):
        check_resumable(tmp_path, other_data, run_identity())
