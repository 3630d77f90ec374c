#!/usr/bin/env bash
# The studies of RESULTS.md here, one command each, from a clean clone. Most start from a model
# of the shipped chain (shipped_nmt_en_de.sh, run first, into --chain-dir):
#   CHAIN/small-g2-half     small, g2, 2,009 updates (step 2)
#   CHAIN/ft-sentences-half the same + 1,500 updates (step 3)
#   CHAIN/ft-bleu-d01       the run folder of step 4 (+4,307 updates, selected by valid BLEU)
#
#   bash recipes/ding_nmt/studies.sh STUDY [--dry-run] [--chain-dir DIR] [--threads T]
#
# STUDY (wall time on a 2-core x86 CPU, one training thread per arm, arms one after another):
#   reuse           small with reuse none / g2 / g4 from random weights, 1,800 updates each,
#                   test scores and encoder speed (3 x ~1 h 25 min)
#   de-en           German->English, small g2, 1,800 updates, no ASR-style copies (~50 min, 2 threads)
#   terms           the 2,009-update model + 1,500 updates with --terms (control: chain step 3),
#                   then each + 600 on sentences (~45 min + 2 x ~17 min)
#   subword         the +1,500 model + 1,500 updates with data.subword_alpha=0.3 and without
#                   (2 x ~40 min)
#   select-dropout  chain step 4 with model.dropout=0.3 (~1 h 55 min)
#   resume-d01      chain step 4's run resumed to 5,560 updates on 2 threads (~22 min)
#   dropout-more    that model + 3,239 updates at dropout 0.2, 3,146 at 0.3 (2 x ~1 h 40 min)
#   soup            weight averages of the resume-d01 and select-dropout models (~8 min)
#   vocab4k         a 4,000-piece vocabulary, dropout 0.3, 3,313 updates from random weights (~2 h)
#   length-beam     length penalty and beam on valid: the shipped model, and the 2,009-update
#                   one's length penalty (~12 min)
#   svd-window      SVD-softmax W / N of the shipped model on valid, beam 5, batch 1 (~6 min)
#   svd-speed       bench suite=nmt on the 2,009-update model: full vs SVD-softmax (~3 min)
# --dry-run prints the commands (one a line, shell-quoted) without running them.
# Outputs go under exp/ding_nmt/ (run folders, hypotheses, *.scores.json).
set -euo pipefail

dry_run=false chain=exp/ding_nmt/en-de/shipped threads=1 study=
source "$(dirname "$0")/../chain_lib.sh"  # usage, run, step, require_numbers
while (($#)); do
  case $1 in
    --dry-run) dry_run=true; shift ;;
    --chain-dir) chain=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "studies.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [[ -z $study ]] || { echo "studies.sh: one STUDY at a time (got $study and $1)" >&2; exit 2; }
       study=$1; shift ;;
  esac
done
[[ -n $study ]] || { echo "studies.sh: name a STUDY (see --help)" >&2; exit 2; }
cd "$(dirname "$0")/../.."
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
if [[ -x .venv/bin/nmt-translate ]]; then bin=.venv/bin/; else bin=; fi

run_to() {  # run_to FILE command...: the command's stdout into FILE
  local file=$1; shift
  if $dry_run; then printf '%q ' "$@"; printf '> %q\n' "$file"
  else mkdir -p "$(dirname "$file")"; "$@" > "$file"; fi
}
note() { echo "# $*"; }
recipe=recipes/ding_nmt/run.sh
exp=exp/ding_nmt/en-de
schedule="trainer.log_every=25 trainer.average_last=5 data.max_tokens=3072 trainer.progress=false"
scratch="trainer.lr=0.001 trainer.warmup_steps=600 trainer.save_every=100 trainer.valid_every=200 $schedule"
finetune="trainer.lr=0.0005 trainer.warmup_steps=200 $schedule"
select_bleu="trainer.save_every=200 trainer.valid_every=200 eval_bleu.sentences=1505 trainer.best_metric=bleu trainer.average_by=best"

train() {  # train EXP_DIR STEPS TRAIN_ARGS [run.sh options...]
  local dir=$1 steps=$2 args=$3; shift 3
  run bash "$recipe" --stage 3 --stop-stage 3 --model-size small --reuse g2 --threads "$threads" \
    --max-steps "$steps" --exp-dir "$dir" "$@" --train-args "$args"
}
valid() {  # valid MODEL_DIR OUT_PREFIX [nmt-translate options...]: translate and score valid
  local model=$1 out=$2; shift 2
  run_to "$out.hyp.de" "${bin}nmt-translate" --model "$model" --threads 2 "$@" data/ding_nmt/valid.en
  run "$python" -m nmt.score --hyp "$out.hyp.de" --ref data/ding_nmt/valid.de
}
test_split() {  # test_split EXP_DIR SOFTMAX BATCH [run.sh options...]
  local dir=$1 softmax=$2 batch=$3; shift 3
  run bash "$recipe" --stage 4 --stop-stage 5 --exp-dir "$dir" --softmax "$softmax" \
    --beam-size 5 --batch-size "$batch" --threads 2 "$@"
}

