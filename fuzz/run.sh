#!/bin/sh
# Runs one in-process harness: fuzz/run.sh ENGINE HARNESS SECONDS DICT [FZ]
#   ENGINE: libfuzzer or afl. FZ: the build directory (default build/fuzz).
#   FUZZ_RUNS=N (libFuzzer): stop after N executions or SECONDS, whichever
#   comes first. FUZZ_MAX_LEN=N (libFuzzer): inputs of at most N bytes.
# Exits non-zero on any crash, leak, sanitizer report or oracle violation,
# and prints one summary line: engine, harness, executions, crashes.
set -u
engine=$1 h=$2 secs=$3 dict=$4 FZ=${5:-build/fuzz}
# The binaries, by a path that works whether FZ is relative or absolute.
case $FZ in /*) bin=$FZ ;; *) bin=./$FZ ;; esac
mkdir -p "$FZ/corpus/$h" "$FZ/crashes"
case $FZ in /*) bin=$FZ ;; *) bin=./$FZ ;; esac # an absolute B works too
case $engine in
libfuzzer)
    log=$FZ/lf-$h.log
    # FUZZ_RUNS=N also stops libFuzzer after N executions (whichever first).
    # FUZZ_MAX_LEN=N caps the input length (libFuzzer -max_len).
    if ! "$bin/lf/fuzz_$h" -max_total_time="$secs" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} \
        ${FUZZ_MAX_LEN:+-max_len="$FUZZ_MAX_LEN"} \
        -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -dict="fuzz/dict/$dict.dict" -artifact_prefix="$FZ/crashes/$h-" \
        "$FZ/corpus/$h" "$FZ/seeds/$h" 2>"$log"; then
        tail -40 "$log"
        echo "libFuzzer $h: FAILED (input saved under $FZ/crashes/$h-*)" >&2
        exit 1
    fi
    execs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
    secs_used=$(awk '/stat::.*total_time|Done [0-9]+ runs in/ {for (i = 1; i <= NF; i++) if ($i == "in") print $(i + 1)}' "$log" | tail -1)
    printf 'libFuzzer %-13s %12s execs in %ss, 0 crashes\n' "$h" "$execs" "${secs_used:-?}"
    ;;
afl)
    out=$FZ/afl-out/$h log=$FZ/afl-$h.log
    rm -rf "$out"
    mkdir -p "$FZ/afl-out"
    # afl-fuzz exits 0 even after finding crashes: read saved_crashes.
    if ! AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
        AFL_NO_AFFINITY=1 timeout $((secs + 120)) afl-fuzz -i "$FZ/seeds/$h" -o "$out" \
        -x "fuzz/dict/$dict.dict" -V "$secs" -- "$bin/afl/fuzz_$h" >"$log" 2>&1; then
        tail -30 "$log"
        echo "AFL++ $h: afl-fuzz failed" >&2
        exit 1
    fi
    stats=$out/default/fuzzer_stats
    crashes=$(awk '/^saved_crashes/ {print $3}' "$stats")
    execs=$(awk '/^execs_done/ {print $3}' "$stats")
    printf 'AFL++     %-13s %12s execs, %s crashes\n' "$h" "$execs" "$crashes"
    if [ "$crashes" != 0 ]; then
        ls "$out/default/crashes" >&2
        exit 1
    fi
    ;;
*)
    echo "fuzz/run.sh: unknown engine '$engine'" >&2
    exit 2
    ;;
esac
