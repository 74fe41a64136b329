#!/usr/bin/env bash
# taps compare on an ONNX Runtime dump (scripts/taps/ort_taps.cjs): mnist_cnn at int8 in the
# `ort` target, exported as QDQ .onnx, its values dumped by onnxruntime-node on the first N
# test digits, compared in qscope: identical layer by layer under `quant target=ort`; under
# `quant target=tflm` ties only (none a divergence), reproduced by the ort rule.
# Exit 77 (skipped) with the reason without node/npm or onnxruntime-node.
# Usage: taps_ort.sh QSCOPE BUILD_DIR
set -euo pipefail
qscope=$1
build=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
source "$here/ort_env.sh"
N=${N:-100}
out="$build/taps_ort"
mkdir -p "$out"
setup="load models/mnist_cnn.qsm; source scripts/train/mnist_data.qs; mode int8-static"
fail() { echo "FAIL: $*"; exit 1; }

"$qscope" -c "$setup; quant target=ort; calibrate n=500; export $out/cnn_ort.onnx" >"$out/export.log"
node scripts/taps/ort_taps.cjs "$out/cnn_ort.onnx" "$out/dump.npz" models/data/mnist_test.npz:x \
  --scale=0.00392156886 --shape=1,28,28 --n=$N

# summary FILE: "verdict divergent_layers reproduced_by first_divergence" of the last taps
summary() {
  node -e 'const j = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n")
      .map((l) => JSON.parse(l)).filter((o) => o.cmd === "taps").pop();
    console.log([j.verdict, j.divergent_layers, j.reproduced_by || "-", j.missing,
                 j.layers.map((r) => `${r.layer}=${r.class}`).join(",")].join(" "));' "$1"
}
"$qscope" --json -c "$setup; quant target=ort; calibrate n=500; taps compare $out/dump.npz" >"$out/ort.jsonl"
read -r v d rb miss layers < <(summary "$out/ort.jsonl")
echo "ort: $v ($layers)"
[ "$v" = identical ] && [ "$miss" = 0 ] || fail "target ort: $v, $miss missing"
"$qscope" --json -c "$setup; quant target=tflm; calibrate n=500; taps compare $out/dump.npz" >"$out/tflm.jsonl"
read -r v d rb miss layers < <(summary "$out/tflm.jsonl")
echo "tflm: $v, reproduced by $rb ($layers)"
[ "$d" = 0 ] || fail "target tflm: $d divergent layers"
if [ "$v" = ties ]; then
  case ",$rb," in *,ort,*) ;; *) fail "target tflm: ties not reproduced by the ort rule ($rb)" ;; esac
fi
echo "PASS"
