#!/usr/bin/env bash
# Glue budget: a new kernel costs one entry of the table in native/addon/kernels.cc, never another
# hand-written binder (the glue the table replaced was 1,381 lines). Every file of native/addon counts
# (a glob: a new file cannot escape it) except storage management, memory.cc and buffer.*. A table
# entry is a ROW/CPU_ROW/GPU_ROW/QUERY/GPU_QUERY statement starting a line; it may take at most 8
# lines (its spec and its own argument checks). Everything else is glue: at most 340 lines. Lines
# over 120 characters fail, so neither budget can be met by packing lines.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(ls native/addon/* | grep -v -e '/memory\.cc$' -e '/buffer\.[^/]*$' | tr '\n' ' ')
# shellcheck disable=SC2086
read -r glue table entries longest < <(awk '
  {
    if (depth == 0 && $0 ~ /^[ \t]*(ROW|CPU_ROW|GPU_ROW|QUERY|GPU_QUERY)\(/) { inrow = 1; entries++; n = 0 }
    if (inrow) {
      table++; n++; if (n > longest) longest = n
      s = $0; gsub(/"([^"\\]|\\.)*"/, "", s)   # parentheses inside strings do not count
      depth += gsub(/\(/, "(", s) - gsub(/\)/, ")", s)
      if (depth <= 0) { depth = 0; inrow = 0 }
    } else glue++
  }
  END { print glue + 0, table + 0, entries + 0, longest + 0 }' $files)
echo "native/addon: $glue lines of glue (budget 340), $entries table entries in $table lines (longest $longest)"
if [ "$glue" -gt 340 ]; then echo "native/addon glue over budget: $files" >&2; exit 1; fi
if [ "$longest" -gt 8 ]; then echo "a native/addon table entry takes $longest lines (at most 8)" >&2; exit 1; fi
# shellcheck disable=SC2086
if awk 'length > 120 { print FILENAME ":" FNR; bad = 1 } END { exit !bad }' $files >&2; then
  echo "native/addon: lines over 120 characters (above)" >&2; exit 1
fi
