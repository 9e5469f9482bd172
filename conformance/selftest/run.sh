#!/bin/sh
# Tests of busrt-conformance's known-failure lists (--xfail-file) against a
# broker it spawns: a failure at the listed step is expected (exit 0), at
# another step it is a new failure (exit 1), a listed case that passes is an
# xpass (exit 1), and a malformed file is a usage error (exit 2) naming the
# line. With --target and nothing listening, the runner says so once and
# exits 2 without running a case. Usage: run.sh RUNNER BUSRTD
set -u
RUNNER=$1
BUSRTD=$2
HERE=$(dirname "$0")
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0

# run NAME WANT_STATUS WANT_TEXT [runner arguments...]
run() {
    name=$1 want=$2 text=$3
    shift 3
    "$RUNNER" --spawn "$BUSRTD -B {addr} -t 1" --timeout-s 1 --cases "$HERE/cases" \
        --exemptions "$HERE/exemptions.json" "$@" >"$TMP/out" 2>&1
    st=$?
    if [ "$st" -ne "$want" ] || ! grep -q -- "$text" "$TMP/out"; then
        echo "FAIL  $name: exit status $st (expected $want), output:"
        sed 's/^/    /' "$TMP/out"
        fails=$((fails + 1))
    else
        echo "ok    $name"
    fi
}

printf 'self.fail-at-3 step=3  # fails on purpose\n' >"$TMP/right.xfail"
printf 'self.fail-at-3 step=2\n' >"$TMP/wrong-step.xfail"
printf 'self.*\n' >"$TMP/all.xfail"
printf '# a comment\n\nself.fail-at-3 steps=3\n' >"$TMP/bad.xfail"
printf 'self.fail-at-3\nnot.a.case\n' >"$TMP/unused.xfail"

run "no list: the failure fails the run" 1 "FAIL  self.fail-at-3"
run "listed at its step: expected" 0 "xfail self.fail-at-3" --xfail-file "$TMP/right.xfail"
run "listed at another step: a new failure" 1 "a new failure: .*expects this case to fail at step 2, not at step 3" \
    --xfail-file "$TMP/wrong-step.xfail"
run "listed without a step: any step" 1 "XPASS self.pass" --xfail-file "$TMP/all.xfail"
run "malformed line: usage error naming it" 2 "bad.xfail:3: expected step=N" \
    --xfail-file "$TMP/bad.xfail"
run "entry matching no case: warned" 0 "unused.xfail:2: warning: no case matches \"not.a.case\"" \
    --xfail-file "$TMP/unused.xfail"
run "missing file: usage error" 2 "nope.xfail: No such file" --xfail-file "$TMP/nope.xfail"
run "--xfail GLOB still works" 0 "xfail self.fail-at-3" --xfail 'self.fail-*'

# target NAME WANT_TEXT ADDR: --target ADDR with nothing listening there
target() {
    name=$1 text=$2 addr=$3
    "$RUNNER" --target "$addr" --timeout-s 1 --cases "$HERE/cases" \
        --exemptions "$HERE/exemptions.json" >"$TMP/out" 2>&1
    st=$?
    # One error line, and no case run (no header, no FAIL block).
    if [ "$st" -ne 2 ] || ! grep -q -- "$text" "$TMP/out" ||
        [ "$(grep -c 'cannot connect' "$TMP/out")" -ne 1 ] ||
        grep -q -e '^FAIL' -e 'case(s) against' "$TMP/out"; then
        echo "FAIL  $name: exit status $st (expected 2 and one error), output:"
        sed 's/^/    /' "$TMP/out"
        fails=$((fails + 1))
    else
        echo "ok    $name"
    fi
}

# A socket file left by a broker that is gone: bound, never listened on.
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$TMP/stale.sock"
target "--target, stale socket: one error" \
    "busrt-conformance: cannot connect to $TMP/stale.sock: Connection refused; is the broker running? (use --spawn to start one)" \
    "$TMP/stale.sock"
target "--target, no socket file: one error" \
    "cannot connect to $TMP/none.sock: No such file or directory; is the broker running?" \
    "$TMP/none.sock"

if [ "$fails" -ne 0 ]; then
    echo "conformance selftest: $fails failed"
    exit 1
fi
echo "conformance selftest: all passed"
