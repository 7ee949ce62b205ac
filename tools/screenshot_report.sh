#!/bin/sh
# Takes a PNG screenshot of a `dpo report` page with headless chromium, to check the page in a
# real browser engine (the page is self-contained: no network is needed).
# Usage: tools/screenshot_report.sh REPORT.html [OUT.png] [WIDTH] [HEIGHT]
#   OUT.png defaults to REPORT.png beside the page; WIDTH x HEIGHT is the window (1280 x 4000),
#   and a page taller than HEIGHT is cut off there.
# Needs chromium (Debian: apt-get install chromium) or Google Chrome on PATH.
set -eu
if [ $# -lt 1 ] || [ ! -f "$1" ]; then
  echo "usage: $0 REPORT.html [OUT.png] [WIDTH] [HEIGHT]" >&2
  exit 2
fi
PAGE=$1
OUT=${2:-${PAGE%.html}.png}
WIDTH=${3:-1280}
HEIGHT=${4:-4000}

BROWSER=""
for candidate in chromium chromium-browser google-chrome google-chrome-stable; do
  if command -v "$candidate" >/dev/null 2>&1; then
    BROWSER=$candidate
    break
  fi
done
if [ -z "$BROWSER" ]; then
  echo "no chromium found: install it (Debian: apt-get install chromium) or open $PAGE in a browser" >&2
  exit 2
fi

# Absolute paths: chromium resolves relative ones against its own working directory.
case $PAGE in /*) ABS_PAGE=$PAGE ;; *) ABS_PAGE=$(pwd)/$PAGE ;; esac
case $OUT in /*) ABS_OUT=$OUT ;; *) ABS_OUT=$(pwd)/$OUT ;; esac

# Chromium refuses to run as root without --no-sandbox (containers, CI).
SANDBOX=""
if [ "$(id -u)" = "0" ]; then SANDBOX="--no-sandbox"; fi

# shellcheck disable=SC2086
"$BROWSER" --headless --disable-gpu $SANDBOX --hide-scrollbars --default-background-color=ffffffff \
  --window-size="$WIDTH,$HEIGHT" --screenshot="$ABS_OUT" "file://$ABS_PAGE" >/dev/null 2>&1
if [ ! -s "$ABS_OUT" ]; then
  echo "$BROWSER wrote no screenshot for $PAGE" >&2
  exit 1
fi
echo "wrote $OUT"
