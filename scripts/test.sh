#!/usr/bin/env bash
# The test command of the README: sets up .venv if needed, then lint, type check and tests.
# Extra arguments go to pytest (e.g. `scripts/test.sh -m slow`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup_env.sh
py="$root/.venv/bin/python"
start=$SECONDS
"$py" -m ruff check .
"$py" -m ruff format --check .
scripts/typecheck.sh
"$py" -m pytest -n 2 --dist loadgroup "$@"
echo "tests: done in $((SECONDS - start)) s" >&2
