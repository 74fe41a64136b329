#!/usr/bin/env bash
# The .tflite reader on files qscope did not write: scripts/fixtures/gen_tflite_indep.py
# builds small fully quantized models with python3-flatbuffers in the official converter's
# forms (NHWC, a RESHAPE of an NHWC value, int8 / float / uint8 IO, per-channel CONV_2D and
# DEPTHWISE_CONV_2D with depth multiplier 2, fused RELU and RELU6, ADD, MEAN, SOFTMAX);
# each runs in LiteRT (tests/tflite/litert_run.mjs, XNNPACK) and in qscope (`load`, then
# `quant target=xnnpack`, `run` on the same inputs as float values), and every output code
# must be equal (a float output: every value). Usage: indep_litert.sh QSCOPE BUILD_DIR.
# Exit 77 (skipped, with the reason) without python3-flatbuffers, node, npm or the pinned
# @litertjs/core.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
qscope=$(realpath "$1")
build=$(realpath "$2")
out="$build/tflite_indep"
rm -rf "$out"
mkdir -p "$out"
# Debian's python3-flatbuffers is for Debian's interpreter, which need not be first on PATH
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
status=0
"$py" "$root/scripts/fixtures/gen_tflite_indep.py" "$out" || status=$?
[ "$status" = 0 ] || exit "$status"
mods=$("$here/../peers/npm_package.sh" "$build" @litertjs/core "$(cat "$here/litert_version")") ||
  { status=$?; echo "$mods"; exit $status; }
export LITERT_NODE_MODULES=$mods
fail=0
for m in conv_fc dw_mean fc_softmax; do
  read -r kind s z okind os oz < "$out/$m.io"
  input="$out/${m}_q.npy"
  [ "$kind" = float ] && input="$out/${m}_f.npy"
  node "$here/litert_run.mjs" "$out/$m.tflite" "$input" "$out/${m}_lrt" --channels-last >/dev/null
  "$qscope" -c "load $out/$m.tflite; quant target=xnnpack; run $out/${m}_f.npy out=$out/${m}_qs.npy" \
    >"$out/$m.log" 2>&1 || { echo "FAIL $m: qscope: $(tail -1 "$out/$m.log")"; fail=1; continue; }
  "$py" - "$out/${m}_lrt0.npy" "$out/${m}_qs.npy" "$okind" "$os" "$oz" "$m" <<'PY' || fail=1
import ast, struct, sys
def load(p):
    b = open(p, "rb").read()
    n = struct.unpack_from("<H", b, 8)[0]
    h = ast.literal_eval(b[10:10 + n].decode())
    fmt = {"<f4": "f", "|i1": "b", "|u1": "B", "<i4": "i"}[h["descr"]]
    cnt = 1
    for d in h["shape"]:
        cnt *= d
    return h["shape"], list(struct.unpack_from("<%d%s" % (cnt, fmt), b, 10 + n))
(ls, lv), (qs, qv) = load(sys.argv[1]), load(sys.argv[2])
kind, name = sys.argv[3], sys.argv[6]
if tuple(ls) != tuple(qs):
    sys.exit("FAIL %s: LiteRT shape %s, qscope %s" % (name, ls, qs))
if kind != "float":
    # a quantized output: qscope's float output on the file's output grid (a last layer
    # qscope runs in float, like SOFTMAX, leaves a float that this grid clamps)
    s, z = float(sys.argv[4]), int(sys.argv[5])
    lo, hi = (0, 255) if kind == "uint8" else (-128, 127)
    qv = [min(hi, max(lo, int(round(v / s)) + z)) for v in qv]
diff = sum(1 for a, b in zip(lv, qv) if a != b)
if diff:
    sys.exit("FAIL %s: %d of %d outputs differ" % (name, diff, len(lv)))
print("ok   %s: %d outputs equal" % (name, len(lv)))
PY
done
exit $fail
