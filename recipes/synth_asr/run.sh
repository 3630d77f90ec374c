#!/usr/bin/env bash
# Conformer ASR on the embedded synthetic English speech corpus (espeak-ng + flite voices
# reading Ding dictionary sentences).
#
#   recipes/synth_asr/run.sh [--stage N] [--stop-stage M] [--size tiny|demo|full]
#                            [--data-dir DIR] [--jobs N] [--seed S] [--vocab-size V]
#
# Stages: 1 install espeak-ng/flite/trans-de-en if missing, synthesise the corpus
#         2 global CMVN + sentencepiece model on the training transcripts
#         3 train, 4 decode, 5 score, 6 latency   (not built yet)
set -euo pipefail

stage=1
stop_stage=            # default: the last built stage (2), or --stage when that is later
size=demo
data_dir=data/synth_asr
jobs=$(nproc)
seed=0
vocab_size=

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --vocab-size) vocab_size=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$size" in
  tiny) : "${vocab_size:=48}" ;;
  demo) : "${vocab_size:=256}" ;;
  full) : "${vocab_size:=1000}" ;;
  *) echo "--size must be tiny, demo or full (got $size)" >&2; exit 2 ;;
esac

last_built=2
[[ -n "$stop_stage" ]] || stop_stage=$(( stage > last_built ? stage : last_built ))

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
run_stage() { [[ $stage -le $1 && $stop_stage -ge $1 ]]; }

if run_stage 1; then
  echo "== stage 1: synthesise the $size corpus into $data_dir"
  missing=()
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  command -v flite >/dev/null || missing+=(flite)
  [[ -f /usr/share/trans/de-en ]] || missing+=(trans-de-en)
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "installing ${missing[*]}"
    sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
  fi
  "$python" -m asr.data.prepare synth --out "$data_dir" --size "$size" --jobs "$jobs" --seed "$seed"
fi

if run_stage 2; then
  echo "== stage 2: CMVN and sentencepiece (vocab $vocab_size) from $data_dir/train.jsonl"
  "$python" -m asr.data.prepare stats --manifest "$data_dir/train.jsonl" --vocab-size "$vocab_size" --out "$data_dir"
fi

for n in 3 4 5 6; do
  if run_stage $n; then
    name=(_ _ _ train decode score latency)
    echo "stage $n (${name[$n]}): not built yet" >&2
    exit 1
  fi
done
