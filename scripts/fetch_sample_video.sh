#!/usr/bin/env bash
# Fetch the sample street camera: OpenCV's vtest.avi, which Debian ships only inside the
# opencv-doc package (Apache-2.0 AND BSD-3-Clause per that package's copyright file).
# The .deb is downloaded (not installed), the one file is taken out and its SHA-256 checked.
# Without apt or network this says so and exits 0: the sample camera then shows still photos.
set -uo pipefail
TARGET=${1:-data/video/vtest.avi}
SHA256=45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf
MEMBER=./usr/share/doc/opencv-doc/examples/data/vtest.avi

have_it() { [ -f "$TARGET" ] && echo "$SHA256  $TARGET" | sha256sum --check --status; }
if have_it; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1 || ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "sample video: apt-get/dpkg-deb not available; the sample camera will show still photos" >&2
  exit 0
fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
download() { (cd "$WORK" && apt-get download -qq opencv-doc >/dev/null 2>&1); }
if ! download; then
  $SUDO apt-get update -qq >/dev/null 2>&1
  if ! download; then
    echo "sample video: 'apt-get download opencv-doc' failed; the sample camera will show still photos" >&2
    exit 0
  fi
fi
mkdir -p "$(dirname "$TARGET")"
if ! dpkg-deb --fsys-tarfile "$WORK"/opencv-doc_*.deb | tar -x -O "$MEMBER" > "$WORK/vtest.avi"; then
  echo "sample video: $MEMBER is not in the opencv-doc package; the sample camera will show still photos" >&2
  exit 0
fi
if ! echo "$SHA256  $WORK/vtest.avi" | sha256sum --check --status; then
  echo "sample video: SHA-256 of vtest.avi does not match $SHA256; not used" >&2
  exit 0
fi
mv "$WORK/vtest.avi" "$TARGET"
echo "sample video: $TARGET (SHA-256 verified)"
