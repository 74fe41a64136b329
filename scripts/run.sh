#!/usr/bin/env bash
# Opens qscope on a bundled model and data set: installs what running needs when it is
# missing (scripts/setup.sh, never the tests' packages), builds, and starts.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
qscope=$root/build/qscope

# A build that is there, with the tools to rebuild it and every library it links found,
# needs no package check and only qscope rebuilt: start-up stays fast. Anything else goes
# through the setup and the whole build.
ready() {
  [ -x "$qscope" ] && command -v cmake >/dev/null && command -v cc >/dev/null &&
    command -v pkg-config >/dev/null && ! ldd "$qscope" 2>/dev/null | grep -q 'not found'
}
if ready; then
  # brings qscope up to date with the sources (CMake reconfigures itself when it must)
  cmake --build "$root/build" --target qscope -j"$(nproc)" 2>&1 | grep -vE '^\[ *[0-9]+%\]' || true
  test -x "$qscope"
else
  "$root/scripts/setup.sh"
  "$root/scripts/build.sh" "$root/build"
fi
cd "$root"
exec "$qscope" --init scripts/examples/open_mnist.qs "$@"
