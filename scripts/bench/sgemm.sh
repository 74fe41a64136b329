#!/usr/bin/env bash
# qscope's float GEMM against OpenBLAS (cblas_sgemm) on conv-like and dense-like shapes, at
# 1 and 2 threads, printing GFLOP/s and the ratio: scripts/bench/sgemm.sh
# [MIN_SECONDS_PER_TIMING]. Builds qs_bench_sgemm in $BUILD (default: build/) first.
# OpenBLAS picks its kernels by CPU model; on one it does not know it may fall back to an
# old kernel, which OPENBLAS_CORETYPE (e.g. SkylakeX, Zen) overrides.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${BUILD:-$root/build}
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$dir" --target qs_bench_sgemm -j"$(nproc)" >/dev/null
"$dir/scripts/bench/qs_bench_sgemm" "$@"
