#!/usr/bin/env bash
# `play` starts from a fresh session: a demo played after another demo, or played twice,
# gives what it gives played alone (every step's JSON result equal but the measured times,
# latency and seconds; the play result says it dropped the unsaved work left before it). Before issue 16, fp16_vs_int8 after find_culprit ran with
# per-tensor weights, and deepsets after fp16_vs_int8 failed at step 3 (int8-static
# without ranges).
# usage: tests/scripts/session_play.sh [path/to/qscope]
set -u
qscope=${1:-build/qscope}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
untimed() { sed -E 's/"(latency|seconds)":[-0-9.e+]+,?//g'; }
demo() { echo "scripts/demos/$1.qs"; }

# the results of the last `play` of a command line: the lines after the one before it
last_play() {
    "$qscope" --json -c "$1" > "$tmp/all" 2> "$tmp/err" || fail "'$1' failed: $(cat "$tmp/err")"
    local n
    n=$(grep -c '^{"cmd":"play","ok":true,"played"' "$tmp/all")
    awk -v n="$n" 'done >= n - 1 { print } /^\{"cmd":"play","ok":true,"played"/ { done++ }' \
        "$tmp/all" | untimed
}

# same FIRST THEN: THEN played after FIRST equals THEN played alone
same() {
    last_play "play $(demo "$2")" > "$tmp/alone"
    last_play "play $(demo "$1"); play $(demo "$2")" > "$tmp/after"
    [ -s "$tmp/alone" ] || fail "$2 alone gave nothing"
    # the play result itself says when it dropped the unsaved work the first demo left
    grep -q '^{"cmd":"play".*unsaved work before it was dropped' "$tmp/after" ||
        fail "$2 after $1 does not say it dropped $1's unsaved work"
    grep -v '^{"cmd":"play"' "$tmp/alone" > "$tmp/alone.steps"
    grep -v '^{"cmd":"play"' "$tmp/after" > "$tmp/after.steps"
    cmp -s "$tmp/alone.steps" "$tmp/after.steps" ||
        { diff "$tmp/alone.steps" "$tmp/after.steps" | head -c 2000; fail "$2 after $1 differs from $2 alone"; }
    echo "ok: $2 after $1 is $2 alone"
}

same find_culprit fp16_vs_int8
same fp16_vs_int8 fp16_vs_int8
same fp16_vs_int8 deepsets
