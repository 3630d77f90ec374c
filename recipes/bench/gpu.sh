#!/usr/bin/env bash
# Latency suites on a GPU, with the CPU figures of the same suites, in one call.
#
#   bash recipes/bench/gpu.sh                      # device cuda + cpu, full grids
#   bash recipes/bench/gpu.sh --device cpu --quick # smoke test on a machine without a GPU
#
# Each suite writes results.json, report.md and plots into OUT/<suite>_<device>/; OUT/README.md
# collects the reports. Options:
#   --device cuda|cpu   the accelerator to measure (default cuda); cpu figures are always added
#   --quick             reduced grids (smoke test)
#   --suites "layers"   which bench suites to run (default: layers, plus asr / nmt when
#                       their model is given)
#   --asr-model DIR     a trained ASR model directory: adds suite asr
#   --nmt-model DIR     a trained NMT model directory: adds suite nmt
#   --threads N         CPU threads for the cpu runs (default: all cores)
#   --out DIR           default recipes/bench/results/<date>_<device>
set -euo pipefail
cd "$(dirname "$0")/../.."

device=cuda quick=false suites="layers" threads=$(nproc) out="" asr_model="" nmt_model=""
while (($#)); do
  case $1 in
    --device) device=$2; shift 2 ;;
    --quick) quick=true; shift ;;
    --suites) suites=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --asr-model) asr_model=$2; shift 2 ;;
    --nmt-model) nmt_model=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "gpu.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
# A model adds its suite whatever the order of the options.
[ -n "$asr_model" ] && [[ " $suites " != *" asr "* ]] && suites="$suites asr"
[ -n "$nmt_model" ] && [[ " $suites " != *" nmt "* ]] && suites="$suites nmt"
out=${out:-recipes/bench/results/$(date +%Y-%m-%d)_${device}}
bench=.venv/bin/bench
[ -x "$bench" ] || { echo "gpu.sh: $bench missing: run 'make test' or 'make demo' first" >&2; exit 1; }

devices=("$device")
[ "$device" = cpu ] || devices+=(cpu)
mkdir -p "$out"
{
  echo "# Latency report"
  echo
  echo "Command: \`bash recipes/bench/gpu.sh --device $device$([ "$quick" = true ] && echo ' --quick')\`, $(date -u +%Y-%m-%dT%H:%MZ)."
  echo
} > "$out/README.md"
for suite in $suites; do
  for dev in "${devices[@]}"; do
    run_dir="$out/${suite}_${dev}"
    echo "== bench suite=$suite device=$dev -> $run_dir"
    model=()
    [ "$suite" = asr ] && model=(model="$asr_model")
    [ "$suite" = nmt ] && model=(model="$nmt_model")
    "$bench" suite="$suite" device="$dev" quick="$quick" threads="$threads" "${model[@]}" \
      hydra.run.dir="$run_dir"
    sed 's/^#/##/' "$run_dir/report.md" | sed "s#](\([a-z_]*\.png\))#](${suite}_${dev}/\1)#" \
      >> "$out/README.md"
  done
done
echo "Report: $out/README.md"
