"""Console scripts of the speech-recognition task."""

from echoformer.cli_stub import not_built

train_main = not_built(
    "asr-train", "asr-train [key=value ...] [-m]",
    "Train a Conformer CTC/attention speech recogniser (a Hydra app: overrides such as "
    "model=s reuse=g4, -m for sweeps).", "the Conformer ASR issue")

transcribe_main = not_built(
    "asr-transcribe",
    "asr-transcribe [--model DIR] [--method ctc_greedy|ctc_prefix_beam|joint_beam|"
    "attention_rescoring] [--beam-size K] [--device cpu|cuda] [--format text|jsonl] AUDIO...",
    "Transcribe audio files (wav, flac, ogg, mp3; any rate or channel count), one line per "
    "file in input order.", "the Conformer ASR issue")
