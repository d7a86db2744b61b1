#!/usr/bin/env bash
# One-step set-up on a fresh Debian machine: system packages the tests and the
# full data set need, then the package itself (builds libdfpengine and the glue).
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    # build tools for the C library/ctest, full Fashion-MNIST for training runs
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        gcc cmake ninja-build dataset-fashion-mnist >/dev/null
else
    echo "setup: not root or no apt-get; skipping Debian packages (gcc, cmake, ninja-build, dataset-fashion-mnist)" >&2
fi

python3 -m pip install -q -e ".[dev]"
python3 -c "import dfpengine, json; from dfpengine.cli import info; print(json.dumps(info.collect()))"
