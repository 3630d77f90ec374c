#!/usr/bin/env bash
# The studies of RESULTS.md here, one command each, from a clean clone. Most start from the
# runs of the shipped chains (run them first): shipped_asr_en.sh puts its runs under
# exp/synth_asr/ (xs-g2, half/xs-g2, xs-g2-ft, xs-g2-sp, xs-g2-sp2, xs-g2-large, s-g4-grown),
# shipped_asr_lm.sh under exp/asr_lm/ (ding-large-3408, ding-large, ding-large-sent4).
#
#   bash recipes/synth_asr/studies.sh STUDY [--dry-run] [--threads T]
#
# STUDY (wall time on a 2-core x86 CPU: training measured, decoding estimated from the
# measured RTFs; arms one after another):
#   reuse-1800        xs none / g2 / g4 from random weights, 1,800 updates each (3 x ~2 h on
#                     1 thread), test sets with the four methods
#   reuse-seeds       none and g4 with seed 2, [1,1,2,4] with seeds 1 and 2, 1,800 updates
#                     (4 x ~2 h on 1 thread)
#   reuse-5131        reuse-1800's none and g4 and reuse-seeds' [1,1,2,4] seed 1 resumed to
#                     5,131 updates (3 x ~2 h 15 min on 1 thread), test sets
#   speed-xs          encoder latency of the xs shape: g4 with the operation-count bound,
#                     then g2 / g4 / [1,1,2,4] one after another (~2 min)
#   s-no-reuse        s without reuse grown from chain step 8 like the shipped s (grow
#                     --reuse none), 3,121 updates (~2 h), test sets
#   vtlp              the shipped chain's s run + 751 updates with VTLP, + 751 without
#                     (control), the VTLP model + 373 without it (~30 + 28 + 12 min)
#   finetune-longer   a copy of chain step 4's run resumed to 6,404 updates (~30 min)
#   joint-beam-dev    joint_beam's CTC weight, length penalty and beam on dev: the half
#                     copies after chain steps 3 and 6 (~5 min)
#   lm-fusion         LM weight and length penalty on dev (the LMs after 3,408 and 6,295
#                     updates), then the test sets with the dev's choices (~25 min)
#   lm-beam           CTC weight, beam and LM weight on dev with the 6,295-update LM, then
#                     the test sets at beam 20, weight 0.6; the LM's RTF file by file (~10 min)
#   lm-longer         a copy of the LM run resumed to 9,039 updates (~25 min), dev and test
#   lm-sentences      the shipped LM on dev: weight at beam 20, attention_rescoring (~6 min)
#   smoke             the tiny corpus end to end, and the tiny model 3 min on the demo corpus
# --dry-run prints the commands (one a line, shell-quoted) without running them.
# Outputs go under exp/synth_asr/study/ and exp/asr_lm/study/.
set -euo pipefail

dry_run=false threads=2 study=
source "$(dirname "$0")/../chain_lib.sh"  # usage, run, step, require_numbers
while (($#)); do
  case $1 in
    --dry-run) dry_run=true; shift ;;
    --threads) threads=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "studies.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) [[ -z $study ]] || { echo "studies.sh: one STUDY at a time (got $study and $1)" >&2; exit 2; }
       study=$1; shift ;;
  esac
done
[[ -n $study ]] || { echo "studies.sh: name a STUDY (see --help)" >&2; exit 2; }
[[ $threads =~ ^[0-9]+$ ]] || { echo "studies.sh: --threads $threads is not a number" >&2; exit 2; }
cd "$(dirname "$0")/../.."
if [[ -x .venv/bin/python ]]; then python=.venv/bin/python; else python=python3; fi
if [[ -x .venv/bin/asr-train ]]; then bin=.venv/bin/; else bin=; fi

