#!/bin/sh
# cppcheck 2.10 with the MISRA C:2012 addon over all product code (ref/src).
#
# 1. The pure core (ref/src/core): strict. Deviations are listed, each with
#    its reason, in proofs/misra-suppressions.txt and proofs/README.md; any
#    other finding fails.
# 2. The rest (ref/src/broker, client, cli, common): counted per rule against
#    the table of proofs/misra-deviations.md (rule, recorded count, files,
#    reason). Fails when a rule's count is above the recorded one, or when a
#    rule (or cppcheck check) absent from the table has a finding; a count
#    below the recorded one only prints a note asking to lower the record.
#    No suppressions and no inline suppressions: every finding is counted.
#
# Usage: proofs/misra.sh [BUILD_DIR]
#   logs in BUILD_DIR/misra/misra.log (core) and BUILD_DIR/misra/misra-rest.log
#   MISRA_JOBS (default 2): cppcheck -j for the second part;
#   MISRA_DEVIATIONS: another deviation table (to test the comparison).
set -u
B=${1:-build}
JOBS=${MISRA_JOBS:-2}
DEV=${MISRA_DEVIATIONS:-proofs/misra-deviations.md}
mkdir -p "$B/misra"
LOG="$B/misra/misra.log"
REST_LOG="$B/misra/misra-rest.log"
fail=0

# --- 1. ref/src/core, strict ---------------------------------------------
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
    fail=1
else
    echo "misra: 0 findings in ref/src/core (deviations: proofs/misra-suppressions.txt)"
fi

# --- 2. the rest of ref/src, counted per rule ----------------------------
files=$(find ref/src -name '*.c' ! -path 'ref/src/core/*' | LC_ALL=C sort)
nfiles=$(echo "$files" | wc -l)
# shellcheck disable=SC2086  # one word per file name (no spaces in ref/src)
cppcheck -q -j "$JOBS" --addon=misra --std=c11 --platform=unix64 \
    --enable=warning,style,performance,portability \
    -D_POSIX_C_SOURCE=200809L \
    --template='{file}:{line}:{column}: {severity}: {message} [{id}]' \
    -I ref/include -I ref/src/core -I ref/src/common -I ref/src/broker \
    -I ref/src/client -I ref/src/cli $files > "$REST_LOG" 2>&1
rc=$?
if [ "$rc" != 0 ]; then
    echo "FAIL: misra: cppcheck exited with status $rc on ref/src; log in $REST_LOG"
    fail=1
fi
# Every line of the log must be a finding in the template's format; anything
# else (an addon that failed to run, a syntax error) fails the check.
other=$(grep -cv ': [a-z]*: .* \[[A-Za-z0-9_.-]*\]$' "$REST_LOG")
if [ "$other" != 0 ]; then
    grep -v ': [a-z]*: .* \[[A-Za-z0-9_.-]*\]$' "$REST_LOG"
    echo "FAIL: misra: $other line(s) of cppcheck output that are not findings; log in $REST_LOG"
    fail=1
fi

# Found counts: "ID COUNT", MISRA ids shortened to the rule number.
found=$(sed -n 's/.* \[\([A-Za-z0-9_.-]*\)\]$/\1/p' "$REST_LOG" |
        sed 's/^misra-c2012-//' | LC_ALL=C sort | uniq -c | awk '{print $2, $1}')
# Recorded counts: the table rows of $DEV whose first cell is a rule number
# (e.g. "| 15.5 | 693 | ...") or a cppcheck id in backquotes.
recorded=$(awk -F'|' 'NF > 3 {
        id = $2; n = $3; gsub(/[ `]/, "", id); gsub(/ /, "", n)
        if (id ~ /^([0-9]+\.[0-9]+|[A-Za-z][A-Za-z0-9_]*)$/ && n ~ /^[0-9]+$/)
            print id, n }' "$DEV")
if [ -z "$recorded" ]; then
    echo "FAIL: misra: no deviation table found in $DEV"
    fail=1
fi

report=$(printf '%s\n' "$found" | awk -v rec="$recorded" '
    BEGIN { m = split(rec, r, "\n")
            for (i = 1; i <= m; i++) { split(r[i], f, " "); want[f[1]] = f[2] } }
    NF == 2 { got[$1] = $2 }
    END {
        bad = 0; total = 0
        for (id in got) {
            total += got[id]
            if (!(id in want)) {
                printf "FAIL: misra: %s: %d finding(s), rule not in the deviation list\n", id, got[id]; bad = 1
            } else if (got[id] > want[id]) {
                printf "FAIL: misra: %s: %d finding(s), %d recorded\n", id, got[id], want[id]; bad = 1
            } else if (got[id] < want[id]) {
                printf "note: misra: %s: %d finding(s), %d recorded: lower the count in the deviation list\n", id, got[id], want[id]
            }
        }
        for (id in want) {
            if (!(id in got) && want[id] > 0) {
                printf "note: misra: %s: 0 findings, %d recorded: remove the rule from the deviation list\n", id, want[id]
            }
        }
        printf "TOTAL %d %d\n", total, bad
    }')
printf '%s\n' "$report" | grep -v '^TOTAL' | LC_ALL=C sort
total=$(printf '%s\n' "$report" | sed -n 's/^TOTAL \([0-9]*\) .*/\1/p')
bad=$(printf '%s\n' "$report" | sed -n 's/^TOTAL [0-9]* \([0-9]*\)$/\1/p')
nrules=$(printf '%s\n' "$found" | grep -c .)
if [ "${total:-0}" = 0 ] && [ -n "$recorded" ]; then
    # Findings are recorded but none came out: the addon did not run.
    echo "FAIL: misra: no finding at all in ref/src outside core; did the addon run? log in $REST_LOG"
    fail=1
elif [ "$bad" != 0 ]; then
    echo "FAIL: misra: findings in ref/src (outside core) above $DEV; log in $REST_LOG"
    fail=1
else
    echo "misra: $total findings in $nfiles files of ref/src outside core, over $nrules" \
         "rules/checks, all within the recorded deviations ($DEV)"
fi
exit "$fail"
