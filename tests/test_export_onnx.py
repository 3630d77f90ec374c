"""ONNX export of the encoders: the graph runs in ONNX Runtime and gives our outputs.

Tolerance: largest absolute difference ≤ 1e-4 in float32 (`onnx_graph.TOLERANCE`), over
every output, at several lengths and batch sizes, padded rows included.
"""

import json
from dataclasses import replace

import pytest
import torch

from asr_fixtures import TINY as TINY_ASR
from asr_fixtures import tokenizer_model
from echoformer import attention, positional
from echoformer.export import main
from echoformer.export.onnx_graph import (TOLERANCE, max_abs_diff, traceable_rel_shift,
                                          traceable_sinusoids)
from echoformer.model_dir import save_model_dir
from tiny_nmt import random_model_dir, write_tiny_corpus

for _module in ("onnx", "onnxscript", "onnxruntime"):
    _missing = None
    try:
        __import__(_module)
    except ImportError:
        _missing = _module
        break
needs_onnx = pytest.mark.skipif(
    _missing is not None, reason=f"{_missing} is not installed (the peers extra: "
                                 "pip install 'echoformer[peers]')")


@pytest.mark.parametrize("length", [1, 2, 3, 7, 12])
def test_the_traced_substitutes_compute_the_same_values_bit_for_bit(length):
    scores = torch.randn(2, 3, length, 2 * length - 1)
    assert torch.equal(traceable_rel_shift(scores), attention.rel_shift(scores))
    positions = torch.arange(length - 1, -length, -1)
    assert torch.equal(traceable_sinusoids(positions, 16), positional.sinusoids(positions, 16))


def _softmax_nodes(path):
    import onnx

    model = onnx.load(str(path))
    nodes = list(model.graph.node)
    for function in model.functions:
        nodes += list(function.node)
    return sum(node.op_type == "Softmax" for node in nodes)


@pytest.fixture(scope="module")
def asr_export(tmp_path_factory):
    from asr.model import ASRModel
    from echoformer.tokenizer import Tokenizer

    folder = tmp_path_factory.mktemp("asr_onnx")
    spm = tokenizer_model(folder)
    torch.manual_seed(0)
    model = ASRModel(replace(TINY_ASR, encoder_layers=4), Tokenizer(spm).vocab_size, [1, 3])
    with torch.no_grad():  # statistics that are not the identity, to see CMVN in the graph
        model.cmvn.mean.uniform_(-1, 1)
        model.cmvn.std.uniform_(0.5, 2)
    model_dir = save_model_dir(folder / "model", model, model.state_dict(), spm,
                               {"task": "speech_recognition"})
    out = folder / "onnx"
    if _missing is None:
        assert main(["onnx", str(model_dir), str(out), "--check"]) == 0
    return model.eval(), out


@needs_onnx
def test_asr_encoder_in_onnxruntime_equals_ours_at_several_lengths(asr_export):
    from asr.export_onnx import EncoderGraph, example_inputs
    from echoformer.export.onnx_graph import onnxruntime_session

    model, out = asr_export
    info = json.loads((out / "export.json").read_text())
    assert info["check"]["max_abs_diff"] <= TOLERANCE and info["reuse_pattern"] == [1, 3]
    session = onnxruntime_session(out / "encoder.onnx", threads=1)
    inputs = [example_inputs(80, frames, batch, seed) for seed, (frames, batch) in
              enumerate([(7, 1), (10, 1), (11, 2), (64, 3), (250, 1), (613, 2)])]
    assert max_abs_diff(session, EncoderGraph(model.encoder, model.cmvn), inputs) <= TOLERANCE


@needs_onnx
def test_the_asr_graph_keeps_map_reuse_one_softmax_per_group(asr_export):
    _, out = asr_export
    assert _softmax_nodes(out / "encoder.onnx") == 2  # pattern [1, 3]: 2 maps for 4 layers


@pytest.fixture(scope="module")
def nmt_export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nmt_onnx")
    model_dir = random_model_dir(folder / "model", write_tiny_corpus(folder / "corpus"),
                                 reuse_pattern=[2, 2])
    out = folder / "onnx"
    if _missing is None:
        assert main(["onnx", str(model_dir), str(out), "--check"]) == 0
    return model_dir, out


@needs_onnx
def test_nmt_encoder_in_onnxruntime_equals_ours_at_several_lengths(nmt_export):
    from echoformer.export.onnx_graph import onnxruntime_session
    from echoformer.model_dir import load_model_dir
    from nmt.export_onnx import EncoderGraph, example_inputs

    model_dir, out = nmt_export
    model = load_model_dir(model_dir).model
    info = json.loads((out / "export.json").read_text())
    assert info["check"]["max_abs_diff"] <= TOLERANCE and info["reuse_pattern"] == [2, 2]
    session = onnxruntime_session(out / "encoder.onnx", threads=1)
    inputs = [example_inputs(model.vocab_size, length, batch, seed) for seed, (length, batch)
              in enumerate([(1, 1), (2, 2), (9, 1), (24, 3)])]  # 24: the model's max_length
    assert max_abs_diff(session, EncoderGraph(model), inputs) <= TOLERANCE
    assert _softmax_nodes(out / "encoder.onnx") == 2  # pattern [2, 2]


@needs_onnx
def test_an_existing_output_is_kept_unless_forced(nmt_export, capsys):
    model_dir, out = nmt_export
    assert main(["onnx", str(model_dir), str(out)]) == 2
    assert "pass --force" in capsys.readouterr().err
    assert (out / "encoder.onnx").is_file()
