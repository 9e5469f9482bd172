#!/bin/sh
# Proves the pure core (ref/src/core) and the round-trip theorems
# (proofs/roundtrip.c) with Frama-C WP, then compares the goal counts with
# proofs/goals.txt. Prints "Proved goals: N / M"; exits 0 only when every
# goal is proved and N is at least the recorded total.
# With --broker: the broker's outgoing queue and hash map (ref/src/broker/
# outq.c, bmap.c) instead, under the allocator contracts of proofs/mem_spec.h
# and the Typed+cast memory model; outputs in BUILD_DIR/wp-broker/, record
# proofs/goals-broker.txt.
#
# Usage: proofs/wp.sh [--update] [--broker] [BUILD_DIR]
#   --update   rewrite the goals record from this run (all goals must prove)
# Environment:
#   WP_TIMEOUT  prover timeout in seconds (default 10)
#   WP_RETRY_TIMEOUT  timeout of the one re-run of failed goals (default 60)
#   WP_PAR      parallel prover processes (default 2; the machine has 2 cores)
#   WP_FRESH=1  delete the proof cache first (a full run, as CI does)
#
# Outputs in BUILD_DIR/wp/: wp.log (full Frama-C output), report.json,
# properties.csv, session/ (the proof cache that makes re-runs fast).
set -u
update=""
set=core
while [ $# -gt 0 ]; do
    case "$1" in
    --update) update="--update" ;;
    --broker) set=broker ;;
    *) break ;;
    esac
    shift
done
B=${1:-build}
if [ "$set" = broker ]; then
    OUT="$B/wp-broker"
    GOALS=proofs/goals-broker.txt
    FILES="ref/src/broker/outq.c ref/src/broker/bmap.c"
    CPPARGS="-Iref/include -Iref/src/broker -include proofs/mem_spec.h"
    # Allocator results are cast from void *: see proofs/mem_spec.h.
    MODEL="Typed+cast"
    # cvc4 alone proves every goal here; racing z3 beside it on each goal
    # doubles the CPU time (the retry pass below adds z3).
    PROVERS="cvc4"
else
    OUT="$B/wp"
    GOALS=proofs/goals.txt
    FILES="ref/src/core/frame.c ref/src/core/match.c ref/src/core/utf8.c \
ref/src/core/rpcproto.c ref/src/core/mpack.c proofs/roundtrip.c"
    CPPARGS="-Iref/include -Iref/src/core"
    MODEL="Typed"
    PROVERS="cvc4,z3"
fi
mkdir -p "$OUT"
# An absolute path, for Why3: BUILD_DIR itself may be relative or absolute.
case "$B" in
/*) export WHY3CONFIG="$B/why3.conf" ;;
*) export WHY3CONFIG="$PWD/$B/why3.conf" ;;
esac
[ -s "$WHY3CONFIG" ] || why3 config detect -C "$WHY3CONFIG" >/dev/null 2>&1
if [ "${WP_FRESH:-0}" = 1 ]; then
    rm -rf "$OUT/session"
fi
rm -f "$OUT/report.json" "$OUT/properties.csv"

run_wp() { # TIMEOUT LOG CACHE-MODE [PROVERS]
    # shellcheck disable=SC2086
    frama-c -machdep x86_64 -cpp-extra-args="$CPPARGS" -pp-annot $FILES \
        -warn-unsigned-overflow -warn-unsigned-downcast \
        -wp -wp-model "$MODEL" -wp-rte -wp-prover "${4:-$PROVERS}" \
        -wp-timeout "$1" -wp-par "${WP_PAR:-2}" \
        -wp-session "$OUT/session" -wp-cache "$3" \
        -wp-report-json "$OUT/report.json" \
        -then -report-csv "$OUT/properties.csv" \
        -report-classify -report-unclassified-unknown ERROR \
        > "$2" 2>&1
}

start=$(date +%s)
run_wp "${WP_TIMEOUT:-10}" "$OUT/wp.log" update
rc=$?
# A prover can fail on a loaded machine (a timeout, or Z3 ending with an
# unknown error) on a goal it proves in seconds otherwise. The cache would
# replay such a failure, so the one re-run, with a longer timeout, proves
# every goal again without it; both logs are kept and the counts come from
# the re-run.
if [ "$rc" != 0 ] && grep -qE "^\[wp\] \[(Failed|Timeout|Unknown)" "$OUT/wp.log"; then
    grep -E "^\[wp\] \[(Failed|Timeout|Unknown)" "$OUT/wp.log"
    echo "wp: retrying the goals above once with a ${WP_RETRY_TIMEOUT:-60} s timeout"
    mv "$OUT/wp.log" "$OUT/wp-first.log"
    rm -f "$OUT/report.json" "$OUT/properties.csv"
    run_wp "${WP_RETRY_TIMEOUT:-60}" "$OUT/wp.log" none cvc4,z3
    rc=$?
fi
end=$(date +%s)

grep -E "^\[wp\] \[(Failed|Timeout|Unknown)" "$OUT/wp.log"
grep -E "^\[kernel.*(Warning|Error)|User Error|^\[wp\].*Warning" "$OUT/wp.log"
grep -E "^\[wp\] Proved goals|^\[wp\] \[Cache\]" "$OUT/wp.log"
echo "wp: Frama-C ran $((end - start)) s (exit status $rc); log in $OUT/wp.log"
if [ ! -s "$OUT/report.json" ] || [ ! -s "$OUT/properties.csv" ]; then
    tail -20 "$OUT/wp.log"
    echo "FAIL: Frama-C did not write its reports (see $OUT/wp.log)"
    exit 1
fi
python3 proofs/goals.py --json "$OUT/report.json" --log "$OUT/wp.log" \
    --csv "$OUT/properties.csv" --goals "$GOALS" $update
status=$?
if [ "$status" = 0 ] && [ "$rc" != 0 ] && [ -z "$update" ]; then
    echo "FAIL: Frama-C exited with status $rc (see $OUT/wp.log)"
    exit 1
fi
exit $status
