#!/usr/bin/env bash
# A headless browser for the slow test that opens the HTML reports offline
# (tests/test_html_report.py): Debian's chromium-headless-shell, installed with apt when no
# Chromium is on PATH (root only). scripts/test.sh runs it when the slow tests are selected.
set -euo pipefail
for b in chromium-headless-shell chromium chromium-browser google-chrome; do
  command -v "$b" >/dev/null 2>&1 && exit 0
done
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "[browser] installing chromium-headless-shell (apt)"
  apt-get install -y -q --no-install-recommends chromium-headless-shell >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium-headless-shell >/dev/null; }
else
  echo "[browser] warning: no headless browser and not root: the slow HTML report test will fail" >&2
fi
