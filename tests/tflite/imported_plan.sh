#!/usr/bin/env bash
# A plan running on a .tflite's imported parameters (docs/formats.md §11): `layers` shows
# the file's grid and says the parameters are the file's; a session file keeps them (the
# resumed session gives the same figure and the same output bytes, for the loaded plan and
# for a `variant import`ed one); `calibrate` replaces them with qscope's own and keeps the
# file's as a variant; `biascorr` adds to the file's int32 biases; `cle` and `qat` refuse.
# The bundled 1-D falls model, exported at int8.
# Usage: imported_plan.sh QSCOPE BUILD_DIR
set -euo pipefail
Q=$(realpath "$1")
synth=$(realpath "$2")/tests/qs_synth_npz
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
cd "$(dirname "$0")/../.."
fail=0
bad() { echo "FAIL $*"; fail=1; }
D="data calib synth:falls n=300 seed=2; data eval synth:falls n=300 seed=3; set task=classify"
F="$W/falls8.tflite"
"$synth" falls 3 64 "$W/in.npz" x >/dev/null
"$Q" -q -c "load models/falls.qsm; $D; calibrate; mode int8-static; export $F"
acc() { grep -E '^accuracy' | tr -s ' '; }

# layers: the file's grid before any calibrate, no infinite range, the source named
j=$("$Q" --json -c "load $F; layers" | grep '"cmd":"layers"')
grep -q "\"imported\":\"$F\"" <<<"$j" || bad "layers names no imported file"
grep -qi 'inf' <<<"$j" && bad "layers shows an infinite range: $j"
n=$(grep -o '"qparams":"file, grid"' <<<"$j" | wc -l)
[ "$n" = 11 ] && [ "$(grep -o '"qparams":' <<<"$j" | wc -l)" = 11 ] ||
    bad "qparams not 'file, grid' on every one of 11 rows ($n)"
# the fc row: its act_range is the grid [scale * (-128 - zp), scale * (127 - zp)], as clip
fc=$(grep -o '{"index":10[^}]*}' <<<"$j")
python3 - "$fc" <<'PY' || bad "fc act_range is not its grid: $fc"
import json, sys
r = json.loads(sys.argv[1])
s, z = r["scale"], r["zp"]
assert r["act_range"] == r["clip"], r
assert abs(r["act_range"][0] - s * (-128 - z)) < 1e-5 * s * 256, r
assert abs(r["act_range"][1] - s * (127 - z)) < 1e-5 * s * 256, r
PY

# session save/load keeps the imported parameters: same figure, same output bytes
a=$("$Q" -c "load $F; $D; eval; run $W/in.npz out=$W/a.npy; session save $W/s.qsess" | acc)
b=$("$Q" --resume "$W/s.qsess" -c "eval; run $W/in.npz out=$W/b.npy; layers" 2>&1)
[ -n "$a" ] && [ "$a" = "$(acc <<<"$b")" ] || bad "resumed session: '$a' then '$(acc <<<"$b")'"
cmp -s "$W/a.npy" "$W/b.npy" || bad "resumed session: run outputs differ"
grep -q "^imported: *$F" <<<"$b" || bad "resumed layers names no imported file"
# ... and a variant imported into a float model's session
a=$("$Q" -c "load models/falls.qsm; $D; variant import $F f8; variant use f8; eval; \
    run $W/in.npz out=$W/c.npy; session save $W/v.qsess" | acc)
b=$("$Q" --resume "$W/v.qsess" -c "variant use f8; eval; run $W/in.npz out=$W/d.npy" | acc)
[ -n "$a" ] && [ "$a" = "$b" ] || bad "resumed variant: '$a' then '$b'"
cmp -s "$W/c.npy" "$W/d.npy" || bad "resumed variant: run outputs differ"
cmp -s "$W/a.npy" "$W/c.npy" || bad "the imported variant and the loaded file differ"

# calibrate replaces the file's parameters and keeps them as a variant
o=$("$Q" -c "load $F; $D; eval; calibrate; layers; compare; variant use falls8; eval" 2>&1)
grep -q "^replaced_imported: *$F" <<<"$o" || bad "calibrate does not say it replaces"
grep -q "^file_variant: *falls8" <<<"$o" || bad "calibrate keeps no variant falls8"
grep -q " calibrated$" <<<"$o" || bad "after calibrate, no row is 'calibrated'"
grep -q "^falls8 .*int8-static" <<<"$o" || bad "compare lists no falls8"
first=$(acc <<<"$o" | head -1) last=$(acc <<<"$o" | tail -1)
[ "$first" = "$last" ] || bad "variant falls8 scores '$last', the file '$first'"

# biascorr acts on the file's biases: the output changes, 'biascorr off' restores it
o=$("$Q" --json -c "load $F; $D; run $W/in.npz out=$W/e.npy; biascorr; \
    run $W/in.npz out=$W/f.npy; biascorr off; run $W/in.npz out=$W/g.npy" 2>&1)
grep -q "\"imported\":\"$F\"" <<<"$o" || bad "biascorr does not name the file"
cmp -s "$W/e.npy" "$W/f.npy" && bad "biascorr changed nothing on the imported plan"
cmp -s "$W/e.npy" "$W/g.npy" || bad "biascorr off does not restore the file's outputs"

# cle and qat refuse, naming the file
for c in "cle" "data train synth:falls n=64 seed=1; qat epochs=1 lr=1e-4"; do
    set +e
    e=$("$Q" -c "load $F; $D; $c" 2>&1)
    st=$?
    set -e
    [ $st = 2 ] && grep -q "parameters imported from $F" <<<"$e" || bad "'$c' (exit $st): $e"
done
[ $fail = 0 ] && echo "ok: imported plans (layers, session, calibrate, biascorr, cle, qat)"
exit $fail
