#!/usr/bin/env bash
# The LiteRT runner's own test (tests/tflite/litert_runner_test.mjs) on the hand-made
# fixtures in tests/fixtures/tflite. Usage: litert_runner_test.sh BUILD_DIR. Exit 77
# (skipped, with the reason) when node, npm or the pinned @litertjs/core cannot be had.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
version=$(cat "$here/litert_version")
mods=$("$here/../peers/npm_package.sh" "$1" @litertjs/core "$version") || {
  status=$?; echo "$mods"; exit $status; }
LITERT_NODE_MODULES=$mods exec node "$here/litert_runner_test.mjs"
