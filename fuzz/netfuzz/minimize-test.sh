#!/bin/sh
# Tests busrt-netfuzz --minimize on busrtd with planted bugs. Each bug is a
# limit the broker is started with and the fuzzer's model does not know, so
# the broker answers some frame differently from what the model expects, a
# condition that takes several actions to reach. For each one:
#   1. busrt-netfuzz finds a violation (seed 1, bounded in time);
#   2. --minimize shrinks it within a budget; the case must end shorter, at
#      no more than MAX_STEPS steps, and violate the same requirements;
#   3. the minimized case, run by busrt-conformance, must fail against the
#      broker with the planted bug and pass against the same broker without
#      it: the shrunk case still shows the bug and nothing else.
# Usage: minimize-test.sh NETFUZZ BUSRTD CONFORMANCE OUTDIR [BUDGET_SECONDS]
set -u
NF=$1
BROKER=$2
CF=$3
OUT=$4
BUDGET=${5:-40}
MAX_STEPS=16
HERE=$(dirname "$0")
ROOT=$HERE/../..
fails=0
summary=""

planted() {
    name=$1
    bug=$2
    dir=$OUT/$name
    rm -rf "$dir"
    mkdir -p "$dir/cases"
    spawn="$BROKER -B {addr} -t 2 $bug"
    "$NF" --spawn "$spawn" --seed 1 --seconds 60 --max-violations 1 --progress 100000 \
        --out "$dir" >"$dir/find.log" 2>&1
    case_file=$(ls "$dir"/violations/*.json 2>/dev/null | head -n 1)
    if [ -z "$case_file" ]; then
        echo "FAIL  $name ($bug): no violation found in 60 s"
        sed 's/^/    /' "$dir/find.log" | tail -n 5
        fails=$((fails + 1))
        return
    fi
    "$NF" --spawn "$spawn" --out "$dir" --minimize "$case_file" \
        --minimize-seconds "$BUDGET" >"$dir/min.out" 2>"$dir/min.log"
    st=$?
    line=$(grep '^minimized ' "$dir/min.out")
    if [ "$st" -ne 0 ] || [ -z "$line" ]; then
        echo "FAIL  $name ($bug): --minimize exit status $st"
        tail -n 5 "$dir/min.log" | sed 's/^/    /'
        fails=$((fails + 1))
        return
    fi
    # minimized ID [REQS]: S0 steps, B0 bytes sent -> S1 steps, B1 bytes sent (...)
    set -- $(echo "$line" | sed 's/.*\]: \([0-9]*\) steps, \([0-9]*\) bytes sent -> \([0-9]*\) steps, \([0-9]*\) bytes.*/\1 \2 \3 \4/')
    s0=$1 b0=$2 s1=$3 b1=$4
    if [ "$s1" -ge "$s0" ] || [ "$s1" -gt "$MAX_STEPS" ]; then
        echo "FAIL  $name ($bug): $s0 -> $s1 steps (at most $MAX_STEPS expected)"
        fails=$((fails + 1))
        return
    fi
    cp "$dir"/minimized/*.min.json "$dir/cases/"
    printf '{"description": "none", "exemptions": []}\n' >"$dir/exempt.json"
    cf_args="--timeout-s 2 --cases $dir/cases --exemptions $dir/exempt.json --spec $ROOT/spec/busrt-v1.md"
    "$CF" --spawn "$spawn" $cf_args >"$dir/cf-bug.log" 2>&1
    with_bug=$?
    "$CF" --spawn "$BROKER -B {addr} -t 2" $cf_args >"$dir/cf-fixed.log" 2>&1
    without=$?
    if [ "$with_bug" -ne 1 ] || [ "$without" -ne 0 ]; then
        echo "FAIL  $name ($bug): the minimized case gives exit status $with_bug with the" \
             "bug (1 expected) and $without without it (0 expected); see $dir/cf-*.log"
        fails=$((fails + 1))
        return
    fi
    echo "ok    $name ($bug): $line"
    summary="$summary
  $name: $s0 -> $s1 steps, $b0 -> $b1 bytes sent"
}

planted subscriptions "--max-subscriptions 8"
planted body-limit "--payload-size-limit 4000"
planted exclusions "--max-exclusions 4"

echo "netfuzz minimize test:$summary"
if [ "$fails" -ne 0 ]; then
    echo "netfuzz minimize test: $fails failed"
    exit 1
fi
echo "netfuzz minimize test: all passed"
