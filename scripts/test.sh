#!/usr/bin/env bash
# Installs everything, then runs the whole test suite with pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
.venv/bin/python -m pytest -q -ra --durations=15 "$@"
