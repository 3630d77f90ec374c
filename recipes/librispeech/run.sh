#!/usr/bin/env bash
# Conformer ASR on a local LibriSpeech copy (nothing is downloaded).
#
#   recipes/librispeech/run.sh --root DIR [--stage N] [--stop-stage M] [--data-dir DIR]
#        [--train-subsets train-clean-100] [--eval-subsets dev-clean,dev-other,test-clean,test-other]
#        [--vocab-size V] [--cmvn-max-utterances N]
#
# Stages: 1 manifests (DATA_DIR/SUBSET.jsonl) from ROOT/SUBSET/SPEAKER/CHAPTER/*.flac + *.trans.txt
#         2 global CMVN + sentencepiece model on the training transcripts
#         3 train, 4 decode, 5 score, 6 latency   (not built yet)
set -euo pipefail

stage=1
stop_stage=            # default: the last built stage (2), or --stage when that is later
root=
data_dir=data/librispeech
train_subsets=train-clean-100
eval_subsets=dev-clean,dev-other,test-clean,test-other
vocab_size=5000
cmvn_max_utterances=5000

usage() { sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --root) root=$2; shift 2 ;;
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --train-subsets) train_subsets=$2; shift 2 ;;
    --eval-subsets) eval_subsets=$2; shift 2 ;;
    --vocab-size) vocab_size=$2; shift 2 ;;
    --cmvn-max-utterances) cmvn_max_utterances=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

last_built=2
[[ -n "$stop_stage" ]] || stop_stage=$(( stage > last_built ? stage : last_built ))

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
run_stage() { [[ $stage -le $1 && $stop_stage -ge $1 ]]; }

if run_stage 1; then
  [[ -n "$root" ]] || { echo "stage 1 needs --root DIR (the folder holding train-clean-100/ etc.)" >&2; exit 2; }
  echo "== stage 1: manifests for $train_subsets,$eval_subsets from $root"
  "$python" -m asr.data.prepare librispeech --root "$root" --subsets "$train_subsets,$eval_subsets" --out "$data_dir"
  # one training manifest over all training subsets
  IFS=, read -ra train_list <<< "$train_subsets"
  for subset in "${train_list[@]}"; do cat "$data_dir/$subset.jsonl"; done > "$data_dir/train.jsonl"
fi

if run_stage 2; then
  echo "== stage 2: CMVN and sentencepiece (vocab $vocab_size) from $data_dir/train.jsonl"
  "$python" -m asr.data.prepare stats --manifest "$data_dir/train.jsonl" --vocab-size "$vocab_size" \
    --cmvn-max-utterances "$cmvn_max_utterances" --out "$data_dir"
fi

for n in 3 4 5 6; do
  if run_stage $n; then
    name=(_ _ _ train decode score latency)
    echo "stage $n (${name[$n]}): not built yet" >&2
    exit 1
  fi
done
