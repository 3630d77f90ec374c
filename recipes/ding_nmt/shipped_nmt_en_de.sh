#!/usr/bin/env bash
# The shipped English->German model (models/nmt-en-de: small, reuse g2, 7,816 updates: 2,009
# from random weights, then two fine-tunes) from a clean clone. Results: RESULTS.md here.
#
#   bash recipes/ding_nmt/shipped_nmt_en_de.sh [--dry-run] [--from-step N] [--to-step M]
#        [--threads T] [--exp-dir DIR]
#
# Steps, with the wall time each took on a 2-core x86 CPU (1 training thread):
#   1 corpus and joint sentencepiece (run.sh stages 1-2)                          ~10 s
#   2 train small, reuse g2, from random weights: 2,009 updates                    ~2 h 15 min
#   3 fine-tune 1,500 updates on the same sentences after a fresh warm-up          ~45 min
#   4 fine-tune 4,307 updates, checkpoints chosen by validation BLEU               ~1 h 55 min
#   5 export in half precision, SVD-softmax defaults W=64, N=1,000                 ~10 s
#   6 test split, beam 5, batch 1, full and SVD-softmax (run.sh stages 4-5)        ~2 min
# Steps 3 and 4 start from the half-precision copy of the step before (as the shipped model's
# fine-tunes did). The result goes to EXP/nmt-en-de (not over models/nmt-en-de), its scores to
# EXP/eval/test.{full,svd}.scores.json. Rerunning a step resumes it.
#   --dry-run      print the commands (one a line, shell-quoted) without running them
#   --from-step N  first step to run (default 1); --to-step M last step (default 6)
#   --threads T    CPU threads for training (default 1, as measured); decoding uses 2
#   --exp-dir DIR  default exp/ding_nmt/en-de/shipped
set -euo pipefail

dry_run=false from_step=1 to_step=6 threads=1 exp=exp/ding_nmt/en-de/shipped
source "$(dirname "$0")/../chain_lib.sh"  # usage, run, step, require_numbers
while (($#)); do
  case $1 in
    --dry-run) dry_run=true; shift ;;
    --from-step) from_step=$2; shift 2 ;;
    --to-step) to_step=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --exp-dir) exp=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "shipped_nmt_en_de.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
require_numbers shipped_nmt_en_de.sh "$from_step" "$to_step" "$threads"
cd "$(dirname "$0")/../.."
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi

recipe=recipes/ding_nmt/run.sh
# The schedule is spelt out, so the chain does not depend on run.sh's per-size defaults.
schedule="trainer.log_every=25 trainer.average_last=5 data.max_tokens=3072 trainer.progress=false"
finetune="trainer.lr=0.0005 trainer.warmup_steps=200 $schedule"

if step 1 "corpus data/ding_nmt and data/ding_nmt/spm.model (~10 s)"; then
  run bash "$recipe" --stage 1 --stop-stage 2
fi
if step 2 "small, reuse g2, from random weights, 2,009 updates (~2 h 15 min on 1 thread)"; then
  run bash "$recipe" --stage 3 --stop-stage 3 --model-size small --reuse g2 \
    --threads "$threads" --max-steps 2009 --exp-dir "$exp/small-g2" \
    --train-args "trainer.lr=0.001 trainer.warmup_steps=600 trainer.save_every=100 trainer.valid_every=200 $schedule"
  run "$python" -m echoformer.shipped export "$exp/small-g2/model" "$exp/small-g2-half"
fi
if step 3 "+1,500 updates on the sentences, fresh warm-up to 5e-4 (~45 min on 1 thread)"; then
  run bash "$recipe" --stage 3 --stop-stage 3 --model-size small --reuse g2 \
    --threads "$threads" --max-steps 1500 --exp-dir "$exp/ft-sentences" \
    --train-args "trainer.init_from=$exp/small-g2-half trainer.save_every=100 trainer.valid_every=200 $finetune"
  run "$python" -m echoformer.shipped export "$exp/ft-sentences/model" "$exp/ft-sentences-half"
fi
if step 4 "+4,307 updates, the 5 checkpoints with the best validation BLEU averaged (~1 h 55 min on 1 thread)"; then
  run bash "$recipe" --stage 3 --stop-stage 3 --model-size small --reuse g2 \
    --threads "$threads" --max-steps 4307 --exp-dir "$exp/ft-bleu-d01" \
    --train-args "trainer.init_from=$exp/ft-sentences-half model.dropout=0.1 trainer.save_every=200 trainer.valid_every=200 trainer.patience=20 eval_bleu.sentences=1505 trainer.best_metric=bleu trainer.average_by=best $finetune"
fi
if step 5 "half-precision model directory with SVD-softmax W=64, N=1,000 (~10 s)"; then
  run "$python" -m echoformer.shipped export "$exp/ft-bleu-d01/model" "$exp/nmt-en-de" \
    --svd-window 64 --svd-candidates 1000
fi
if step 6 "test split (1,434 pairs), beam 5, batch 1, 2 threads, full then SVD-softmax (~2 min)"; then
  for softmax in full svd; do
    run bash "$recipe" --stage 4 --stop-stage 5 --model-dir "$exp/nmt-en-de" \
      --exp-dir "$exp/eval" --softmax "$softmax" --beam-size 5 --batch-size 1 --threads 2
  done
fi