note() { echo "# $*"; }
recipe=recipes/synth_asr/run.sh
decode=recipes/synth_asr/decode_set.sh
full=(--size full --data-dir data/synth_asr_full)
large=(--size large --data-dir data/synth_asr_large)
exp=exp/synth_asr
out=$exp/study
lm_exp=exp/asr_lm
common="trainer.save_every=100 trainer.valid_every=300 trainer.log_every=25 trainer.average_last=5 \
data.max_batch_seconds=80 data.cache_features=false trainer.progress=false"
scratch="trainer.lr=0.002 trainer.warmup_steps=600"
speeds7="data.speed_perturb=[0.85,0.9,0.95,1.0,1.05,1.1,1.15]"
full_pieces="data.tokenizer=data/synth_asr_full/tokenizer.model data.cmvn=data/synth_asr_full/cmvn.json"
s_run="$full_pieces trainer.lr=0.0003 trainer.warmup_steps=200 $speeds7"  # chain step 10's
train() {  # train MODEL REUSE UPDATES EXP_DIR CORPUS(full|large) "train args" [run.sh options]
  local model=$1 reuse=$2 updates=$3 dir=$4 corpus=("${full[@]}") args=$6
  [[ $5 == large ]] && corpus=("${large[@]}")
  shift 6
  run bash "$recipe" "${corpus[@]}" --stage 3 --stop-stage 5 --model "$model" --reuse "$reuse" \
    --max-steps "$updates" --exp-dir "$dir" --threads "$threads" \
    --train-args "threads=$threads $common $args" "$@"
}
half() {  # half SOURCE TARGET [--decoding K=V ...]: a half-precision copy
  run "$python" -m echoformer.shipped export "$@"
}
dev_full=data/synth_asr_full/dev.jsonl
dev=data/synth_asr_large/dev.jsonl
tests=(data/synth_asr_large/test.jsonl data/synth_asr_large/test_unseen_voice.jsonl)
on_tests() {  # on_tests OUT_DIR asr-transcribe options...: both test sets
  local dir=$1; shift
  for set in "${tests[@]}"; do run bash "$decode" "$set" "$dir" --threads "$threads" "$@"; done
}