case $study in
  reuse)
    for r in none g2 g4; do
      note "small, reuse $r, 1,800 updates from random weights (~1 h 25 min)"
      run bash "$recipe" --stage 3 --stop-stage 3 --model-size small --reuse "$r" --threads "$threads" \
        --max-steps 1800 --exp-dir "$exp/study-small-$r" --train-args "$scratch"
      test_split "$exp/study-small-$r" full 32
      test_split "$exp/study-small-$r" svd 32
    done
    for g in 2 4; do
      note "encoder speed, groups of $g against no reuse, random weights of the same size (~2 min)"
      run "${bin}bench" suite=nmt model="$exp/study-small-none/model" threads=2 repeats=5 warmup=1 \
        'nmt.beams=[1]' 'nmt.batches=[1,32]' nmt.max_sentences=96 nmt.agreement_sentences=20 \
        nmt.large_vocab=0 nmt.group_size="$g" hydra.run.dir="exp/bench/nmt_study_g$g"
    done ;;
  de-en)
    note "corpus without the ASR-style English copies, its own sentencepiece (~10 s)"
    run bash "$recipe" --no-asr-copies --data-dir data/ding_nmt_no_asr_copies
    note "German->English, small, g2, 1,800 updates on 2 threads (~50 min)"
    run bash "$recipe" --stage 3 --stop-stage 3 --data-dir data/ding_nmt_no_asr_copies \
      --src-lang de --tgt-lang en --model-size small --reuse g2 --threads 2 --max-steps 1800 \
      --exp-dir exp/ding_nmt/de-en/small-g2 --train-args "$scratch"
    for softmax in full svd; do
      run bash "$recipe" --stage 4 --stop-stage 5 --data-dir data/ding_nmt_no_asr_copies \
        --src-lang de --tgt-lang en --exp-dir exp/ding_nmt/de-en/small-g2 --softmax "$softmax" \
        --beam-size 5 --batch-size 1 --threads 2
    done ;;
  terms)
    start=$chain/small-g2-half
    common="data.spm=$start/spm.model $finetune trainer.save_every=100"
    note "corpus with the dictionary's word and phrase pairs (stage 1 only: the spm is kept)"
    run bash "$recipe" --stop-stage 1 --terms --data-dir data/ding_nmt_terms
    note "+1,500 updates on terms and sentences (~45 min); the control is chain step 3"
    train "$exp/ft-terms" 1500 "$common trainer.valid_every=200 trainer.init_from=$start" \
      --data-dir data/ding_nmt_terms
    for arm in "$exp/ft-terms" "$chain/ft-sentences"; do
      note "then +600 updates on sentences only (~17 min)"
      train "$exp/$(basename "$arm")-then-sentences" 600 \
        "$common trainer.valid_every=100 trainer.init_from=$arm/model"
    done
    for dir in "$exp/ft-terms" "$chain/ft-sentences" "$exp/ft-terms-then-sentences" \
               "$exp/ft-sentences-then-sentences"; do
      valid "$dir/model" "$dir/valid.full" --beam-size 5 --batch-size 32
      test_split "$dir" full 32
    done ;;
  subword)
    start=$chain/ft-sentences-half
    common="trainer.init_from=$start trainer.save_every=100 trainer.valid_every=200 $finetune"
    for arm in subword03 control; do
      extra=; [[ $arm == subword03 ]] && extra=" data.subword_alpha=0.3"
      note "+1,500 updates, $arm (~40 min)"
      train "$exp/v3-$arm" 1500 "$common$extra"
      valid "$exp/v3-$arm/model" "$exp/v3-$arm/valid.full" --beam-size 5 --batch-size 32
      test_split "$exp/v3-$arm" full 32
    done ;;
  select-dropout)
    note "chain step 4 with model.dropout=0.3 (~1 h 55 min)"
    train "$exp/ft-bleu-d03" 4307 "trainer.init_from=$chain/ft-sentences-half model.dropout=0.3 trainer.patience=20 $select_bleu $finetune"
    valid "$exp/ft-bleu-d03/model" "$exp/ft-bleu-d03/valid.full" --beam-size 5 --batch-size 32 ;;
  resume-d01)
    note "a copy of chain step 4's run folder, resumed to 5,560 updates on 2 threads (~22 min)"
    [[ -e $exp/ft-bleu-d01-more ]] || run cp -r "$chain/ft-bleu-d01" "$exp/ft-bleu-d01-more"
    threads=2
    train "$exp/ft-bleu-d01-more" 5560 "trainer.init_from=$chain/ft-sentences-half model.dropout=0.1 trainer.patience=20 $select_bleu $finetune"
    valid "$exp/ft-bleu-d01-more/model" "$exp/ft-bleu-d01-more/valid.full" --beam-size 5 --batch-size 32
    run "$python" -m echoformer.shipped export "$exp/ft-bleu-d01-more/model" "$exp/ft-bleu-d01-more-half" \
      --svd-window 64 --svd-candidates 1000
    for softmax in full svd; do
      test_split "$exp/ft-bleu-d01-more" "$softmax" 1 --model-dir "$exp/ft-bleu-d01-more-half"
    done ;;
  dropout-more)
    start=$exp/ft-bleu-d01-more/model  # from the resume-d01 study
    for arm in 0.2:3239 0.3:3146; do
      p=${arm%:*} steps=${arm#*:}
      note "$steps more updates at dropout $p, lr 3e-4 (~1 h 40 min)"
      train "$exp/ft5-d${p/./}" "$steps" "trainer.init_from=$start model.dropout=$p trainer.lr=0.0003 trainer.patience=30 $select_bleu trainer.warmup_steps=200 $schedule"
      valid "$exp/ft5-d${p/./}/model" "$exp/ft5-d${p/./}/valid.full" --beam-size 5 --batch-size 32
    done
    run "$python" -m echoformer.shipped export "$exp/ft5-d02/model" "$exp/ft5-d02-half" \
      --svd-window 64 --svd-candidates 1000
    for softmax in full svd; do
      test_split "$exp/ft5-d02" "$softmax" 1 --model-dir "$exp/ft5-d02-half"
    done ;;
  soup)
    note "weight averages of resume-d01's and select-dropout's models (same start; ~1 min each)"
    for w in 0.5 0.7; do
      run "$python" recipes/ding_nmt/soup.py "$exp/ft-bleu-d01-more/model" "$exp/ft-bleu-d03/model" \
        "$exp/soup-d01-d03-w$w" --weight "$w"
      valid "$exp/soup-d01-d03-w$w" "$exp/soup-valid/w$w.full" --beam-size 5 --batch-size 32
    done ;;
  vocab4k)
    note "the same pairs, a 4,000-piece sentencepiece (~10 s)"
    run bash "$recipe" --data-dir data/ding_nmt_v4k --vocab-size 4000
    note "small, g2, dropout 0.3, 3,313 updates from random weights (~2 h)"
    train "$exp/small-g2-v4k-d03" 3313 "model.dropout=0.3 $scratch" --data-dir data/ding_nmt_v4k
    for softmax in full svd; do
      test_split "$exp/small-g2-v4k-d03" "$softmax" 1 --data-dir data/ding_nmt_v4k
    done ;;
  length-beam)
    for a in 0.6 1.0 1.4 2.0; do
      valid "$chain/small-g2-half" "$exp/small-g2-valid/lp$a" --beam-size 5 --length-penalty "$a" --batch-size 32
    done
    for a in 0.6 1.0 1.4; do
      valid models/nmt-en-de "$exp/shipped-valid/lp$a" --beam-size 5 --length-penalty "$a" --batch-size 32
    done
    for k in 3 10; do
      valid models/nmt-en-de "$exp/shipped-valid/beam$k" --beam-size "$k" --length-penalty 1.0 --batch-size 32
    done ;;
  svd-window)
    valid models/nmt-en-de "$exp/shipped-valid/full" --beam-size 5 --batch-size 1 --softmax full
    for wn in 32:500 64:500 64:1000 128:500 128:1000; do
      valid models/nmt-en-de "$exp/shipped-valid/svd-W${wn%:*}-N${wn#*:}" --beam-size 5 --batch-size 1 \
        --softmax svd --svd-window "${wn%:*}" --svd-candidates "${wn#*:}"
    done ;;
  svd-speed)
    note "decoding speed, full vs SVD-softmax, and the output layer's share (~3 min)"
    run "${bin}bench" suite=nmt model="$chain/small-g2-half" threads=1 repeats=3 warmup=1 \
      'nmt.beams=[5]' 'nmt.batches=[1]' nmt.max_sentences=24 nmt.agreement_sentences=50 \
      hydra.run.dir="exp/bench/nmt_small-g2-half" ;;
  *) echo "studies.sh: unknown STUDY $study (see --help)" >&2; exit 2 ;;
esac
