"""Parallel text for NMT: the embedded English–German corpus and local parallel corpora."""
