#!/bin/sh
# Builds contrib/examples/*.c against the tree (headers in ref/include, the
# libraries in BUILD/obj, as README.md "Using libbusrt" shows) with -Werror,
# and runs them against a busrtd on a temporary UNIX socket: the subscriber
# must print publications sent by the CLI and by the publish example, the
# RPC server must answer calls made with `busrt ... rpc call` and stop on
# "stop". Every process is bounded by timeout(1).
# Usage: examples-check.sh BUILD   (CC from the environment, default cc)
set -eu
B=$1
CC=${CC:-cc}
LIBDIR=$(cd "$B/obj" && pwd)
CLI=$B/busrt
tmp=$(mktemp -d /tmp/busrt-examples.XXXXXX)
pids=
trap 'for p in $pids; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
fail() { echo "examples-check: $*" >&2; for f in "$tmp"/*.out "$tmp"/*.log; do
         [ -f "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }; done; exit 1; }
# wait_for FILE TEXT: up to 5 s for TEXT to appear in FILE.
wait_for() {
    i=0
    until grep -q -- "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le 100 ] || fail "no '$2' in $1 after 5 s"
        sleep 0.05
    done
}

WFLAGS="-std=c11 -Wall -Wextra -Werror -pedantic -Wshadow -Wconversion"
# In-tree static link: libbusrt.a holds the core and needs only libc.
for e in publish subscribe; do
    $CC $WFLAGS -Iref/include "contrib/examples/$e.c" "$B/obj/libbusrt.a" -o "$tmp/$e"
done
# In-tree shared link: -rpath lets the program find libbusrt.so.0 there.
$CC $WFLAGS -Iref/include contrib/examples/rpc_server.c -L"$LIBDIR" -lbusrt \
    -Wl,-rpath,"$LIBDIR" -o "$tmp/rpc_server"
readelf -d "$tmp/rpc_server" | grep -q 'NEEDED.*libbusrt.so.0' ||
    fail "rpc_server is not linked with libbusrt.so.0"
echo "examples-check: built publish, subscribe (static), rpc_server (shared)"

sock=$tmp/bus.sock
timeout 30 "$B/obj/busrtd" -B "$sock" -t 5 2>"$tmp/busrtd.log" &
broker=$!
pids="$broker"
i=0
while [ ! -S "$sock" ]; do
    i=$((i + 1))
    [ $i -le 100 ] || fail "busrtd did not create $sock"
    sleep 0.05
done

# Subscriber: two publications, then it exits by itself.
timeout 10 "$tmp/subscribe" "$sock" 'plant/#' 2 >"$tmp/subscribe.out" 2>&1 &
sub=$!
pids="$pids $sub"
wait_for "$tmp/subscribe.out" "subscribed to plant/#"
"$CLI" -s "$sock" publish plant/line1/status ok >/dev/null || fail "busrt publish failed"
"$tmp/publish" "$sock" plant/line1/temp 21.5 >/dev/null || fail "the publish example failed"
wait "$sub" || fail "subscribe exited with status $?"
grep -q '^plant/line1/status from cli\..*: ok$' "$tmp/subscribe.out" ||
    fail "subscribe did not print the CLI's publication"
grep -q '^plant/line1/temp from example.publish: 21.5$' "$tmp/subscribe.out" ||
    fail "subscribe did not print the publish example's publication"
echo "examples-check: subscribe received both publications"

# RPC server: echo, an unknown method, then stop.
timeout 10 "$tmp/rpc_server" "$sock" example.rpc >"$tmp/rpc_server.out" 2>&1 &
srv=$!
pids="$pids $srv"
wait_for "$tmp/rpc_server.out" "serving as example.rpc"
out=$("$CLI" -s "$sock" rpc call example.rpc echo x=1 name=pump) ||
    fail "rpc call echo failed"
[ "$out" = '{"name":"pump","x":1}' ] || fail "rpc call echo printed '$out'"
st=0
"$CLI" "$sock" rpc call example.rpc nope >"$tmp/nope.out" 2>&1 || st=$?
[ "$st" = 1 ] && grep -q -- '-32601: no such method' "$tmp/nope.out" ||
    fail "rpc call nope: status $st"
"$CLI" -s "$sock" rpc call example.rpc stop >/dev/null || fail "rpc call stop failed"
wait "$srv" || fail "rpc_server exited with status $?"
echo "examples-check: rpc_server answered echo, an unknown method, and stop"

kill -TERM "$broker"
wait "$broker" || fail "busrtd exited with status $?"
pids=

# The embedded broker: the in-process part, then its service from outside
# through the CLI (a cursor followed item by item and in blocks), then stop.
$CC $WFLAGS -Iref/include contrib/examples/embedded.c "$B/obj/libbusrtd.a" \
    "$B/obj/libbusrt.a" -lmsgpackc -ljansson -pthread -o "$tmp/embedded"
esock=$tmp/emb.sock
timeout 20 "$tmp/embedded" "$esock" >"$tmp/embedded.out" 2>"$tmp/embedded.log" &
emb=$!
pids="$emb"
wait_for "$tmp/embedded.out" "serving example.store"
grep -q '^in-process: read 25 readings in 3 blocks$' "$tmp/embedded.out" ||
    fail "embedded: the in-process client did not read the cursor"
out=$("$CLI" -s "$esock" rpc call example.store list count=3 --follow | tr '\n' ' ') ||
    fail "rpc call list --follow failed"
[ "$out" = '"reading 1" "reading 2" "reading 3" ' ] || fail "list --follow printed '$out'"
n=$("$CLI" -s "$esock" rpc call example.store list --bulk 10 | wc -l) ||
    fail "rpc call list --bulk failed"
[ "$n" = 25 ] || fail "list --bulk 10 printed $n items, not 25"
"$CLI" -s "$esock" rpc call example.store stop >/dev/null || fail "rpc call stop failed"
wait "$emb" || fail "embedded exited with status $?"
pids=
grep -q '^stopped$' "$tmp/embedded.out" || fail "embedded did not stop cleanly"
echo "examples-check: embedded served its cursor in-process and over its socket, and stopped"
echo "examples-check: passed"
