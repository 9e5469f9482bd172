#!/bin/sh
# Stages `make install` under a temporary DESTDIR, builds contrib/examples/
# publish.c (and the embedded-broker example) against the staged headers
# and libraries through pkg-config
# (shared and static), runs the staged busrtd, and the example against it.
# The other examples are only built here (make examples-check runs them).
# Usage: install-check.sh BUILD VERSION
set -eu
B=$1 V=$2
stage=$(mktemp -d /tmp/busrt-install.XXXXXX)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$stage"' EXIT
pid=
make --no-print-directory -s install DESTDIR="$stage" PREFIX=/usr/local >/dev/null
root=$stage/usr/local
echo "install-check: staged files:"
(cd "$stage" && find . -type f -o -type l | sort | sed 's/^\./  /')
export PKG_CONFIG_PATH="$root/lib/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$stage"
test "$(pkg-config --modversion busrt)" = "$V"
cflags=$(pkg-config --cflags busrt) libs=$(pkg-config --libs busrt)
echo "install-check: pkg-config busrt $V: $cflags $libs"
cc -std=c11 -Wall -Wextra -Werror $cflags contrib/examples/publish.c $libs -o "$stage/publish"
cc -std=c11 -Wall -Wextra -Werror $cflags contrib/examples/publish.c \
   "$root/lib/libbusrt.a" -o "$stage/publish-static"
for e in subscribe rpc_server; do
    cc -std=c11 -Wall -Wextra -Werror $cflags "contrib/examples/$e.c" $libs -o "$stage/$e"
done
test "$(pkg-config --modversion busrtd)" = "$V"
dlibs=$(pkg-config --libs busrtd)
echo "install-check: pkg-config busrtd $V: $dlibs"
cc -std=c11 -Wall -Wextra -Werror $cflags contrib/examples/embedded.c $dlibs -o "$stage/embedded"
readelf -d "$stage/publish" | grep -q 'NEEDED.*libbusrt.so.0'
readelf -d "$root/lib/libbusrt.so.$V" | grep -q 'SONAME.*libbusrt.so.0'
out=$("$root/sbin/busrtd" --version)
echo "install-check: $out"
test "$out" = "busrtd $V (BUS/RT wire protocol 1)"
sock=$stage/bus.sock
"$root/sbin/busrtd" -B "$sock" -t 5 2>"$stage/busrtd.log" &
pid=$!
i=0
while [ ! -S "$sock" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
LD_LIBRARY_PATH="$root/lib" "$stage/publish" "$sock" plant/line1/status ok
"$stage/publish-static" "$sock" plant/line1/status ok
"$root/bin/busrt" "$sock" -s broker test
LD_LIBRARY_PATH="$root/lib" timeout 20 "$stage/embedded" "$stage/emb.sock" --once
kill -TERM "$pid"
wait "$pid"
pid=
make --no-print-directory -s uninstall DESTDIR="$stage" PREFIX=/usr/local
left=$(find "$stage/usr" -type f -o -type l | wc -l)
test "$left" = 0 || { echo "install-check: uninstall left $left files" >&2; exit 1; }
echo "install-check: passed (install, pkg-config build, run, uninstall)"
