#!/usr/bin/env bash
# Installs everything, then trains the default model briefly on Fashion-MNIST and writes a sample grid.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
.venv/bin/python -m trainers.train --model=vae --workdir=runs/demo_vae --epochs=2 --verbose=2 "$@"
echo "Look at runs/demo_vae/samples/latest.png: rows of the VAE's decoder means, each above binarized draws from the same latents."
