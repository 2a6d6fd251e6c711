#!/usr/bin/env bash
# Make .venv-modern (Python >= 3.9): the PyTorch side (torch CPU, transformers 4.57.6,
# peft 0.17.1) from requirements-modern.txt. With --newest, .venv-peft-newest instead:
# the newest torch, transformers and peft pip offers (requirements-peft-newest.txt),
# where the peft method's tests also run. Safe to run again: it only reinstalls when the
# requirements file has changed since the last successful run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv_common.sh
venv=.venv-modern
requirements=requirements-modern.txt
if [ "${1:-}" = --newest ]; then
  venv=.venv-peft-newest
  requirements=requirements-peft-newest.txt
fi

is_modern() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 9) else 1)' >/dev/null 2>&1
}

find_modern_python() {
  local candidate
  for candidate in python3.11 python3.12 python3.10 python3.9 python3; do
    if is_modern "$candidate"; then command -v "$candidate"; return 0; fi
  done
  pyenv_python '^3\.(9|1[0-9])\.' is_modern
}

lock_venv "$venv"
wanted=$(sha256sum "$requirements" | cut -d' ' -f1)
if venv_is_current "$venv" "$wanted" is_modern; then
  echo "setup_modern: $venv is up to date"
  exit 0
fi

if ! python=$(find_modern_python); then
  echo "setup_modern: no Python >= 3.9 found (tried python3.9..3.12 and python3 on PATH, pyenv)" >&2
  exit 1
fi
echo "setup_modern: creating $venv with $python"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$requirements"
mark_current "$venv" "$wanted"
echo "setup_modern: $venv is ready"
