#!/usr/bin/env bash
# Installs what qscope needs on Debian, and only what is missing. Safe to run again.
# Needs root (or sudo) when something must be installed.
#   scripts/setup.sh          what building and running qscope needs (scripts/run.sh)
#   scripts/setup.sh --test   that, and what the tests need as well (scripts/test.sh)
#   scripts/setup.sh --bench  that, and what the benchmarks and fixture scripts need
#                             (scripts/bench/README.md, scripts/fixtures/)
set -euo pipefail
test_set=0
bench_set=0
case "${1:-}" in
  "") ;;
  --test) test_set=1 ;;
  --bench) test_set=1; bench_set=1 ;;
  *) echo "usage: scripts/setup.sh [--test | --bench]" >&2; exit 2 ;;
esac

# Building and running: the compiler and CMake, and the libraries qscope links.
run_pkgs=(build-essential cmake pkg-config libopenblas-dev libcjson-dev zlib1g-dev
          libncurses-dev)

# The tests only, one package a line with what needs it. Node.js and npm are below: they
# are checked as commands.
test_pkgs=(
  tmux            # tests/tui: the workbench driven in a detached tmux session
  clang           # the sanitizer tree (build-asan: -fsanitize=address,undefined,
                  # float-cast-overflow, which gcc's UBSan does not check) and libFuzzer
  libclang-rt-dev # clang's runtimes for those sanitizers and libFuzzer, which the clang
                  # package alone does not install on Debian 12 (libclang-rt-14-dev there)
  groff-base      # tests/cli/man_test.sh: renders the man page with groff -man -ww
  chromium        # tests/report/report_chromium_test.sh: renders the HTML report headless
  python3         # tests/json, tests/report: check JSON keys and the HTML's structure
  python3-flatbuffers # tests/tflite/indep_litert.sh: a second .tflite writer
                      # (scripts/fixtures/gen_tflite_indep.py) for the reader's tests
)

# The benchmarks and the fixture generators only (never the tests: fixtures are committed,
# or made at test time without torch).
bench_pkgs=(
  python3-torch       # PyTorch 1.13 for /usr/bin/python3: fixtures, bench models, QAT peer
  python3-torchvision # ResNet18 and MobileNetV2 of scripts/fixtures/gen_bench_models.py
  time                # /usr/bin/time -v: peak memory of each side in engine_vs_ort.sh
)

pkgs=("${run_pkgs[@]}")
[ "$test_set" = 1 ] && pkgs+=("${test_pkgs[@]}")
[ "$bench_set" = 1 ] && pkgs+=("${bench_pkgs[@]}")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js and npm run the peer-runtime tests (tests/onnx/ort_peer.sh: ONNX Runtime;
# tests/tflite/litert_peer.sh: LiteRT). Those install their npm packages themselves into the
# build tree they test (LiteRT pinned, through tests/peers/npm_package.sh), so each build
# tree has its own and the source tree none. They are checked as commands, not packages: a
# Node.js from another source (with its own npm) is fine. Running qscope needs neither.
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
