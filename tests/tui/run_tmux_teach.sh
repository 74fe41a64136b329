#!/usr/bin/env bash
# The workbench as a teaching tool, end to end in detached tmux sessions at 80x24 and
# 200x60 (issue 16, item 2):
#   - z enlarges the console to the whole screen (more lines, from the latest output's
#     headline) and z gives the layout back; new output brings a scrolled-back view back;
#   - a demo's caption box shows the whole caption (the last word of a long one);
#   - a demo played twice in one session gives the same screen after every step, and
#     Backspace gives the screen the step before left;
#   - `load` of another model starts from the default mode (fp32 on the status line).
# Screens are compared once the workbench is idle (no job, no figure being computed) and
# two captures in a row agree; timings (ms, us) are masked, since they are measured.
#
# usage: tests/tui/run_tmux_teach.sh [path/to/qscope] [DEMO.qs ...]
#   without demos it plays scripts/demos/observers.qs and find_culprit.qs (the quick ones)
#   at 80x24; `all` plays every scripts/demos/*.qs at 80x24 and 200x60 (by hand, about
#   ten minutes). DEMO_SIZE=WxH plays them at that size only; DEMOS_ONLY=1 skips
#   the zoom, caption and load checks; DEMO_BACK=0 skips going back (the ctest tests
#   slow_tui_demo_NAME: each demo twice at 80x24, one test each). KEEP_SCREENS=DIR
#   keeps every step's screen there (for revising a demo: what does each caption point
#   at?).
# Exit 77: skipped (no tmux).
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
qscope=$(cd "$(dirname "${1:-build/qscope}")" && pwd)/$(basename "${1:-build/qscope}")
shift || true
demos=("$@")
[ ${#demos[@]} -eq 0 ] && demos=(scripts/demos/observers.qs scripts/demos/find_culprit.qs)
[ "${demos[0]}" = all ] && demos=(scripts/demos/*.qs)
sock_name=teach
. "$root/tests/tui/tmux_lib.sh"
runs=0

keys() { T send-keys -t "$S" "$@"; }
typed() { T send-keys -t "$S" -l "$1"; }
command_line() { keys :; typed "$1"; keys Enter; }

# The screen with measured timings masked: figures in ms or us, bench's ms_* and
# samples_per_s fields, train's and qat's `seconds`, and the digits under a `seconds` column header (train's and qat's
# epoch tables, wide enough to show at 200x60) in the lines below it.
masked() {
    screen | sed -E -e 's/[0-9][0-9.]*( ?)(ms|us|µs)/#\1\2/g' \
        -e 's/^( *(ms_|samples_per_s)[a-z0-9_-]*: *)[0-9][0-9.e+-]*/\1#/' \
        -e 's/^( *seconds: *)[0-9][0-9.e+-]*/\1#/' |
        perl -CS -pe 'if (/^(.*?)\bseconds\b/) { $c = length($1) } elsif (defined $c) {
            my $from = $c > 4 ? $c - 4 : 0; if (length($_) > $from) {
            my $seg = substr($_, $from, 11); $seg =~ tr/0-9/#/; substr($_, $from, 11) = $seg } }'
}
# settle SECONDS WHAT: waits until no job runs (the status line shows none: no "Esc", no
# "auto:" for the figures the workbench computes itself, no pending metric) and three
# captures 0.4 s apart agree; leaves the screen in $tmp/settled.
settle() {
    local end=$(( $(now_ms) + $1 * 1000 )) prev="" cur same=0
    while [ "$(now_ms)" -lt "$end" ]; do
        cur=$(masked)
        if ! printf '%s\n' "$cur" | head -n 1 | grep -Eq 'Esc|auto:|metric (…|~)' &&
           [ "$cur" = "$prev" ]; then
            same=$((same + 1))
            if [ "$same" -ge 2 ]; then
                printf '%s\n' "$cur" > "$tmp/settled"
                return 0
            fi
        else
            same=0
        fi
        prev=$cur
        sleep 0.4
    done
    fail "timed out after $1 s waiting for $2 to settle"
}
# Rows between the console's title row and its command line.
console_rows() {
    local s top bottom
    s=$(screen)
    top=$(printf '%s\n' "$s" | grep -n '^ Console' | head -n 1 | cut -d: -f1)
    bottom=$(printf '%s\n' "$s" | grep -n 'qscope> ' | tail -n 1 | cut -d: -f1)
    [ -n "$top" ] && [ -n "$bottom" ] || { echo 0; return; }
    echo $(( bottom - top - 1 ))
}

start() {  # start W H ARGS...: qscope in a fresh tmux session of W x H
    local w=$1 h=$2
    shift 2
    local old=$S
    runs=$((runs + 1))
    S="teach${w}x${h}-$runs"
    T start-server \; set-option -g default-terminal "$term" \; \
        new-session -d -s "$S" -x "$w" -y "$h" \
        "env -u TMUX HOME=$tmp TERM=$term LANG=$lang LC_ALL=$lang $qscope $*; sleep 30" \
        || fail "tmux could not start"
    T set-option -t "$S" status off >/dev/null
    [ -n "$old" ] && T kill-session -t "$old" >/dev/null 2>&1
    return 0
}

# ---- z, headlines, snapping back -------------------------------------------------------
zoom_test() {
    local w=$1 h=$2 small big
    start "$w" "$h" models/mnist_cnn.qsm --init scripts/train/mnist_data.qs
    wait_for 'sourced: scripts/train/mnist_data.qs' 60 "the --init script"
    settle 120 "the first figures"
    command_line "layers; layers; layers"  # more than a whole 200x60 screen
    wait_for 'index +name +op' 20 "the layers table"
    # the output is longer than the console: shown from its first line, the rest below
    screen | grep -Eq 'Console .*more lines?' || fail "no 'more lines' on the console title"
    screen | grep -q ' 0  conv1 ' || fail "the layers table's first row is not shown"
    small=$(console_rows)
    keys z
    wait_for 'z/Esc back' 10 "the enlarged console"
    screen | sed -n 2p | grep -q '^ Console' || fail "z: the console does not start under the status line"
    screen | grep -q '^ Layers' && fail "z: the layer list is still shown"
    big=$(console_rows)
    [ "$big" -ge $(( h - 5 )) ] && [ "$big" -gt "$small" ] ||
        fail "z: the console shows $big lines (was $small), want at least $(( h - 5 ))"
    screen | grep -q ' conv1 ' || fail "z: the first layer's row of the output is not shown"
    # read back, then new output brings the view back
    keys PPage
    wait_for 'Console .*more lines? +PgDn' 10 "the scrolled-back title"
    command_line "echo snapped back"
    wait_for '^ *snapped back' 10 "new output in the enlarged console"
    keys z
    wait_for '^ Layers' 10 "the layout back after z"
    [ "$(console_rows)" -eq "$small" ] || fail "z again: the console has $(console_rows) lines, not $small"
    # a long output's figures stay in view: eval's accuracy above its per-class table
    command_line "eval"
    wait_for '▶ accuracy [0-9.]+ %|> accuracy [0-9.]+ %' 60 "eval's headline figure"
    echo "ok: ${w}x${h}: z enlarges the console ($small -> $big lines) and back; headlines"
}

# ---- captions --------------------------------------------------------------------------
caption_test() {
    local w=$1 h=$2
    start "$w" "$h" models/mnist_cnn.qsm
    wait_for ' conv1 ' 30 "the layer list"
    command_line "play tests/tui/play_long_caption.qs"
    wait_for 'step 1/2' 10 "the demo's first caption"
    screen | grep -q 'lastwordofthecaption\.' || fail "the long caption is cut: its last word is not shown"
    screen | grep -q 'firstwordofthecaption' || fail "the long caption's first word is not shown"
    keys Space
    wait_for 'step 2/2' 20 "the second step"
    keys Escape
    echo "ok: ${w}x${h}: a long caption shown whole"
}

# ---- load resets the plan --------------------------------------------------------------
load_test() {
    start 80 24 models/mnist_cnn.qsm
    wait_for ' conv1 ' 30 "the layer list"
    keys 2
    wait_for '^ mnist_cnn.qsm .*fp16' 10 "fp16 on the status line"
    command_line "load models/mnist_dw.qsm"
    wait_for ' dw1 ' 30 "the other model's layers"
    screen | head -n 1 | grep -q 'mnist_dw.qsm .*fp32' ||
        fail "after loading another model the status line does not show the default mode fp32"
    echo "ok: load of another model starts at fp32"
}

# ---- demos twice, and back -------------------------------------------------------------
# play_capture DEMO N: plays DEMO from step 1 to its end, keeping the settled screen after
# each step as $tmp/play$N.$step.
play_capture() {
    local demo=$1 n=$2 steps step
    command_line "play $demo"
    wait_for 'step 1/[0-9]+' 10 "$demo's first step"
    steps=$(screen | grep -Eo 'step 1/[0-9]+' | head -n 1 | cut -d/ -f2)
    for step in $(seq 1 "$steps"); do
        keys Space
        if [ "$step" -lt "$steps" ]; then
            wait_for "step $((step + 1))/$steps" 30 "step $((step + 1)) of $demo"
        else
            wait_for 'end of the demo' 30 "the end of $demo"
        fi
        settle 900 "step $step of $demo (play $n)"
        cp "$tmp/settled" "$tmp/play$n.$step"
        if [ -n "${KEEP_SCREENS:-}" ]; then # for revising a demo: every step's screen
            mkdir -p "$KEEP_SCREENS"
            cp "$tmp/settled" "$KEEP_SCREENS/$(basename "$demo" .qs).$S.$n.$step"
        fi
    done
    echo "$steps" > "$tmp/steps"
}

demo_test() {
    local demo=$1 w=$2 h=$3 steps step back
    start "$w" "$h"
    wait_for 'no model loaded' 10 "the empty workbench"
    play_capture "$demo" 1
    steps=$(cat "$tmp/steps")
    # back one step from the end: the screen the step before left
    back=$((steps - 1))
    [ "${DEMO_BACK:-1}" = 0 ] && back=0
    [ "$back" -ge 1 ] && keys BSpace
    if [ "$back" -ge 1 ]; then
        wait_for "step $steps/$steps" 30 "the last step to be next again"
        settle 900 "going back in $demo"
        if ! diff "$tmp/play1.$back" "$tmp/settled" >"$tmp/diff"; then
            cat "$tmp/diff"
            fail "$demo: after Backspace the screen is not the one step $back left"
        fi
    fi
    keys Escape
    wait_for 'press : to type a command' 10 "the demo closed"
    play_capture "$demo" 2
    for step in $(seq 1 "$steps"); do
        if ! diff "$tmp/play1.$step" "$tmp/play2.$step" >"$tmp/diff"; then
            cat "$tmp/diff"
            fail "$demo played twice: the screens after step $step differ"
        fi
    done
    keys Escape
    local said="back restores step $back"
    [ "$back" -ge 1 ] || said="back not checked"
    echo "ok: ${w}x${h}: $demo played twice gives the same $steps screens; $said"
}

if [ "${DEMOS_ONLY:-0}" != 1 ]; then
    for size in "80 24" "200 60"; do
        # shellcheck disable=SC2086
        zoom_test $size
        # shellcheck disable=SC2086
        caption_test $size
    done
    load_test
fi
demo_sizes=("80 24")
[ "${1:-}" = all ] && demo_sizes=("80 24" "200 60")
[ -n "${DEMO_SIZE:-}" ] && demo_sizes=("${DEMO_SIZE/x/ }") # e.g. DEMO_SIZE=200x60
for size in "${demo_sizes[@]}"; do
    for demo in "${demos[@]}"; do
        # shellcheck disable=SC2086
        demo_test "$demo" $size
    done
done
echo "teach test passed in $(( $(date +%s) - started )) s"
