#!/usr/bin/env bash
# The ncurses workbench end to end, in a detached tmux session (tmux makes its own pty, so
# this needs no terminal of its own and runs under CI=true). For 80x24 and 200x60: layer
# names appear, pressing 2 changes the precision label, calibrating then selecting a layer
# shows its histogram, a long calibrate shows a progress bar (Esc cancels it), a bad
# command typed at ':' shows an error, a mouse click selects a layer, and quitting with the
# calibration unsaved offers to save it (q, then s at 80x24: the file is written and
# resumes with --resume; Ctrl-C, then Ctrl-C again at 200x60: nothing is written) and
# leaves the terminal as it was: the alternate screen left, the stty modes unchanged, the
# shell prompt back. A run with nothing to lose (the odd path) quits on q at once. After the 80x24 run the workbench is killed
# by SIGSEGV, SIGQUIT, SIGUSR1, SIGALRM, SIGPIPE, SIGTERM and SIGHUP in turn: each must
# restore the terminal and end with 128+N.
#
# usage: tests/tui/run_tmux_test.sh [path/to/qscope]    (exit 77: skipped, no tmux)
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
qscope=$(cd "$(dirname "${1:-build/qscope}")" && pwd)/$(basename "${1:-build/qscope}")
sock_name=tui
. "$root/tests/tui/tmux_lib.sh"
saved="$root/qscope-session.qsess" # where the workbench saves on quit (its working directory)
# a session of the user's own there is not the test's to overwrite or remove
[ -e "$saved" ] && { echo "FAIL: $saved exists: move it away (this test saves a session there)"; exit 1; }
cleanup_files+=("$saved")

# the status line (first row)
status_has() { screen | head -n 1 | grep -Eq -- "$1"; }
wait_status() {
    local t0 end
    t0=$(now_ms)
    end=$(( t0 + $2 * 1000 ))
    while [ "$(now_ms)" -lt "$end" ]; do
        if status_has "$1"; then
            [ -n "${VERBOSE:-}" ] && echo "  $3: $(( $(now_ms) - t0 )) ms"
            return 0
        fi
        sleep 0.05
    done
    fail "timed out after $2 s waiting for the status line to show $3 (/$1/)"
}
keys() { T send-keys -t "$S" "$@"; }
# click X Y (0-based): a button-1 press as an xterm reports it, ESC [ M b x y
click() {
    local seq
    seq=$(printf '\033[M %b%b' "\\$(printf %o $(($1 + 33)))" "\\$(printf %o $(($2 + 33)))")
    T send-keys -t "$S" -l "$seq"
}
typed() { T send-keys -t "$S" -l "$1"; }

