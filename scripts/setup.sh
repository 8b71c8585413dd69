#!/usr/bin/env bash
# Set up a fresh Debian machine for the appliance: a venv with the project installed and
# the project-built pjsua2 wheel. With --test, also the real tools the tests drive;
# with --bench, those and the peers the benchmarks compare against (Kamailio).
# Idempotent and quick when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv
py=${PYTHON:-python3}

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> setup: apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine's package lists may be empty or stale: update once, then retry.
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  }
}

# Kamailio is the peer the REGISTER bench measures the edge against. Its package would
# start a system-wide service on install: deny that with a policy-rc.d while apt runs
# (unless the machine has one already, as containers do) and, under systemd, keep it
# disabled; the bench starts its own Kamailio on loopback.
install_kamailio() {
  dpkg -s kamailio >/dev/null 2>&1 && return 0
  local policy=/usr/sbin/policy-rc.d added="" rc=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && added=1
  fi
  apt_install kamailio || rc=$?
  [ -n "$added" ] && rm -f "$policy"
  if [ -d /run/systemd/system ]; then systemctl disable --now kamailio >/dev/null 2>&1 || true; fi
  return "$rc"
}

# What the appliance itself runs: sox converts uploaded prompts (libsox-fmt-mp3 lets it
# read MP3, what owners upload most) and espeak-ng speaks text prompts and the system
# prompts (pbx/dialplan/prompts.py); the DTMF talk-off corpus is made with them too.
# opus-tools (opusenc, opusinfo, opusdec): call recordings in Opus, which Debian's sox
# cannot write (pbx/recording/compress.py).
base_tools=(sox libsox-fmt-mp3 espeak-ng opus-tools)

# sip-tester is SIPp; baresip is the softphone; chromium drives the web admin;
# alsa-utils (arecord, aplay) carries a SIM800's voice through a USB sound card, on the
# device too; sipvicious (svwar) is the scanner the edge must ban.
test_tools=(sip-tester baresip sipvicious chromium chromium-driver alsa-utils)

apt_install "${base_tools[@]}"
case "${1:-}" in
  --test) apt_install "${test_tools[@]}"; exit 0 ;;
  --bench) apt_install "${test_tools[@]}"; install_kamailio; exit 0 ;;
esac

if [ ! -x "$venv/bin/python" ]; then
  echo "==> setup: creating $venv" >&2
  "$py" -m venv "$venv"
fi
stamp="$venv/.pbx-installed"
want=$(cat pyproject.toml scripts/build-pjsua2.sh scripts/pjsua2/config_site.h | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$venv/bin/python" -c 'import pjsua2' 2>/dev/null; then
  echo "==> setup: installing the project into $venv" >&2
  "$venv/bin/pip" install -q --upgrade pip >/dev/null
  "$venv/bin/pip" install -q -e '.[test]'
  wheel=$(PYTHON="$PWD/$venv/bin/python" scripts/build-pjsua2.sh)
  "$venv/bin/pip" install -q --force-reinstall --no-deps "$wheel"
  echo "$want" >"$stamp"
fi
