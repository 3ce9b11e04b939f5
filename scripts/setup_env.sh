#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environment .venv with the versions pinned in
# pyproject.toml, and records its Python as the add-on's default trainer Python.
# Idempotent: a second run with an unchanged pyproject.toml does nothing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

python_bin="${PYTHON:-python3.11}"
command -v "$python_bin" >/dev/null 2>&1 || python_bin=python3
"$python_bin" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' 2>/dev/null || {
  echo "setup: Python 3.11 is required (bpy 5.0.1 is built for it); set PYTHON=/path/to/python3.11" >&2
  exit 2
}

venv="$root/.venv"
stamp="$venv/.gavatar-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi

start=$SECONDS
echo "setup: creating $venv (bpy, torch, gsplat, smplx, anny: a few GB, a few minutes)" >&2
[[ -x "$venv/bin/python" ]] || "$python_bin" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade "pip>=25.1"
"$venv/bin/python" -m pip install -q --group all
"$venv/bin/python" - <<'PY'
import sys
sys.path.insert(0, ".")
from core.paths import record_trainer_python
print("setup: trainer Python recorded in", record_trainer_python(sys.executable), file=sys.stderr)
PY
echo "$want" > "$stamp"
echo "setup: done in $((SECONDS - start)) s" >&2
