# Shared by the workbench's tmux tests (run_tmux_test.sh, run_tmux_teach.sh); sourced after
# $qscope is set, with $sock_name naming the test. Skips (77) without tmux. Gives a private
# tmux server (T), a temporary directory removed on exit ($tmp; a test adds its own files
# to $cleanup_files), the terminal type and locale the sessions start with ($term, $lang),
# and reading the screen of session $S, failing with it, waiting for a pattern on it.
if ! command -v tmux >/dev/null 2>&1; then
    echo "SKIP: tmux is not installed (scripts/setup.sh --test installs it)"
    exit 77
fi
[ -x "$qscope" ] || { echo "FAIL: no qscope at $qscope"; exit 1; }

unset TMUX TMUX_PANE
tmp=$(mktemp -d)
sock="qscope-$sock_name-$$"
cleanup_files=()
T() { tmux -L "$sock" -f /dev/null "$@"; }
cleanup() { T kill-server >/dev/null 2>&1; sleep 0.1; rm -rf "$tmp" "${cleanup_files[@]}"; }
trap cleanup EXIT

term=screen
infocmp tmux-256color >/dev/null 2>&1 && term=tmux-256color
lang=C
locale -a 2>/dev/null | grep -qix 'c.utf-\?8' && lang=C.UTF-8
started=$(date +%s)
S=""

now_ms() { date +%s%3N; }
screen() { T capture-pane -p -t "$S" 2>/dev/null; }
fail() {
    echo "FAIL ($S): $*"
    echo "---- screen ----"
    screen
    exit 1
}
# wait_for PATTERN SECONDS WHAT: polls the screen (grep -E) until PATTERN shows; with
# VERBOSE set, says how long it took.
wait_for() {
    local t0 end
    t0=$(now_ms)
    end=$(( t0 + $2 * 1000 ))
    while [ "$(now_ms)" -lt "$end" ]; do
        if screen | grep -Eq -- "$1"; then
            [ -n "${VERBOSE:-}" ] && echo "  $3: $(( $(now_ms) - t0 )) ms"
            return 0
        fi
        sleep 0.05
    done
    fail "timed out after $2 s waiting for $3 (/$1/)"
}
