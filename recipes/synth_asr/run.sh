#!/usr/bin/env bash
# Conformer ASR on the embedded synthetic English speech corpus (espeak-ng + flite voices
# reading Ding dictionary sentences).
#
#   recipes/synth_asr/run.sh [--stage N] [--stop-stage M] [--size tiny|demo|full|large]
#                            [--voices default|broad]
#                            [--data-dir DIR] [--jobs N] [--seed S] [--vocab-size V]
#                            [--model tiny|demo|xs|s|m] [--reuse none|g2|g4] [--max-steps N]
#                            [--max-minutes M] [--exp-dir DIR] [--methods "M1 M2"]
#                            [--beam-size K] [--softmax full|svd] [--model-dir DIR]
#                            [--threads T] [--train-args "key=value ..."]
#                            [--lm DIR] [--lm-weight B]
#
# Stages: 1 install espeak-ng/flite/trans-de-en if missing, synthesise the corpus; with
#           --voices broad also MBROLA, SVOX Pico, Festival and hibari-tts
#           (scripts/install_system_packages.sh voices), hibari speaking only the
#           held-out-engine set test_unseen_engine
#         2 global CMVN + sentencepiece model on the training transcripts
#         3 train (asr-train) into --exp-dir (default exp/synth_asr/<model>-<reuse>)
#         4 decode test and test_unseen_voice with each of --methods (asr-transcribe)
#         5 score: WER (sub/del/ins) and real-time factor per test set and method
#         6 latency: bench suite=asr (encoder per input length with and without reuse,
#           self-attention share, real-time factor per method) -> <exp-dir>/bench
# Stages 4-6 use --model-dir (default <exp-dir>/model), e.g. the shipped models/asr-en, and
# --threads (torch CPU threads; default: torch's for decoding, 2 for the benchmark). Training
# threads go in --train-args "threads=T". Stage 4 fuses a word-piece language model with
# --lm DIR (asr-lm-train) at weight --lm-weight in joint_beam and attention_rescoring;
# stage 6 then times those two methods with it as well. --beam-size: default the model's
# decoding.beam_size, or the LM's where it stores one.
# Without --stop-stage only the data stages run (1-2), or just --stage when it is later.
# A whole tiny run on a CPU in a few minutes:
#   recipes/synth_asr/run.sh --size tiny --data-dir data/synth_asr_tiny --stop-stage 5
set -euo pipefail

stage=1
stop_stage=            # default: 2, or --stage when that is later
size=demo
voices=default         # the voice set: default (espeak-ng + flite) or broad
data_dir=data/synth_asr
jobs=$(nproc)
seed=0
vocab_size=
model=
reuse=none
max_steps=
max_minutes=
exp_dir=
methods="ctc_greedy ctc_prefix_beam attention_rescoring joint_beam"
beam_size=           # default: the model's (and its LM's) decoding.beam_size
train_args=
softmax=full
model_dir=
threads=
lm=
lm_weight=

usage() { sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    --voices) voices=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --vocab-size) vocab_size=$2; shift 2 ;;
    --model) model=$2; shift 2 ;;
    --reuse) reuse=$2; shift 2 ;;
    --max-steps) max_steps=$2; shift 2 ;;
    --max-minutes) max_minutes=$2; shift 2 ;;
    --exp-dir) exp_dir=$2; shift 2 ;;
    --methods) methods=$2; shift 2 ;;
    --beam-size) beam_size=$2; shift 2 ;;
    --train-args) train_args=$2; shift 2 ;;
    --softmax) softmax=$2; shift 2 ;;
    --model-dir) model_dir=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --lm) lm=$2; shift 2 ;;
    --lm-weight) lm_weight=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$size" in
  tiny) : "${vocab_size:=48}" "${model:=tiny}" "${max_steps:=300}" ;;
  demo) : "${vocab_size:=256}" "${model:=s}" ;;
  full|large) : "${vocab_size:=256}" "${model:=s}" ;;
  *) echo "--size must be tiny, demo, full or large (got $size)" >&2; exit 2 ;;
