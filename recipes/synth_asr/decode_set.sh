#!/usr/bin/env bash
# Decode every file of one manifest with asr-transcribe and score it: the dev-set and
# flag-by-flag decodes of RESULTS.md's studies (run.sh stages 4-5 decode only the two test
# sets, with fewer decoding options).
#
#   bash recipes/synth_asr/decode_set.sh MANIFEST OUT_DIR [asr-transcribe options...]
#
# Writes OUT_DIR/NAME.jsonl (asr-transcribe --format jsonl: text, duration, processing
# seconds per file), OUT_DIR/NAME.wer.json (python -m asr.score) and OUT_DIR/NAME.voices.json
# (wer_per_voice.py), NAME being the manifest's file name without .jsonl. Example, the shipped models on the dev set:
#   bash recipes/synth_asr/decode_set.sh data/synth_asr_large/dev.jsonl exp/synth_asr/dev \
#     --model models/asr-en --lm models/asr-en-lm --threads 2
set -euo pipefail

usage() { sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'; }
case ${1:-} in -h|--help) usage; exit 0 ;; esac
(( $# >= 2 )) || { usage >&2; exit 2; }
manifest=$1 out_dir=$2
shift 2
[[ -f $manifest ]] || { echo "decode_set.sh: $manifest not found (build the corpus: recipes/synth_asr/run.sh)" >&2; exit 2; }
name=$(basename "$manifest" .jsonl)
repo=$(cd "$(dirname "$0")/../.." && pwd)
if [[ -x $repo/.venv/bin/python ]]; then python=$repo/.venv/bin/python; else python=python3; fi
if [[ -x $repo/.venv/bin/asr-transcribe ]]; then bin=$repo/.venv/bin/; else bin=; fi

mapfile -t files < <("$python" -c 'import sys
from asr.data.manifest import read_manifest
print("\n".join(str(u.audio) for u in read_manifest(sys.argv[1])))' "$manifest")
mkdir -p "$out_dir"
"${bin}asr-transcribe" "$@" --format jsonl "${files[@]}" > "$out_dir/$name.jsonl"
"$python" -m asr.score --ref "$manifest" --hyp "$out_dir/$name.jsonl" --json "$out_dir/$name.wer.json"
"$python" "$repo/recipes/synth_asr/wer_per_voice.py" "$manifest" "$out_dir/$name.jsonl" \
  --json "$out_dir/$name.voices.json"
