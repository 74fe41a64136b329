#!/usr/bin/env bash
# qscope's exit status, one case per code of docs/scripts.md ("Exit status"): a missing
# file 3, an unknown command 2, a bad option 2, a bad flag 2, a failed check 1, success 0,
# and SIGINT sent to a running batch (a long calibrate) 130.
#
# usage: tests/cli/exit_status_test.sh path/to/qscope      (from the repository root)
set -u
qscope=$1
tmp=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
failed=0

# expect STATUS STDERR_TEXT ARGS...: qscope ARGS ends with STATUS and its stderr holds the text.
expect() {
    local want=$1 text=$2
    shift 2
    "$qscope" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if [ "$got" != "$want" ] || { [ -n "$text" ] && ! grep -qF -- "$text" "$tmp/err"; }; then
        echo "FAIL: qscope $* -> status $got (want $want), stderr: $(cat "$tmp/err")"
        echo "      (want stderr to hold '$text')"
        failed=1
    else
        echo "ok: status $got: qscope $*"
    fi
}

expect 0 "" -c 'echo fine'
# 1: a check that does not hold, on a variable and on a result's figure
expect 1 "check failed: a = 1, expected == 2" -c 'let a=1; check a == 2'
expect 1 "check failed: layers = 6, expected == 5" -c 'load models/mnist_mlp.qsm; info; check layers == 5'
# 2: an unknown command, an option value, an option name, a flag, a flag's missing argument,
# an unknown split
expect 2 "unknown command 'frobnicate'" -c 'frobnicate'
expect 2 "n=abc: expected an integer" -c 'eval n=abc'
expect 2 "unknown option 'spilt'" -c 'eval spilt=eval'
expect 2 "unknown option '--bogus'" --bogus
expect 2 "--batch needs FILE.qs" --batch
expect 2 "--completion zsh: no completion" --completion zsh
expect 2 "unknown command 'nope'" --batch /dev/null -c 'nope'
# 3: missing files: a script, a model on the command line, a model loaded by a command
expect 3 "/nonexistent/s.qs" --batch /nonexistent/s.qs
expect 3 "/nonexistent/m.qsm" /nonexistent/m.qsm -c 'info'
expect 3 "/nonexistent/m.onnx" -c 'load /nonexistent/m.onnx'
# a file that cannot be written: a folder that does not exist
expect 3 "/nonexistent/dir/m.qsm" -c 'load models/mnist_mlp.qsm; save /nonexistent/dir/m.qsm'
# --init: the init script's failure decides when the REPL reads a pipe
expect 3 "/nonexistent/i.qs" --init /nonexistent/i.qs

# 130: SIGINT while a batch calibrates for a long while. The progress line (--progress)
# says when the job runs; the signal goes then, and the batch must stop with 130, its
# job cancelled and the command after it not run.
cat >"$tmp/long.qs" <<'QS'
load models/det_balls.qsm
data calib synth:balls n=20000 seed=1
calibrate
echo not reached
QS
"$qscope" --progress --batch "$tmp/long.qs" </dev/null >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 1 600); do # up to 60 s for the first progress report, never more
    grep -q 'calibrate' "$tmp/err" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
if ! grep -q 'calibrate' "$tmp/err"; then
    echo "FAIL: the long calibrate never reported progress; stderr: $(cat "$tmp/err")"
    failed=1
else
    kill -INT "$pid"
    wait "$pid"
    got=$?
    pid=
    if [ "$got" != 130 ] || ! grep -q 'cancelled' "$tmp/err" || grep -q 'not reached' "$tmp/out"; then
        echo "FAIL: SIGINT during a batch -> status $got (want 130), stderr: $(tr '\r' '\n' <"$tmp/err" | sed 's/\x1b\[K//g' | tail -3)"
        failed=1
    else
        echo "ok: status 130 after SIGINT during a batch: $(tr '\r' '\n' <"$tmp/err" | sed 's/\x1b\[K//g' | tail -1)"
    fi
fi
exit $failed
