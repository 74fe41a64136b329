#!/usr/bin/env bash
# Makes an npm package at a pinned version available to a peer test, installed into the
# build tree (BUILD_DIR/npm-peers), never into the source tree, with --ignore-scripts (no
# install script runs; the package's files are used as shipped). Prints the node_modules
# folder on stdout. Exit 77 with the reason on stdout when node or npm is missing or the
# install fails (no registry reachable): the calling test then skips.
# Usage: npm_package.sh BUILD_DIR NAME VERSION
# A lock serializes installs, so tests running in parallel do not install over each other.
set -euo pipefail
name=$2 version=$3
build=$(cd "$1" && pwd)
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node or npm not found (scripts/setup.sh --test installs nodejs and npm)"
  exit 77
fi
prefix="$build/npm-peers"
mods="$prefix/node_modules"
mkdir -p "$prefix"
installed() {
  node -e 'const p = require(process.argv[1]); process.exit(p.version === process.argv[2] ? 0 : 1)' \
    "$mods/$name/package.json" "$version" 2>/dev/null
}
exec 9>"$prefix/.lock"
flock 9
if ! installed; then
  log="$prefix/install-${name//\//_}.log"
  if ! timeout 600 npm install --prefix "$prefix" --ignore-scripts --no-audit --no-fund \
       "$name@$version" >"$log" 2>&1 || ! installed; then
    echo "SKIP: npm install $name@$version into $prefix failed:"
    tail -5 "$log"
    exit 77
  fi
fi
echo "$mods"
