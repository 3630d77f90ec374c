#!/usr/bin/env bash
# The shipped recogniser (models/asr-en: Conformer s, 16 layers, reuse g4, 8,680,256
# parameters) from a clean clone: the whole chain of runs it came from. Results and the
# measured figures: recipes/synth_asr/RESULTS.md.
#
#   bash recipes/synth_asr/shipped_asr_en.sh [--dry-run] [--from-step N] [--to-step M]
#        [--threads T] [--out DIR]
#
# Steps, with the wall time each took on a 2-core x86 CPU (2 threads unless said; step 12
# estimated from the measured RTFs):
#    1 full corpus (13,200 utterances, 10 h) + CMVN + 256-piece tokenizer (stages 1-2)  ~5 min
#    2 xs, reuse g2, from random weights: 5,131 updates                          ~2 h 5 min
#    3 the same run resumed to 8,270 updates                 ~2 h (on 1 thread, 2.35 s/update)
#    4 fine-tune from step 3's half copy, peak lr 5e-4: 4,729 updates                 ~95 min
#    5 fine-tune from step 4's half copy with speeds 0.9/1.0/1.1: 4,221 updates        ~90 min
#    6 fine-tune from step 5's run model, speeds 0.85-1.15, lr 3e-4: 1,872 updates     ~40 min
#    7 large corpus (28,200 utterances, 21 h; full's tokenizer and CMVN) (stage 1)     ~5 min
#    8 fine-tune from step 6's run model on large: 2,944 updates                       ~60 min
#    9 grow step 8's model to s (16 layers, kernel 31), reuse g4 (python -m asr.grow)  seconds
#   10 train the grown s on large: 3,679 updates (1.96 s/update)                      ~2 h
#   11 half-precision copy with method=joint_beam into --out                          seconds
#   12 decode and score test and test_unseen_voice, four methods (stages 4-5)    ~1.5 min
# Each training run stops at the update count the shipped chain reached (the recorded runs
# were stopped by wall-clock budgets at those counts; --max-steps makes the chain the same on
# any machine). Rerunning a step resumes its run folder under exp/synth_asr/.
#   --dry-run      print the commands (one a line, shell-quoted) without running them
#   --from-step N  first step to run (default 1); --to-step M last step (default 12)
#   --threads T    torch CPU threads for training and decoding (default 2, as measured)
#   --out DIR      the half-precision model directory (default exp/synth_asr/asr-en; the
#                  shipped one is models/asr-en)
set -euo pipefail

dry_run=false from_step=1 to_step=12 threads=2 out=exp/synth_asr/asr-en
source "$(dirname "$0")/../chain_lib.sh"  # usage, run, step, require_numbers
while (($#)); do
  case $1 in
    --dry-run) dry_run=true; shift ;;
    --from-step) from_step=$2; shift 2 ;;
    --to-step) to_step=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "shipped_asr_en.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
require_numbers shipped_asr_en.sh "$from_step" "$to_step" "$threads"
cd "$(dirname "$0")/../.."
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi

recipe=recipes/synth_asr/run.sh
full=(--size full --data-dir data/synth_asr_full)
large=(--size large --data-dir data/synth_asr_large)
exp=exp/synth_asr
# The schedule is spelt out, so the chain does not depend on run.sh's per-size defaults.
common="trainer.save_every=100 trainer.valid_every=300 trainer.log_every=25 trainer.average_last=5 \
data.max_batch_seconds=80 data.cache_features=false trainer.progress=false"
speeds7="data.speed_perturb=[0.85,0.9,0.95,1.0,1.05,1.1,1.15]"
full_pieces="data.tokenizer=data/synth_asr_full/tokenizer.model data.cmvn=data/synth_asr_full/cmvn.json"
train() {  # train MODEL REUSE UPDATES EXP_DIR CORPUS(full|large) "train args"
  local corpus=("${full[@]}")
  [[ $5 == large ]] && corpus=("${large[@]}")
  run bash "$recipe" "${corpus[@]}" --stage 3 --stop-stage 3 --model "$1" --reuse "$2" \
    --max-steps "$3" --exp-dir "$4" --train-args "threads=$threads $6 $common"
}
half() {  # half SOURCE TARGET: the half-precision copy a later step starts from
  run "$python" -m echoformer.shipped export "$1" "$2" --decoding method=joint_beam
}

if step 1 "full corpus into data/synth_asr_full, CMVN and tokenizer (~5 min)"; then
  run bash "$recipe" "${full[@]}" --stage 1 --stop-stage 2
fi
if step 2 "xs, reuse g2, from random weights: 5,131 updates (~2 h 5 min)"; then
  train xs g2 5131 "$exp/xs-g2" full "trainer.lr=0.002 trainer.warmup_steps=600"
fi
if step 3 "the same run resumed to 8,270 updates (~2 h on 1 thread)"; then
  train xs g2 8270 "$exp/xs-g2" full "trainer.lr=0.002 trainer.warmup_steps=600"
  half "$exp/xs-g2/model" "$exp/half/xs-g2"
fi
if step 4 "fine-tune, peak lr 5e-4: 4,729 updates (~95 min)"; then
  train xs g2 4729 "$exp/xs-g2-ft" full \
    "trainer.init_from=$exp/half/xs-g2 trainer.lr=0.0005 trainer.warmup_steps=300"
  half "$exp/xs-g2-ft/model" "$exp/half/xs-g2-ft"
fi
if step 5 "fine-tune with speed perturbation 0.9/1.0/1.1: 4,221 updates (~90 min)"; then
  train xs g2 4221 "$exp/xs-g2-sp" full "trainer.init_from=$exp/half/xs-g2-ft \
trainer.lr=0.0005 trainer.warmup_steps=300 data.speed_perturb=[0.9,1.0,1.1]"
fi
if step 6 "fine-tune, speeds 0.85-1.15, lr 3e-4: 1,872 updates (~40 min)"; then
  train xs g2 1872 "$exp/xs-g2-sp2" full \
    "trainer.init_from=$exp/xs-g2-sp/model trainer.lr=0.0003 trainer.warmup_steps=200 $speeds7"
fi
if step 7 "large corpus into data/synth_asr_large (~5 min; full's tokenizer and CMVN)"; then
  run bash "$recipe" "${large[@]}" --stage 1 --stop-stage 1
fi
if step 8 "fine-tune on large: 2,944 updates (~60 min)"; then
  train xs g2 2944 "$exp/xs-g2-large" large "trainer.init_from=$exp/xs-g2-sp2/model \
$full_pieces trainer.lr=0.0003 trainer.warmup_steps=200 $speeds7"
fi
if step 9 "grow to s (16 layers), reuse g4 (seconds)"; then
  run "$python" -m asr.grow "$exp/xs-g2-large/model" "$exp/grown/s-g4-from-xs-g2-large" \
    --model s --reuse g4
fi
if step 10 "s, reuse g4, from the grown model on large: 3,679 updates (~2 h)"; then
  train s g4 3679 "$exp/s-g4-grown" large "trainer.init_from=$exp/grown/s-g4-from-xs-g2-large \
$full_pieces trainer.lr=0.0003 trainer.warmup_steps=200 $speeds7"
fi
if step 11 "half-precision copy into $out (seconds)"; then
  half "$exp/s-g4-grown/model" "$out"
fi
if step 12 "decode and score both test sets with the four methods (~1.5 min)"; then
  run bash "$recipe" "${large[@]}" --stage 4 --stop-stage 5 --model-dir "$out" \
    --exp-dir "$exp/eval-asr-en" --threads "$threads"
fi
