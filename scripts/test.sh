#!/usr/bin/env bash
# Builds and runs every test twice: a normal build, and one under AddressSanitizer and
# UndefinedBehaviorSanitizer. Exits non-zero when anything fails.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
status=0
for variant in build build-asan; do
  extra=()
  [ "$variant" = build-asan ] && extra=(-DQS_SANITIZE=ON)
  echo "== $variant"
  "$root/scripts/build.sh" "$root/$variant" "${extra[@]}"
  # halt_on_error keeps a sanitizer report from being lost among later output
  ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$root/$variant" --output-on-failure -j"$(nproc)" || status=1
done
# fuzz stage (tests/fuzz/README.md): each libFuzzer harness for about 20 s, fixed seed
echo "== build-fuzz"
"$root/scripts/fuzz.sh" --ci || status=1
exit $status
