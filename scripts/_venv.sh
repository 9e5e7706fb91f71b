# Shared by scripts/test and scripts/lock (sourced, not run): the project's .venv and the pinned uv inside it.
python=${PYTHON:-python3}
VENV=${QUARRY_VENV:-.venv}
UV="$VENV/bin/uv"

# Creates the venv if needed and installs the uv that requirements-bootstrap.txt pins (pip checks its hashes).
ensure_uv() {
  [ -x "$VENV/bin/python" ] || "$python" -m venv "$VENV"
  local want
  want=$(sed -n 's/^uv==\([^ ]*\).*/\1/p' requirements-bootstrap.txt)
  if [ "$("$UV" --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes \
      -r requirements-bootstrap.txt
  fi
}
