#!/usr/bin/env bash
# The HTML report as a browser shows it: headless Chromium (Debian's `chromium`, installed
# by scripts/setup.sh --test) loads the report of the bundled MNIST CNN (calibrated,
# int8-static) with no console message, draws a screenshot that is not blank
# (png_check.py), and its DOM holds one bar per layer and kind in the per-layer figure
# (check_html.py --dom; the count from `layers`). Skipped (77) when Chromium or python3
# cannot be had or cannot start here. Chromium runs as root in CI: --no-sandbox.
# usage: report_chromium_test.sh QSCOPE WORKDIR
set -euo pipefail
qscope=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null || { echo "SKIPPED: no python3"; exit 77; }
browser=""
for b in chromium chromium-browser google-chrome; do
    if command -v "$b" >/dev/null; then browser=$b; break; fi
done
[ -n "$browser" ] || { echo "SKIPPED: no chromium (scripts/setup.sh --test installs it)"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
export OPENBLAS_NUM_THREADS=1
fail() { echo "report_chromium_test: $*"; exit 1; }
# its own profile in the work folder (nothing read from or left in HOME), no GPU, a time
# limit for each run on CI's two cores
chrome() {
    timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --no-first-run --user-data-dir="$work/profile" --hide-scrollbars "$@"
}
# a browser that cannot start here (no display libraries, a broken install) is a skip,
# not a failure of the report
echo '<!DOCTYPE html><title>t</title><p>start</p>' > "$work/start.html"
if ! chrome --dump-dom "file://$work/start.html" 2>"$work/start.log" | grep -q start; then
    echo "SKIPPED: $browser does not start here:"; tail -5 "$work/start.log"; exit 77
fi

n_layers=$("$qscope" --json -c 'load models/mnist_cnn.qsm; layers' |
           python3 -c 'import json,sys; print(len(json.loads(sys.stdin.readlines()[-1])["layers"]))')
"$qscope" -c "load models/mnist_cnn.qsm;
              data eval models/data/mnist_test.npz n=500 scale=0.00392156886;
              data calib models/data/mnist_train.npz n=300 scale=0.00392156886;
              calibrate; mode int8-static; report $work/report.html drop<=1%" >/dev/null
url="file://$work/report.html"

# the page as loaded: no console message (an error, a warning, a refused resource)
chrome --enable-logging=stderr --v=0 --dump-dom "$url" >"$work/dom.html" 2>"$work/dom.log" ||
    fail "chromium --dump-dom failed: $(tail -3 "$work/dom.log")"
if grep -E 'CONSOLE|Uncaught|Failed to load resource|net::ERR_' "$work/dom.log"; then
    fail "console messages while loading the report (above)"
fi
python3 "$here/check_html.py" "$work/dom.html" --dom --layers "$n_layers" ||
    fail "the DOM Chromium built does not hold the figure"

# the page as drawn: a blank screenshot fails
chrome --screenshot="$work/shot.png" --window-size=1200,1600 "$url" >/dev/null 2>"$work/shot.log" ||
    fail "chromium --screenshot failed: $(tail -3 "$work/shot.log")"
python3 "$here/png_check.py" "$work/shot.png" 16 0.02 || fail "the screenshot is blank"
echo "report_chromium_test: ok"
