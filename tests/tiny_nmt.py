"""Shared fixtures for the NMT tests: a tiny, learnable English–German corpus and models."""

from __future__ import annotations

from pathlib import Path

import torch

from echoformer.model_dir import save_model_dir
from echoformer.tokenizer import Tokenizer
from nmt.data.prepare import train_joint_sentencepiece
from nmt.model import NMTModelConfig, TransformerNMT

SUBJECTS = [("the cat", "die Katze"), ("the dog", "der Hund"), ("my friend", "mein Freund"),
            ("the teacher", "der Lehrer"), ("the child", "das Kind"), ("her brother", "ihr Bruder")]
VERBS = [("sleeps", "schläft"), ("eats", "isst"), ("sings", "singt"), ("waits", "wartet"),
         ("laughs", "lacht"), ("reads", "liest")]
PLACES = [("", ""), (" at home", " zu Hause"), (" in the garden", " im Garten")]


def tiny_pairs() -> list[tuple[str, str]]:
    """108 word-for-word pairs, e.g. ("The cat sleeps at home.", "Die Katze schläft zu Hause.")."""
    pairs = []
    for en_s, de_s in SUBJECTS:
        for en_v, de_v in VERBS:
            for en_p, de_p in PLACES:
                pairs.append((_sentence(f"{en_s} {en_v}{en_p}"), _sentence(f"{de_s} {de_v}{de_p}")))
    return pairs


def _sentence(words: str) -> str:
    return words[0].upper() + words[1:] + "."


def write_tiny_corpus(directory: Path, vocab_size: int = 70) -> Path:
    """`directory/{train,valid,test}.{en,de}` and a joint `spm.model`; returns `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    pairs = tiny_pairs()
    splits = {"train": pairs, "valid": pairs[::9], "test": pairs[1::9]}
    for split, members in splits.items():
        for side, lang in enumerate(("en", "de")):
            (directory / f"{split}.{lang}").write_text(
                "".join(pair[side] + "\n" for pair in members), encoding="utf-8")
    train_joint_sentencepiece(directory, vocab_size)
    return directory


TINY = NMTModelConfig(d_model=32, heads=2, ffn_dim=64, encoder_layers=4, decoder_layers=2,
                      dropout=0.0, attention_dropout=0.0, label_smoothing=0.1, max_length=24)


def random_model_dir(directory: Path, corpus: Path, seed: int = 0,
                     reuse_pattern: list[int] | None = None,
                     config: NMTModelConfig = TINY) -> Path:
    """A model directory holding an untrained tiny model (fast to make, for I/O tests)."""
    torch.manual_seed(seed)
    tokenizer = Tokenizer(corpus / "spm.model")
    model = TransformerNMT(config, tokenizer.vocab_size, reuse_pattern)
    task = {"task": "translation", "source_lang": "en", "target_lang": "de",
            "decoding": {"beam_size": 3, "nbest": 1, "length_penalty": 1.0,
                         "max_length_a": 1.5, "max_length_b": 5, "max_length": 40,
                         "min_length": 0}}
    return save_model_dir(directory, model, model.state_dict(), corpus / "spm.model", task)
