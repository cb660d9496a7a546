#!/usr/bin/env bash
# What the browser tests (tests/test_browser.py) need beyond the Python
# packages: Debian's Chromium, driven by Playwright through executable_path
# (Playwright never downloads a browser here). The playwright package itself
# comes from pyproject's `test` extra.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo installed)"
