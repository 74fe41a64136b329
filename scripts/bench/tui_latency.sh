#!/usr/bin/env bash
# How responsive the workbench is, measured from outside through tmux:
#   1. start-up: from launching `qscope models/mnist_cnn.qsm` to its first full screen
#      (status line and every layer drawn), and to the figures (metrics) being in;
#   2. key to screen: from sending j/k (select the next layer) to the redrawn detail pane,
#      idle and while a long calibration job runs on the worker thread.
# The figures include tmux's own round trip (capture-pane is polled), printed separately.
# usage: scripts/bench/tui_latency.sh [path/to/qscope] [presses]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
q=${1:-build/qscope}
presses=${2:-20}
[ -x "$q" ] || scripts/build.sh build
command -v tmux >/dev/null || { echo "tmux is needed (scripts/setup.sh --test installs it)"; exit 1; }
q=$(cd "$(dirname "$q")" && pwd)/$(basename "$q")
unset TMUX TMUX_PANE
sock="qscope-bench-$$"
tmp=$(mktemp -d)
T() { tmux -L "$sock" -f /dev/null "$@"; }
trap 'T kill-server >/dev/null 2>&1; sleep 0.1; rm -rf "$tmp"' EXIT
term=screen
infocmp tmux-256color >/dev/null 2>&1 && term=tmux-256color
lang=C
locale -a 2>/dev/null | grep -qix 'c.utf-\?8' && lang=C.UTF-8
S=bench

now_us() { date +%s%6N; }
screen() { T capture-pane -p -t "$S"; }
# Polls until the screen matches (grep -E); prints the microseconds waited from $1.
until_match() {
    local t0=$1 pat=$2 limit=$(( $1 + 60000000 ))
    while ! screen | grep -Eq -- "$pat"; do
        [ "$(now_us)" -lt "$limit" ] || { echo "timed out waiting for /$pat/" >&2; screen >&2; exit 1; }
    done
    echo $(( $(now_us) - t0 ))
}
stats() { # microseconds, one per line -> "median X ms, max Y ms"
    sort -n | awk '{a[NR]=$1} END {printf "median %.1f ms, min %.1f ms, max %.1f ms (n=%d)",
        a[int((NR+1)/2)]/1000, a[1]/1000, a[NR]/1000, NR}'
}

start() {
    T start-server \; set-option -g default-terminal "$term" \; \
        new-session -d -s "$S" -x 80 -y 24 \
        "env HOME=$tmp TERM=$term LANG=$lang LC_ALL=$lang $q $* ; sleep 60"
}

# tmux's own round trip, to read the figures below against
t0=$(now_us)
T start-server \; new-session -d -s probe -x 80 -y 24 "sleep 60"
for _ in $(seq 20); do T capture-pane -p -t probe >/dev/null; done
poll_us=$(( ($(now_us) - t0) / 20 ))
T kill-session -t probe

t0=$(now_us)
start models/mnist_cnn.qsm
first=$(until_match "$t0" ' fc2 ')
T kill-session -t "$S"
t0=$(now_us)
start models/mnist_cnn.qsm --init scripts/train/mnist_data.qs
data=$(until_match "$t0" 'fp32 .*accuracy [0-9]')
ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }
echo "start-up, mnist_cnn: first full screen $(ms "$first") ms"
echo "  with the MNIST splits (--init): metrics in $(ms "$data") ms"

# key to screen: j and k alternate between conv1 and bn1
select_times() {
    local out=$tmp/$1
    : > "$out"
    for i in $(seq "$presses"); do
        if [ $((i % 2)) = 1 ]; then key=j want='Detail: bn1 '; else key=k want='Detail: conv1 '; fi
        t0=$(now_us)
        T send-keys -t "$S" "$key"
        until_match "$t0" "$want" >> "$out"
    done
    stats < "$out"
}
idle=$(select_times idle)
T send-keys -t "$S" : && T send-keys -t "$S" -l "calibrate split=train batch=16" && T send-keys -t "$S" Enter
until_match "$(now_us)" 'calibrate s.* [0-9]+%' >/dev/null
busy=$(select_times busy)
screen | head -n 1 | grep -Eq 'calibrate s.* [0-9]+%' || echo "(note: the calibration ended before the last press)"
echo "key to redrawn screen (j/k, new layer in the detail title):"
echo "  idle:                     $idle"
echo "  during calibrate (7000):  $busy"
echo "tmux round trip (one capture-pane), included in the figures above: $(ms "$poll_us") ms"
