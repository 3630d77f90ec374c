"""Console scripts of the machine-translation task."""

from echoformer.cli_stub import not_built

train_main = not_built(
    "nmt-train", "nmt-train [key=value ...] [-m]",
    "Train a Transformer translation model (a Hydra app: overrides such as model=base "
    "reuse=g4, -m for sweeps).", "the Transformer NMT issue")

translate_main = not_built(
    "nmt-translate",
    "nmt-translate [--model DIR] [--beam-size K] [--nbest N] [--softmax full|svd] "
    "[--device cpu|cuda] < in.txt > out.txt",
    "Translate text, one output line per input line in order (empty in, empty out).",
    "the Transformer NMT issue")
