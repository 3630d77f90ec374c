#!/usr/bin/env bash
# English↔German NMT on the Ding dictionary (+ gettext catalogues). Run from the repo root:
#   bash recipes/ding_nmt/run.sh [--stage N] [--stop-stage M] [--data-dir DIR] [--vocab-size V]
set -euo pipefail

stage=1
stop_stage=2
data_dir=data/ding_nmt
vocab_size=8000
ding_path=/usr/share/trans/de-en

usage() {
  cat <<USAGE
Usage: bash recipes/ding_nmt/run.sh [options]
  --stage N        first stage to run (default $stage)
  --stop-stage M   last stage to run (default $stop_stage)
  --data-dir DIR   corpus folder (default $data_dir)
  --vocab-size V   joint sentencepiece vocabulary size (default $vocab_size)
  --ding-path F    Ding dictionary file (default $ding_path)
Stages: 1 corpus (installs trans-de-en if missing), 2 sentencepiece,
        3 train, 4 translate, 5 score, 6 latency (3-6 not built yet)
USAGE
}

while [[ $# -gt 0 ]]; do
  case "$1" in
    --stage) stage="$2"; shift 2 ;;
    --stop-stage) stop_stage="$2"; shift 2 ;;
    --data-dir) data_dir="$2"; shift 2 ;;
    --vocab-size) vocab_size="$2"; shift 2 ;;
    --ding-path) ding_path="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
  esac
done

[[ -f pyproject.toml && -d nmt ]] || { echo "run this from the repository root" >&2; exit 2; }
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi

run_stage() { [[ $stage -le $1 && $stop_stage -ge $1 ]]; }

if run_stage 1; then
  echo "stage 1: corpus → $data_dir"
  if [[ ! -f $ding_path ]]; then
    if [[ $ding_path == /usr/share/trans/de-en ]]; then
      echo "installing trans-de-en (Ding dictionary)"
      sudo_cmd=""; [[ $(id -u) -ne 0 ]] && sudo_cmd=sudo
      $sudo_cmd apt-get install -y trans-de-en || { $sudo_cmd apt-get update && $sudo_cmd apt-get install -y trans-de-en; }
    else
      echo "Ding file not found: $ding_path" >&2; exit 1
    fi
  fi
  "$python" -m nmt.data.prepare ding --ding-path "$ding_path" --out "$data_dir"
fi

if run_stage 2; then
  echo "stage 2: joint sentencepiece (vocab $vocab_size) → $data_dir/spm.model"
  "$python" -m nmt.data.prepare spm --data "$data_dir" --vocab-size "$vocab_size"
fi

for pending in 3:train 4:translate 5:score 6:latency; do
  if run_stage "${pending%%:*}"; then
    echo "stage ${pending%%:*} (${pending#*:}): not built yet" >&2
    exit 1
  fi
done
