#!/usr/bin/env bash
# Times every available int8 GEMM kernel against single-threaded OpenBLAS sgemm on conv-like
# and square shapes: scripts/bench/qgemm.sh [MIN_SECONDS_PER_TIMING]. Builds
# qs_bench_qgemm in $BUILD (default: build/) first.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${BUILD:-$root/build}
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$dir" --target qs_bench_qgemm -j"$(nproc)" >/dev/null
OPENBLAS_NUM_THREADS=1 "$dir/scripts/bench/qs_bench_qgemm" "$@"
