#!/usr/bin/env bash
# Installs, with apt-get, the Debian packages this project needs that the machine lacks.
# Each need is checked by what it provides (a command, a file, a Python module), so a
# machine that already has it from elsewhere (pyenv's Python, say) is left alone.
# Safe to run again: it installs nothing when nothing is missing.
#   scripts/install_system_packages.sh              what make demo and make test need
#   scripts/install_system_packages.sh real-speech  also the recorded speech of
#                                                   python -m asr.data.real_speech
#   scripts/install_system_packages.sh voices       also the TTS engines of the broad voice
#                                                   set (--voices broad): MBROLA, SVOX Pico,
#                                                   Festival (Debian contrib/non-free, enabled
#                                                   here when apt lacks them), and the neural
#                                                   voices' wheels into $PYTHON (default .venv)
set -euo pipefail
mode=${1:-}
case "$mode" in
  ""|real-speech|voices) ;;
  *) echo "unknown mode '$mode': give none, real-speech or voices" >&2; exit 2 ;;
esac

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
need groff-base command -v groff  # renders man pages for the broad LM text (asr.data.lm_text --broad)
need g++ command -v g++  # builds the SVD-softmax CPU kernels (else a slower pure-torch path)
if [[ "${1:-}" == real-speech ]]; then
  need asterisk-core-sounds-en-wav test -f /usr/share/asterisk/sounds/en_US_f_Allison/beep.wav
  need asterisk-core-sounds-en-g722 test -f /usr/share/asterisk/sounds/en_US_f_Allison/beep.g722
  need asterisk-core-sounds-en test -f /usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz
  need klettres-data test -f /usr/share/klettres/en/sounds.xml
  need ktuberling-data test -f /usr/share/ktuberling/sounds/en.soundtheme
  need ffmpeg command -v ffmpeg  # decodes the G.722 prompts
fi
if [[ "$mode" == voices ]]; then
  need mbrola command -v mbrola
  for voice in us1 us2 us3 en1; do
    need "mbrola-$voice" test -d "/usr/share/mbrola/$voice"
  done
  need libttspico-utils command -v pico2wave
  need festival command -v text2wave
  need festvox-kallpc16k test -d /usr/share/festival/voices/english/kal_diphone
  need festvox-kdlpc16k test -d /usr/share/festival/voices/english/ked_diphone
  need festvox-us-slt-hts test -d /usr/share/festival/voices/us/cmu_us_slt_arctic_hts
fi

# MBROLA and SVOX Pico are in Debian's contrib and non-free components, which a stock image
# may leave out: add them for the archive apt already uses (one sources file of our own,
# rewritten the same on a rerun).
enable_contrib_non_free() {
  local sources=/etc/apt/sources.list.d/echoformer-contrib-non-free.sources codename uri
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  uri=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
        awk -v c="$codename" '/^URIs:/ {u = $2} /^Suites:/ && $0 ~ " " c "( |$)" && u {print u; exit}')
  if [[ -z "$uri" ]]; then
    uri=$(awk -v c="$codename" '$1 == "deb" { for (i = 2; i < NF; i++) if ($i !~ /^\[/ && $(i + 1) == c) { print $i; exit } }' \
          /etc/apt/sources.list 2>/dev/null)
  fi
  if [[ -z "$codename" || -z "$uri" ]]; then
    echo "cannot tell the Debian release or archive from /etc/os-release and apt's sources:" \
      "enable the contrib and non-free components of apt by hand, then run this again" >&2
    return 1
  fi
  echo "Enabling the contrib and non-free apt components of $uri ($sources)"
  $sudo tee "$sources" >/dev/null <<SOURCES
Types: deb
URIs: $uri
Suites: $codename $codename-updates
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
  $sudo apt-get update -qq
}

# The neural voices are wheels (the weights inside them), installed into the project's Python.
install_voice_wheels() {
  local python=${PYTHON:-.venv/bin/python}
  [[ -x "$python" ]] || python=python3
  if "$python" -c "import hibari, onnxruntime" >/dev/null 2>&1; then return 0; fi
  echo "Installing the neural voices' wheels into $python: hibari-tts onnxruntime"
  "$python" -m pip install --quiet hibari-tts onnxruntime
}

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
if ((${#missing[@]} > 0)); then
  echo "Installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  if [[ "$mode" == voices ]] && ! apt-cache show mbrola-us1 >/dev/null 2>&1; then
    enable_contrib_non_free
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
if [[ "$mode" == voices ]]; then install_voice_wheels; fi
