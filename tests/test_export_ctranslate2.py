"""CTranslate2 export (nmt.export_ctranslate2): the exported model is our model.

Scoring a given target checks the function (every layer, positions, tied embeddings); beam
search checks that our decoding options map onto CTranslate2's. One stated difference at
beam > 1 (module docstring of nmt.export_ctranslate2): when the step that completes a beam
ends more hypotheses than it has room for, ours keeps the first in rank order (as fairseq),
CTranslate2 keeps them all and returns the best; so its n-best is the best of ours plus
those. Skipped only when ctranslate2 is not installed (`pip install 'echoformer[peers]'`).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from echoformer.data.batching import pad
from echoformer.model_dir import load_model_dir, save_model_dir
from echoformer.search import DecodingOptions
from echoformer.tokenizer import BOS_ID, EOS_ID
from nmt.export_ctranslate2 import (ReuseNotExportableError, export, main, source_pieces,
                                    translate_lines)
from nmt.model import TransformerNMT
from nmt.translate import Translator
from tiny_nmt import random_model_dir, tiny_pairs, write_tiny_corpus

ctranslate2 = pytest.importorskip("ctranslate2", reason="the optional peer ctranslate2 is not "
                                  "installed (pip install 'echoformer[peers]')")

SENTENCES = [en for en, _ in tiny_pairs()[::5]] + ["The teacher sings in the garden at home.",
                                                    "My cat reads.", ""]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_tiny_corpus(tmp_path_factory.mktemp("ct2_corpus"))


@pytest.fixture(scope="module")
def trained_dir(corpus, tmp_path_factory):
    """The tiny model after 60 full-batch Adam steps on the tiny corpus (it then ends its
    translations by itself, well inside the length limit)."""
    directory = random_model_dir(tmp_path_factory.mktemp("ct2_trained") / "model", corpus)
    loaded = load_model_dir(directory)
    model, tokenizer = loaded.model.train(), loaded.tokenizer
    pairs = tiny_pairs()
    source = pad([tokenizer.encode(en) + [EOS_ID] for en, _ in pairs])
    target_in = pad([[BOS_ID] + tokenizer.encode(de) for _, de in pairs])
    target_out = pad([tokenizer.encode(de) + [EOS_ID] for _, de in pairs])
    torch.manual_seed(0)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # faster for a model this small
    try:
        for _ in range(60):
            out = model(source, target_in, target_out)
            optimiser.zero_grad()
            (out["loss"] / out["tokens"]).backward()
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
    return save_model_dir(directory, model.eval(), model.state_dict(), corpus / "spm.model",
                          loaded.task)


def ct2_translator(path):
    return ctranslate2.Translator(str(path), device="cpu", intra_threads=1)


def our_log_probs(model: TransformerNMT, tokenizer, source: str, target: str) -> list[float]:
    """log p of each target token and the end token, teacher-forced through our model."""
    src = torch.tensor([tokenizer.encode(source) + [EOS_ID]])
    tgt = tokenizer.encode(target)
    with torch.no_grad():
        encoded = model.encode(src)
        hidden = model.decoder(torch.tensor([[BOS_ID] + tgt]), encoded.memory, encoded.mask)
        log_probs = torch.log_softmax(model.output.logits(hidden)[0], dim=-1)
    return log_probs.gather(1, torch.tensor(tgt + [EOS_ID])[:, None]).squeeze(1).tolist()


def ct2_log_probs(translator, tokenizer, source: str, target: str) -> list[float]:
    result, = translator.score_batch([source_pieces(tokenizer, source)],
                                     [source_pieces(tokenizer, target)])
    return list(result.log_probs)


def test_the_exported_model_scores_a_translation_as_ours(corpus, tmp_path):
    directory = random_model_dir(tmp_path / "model", corpus, seed=3)
    out = export(directory, tmp_path / "ct2")
    loaded, translator = load_model_dir(directory), ct2_translator(out)
    for source, target in tiny_pairs()[:6]:
        ours = our_log_probs(loaded.model, loaded.tokenizer, source, target)
        theirs = ct2_log_probs(translator, loaded.tokenizer, source, target)
        assert theirs == pytest.approx(ours, abs=1e-4)


@pytest.mark.parametrize("beam", [1, 4])
def test_the_exported_model_finds_our_best_translation(trained_dir, tmp_path, beam):
    ours = Translator(trained_dir)
    ours.options = dataclasses.replace(ours.options, beam_size=beam, nbest=1)
    translator = ct2_translator(export(trained_dir, tmp_path / "ct2"))
    expected = [t.nbest for t in ours.translate(SENTENCES)]
    found = translate_lines(translator, ours.tokenizer, ours.options, SENTENCES,
                            ours.max_length)
    assert [[text for text, _ in n] for n in found] == [[text for text, _ in n]
                                                        for n in expected]
    assert [s for n in found for _, s in n] == pytest.approx(
        [s for n in expected for _, s in n], abs=1e-4)


def test_its_beam_4_nbest_is_the_best_of_ours_and_of_those_ours_had_no_room_for(
        trained_dir, tmp_path):
    ours = Translator(trained_dir)
    ours.options = dataclasses.replace(ours.options, beam_size=4, nbest=4)
    translator = ct2_translator(export(trained_dir, tmp_path / "ct2"))
    expected = [dict(t.nbest) for t in ours.translate(SENTENCES)]
    found = translate_lines(translator, ours.tokenizer, ours.options, SENTENCES,
                            ours.max_length)
    for line, theirs, mine in zip(SENTENCES, found, expected):
        assert len(theirs) == len(mine), line
        for text, score in theirs:  # each is ours, or beats every one of ours it displaced
            if text in mine:
                assert score == pytest.approx(mine[text], abs=1e-4), (line, text)
            else:
                displaced = [s for t, s in mine.items() if t not in dict(theirs)]
                assert displaced and score > max(displaced), (line, text)


def test_the_length_limit_is_ours(trained_dir, tmp_path):
    ours = Translator(trained_dir)
    tokens = ours.tokenizer.encode(SENTENCES[0])
    ours.options = DecodingOptions(beam_size=1, max_length_a=0.0, max_length_b=4)
    translator = ct2_translator(export(trained_dir, tmp_path / "ct2"))
    (text, _), = translate_lines(translator, ours.tokenizer, ours.options, SENTENCES[:1],
                                 ours.max_length)[0]
    assert len(ours.tokenizer.encode(text)) <= ours.options.length_limit(len(tokens)) - 1
    assert text == ours.translate(SENTENCES[:1])[0].text  # same tokens; scores differ here


def test_a_model_with_map_reuse_is_refused_with_the_reason(corpus, tmp_path, capsys):
    directory = random_model_dir(tmp_path / "model", corpus, reuse_pattern=[1, 3])
    with pytest.raises(ReuseNotExportableError, match=r"reuse_pattern \[1, 3\].*different"):
        export(directory, tmp_path / "ct2")
    assert main([str(directory), str(tmp_path / "ct2")]) == 2
    assert "--without-reuse" in capsys.readouterr().err
    assert not (tmp_path / "ct2").exists()


def test_without_reuse_each_follower_computes_its_own_map_with_its_leaders_weights(
        corpus, tmp_path):
    directory = random_model_dir(tmp_path / "model", corpus, seed=5, reuse_pattern=[1, 3])
    loaded = load_model_dir(directory)
    # our model with the same weights, every layer plain; followers take the leader's q, k
    plain = TransformerNMT(loaded.model.config, loaded.model.vocab_size, None)
    weights = dict(loaded.model.state_dict())
    d = plain.config.d_model
    leader_qkv = "encoder.layers.1.attention.qkv"
    for i in (2, 3):
        for part in ("weight", "bias"):
            own_v = weights.pop(f"encoder.layers.{i}.attention.value.{part}")
            weights[f"encoder.layers.{i}.attention.qkv.{part}"] = torch.cat(
                [weights[f"{leader_qkv}.{part}"][: 2 * d], own_v])
    plain.load_state_dict(weights)
    translator = ct2_translator(export(directory, tmp_path / "ct2", without_reuse=True))
    for source, target in tiny_pairs()[:4]:
        ours = our_log_probs(plain.eval(), loaded.tokenizer, source, target)
        theirs = ct2_log_probs(translator, loaded.tokenizer, source, target)
        assert theirs == pytest.approx(ours, abs=1e-4)
        assert theirs != pytest.approx(
            our_log_probs(loaded.model, loaded.tokenizer, source, target), abs=1e-4)


def test_int8_quantisation_writes_smaller_weights_that_translate(trained_dir, tmp_path):
    full = export(trained_dir, tmp_path / "fp32")
    int8 = export(trained_dir, tmp_path / "int8", quantization="int8")
    assert (int8 / "model.bin").stat().st_size < 0.6 * (full / "model.bin").stat().st_size
    options = DecodingOptions(beam_size=2)
    found = translate_lines(ct2_translator(int8), load_model_dir(trained_dir).tokenizer,
                            options, SENTENCES[:3], 24)
    assert all(n and n[0][0] for n in found)


def test_an_existing_output_folder_is_kept_without_force(trained_dir, tmp_path, capsys):
    (tmp_path / "ct2").mkdir()
    assert main([str(trained_dir), str(tmp_path / "ct2")]) == 2
    assert "--force" in capsys.readouterr().err
    assert main([str(trained_dir), str(tmp_path / "ct2"), "--force"]) == 0
