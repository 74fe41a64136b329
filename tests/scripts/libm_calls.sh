#!/usr/bin/env bash
# Keeps libm's elementary functions out of src/ (docs/reproducibility.md): glibc picks its
# exp, log, sin, pow, ... per CPU at load time and none is correctly rounded, so any call
# whose value reaches a result, a saved file or a printed figure makes that figure depend on
# the machine. qscope's own kern/fmath.h functions are used instead; the exact libm helpers
# (sqrt, fabs, floor, ceil, round, rint, trunc, fmod, ldexp, frexp, fmin, fmax, copysign)
# stay allowed. Comments and string literals are blanked before the search.
# Usage: libm_calls.sh [SRC_DIR]   (default: src/ of the working directory)
set -euo pipefail
src=${1:-src}

# file:function pairs allowed to call libm anyway, each with why. Empty: every use so far,
# even the drawing of a histogram, has an fmath twin.
allow=(
  # "src/ui/example.c:log1p"   # why: ...
)

funcs='exp|exp2|exp10|expm1|log|log2|log10|log1p|logb|pow|sin|cos|tan|sincos|asin|acos|atan|atan2|sinh|cosh|tanh|asinh|acosh|atanh|erf|erfc|lgamma|tgamma|cbrt|hypot|j0|j1|jn|y0|y1|yn'
hits=$(find "$src" -name '*.c' -o -name '*.h' | sort | grep -v '/kern/fmath\.c$' |
  while read -r f; do
    perl -0777 -ne '
      my $t = $_;
      # blank comments and literals, keeping newlines so line numbers stay right
      $t =~ s{(/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|'"'"'(?:\\.|[^'"'"'\\\n])*'"'"')}{ (my $m = $1) =~ s/[^\n]/ /g; $m }gse;
      my $n = 0;
      for my $line (split /\n/, $t, -1) {
        $n++;
        while ($line =~ /(?<![\w.>])(?:__builtin_)?('"$funcs"')[fl]?\s*\(/g) {
          print "$ARGV:$n:$1\n";
        }
      }' "$f"
  done)

bad=0
while IFS= read -r h; do
  [ -n "$h" ] || continue
  file=${h%%:*}; fn=${h##*:}
  ok=0
  for a in "${allow[@]+"${allow[@]}"}"; do
    [ "$a" = "${file#"$src/"}:$fn" ] && ok=1
  done
  if [ $ok = 0 ]; then
    echo "libm call: $h (use kern/fmath.h, or allow it in $0 with a reason)"
    bad=1
  fi
done <<< "$hits"
[ $bad = 0 ] && echo "no libm elementary function called in $src outside kern/fmath.c"
exit $bad
