#!/usr/bin/env bash
# Make .venv (Python 3.7) with the pinned requirements. Safe to run again: it only
# reinstalls when requirements.txt or setup.py has changed since the last successful run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv_common.sh
venv=.venv

is_python37() {
  "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 7) else 1)' >/dev/null 2>&1
}

find_python37() {
  if [ -n "${CONDA_PREFIX:-}" ] && is_python37 "$CONDA_PREFIX/bin/python"; then
    echo "$CONDA_PREFIX/bin/python"; return 0
  fi
  # a pyenv shim named python3.7 exists even when it cannot run, so try running it
  if is_python37 python3.7; then command -v python3.7; return 0; fi
  pyenv_python '^3\.7\.' is_python37
}

wanted=$(cat requirements.txt setup.py | sha256sum | cut -d' ' -f1)
if venv_is_current "$venv" "$wanted" is_python37; then
  echo "setup: $venv is up to date"
  exit 0
fi

if ! python=$(find_python37); then
  echo "setup: no Python 3.7 found (tried an active conda env, python3.7 on PATH, pyenv); install one, e.g. 'pyenv install 3.7.16' or 'conda env create -f environment.yml'" >&2
  exit 1
fi
echo "setup: creating $venv with $python"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade 'pip<24' 'setuptools<68' wheel
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
# the library itself, editable, so that fl_tuning_*/ scripts and tests import it
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
mark_current "$venv" "$wanted"
echo "setup: $venv is ready"