esac
case "$voices" in
  default|broad) ;;
  *) echo "--voices must be default or broad (got $voices)" >&2; exit 2 ;;
esac

last_built=2  # the default --stop-stage (data only): training is a choice, it takes time
: "${exp_dir:=exp/synth_asr/$model-$reuse}"
test_sets="test test_unseen_voice"
: "${model_dir:=$exp_dir/model}"
[[ -n "$stop_stage" ]] || stop_stage=$(( stage > last_built ? stage : last_built ))

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
if [[ -x .venv/bin/asr-train ]]; then bin=.venv/bin/; else bin=; fi
run_stage() { [[ $stage -le $1 && $stop_stage -ge $1 ]]; }

if run_stage 1 && [[ $voices == broad ]]; then
  echo "== stage 1: synthesise the $size corpus with the broad voice set into $data_dir"
  PYTHON=$python bash scripts/install_system_packages.sh voices
  "$python" -m asr.data.synth --out "$data_dir" --size "$size" --voices broad --jobs "$jobs" --seed "$seed"
elif run_stage 1; then
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

if run_stage 3; then
  # the training schedule (conf/asr_schedule): tiny and demo have their own, the rest the defaults
  case "$model" in tiny|demo) schedule=$model ;; *) schedule=default ;; esac
  echo "== stage 3: train asr_model=$model reuse=$reuse asr_schedule=$schedule into $exp_dir"
  args=(data.dir="$data_dir" asr_model="$model" reuse="$reuse" asr_schedule="$schedule"
        hydra.run.dir="$exp_dir")
  [[ -n "$max_steps" ]] && args+=(trainer.max_steps="$max_steps")
  [[ -n "$max_minutes" ]] && args+=(trainer.max_minutes="$max_minutes")
  # shellcheck disable=SC2206
  extra=($train_args)
  "${bin}asr-train" "${args[@]}" "${extra[@]}"
fi

if run_stage 4; then
  for method in $methods; do
    for set in $test_sets; do
      echo "== stage 4: decode $set with $method${beam_size:+ (beam $beam_size)}"
      mapfile -t files < <("$python" -c 'import sys
from asr.data.manifest import read_manifest
print("\n".join(str(u.audio) for u in read_manifest(sys.argv[1])))' "$data_dir/$set.jsonl")
      mkdir -p "$exp_dir/decode_$method"
      fusion=()  # the CTC-only methods take no language model
      if [[ -n "$lm" && ( $method == joint_beam || $method == attention_rescoring ) ]]; then
        fusion=(--lm "$lm" ${lm_weight:+--lm-weight "$lm_weight"})
      fi
      "${bin}asr-transcribe" --model "$model_dir" --method "$method" \
        ${beam_size:+--beam-size "$beam_size"} --softmax "$softmax" ${threads:+--threads "$threads"} \
        "${fusion[@]}" --format jsonl "${files[@]}" > "$exp_dir/decode_$method/$set.jsonl"
    done
  done
fi

if run_stage 5; then
  for method in $methods; do
    echo "== stage 5: $method"
    refs=()
    for set in $test_sets; do
      refs+=(--ref "$data_dir/$set.jsonl" --hyp "$exp_dir/decode_$method/$set.jsonl")
    done
    "$python" -m asr.score "${refs[@]}" --json "$exp_dir/decode_$method/wer.json"
  done
fi

if run_stage 6; then
  echo "== stage 6: latency (bench suite=asr) -> $exp_dir/bench"
  "${bin}bench" suite=asr model="$model_dir" asr.manifest="$data_dir/test.jsonl" \
    ${threads:+threads="$threads"} ${lm:+asr.lm="$lm"} hydra.run.dir="$exp_dir/bench"
fi
