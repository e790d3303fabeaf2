#!/usr/bin/env bash
# Create or refresh .venv from requirements.lock with uv, keeping torch on the
# CPU build. Called by `make venv` (and so by `make demo` and `make test`);
# nobody needs to run it by hand.
#
# torch: the lock pins torch==2.13.0+cpu. Where pip's config names a local
# wheel folder (find-links, as on the project's build machines) uv is pointed
# at it, because uv ignores pip's config; elsewhere the PyTorch CPU index is
# added so that uv never falls back to the multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v uv >/dev/null 2>&1; then
    echo "setup: uv not found, installing it with pip" >&2
    python3 -m pip install --quiet uv
fi

python_bin="${PYTHON:-python3}"
"$python_bin" - <<'PY' || { echo "setup: Python >= 3.11 is required (set PYTHON=...)" >&2; exit 1; }
import sys
sys.exit(0 if sys.version_info >= (3, 11) else 1)
PY

torch_source=()
find_links="$(python3 -m pip config get global.find-links 2>/dev/null || true)"
if [ -n "$find_links" ] && ls "$find_links"/torch-2.13.0+cpu-*.whl >/dev/null 2>&1; then
    torch_source=(--find-links "$find_links")
else
    torch_source=(--extra-index-url https://download.pytorch.org/whl/cpu --index-strategy unsafe-best-match)
fi

if [ ! -x .venv/bin/python ]; then
    uv venv --seed --python "$python_bin" .venv
fi
uv pip sync --python .venv/bin/python "${torch_source[@]}" requirements.lock
uv pip install --python .venv/bin/python --no-deps -e .
