#!/bin/sh
# Runs test programs against a broker that has the fault shim preloaded.
#
#   run-faults.sh SHIM BUSRTD SEED PROGRAM [PROGRAM...]
#
# Each PROGRAM (a test executable, optionally followed by arguments when
# quoted as one word, e.g. "build/obj/tests/soak --duration 30") is run with
#   BUSRTD=BUSRTD
#   BUSRTD_WRAPPER="env LD_PRELOAD=SHIM BUSRT_FAULT_SEED=<seed> BUSRT_FAULT_COUNTS=<file>"
# where <seed> is SEED for the first program, SEED+1 for the next, and so on,
# so every broker the program starts injects faults. Extra shim settings
# (BUSRT_FAULT_SHORT, _EINTR, _EAGAIN, _OPS: see faultshim.c) are passed on
# when set in the environment.
#
# After each program it prints the faults injected into its brokers (the
# shim appends one line per broker process to <file> at exit), and at the
# end the totals. Exit status 1 when a program failed, or when some kind of
# fault was never injected (the run would then prove nothing about it).
set -u
if [ $# -lt 4 ]; then
    echo "usage: $0 SHIM BUSRTD SEED PROGRAM..." >&2
    exit 2
fi
shim=$1 busrtd=$2 seed=$3
shift 3
case $shim in /*) ;; *) shim=$(pwd)/$shim ;; esac
[ -f "$shim" ] || { echo "run-faults: no shim at $shim" >&2; exit 2; }

extra=""
for v in BUSRT_FAULT_SHORT BUSRT_FAULT_EINTR BUSRT_FAULT_EAGAIN BUSRT_FAULT_OPS; do
    eval "val=\${$v:-}"
    [ -n "$val" ] && extra="$extra $v=$val"
done

work=$(mktemp -d /tmp/busrt-faults-XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
all="$work/all.counts"
: >"$all"
fail=""

# Sums the counts lines of a file: prints "kind=N ..." for each fault kind.
sum_counts() {
    awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] != "pid") s[kv[1]] += kv[2]; } }
         END { n = split("socket_calls read_short read_eintr read_eagain write_short write_eintr write_eagain accept_eintr accept_eagain", k, " ");
               for (i = 1; i <= n; i++) printf "%s%s=%d", (i > 1 ? " " : ""), k[i], s[k[i]] + 0; printf "\n" }' "$1"
}

for prog in "$@"; do
    name=$(echo "$prog" | awk '{ n = split($1, p, "/"); print p[n] }')
    counts="$work/$name.counts"
    : >"$counts"
    echo "== integration-faults: $prog (BUSRT_FAULT_SEED=$seed$extra)"
    # shellcheck disable=SC2086
    BUSRTD="$busrtd" \
    BUSRTD_WRAPPER="env LD_PRELOAD=$shim BUSRT_FAULT_SEED=$seed BUSRT_FAULT_COUNTS=$counts$extra" \
        $prog
    rc=$?
    nb=$(wc -l <"$counts")
    echo "faults injected into $name's $nb broker process(es): $(sum_counts "$counts")"
    cat "$counts" >>"$all"
    if [ $rc -ne 0 ]; then
        echo "integration-faults: $name FAILED (exit status $rc, seed $seed)"
        fail="$fail $name(seed=$seed)"
    fi
    seed=$((seed + 1))
done

total=$(sum_counts "$all")
echo "faults injected, all programs ($(wc -l <"$all") broker processes): $total"
missing=$(echo "$total" | tr ' ' '\n' | awk -F= '$2 == 0 { printf " %s", $1 }')
if [ -n "$missing" ] && [ -z "${BUSRT_FAULT_OPS:-}" ]; then
    echo "integration-faults: these faults were never injected:$missing"
    fail="$fail (missing-faults)"
fi
if [ -n "$fail" ]; then
    echo "integration-faults: FAILED:$fail"
    exit 1
fi
echo "integration-faults: all programs passed under fault injection"
