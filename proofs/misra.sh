#!/bin/sh
# cppcheck 2.10 with the MISRA C:2012 addon over the pure core
# (ref/src/core). Deviations are listed, each with its reason, in
# proofs/misra-suppressions.txt and proofs/README.md. Exits non-zero on
# any finding that is not a documented deviation.
# Usage: proofs/misra.sh [BUILD_DIR]   (log in BUILD_DIR/misra/misra.log)
set -u
B=${1:-build}
mkdir -p "$B/misra"
LOG="$B/misra/misra.log"
cppcheck -q --addon=misra --std=c11 --platform=unix64 \
    --enable=warning,style,performance,portability --inline-suppr \
    --error-exitcode=1 --suppressions-list=proofs/misra-suppressions.txt \
    --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
    -I ref/include -I ref/src/core ref/src/core/*.c > "$LOG" 2>&1
rc=$?
n=$(grep -c '\[' "$LOG")
cat "$LOG"
if [ "$rc" != 0 ] || [ "$n" != 0 ]; then
    echo "FAIL: misra: $n finding(s) outside the documented deviations" \
         "(proofs/misra-suppressions.txt); log in $LOG"
    exit 1
fi
echo "misra: 0 findings in ref/src/core (deviations: proofs/misra-suppressions.txt)"
