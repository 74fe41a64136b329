#!/usr/bin/env bash
# The plain front ends' progress line (docs/scripts.md, "Progress, --quiet and --progress"):
# with --progress into a file, every report is "\r" + text + "clear to the end of the line"
# (so a shorter report leaves nothing of a longer one), a report shows the time left, and
# the line is erased at the end; without --progress on a file stderr holds no progress
# byte; --quiet prints errors only.
#
# usage: tests/cli/progress_test.sh path/to/qscope      (from the repository root)
set -u
qscope=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }
cmds='load models/det_balls.qsm; data calib synth:balls n=1000 seed=1; calibrate'
esc=$(printf '\033')

"$qscope" --progress -c "$cmds" </dev/null >"$tmp/out" 2>"$tmp/err" || fail "--progress run failed"
# the reports, one per line: what follows each carriage return
tr '\r' '\n' <"$tmp/err" | tail -n +2 >"$tmp/reports"
n=$(wc -l <"$tmp/reports")
[ "$n" -ge 3 ] || fail "$n progress reports, expected at least 3: $(cat -v "$tmp/err")"
if grep -v "${esc}\[K\$" "$tmp/reports" | grep -q .; then
    fail "a report does not end with clear-to-end-of-line: $(grep -v "${esc}\[K\$" "$tmp/reports" | cat -v)"
fi
grep -Eq "^calibrate +[0-9]+%  [0-9hms]+ left${esc}\[K\$" "$tmp/reports" ||
    fail "no report shows the time left: $(cat -v "$tmp/reports")"
[ "$(tail -n 1 "$tmp/reports")" = "${esc}[K" ] || fail "the line is not erased at the end: $(tail -n 1 "$tmp/reports" | cat -v)"
grep -q "$(printf '\r')" "$tmp/out" && fail "progress bytes on stdout"
grep -q '^observer: *minmax' "$tmp/out" || fail "no calibrate result on stdout: $(cat "$tmp/out")"
echo "ok: $n reports, each ending with ESC[K; e.g. '$(grep left "$tmp/reports" | head -n 1 | cat -v)'"

# stderr a file, no --progress: nothing but errors, so nothing
"$qscope" -c "$cmds" </dev/null >"$tmp/out2" 2>"$tmp/err2" || fail "plain run failed"
[ -s "$tmp/err2" ] && fail "stderr not empty without --progress: $(cat -v "$tmp/err2")"
cmp -s "$tmp/out" "$tmp/out2" || fail "--progress changed stdout"
echo "ok: no progress bytes on a file without --progress"

# --quiet: no results; an error still shows, with its exit status
"$qscope" --quiet --progress -c "$cmds" </dev/null >"$tmp/out3" 2>"$tmp/err3" || fail "--quiet run failed"
[ -s "$tmp/out3" ] && fail "--quiet printed results: $(cat "$tmp/out3")"
[ -s "$tmp/err3" ] && fail "--quiet printed progress: $(cat -v "$tmp/err3")"
"$qscope" -q -c 'echo hidden; let a=1; check a == 2' </dev/null >"$tmp/out4" 2>"$tmp/err4"
st=$?
[ "$st" = 1 ] || fail "--quiet with a failed check: status $st, expected 1"
[ -s "$tmp/out4" ] && fail "--quiet printed echo's text: $(cat "$tmp/out4")"
grep -q 'check failed' "$tmp/err4" || fail "--quiet hid the error: $(cat "$tmp/err4")"
echo "ok: --quiet prints the error only"
exit $failed
