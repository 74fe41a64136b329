#!/usr/bin/env bash
# Builds and runs every test twice: a normal build (gcc, build/), and one under
# AddressSanitizer and UndefinedBehaviorSanitizer with float-cast-overflow (clang,
# build-asan/; gcc's UBSan does not check float-to-int conversions). Exits non-zero when
# anything fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh" --test
status=0
for variant in build build-asan; do
  cc=gcc id=GNU
  extra=()
  [ "$variant" = build-asan ] && cc=clang id=Clang && extra=(-DQS_SANITIZE=ON)
  # CMake keeps the first compiler of a build tree for good, so a tree configured with
  # another one (an older build-asan made with gcc) is configured afresh.
  got=""
  for f in "$root/$variant"/CMakeFiles/*/CMakeCCompiler.cmake; do
    [ -f "$f" ] && got=$(sed -n 's/^set(CMAKE_C_COMPILER_ID "\(.*\)")$/\1/p' "$f")
  done
  [ -n "$got" ] && [ "$got" != "$id" ] && rm -rf "${root:?}/$variant"
  echo "== $variant ($cc)"
  CC=$cc "$root/scripts/build.sh" "$root/$variant" "${extra[@]}"
  # halt_on_error keeps a sanitizer report from being lost among later output
  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$root/$variant" --output-on-failure -j"$(nproc)" || status=1
done
# fuzz stage (tests/fuzz/README.md): each libFuzzer harness for about 20 s, fixed seed
echo "== build-fuzz"
"$root/scripts/fuzz.sh" --ci || status=1
exit $status
