#!/bin/sh
# Runs one hostile-input case folder (tests/hostile/NAME/, see tests/hostile/README.md):
#   run_case.sh QSCOPE CASE_DIR WORK_ROOT SANITIZE
# The case is copied into WORK_ROOT/NAME (a fresh folder in the build tree); `gen`, when
# present, runs there first and makes the large or unusual inputs (FIFOs, NUL bytes).
# qscope then runs in that folder with the arguments of `args` (one per line; "@/" at the
# start of a line stands for that folder), under `ulimit -v` with the cap of `vmem` unless
# SANITIZE is 1 (ASan reserves terabytes of address space, so a cap would only kill it),
# and under `timeout` so that a hang fails the case instead of blocking the suite.
# The case passes when the exit status equals `status`, the first error line of stderr
# contains the text of `stderr`, and qscope left no file behind in the folder.
set -u
qscope=$1 case_dir=$2 work_root=$3 sanitize=${4:-0}
name=$(basename "$case_dir")
fail() { echo "hostile_$name: $*" >&2; exit 1; }

# A file's lines without comment lines ("# ...").
content() { grep -v '^#' "$1"; }

for f in args stderr status; do
    [ -f "$case_dir/$f" ] || fail "the case lacks its '$f' file"
done
want_status=$(content "$case_dir/status" | tr -d ' \t\n')
want_err=$(content "$case_dir/stderr" | head -n 1)
[ -n "$want_status" ] || fail "'status' holds no number"
[ -n "$want_err" ] || fail "'stderr' holds no text"
vmem=
[ -f "$case_dir/vmem" ] && vmem=$(content "$case_dir/vmem" | tr -d ' \t\n')
limit=${QS_HOSTILE_TIMEOUT:-60}
# OpenBLAS threads under an address-space cap can spin at exit when a stack cannot be mapped
export OPENBLAS_NUM_THREADS=1

work="$work_root/$name"
rm -rf "$work" && mkdir -p "$work" || fail "cannot make $work"
cp -R "$case_dir/." "$work/" || fail "cannot copy the case into $work"
if [ -f "$work/gen" ]; then
    # gen may copy a bundled model or fixture from the repository: "$QS_SOURCE_DIR/models/..."
    QS_SOURCE_DIR=$(cd "$case_dir/../../.." && pwd)
    export QS_SOURCE_DIR
    (cd "$work" && sh ./gen) || fail "gen failed (status $?)"
fi
before=$(cd "$work" && ls -A | sort)

# The arguments, one per line, into the positional parameters (no word splitting, so
# spaces, quotes and backslashes in them reach qscope as written).
set --
nl='
'
old_ifs=$IFS
IFS=$nl
set -f # no globbing of '*' in an argument
for line in $(content "$work/args"); do
    case $line in
        @/*) line="$work/${line#@/}" ;;
    esac
    set -- "$@" "$line"
done
IFS=$old_ifs
set +f

(
    cd "$work" || exit 125
    if [ "$sanitize" != 1 ] && [ -n "$vmem" ]; then
        ulimit -v "$vmem" || exit 125
    fi
    exec timeout -s KILL "$limit" "$qscope" "$@" </dev/null >"$work_root/$name.stdout" \
        2>"$work_root/$name.stderr"
)
got_status=$?
got_err=$(grep -v -e '^[[:space:]]*$' -e '^warning' "$work_root/$name.stderr" | head -n 1)

[ "$got_status" = 137 ] && [ "$want_status" != 137 ] &&
    fail "killed after ${limit} s (a hang?) or by the vmem cap; stderr: $(cat "$work_root/$name.stderr")"
[ "$got_status" = "$want_status" ] ||
    fail "exit status $got_status, expected $want_status; stderr: $(cat "$work_root/$name.stderr")"
case $got_err in
    *"$want_err"*) ;;
    *) fail "the first error line '$got_err' lacks '$want_err'" ;;
esac
after=$(cd "$work" && ls -A | sort)
[ "$before" = "$after" ] || fail "qscope left files behind: $(echo "$after" | grep -vxF "$before")"
rm -rf "$work" "$work_root/$name.stdout" "$work_root/$name.stderr"
echo "hostile_$name: ok (status $got_status, '$got_err')"
