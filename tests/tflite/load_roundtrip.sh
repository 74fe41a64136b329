#!/usr/bin/env bash
# `load FILE.tflite` reproduces the session that exported it (docs/formats.md, "TFLite
# models"): every bundled model exported at every variant (fp32, fp16, dynamic, int8 with
# float, int8 and uint8 IO; targets qscope, tflm, xnnpack; per-tensor weights; the 1-D falls
# model at its own rank) loads back with the
# same `eval` figure and the same `run ... out=` bytes. One exception, by construction: an
# fp32 file holds BatchNormalization folded into the weights before it (as the converter
# does), so a model with BatchNormalization gives the same figure there but not the same
# bytes (its float sums are taken in another order; int8 files fold it in both sessions).
# A .tflite holds no task: the loaded side names it (eval task=).
# Usage: load_roundtrip.sh QSCOPE BUILD_DIR
set -euo pipefail
Q=$(realpath "$1")
synth=$(realpath "$2")/tests/qs_synth_npz
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$(dirname "$0")/../.."
fail=0
mnist="source scripts/train/mnist_data.qs"
# case: model | data commands | plan commands | export options | byte-exact | eval split |
# task | run's input
run_case() {
    local model=$1 data=$2 plan=$3 opts=$4 exact=$5 split=$6 task=$7 in=$8
    local f="$W/m.tflite" a b
    local ev="eval split=$split n=300 task=$task; run $in out=$W"
    a=$("$Q" -c "load models/$model.qsm; $data; $plan; export $f $opts; ${ev}/a.npy" 2>&1 |
        grep -E '^(accuracy|mse|f1|success|error|-c)' | tr -s ' ' || true)
    b=$("$Q" -c "load $f; $data; ${ev}/b.npy" 2>&1 |
        grep -E '^(accuracy|mse|f1|success|error|-c)' | tr -s ' ' || true)
    local what="$model [$plan] $opts"
    if [ -z "$a" ] || [ "$a" != "$b" ] || [[ "$a" == -c* ]]; then
        echo "FAIL $what: eval '$a' after load '$b'"
        fail=1
    elif [ "$exact" = 1 ] && ! cmp -s "$W/a.npy" "$W/b.npy"; then
        echo "FAIL $what: run outputs differ"
        fail=1
    else
        echo "ok   $what: $a"
    fi
}
cal="calibrate n=300"
digits="models/data/mnist_test.npz scale=0.00392156886 n=64"
mn() { run_case "$1" "$mnist" "$2" "$3" "$4" eval classify "$digits"; }
for m in mnist_cnn mnist_dw mnist_mlp; do
    ex=0
    [ $m = mnist_mlp ] && ex=1
    mn $m "mode fp32" "" $ex
    mn $m "mode fp16" "" 1
    mn $m "mode int8-dyn" "" 1
    for io in float int8 uint8; do
        mn $m "$cal; mode int8-static" "io=$io" 1
    done
done
mn mnist_dw "quant target=tflm; $cal; mode int8-static" "io=int8" 1
mn mnist_cnn "quant target=xnnpack; $cal; mode int8-static" "" 1
mn mnist_dw "quant wgran=tensor; $cal; mode int8-static" "" 1
mn mnist_dw "$cal; mode int8-static; prec dw1 fp32" "" 1
# every other bundled model at every precision and IO type (falls: a 1-D model, loaded
# back at its own rank from the exporter's "spatial=1d" mark)
# the int8 plans use the target given: TFLite ties a CONCATENATION's parameters, which
# qscope's own target does not (its export refuses them untied)
every() { # model data task input bytes-exact-at-fp32 int8-target
    local m=$1 data=$2 task=$3 in=$4 q="quant target=$6; calibrate; mode int8-static"
    run_case $m "$data" "mode fp32" "" "$5" calib $task "$in"
    run_case $m "$data" "mode fp16" "" 1 calib $task "$in"
    run_case $m "$data" "mode int8-dyn" "" 1 calib $task "$in"
    for io in float int8 uint8; do
        run_case $m "$data" "$q" "io=$io" 1 calib $task "$in"
    done
    run_case $m "$data" "quant target=xnnpack; calibrate; mode int8-static; quant wgran=tensor" \
        "io=int8" 1 calib $task "$in"
}
"$synth" balls 2 64 "$W/balls.npz" x >/dev/null
every det_balls "data calib synth:balls n=64 seed=22" detect "$W/balls.npz" 0 tflm
"$synth" deepsets 22 64 "$W/sets.npz" peers,ego >/dev/null
every deepsets "data calib synth:deepsets n=200 seed=22" policy "$W/sets.npz" 1 tflm
"$synth" falls 3 64 "$W/falls.npz" x >/dev/null
every falls "data calib synth:falls n=300 seed=2" classify "$W/falls.npz" 0 qscope
exit $fail
