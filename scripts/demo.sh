#!/usr/bin/env bash
# Installs everything, then trains the default model briefly on Fashion-MNIST and writes a sample grid.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
.venv/bin/python -m trainers.train --model=vae --workdir=runs/demo_vae --epochs=2 --verbose=2 "$@"
