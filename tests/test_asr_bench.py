"""`bench suite=asr`: encoder latency records, the full run's output, and its errors."""

import importlib.util
import json
import subprocess
import sys
from dataclasses import replace

import pytest

from asr.bench import encoder_flops, encoder_records, onnxruntime_missing
from asr_fixtures import TINY, untrained_model_dir, write_tone

BENCH = [sys.executable, "-m", "echoformer.bench.app", "suite=asr", "quick=true", "threads=1"]


def test_encoder_records_compare_no_reuse_with_reuse_per_length():
    config = replace(TINY, encoder_layers=4)
    encoder, attention, peer = encoder_records(config, [0.5, 1.0], reuse=[2, 2],
                                               device="cpu", warmup=0, repeats=1)
    assert peer == []  # onnxruntime rows only when asked for
    assert [r["frames"] for r in encoder] == [50, 100]
    for r in encoder:
        assert r["pattern"] == [2, 2]
        assert r["speedup"] == pytest.approx(r["baseline_ms"] / r["reuse_ms"])
        assert r["of_bound"] == pytest.approx(r["speedup"] / r["bound"])
    assert 1.0 < encoder[0]["bound"] < encoder[1]["bound"]  # attention grows as L²
    for r in attention:
        assert 0.0 <= r["attention_share"] < 1.0


def test_the_bound_of_an_uneven_pattern_comes_from_its_operation_counts():
    config = replace(TINY, encoder_layers=4)
    encoder, _, _ = encoder_records(config, [0.5], reuse=[1, 3], device="cpu", warmup=0,
                                    repeats=1)
    assert encoder[0]["pattern"] == [1, 3]
    assert encoder[0]["bound"] == pytest.approx(
        encoder_flops(config, 50, [1] * 4) / encoder_flops(config, 50, [1, 3]))


@pytest.mark.skipif(onnxruntime_missing("cpu") is not None,
                    reason=f"no ONNX Runtime rows: {onnxruntime_missing('cpu')}")
def test_onnxruntime_rows_time_the_exported_encoders_beside_ours():
    config = replace(TINY, encoder_layers=4)
    encoder, _, peer = encoder_records(config, [0.5, 1.0], reuse=[1, 3], device="cpu",
                                       warmup=0, repeats=1, onnxruntime=True)
    assert [(r["seconds"], r["variant"], r["pattern"]) for r in peer] == [
        (0.5, "no reuse", [1, 1, 1, 1]), (0.5, "reuse", [1, 3]),
        (1.0, "no reuse", [1, 1, 1, 1]), (1.0, "reuse", [1, 3])]
    for r, ours in zip(peer, [e[k] for e in encoder for k in ("baseline_ms", "reuse_ms")]):
        assert r["engine"] == "onnxruntime" and r["ours_ms"] == ours
        assert r["ratio"] == pytest.approx(r["ms"] / r["ours_ms"])
        assert r["max_abs_diff"] <= 1e-4  # the same function


def test_without_the_peer_or_on_cuda_the_reason_for_no_onnxruntime_rows_is_given(
        monkeypatch):
    assert "CPU only" in onnxruntime_missing("cuda")
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "onnxruntime" else find_spec(name, *a))
    assert onnxruntime_missing("cpu") == ("onnxruntime is not installed "
                                          "(pip install 'echoformer[peers]')")


def test_the_operation_count_bound_follows_the_pattern():
    config = replace(TINY, encoder_layers=4)
    plain = encoder_flops(config, 1000, [1, 1, 1, 1])
    assert encoder_flops(config, 1000, [1, 1, 2]) == encoder_flops(config, 1000, [2, 1, 1])
    # Each follower saves the q/k and position projections, scores and softmax of a layer.
    assert plain > encoder_flops(config, 1000, [2, 2]) > encoder_flops(config, 1000, [4])
    assert plain / encoder_flops(config, 1000, [4]) < 4  # FFN, conv and P·V work stays


@pytest.fixture(scope="module")
def model_and_manifest(tmp_path_factory):
    folder = tmp_path_factory.mktemp("asr_bench")
    model_dir = untrained_model_dir(folder)
    rows = []
    for i, seconds in enumerate([1.0, 1.5, 2.0]):
        write_tone(folder / f"tone{i}.wav", seconds)
        rows.append({"audio": f"tone{i}.wav", "duration": seconds, "text": "the cat"})
    manifest = folder / "test.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return model_dir, manifest


