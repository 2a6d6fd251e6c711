# Sourced by the setup scripts: what building a venv from a requirements file shares.

# lock_venv VENV: hold VENV.lock until the script ends, so that a second build of the
# same venv (two test workers that both need it) waits for the first and then finds
# it current. Without flock(1) (macOS) it does not wait.
lock_venv() {
  exec 9>"$1.lock"
  if command -v flock >/dev/null; then flock 9; fi
}

# venv_is_current VENV HASH ACCEPTS: VENV's Python passes ACCEPTS (a function given a
# python path) and VENV was last built from requirements hashing to HASH.
venv_is_current() {
  [ -x "$1/bin/python" ] && "$3" "$1/bin/python" \
    && [ -f "$1/.requirements.sha256" ] && [ "$(cat "$1/.requirements.sha256")" = "$2" ]
}

# pyenv_python VERSION_REGEX ACCEPTS: the newest pyenv-installed Python whose version
# matches VERSION_REGEX and that ACCEPTS takes (a pyenv shim exists even when it cannot run).
pyenv_python() {
  local root version candidate
  root=$( (command -v pyenv >/dev/null && pyenv root) || echo "$HOME/.pyenv")
  for version in $(ls "$root/versions" 2>/dev/null | grep -E "$1" | sort -t. -k1,1nr -k2,2nr -k3,3nr); do
    candidate="$root/versions/$version/bin/python"
    if "$2" "$candidate"; then echo "$candidate"; return 0; fi
  done
  return 1
}

# mark_current VENV HASH: record that VENV is built from requirements hashing to HASH.
mark_current() {
  echo "$2" > "$1/.requirements.sha256"
}
