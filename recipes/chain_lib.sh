# Sourced by the recipes' chain and study scripts (shipped_*.sh, studies.sh): help from the
# script's header comment, --dry-run printing, numbered steps. The script sets dry_run, and
# from_step / to_step where it has steps.

usage() {  # the script's header comment, without the '#'
  sed -n '2,/^[^#]/{/^#/p}' "$0" | sed 's/^# \{0,1\}//'
}

run() {  # print the command (--dry-run) or run it
  if $dry_run; then printf '%q ' "$@" | sed 's/ $//'; echo; else "$@"; fi
}

step() {  # step N "what (wall time)": true when N is in --from-step..--to-step
  (( from_step <= $1 && $1 <= to_step )) || return 1
  echo "# step $1: $2"
}

require_numbers() {  # SCRIPT VALUE...: exit 2 unless every VALUE is a whole number
  local script=$1 value; shift
  for value; do
    [[ $value =~ ^[0-9]+$ ]] || { echo "$script: $value is not a number" >&2; exit 2; }
  done
}
