#!/usr/bin/env bash
# English↔German NMT on the Ding dictionary (+ gettext catalogues). Run from anywhere:
#
#   recipes/ding_nmt/run.sh [--stage N] [--stop-stage M] [--data-dir DIR] [--vocab-size V]
#                           [--ding-path F] [--terms] [--no-asr-copies]
#                           [--src-lang en --tgt-lang de]
#                           [--model-size tiny|demo|small|base] [--reuse none|g2|g4] [--max-steps N]
#                           [--max-minutes M] [--exp-dir DIR] [--train-args "key=value ..."]
#                           [--beam-size K] [--batch-size B] [--softmax full|svd]
#                           [--threads T] [--model-dir DIR] [--test-lines N]
#
# Stages: 1 corpus (installs trans-de-en if missing; --terms adds the dictionary's ~350K word
#           and phrase pairs to train; --no-asr-copies leaves out the ASR-style English copies,
#           which an English target (de->en) should not see)   2 joint sentencepiece
#         3 train (nmt-train) into --exp-dir (default exp/ding_nmt/<src>-<tgt>/<size>-<reuse>)
#         4 translate the test split (nmt-translate) -> <exp-dir>/test.<softmax>.hyp.<tgt>
#         5 score it: BLEU and chrF with sacreBLEU signatures -> <exp-dir>/test.<softmax>.scores.json
#         6 latency: bench suite=nmt (decoding speed, encoder reuse, SVD agreement) -> <exp-dir>/bench
# Stages 4-6 use --model-dir (default <exp-dir>/model), e.g. the shipped models/nmt-en-de;
# stages 4-5 take the first --test-lines pairs of the test split (default all).
# Without --stop-stage only the data stages run (1-2), or just --stage when it is later.
# A whole tiny run on a CPU in a few minutes (the data of stages 1-2 already prepared):
#   recipes/ding_nmt/run.sh --stage 3 --stop-stage 5 --model-size tiny --max-steps 300
set -euo pipefail

stage=1
stop_stage=            # default: 2, or --stage when that is later
data_dir=data/ding_nmt
vocab_size=8000
ding_path=/usr/share/trans/de-en
terms=
asr_copies=
src_lang=en
tgt_lang=de
model_size=base
reuse=none
max_steps=
max_minutes=
exp_dir=
train_args=
beam_size=5
batch_size=32
softmax=full
threads=0
model_dir=
test_lines=

usage() { sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --vocab-size) vocab_size=$2; shift 2 ;;
    --ding-path) ding_path=$2; shift 2 ;;
    --terms) terms=--terms; shift ;;
    --no-asr-copies) asr_copies=--no-asr-copies; shift ;;
    --src-lang) src_lang=$2; shift 2 ;;
    --tgt-lang) tgt_lang=$2; shift 2 ;;
    --model-size) model_size=$2; shift 2 ;;
    --reuse) reuse=$2; shift 2 ;;
    --max-steps) max_steps=$2; shift 2 ;;
    --max-minutes) max_minutes=$2; shift 2 ;;
    --exp-dir) exp_dir=$2; shift 2 ;;
    --train-args) train_args=$2; shift 2 ;;
    --beam-size) beam_size=$2; shift 2 ;;
    --batch-size) batch_size=$2; shift 2 ;;
    --softmax) softmax=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --model-dir) model_dir=$2; shift 2 ;;
    --test-lines) test_lines=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done
case "$model_size" in tiny|demo|small|base) ;; *) echo "--model-size must be tiny, demo, small or base (got $model_size)" >&2; exit 2 ;; esac
case "$softmax" in full|svd) ;; *) echo "--softmax must be full or svd (got $softmax)" >&2; exit 2 ;; esac

last_built=2  # the default --stop-stage (data only): training is a choice, it takes time
: "${exp_dir:=exp/ding_nmt/$src_lang-$tgt_lang/$model_size-$reuse}"
: "${model_dir:=$exp_dir/model}"
[[ -n "$stop_stage" ]] || stop_stage=$(( stage > last_built ? stage : last_built ))

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
if [[ -x .venv/bin/nmt-train ]]; then bin=.venv/bin/; else bin=; fi
run_stage() { [[ $stage -le $1 && $stop_stage -ge $1 ]]; }
hyp="$exp_dir/test.$softmax.hyp.$tgt_lang"

if run_stage 1; then
  echo "== stage 1: corpus -> $data_dir"
  if [[ ! -f $ding_path ]]; then
    if [[ $ding_path == /usr/share/trans/de-en ]]; then
      echo "installing trans-de-en (Ding dictionary)"
      sudo_cmd=""; [[ $(id -u) -ne 0 ]] && sudo_cmd=sudo
      $sudo_cmd apt-get install -y trans-de-en || { $sudo_cmd apt-get update && $sudo_cmd apt-get install -y trans-de-en; }
    else
      echo "Ding file not found: $ding_path" >&2; exit 1
    fi
  fi
  "$python" -m nmt.data.prepare ding --ding-path "$ding_path" $terms $asr_copies --out "$data_dir"
fi

if run_stage 2; then
  echo "== stage 2: joint sentencepiece (vocab $vocab_size) -> $data_dir/spm.model"
  "$python" -m nmt.data.prepare spm --data "$data_dir" --vocab-size "$vocab_size"
fi

if run_stage 3; then
  # the training schedule (conf/nmt_schedule): tiny and demo have their own, small and base cpu
  case "$model_size" in tiny|demo) schedule=$model_size ;; *) schedule=cpu ;; esac
  echo "== stage 3: train nmt_model=$model_size reuse=$reuse nmt_schedule=$schedule" \
       "$src_lang->$tgt_lang into $exp_dir"
  args=(data.dir="$data_dir" data.src_lang="$src_lang" data.tgt_lang="$tgt_lang"
        nmt_model="$model_size" reuse="$reuse" nmt_schedule="$schedule" threads="$threads"
        hydra.run.dir="$exp_dir")
  [[ -n "$max_steps" ]] && args+=(trainer.max_steps="$max_steps")
  [[ -n "$max_minutes" ]] && args+=(trainer.max_minutes="$max_minutes")
  # shellcheck disable=SC2206
  extra=($train_args)
  "${bin}nmt-train" "${args[@]}" "${extra[@]}"
fi

if run_stage 4; then
  echo "== stage 4: translate $data_dir/test.$src_lang (beam $beam_size, softmax $softmax) -> $hyp"
  mkdir -p "$exp_dir"
  head -n "${test_lines:--0}" "$data_dir/test.$src_lang" |
    "${bin}nmt-translate" --model "$model_dir" --beam-size "$beam_size" \
      --batch-size "$batch_size" --softmax "$softmax" --threads "$threads" > "$hyp"
fi

if run_stage 5; then
  echo "== stage 5: score $hyp against $data_dir/test.$tgt_lang"
  ref="$exp_dir/test.ref.$tgt_lang"
  head -n "${test_lines:--0}" "$data_dir/test.$tgt_lang" > "$ref"
  "$python" -m nmt.score --hyp "$hyp" --ref "$ref"
  "$python" -m nmt.score --hyp "$hyp" --ref "$ref" --json > "$exp_dir/test.$softmax.scores.json"
fi

if run_stage 6; then
  echo "== stage 6: latency and SVD-softmax agreement (bench suite=nmt) -> $exp_dir/bench"
  "${bin}bench" suite=nmt model="$model_dir" threads="$threads" \
    hydra.run.dir="$exp_dir/bench"
fi
