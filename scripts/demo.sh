#!/usr/bin/env bash
# README command 1: set up .venv (first run only), then run the main job (scripts/demo.py).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup_env.sh
exec "$root/.venv/bin/python" -m scripts.demo "$@"
