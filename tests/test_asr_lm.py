"""The ASR language model: its text, training app, incremental scoring and fusion in decoding."""

from __future__ import annotations

import pytest
import torch
import yaml
from asr_fixtures import SENTENCES, TINY, tokenizer_model, untrained_model_dir
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from asr.cli import build_transcribe_parser, chosen_lm, load_transcriber, transcribe_main
from asr.config import register
from asr.data import lm_text
from asr.data.lm_text import ding_lm_lines, lm_line, weighted, write_lm_text
from asr.decoding import ASRDecodingOptions, decode
from asr.lm import PieceLM, PieceLMConfig, load_lm
from asr.lm_train import LMText, train
from asr.model import ASRModel
from echoformer.data.split import ding_split
from echoformer import shipped
from echoformer.model_dir import ModelDirError, save_model_dir
from echoformer.paths import CONF_DIR
from echoformer.search import LMScorer
from echoformer.tokenizer import BOS_ID, EOS_ID, Tokenizer, train_sentencepiece

V = 30


def _lm(seed: int = 0) -> PieceLM:
    torch.manual_seed(seed)
    return PieceLM(PieceLMConfig(hidden_dim=16, num_layers=2, dropout=0.0), V).eval()


def _lines_of(family: str, count: int) -> list[str]:
    """`count` made-up phrases that the shared Ding split puts in `family`."""
    found = [f"word number {i} here".replace(str(i), "x" * (i % 7 + 1) + chr(97 + i % 26))
             for i in range(400)]
    return [line for line in dict.fromkeys(found) if ding_split(line) == family][:count]


def test_lm_text_keeps_train_and_valid_families_and_never_a_test_sentence():
    train, valid, test = (_lines_of(f, 2) for f in ("train", "valid", "test"))
    parts = [f"{train[0].capitalize()}.; {test[0]}", valid[0], f"to give sb. {train[1]} (coll.)",
             train[0]]
    lines = ding_lm_lines(parts)
    assert lines == {"train": [train[0], f"to give {train[1]}"], "valid": [valid[0]]}


def test_lm_text_leaves_out_a_line_that_holds_an_excluded_transcript():
    train = _lines_of("train", 3)
    longer = f"{train[1]} {train[2]}"
    assert ding_split(longer) != "test"  # so only the exclusion can leave it out
    lines = ding_lm_lines([train[0], longer], excluded=[train[2]])
    assert longer not in lines[ding_split(longer)]
    assert train[0] in lines["train"]


def test_sentence_like_lines_get_their_extra_copies_in_place(tmp_path, monkeypatch):
    lines = ["a cat", "the cat sat down", "dog"]
    assert list(weighted(lines, 2)) == ["a cat", *["the cat sat down"] * 3, "dog"]
    assert list(weighted(lines, 0)) == lines
    short = next(f"{'x' * i} y" for i in range(1, 200) if ding_split(f"{'x' * i} y") == "valid")
    train, valid = _lines_of("train", 3), [*_lines_of("valid", 2), short]  # 4 words; 2
    monkeypatch.setattr(lm_text, "english_parts", lambda path: [*train, *valid])
    summary = write_lm_text(tmp_path, [], sentence_copies=1)
    assert (tmp_path / "lm_train.txt").read_text().splitlines() == \
        [line for line in train for _ in range(2)]
    assert (tmp_path / "lm_valid_sentences.txt").read_text().splitlines() == valid[:2]
    assert summary["lm_valid"]["lines"] == 3
    with pytest.raises(ValueError, match="--sentence-copies"):
        write_lm_text(tmp_path, [], sentence_copies=-1)


def test_lm_line_is_the_transcript_form_and_refuses_digits():
    assert lm_line("Don't panic (coll.)") == "don't panic"
    assert lm_line("route 66") is None


def test_lm_training_text_is_read_in_transcript_form(tmp_path):
    spm = tokenizer_model(tmp_path)
    text = tmp_path / "text.txt"
    text.write_text("The Cat -- SAT!\n\nroom 101\nthe cat sat\n", encoding="utf-8")
    read = LMText(text, Tokenizer(spm), 100)
    expected = Tokenizer(spm).encode("the cat sat") + [EOS_ID]
    assert read.sequences == [expected, expected] and read.refused == 1


