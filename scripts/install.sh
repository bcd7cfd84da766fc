#!/usr/bin/env bash
# Installs everything the zoo needs, idempotently: a virtual environment in .venv with the pinned
# dependencies and the package itself (editable), and Debian's Fashion-MNIST files for offline data.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c requirements.txt -e ".[test]"
# Bazel 4 wants absolute paths for the interpreter and the local rule repositories.
root=$(pwd)
{
  echo "# Written by scripts/install.sh for this checkout; see .bazelrc."
  echo "build --python_path=$root/.venv/bin/python"
  for repo in rules_cc rules_java remote_coverage_tools; do
    echo "build --override_repository=$repo=$root/third_party/bazel/$repo"
  done
} > .bazelrc.local
if [ -z "${ZOO_FASHION_MNIST_DIR:-}" ] && [ ! -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's dataset-fashion-mnist (offline Fashion-MNIST)..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
  else
    echo "note: Fashion-MNIST is not installed locally; run 'sudo apt-get install dataset-fashion-mnist'," \
      "set ZOO_FASHION_MNIST_DIR, or be online so TFDS can download it." >&2
  fi
fi
