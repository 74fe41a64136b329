#!/usr/bin/env bash
# The man page qscope generates (qscope --man, built into BUILD/share/man/man1/qscope.1):
# its sections, one subsection per command of the table, every flag --help lists, every
# exit status, and, when groff (or man) is installed, a rendering without a warning.
#
# usage: tests/cli/man_test.sh MAN_PAGE path/to/qscope      (from the repository root)
set -u
page=$1 qscope=$2
failed=0
fail() { echo "FAIL: $*"; failed=1; }

[ -s "$page" ] || { echo "FAIL: no man page at $page"; exit 1; }
cmp -s "$page" <("$qscope" --man) || fail "$page differs from what qscope --man prints"
for s in NAME SYNOPSIS DESCRIPTION OPTIONS COMMANDS '"EXIT STATUS"' FILES '"SEE ALSO"'; do
    grep -qx ".SH $s" "$page" || fail "no section .SH $s"
done
n=0
for c in $("$qscope" --commands-md | sed -n 's/^## //p'); do
    grep -qx ".SS $c" "$page" || fail "no subsection for the command '$c'"
    n=$((n + 1))
done
[ "$n" -ge 30 ] || fail "only $n commands in the reference"
# every flag of --help, spelt as roff writes it (\- for each '-')
nf=0
for f in $("$qscope" --help | sed -n 's/^  \(-[-a-zA-Z]*\).*/\1/p'); do
    grep -qF "\\fB${f//-/\\-}\\fR" "$page" || fail "the flag $f is not in OPTIONS"
    nf=$((nf + 1))
done
[ "$nf" -ge 10 ] || fail "only $nf flags read from --help (its layout changed?)"
for st in 0 1 2 3 130; do
    grep -qx ".B $st" "$page" || fail "the exit status $st is not in EXIT STATUS"
done
echo "ok: sections, $n commands, $nf flags and the exit statuses"

if command -v groff >/dev/null 2>&1; then
    warnings=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
    [ -z "$warnings" ] || fail "groff warns: $warnings"
    groff -man -Tutf8 "$page" 2>/dev/null | sed 's/.\x08//g' | grep -q 'EXIT STATUS' || fail "groff renders no EXIT STATUS"
    echo "ok: groff -man -ww renders it without a warning"
elif command -v man >/dev/null 2>&1; then
    warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    [ -z "$warnings" ] || fail "man -l warns: $warnings"
    echo "ok: man -l renders it without a warning"
else
    echo "note: neither groff nor man is installed: the rendering is not checked"
fi
exit $failed
