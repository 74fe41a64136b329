#!/usr/bin/env bash
# Installs what is missing, builds, and opens qscope on a bundled model and data set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
"$root/scripts/build.sh" "$root/build"
cd "$root"
exec "$root/build/qscope" --init scripts/examples/open_mnist.qs "$@"
