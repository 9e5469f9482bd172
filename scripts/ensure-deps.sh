#!/bin/sh
# Installs the Debian packages the build, tests, proofs and fuzzers need,
# when any is missing. Safe to run repeatedly; does nothing when all are there.
set -eu
PKGS="libcmocka-dev libjansson-dev libmsgpack-dev frama-c-base why3 z3 cvc4 \
pkg-config clang libclang-rt-14-dev llvm-14 lld afl++ valgrind cppcheck python3 gnuplot-nox"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0
echo "ensure-deps: installing missing packages:$missing" >&2
if [ "$(id -u)" != 0 ]; then
    echo "ensure-deps: not root; install them with: apt-get install$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "ensure-deps: done" >&2
