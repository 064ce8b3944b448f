#!/usr/bin/env bash
# CI: a Chromium-family browser for static chart export (kaleido) and the headless HTML-report test.
# Installed through the system package manager (Debian/Ubuntu: the `chromium` package, /usr/bin/chromium),
# never downloaded by a Python library. kaleido finds it on PATH or in /usr/bin (BROWSER_PATH overrides).
# Prints the browser path; exits 0 with a notice when no browser can be installed (its tests then skip).
set -uo pipefail

for name in chromium chromium-browser google-chrome google-chrome-stable chrome; do
  if path="$(command -v "$name")"; then echo "CI: browser already installed: $path"; exit 0; fi
done

if ! command -v apt-get >/dev/null 2>&1; then
  echo "CI: no apt-get here; install Chromium with the system package manager (or set BROWSER_PATH); browser tests skip"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "CI: not root and no sudo; cannot install Chromium; browser tests skip"; exit 0
  fi
fi
export DEBIAN_FRONTEND=noninteractive
# Debian names the package `chromium`; older Ubuntu `chromium-browser` (a snap shim there, so try Debian's first).
if $SUDO apt-get update -qq >/dev/null && \
   { $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
     $SUDO apt-get install -y -qq --no-install-recommends chromium-browser >/dev/null 2>&1; }; then
  path="$(command -v chromium || command -v chromium-browser)"
  echo "CI: installed $path ($("$path" --version 2>/dev/null | head -1))"
  # fonts for readable text in exported PNGs (usually pulled in already)
  $SUDO apt-get install -y -qq --no-install-recommends fonts-dejavu-core >/dev/null 2>&1 || true
else
  echo "CI: could not install Chromium with apt-get; browser tests skip"
fi
exit 0
