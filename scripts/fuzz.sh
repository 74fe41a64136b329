#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz with clang (tree build-fuzz) and runs them.
#   scripts/fuzz.sh [NAME ...] [SECONDS]   each named harness (all by default) for SECONDS
#                                          (default 300), one at a time; new corpus entries
#                                          and findings go to build-fuzz/fuzz/, which later
#                                          runs start from
#   scripts/fuzz.sh --ci                   the CTest fuzz_* tests: each harness about 20 s
#                                          with a fixed seed (scripts/test.sh runs this)
# Prints executions and findings per harness; exits 1 when anything was found. Without
# clang's libFuzzer it prints a SKIP line and exits 0.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${QS_FUZZ_BUILD:-$root/build-fuzz}
all=(qsm onnx npy npz idx csv spec script tflite)

probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }' >"$probe/p.c"
if ! command -v clang >/dev/null ||
   ! clang -fsanitize=fuzzer,address,undefined "$probe/p.c" -o "$probe/p" 2>/dev/null; then
  echo "SKIP fuzz: clang with libFuzzer is not installed (apt-get install clang)"
  exit 0
fi

CC=clang cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQS_FUZZ=ON \
  -DBUILD_TESTING=OFF >/dev/null || exit 1
cmake --build "$dir" -j"$(nproc)" --target fuzz_all 2>&1 | grep -E 'error:|Error' && exit 1

if [ "${1:-}" = --ci ]; then
  ctest --test-dir "$dir" -R '^fuzz_' -j1 --output-on-failure
  status=$?
  grep -h '^fuzz ' "$dir"/Testing/Temporary/LastTest.log | sed 's/^/  /'
  exit $status
fi

names=() seconds=300
for a in "$@"; do
  if [[ $a =~ ^[0-9]+$ ]]; then seconds=$a; else names+=("$a"); fi
done
[ ${#names[@]} -eq 0 ] && names=("${all[@]}")
status=0
for n in "${names[@]}"; do
  if [ ! -x "$dir/tests/fuzz/fuzz_$n" ]; then
    echo "fuzz.sh: no harness '$n' (have: ${all[*]})" >&2
    exit 2
  fi
  FUZZ_SEED=${FUZZ_SEED:-0} "$root/tests/fuzz/run_harness.sh" "$dir/tests/fuzz/fuzz_$n" "$n" \
    "$dir/fuzz" "$seconds" || status=1
done
exit $status
