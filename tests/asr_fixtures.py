"""Small builders shared by the ASR tests: audio files, a tokenizer, an untrained model dir."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from hydra import compose, initialize_config_dir

from asr.config import register
from asr.model import ASRModel, ASRModelConfig
from echoformer.model_dir import save_model_dir
from echoformer.paths import CONF_DIR
from echoformer.tokenizer import Tokenizer, train_sentencepiece

SENTENCES = ["the cat sat on the mat", "where did you put my keys", "she plays the piano",
             "we walked home after the rain", "please close the door behind you",
             "nobody knew the answer to that", "the garden looks lovely in spring"]
TINY = ASRModelConfig(d_model=32, heads=2, ffn_dim=64, encoder_layers=2, conv_kernel=5,
                      decoder_layers=1, decoder_ffn_dim=64)


def write_tone(path: Path, seconds: float, rate: int = 16000, channels: int = 1) -> Path:
    """A noisy 440 Hz tone of `seconds` (16-bit wav unless the suffix says otherwise)."""
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(0)
    wave = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(len(t))
    sf.write(path, np.repeat(wave[:, None], channels, axis=1), rate)
    return path


def tokenizer_model(folder: Path) -> Path:
    return train_sentencepiece(SENTENCES * 3, folder / "tokenizer", vocab_size=30,
                               model_type="char")


def untrained_model_dir(folder: Path, task: dict | None = None) -> Path:
    """A model directory holding a tiny, randomly initialised recogniser."""
    spm = tokenizer_model(folder)
    torch.manual_seed(0)
    model = ASRModel(TINY, Tokenizer(spm).vocab_size, [2])
    task = task or {"task": "speech_recognition", "longest_training_utterance_s": 5.0,
                    "decoding": {"method": "ctc_greedy", "beam_size": 2}}
    return save_model_dir(folder / "model", model, model.state_dict(), spm, task)


def train_config(*overrides: str):
    """conf/asr_train.yaml composed with `overrides`, as asr-train would see it."""
    register()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose("asr_train", overrides=list(overrides))
