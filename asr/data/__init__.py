"""Speech data: manifests, transcript normalisation, corpus preparation (synthetic, LibriSpeech)."""
