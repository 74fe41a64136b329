#!/usr/bin/env bash
# Installs what qscope needs to build and test on Debian, and only what is missing.
# Safe to run again. Needs root (or sudo) when something must be installed.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libopenblas-dev libcjson-dev zlib1g-dev
      libncurses-dev tmux)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js and npm run the ONNX Runtime peer test (tests/onnx/ort_peer.sh). They are checked
# as commands, not packages: a Node.js from another source (with its own npm) is fine.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
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