case $study in
  reuse-1800)
    note "xs from random weights, 1,800 updates per pattern; measured with 1 thread each"
    for r in none g2 g4; do
      train xs "$r" 1800 "$out/xs-$r" full "$scratch"
    done ;;
  reuse-seeds)
    train xs none 1800 "$out/xs-none-seed2" full "$scratch trainer.seed=2"
    train xs g4 1800 "$out/xs-g4-seed2" full "$scratch trainer.seed=2"
    train xs g4 1800 "$out/xs-1124" full "$scratch reuse.pattern=[1,1,2,4]"
    train xs g4 1800 "$out/xs-1124-seed2" full "$scratch trainer.seed=2 reuse.pattern=[1,1,2,4]" \
      --methods joint_beam ;;
  reuse-5131)
    note "resumes reuse-1800's none and g4 and reuse-seeds' [1,1,2,4] seed 1 (their folders)"
    train xs none 5131 "$out/xs-none" full "$scratch"
    train xs g4 5131 "$out/xs-g4" full "$scratch"
    train xs g4 5131 "$out/xs-1124" full "$scratch reuse.pattern=[1,1,2,4]" ;;
  speed-xs)
    note "random weights of the xs shape; the RTF rows use the model's weights"
    run bash "$recipe" "${full[@]}" --stage 6 --stop-stage 6 --model xs --reuse g4 \
      --exp-dir "$out/xs-g4" --threads 2
    for reuse in asr.group_size=2 asr.group_size=4 "asr.pattern=[1,1,2,4]"; do
      run "${bin}bench" suite=asr model="$out/xs-1124/model" asr.manifest=data/synth_asr_full/test.jsonl \
        threads=2 "asr.methods=[ctc_greedy]" "$reuse" hydra.run.dir="$out/bench-xs-${reuse//[^0-9]/}"
    done ;;
  s-no-reuse)
    run "$python" -m asr.grow "$exp/xs-g2-large/model" "$out/grown/s-none-from-xs-g2-large" \
      --model s --reuse none
    train s none 3121 "$out/s-none-grown" large \
      "trainer.init_from=$out/grown/s-none-from-xs-g2-large $s_run" ;;
  vtlp)
    vtlp="data.vtlp=[0.9,0.95,1.0,1.05,1.1]"
    two=(--methods "joint_beam attention_rescoring")
    train s g4 751 "$out/s-g4-vtlp30" large \
      "trainer.init_from=$exp/s-g4-grown/model $s_run trainer.lr=0.0001 trainer.warmup_steps=100 $vtlp" "${two[@]}"
    train s g4 751 "$out/s-g4-novtlp751" large \
      "trainer.init_from=$exp/s-g4-grown/model $s_run trainer.lr=0.0001 trainer.warmup_steps=100" "${two[@]}"
    train s g4 373 "$out/s-g4-vtlp-anneal" large "trainer.init_from=$out/s-g4-vtlp30/model \
$s_run trainer.lr=0.00005 trainer.warmup_steps=50 trainer.save_every=50" "${two[@]}" ;;
  finetune-longer)
    run cp -rT "$exp/xs-g2-ft" "$out/xs-g2-ft-6404"
    train xs g2 6404 "$out/xs-g2-ft-6404" full \
      "trainer.init_from=$exp/half/xs-g2 trainer.lr=0.0005 trainer.warmup_steps=300" ;;
  joint-beam-dev)
    for w in 0.3 0.5; do for a in 0 0.5; do
      run bash "$decode" "$dev_full" "$out/jb-dev/xs-g2/w$w-a$a" --model "$exp/half/xs-g2" \
        --method joint_beam --ctc-weight "$w" --length-penalty "$a" --threads "$threads"
    done; done
    half "$exp/xs-g2-sp2/model" "$exp/half/xs-g2-sp2" --decoding method=joint_beam
    for wa in 0.1,0 0.2,0 0.3,0 0.4,0 0.5,0 0.7,0 0.3,0.5 0.3,1.0; do
      run bash "$decode" "$dev_full" "$out/jb-dev/xs-g2-sp2/w${wa%,*}-a${wa#*,}" \
        --model "$exp/half/xs-g2-sp2" --method joint_beam --ctc-weight "${wa%,*}" \
        --length-penalty "${wa#*,}" --threads "$threads"
    done
    run bash "$decode" "$dev_full" "$out/jb-dev/xs-g2-sp2/w0.3-a0-beam20" --model "$exp/half/xs-g2-sp2" \
      --method joint_beam --ctc-weight 0.3 --length-penalty 0 --beam-size 20 --threads "$threads" ;;
  lm-fusion)
    note "models/asr-en (the shipped recogniser), beam 10, CTC weight 0.3"
    asr=(--model models/asr-en --beam-size 10 --ctc-weight 0.3 --threads "$threads")
    grid() {  # grid LM NAME ALPHA BETA...: joint_beam on dev
      local lm=$1 name=$2 alpha=$3; shift 3
      for beta in "$@"; do
        run bash "$decode" "$dev" "$out/lm-dev/$name/a$alpha-b$beta" "${asr[@]}" --method joint_beam \
          --lm "$lm" --lm-weight "$beta" --length-penalty "$alpha"
      done
    }
    grid "$lm_exp/ding-large-3408" lm3408 0 0 0.1 0.2 0.3 0.4 0.5 0.7
    grid "$lm_exp/ding-large-3408" lm3408 0.5 0.5 0.7 1.0
    grid "$lm_exp/ding-large-3408" lm3408 1.0 0.5 0.7 1.0
    grid "$lm_exp/ding-large/model" lm6295 0.5 0.5 0.7
    grid "$lm_exp/ding-large/model" lm6295 1.0 0.3 0.4 0.5 0.7
    for lm in lm3408:"$lm_exp/ding-large-3408" lm6295:"$lm_exp/ding-large/model"; do
      for beta in 0 0.3 0.5 0.7; do
        run bash "$decode" "$dev" "$out/lm-dev/${lm%%:*}/rescoring-b$beta" "${asr[@]}" \
          --method attention_rescoring --lm "${lm#*:}" --lm-weight "$beta"
      done
    done
    note "the test sets: no LM, then each LM at its dev choice"
    on_tests "$out/lm-test/no-lm" "${asr[@]}" --method joint_beam --no-lm
    on_tests "$out/lm-test/no-lm-rescoring" "${asr[@]}" --method attention_rescoring --no-lm
    on_tests "$out/lm-test/lm3408" "${asr[@]}" --method joint_beam --lm "$lm_exp/ding-large-3408" \
      --lm-weight 0.7 --length-penalty 1.0
    on_tests "$out/lm-test/lm6295" "${asr[@]}" --method joint_beam --lm "$lm_exp/ding-large/model" \
      --lm-weight 0.5 --length-penalty 1.0
    for lm in lm3408:"$lm_exp/ding-large-3408" lm6295:"$lm_exp/ding-large/model"; do
      on_tests "$out/lm-test/${lm%%:*}-rescoring" "${asr[@]}" --method attention_rescoring \
        --lm "${lm#*:}" --lm-weight 0.7
    done ;;
  lm-beam)
    lm=(--lm "$lm_exp/ding-large/model" --length-penalty 1.0)
    for wkb in 0.2,10,0.5 0.3,10,0.5 0.4,10,0.5 0.5,10,0.5 0.3,20,0.4 0.3,20,0.5 0.3,20,0.6 \
               0.3,20,0.7 0.3,40,0.5; do
      IFS=, read -r w k b <<< "$wkb"
      run bash "$decode" "$dev" "$out/lm-beam-dev/w$w-k$k-b$b" --model models/asr-en \
        --method joint_beam --ctc-weight "$w" --beam-size "$k" --lm-weight "$b" "${lm[@]}" \
        --threads "$threads"
    done
    on_tests "$out/lm-test/lm6295-beam20" --model models/asr-en --method joint_beam \
      --ctc-weight 0.3 --beam-size 20 --lm-weight 0.6 "${lm[@]}"
    note "file by file: the 6,295-update LM's half copy with beam 20, weight 0.6"
    half "$lm_exp/ding-large/model" "$lm_exp/half/ding-large-6295" --decoding lm_weight=0.6 \
      --decoding length_penalty=1.0 --decoding beam_size=20
    run "${bin}bench" suite=asr model=models/asr-en asr.lm="$lm_exp/half/ding-large-6295" \
      asr.manifest=data/synth_asr_large/test.jsonl threads=2 "asr.seconds=[30.0]" \
      hydra.run.dir="$out/bench-lm6295" ;;
  lm-longer)
    run cp -rT "$lm_exp/ding-large" "$lm_exp/study/ding-large-9039"
    run "${bin}asr-lm-train" data.train=data/synth_asr_large/lm_train.txt \
      data.valid=data/synth_asr_large/lm_valid.txt data.tokenizer=models/asr-en/spm.model \
      threads="$threads" trainer.valid_every=500 trainer.save_every=500 trainer.log_every=50 \
      trainer.patience=5 trainer.average_last=5 trainer.progress=false trainer.lr=0.002 \
      trainer.warmup_steps=500 trainer.max_steps=9039 \
      hydra.run.dir="$lm_exp/study/ding-large-9039"
    lm=(--lm "$lm_exp/study/ding-large-9039/model" --model models/asr-en --beam-size 10
        --ctc-weight 0.3 --threads "$threads")
    for beta in 0.5 0.7; do
      run bash "$decode" "$dev" "$out/lm-dev/lm9039/a1.0-b$beta" "${lm[@]}" --method joint_beam \
        --lm-weight "$beta" --length-penalty 1.0
    done
    on_tests "$out/lm-test/lm9039" "${lm[@]}" --method joint_beam --lm-weight 0.5 --length-penalty 1.0
    on_tests "$out/lm-test/lm9039-rescoring" "${lm[@]}" --method attention_rescoring --lm-weight 0.7 ;;
  lm-sentences)
    for beta in 0.5 0.6 0.7; do
      run bash "$decode" "$dev" "$out/lm-dev/sent4/beam20-b$beta" --model models/asr-en \
        --method joint_beam --lm "$lm_exp/ding-large-sent4/model" --beam-size 20 --ctc-weight 0.3 \
        --length-penalty 1.0 --lm-weight "$beta" --threads "$threads"
    done
    run bash "$decode" "$dev" "$out/lm-dev/sent4/rescoring-no-lm" --model models/asr-en \
      --method attention_rescoring --no-lm --threads "$threads"
    run bash "$decode" "$dev" "$out/lm-dev/sent4/rescoring-beam10-b0.7" --model models/asr-en \
      --method attention_rescoring --lm models/asr-en-lm --beam-size 10 --lm-weight 0.7 \
      --threads "$threads"
    run bash "$decode" "$dev" "$out/lm-dev/sent4/rescoring-stored" --model models/asr-en \
      --method attention_rescoring --lm models/asr-en-lm --threads "$threads" ;;
  smoke)
    run bash "$recipe" --size tiny --data-dir data/synth_asr_tiny --stop-stage 5
    run bash "$recipe" --size demo
    run "${bin}asr-train" data.dir=data/synth_asr asr_model=tiny threads=1 trainer.max_minutes=3 \
      trainer.warmup_steps=200 trainer.lr=0.002 trainer.valid_every=200 trainer.save_every=200 \
      trainer.average_last=2 data.max_batch_seconds=60 hydra.run.dir="$out/demo-tiny"
    run bash "$recipe" --size demo --stage 4 --stop-stage 5 --exp-dir "$out/demo-tiny" ;;
  *) echo "studies.sh: unknown STUDY $study (see --help)" >&2; exit 2 ;;
esac
