#!/usr/bin/env bash
# NMT on a local line-aligned parallel corpus (IWSLT/WMT style). Run from the repo root:
#   bash recipes/wmt/run.sh --corpus-dir DIR --src-lang en --tgt-lang de [--stage N] [--stop-stage M]
# The corpus folder holds train/valid/test files named {split}.{src-ext} and {split}.{tgt-ext}.
# Stages 1-2 prepare the data here; stages 3-6 (train, translate, score, latency) are those of
# recipes/ding_nmt/run.sh, run on this recipe's --data-dir and --exp-dir.
set -euo pipefail

stage=1
stop_stage=            # default: 2, or --stage when that is later
corpus_dir=""
src_ext=src
tgt_ext=tgt
src_lang=en
tgt_lang=de
data_dir=data/wmt
vocab_size=32000
model_size=base
reuse=none
exp_dir=
forwarded=()           # stage 3-6 options handed to recipes/ding_nmt/run.sh as given

usage() {
  cat <<USAGE
Usage: bash recipes/wmt/run.sh --corpus-dir DIR [options]
  --corpus-dir DIR  folder with {train,valid,test}.{src-ext,tgt-ext} (required for stage 1)
  --src-ext E       source file extension (default $src_ext)
  --tgt-ext E       target file extension (default $tgt_ext)
  --src-lang L      language code of the source files (default $src_lang)
  --tgt-lang L      language code of the target files (default $tgt_lang)
  --data-dir DIR    output folder (default $data_dir)
  --vocab-size V    joint sentencepiece vocabulary size (default $vocab_size)
  --stage N / --stop-stage M   stages to run (default $stage..2, or just --stage when later)
Stages 3-6, run by recipes/ding_nmt/run.sh on --data-dir (its defaults unless given):
  --model-size tiny|demo|small|base (default $model_size)   --reuse none|g2|g4 (default $reuse)
  --exp-dir DIR     run folder (default exp/wmt/<src>-<tgt>/<size>-<reuse>)
  --max-steps N  --max-minutes M  --train-args "key=value ..."     (stage 3)
  --model-dir DIR (default <exp-dir>/model)  --beam-size K  --batch-size B
  --softmax full|svd  --threads T  --test-lines N                 (stages 4-6)
Stages: 1 corpus, 2 sentencepiece, 3 train, 4 translate the test split,
        5 score (BLEU, chrF), 6 latency (bench suite=nmt)
USAGE
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --corpus-dir) corpus_dir="$2"; shift 2 ;;
    --src-ext) src_ext="$2"; shift 2 ;;
    --tgt-ext) tgt_ext="$2"; shift 2 ;;
    --src-lang) src_lang="$2"; shift 2 ;;
    --tgt-lang) tgt_lang="$2"; shift 2 ;;
    --data-dir) data_dir="$2"; shift 2 ;;
    --vocab-size) vocab_size="$2"; shift 2 ;;
    --stage) stage="$2"; shift 2 ;;
    --stop-stage) stop_stage="$2"; shift 2 ;;
    --model-size) model_size="$2"; shift 2 ;;
    --reuse) reuse="$2"; shift 2 ;;
    --exp-dir) exp_dir="$2"; shift 2 ;;
    --max-steps|--max-minutes|--train-args|--model-dir|--beam-size|--batch-size|--softmax|--threads|--test-lines)
      [[ $# -ge 2 ]] || { echo "$1 needs a value" >&2; exit 2; }
      forwarded+=("$1" "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done

[[ -f pyproject.toml && -d nmt ]] || { echo "run this from the repository root" >&2; exit 2; }
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
[[ -n $stop_stage ]] || stop_stage=$(( stage > 2 ? stage : 2 ))
: "${exp_dir:=exp/wmt/$src_lang-$tgt_lang/$model_size-$reuse}"

run_stage() { [[ $stage -le $1 && $stop_stage -ge $1 ]]; }

if run_stage 1; then
  [[ -n $corpus_dir ]] || { echo "stage 1 needs --corpus-dir" >&2; usage >&2; exit 2; }
  echo "stage 1: corpus $corpus_dir → $data_dir"
  files=()
  for split in train valid test; do
    files+=(--"$split"-src "$corpus_dir/$split.$src_ext" --"$split"-tgt "$corpus_dir/$split.$tgt_ext")
  done
  "$python" -m nmt.data.prepare local "${files[@]}" \
    --src-lang "$src_lang" --tgt-lang "$tgt_lang" --out "$data_dir"
fi

if run_stage 2; then
  echo "stage 2: joint sentencepiece (vocab $vocab_size) → $data_dir/spm.model"
  "$python" -m nmt.data.prepare spm --data "$data_dir" --vocab-size "$vocab_size"
fi

if (( stop_stage >= 3 && stage <= 6 )); then
  from=$(( stage > 3 ? stage : 3 ))
  to=$(( stop_stage < 6 ? stop_stage : 6 ))
  bash recipes/ding_nmt/run.sh --stage "$from" --stop-stage "$to" \
    --data-dir "$data_dir" --exp-dir "$exp_dir" --src-lang "$src_lang" --tgt-lang "$tgt_lang" \
    --model-size "$model_size" --reuse "$reuse" ${forwarded[@]+"${forwarded[@]}"}
fi