@torch.no_grad()
def test_step_by_step_scores_equal_the_whole_sequence_and_follow_selected_rows():
    lm = _lm()
    tokens = torch.tensor([[BOS_ID, 5, 9, 7], [BOS_ID, 3, 3, 12], [BOS_ID, 20, 4, 8]])
    full = lm.logits(tokens)[0].log_softmax(-1)
    scorer, state = LMScorer(lm), None
    for t in range(tokens.shape[1]):
        scores, state = scorer.score(tokens[:, : t + 1], state)
        torch.testing.assert_close(scores, full[:, t], atol=1e-5, rtol=1e-5)
    rows = torch.tensor([2, 0, 0])  # the search reorders and repeats hypotheses
    state = scorer.select_state(state, rows)
    scores, _ = scorer.score(torch.cat([tokens[rows], tokens[rows, -1:]], 1), state)
    again = lm.logits(torch.cat([tokens[rows], tokens[rows, -1:]], 1))[0].log_softmax(-1)
    torch.testing.assert_close(scores, again[:, -1], atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_sequence_log_probs_sum_the_steps_up_to_the_end_token():
    lm, hyps = _lm(), [[5, 9], [], [7, 7, 7, 3]]
    expected = []
    for hyp in hyps:
        log_probs = lm.logits(torch.tensor([[BOS_ID, *hyp]]))[0][0].log_softmax(-1)
        expected.append(sum(float(log_probs[t, y]) for t, y in enumerate([*hyp, EOS_ID])))
    torch.testing.assert_close(lm.sequence_log_probs(hyps), torch.tensor(expected),
                               atol=1e-5, rtol=1e-5)


def _trained_lm(tmp_path, text: list[str]):
    spm = tokenizer_model(tmp_path)
    for name in ("train", "valid"):
        (tmp_path / f"{name}.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose("asr_lm_train", overrides=[
            f"data.train={tmp_path / 'train.txt'}", f"data.valid={tmp_path / 'valid.txt'}",
            f"data.tokenizer={spm}", "model.hidden_dim=32", "model.num_layers=1",
            "trainer.max_steps=60", "trainer.warmup_steps=10", "trainer.lr=0.01",
            "trainer.valid_every=30", "trainer.save_every=30", "trainer.progress=false",
            "device=cpu"])
    return train(OmegaConf.to_object(cfg), tmp_path / "lm_run"), spm


def test_a_tiny_lm_trains_and_its_model_directory_loads_for_the_same_pieces(tmp_path):
    model_dir, spm = _trained_lm(tmp_path, SENTENCES)
    log = (tmp_path / "lm_run" / "train_log.csv").read_text().splitlines()
    valid_nll = [float(row.split(",")[4]) for row in log[1:] if ",valid," in row]
    assert valid_nll[-1] < valid_nll[0] - 0.5
    assert isinstance(load_lm(model_dir, spm).model, PieceLM)
    other = tmp_path / "other"
    other.mkdir()
    other_spm = train_sentencepiece(["a completely different text"] * 5, other / "t",
                                    vocab_size=20, model_type="char")
    with pytest.raises(ModelDirError, match="spm.model differs"):
        load_lm(model_dir, other_spm)


def test_a_confident_lm_with_a_large_weight_decides_the_transcript(tmp_path):
    """Fusion at work: an untrained recogniser alone says anything; with an LM that has
    learnt one sentence and a large β, joint_beam and attention_rescoring say that sentence."""
    lm_dir, spm = _trained_lm(tmp_path, [SENTENCES[0]] * 50)
    tokenizer, lm = Tokenizer(spm), load_lm(lm_dir, spm).model
    torch.manual_seed(0)
    model = ASRModel(TINY, tokenizer.vocab_size, [2]).eval()
    features, lengths = torch.randn(2, 200, 80), torch.tensor([200, 160])
    for method in ("joint_beam", "attention_rescoring"):
        alone = decode(model, features, lengths, ASRDecodingOptions(method, beam_size=4))
        fused = decode(model, features, lengths,
                       ASRDecodingOptions(method, beam_size=4, lm_weight=20.0), lm)
        weightless = decode(model, features, lengths, ASRDecodingOptions(method, beam_size=4),
                            lm)
        assert weightless == alone
        if method == "joint_beam":  # the search can reach the LM's sentence
            assert [tokenizer.decode(ids) for ids in fused] == [SENTENCES[0]] * 2
        assert fused != alone


