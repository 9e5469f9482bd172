#!/bin/sh
# Runs the libFuzzer build of the network fuzzer (build/fuzz/lf/fuzz_net)
# against a broker it starts on a temporary UNIX socket, then stops it.
#   fuzz/netfuzz/run-lf.sh SECONDS [BROKER [BODY_LIMIT [FZ]]]
# Corpus: FZ/corpus/net; inputs that found a violation: FZ/crashes/net-*,
# their case files: build/netfuzz/violations/. Exits non-zero on any
# violation, crash or sanitizer report, and when the broker exits non-zero.
set -u
secs=$1 broker=${2:-build/obj/busrtd} limit=${3:-100000} FZ=${4:-build/fuzz}
dir=$(mktemp -d /tmp/busrt-netfuzz-lf.XXXXXX)
"$broker" -B "$dir/bus.sock" --payload-size-limit "$limit" >"$dir/broker.log" 2>&1 &
bpid=$!
i=0
while [ ! -S "$dir/bus.sock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mkdir -p "$FZ/corpus/net" "$FZ/crashes"
log=$FZ/lf-net.log
BUSRT_NETFUZZ_TARGET=$dir/bus.sock BUSRT_NETFUZZ_BODY_LIMIT=$limit \
    "./$FZ/lf/fuzz_net" -max_total_time="$secs" -print_final_stats=1 -timeout=60 \
    -rss_limit_mb=4096 -artifact_prefix="$FZ/crashes/net-" "$FZ/corpus/net" 2>"$log"
rc=$?
kill "$bpid" 2>/dev/null
wait "$bpid"
brc=$?
execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
if [ $rc -ne 0 ] || [ $brc -ne 0 ]; then
    tail -40 "$log"
    cat "$dir/broker.log" | tail -20
    echo "libFuzzer net: FAILED (fuzzer status $rc, broker status $brc; input under $FZ/crashes/net-*)" >&2
    rm -rf "$dir"
    exit 1
fi
rm -rf "$dir"
printf 'libFuzzer %-13s %12s execs, 0 violations\n' net "$execs"
