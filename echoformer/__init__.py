"""Echoformer core: what ASR and NMT share (attention with map reuse, SVD-softmax, ...)."""

__version__ = "0.1.0"
