#!/usr/bin/env bash
# Create .venv and install the Python requirements given as $1 (requirements.txt by default). Sourced by run/test.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=${1:-requirements.txt}
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=".venv/.installed-$(basename "$requirements")"
if [ ! -f "$stamp" ] || [ "$requirements" -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
  .venv/bin/pip install -q --disable-pip-version-check -r "$requirements"
  touch "$stamp"
fi
