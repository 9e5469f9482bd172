#!/bin/sh
# Tests of busrt-conformance's known-failure lists (--xfail-file) against a
# broker it spawns: a failure at the listed step is expected (exit 0), at
# another step it is a new failure (exit 1), a listed case that passes is an
# xpass (exit 1), and a malformed file is a usage error (exit 2) naming the
# line. Usage: run.sh RUNNER BUSRTD
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

if [ "$fails" -ne 0 ]; then
    echo "conformance selftest: $fails failed"
    exit 1
fi
echo "conformance selftest: all passed"
