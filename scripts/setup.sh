#!/usr/bin/env bash
# Make the virtual environment of a stack with its pinned requirements:
#   bash scripts/setup.sh               .venv: Python 3.7, TensorFlow 1.15, Keras 2.3.1 (the reproduction stack)
#   bash scripts/setup.sh --stack tf2   .venv-tf2: Python 3.10/3.11, TensorFlow 2.15, tf.keras
#   bash scripts/setup.sh --stack tf2 --gpu   the same with tensorflow[and-cuda] (CUDA 12 from PyPI)
# Safe to run again: it only reinstalls when the requirements or setup.py have changed
# since the last successful run.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv_common.sh

stack=tf1
gpu=
while [ $# -gt 0 ]; do
  case "$1" in
    --stack) stack="${2:-}"; shift 2 || shift ;;
    --gpu) gpu=1; shift ;;
    *) echo "setup: unknown option '$1' (options: --stack tf1|tf2, --gpu with tf2)" >&2; exit 2 ;;
  esac
done
case "$stack" in
  tf1) venv=.venv; requirements=requirements.txt; wanted_python="3.7"; versions='^3\.7\.' ;;
  tf2) venv=.venv-tf2; requirements=requirements-tf2.txt; wanted_python="3.11 or 3.10"; versions='^3\.1[01]\.' ;;
  *) echo "setup: unknown stack '$stack' (choose tf1 or tf2: --stack tf2)" >&2; exit 2 ;;
esac
if [ -n "$gpu" ] && [ "$stack" != tf2 ]; then
  echo "setup: --gpu is for --stack tf2 (TensorFlow 1.15's GPU build needs CUDA 10.0: conda env create -f environment.yml)" >&2
  exit 2
fi

is_wanted_python() {
  local version
  version=$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || return 1
  case "$stack:$version" in tf1:3.7|tf2:3.10|tf2:3.11) return 0 ;; *) return 1 ;; esac
}

find_python() {
  local candidate
  if [ -n "${CONDA_PREFIX:-}" ] && is_wanted_python "$CONDA_PREFIX/bin/python"; then
    echo "$CONDA_PREFIX/bin/python"; return 0
  fi
  # a pyenv shim named python3.7 exists even when it cannot run, so try running it
  for candidate in python3.7 python3.11 python3.10 python3; do
    if is_wanted_python "$candidate"; then command -v "$candidate"; return 0; fi
  done
  pyenv_python "$versions" is_wanted_python
}

lock_venv "$venv"
wanted=$( (cat "$requirements" setup.py; if [ -n "$gpu" ]; then echo gpu; fi) | sha256sum | cut -d' ' -f1)
if venv_is_current "$venv" "$wanted" is_wanted_python; then
  echo "setup: $venv is up to date"
  exit 0
fi

if ! python=$(find_python); then
  echo "setup: no Python $wanted_python found (tried an active conda env, python3.x on PATH, pyenv); install one, e.g. 'pyenv install 3.7.16' or 'conda env create -f environment.yml'" >&2
  exit 1
fi
echo "setup: creating $venv with $python"
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade 'pip<24' 'setuptools<68' wheel
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
if [ "$stack" = tf2 ]; then
  if [ -n "$gpu" ]; then
    tensorflow=$(grep -E '^tensorflow==' "$requirements" | cut -d' ' -f1)
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "tensorflow[and-cuda]==${tensorflow#tensorflow==}"
  fi
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps bert4keras==0.10.8
fi
# the library itself, editable, so that fl_tuning_*/ scripts and tests import it
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
mark_current "$venv" "$wanted"
echo "setup: $venv is ready"
