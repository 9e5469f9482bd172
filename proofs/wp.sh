#!/bin/sh
# Runs Frama-C WP over the proved core and prints "Proved goals: N / M".
# Exit status 0 only when every goal is proved. Usage: proofs/wp.sh [BUILD_DIR]
set -u
B=${1:-build}
mkdir -p "$B/wp"
export WHY3CONFIG="$PWD/$B/why3.conf"
[ -f "$WHY3CONFIG" ] || why3 config detect -C "$WHY3CONFIG" >/dev/null 2>&1
CORE="ref/src/core/frame.c ref/src/core/match.c ref/src/core/utf8.c ref/src/core/rpcproto.c"
frama-c -cpp-extra-args="-Iref/include -Iref/src/core" -pp-annot $CORE \
    -wp -wp-rte -wp-prover cvc4,z3 -wp-timeout "${WP_TIMEOUT:-10}" -wp-par 2 \
    -warn-unsigned-overflow -warn-unsigned-downcast -wp-session "$B/wp/session" \
    -then -report-classify -report-unclassified-unknown ERROR > "$B/wp/wp.log" 2>&1
rc=$?
grep -E "^\[wp\] \[(Failed|Timeout|Unknown)" "$B/wp/wp.log" || true
grep "Proved goals" "$B/wp/wp.log" || { tail -20 "$B/wp/wp.log"; exit 1; }
exit $rc
