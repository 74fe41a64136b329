#!/usr/bin/env bash
# Installs what qscope needs on Debian, and only what is missing. Safe to run again.
# Needs root (or sudo) when something must be installed.
#   scripts/setup.sh          what building and running qscope needs (scripts/run.sh)
#   scripts/setup.sh --test   that, and what the tests need as well (scripts/test.sh)
set -euo pipefail
test_set=0
case "${1:-}" in
  "") ;;
  --test) test_set=1 ;;
  *) echo "usage: scripts/setup.sh [--test]" >&2; exit 2 ;;
esac
pkgs=(build-essential cmake pkg-config libopenblas-dev libcjson-dev zlib1g-dev
      libncurses-dev)
if [ "$test_set" = 1 ]; then
  # tmux drives the workbench test (tests/tui). clang builds the sanitizer tree (build-asan:
  # -fsanitize=address,undefined,float-cast-overflow, which gcc's UBSan does not check);
  # libclang-rt-dev holds clang's runtimes for those sanitizers (and libFuzzer's), which
  # the clang package alone does not install on Debian 12 (libclang-rt-14-dev there).
  pkgs+=(tmux clang libclang-rt-dev)
  # chromium renders the HTML report headless (tests/report/report_chromium_test.sh)
  pkgs+=(chromium)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js and npm run the peer-runtime tests (tests/onnx/ort_peer.sh: ONNX Runtime;
# tests/tflite/litert_peer.sh: LiteRT). Those install their npm packages themselves into the
# build tree they test (LiteRT pinned, through tests/peers/npm_package.sh), so each build
# tree has its own and the source tree none. Node.js and npm are checked as commands, not packages: a Node.js
# from another source (with its own npm) is fine.
if [ "$test_set" = 1 ] && { ! command -v node >/dev/null || ! command -v npm >/dev/null; }; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
