#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages this project needs that the machine lacks.
# Each need is checked by what it provides (a command, a file, a Python module), so a
# machine that already has it from elsewhere (pyenv's Python, say) is left alone.
# Safe to run again: it installs nothing when nothing is missing.
#   scripts/install_system_packages.sh              what make demo and make test need
#   scripts/install_system_packages.sh real-speech  also the recorded speech of
#                                                   python -m asr.data.real_speech
set -euo pipefail

missing=()
need() {  # need PACKAGE CHECK...
  local package=$1; shift
  "$@" >/dev/null 2>&1 || missing+=("$package")
}
need python3 command -v python3
need python3-venv python3 -c 'import venv, ensurepip'
need make command -v make
need espeak-ng command -v espeak-ng
need flite command -v flite
need trans-de-en test -f /usr/share/trans/de-en
if [[ "${1:-}" == real-speech ]]; then
  need asterisk-core-sounds-en-wav test -f /usr/share/asterisk/sounds/en_US_f_Allison/beep.wav
  need asterisk-core-sounds-en-g722 test -f /usr/share/asterisk/sounds/en_US_f_Allison/beep.g722
  need asterisk-core-sounds-en test -f /usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz
  need klettres-data test -f /usr/share/klettres/en/sounds.xml
  need ktuberling-data test -f /usr/share/ktuberling/sounds/en.soundtheme
  need ffmpeg command -v ffmpeg  # decodes the G.722 prompts
fi

if ((${#missing[@]} == 0)); then
  exit 0
fi
echo "Installing Debian packages: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
