#!/usr/bin/env bash
# The bash completion qscope generates (qscope --completion bash, built into
# BUILD/share/bash-completion/completions/qscope): it parses (bash -n), registers itself
# for qscope, and completes flags, a flag's file argument, MODEL files by the model-file
# table's suffixes, and inside -c: a command, an option name (key=), a choice value and a
# file, in the forms readline hands the function (inside an open quote, after a quote it
# closed, a word broken at '=').
#
# usage: tests/cli/completion_test.sh COMPLETION_FILE      (from the repository root)
set -u
file=$1
failed=0
fail() { echo "FAIL: $*"; failed=1; }

bash -n "$file" || { echo "FAIL: bash -n $file"; exit 1; }
# shellcheck source=/dev/null
source "$file"
complete -p qscope | grep -q -- '-F _qscope qscope' || fail "complete -p qscope: $(complete -p qscope 2>&1)"

# comp LINE CUR PREV: completes at the end of LINE, readline's word being CUR.
comp() {
    COMP_LINE=$1
    COMP_POINT=${#1}
    read -ra COMP_WORDS <<<"$1"
    COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
    COMPREPLY=()
    _qscope qscope "$2" "$3"
}
# offers WORD LINE CUR PREV: the completions of LINE include WORD.
offers() {
    local want=$1 w
    comp "$2" "$3" "$4"
    for w in "${COMPREPLY[@]}"; do
        [ "$w" = "$want" ] && { echo "ok: '$2' offers '$want'"; return; }
    done
    fail "'$2' (cur '$3') does not offer '$want'; got: ${COMPREPLY[*]:-nothing}"
}
# lacks WORD LINE CUR PREV: ... and not WORD.
lacks() {
    local w
    comp "$2" "$3" "$4"
    for w in "${COMPREPLY[@]}"; do
        [ "$w" = "$1" ] && fail "'$2' offers '$1'"
    done
}

offers '--batch' 'qscope --ba' '--ba' 'qscope'
offers '--completion' 'qscope --comp' '--comp' 'qscope'
offers 'bash' 'qscope --completion b' 'b' '--completion'
offers 'scripts/demos/deepsets.qs' 'qscope --batch scripts/demos/de' 'scripts/demos/de' '--batch'
offers 'models/mnist_cnn.qsm' 'qscope models/mnist_c' 'models/mnist_c' 'qscope'
lacks 'models/README.md' 'qscope models/R' 'models/R' 'qscope'
# a command, unquoted and inside a quote after ';'
offers 'eval' 'qscope -c ev' 'ev' '-c'
offers 'load; eval' 'qscope -c "load; ev' 'load; ev' '-c'
# an option name: inside an open quote readline hands over the text after the quote
offers 'eval split=' 'qscope -c "eval sp' 'eval sp' '-c'
offers 'calibrate observer=' 'qscope -c "calibrate obs' 'calibrate obs' '-c'
# a choice value: inside the quote, after a quote readline closed, and broken at '='
offers 'eval split=calib' 'qscope -c "eval split=ca' 'eval split=ca' '-c'
offers '"eval split=calib' 'qscope -c "eval split="ca' '"eval split="ca' '-c'
offers 'calib' 'qscope -c eval\ split=ca' 'ca' '='
offers 'mode int8-static' 'qscope -c "mode int8-s' 'mode int8-s' '-c'
# a file argument and a generator name
offers 'load models/mnist_cnn.qsm' 'qscope -c "load models/mnist_c' 'load models/mnist_c' '-c'
offers 'data eval synth:balls' 'qscope -c "data eval synth:b' 'data eval synth:b' '-c'
# past -c's argument: MODEL again
offers 'models/mnist_cnn.qsm' 'qscope -c "eval" models/mnist_c' 'models/mnist_c' '"eval"'
exit $failed
