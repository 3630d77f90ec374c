#!/usr/bin/env bash
# Decode fixed test sets with the shipped models under several decoding settings and write
# every output to OUT_DIR, so that a change meant to leave behaviour alone can be checked
# word for word: run it before and after the change, then `diff -r BEFORE AFTER`.
#
#   scripts/shipped_outputs.sh OUT_DIR [--asr-data DIR] [--nmt-data DIR] [--nmt-lines N]
#                              [--only asr|nmt]
#
# ASR: the two test manifests of DIR (default data/synth_asr, e.g. the demo corpus of
# `recipes/synth_asr/run.sh --size demo --stop-stage 1`) with every decoding method, with and
# without the shipped language model, full and SVD-softmax. NMT: the first N lines (default
# 200) of DIR/test.en (default data/ding_nmt, `recipes/ding_nmt/run.sh --stop-stage 1`) at
# beam 5, batch 1 and 32, full and SVD-softmax, and a 4-best list. Timings are left out of the
# outputs (text only), so two runs of the same code give identical files.
set -euo pipefail

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
[[ $# -ge 1 && $1 != -h && $1 != --help ]] || usage $(( $# == 0 ))
out=$1; shift
asr_data=data/synth_asr
nmt_data=data/ding_nmt
nmt_lines=200
only=
while [[ $# -gt 0 ]]; do
  case $1 in
    --asr-data) asr_data=$2; shift 2 ;;
    --nmt-data) nmt_data=$2; shift 2 ;;
    --nmt-lines) nmt_lines=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    -h|--help) usage ;;
    *) echo "shipped_outputs.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
for f in "$asr_data/test.jsonl" "$asr_data/test_unseen_voice.jsonl" "$nmt_data/test.en"; do
  [[ -f $f ]] || { echo "shipped_outputs.sh: $f not found; build the corpora first (see --help)" >&2; exit 2; }
done
bin=${BIN:-.venv/bin}
mkdir -p "$out"

audio_of() {  # the audio paths of a manifest, resolved against the manifest's folder
  "$bin/python" - "$1" <<'PY'
import json, sys
from pathlib import Path
manifest = Path(sys.argv[1])
for line in manifest.read_text().splitlines():
    path = Path(json.loads(line)["audio"])
    print(path if path.is_absolute() else manifest.parent / path)
PY
}

for set in test test_unseen_voice; do
  [[ $only != nmt ]] || break
  mapfile -t audio < <(audio_of "$asr_data/$set.jsonl")
  for setting in "default:" "no-lm:--no-lm" \
                 "attention_rescoring:--method attention_rescoring" \
                 "attention_rescoring-no-lm:--method attention_rescoring --no-lm" \
                 "ctc_greedy:--method ctc_greedy" "ctc_prefix_beam:--method ctc_prefix_beam" \
                 "joint_beam-svd:--softmax svd --no-lm"; do
    name=${setting%%:*}; args=${setting#*:}
    echo "asr $set $name" >&2
    # shellcheck disable=SC2086
    "$bin/asr-transcribe" --threads 2 --no-progress $args "${audio[@]}" > "$out/asr.$set.$name.txt"
  done
done

[[ $only != asr ]] || { echo "wrote $out" >&2; exit 0; }
head -n "$nmt_lines" "$nmt_data/test.en" > "$out/nmt.src.en"
for setting in "full-b1:--beam-size 5 --batch-size 1 --softmax full" \
               "svd-b1:--beam-size 5 --batch-size 1 --softmax svd" \
               "full-b32:--beam-size 5 --softmax full" "svd-b32:--beam-size 5 --softmax svd" \
               "nbest4:--beam-size 4 --nbest 4 --softmax full"; do
  name=${setting%%:*}; args=${setting#*:}
  echo "nmt $name" >&2
  # shellcheck disable=SC2086
  "$bin/nmt-translate" --threads 2 --quiet --no-progress $args "$out/nmt.src.en" \
    > "$out/nmt.$name.txt"
done
echo "wrote $out" >&2
