#!/usr/bin/env bash
# The shipped language model (models/asr-en-lm: word-piece LSTM, 2 layers, 512 wide,
# 4,333,824 parameters, fused in joint_beam at beam 20, weight 0.6, length penalty 1.0) from
# a clean clone: its two training runs and its fusion settings. Results and the measured
# figures: recipes/synth_asr/RESULTS.md.
#
#   bash recipes/synth_asr/shipped_asr_lm.sh [--dry-run] [--from-step N] [--to-step M]
#        [--threads T] [--asr DIR] [--out DIR]
#
# Steps, with the wall time each took on a 2-core x86 CPU (2 threads; step 8 estimated
# from the measured RTFs):
#   1 large corpus into data/synth_asr_large (stage 1: its dev and test sets)        ~5 min
#   2 LM text: the Ding dictionary's English side without any dev/test sentence       ~10 s
#   3 the LM from random weights: 3,408 updates                                      ~35 min
#   4 the same run resumed to 6,295 updates                                          ~30 min
#   5 LM text again, sentence-like lines (4+ words) five times                        ~11 s
#   6 fine-tune step 4's model on it, peak lr 1e-3: 4,537 updates                    ~40 min
#   7 half-precision copy with the fusion settings into --out                       seconds
#   8 decode and score both test sets: --asr with the LM, joint_beam (stages 4-5)   ~1.5 min
# Each training run stops at the update count the shipped LM reached (the recorded runs were
# stopped by wall-clock budgets at those counts). Rerunning a step resumes its run folder.
#   --dry-run      print the commands (one a line, shell-quoted) without running them
#   --from-step N  first step to run (default 1); --to-step M last step (default 8)
#   --threads T    torch CPU threads (default 2, as measured)
#   --asr DIR      the recogniser whose pieces the LM predicts (its spm.model) and that step 8
#                  decodes with (default models/asr-en)
#   --out DIR      the half-precision LM directory (default exp/asr_lm/asr-en-lm; the shipped
#                  one is models/asr-en-lm)
set -euo pipefail

dry_run=false from_step=1 to_step=8 threads=2 asr=models/asr-en out=exp/asr_lm/asr-en-lm
source "$(dirname "$0")/../chain_lib.sh"  # usage, run, step, require_numbers
while (($#)); do
  case $1 in
    --dry-run) dry_run=true; shift ;;
    --from-step) from_step=$2; shift 2 ;;
    --to-step) to_step=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --asr) asr=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "shipped_asr_lm.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
require_numbers shipped_asr_lm.sh "$from_step" "$to_step" "$threads"
cd "$(dirname "$0")/../.."
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
if [[ -x .venv/bin/asr-lm-train ]]; then lm_train=.venv/bin/asr-lm-train; else lm_train=asr-lm-train; fi

recipe=recipes/synth_asr/run.sh
data=data/synth_asr_large
sent4=$data/lm_sent4  # the weighted text has its own folder: step 3's text stays as it was
exp=exp/asr_lm
held_out=("$data/dev.jsonl" "$data/test.jsonl" "$data/test_unseen_voice.jsonl")
# The schedule is spelt out (conf/asr_lm_train.yaml's when the LM was trained), so the chain
# does not depend on later defaults.
lm_common=(data.tokenizer="$asr/spm.model" threads="$threads" trainer.valid_every=500
           trainer.save_every=500 trainer.log_every=50 trainer.patience=5 trainer.average_last=5
           trainer.progress=false)

if step 1 "large corpus into $data (~5 min)"; then
  run bash "$recipe" --size large --data-dir "$data" --stage 1 --stop-stage 1
fi
if step 2 "LM text into $data: lm_train.txt, lm_valid.txt (~10 s)"; then
  run "$python" -m asr.data.prepare lm-text --out "$data" --exclude "${held_out[@]}"
fi
lm() {  # lm UPDATES: the LM from random weights, or its run resumed, to UPDATES updates
  run "$lm_train" data.train="$data/lm_train.txt" data.valid="$data/lm_valid.txt" \
    "${lm_common[@]}" trainer.lr=0.002 trainer.warmup_steps=500 trainer.max_steps="$1" \
    hydra.run.dir="$exp/ding-large"
}
if step 3 "the LM from random weights: 3,408 updates (~35 min)"; then
  lm 3408
  run cp -rT "$exp/ding-large/model" "$exp/ding-large-3408"  # kept for studies.sh lm-fusion
fi
if step 4 "the same run resumed to 6,295 updates (~30 min)"; then
  lm 6295
fi
if step 5 "LM text with each sentence-like line five times into $sent4 (~11 s)"; then
  run "$python" -m asr.data.prepare lm-text --out "$sent4" --exclude "${held_out[@]}" \
    --sentence-copies 4
fi
if step 6 "fine-tune on the weighted text: 4,537 updates (~40 min)"; then
  run "$lm_train" data.train="$sent4/lm_train.txt" data.valid="$sent4/lm_valid_sentences.txt" \
    "${lm_common[@]}" trainer.max_steps=4537 trainer.init_from="$exp/ding-large/model" \
    trainer.lr=0.001 trainer.warmup_steps=200 hydra.run.dir="$exp/ding-large-sent4"
fi
if step 7 "half-precision copy into $out: beam 20, LM weight 0.6, length penalty 1.0 (seconds)"; then
  run "$python" -m echoformer.shipped export "$exp/ding-large-sent4/model" "$out" \
    --decoding lm_weight=0.6 --decoding length_penalty=1.0 --decoding beam_size=20
fi
if step 8 "decode and score both test sets, joint_beam with the LM (~1.5 min)"; then
  run bash "$recipe" --size large --data-dir "$data" --stage 4 --stop-stage 5 --model-dir "$asr" \
    --lm "$out" --methods joint_beam --exp-dir exp/synth_asr/eval-asr-en-lm --threads "$threads"
fi
