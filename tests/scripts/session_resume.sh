#!/usr/bin/env bash
# A session saved with `session save` and resumed with `qscope --resume` gives the same
# `compare` table bit for bit (JSON, every field but the measured latency), the same
# `layers` table (clipping ranges, scales, zero points) and the same variants, for:
#   1. mnist_cnn after weight training (cle), calibration with the entropy observer,
#      pinned layers, a bias correction and two variants with their own calibrations;
#   2. the deepsets demo (two inputs, synthetic data, a QAT variant with its own weights)
#      with the QAT variant's weights made active by `variant use qat`.
# Saved again at once, a resumed session writes the same bytes. It also checks that a damaged session file is refused and the session before it kept.
# usage: tests/scripts/session_resume.sh [path/to/qscope]
set -u -o pipefail
qscope=${1:-build/qscope}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
# the latency column is timed: everything else must be equal
untimed() { sed -E 's/"latency":[-0-9.e+]+,?//g'; }
check='compare n=300; layers; variant list'

# case NAME SETUP: runs SETUP then $check then saves; resumes and runs $check again.
case_() {
    local name=$1 setup=$2
    "$qscope" --json -c "$setup; $check; session save $tmp/$name.qsess" > "$tmp/$name.all" \
        2> "$tmp/$name.err" || fail "$name: the first run failed: $(cat "$tmp/$name.err")"
    # the three results of $check, just before session save's
    grep -E '^\{"cmd":"(compare|layers|variant)"' "$tmp/$name.all" | tail -n 3 | untimed \
        > "$tmp/$name.before"
    [ "$(wc -l < "$tmp/$name.before")" = 3 ] || fail "$name: no compare, layers, variant results"
    "$qscope" --json --resume "$tmp/$name.qsess" -c "$check" 2> "$tmp/$name.err" | untimed \
        > "$tmp/$name.after" || fail "$name: --resume failed: $(cat "$tmp/$name.err")"
    cmp "$tmp/$name.before" "$tmp/$name.after" ||
        { diff "$tmp/$name.before" "$tmp/$name.after" | head -c 3000; fail "$name: differs after --resume"; }
    grep -q '"variants":\[{' "$tmp/$name.after" || fail "$name: no variants after --resume"
    # saved again at once, the resumed session writes the same bytes
    "$qscope" --resume "$tmp/$name.qsess" -c "session save $tmp/$name.again" > /dev/null ||
        fail "$name: saving the resumed session failed"
    cmp -s "$tmp/$name.qsess" "$tmp/$name.again" || fail "$name: saved again, the file differs"
    echo "ok: $name resumed bit for bit"
}

case_ cnn "load models/mnist_cnn.qsm; data eval models/data/mnist_test.npz n=300 scale=0.00392156886; \
data calib models/data/mnist_train.npz n=300 scale=0.00392156886; cle n=100; calibrate; \
mode int8-static; quant observer=entropy; variant save ent; quant observer=percentile pct=99.9 \
wgran=tensor; prec conv1 fp16; biascorr n=100; variant save pct_pins; quant observer=mse"
grep -q '"name":"conv1"[^}]*"prec":"fp16"' "$tmp/cnn.after" || fail "cnn: the pin of conv1 is lost"

case_ deepsets "play scripts/demos/deepsets.qs; variant use qat"

# a damaged file is refused, and the session before it stays
head -c 5000 "$tmp/cnn.qsess" > "$tmp/cut.qsess"
out=$("$qscope" -c "load models/mnist_cnn.qsm; session load $tmp/cut.qsess" 2>&1) &&
    fail "a cut session file loaded"
echo "$out" | grep -q 'session load' || fail "no 'session load' in the error: $out"
"$qscope" --resume "$tmp/cut.qsess" -c info > /dev/null 2>&1 && fail "--resume of a cut file succeeded"
echo "ok: a cut session file is refused"