run_size() {
    local w=$1 h=$2 quit_key=$3 answer=$4
    S="qs${w}x${h}"
    # A shell in the pane: the prompt must come back after qscope quits. The terminal
    # state is saved before and after, by the same command line, to compare.
    T start-server \; set-option -g default-terminal "$term" \; \
        new-session -d -s "$S" -x "$w" -y "$h" \
        "env -u TMUX HISTFILE=/dev/null HOME=$tmp TERM=$term LANG=$lang LC_ALL=$lang PS1='qs-test\$ ' bash --norc --noprofile -i" \
        || fail "tmux could not start"
    T set-option -t "$S" status off >/dev/null
    wait_for 'qs-test\$' 10 "the shell prompt"
    typed "clear; stty -g > $tmp/stty.before; $qscope models/mnist_cnn.qsm --init scripts/train/mnist_data.qs; rc=\$?; stty -g > $tmp/stty.after; echo \"qscope exited \$rc\""
    keys Enter

    # layer names, then the data registered by --init
    wait_for ' conv1 ' 20 "the layer list"
    screen | grep -q ' fc2 ' || fail "fc2 missing from the layer list"
    screen | grep -q ' relu3 ' || fail "relu3 missing from the layer list"
    wait_for 'sourced: scripts/train/mnist_data.qs' 30 "the --init script to finish"
    [ "$(T display -p -t "$S" '#{alternate_on}')" = 1 ] || fail "curses is not on the alternate screen"

    # 2: the whole model at FP16, label first
    status_has 'fp32' || fail "status line without fp32 before pressing 2"
    keys 2
    wait_status 'fp16' 10 "fp16 after pressing 2"
    status_has 'fp32' && fail "status line still says fp32 after 2"
    wait_for ' conv1 .*fp16' 10 "fp16 on the layer rows"

    # calibrate, select relu1: the histogram with its clipping range
    keys c
    keys j j
    wait_for 'Detail: relu1' 10 "the detail pane on relu1"
    wait_for '(└|\+)\[' 30 "the histogram axis with the clipping range"
    screen | grep -Eq '│.*█|\|.*#' || fail "no histogram bars"

    # the weight view of conv1: one bar per channel over an axis, the widest channels named
    keys g w
    wait_for 'Detail: conv1 .*weights' 10 "the weight view of conv1"
    wait_for 'widest: ch [0-9]+ \([0-9.]+x the median range\)' 20 "the widest channels named"
    screen | grep -Eq '(└|\+)(─|-)*[0-9]' || fail "no channel number on the bars' axis"
    keys a
    wait_for 'Detail: conv1 .*act' 10 "back to the activation view"

    # a long calibrate: the progress bar, then Esc cancels it
    keys :
    typed "calibrate split=train n=7000"
    keys Enter
    # the job's own label ("calibrate s..."), not "(calibrated)" from the data part
    wait_status 'calibrate s.*(█|#).* [0-9]+%' 30 "calibrate's progress bar"
    keys Escape
    wait_for 'cancelled' 30 "the cancel message"

    # a bad command at ':'
    keys :
    typed "frobnicate now"
    keys Enter
    wait_for "unknown command 'frobnicate'" 10 "the error message"

    # a mouse click (X10 encoding, as the terminfo's kmous says) on pool1's row selects it
    local row
    row=$(screen | grep -n ' pool1 ' | head -n 1 | cut -d: -f1)
    [ -n "$row" ] || fail "no pool1 row to click"
    click 5 $((row - 1))
    wait_for 'Detail: pool1 ' 10 "the clicked layer in the detail pane"

    # quit with unsaved work (the calibration): the workbench offers to save it; s saves
    # it to ./qscope-session.qsess and quits, Ctrl-C again discards it
    keys Escape
    sleep 0.1
    rm -f "$saved"
    keys "$quit_key"
    wait_for 'Unsaved work. s: save' 10 "the offer to save ($quit_key)"
    keys "$answer"
    wait_for 'qscope exited 0' 15 "qscope to exit ($quit_key, then $answer)"
    if [ "$answer" = s ]; then
        [ -f "$saved" ] || fail "s did not write $saved"
        # the saved session resumes with its calibration: int8-static runs at once
        "$qscope" --resume "$saved" -c "mode int8-static; eval n=20" > "$tmp/resumed.out" 2>&1 \
            || fail "the saved session does not resume: $(cat "$tmp/resumed.out")"
        grep -q 'accuracy' "$tmp/resumed.out" || fail "no eval after --resume: $(cat "$tmp/resumed.out")"
    else
        [ -f "$saved" ] && fail "$answer (discard) wrote $saved"
    fi
    rm -f "$saved"
    wait_for 'qs-test\$ *$' 5 "the shell prompt after quitting"
    [ "$(T display -p -t "$S" '#{alternate_on}')" = 0 ] || fail "the alternate screen was not left"
    screen | grep -q 'Layers' && fail "curses residue on the screen after quitting"
    cmp -s "$tmp/stty.before" "$tmp/stty.after" || fail "stty modes changed: $(cat "$tmp/stty.before") -> $(cat "$tmp/stty.after")"
    echo "ok: ${w}x${h}"
}

# signal_test SIG: qscope killed by SIG must leave the terminal as it was (alternate screen
# left, stty modes unchanged) and end with 128+N as a shell sees it: the crash signals and
# every other one whose default action terminates re-raise after restoring, SIGTERM and
# SIGHUP close the workbench cleanly first (issue 14, finding 10).
signal_test() {
    local sig=$1 want
    want=$((128 + $(kill -l "$sig")))
    S="qs80x24"
    keys "clear" Enter
    typed "stty -g > $tmp/stty.before; sh -c 'echo \$\$ > $tmp/pid; exec $qscope models/mnist_cnn.qsm'; rc=\$?; stty -g > $tmp/stty.after; echo \"ended with \$rc\""
    keys Enter
    wait_for ' conv1 ' 20 "the layer list ($sig run)"
    kill -"$sig" "$(cat "$tmp/pid")" || fail "could not signal qscope"
    wait_for "ended with $want" 15 "qscope to end by $sig with status $want"
    [ "$(T display -p -t "$S" '#{alternate_on}')" = 0 ] || fail "alternate screen kept after $sig"
    cmp -s "$tmp/stty.before" "$tmp/stty.after" || fail "stty modes changed by $sig"
    echo "ok: terminal restored and status $want after $sig"
}

# path_test: a model path with ${...}, a quote and a space reaches `load` as written, not
# expanded as a script variable or split (issue 14, finding 11).
path_test() {
    S="qs80x24"
    local odd="$tmp/m \${x}\"q.qsm"
    cp models/mnist_cnn.qsm "$odd"
    keys "clear" Enter
    typed "$qscope '$odd'; echo \"path run exited \$?\""
    keys Enter
    wait_for ' conv1 ' 20 "the layer list of the model at an odd path"
    screen | grep -q 'not defined' && fail "the path was expanded as a variable"
    keys q
    wait_for 'path run exited 0' 15 "qscope to exit after the odd-path run"
    echo "ok: a model path with \${x}, a quote and a space"
}

run_size 80 24 q s
path_test
for sig in SEGV QUIT USR1 ALRM PIPE TERM HUP; do
    signal_test "$sig"
done
run_size 200 60 C-c C-c
echo "tmux test passed in $(( $(date +%s) - started )) s"
