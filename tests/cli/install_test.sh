#!/usr/bin/env bash
# cmake --install into a fresh prefix puts qscope, its man page and its bash completion
# where man and bash-completion look: PREFIX/bin, PREFIX/share/man/man1 and
# PREFIX/share/bash-completion/completions.
#
# usage: tests/cli/install_test.sh BUILD_DIR
set -u
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
failed=0
cmake --install "$build" --prefix "$prefix" >"$prefix.log" 2>&1 ||
    { echo "FAIL: cmake --install: $(cat "$prefix.log")"; rm -f "$prefix.log"; exit 1; }
rm -f "$prefix.log"
for f in bin/qscope share/man/man1/qscope.1 share/bash-completion/completions/qscope; do
    if [ -s "$prefix/$f" ]; then
        echo "ok: $f"
    else
        echo "FAIL: cmake --install put no $f under the prefix"
        failed=1
    fi
done
[ -x "$prefix/bin/qscope" ] && "$prefix/bin/qscope" --version | grep -q '^commit: ' ||
    { echo "FAIL: the installed qscope does not run"; failed=1; }
exit $failed
