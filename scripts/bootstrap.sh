#!/usr/bin/env bash
# Create .venv with Python 3.10 (lava-nc 0.10 supports only 3.10) and install neurocompile[all].
# Idempotent: re-running only installs what changed. Finds 3.10 via $PYTHON310, python3.10 on PATH,
# or pyenv; never a hard-coded path.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python310() {
    local c
    for c in "${PYTHON310:-}" "$(command -v python3.10 2>/dev/null || true)" \
             "$( (pyenv prefix 3.10 2>/dev/null || true) | head -n1)/bin/python3.10"; do
        if [ -n "$c" ] && [ -x "$c" ] && "$c" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
            echo "$c"; return 0
        fi
    done
    # pyenv may hold several 3.10.x; take the newest.
    if command -v pyenv >/dev/null 2>&1; then
        local v
        v=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.10\.[0-9]+$' | sort -t. -k3 -n | tail -n1 || true)
        if [ -n "$v" ] && [ -x "$(pyenv root)/versions/$v/bin/python3.10" ]; then
            echo "$(pyenv root)/versions/$v/bin/python3.10"; return 0
        fi
    fi
    return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    PY=$(find_python310) || { echo "error: Python 3.10 not found (install it, e.g. 'pyenv install 3.10', or set PYTHON310)" >&2; exit 1; }
    echo "creating .venv with $PY" >&2
    rm -rf .venv
    "$PY" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
fi
stamp=.venv/.neurocompile-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    echo "installing neurocompile[all] into .venv" >&2
    .venv/bin/python -m pip install --quiet -e ".[all]"
    touch "$stamp"
fi
