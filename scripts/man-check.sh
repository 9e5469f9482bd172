#!/bin/sh
# Compares the options each program's --help lists with those its man page
# documents; any option in one and not the other fails. Usage: man-check.sh BUILD
set -u
B=$1
fail=0
opts_help() { "$1" --help 2>&1 | grep -oE '(^|[ ,\[])--?[A-Za-z][A-Za-z0-9-]*' |
              sed 's/^[ ,[]//' | sort -u; }
opts_man() { sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' "$1" | grep -oE '(^|[ ,\[" ])--?[A-Za-z][A-Za-z0-9-]*' |
             sed 's/^[ ,["]//' | grep -E '^-' | sort -u; }
for pair in busrtd:man/busrtd.8 busrt:man/busrt.1 busrt-conformance:man/busrt-conformance.1 \
            busrt-bench:man/busrt-bench.1; do
    prog=$B/${pair%%:*} page=${pair#*:}
    h=$(mktemp) m=$(mktemp)
    opts_help "$prog" > "$h"
    opts_man "$page" > "$m"
    only_help=$(comm -23 "$h" "$m" | tr '\n' ' ')
    if [ -n "$only_help" ]; then
        echo "man-check: $page does not document: $only_help" >&2
        fail=1
    fi
    # Options in the page but not in --help (ignore other programs' options
    # quoted in SEE ALSO or examples by checking only the OPTIONS section).
    sed -n '/^\.SH OPTIONS/,/^\.SH [^O]/p' "$page" > "$m.sect"
    opts_man "$m.sect" > "$m"
    only_man=$(comm -13 "$h" "$m" | tr '\n' ' ')
    if [ -n "$only_man" ]; then
        echo "man-check: $prog --help does not list: $only_man" >&2
        fail=1
    fi
    [ -z "$only_help$only_man" ] && echo "man-check: $page agrees with $prog --help ($(wc -l < "$h") options)"
    rm -f "$h" "$m" "$m.sect"
done
[ -f man/libbusrt.3 ] || { echo "man-check: man/libbusrt.3 missing" >&2; fail=1; }
# Every function of the embedded broker's header is in its page.
for f in $(grep -oE '\bbusrtd_[a-z_]+\(' ref/include/busrt/busrtd.h | tr -d '(' | sort -u); do
    grep -q "$f" man/libbusrtd.3 || { echo "man-check: man/libbusrtd.3 does not document $f" >&2; fail=1; }
done
exit $fail
