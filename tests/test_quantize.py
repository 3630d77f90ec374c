"""`--dtype int8` (echoformer.quantize): dynamic int8 linear layers for CPU inference.

The translations of a trained tiny model in int8 stay those of float32 (with SVD-softmax and
with attention map reuse too); which layers are quantised; bad combinations are refused.
"""

from __future__ import annotations

import pytest
import torch
from torch.ao.nn.quantized import dynamic

from asr.cli import build_transcribe_parser, load_transcriber
from asr_fixtures import untrained_model_dir
from echoformer.data.batching import pad
from echoformer.model_dir import load_model_dir, save_model_dir
from echoformer.output_layer import SoftmaxConfig
from echoformer.quantize import check_dtype, quantizable_linears, quantize_for_inference
from echoformer.tokenizer import BOS_ID, EOS_ID
from nmt.cli import translate_main
from nmt.translate import Translator
from tiny_nmt import random_model_dir, tiny_pairs, write_tiny_corpus

SOURCES = [en for en, _ in tiny_pairs()]


def train_tiny(directory, steps: int = 80, run_config: dict | None = None):
    """The tiny model of `directory` after `steps` full-batch Adam steps on the tiny corpus,
    saved back there (with `run_config` as its train_config.yaml)."""
    loaded = load_model_dir(directory)
    model, tokenizer = loaded.model.train(), loaded.tokenizer
    pairs = tiny_pairs()
    source = pad([tokenizer.encode(en) + [EOS_ID] for en, _ in pairs])
    target_in = pad([[BOS_ID] + tokenizer.encode(de) for _, de in pairs])
    target_out = pad([tokenizer.encode(de) + [EOS_ID] for _, de in pairs])
    torch.manual_seed(0)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(steps):
            out = model(source, target_in, target_out)
            optimiser.zero_grad()
            (out["loss"] / out["tokens"]).backward()
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
    return save_model_dir(directory, model.eval(), model.state_dict(),
                          loaded.path / "spm.model", loaded.task, run_config)


@pytest.fixture(scope="module")
def trained_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("quantize")
    corpus = write_tiny_corpus(root / "corpus")
    return train_tiny(random_model_dir(root / "model", corpus, reuse_pattern=[1, 3]))


def _best(translator: Translator) -> list[tuple[str, float]]:
    return [t.nbest[0] for t in translator.translate(SOURCES, batch_size=8)]


@pytest.mark.parametrize("softmax", [None, SoftmaxConfig("svd", 8, 24)])
def test_int8_translates_as_float32_on_a_trained_model(trained_dir, softmax):
    full = _best(Translator(trained_dir, softmax=softmax))
    int8 = Translator(trained_dir, softmax=softmax, dtype="int8")
    assert any(isinstance(m, dynamic.Linear) for m in int8.model.modules())
    quantized = _best(int8)
    same = sum(a[0] == b[0] for a, b in zip(full, quantized))
    assert same >= 0.9 * len(SOURCES), f"{same} of {len(SOURCES)} best translations equal"
    # the length-normalised log-probability of each best translation moves little
    gaps = [abs(a[1] - b[1]) for a, b in zip(full, quantized) if a[0] == b[0]]
    assert max(gaps) < 0.05


def test_int8_quantises_every_linear_layer_but_the_tied_output_layer(trained_dir):
    model = load_model_dir(trained_dir).model.eval()
    names = quantizable_linears(model)
    assert "encoder.layers.2.attention.value" in names  # a reuse follower's own projection
    assert "encoder.layers.1.attention.qkv" in names  # its leader's
    assert "decoder.layers.0.cross_attention.key_value" in names
    assert not any(name.startswith("output") for name in names)
    quantize_for_inference(model, "int8")
    assert type(model.output.linear) is torch.nn.Linear
    assert model.output.linear.weight is model.embedding.weight  # still tied
    kinds = {type(m) for n, m in model.named_modules() if n in names}
    assert kinds == {dynamic.Linear}


def test_float32_leaves_the_model_as_it_is(trained_dir):
    model = load_model_dir(trained_dir).model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert quantize_for_inference(model, "float32") is model
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_int8_off_the_cpu_is_refused_with_the_fix(trained_dir):
    with pytest.raises(ValueError, match=r"--dtype int8 .* CPU .* --device cpu"):
        Translator(trained_dir, "cuda", dtype="int8")
    with pytest.raises(ValueError, match="not one of float32, int8"):
        check_dtype("int4", "cpu")
    check_dtype("float32", "cuda")  # float32 runs anywhere


def test_nmt_translate_dtype_int8_writes_one_line_per_input(trained_dir, tmp_path, capsys):
    source = tmp_path / "in.en"
    source.write_text("The cat sleeps.\n\nThe dog eats at home.\n", encoding="utf-8")
    assert translate_main(["--model", str(trained_dir), "--dtype", "int8", str(source)]) == 0
    out, err = capsys.readouterr()
    lines = out.split("\n")[:-1]
    assert len(lines) == 3 and lines[1] == "" and lines[0] and lines[2]
    assert "int8" in err  # the summary names the number format


def test_nmt_translate_refuses_an_unknown_dtype(trained_dir, capsys):
    with pytest.raises(SystemExit) as exit_info:
        translate_main(["--model", str(trained_dir), "--dtype", "int4"])
    assert exit_info.value.code == 2 and "--dtype" in capsys.readouterr().err


@pytest.fixture(scope="module")
def asr_dir(tmp_path_factory):
    return untrained_model_dir(tmp_path_factory.mktemp("quantize_asr"))


def test_asr_int8_ctc_log_probs_stay_close_to_float32(asr_dir):
    args = build_transcribe_parser().parse_args(["--model", str(asr_dir), "--dtype", "int8",
                                                 "x.wav"])
    args.device = "cpu"
    quantized = load_transcriber(args)
    assert quantized.dtype == "int8"
    assert any(isinstance(m, dynamic.Linear) for m in quantized.model.encoder.modules())
    plain = load_model_dir(asr_dir).model.eval()
    torch.manual_seed(0)
    features, lengths = torch.randn(2, 120, 80), torch.tensor([120, 90])
    with torch.no_grad():
        logs = [m.ctc.log_probs(m.encode(features, lengths)[0])
                for m in (plain, quantized.model)]
    assert logs[0].shape == logs[1].shape
    assert (logs[0] - logs[1]).abs().max() < 0.1
    assert (logs[0].argmax(-1) == logs[1].argmax(-1)).float().mean() > 0.9


def test_asr_int8_off_the_cpu_is_refused_before_loading(asr_dir):
    args = build_transcribe_parser().parse_args(["--model", str(asr_dir), "--dtype", "int8",
                                                 "x.wav"])
    args.device = "cuda"
    with pytest.raises(ValueError, match="--dtype int8 .* --device cpu"):
        load_transcriber(args)