def test_transcribe_refuses_an_lm_weight_without_an_lm_and_a_method_that_cannot_use_one(
        tmp_path, capsys):
    model_dir = untrained_model_dir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        transcribe_main(["--model", str(model_dir), "--lm-weight", "0.5", "x.wav"])
    assert stop.value.code == 2
    assert "needs a language model (--lm DIR)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        transcribe_main(["--model", str(model_dir), "--lm", str(model_dir), "x.wav"])
    assert "not a language model" in capsys.readouterr().err


def _args(*argv):
    return build_transcribe_parser().parse_args([*argv, "x.wav"])


def test_the_shipped_lm_is_the_default_only_for_the_shipped_model(tmp_path, monkeypatch):
    lm_dir = tmp_path / "asr-en-lm"
    monkeypatch.setitem(shipped.SHIPPED, "asr_lm", lm_dir)
    assert chosen_lm(_args()) is None  # not shipped in this checkout: no LM
    lm_dir.mkdir()
    (lm_dir / "model.yaml").write_text("format_version: 1\n")
    assert chosen_lm(_args()) == lm_dir
    assert chosen_lm(_args("--no-lm")) is None
    assert chosen_lm(_args("--model", "some/dir")) is None
    assert chosen_lm(_args("--model", "d", "--lm", "lm")) == "lm"
    with pytest.raises(ValueError, match="--lm and --no-lm"):
        chosen_lm(_args("--lm", "lm", "--no-lm"))


def test_the_lm_s_fusion_settings_apply_and_flags_replace_them(tmp_path):
    lm_dir, _ = _trained_lm(tmp_path, SENTENCES)
    meta = yaml.safe_load((lm_dir / "model.yaml").read_text())
    assert meta["task"]["decoding"] == {"lm_weight": 0.5, "length_penalty": 0.0, "beam_size": 0}
    meta["task"]["decoding"] = {"lm_weight": 0.9, "length_penalty": 0.4, "beam_size": 0}
    (lm_dir / "model.yaml").write_text(yaml.safe_dump(meta))
    asr_dir, spm = tmp_path / "model", tmp_path / "tokenizer.model"  # the LM's pieces
    torch.manual_seed(0)
    model = ASRModel(TINY, Tokenizer(spm).vocab_size, [2])
    save_model_dir(asr_dir, model, model.state_dict(), spm, {
        "task": "speech_recognition", "decoding": {"method": "joint_beam", "beam_size": 2}})
    options = load_transcriber(_args("--model", str(asr_dir), "--lm", str(lm_dir))).options
    assert (options.lm_weight, options.length_penalty, options.beam_size) == (0.9, 0.4, 2)
    options = load_transcriber(_args("--model", str(asr_dir), "--lm", str(lm_dir),
                                     "--lm-weight", "0.2", "--length-penalty", "0")).options
    assert (options.lm_weight, options.length_penalty) == (0.2, 0.0)
    meta["task"]["decoding"]["beam_size"] = 6  # a beam tuned with this LM
    (lm_dir / "model.yaml").write_text(yaml.safe_dump(meta))
    assert load_transcriber(_args("--model", str(asr_dir), "--lm", str(lm_dir))
                            ).options.beam_size == 6
    assert load_transcriber(_args("--model", str(asr_dir), "--lm", str(lm_dir), "--beam-size",
                                  "3")).options.beam_size == 3
    assert load_transcriber(_args("--model", str(asr_dir))).options.beam_size == 2
    with pytest.raises(ValueError, match="works with joint_beam and attention_rescoring"):
        load_transcriber(_args("--model", str(asr_dir), "--lm", str(lm_dir),
                               "--method", "ctc_greedy"))
