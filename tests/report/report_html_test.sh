#!/usr/bin/env bash
# The HTML report's structure, without a browser (check_html.py says what is checked):
#   1. the bundled MNIST CNN, calibrated, int8-static: well-formed, self-contained, every
#      section, one bar per layer and kind in the per-layer figure (the count from
#      `layers`), the headline's FP32-against-plan sentence, written atomically;
#   2. a model whose layer names are markup, quotes and `;`/`=`/`#` (hostile_names.json):
#      each name shown as text (escaped), each hist command quoted so that it ran;
#   3. no calibration: the calibration-bound sections say so in one line each;
#   4. the JSON report still written for .json, and any other suffix refused.
# usage: report_html_test.sh QSCOPE WORKDIR
set -euo pipefail
qscope=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null || { echo "SKIPPED: no python3"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
export OPENBLAS_NUM_THREADS=1
data="data eval models/data/mnist_test.npz n=500 scale=0.00392156886;
      data calib models/data/mnist_train.npz n=300 scale=0.00392156886"
fail() { echo "report_html_test: $*"; exit 1; }

# 1. the bundled model
n_layers=$("$qscope" --json -c 'load models/mnist_cnn.qsm; layers' |
           python3 -c 'import json,sys; print(len(json.loads(sys.stdin.readlines()[-1])["layers"]))')
[ "$n_layers" -gt 0 ] || fail "no layer count"
"$qscope" -c "load models/mnist_cnn.qsm; $data; calibrate; mode int8-static;
              report $work/mnist.html drop<=1%" >/dev/null
[ ! -e "$work/mnist.html.tmp" ] || fail "mnist.html.tmp left behind"
python3 "$here/check_html.py" "$work/mnist.html" --layers "$n_layers" \
    --text "FP32" --text "int8-static" --text "a drop of" \
    --text "report $work/mnist.html drop<=1%" --text "hist conv1 act" \
    --text "hist fc1 weights top=64"

# 2. hostile names
"$qscope" -c "init tests/report/hostile_names.json seed=1; $data; calibrate; mode int8-static;
              report $work/hostile.html" >/dev/null
args=(--layers 6)
while IFS= read -r name; do
    args+=(--text "$name")
done < <(python3 -c 'import json; [print(l["name"]) for l in json.load(open("tests/report/hostile_names.json"))["layers"]]')
args+=(--text 'hist "relu x=1; #y" act' --text "hist \"<script>alert('conv')</script>\" weights")
python3 "$here/check_html.py" "$work/hostile.html" "${args[@]}"

# 3. nothing calibrated, the plan fp32, no calib split: one line per missing section
"$qscope" -c "load models/mnist_cnn.qsm; data eval models/data/mnist_test.npz n=200 scale=0.00392156886;
              report $work/bare.html" >/dev/null
python3 "$here/check_html.py" "$work/bare.html" \
    --missing "activations:run 'calibrate'" --missing "sensitivity:sensitivity" \
    --text "The plan is FP32"

# 4. JSON stays; other suffixes are refused
"$qscope" -c "load models/mnist_cnn.qsm; report $work/r.json" >/dev/null
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "variants" in d and "pick" in d, d.keys()' "$work/r.json"
if out=$("$qscope" -c "load models/mnist_cnn.qsm; report $work/r.txt" 2>&1); then
    fail "report r.txt succeeded"
fi
grep -q "must end in .json or .html" <<<"$out" || fail "unexpected message: $out"
[ ! -e "$work/r.txt" ] || fail "r.txt written"
echo "report_html_test: ok"
