"""`bench suite=nmt`: decoding, encoder and agreement records from a model directory."""

import json
import subprocess
import sys

import pytest
import torch

from echoformer.model_dir import save_model_dir
from echoformer.tokenizer import Tokenizer
from nmt.model import TransformerNMT
from tiny_nmt import TINY, write_tiny_corpus

BENCH = [sys.executable, "-m", "echoformer.bench.app", "suite=nmt", "quick=true", "threads=1"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    corpus = write_tiny_corpus(tmp_path_factory.mktemp("corpus"))
    torch.manual_seed(0)
    model = TransformerNMT(TINY, Tokenizer(corpus / "spm.model").vocab_size)
    run_config = {"data": {"dir": str(corpus), "src_lang": "en", "tgt_lang": "de"}}
    return save_model_dir(tmp_path_factory.mktemp("model") / "model", model, model.state_dict(),
                          corpus / "spm.model", {"task": "translation"}, run_config)


def test_nmt_suite_reports_decoding_encoder_and_agreement(model_dir, tmp_path):
    subprocess.run(BENCH + [f"model={model_dir}", f"hydra.run.dir={tmp_path}"], check=True,
                   capture_output=True)
    results = json.loads((tmp_path / "results.json").read_text())
    cases = {(r["softmax"], r["beam"], r["batch"]) for r in results["decoding"]}
    assert cases == {(s, b, n) for s in ("full", "svd") for b in (1, 5) for n in (1, 8)}
    for r in results["decoding"]:
        assert r["sentences_per_s"] > 0 and r["tokens_per_s"] >= 0
    assert {r["batch"] for r in results["encoder"]} == {1, 8}
    assert all(r["pattern"] == [4] for r in results["encoder"])
    agreement = results["agreement"]
    assert agreement["states"] > 0 and 0 <= agreement["top5_agreement"] <= 1
    assert "## SVD-softmax agreement" in (tmp_path / "report.md").read_text()


def test_nmt_suite_needs_a_model_directory(tmp_path):
    run = subprocess.run(BENCH + [f"hydra.run.dir={tmp_path}"], capture_output=True, text=True)
    assert run.returncode != 0 and "needs a trained model directory" in run.stderr
