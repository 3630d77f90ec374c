"""`bench suite=nmt`: decoding (float32 and int8), encoder and agreement records from a model
directory. The peer rows (CTranslate2): tests/test_nmt_bench_peer.py."""

import json
import subprocess
import sys

import pytest
import torch

from echoformer.model_dir import save_model_dir
from echoformer.output_layer import SoftmaxConfig
from echoformer.tokenizer import Tokenizer
from nmt.bench import encoder_flops
from nmt.model import NMTModelConfig, TransformerNMT
from tiny_nmt import TINY, write_tiny_corpus

BENCH = [sys.executable, "-m", "echoformer.bench.app", "suite=nmt", "quick=true", "threads=1"]
STORED_W, STORED_N = 3, 24  # not D/8, V/16: the defaults


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    corpus = write_tiny_corpus(tmp_path_factory.mktemp("corpus"))
    torch.manual_seed(0)
    # The model's stored SVD-softmax defaults (W, N), which the suite's SVD rows must use.
    model = TransformerNMT(TINY, Tokenizer(corpus / "spm.model").vocab_size,
                           softmax=SoftmaxConfig("full", STORED_W, STORED_N))
    run_config = {"data": {"dir": str(corpus), "src_lang": "en", "tgt_lang": "de"}}
    return save_model_dir(tmp_path_factory.mktemp("model") / "model", model, model.state_dict(),
                          corpus / "spm.model", {"task": "translation"}, run_config)


