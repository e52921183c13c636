#!/usr/bin/env bash
# The test command: installs what is needed, then runs the default (fast) test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow` for the long regressions
# (which also installs a headless browser, scripts/browser.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
case " $* " in *slow*) bash scripts/browser.sh ;; esac   # the HTML reports' browser test
exec python -m pytest "$@"
