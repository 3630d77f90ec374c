#!/usr/bin/env bash
# The shipped recogniser and pocketsphinx on real recorded English speech (asterisk prompts,
# klettres and ktuberling words; asr/data/real_speech.py): one WER / RTF table.
#
#   recipes/synth_asr/real_speech.sh [--stage N] [--stop-stage M] [--data-dir DIR]
#                                    [--exp-dir DIR] [--threads T] [--sets "S1 S2"]
#                                    [--no-g722]
#
# Stages: 1 install the Debian packages if missing, build real_dev / real_test / real_train
#         2 decode each of --sets with the shipped recogniser (models/asr-en, joint_beam)
#           with its language model (models/asr-en-lm) and without (--no-lm)
#         3 decode each of --sets with pocketsphinx (peers extra; its bundled en-us model)
#         4 score: one table, rows = system x set -> <exp-dir>/wer.md and wer.json; and the
#           CPU seconds (user + sys) of each whole decode command per audio second, and
#           the WER of each system by source (asterisk prompts, klettres, ktuberling words)
# Decodes run one at a time under nice -n 10, ours on --threads T (default 1: pocketsphinx
# decodes on one thread). RTF (asr-score) = decode wall time / audio time; the CPU column
# counts the whole command (start-up, model loading, reading audio), and is the one to trust
# on a busy machine. Defaults: --data-dir data/real_speech, --exp-dir exp/real_speech,
# --sets "real_dev real_test". --no-g722: stage 1 takes the 8 kHz asterisk wav files
# (resampled) instead of the 16 kHz G.722 copy; the split is the same.
set -euo pipefail

stage=1
stop_stage=4
data_dir=data/real_speech
exp_dir=exp/real_speech
threads=1
sets="real_dev real_test"
build_args=()

usage() { sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --stage) stage=$2; shift 2 ;;
    --stop-stage) stop_stage=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --exp-dir) exp_dir=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --sets) sets=$2; shift 2 ;;
    --no-g722) build_args+=(--no-g722); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
if [[ -x .venv/bin/asr-transcribe ]]; then bin=.venv/bin/; else bin=; fi
run_stage() { [[ $stage -le $1 && $stop_stage -ge $1 ]]; }
systems=("asr-en + LM:asr_en_lm:" "asr-en:asr_en:--no-lm")  # label:folder:options

if run_stage 1; then
  echo "== stage 1: real recorded speech into $data_dir"
  bash scripts/install_system_packages.sh real-speech
  nice -n 10 "$python" -m asr.data.real_speech --out "$data_dir" "${build_args[@]}"
fi

timed() {  # timed FILE COMMAND...: run it, write "wall user sys" seconds to FILE
  local file=$1 TIMEFORMAT="%R %U %S"; shift
  { time "$@" 2>&3; } 3>&2 2> "$file"
}

audio_of() {  # the audio files of a manifest, one a line
  "$python" -c 'import sys
from asr.data.manifest import read_manifest
print("\n".join(str(u.audio) for u in read_manifest(sys.argv[1])))' "$1"
}

if run_stage 2; then
  for system in "${systems[@]}"; do
    IFS=: read -r label folder options <<< "$system"
    mkdir -p "$exp_dir/$folder"
    for set in $sets; do
      echo "== stage 2: $label on $set ($threads thread(s))"
      mapfile -t files < <(audio_of "$data_dir/$set.jsonl")
      # shellcheck disable=SC2086
      timed "$exp_dir/$folder/$set.time" nice -n 10 "${bin}asr-transcribe" $options \
        --threads "$threads" --format jsonl "${files[@]}" > "$exp_dir/$folder/$set.jsonl"
    done
  done
fi

if run_stage 3; then
  mkdir -p "$exp_dir/pocketsphinx"
  for set in $sets; do
    echo "== stage 3: pocketsphinx on $set"
    timed "$exp_dir/pocketsphinx/$set.time" nice -n 10 "$python" -m asr.peers pocketsphinx \
      "$data_dir/$set.jsonl" > "$exp_dir/pocketsphinx/$set.jsonl"
  done
fi

if run_stage 4; then
  echo "== stage 4: score -> $exp_dir/wer.md"
  args=()
  for system in "${systems[@]}" "pocketsphinx:pocketsphinx:"; do
    IFS=: read -r label folder _ <<< "$system"
    for set in $sets; do
      args+=(--ref "$data_dir/$set.jsonl" --hyp "$exp_dir/$folder/$set.jsonl" --label "$label")
    done
  done
  "$python" -m asr.score "${args[@]}" --json "$exp_dir/wer.json" | tee "$exp_dir/wer.md"
  "$python" - "${args[@]}" <<'EOF' | tee -a "$exp_dir/wer.md"
import sys
from pathlib import Path
from asr.data.manifest import read_manifest
args = sys.argv[1:]  # --ref REF --hyp HYP --label LABEL, repeated
print("\n| system | test set | CPU s / audio s (whole command) |\n|---:|---:|---:|")
for ref, hyp, label in zip(args[1::6], args[3::6], args[5::6]):
    audio = sum(u.duration for u in read_manifest(ref, check_audio=False))
    wall, user, system = map(float, Path(hyp).with_suffix(".time").read_text().split()[-3:])
    print(f"| {label} | {Path(ref).stem} | {(user + system) / audio:.4f} |")
EOF
  "$python" - "${args[@]}" <<'EOF' | tee -a "$exp_dir/wer.md"
import json, sys
from collections import defaultdict
from pathlib import Path
from asr.data.manifest import read_manifest
from asr.score import word_error_rate
args = sys.argv[1:]  # --ref REF --hyp HYP --label LABEL, repeated
print("\n| system | test set | source | utts | words | WER % |\n|---:|---:|---:|---:|---:|---:|")
for ref, hyp, label in zip(args[1::6], args[3::6], args[5::6]):
    texts = {str(Path(row["audio"]).resolve()): row["text"]
             for row in map(json.loads, Path(hyp).read_text().splitlines())}
    by_source = defaultdict(list)
    for u in read_manifest(ref, check_audio=False):
        by_source[u.extra.get("source", "")].append((u.text, texts.get(str(u.audio), "")))
    for source, pairs in sorted(by_source.items()):
        r = word_error_rate(*map(list, zip(*pairs)))
        print(f"| {label} | {Path(ref).stem} | {source} | {r.utterances} | "
              f"{r.reference_words} | {100 * r.wer:.2f} |")
EOF
fi
