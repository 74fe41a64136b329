#!/usr/bin/env bash
# taps compare on a LiteRT dump (docs/debugging.md): mnist_cnn calibrated at int8 in the
# `tflm` target, exported to .tflite, every tensor dumped by LiteRT through
# scripts/taps/litert_taps.mjs (the first N digits of the test split), and compared in qscope:
#  1. target tflm: every layer identical, propagated or ties (none a divergence); LiteRT's
#     kernels are XNNPACK's, so the ties must be reproduced by the xnnpack rule, and
#     `diagnose taps=` must name it as a target mismatch;
#  2. target xnnpack: the same dump is identical layer by layer (taps save's own arrays too);
#  3. relu2's output scale multiplied by 1.5 in the exported file, with the tensors TFLite
#     requires to share it (pool2, its TRANSPOSE and RESHAPE: with unequal ones LiteRT's run
#     gives garbage without an error): relu2 is the first divergence.
# Exit 77 (skipped) with the reason without node/npm or the pinned @litertjs/core.
# Usage: taps_litert.sh QSCOPE BUILD_DIR
set -euo pipefail
qscope=$1
build=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
N=${N:-100}

mods=$("$root/tests/peers/npm_package.sh" "$build" @litertjs/core "$(cat "$here/litert_version")") ||
  { status=$?; echo "$mods"; exit $status; }
export LITERT_NODE_MODULES=$mods
out="$build/taps_litert"
mkdir -p "$out"
setup="load models/mnist_cnn.qsm; source scripts/train/mnist_data.qs; mode int8-static"
data="models/data/mnist_test.npz:x --scale=0.00392156886 --n=$N --channels-last"
fail() { echo "FAIL: $*"; exit 1; }

"$qscope" -c "$setup; quant target=tflm; calibrate n=500; export $out/cnn_tflm.tflite" \
  >"$out/export.log"
node scripts/taps/litert_taps.mjs "$out/cnn_tflm.tflite" $data "$out/dump.npz"

# field FILE CMD KEY: KEY of the last CMD result in a --json log
field() {
  node -e 'const [f, c, k] = process.argv.slice(1);
    const j = require("fs").readFileSync(f, "utf8").trim().split("\n").map((l) => JSON.parse(l))
      .filter((o) => o.cmd === c).pop();
    console.log(j[k] === undefined ? "(absent)" : typeof j[k] === "object" ? JSON.stringify(j[k]) : j[k]);' "$@"
}
# classes FILE: "layer=class" of the last taps result, space-separated
classes() {
  node -e 'const j = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n")
      .map((l) => JSON.parse(l)).filter((o) => o.cmd === "taps").pop();
    console.log(j.layers.map((r) => `${r.layer}=${r.class}`).join(" "));' "$1"
}

# 1. tflm: ties only, reproduced by xnnpack's rule
"$qscope" --json -c "$setup; quant target=tflm; calibrate n=500; taps compare $out/dump.npz;
  diagnose taps=$out/dump.npz n=$N" >"$out/tflm.jsonl"
c=$(classes "$out/tflm.jsonl")
echo "tflm: $c"
for lc in $c; do
  case ${lc#*=} in identical|propagated|ties) ;; *) fail "tflm: $lc is neither identical, propagated nor ties" ;; esac
done
[ "$(field "$out/tflm.jsonl" taps divergent_layers)" = 0 ] || fail "tflm: a divergent layer"
[ "$(field "$out/tflm.jsonl" taps missing)" = 0 ] || fail "tflm: a layer missing from the dump"
rb=$(field "$out/tflm.jsonl" taps reproduced_by) v=$(field "$out/tflm.jsonl" taps verdict)
echo "tflm: verdict $v, reproduced by $rb"
if [ "$v" = ties ]; then
  case ",$rb," in *,xnnpack,*) ;; *) fail "tflm: LiteRT's ties not reproduced by xnnpack ($rb)" ;; esac
  [ "$(field "$out/tflm.jsonl" diagnose target_mismatch)" = xnnpack ] ||
    fail "diagnose: no target mismatch naming xnnpack"
fi

# 2. xnnpack: identical
"$qscope" --json -c "$setup; quant target=xnnpack; calibrate n=500; taps compare $out/dump.npz" \
  >"$out/xnnpack.jsonl"
echo "xnnpack: $(classes "$out/xnnpack.jsonl")"
[ "$(field "$out/xnnpack.jsonl" taps verdict)" = identical ] ||
  fail "xnnpack: the dump is not identical to qscope's run under the xnnpack target"

# 3. a wrong scale in relu2: the first divergence
node --input-type=module -e '
  import fs from "node:fs";
  import { scaleOffsets } from "./scripts/taps/tflite_fb.mjs";
  const [src, dst] = process.argv.slice(1);
  const buf = fs.readFileSync(src);
  const s = buf.readFloatLE(scaleOffsets(buf, "relu2")[0]);
  for (const name of ["relu2", "pool2", "pool2::plain_q", "flatten"]) {
    const at = scaleOffsets(buf, name);
    if (at.length !== 1 || buf.readFloatLE(at[0]) !== s)
      throw new Error(`${name} does not share the scale of relu2`);
    buf.writeFloatLE(s * 1.5, at[0]);
  }
  fs.writeFileSync(dst, buf);' "$out/cnn_tflm.tflite" "$out/cnn_wrong.tflite"
node scripts/taps/litert_taps.mjs "$out/cnn_wrong.tflite" $data "$out/wrong.npz"
"$qscope" --json -c "$setup; quant target=tflm; calibrate n=500; taps compare $out/wrong.npz" \
  >"$out/wrong.jsonl"
echo "wrong scale: $(classes "$out/wrong.jsonl")"
[ "$(field "$out/wrong.jsonl" taps first_divergence)" = relu2 ] ||
  fail "wrong scale: first divergence is $(field "$out/wrong.jsonl" taps first_divergence), not relu2"
[ "$(field "$out/wrong.jsonl" taps verdict)" = divergence ] || fail "wrong scale: no divergence"
echo "PASS"