@pytest.fixture(scope="module")
def quick_run(model_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    subprocess.run(BENCH + [f"model={model_dir}", f"hydra.run.dir={out}"], check=True,
                   capture_output=True)
    return out


def test_nmt_suite_reports_decoding_encoder_and_agreement(quick_run):
    results = json.loads((quick_run / "results.json").read_text())
    cases = {(r["softmax"], r["dtype"], r["beam"], r["batch"]) for r in results["decoding"]}
    assert len(cases) == len(results["decoding"]) == 16
    assert cases == {(s, d, b, n) for s in ("full", "svd") for d in ("float32", "int8")
                     for b in (1, 5) for n in (1, 8)}
    for r in results["decoding"]:
        assert r["sentences_per_s"] > 0 and r["tokens_per_s"] >= 0
        assert r["bleu"] is not None and 0 <= r["bleu"] <= 100 + 1e-9  # against the test split
    assert {r["batch"] for r in results["encoder"]} == {1, 8}
    for r in results["encoder"]:
        assert r["pattern"] == [4]
        assert r["bound"] > 1 and r["of_bound"] == pytest.approx(r["speedup"] / r["bound"])
    agreement = results["agreement"]
    assert agreement["states"] > 0 and 0 <= agreement["top5_agreement"] <= 1
    assert (agreement["W"], agreement["N"]) == (STORED_W, STORED_N)
    assert results["setup"]["svd"] == {"kind": "svd", "window": STORED_W,
                                       "candidates": STORED_N}
    assert "## SVD-softmax agreement" in (quick_run / "report.md").read_text()


def test_nmt_suite_times_a_large_vocabulary_with_forced_length(quick_run):
    large = json.loads((quick_run / "results.json").read_text())["large_vocab"]
    setup = large["setup"]
    assert setup["vocab"] == 16384 and setup["weights"].startswith("random")
    assert {(r["softmax"], r["beam"], r["batch"]) for r in large["records"]} == {
        (s, b, n) for s in ("full", "svd") for b in (1, 5) for n in (1, 8)}
    d, w, n, v = setup["d_model"], setup["W"], setup["N"], setup["vocab"]
    for r in large["records"]:
        seconds = r["ms"] / 1e3  # every hypothesis has exactly tokens_per_sentence tokens
        assert r["tokens_per_s"] * seconds == pytest.approx(
            setup["sentences"] * setup["tokens_per_sentence"])
        expected = 4 * (d * d + v * (w + 1) + n * (d - w)) if r["path"] == "svd" else \
            4 * v * (d + 1)
        assert r["bytes_per_step"] == expected
        if r["path"] == "svd":  # the beam's candidates: at least N words, at most V
            assert n / v <= r["union_fraction"] <= 1
    assert {r["path"] for r in large["records"] if r["softmax"] == "svd"} == {"svd", "full"}
    assert "RANDOM WEIGHTS, speed only" in (quick_run / "report.md").read_text()


def test_nmt_suite_needs_a_model_directory(tmp_path):
    run = subprocess.run(BENCH + [f"hydra.run.dir={tmp_path}"], capture_output=True, text=True)
    assert run.returncode != 0 and "needs a trained model directory" in run.stderr


def test_a_folder_that_is_not_a_model_is_one_clear_error_and_threads_0_is_accepted(tmp_path):
    done = subprocess.run(BENCH[:-1] + ["threads=0", f"model={tmp_path}",
                                        f"hydra.run.dir={tmp_path / 'out'}"],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"bench suite=nmt: {tmp_path}")


def test_nmt_suite_reports_the_output_layer_share_and_the_bound_it_leaves(quick_run):
    results = json.loads((quick_run / "results.json").read_text())
    for rows in (results["decoding"], results["large_vocab"]["records"]):
        for r in rows:
            assert 0 < r["output_share"] < 1
        full = {(r["beam"], r["batch"]): r for r in rows
                if r["softmax"] == "full" and r.get("dtype", "float32") == "float32"}
        for r in rows:  # the bound a free output layer would give, from the full softmax's share
            assert r["output_bound"] == pytest.approx(
                1 / (1 - full[r["beam"], r["batch"]]["output_share"]))
    assert "even a free output layer" in (quick_run / "report.md").read_text()


@pytest.mark.parametrize("override, message", [
    ("nmt.group_size=0", "bench suite=nmt: nmt.group_size=0: use 1 (no reuse) or more"),
    ("nmt.pattern=[3,3]", "bench suite=nmt: nmt.pattern: ")])
def test_a_reuse_setting_that_does_not_fit_the_encoder_is_one_clear_error(
        model_dir, tmp_path, override, message):
    run = subprocess.run(BENCH + [f"model={model_dir}", override, f"hydra.run.dir={tmp_path}"],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith(message)
    assert not (tmp_path / "results.json").exists()


def test_own_sentences_without_references_time_decoding_and_skip_agreement(model_dir, tmp_path):
    sentences = tmp_path / "own.en"
    sentences.write_text("the house is small .\nwhere is the station ?\n", encoding="utf-8")
    out = tmp_path / "bench"
    run = subprocess.run(BENCH + [f"model={model_dir}", f"nmt.sentences={sentences}",
                                  "nmt.large_vocab=0", "nmt.peer=false", "nmt.dtypes=[float32]",
                                  f"hydra.run.dir={out}"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    results = json.loads((out / "results.json").read_text())
    assert results["setup"]["sentences"] == 2 and results["decoding"]
    assert {r["dtype"] for r in results["decoding"]} == {"float32"}
    assert all(r["bleu"] is None for r in results["decoding"])  # no references to score
    assert results["agreement"]["states"] == 0
    assert results["peer"] == [] and results["peer_notes"] == ["off (nmt.peer=false)"]


@pytest.mark.parametrize("dtypes", ["[int8]", "[float32,int4]"])
def test_dtypes_without_float32_or_unknown_are_one_clear_error(model_dir, tmp_path, dtypes):
    run = subprocess.run(BENCH + [f"model={model_dir}", f"nmt.dtypes={dtypes}",
                                  f"hydra.run.dir={tmp_path}"], capture_output=True, text=True)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert run.stderr.startswith("bench suite=nmt: nmt.dtypes=")


def test_the_encoder_bound_comes_from_the_operation_counts_of_the_pattern():
    config = NMTModelConfig(d_model=64, heads=4, ffn_dim=256, encoder_layers=4)
    plain = encoder_flops(config, 30, [1, 1, 1, 1])
    assert encoder_flops(config, 30, [1, 1, 2]) == encoder_flops(config, 30, [2, 1, 1])
    # Each follower saves a layer's q/k projections, scores and softmax; P·V and FFN stay.
    assert plain > encoder_flops(config, 30, [2, 2]) > encoder_flops(config, 30, [4])
    assert plain / encoder_flops(config, 30, [4]) < 4 / 3
    # Longer sources: the scores (L²) weigh more, so reuse may save more.
    assert (plain / encoder_flops(config, 30, [4])
            < encoder_flops(config, 300, [1] * 4) / encoder_flops(config, 300, [4]))