def test_quick_run_writes_the_three_record_lists(model_and_manifest, tmp_path):
    model_dir, manifest = model_and_manifest
    subprocess.run(BENCH + [f"model={model_dir}", f"asr.manifest={manifest}",
                            "asr.seconds=[1,2]", "repeats=1", f"hydra.run.dir={tmp_path}"],
                   check=True, capture_output=True)
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["seconds"] for r in results["encoder"]] == [1, 2]
    for r in results["encoder"]:
        assert {"seconds", "frames", "baseline_ms", "reuse_ms", "speedup", "pattern"} <= r.keys()
    for r in results["attention"]:
        assert {"seconds", "frames", "attention_share"} <= r.keys()
    assert [r["method"] for r in results["rtf"]] == [
        "ctc_greedy", "ctc_prefix_beam", "joint_beam", "attention_rescoring"]
    for r in results["rtf"]:
        assert r["audio_seconds"] == pytest.approx(2.5)  # max_utterances=2 in quick mode
        assert r["rtf"] == pytest.approx(r["processing_seconds"] / r["audio_seconds"])
    for name in ("report.md", "asr_encoder.png"):
        assert (tmp_path / name).is_file(), name
    if onnxruntime_missing("cpu") is None:
        assert [(r["seconds"], r["variant"]) for r in results["peer"]] == [
            (1, "no reuse"), (1, "reuse"), (2, "no reuse"), (2, "reuse")]
        assert "onnxruntime ms" in (tmp_path / "report.md").read_text()
    else:
        assert results["peer"] == [] and results["peer_skipped"] == onnxruntime_missing("cpu")


@pytest.mark.parametrize("override, named", [("asr.pattern=[3,5,7]", "asr.pattern"),
                                             ("asr.group_size=0", "asr.group_size=0")])
def test_a_reuse_setting_that_does_not_fit_the_encoder_is_one_clear_error(
        model_and_manifest, tmp_path, override, named):
    model_dir, manifest = model_and_manifest
    run = subprocess.run(BENCH + [f"model={model_dir}", f"asr.manifest={manifest}", override,
                                  f"hydra.run.dir={tmp_path}"], capture_output=True, text=True)
    assert run.returncode != 0
    assert run.stderr.startswith(f"bench suite=asr: {named}")
    assert "Traceback" not in run.stderr


def test_a_missing_model_directory_is_named(tmp_path):
    run = subprocess.run(BENCH + [f"model={tmp_path / 'nothing'}", f"hydra.run.dir={tmp_path}"],
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert "model directory" in run.stderr and "nothing" in run.stderr


def test_a_model_without_recorded_data_needs_a_manifest(model_and_manifest, tmp_path):
    model_dir, _ = model_and_manifest
    run = subprocess.run(BENCH + [f"model={model_dir}", f"hydra.run.dir={tmp_path}"],
                         capture_output=True, text=True)
    assert run.returncode != 0
    assert "asr.manifest=" in run.stderr


def test_a_language_model_adds_rows_for_the_methods_that_fuse_one(model_and_manifest, tmp_path):
    import torch

    from asr.lm import PieceLM, PieceLMConfig
    from echoformer.model_dir import save_model_dir
    from echoformer.tokenizer import Tokenizer

    model_dir, manifest = model_and_manifest
    spm = model_dir / "spm.model"
    torch.manual_seed(0)
    lm = PieceLM(PieceLMConfig(hidden_dim=16, num_layers=1, dropout=0.0),
                 Tokenizer(spm).vocab_size)
    lm_dir = save_model_dir(tmp_path / "lm", lm, lm.state_dict(), spm, {
        "task": "language_model", "decoding": {"lm_weight": 0.5, "length_penalty": 0.0,
                                               "beam_size": 3}})
    out = tmp_path / "bench"
    subprocess.run(BENCH + [f"model={model_dir}", f"asr.manifest={manifest}", "asr.seconds=[1]",
                            "repeats=1", "asr.methods=[ctc_greedy,joint_beam]",
                            "asr.onnxruntime=false",
                            f"asr.lm={lm_dir}", f"hydra.run.dir={out}"],
                   check=True, capture_output=True)
    results = json.loads((out / "results.json").read_text())
    assert [r["method"] for r in results["rtf"]] == ["ctc_greedy", "joint_beam",
                                                     "joint_beam + LM"]
    assert [r["beam_size"] for r in results["rtf"]] == [2, 2, 3]  # the model's, the LM's
    assert "joint_beam + LM" in (out / "report.md").read_text()
    run = subprocess.run(BENCH + [f"model={model_dir}", f"asr.manifest={manifest}",
                                  f"asr.lm={model_dir}", f"hydra.run.dir={out}"],
                         capture_output=True, text=True)
    assert run.returncode != 0 and "not a language model" in run.stderr
