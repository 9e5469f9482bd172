#!/bin/sh
# Checks that every place showing the version agrees with the one source,
# BUSRT_VERSION_STRING in ref/include/busrt/codes.h.
# Usage: version-check.sh VERSION [BUILD-DIR]   (default build)
set -u
v=$1
b=${2:-build}
fail=0
check() { # what, found
    if [ "$2" != "$v" ]; then
        echo "version-check: $1 says '$2', expected '$v'" >&2
        fail=1
    else
        echo "version-check: $1: $v"
    fi
}
check "CITATION.cff" "$(sed -n 's/^version: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' CITATION.cff)"
check "spec header" "$(sed -n 's/^| Reference implementation | .*, version \([0-9][0-9.]*\),.*$/\1/p' spec/busrt-v1.md | head -1)"
check "CHANGELOG.md" "$(sed -n 's/^## \[\([0-9.]*\)\].*$/\1/p' CHANGELOG.md | head -1)"
for m in man/*.[0-9]; do
    check "$m" "$(sed -n 's/^\.TH .* "busrt \([0-9.]*\)".*$/\1/p' "$m")"
done
for p in "$b/busrtd" "$b/busrt" "$b/busrt-conformance" "$b/busrt-bench" "$b/busrt-netfuzz"; do
    case $p in /*) ;; *) p=./$p ;; esac
    out=$("$p" --version 2>/dev/null | head -1)
    check "$p --version" "$(echo "$out" | sed -n 's/^[^ ]* \([0-9][0-9.]*\).*$/\1/p')"
done
exit $fail
