#!/usr/bin/env bash
# The console's browser tests (tests/browser) drive the operating system's Chromium through
# Playwright: Playwright's own browser download is never used. Run by `make test` before
# pytest: installs Debian's chromium package where it is missing and this user can (root, with
# apt-get), and otherwise fails with a message saying what to install.
set -euo pipefail

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure_chromium: $CHROMIUM is missing; installing Debian's chromium package" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
  [ -x "$CHROMIUM" ] && exit 0
fi
cat >&2 <<MESSAGE
ensure_chromium: the console's browser tests need Chromium at $CHROMIUM and it is missing.
Install the operating system's package as root (Debian/Ubuntu: apt-get install chromium),
or set CHROMIUM=/path/to/chromium, then run make test again.
MESSAGE
exit 1
