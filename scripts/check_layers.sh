#!/usr/bin/env bash
# Fails when an #include runs up the architecture (docs/architecture.md): a layer including
# a higher layer, or a wing including a wing that stands later in its layer's order.
# Usage: scripts/check_layers.sh [SRC_DIR]
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/../src" && pwd)}
# Lowest first. A wing may include its own wing and every wing listed before it (ui/html,
# the HTML page and SVG writers of `report PATH.html`, draws text's Results and is drawn
# on by cmds).
core=(base kern ops graph run data eval train quant qexec ptq qat session device)
formats=(io arrays onnx native tflite)
ui=(text html cmds shell tui)

rank() { # rank LAYER WING -> position, or nothing
    local -n order=$1
    local i
    for i in "${!order[@]}"; do
        if [ "${order[$i]}" = "$2" ]; then echo "$i"; return 0; fi
    done
    return 0
}
bad=0
for layer in core formats ui; do
    for dir in "$src/$layer"/*/; do
        wing=$(basename "$dir")
        mine=$(rank "$layer" "$wing")
        if [ -z "$mine" ]; then
            echo "check_layers: src/$layer/$wing is not in the wing order of scripts/check_layers.sh"
            bad=1; continue
        fi
        while IFS=: read -r file line inc; do
            target=${inc%%/*}
            [ "$target" = "$inc" ] && { echo "$file:$line: include \"$inc\" names no wing"; bad=1; continue; }
            for lower in core formats ui; do
                r=$(rank "$lower" "$target")
                [ -n "$r" ] || continue
                if [ "$lower" = "$layer" ] && [ "$r" -gt "$mine" ]; then
                    echo "$file:$line: $layer/$wing includes the later wing $target ($inc)"; bad=1
                elif [ "$layer" = core ] && [ "$lower" != core ]; then
                    echo "$file:$line: core includes $lower ($inc)"; bad=1
                elif [ "$layer" = formats ] && [ "$lower" = ui ]; then
                    echo "$file:$line: formats includes ui ($inc)"; bad=1
                fi
                break
            done
        done < <(grep -HnoE '^\s*#\s*include\s+"[^"]+"' "$dir"*.[ch] 2>/dev/null \
                 | sed -E 's/^([^:]+):([0-9]+):.*"([^"]+)"/\1:\2:\3/')
    done
done
exit $bad
