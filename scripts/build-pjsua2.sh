#!/usr/bin/env bash
# Build the pjsua2 Python binding from the pjproject source Debian ships, with the
# project's config_site.h (256 calls, not the PyPI wheel's 4), and cache the wheel
# outside the checkout so it is built once per machine.
#
#   scripts/build-pjsua2.sh            prints the path of the cached wheel (builds it if needed)
#   PJPROJECT_TARBALL=file.tar.bz2 PJPROJECT_SHA256=... scripts/build-pjsua2.sh
#                                      build from an upstream release tarball instead
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
config_site="$here/pjsua2/config_site.h"
cache_root=${PBX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pbx}
configure_flags=(--disable-shared --disable-sound --disable-video --with-external-speex
  --with-external-gsm --with-external-srtp --enable-libsamplerate --disable-resample
  --disable-g7221-codec --disable-ilbc-codec --disable-libyuv --disable-libwebrtc --disable-libwebrtc-aec3
  --disable-opencore-amr --disable-silk --disable-bcg729 --disable-upnp --disable-sdl
  --disable-ffmpeg --disable-v4l2 --disable-openh264 --disable-vpx)
build_deps=(swig libssl-dev uuid-dev libspeex-dev libspeexdsp-dev libgsm1-dev
  libsrtp2-dev libsamplerate0-dev dpkg-dev xz-utils build-essential python3-dev)
py=${PYTHON:-python3}
py=$(command -v "$py" 2>/dev/null || echo "$py")
case "$py" in /*) ;; *) py="$PWD/$py" ;; esac  # the build cd's elsewhere

step() { current_step="$1"; echo "==> pjsua2: $1" >&2; }
trap 'echo "pjsua2 build FAILED at step: ${current_step:-start} (log: ${log:-none})" >&2' ERR

pyver=$("$py" -c 'import sys; print("%d%d" % sys.version_info[:2])')
source_id=${PJPROJECT_SHA256:-debian-sid-asterisk}
build_revision=1  # bump when a change to this script must rebuild cached wheels
key=$( (echo "$source_id"; echo "$pyver"; echo "${configure_flags[*]}"; cat "$config_site"; echo "$build_revision") | sha256sum | cut -c1-16)
out="$cache_root/pjsua2/$key"
wheel=$(ls "$out"/pjsua2-*.whl 2>/dev/null | head -1 || true)
if [ -n "$wheel" ]; then echo "$wheel"; exit 0; fi

mkdir -p "$out"
work=$(mktemp -d "$cache_root/pjsua2-build.XXXXXX")
log="$work/build.log"
echo "==> pjsua2: building once for this machine (about 3 minutes); log in $log" >&2

step "install build dependencies (apt-get)"
missing=()
for p in "${build_deps[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1 || {
    apt-get update >>"$log" 2>&1
    apt-get install -y --no-install-recommends "${missing[@]}" >>"$log" 2>&1
  }
fi

cd "$work"
if [ -n "${PJPROJECT_TARBALL:-}" ]; then
  step "verify upstream tarball checksum"
  echo "${PJPROJECT_SHA256:?set PJPROJECT_SHA256 with PJPROJECT_TARBALL}  $PJPROJECT_TARBALL" | sha256sum -c - >>"$log"
  step "unpack upstream tarball"
  mkdir src && tar -xf "$PJPROJECT_TARBALL" -C src --strip-components=1
  cd src
else
  # A private apt configuration with a deb-src entry for sid: the system's sources stay untouched.
  step "fetch Debian's asterisk source package (pjproject inside)"
  apt_dir="$cache_root/apt"
  mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial"
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main" >"$apt_dir/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir")
  apt-get "${apt_opts[@]}" update >>"$log" 2>&1
  apt-get "${apt_opts[@]}" source --download-only asterisk >>"$log" 2>&1
  step "unpack and patch (dpkg-source -x)"
  dpkg-source -x asterisk_*.dsc asterisk >>"$log" 2>&1
  pjsrc=$(dirname "$(ls -d asterisk/*/pjsip-apps | head -1)")
  [ -n "$pjsrc" ] || { echo "no pjproject inside the asterisk source" >>"$log"; false; }
  cd "$pjsrc"
fi

step "configure"
cp "$config_site" pjlib/include/pj/config_site.h
CFLAGS="-O2 -fPIC" CXXFLAGS="-O2 -fPIC" ./configure "${configure_flags[@]}" >>"$log" 2>&1
step "make dep"
make dep -j"$(nproc)" >>"$log" 2>&1
step "make lib"
make lib -j"$(nproc)" >>"$log" 2>&1
step "SWIG binding"
cd pjsip-apps/src/swig/python
make >>"$log" 2>&1
step "wheel"
# A throwaway venv supplies setuptools and wheel, so the system Python is left alone.
"$py" -m venv "$work/venv" >>"$log" 2>&1
"$work/venv/bin/pip" install -q setuptools wheel >>"$log" 2>&1
"$work/venv/bin/pip" wheel --no-deps --no-build-isolation -w "$out" . >>"$log" 2>&1
wheel=$(ls "$out"/pjsua2-*.whl | head -1)
cd /; rm -rf "$work"
echo "$wheel"
