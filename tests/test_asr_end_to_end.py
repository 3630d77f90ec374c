"""A tiny recogniser trains on a handful of synthetic utterances, then transcribes them."""

import csv
import io
import json
import shutil

import pytest
import soundfile as sf
from omegaconf import OmegaConf

from asr.audio import to_mono_16k
from asr.cli import transcribe_main
from asr.data.prepare import compute_cmvn, train_transcript_tokenizer
from asr.data.synth_voices import Rendition, render_wav
from asr.features import compute_fbank
from asr.score import word_error_rate
from asr.train import train
from asr_fixtures import train_config

SENTENCES = ["the cat sat on the mat", "where did you put my keys", "she plays the piano"]
VOICES = [Rendition("espeak-en-us", 160, 50), Rendition("espeak-en-gb+f2", 150, 60)]

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="espeak-ng not installed (apt-get install espeak-ng)")


def _corpus(folder):
    rows = []
    for i, text in enumerate(SENTENCES):
        for j, voice in enumerate(VOICES):
            samples, rate = sf.read(io.BytesIO(render_wav(voice, text)), always_2d=True)
            audio = to_mono_16k(samples, rate)
            path = folder / f"utt{i}{j}.wav"
            sf.write(path, audio.numpy(), 16000)
            rows.append({"audio": path.name, "duration": len(audio) / 16000, "text": text})
    manifest = folder / "train.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "dev.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    train_transcript_tokenizer(manifest, folder, vocab_size=24, model_type="char")
    compute_cmvn(manifest, folder)
    return rows


def test_a_tiny_model_trains_and_transcribes(tmp_path, capsys, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    rows = _corpus(data)
    config = OmegaConf.to_object(train_config(
        f"data.dir={data}", "data.max_batch_seconds=12", "threads=1", "device=cpu",
        "model.dropout=0.0", "trainer.max_steps=150", "trainer.warmup_steps=30",
        "trainer.lr=0.004", "trainer.valid_every=150", "trainer.save_every=75",
        "trainer.log_every=10", "trainer.average_last=1", "trainer.progress=false",
        "reuse=g2"))
    config.model.specaugment.num_time_masks = config.model.specaugment.num_freq_masks = 0
    model_dir = train(config, tmp_path / "run")

    with open(tmp_path / "run" / "train_log.csv") as log:
        losses = [float(r["loss"]) for r in csv.DictReader(log) if r["split"] == "train"]
    assert losses[-1] < 0.5 * losses[0]  # the loss drops

    audio = [str(data / r["audio"]) for r in rows]
    transcribe_main(["--model", str(model_dir), "--method", "attention_rescoring",
                     "--beam-size", "4", *audio])
    hypotheses = capsys.readouterr().out.splitlines()
    assert len(hypotheses) == len(rows)
    assert word_error_rate([r["text"] for r in rows], hypotheses).wer < 0.5

    # Fine-tuning: a new run that starts from the exported weights starts where this one ended.
    config.trainer.init_from, config.trainer.max_steps = str(model_dir), 5
    config.trainer.warmup_steps = config.trainer.log_every = 1
    tuned = train(config, tmp_path / "tuned")
    with open(tmp_path / "tuned" / "train_log.csv") as log:
        tuned_losses = [float(r["loss"]) for r in csv.DictReader(log) if r["split"] == "train"]
    assert tuned_losses[0] < 0.2 * losses[0]
    assert str(model_dir) in (tuned / "model.yaml").read_text()

    # data.vtlp and data.speed_perturb reach the training reads (validation stays as it is).
    warps, samples = [], []

    def recording_fbank(waveform, **options):
        warps.append(options.get("vtln_warp", 1.0))
        samples.append(len(waveform))
        return compute_fbank(waveform, **options)

    monkeypatch.setattr("asr.dataset.compute_fbank", recording_fbank)
    config.trainer.max_steps, config.data.vtlp, config.data.speed_perturb = 1, [1.1], [0.8]
    train(config, tmp_path / "perturbed")
    assert 1.1 in warps and 1.0 in warps
    originals = {round(r["duration"] * 16000) for r in rows}
    assert any(n not in originals for n in samples) and originals & set(samples)
