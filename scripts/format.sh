#!/usr/bin/env bash
# Formats C++ sources in place with clang-format 14 and .clang-format (what the
# "lint: format" test checks).
set -euo pipefail
cd "$(dirname "$0")/.."
cf=$(command -v clang-format-14 || command -v clang-format)
# The folders checked by "lint: format" (cmake/EvoscopeLintFormat.cmake); give others as arguments.
dirs=("$@")
if ((${#dirs[@]} == 0)); then dirs=(core formats genomics model store sae annotate pipelines cli bench tests fuzz); fi
find "${dirs[@]}" \
    \( -name '*.cpp' -o -name '*.hpp' \) -not -path 'tests/data/*' \
    -print0 2>/dev/null | xargs -0 "$cf" -i --style=file
