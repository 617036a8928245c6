#!/usr/bin/env bash
# newsbeam on this machine.
#   ./run_local.sh            set up .venv (first time), run the pipeline on seeds/ into out/, print a summary
#   ./run_local.sh test       set up the same way, lint (ruff, import layers) and run the test suite
#                             (./run_local.sh test -m 'not e2e' runs only the fast layers)
#   ./run_local.sh run ...    any `newsbeam` command, e.g. ./run_local.sh sql "SELECT count(*) FROM articles"
set -euo pipefail
cd "$(dirname "$0")"

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
VENV=.venv

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    echo "setting up $VENV with $($PYTHON --version)" >&2
    "$PYTHON" -m venv "$VENV"
  fi
  # Reinstall only when the requirements or setup.py change.
  local stamp="$VENV/.newsbeam-installed"
  local want
  want=$(cat requirements.txt requirements-dev.txt setup.py | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing newsbeam and its dependencies into $VENV (log: $VENV/install.log)" >&2
    # The pip that ships with Python 3.11 cannot resolve lxml[html-clean] (a trafilatura dependency).
    if ! { "$VENV/bin/python" -m pip install --upgrade pip &&
           "$VENV/bin/python" -m pip install -r requirements.txt -r requirements-dev.txt &&
           "$VENV/bin/python" -m pip install --no-deps -e . ; } > "$VENV/install.log" 2>&1; then
      tail -40 "$VENV/install.log" >&2
      echo "installation failed; full log in $VENV/install.log" >&2
      exit 1
    fi
    echo "$want" > "$stamp"
  fi
}

setup
case "${1:-}" in
  "")
    exec "$VENV/bin/newsbeam" run --input seeds/ --output out/
    ;;
  test)
    shift
    # The shape first: one lint configuration (ruff.toml) and the import layers (.importlinter), then the tests.
    "$VENV/bin/ruff" check --quiet . || { echo "ruff found problems (see above)" >&2; exit 1; }
    "$VENV/bin/lint-imports" --no-cache > "$VENV/lint-imports.log" 2>&1 || { cat "$VENV/lint-imports.log" >&2; exit 1; }
    echo "lint: ruff and the import layers pass" >&2
    exec "$VENV/bin/python" -m pytest -q "$@"
    ;;
  *)
    exec "$VENV/bin/newsbeam" "$@"
    ;;
esac
