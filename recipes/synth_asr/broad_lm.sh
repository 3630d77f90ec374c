#!/usr/bin/env bash
# The ASR language model on broad English text: the Ding dictionary's English side (the
# shipped LM's text) plus the sentence-like prose of the NMT corpus's English side and of the
# English man pages in the harvest cache, in transcript form, no line equal to (or holding) a
# dev or test transcript of the synthetic or the real-speech sets (asr/data/lm_text.py).
# Needs data/debian_nmt/train.en and data/harvest/tree (recipes/debian_nmt/run.sh) and groff.
#
#   bash recipes/synth_asr/broad_lm.sh [--dry-run] [--from-step N] [--to-step M]
#        [--threads T] [--max-steps N] [--init-from DIR] [--asr DIR] [--text DIR]
#        [--exp-dir DIR] [--out DIR]
#
# Steps:
#   1 large corpus into data/synth_asr_large (stage 1: its dev and test sets)
#   2 real-speech sets into data/real_speech (real_speech.sh stage 1)
#   3 broad LM text into --text: lm_train.txt, lm_valid.txt, lm_text_summary.json    ~5 min
#   4 the LM (asr-lm-train), --max-steps updates: 12,000 in ~1.8 h on 2 threads (0.53 s
#     an update, as the shipped LM's run of the same model and batch size took; one
#     thread: 0.70 CPU s an update on this text, ~2.3 h)
#   5 half-precision copy with the shipped LM's fusion settings into --out          seconds
#   6 decode and score both synthetic test sets, joint_beam with the LM            ~1.5 min
#   7 decode and score the real-speech dev set, joint_beam with the LM
# Rerunning step 4 resumes its run folder (--exp-dir).
#   --dry-run        print the commands (one a line, shell-quoted) without running them
#   --from-step N    first step to run (default 1); --to-step M last step (default 7)
#   --threads T      torch CPU threads (default 2)
#   --max-steps N    training updates (default 12000: about 3 epochs of the ~13.5M training
#                    pieces; the shipped LM had 10,832 updates in all)
#   --init-from DIR  start from this LM's weights (e.g. models/asr-en-lm) instead of random
#                    ones; the schedule is then a fine-tune's (peak lr 1e-3, 200 warm-up)
#   --asr DIR        the recogniser whose pieces the LM predicts (its spm.model) and that
#                    steps 6-7 decode with (default models/asr-en)
#   --text DIR       the LM text folder (default data/lm_broad)
#   --exp-dir DIR    the training run folder (default exp/asr_lm/broad)
#   --out DIR        the half-precision LM directory (default exp/asr_lm/asr-en-lm-broad)
set -euo pipefail

dry_run=false from_step=1 to_step=7 threads=2 max_steps=12000 init_from=
asr=models/asr-en text=data/lm_broad exp=exp/asr_lm/broad out=exp/asr_lm/asr-en-lm-broad
source "$(dirname "$0")/../chain_lib.sh"  # usage, run, step, require_numbers
while (($#)); do
  case $1 in
    --dry-run) dry_run=true; shift ;;
    --from-step) from_step=$2; shift 2 ;;
    --to-step) to_step=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --max-steps) max_steps=$2; shift 2 ;;
    --init-from) init_from=$2; shift 2 ;;
    --asr) asr=$2; shift 2 ;;
    --text) text=$2; shift 2 ;;
    --exp-dir) exp=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "broad_lm.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
require_numbers broad_lm.sh "$from_step" "$to_step" "$threads" "$max_steps"
cd "$(dirname "$0")/../.."
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
if [[ -x .venv/bin/asr-lm-train ]]; then lm_train=.venv/bin/asr-lm-train; else lm_train=asr-lm-train; fi

recipe=recipes/synth_asr/run.sh
synth=data/synth_asr_large
real=data/real_speech
held_out=("$synth/dev.jsonl" "$synth/test.jsonl" "$synth/test_unseen_voice.jsonl"
          "$real/real_dev.jsonl" "$real/real_test.jsonl")
if [[ -n $init_from ]]; then
  schedule=(trainer.init_from="$init_from" trainer.lr=0.001 trainer.warmup_steps=200)
else
  schedule=(trainer.lr=0.002 trainer.warmup_steps=500)
fi

if step 1 "large corpus into $synth (its dev and test sets)"; then
  run bash "$recipe" --size large --data-dir "$synth" --stage 1 --stop-stage 1
fi
if step 2 "real-speech sets into $real"; then
  run bash recipes/synth_asr/real_speech.sh --data-dir "$real" --stage 1 --stop-stage 1
fi
if step 3 "broad LM text into $text (~5 min)"; then
  run "$python" -m asr.data.lm_text --broad --out "$text" --exclude "${held_out[@]}" \
    --english data/debian_nmt/train.en --man-pages data/harvest/tree
fi
if step 4 "the LM: $max_steps updates (~0.53 s each on 2 threads)"; then
  run "$lm_train" data.train="$text/lm_train.txt" data.valid="$text/lm_valid.txt" \
    data.tokenizer="$asr/spm.model" threads="$threads" "${schedule[@]}" \
    trainer.max_steps="$max_steps" trainer.valid_every=500 trainer.save_every=500 \
    trainer.log_every=50 trainer.patience=5 trainer.average_last=5 trainer.progress=false \
    hydra.run.dir="$exp"
fi
if step 5 "half-precision copy into $out: beam 20, LM weight 0.6, length penalty 1.0"; then
  run "$python" -m echoformer.shipped export "$exp/model" "$out" \
    --decoding lm_weight=0.6 --decoding length_penalty=1.0 --decoding beam_size=20
fi
if step 6 "decode and score both synthetic test sets, joint_beam with the LM (~1.5 min)"; then
  run bash "$recipe" --size large --data-dir "$synth" --stage 4 --stop-stage 5 \
    --model-dir "$asr" --lm "$out" --methods joint_beam --exp-dir exp/synth_asr/eval-broad-lm \
    --threads "$threads"
fi
if step 7 "decode and score the real-speech dev set, joint_beam with the LM"; then
  run bash recipes/synth_asr/decode_set.sh "$real/real_dev.jsonl" exp/real_speech/broad-lm \
    --model "$asr" --lm "$out" --method joint_beam --threads "$threads"
fi
