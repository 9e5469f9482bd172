/* The busrt CLI end to end: every command against a private busrtd, with
 * listeners in the background and their output checked. $BUSRT_CLI is the
 * binary; $BUSRT_CLI_WRAPPER (e.g. valgrind) is put before it. */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <pthread.h>
#include <stdatomic.h>

#include "busrt/client.h"
#include "busrt/codes.h"
#include "busrt/cursor.h"
#include "busrt/rpc.h"
#include "harness.h"

#define G th_group /* the group's shared broker (harness.c) */
static char OUT[1 << 16], ERR[1 << 16];

#define RUN_T th_ms(15000)

static int run_in(const char *const *args, const void *in, size_t n)
{
    int r = th_cli_run(&G, args, in, n, OUT, sizeof OUT, ERR, sizeof ERR, RUN_T);
    if (getenv("BUSRT_TEST_VERBOSE") != NULL) {
        fprintf(stderr, "---- busrt %s ... -> %d\nstdout:\n%sstderr:\n%s----\n",
                args[0] != NULL ? args[0] : "", r, OUT, ERR);
    }
    return r;
}

static int run(const char *const *args)
{
    return run_in(args, NULL, 0);
}

static void has(const char *text, const char *needle)
{
    if (strstr(text, needle) == NULL) {
        fprintf(stderr, "missing '%s' in:\n%s\n(stderr: %s)\n", needle, text, ERR);
        fail();
    }
}

static void lacks(const char *text, const char *needle)
{
    if (strstr(text, needle) != NULL) {
        fprintf(stderr, "unexpected '%s' in:\n%s\n", needle, text);
        fail();
    }
}

/* A background CLI process and its output files. */
struct bg {
    pid_t pid;
    char out[192], err[192];
};

static void bg_start(struct bg *b, const char *tag, const char *const *args, const char *ready)
{
    th_path(&G, tag, b->out, sizeof b->out);
    strncat(b->out, ".out", sizeof b->out - strlen(b->out) - 1);
    th_path(&G, tag, b->err, sizeof b->err);
    strncat(b->err, ".err", sizeof b->err - strlen(b->err) - 1);
    b->pid = th_cli_spawn(&G, args, b->out, b->err);
    assert_true(b->pid > 0);
    if (th_wait_file(b->out, ready, th_ms(10000)) != 0) {
        th_read_file(b->err, ERR, sizeof ERR);
        fprintf(stderr, "background busrt not ready; stderr:\n%s\n", ERR);
        th_cli_stop(b->pid, 2000);
        fail();
    }
}

/* Waits for needle in its output, stops it (SIGTERM), returns the output
 * in OUT and asserts exit status 0. */
static void bg_finish(struct bg *b, const char *needle)
{
    if (th_wait_file(b->out, needle, th_ms(10000)) != 0) {
        th_read_file(b->out, OUT, sizeof OUT);
        fprintf(stderr, "background output lacks '%s':\n%s\n", needle, OUT);
        th_cli_stop(b->pid, 2000);
        fail();
    }
    int st = th_cli_stop(b->pid, th_ms(10000));
    th_read_file(b->out, OUT, sizeof OUT);
    th_read_file(b->err, ERR, sizeof ERR);
    if (st != 0) {
        fprintf(stderr, "background busrt exit %d; stderr:\n%s\n", st, ERR);
    }
    assert_int_equal(st, 0);
}

static void test_help_version_usage(void **state)
{
    (void)state;
    static const char *const v[] = {"--version", NULL};
    assert_int_equal(run(v), 0);
    assert_string_equal(OUT, "busrt " BUSRT_VERSION_STRING "\n");
    static const char *const h[] = {"--help", NULL};
    assert_int_equal(run(h), 0);
    has(OUT, "Usage: busrt ADDR");
    has(OUT, "benchmark");
    static const char *const h2[] = {G.sock, "rpc", "-h", NULL};
    assert_int_equal(run(h2), 0);
    has(OUT, "Usage");
    static const char *const none[] = {NULL};
    assert_int_equal(run(none), 2);
    static const char *const nocmd[] = {G.sock, NULL};
    assert_int_equal(run(nocmd), 2);
    static const char *const bad[] = {G.sock, "frobnicate", NULL};
    assert_int_equal(run(bad), 2);
    has(ERR, "unknown command");
    static const char *const badopt[] = {G.sock, "--bogus", "broker", "test", NULL};
    assert_int_equal(run(badopt), 2);
    static const char *const badto[] = {G.sock, "--timeout", "x", "broker", "test", NULL};
    assert_int_equal(run(badto), 2);
    static const char *const badb[] = {G.sock, "broker", "nope", NULL};
    assert_int_equal(run(badb), 2);
}

/* Usage errors are found before connecting; options of busrt itself after
 * the command are named as such. */
static void test_usage_before_connecting(void **state)
{
    (void)state;
    static const char *const call[] = {"/tmp/busrt-no-such-dir/nope.sock", "rpc", "call", NULL};
    assert_int_equal(run(call), 2);
    assert_string_equal(ERR, "busrt: rpc call needs TARGET METHOD [PARAMS]\n"
                             "Try 'busrt --help'.\n");
    static const char *const after[] = {G.sock, "broker", "test", "--timeout", "1", NULL};
    assert_int_equal(run(after), 2);
    assert_string_equal(ERR, "busrt: option --timeout must come before the command "
                             "(busrt ADDR [OPTIONS] COMMAND ...)\nTry 'busrt --help'.\n");
    static const char *const after2[] = {G.sock, "publish", "t", "x", "--name=cl.late", NULL};
    assert_int_equal(run(after2), 2);
    has(ERR, "busrt: option --name must come before the command");
    static const char *const after3[] = {G.sock, "publish", "t", "-s", NULL};
    assert_int_equal(run(after3), 2);
    has(ERR, "busrt: option -s must come before the command");
    /* After "--" every word is taken as it is. */
    static const char *const dash[] = {G.sock, "-s", "publish", "t", "--", "-s", NULL};
    assert_int_equal(run(dash), 0);
    assert_string_equal(OUT, "OK\n");
    static const char *const dashp[] = {G.sock, "rpc", "call", ".broker", "benchmark.test", "--",
                                        "-h=1", NULL};
    assert_int_equal(run(dashp), 0);
    assert_string_equal(OUT, "MSGPACK:\n{\n  \"-h\": 1\n}\n");
    static const char *const badto[] = {G.sock, "--timeout=0", "broker", "test", NULL};
    assert_int_equal(run(badto), 2);
    has(ERR, "busrt: bad --timeout value '0' (expected seconds, more than 0 and at most 86400, "
             "decimals allowed)\n");
    static const char *const nov[] = {G.sock, "broker", "test", "-n", NULL};
    assert_int_equal(run(nov), 2);
    has(ERR, "busrt: option -n must come before the command");
}

static void test_broker_commands(void **state)
{
    (void)state;
    busrt_client *lib = NULL;
    assert_int_equal(th_connect(G.sock, "cli.lib.peer", &lib), 0);
    static const char *const t[] = {G.sock, "broker", "test", NULL};
    assert_int_equal(run(t), 0);
    assert_string_equal(OUT, "MSGPACK:\n{\n  \"ok\": true\n}\n");
    static const char *const ts[] = {G.sock, "-s", "broker", "test", NULL};
    assert_int_equal(run(ts), 0);
    assert_string_equal(OUT, "{\"ok\":true}\n");
    assert_string_equal(ERR, "");
    static const char *const i[] = {G.sock, "--timeout", "2.5", "broker", "info", NULL};
    assert_int_equal(run(i), 0);
    has(OUT, "author");
    has(OUT, "version");
    has(OUT, BUSRT_VERSION_STRING);
    static const char *const s[] = {G.sock, "broker", "stats", NULL};
    assert_int_equal(run(s), 0);
    has(OUT, "r_frames");
    has(OUT, "w_bytes");
    has(OUT, "uptime");
    /* the reference broker's own keys follow the five of the spec */
    has(OUT, "acl_reloads");
    has(OUT, "acl_reload_failures");
    has(OUT, "acl_last_error");
    /* The peer has been silent for four runs of the tool, which under
     * valgrind on a loaded machine can reach the broker's 1.25 x T: it
     * answers the keep-alive now (REQ-KA-4), as a live client would. */
    assert_true(busrt_poll(lib) >= 0);
    static const char *const l[] = {G.sock, "-n", "cli.lister", "broker", "client.list", NULL};
    assert_int_equal(run(l), 0);
    has(OUT, "name");
    has(OUT, "cli.lib.peer");
    has(OUT, ".broker");
    has(OUT, "local_ipc");
    has(OUT, "internal");
    /* Its own connection is listed too, and named below the table; the
     * columns are the spec's field names. */
    has(OUT, " cli.lister ");
    has(OUT, "\n(this connection: cli.lister)\n");
    has(OUT, " name ");
    has(OUT, " kind ");
    has(OUT, " source ");
    has(OUT, " port ");
    has(OUT, " r_frames ");
    has(OUT, " w_bytes ");
    has(OUT, " queue ");
    has(OUT, " instances");
    lacks(OUT, " type ");
    lacks(OUT, " ins ");
    busrt_client_close(lib);
    /* A secondary is counted in its primary's instances. The primary is a
     * listening busrt, which keeps its connection alive however slowly
     * the runs go. */
    struct bg b;
    static const char *const pl[] = {G.sock, "-n", "cli.prim", "listen", NULL};
    bg_start(&b, "prim", pl, "Listening to messages for cli.prim");
    static const char *const l2[] = {G.sock, "-n", "cli.prim%%cli", "broker", "client.list",
                                     NULL};
    assert_int_equal(run(l2), 0);
    has(OUT, "\n(this connection: cli.prim%%cli, a secondary of cli.prim)\n");
    lacks(OUT, " cli.prim%%cli ");
    assert_int_equal(th_cli_stop(b.pid, th_ms(10000)), 0);
}

static void test_listen_end_to_end(void **state)
{
    (void)state;
    struct bg b;
    static const char *const la[] = {G.sock,  "-n",        "cl.listener", "listen", "-t",
                                     "news/#", "--exclude", "news/secret", "--topics",
                                     "other",  NULL};
    bg_start(&b, "listen", la, "Listening to messages for cl.listener");
    static const char *const p1[] = {G.sock, "-n", "cl.pub", "publish", "news/a", "hello", NULL};
    assert_int_equal(run(p1), 0);
    assert_string_equal(OUT, "OK\n");
    static const char *const p2[] = {G.sock, "publish", "news/secret", "hidden", NULL};
    assert_int_equal(run(p2), 0);
    static const char *const s1[] = {G.sock, "-n", "cl.sender", "send", "cl.listener", NULL};
    static const uint8_t bin[] = {0x00, 0x01, 0xFF};
    assert_int_equal(run_in(s1, bin, sizeof bin), 0); /* payload from stdin */
    static const char *const s2[] = {G.sock, "-n", "cl.sender", "send", "cl.listener",
                                     "{\"b\": [1, 2], \"a\": \"x\"}", NULL};
    assert_int_equal(run(s2), 0);
    static const char *const s3[] = {G.sock, "-n", "cl.mp", "send", "cl.listener", NULL};
    static const uint8_t mp[] = {0x82, 0xA1, 'z', 0xCB, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0,
                                 0xA1, 'a',  0x92, 0xC0, 0xC2};
    assert_int_equal(run_in(s3, mp, sizeof mp), 0);
    static const char *const bc[] = {G.sock, "-n", "cl.bc", "send", "cl.*", "to all cl", NULL};
    assert_int_equal(run(bc), 0);
    assert_string_equal(OUT, "OK\n");
    static const char *const end[] = {G.sock, "publish", "other", "the end", NULL};
    assert_int_equal(run(end), 0);
    bg_finish(&b, "STR: the end");
    has(OUT, "Publish from cl.pub (cl.pub)\ntopic: news/a\nSTR: hello\n----\n");
    lacks(OUT, "hidden");
    lacks(OUT, "news/secret");
    has(OUT, "Message from cl.sender (cl.sender)\nHEX: 0001ff\n----\n");
    has(OUT, "JSON:\n{\n  \"a\": \"x\",\n  \"b\": [\n    1,\n    2\n  ]\n}\n");
    has(OUT, "Message from cl.mp (cl.mp)\nMSGPACK:\n{\n  \"a\": [\n    null,\n    false\n  ],\n"
             "  \"z\": 1.5\n}\n");
    has(OUT, "Broadcast from cl.bc (cl.bc)\nSTR: to all cl\n");
    has(OUT, "topic: other\nSTR: the end\n");
}

static void test_default_name(void **state)
{
    (void)state;
    struct bg b;
    static const char *const la[] = {G.sock, "listen", NULL};
    bg_start(&b, "defname", la, "Listening to messages for cli.");
    char want[64];
    snprintf(want, sizeof want, ".%ld", (long)b.pid);
    static const char *const l[] = {G.sock, "broker", "client.list", NULL};
    assert_int_equal(run(l), 0);
    has(OUT, " cli.");
    has(OUT, want);
    int st = th_cli_stop(b.pid, th_ms(10000));
    assert_int_equal(st, 0);
}

static void test_rpc_end_to_end(void **state)
{
    (void)state;
    struct bg b;
    static const char *const la[] = {G.sock, "-n", "cl.rpc", "rpc", "listen", "-t", "rt/#", NULL};
    bg_start(&b, "rpclisten", la, "Listening to RPC messages for cl.rpc");
    static const char *const c1[] = {G.sock, "-n",      "cl.caller", "rpc",   "call",
                                     "cl.rpc", "hello", "x=1",       "f=1.5", "b=true",
                                     "s=some text", "n=-7", "e=", "dup=1", "dup=2", NULL};
    assert_int_equal(run(c1), 0);
    assert_string_equal(OUT, "STR: \n"); /* the listener's empty result */
    static const char *const c0[] = {G.sock, "rpc", "call0", "cl.rpc", "m0", NULL};
    assert_int_equal(run(c0), 0);
    assert_string_equal(OUT, "OK\n");
    static const char *const n1[] = {G.sock, "-n", "cl.notifier", "rpc", "notify", "cl.rpc",
                                     "psst", NULL};
    assert_int_equal(run(n1), 0);
    assert_string_equal(OUT, "OK\n");
    static const char *const raw[] = {G.sock, "rpc", "call", "cl.rpc", "rawm", "-", NULL};
    assert_int_equal(run_in(raw, "raw params", 10), 0);
    static const char *const pb[] = {G.sock, "publish", "rt/x", "pub to rpc", NULL};
    assert_int_equal(run(pb), 0);
    bg_finish(&b, "STR: pub to rpc");
    has(OUT, "method: hello\nfrom cl.caller (cl.caller)\nMSGPACK:\n{\n  \"b\": true,\n"
             "  \"dup\": 2,\n  \"e\": \"\",\n  \"f\": 1.5,\n  \"n\": -7,\n"
             "  \"s\": \"some text\",\n  \"x\": 1\n}\n----\n");
    has(OUT, "method: m0\n");
    has(OUT, "Notification from cl.notifier (cl.notifier)\nSTR: psst\n----\n");
    has(OUT, "method: rawm\n");
    has(OUT, "STR: raw params\n");
    has(OUT, "Publish from");
}

static void test_rpc_to_broker_and_errors(void **state)
{
    (void)state;
    static const char *const t[] = {G.sock, "rpc", "call", ".broker", "test", NULL};
    assert_int_equal(run(t), 0);
    has(OUT, "\"ok\": true");
    /* Raw msgpack params echoed by benchmark.test. */
    static const char *const e[] = {G.sock, "rpc", "call", ".broker", "benchmark.test", "-", NULL};
    static const uint8_t mp[] = {0x82, 0xA1, 'k', 0x01, 0xA1, 'a', 0xC3};
    assert_int_equal(run_in(e, mp, sizeof mp), 0);
    assert_string_equal(OUT, "MSGPACK:\n{\n  \"a\": true,\n  \"k\": 1\n}\n");
    static const char *const p[] = {G.sock, "rpc", "call", ".broker", "test", "x=1", NULL};
    assert_int_equal(run(p), 1);
    has(ERR, "busrt: RPC Error -32602: invalid params\n");
    static const char *const m[] = {G.sock, "rpc", "call", ".broker", "nope", NULL};
    assert_int_equal(run(m), 1);
    has(ERR, "busrt: RPC Error -32601: method not found\n");
    static const char *const u[] = {G.sock, "rpc", "call", "cl.nobody", "m", NULL};
    assert_int_equal(run(u), 1);
    has(ERR, "busrt: rpc call: no client named 'cl.nobody' is connected to the broker (0x71)\n");
    static const char *const bp[] = {G.sock, "rpc", "call", ".broker", "test", "novalue", NULL};
    assert_int_equal(run(bp), 2);
    has(ERR, "key=value");
    static const char *const n[] = {G.sock, "rpc", "notify", "cl.nobody", "x", NULL};
    assert_int_equal(run(n), 1);
    has(ERR, "busrt: rpc notify: no client named 'cl.nobody' is connected to the broker "
             "(0x71)\n");
    static const char *const c0[] = {G.sock, "rpc", "call0", "cl.nobody", "m", NULL};
    assert_int_equal(run(c0), 1);
    has(ERR, "busrt: rpc call0: no client named 'cl.nobody' is connected to the broker "
             "(0x71)\n");
}

static void test_errors(void **state)
{
    (void)state;
    static const char *const s[] = {G.sock, "send", "nobody.here", "x", NULL};
    assert_int_equal(run(s), 1);
    has(ERR, "busrt: send: no client named 'nobody.here' is connected to the broker (0x71)\n");
    lacks(ERR, "not registered");
    lacks(OUT, "OK");
    static const char *const sec[] = {G.sock, "-n", "cl.none%%w", "broker", "test", NULL};
    assert_int_equal(run(sec), 1);
    has(ERR, "busrt: unable to connect to ");
    has(ERR, " as 'cl.none%%w': the primary client 'cl.none' of this secondary name is not "
             "connected to the broker (0x71)\n");
    busrt_client *holder = NULL;
    assert_int_equal(th_connect(G.sock, "cl.taken", &holder), 0);
    static const char *const busy[] = {G.sock, "-n", "cl.taken", "publish", "t", "x", NULL};
    assert_int_equal(run(busy), 1);
    has(ERR, "busy (0x76");
    static const char *const nf[] = {"/nonexistent-dir/bus.sock", "broker", "test", NULL};
    assert_int_equal(run(nf), 1);
    has(ERR, "No such file");
    /* A call that nobody answers: cl.taken is a plain client. */
    static const char *const to[] = {G.sock, "--timeout", "0.5", "rpc", "call", "cl.taken", "m",
                                     NULL};
    int64_t t0 = th_now_ms();
    assert_int_equal(run(to), 1);
    has(ERR, "timed out");
    assert_true(th_now_ms() - t0 < th_ms(5000));
    busrt_client_close(holder);
}

/* Client names the spec does not allow are refused before connecting. */
static void test_bad_names(void **state)
{
    (void)state;
    static const char *const dot[] = {G.sock, "-n", ".evil", "broker", "test", NULL};
    assert_int_equal(run(dot), 2);
    assert_string_equal(ERR, "busrt: client name '.evil': a name must not start with '.' "
                             "(reserved for the broker); not connecting\n");
    lacks(ERR, "connecting to");
    static const char *const empty[] = {G.sock, "-n", "", "broker", "test", NULL};
    assert_int_equal(run(empty), 2);
    assert_string_equal(ERR, "busrt: client name '': a name must not be empty; not connecting\n");
    static const char *const bad8[] = {G.sock, "--name=a\xff\x01", "broker", "test", NULL};
    assert_int_equal(run(bad8), 2);
    assert_string_equal(ERR, "busrt: client name 'a\\xff\\x01': a name must be well-formed "
                             "UTF-8; not connecting\n");
    static const char *const noprim[] = {G.sock, "-n", "%%w1", "broker", "test", NULL};
    assert_int_equal(run(noprim), 2);
    assert_string_equal(ERR, "busrt: client name '%%w1': a secondary name needs its primary "
                             "name before the '%%'; not connecting\n");
    static char longname[65537];
    memset(longname, 'a', sizeof longname - 1u);
    static const char *const toolong[] = {G.sock, "-n", longname, "broker", "test", NULL};
    assert_int_equal(run(toolong), 2);
    has(ERR, "...': a name must not be longer than 65535 bytes (this one has 65536); "
             "not connecting\n");
    /* A name within the spec's rules that the broker's own limit refuses. */
    struct th_broker small;
    static const char *const lim[] = {"--max-name-len", "8", NULL};
    assert_int_equal(th_broker_start(&small, lim), 0);
    const char *const ln[] = {small.sock, "-n", "name.of.twenty.bytes", "broker", "test",
                                     NULL};
    assert_int_equal(run(ln), 1);
    has(ERR, "as 'name.of.twenty.bytes': the broker refused the name (0x72: invalid name); it "
             "is probably longer than the broker's name-length limit\n");
    th_broker_stop(&small);
}

/* Malformed addresses are refused before connecting (a port outside 1..65535:
 * REQ-ADDR-5); a host that does not resolve is named with the resolver's
 * reason. */
static void test_bad_addresses(void **state)
{
    (void)state;
    static const char *const ad[] = {"nohost", "broker", "test", NULL};
    assert_int_equal(run(ad), 2);
    assert_string_equal(ERR, "busrt: address 'nohost': neither a UNIX socket path (ending in "
                             ".sock, .socket or .ipc, or starting with /) nor HOST:PORT; not "
                             "connecting\n");
    static const char *const p0[] = {"localhost:0", "broker", "test", NULL};
    assert_int_equal(run(p0), 2);
    assert_string_equal(ERR, "busrt: address 'localhost:0': port 0 is out of range 1..65535; "
                             "not connecting\n");
    static const char *const pbig[] = {"localhost:65536", "broker", "test", NULL};
    assert_int_equal(run(pbig), 2);
    has(ERR, "port 65536 is out of range 1..65535; not connecting\n");
    static const char *const pname[] = {"localhost:http", "broker", "test", NULL};
    assert_int_equal(run(pname), 2);
    assert_string_equal(ERR, "busrt: address 'localhost:http': port 'http' is not a decimal "
                             "number (expected 1..65535); not connecting\n");
    static const char *const nohost[] = {":7777", "broker", "test", NULL};
    assert_int_equal(run(nohost), 2);
    has(ERR, "the host before the last ':' is missing (expected HOST:PORT); not connecting\n");
    static const char *const noport[] = {"localhost:", "broker", "test", NULL};
    assert_int_equal(run(noport), 2);
    has(ERR, "the port after the last ':' is missing");
    static const char *const unres[] = {"nosuchhost.invalid:7777", "-n", "cl.dns", "broker",
                                        "test", NULL};
    assert_int_equal(run(unres), 1);
    has(ERR, "busrt: unable to connect to nosuchhost.invalid:7777 as 'cl.dns': host "
             "'nosuchhost.invalid' does not resolve: ");
    lacks(ERR, "bad address");
}

/* Text fields that are not UTF-8 and frames above --payload-size-limit are
 * refused before sending; a connection the broker closes after a send is
 * explained. */
static void test_checked_before_sending(void **state)
{
    (void)state;
    static const char *const pub[] = {G.sock, "publish", "a\xff", "x", NULL};
    assert_int_equal(run(pub), 2);
    assert_string_equal(ERR, "busrt: publish: topic 'a\\xff' is not well-formed UTF-8, which "
                             "the protocol requires (the broker would close the connection); "
                             "not sending\n");
    static const char *const snd[] = {G.sock, "send", "cl.\xc0\xaf", "x", NULL};
    assert_int_equal(run(snd), 2);
    has(ERR, "busrt: send: target 'cl.\\xc0\\xaf' is not well-formed UTF-8");
    static const char *const bc[] = {G.sock, "send", "cl.*\xff", "x", NULL};
    assert_int_equal(run(bc), 2);
    has(ERR, "busrt: broadcast: mask 'cl.*\\xff' is not well-formed UTF-8");
    static const char *const ls[] = {G.sock, "listen", "-t", "ok/#", "--exclude", "\xed\xa0\x80",
                                     NULL};
    assert_int_equal(run(ls), 2);
    assert_string_equal(ERR, "busrt: listen: exclusion '\\xed\\xa0\\x80' is not well-formed "
                             "UTF-8, which the protocol requires (the broker would close the "
                             "connection); not subscribing\n");
    static const char *const rl[] = {G.sock, "rpc", "listen", "-t", "\xf4\x90\x80\x80", NULL};
    assert_int_equal(run(rl), 2);
    has(ERR, "busrt: rpc listen: topic '\\xf4\\x90\\x80\\x80' is not well-formed UTF-8");
    static const char *const rc[] = {G.sock, "rpc", "call", "\x80", "m", NULL};
    assert_int_equal(run(rc), 2);
    has(ERR, "busrt: rpc call: target '\\x80' is not well-formed UTF-8");
    static const char *const rn[] = {G.sock, "rpc", "notify", "\xff", "x", NULL};
    assert_int_equal(run(rn), 2);
    has(ERR, "busrt: rpc notify: target '\\xff' is not well-formed UTF-8");
    static const char *const rm[] = {G.sock, "rpc", "call0", "cl.x", "", NULL};
    assert_int_equal(run(rm), 2);
    assert_string_equal(ERR, "busrt: rpc call0: the method name is empty (0 bytes; expected "
                             "1..65535); not sending\n");
    lacks(ERR, "connecting to");
    /* Names starting with '.' are valid targets and topics. */
    static const char *const dt[] = {G.sock, "publish", ".broker/cl.test", "x", NULL};
    assert_int_equal(run(dt), 0);
    static const char *const ds[] = {G.sock, "send", ".broker", "not rpc", NULL};
    assert_int_equal(run(ds), 0);

    /* --payload-size-limit, and its default: busrtd's 16777216 bytes. */
    static const char *const big[] = {G.sock, "--payload-size-limit", "10", "publish", "topic",
                                      "0123456789", NULL};
    assert_int_equal(run(big), 1);
    assert_string_equal(ERR, "busrt: publish: the frame body would be 16 bytes (payload of 10 "
                             "bytes), above the payload-size limit of 10 bytes "
                             "(--payload-size-limit); not sending\n");
    size_t n = 16u * 1024u * 1024u;
    uint8_t *data = calloc(n, 1);
    assert_non_null(data);
    static const char *const dflt[] = {G.sock, "send", "cl.x", NULL};
    assert_int_equal(run_in(dflt, data, n), 1);
    free(data);
    assert_string_equal(ERR, "busrt: send: the frame body would be 16777221 bytes (payload of "
                             "16777216 bytes), above the payload-size limit of 16777216 bytes "
                             "(--payload-size-limit); not sending\n");
    static const char *const rp[] = {G.sock, "--payload-size-limit=30", "rpc", "call", ".broker",
                                      "benchmark.test", "a=0123456789", NULL};
    assert_int_equal(run(rp), 1);
    has(ERR, "busrt: rpc call: the frame body would be 36 bytes (params of 8 bytes), above the "
             "payload-size limit of 30 bytes");
    static const char *const sub[] = {G.sock, "--payload-size-limit", "5", "listen", "-t", "abc",
                                      "-t", "def", NULL};
    assert_int_equal(run(sub), 1);
    assert_string_equal(ERR, "busrt: listen: the subscribe frame body would be 7 bytes (2 "
                             "pattern(s)), above the payload-size limit of 5 bytes "
                             "(--payload-size-limit); not subscribing\n");
    static const char *const bb[] = {G.sock, "-n", "cl.b", "--payload-size-limit", "100",
                                     "benchmark", "--payload-size", "90", NULL};
    assert_int_equal(run(bb), 1);
    assert_string_equal(ERR, "busrt: benchmark: --payload-size 90 makes frame bodies of up to "
                             "123 bytes, above the payload-size limit of 100 bytes "
                             "(--payload-size-limit); not starting\n");
    static const char *const bad[] = {G.sock, "--payload-size-limit", "0", "broker", "test", NULL};
    assert_int_equal(run(bad), 2);
    has(ERR, "busrt: bad --payload-size-limit value '0' (expected 1..4294901759 bytes)\n");

    /* A broker with a lower limit than the CLI was told closes the
     * connection. */
    struct th_broker small;
    static const char *const lim[] = {"--payload-size-limit", "100", NULL};
    assert_int_equal(th_broker_start(&small, lim), 0);
    const char *const over[] = {small.sock, "--payload-size-limit", "100000", "publish", "t",
                                NULL};
    static uint8_t two[200];
    assert_int_equal(run_in(over, two, sizeof two), 1);
    has(ERR, "busrt: publish: the broker closed the connection; likely the frame broke one of "
             "its limits (payload size, name or topic rules); see the broker's log\n");
    lacks(OUT, "OK");
    /* At the limit exactly: topic, NUL and 98 bytes make 100. */
    const char *const at[] = {small.sock, "--payload-size-limit", "100", "publish", "t", NULL};
    assert_int_equal(run_in(at, two, 98), 0);
    assert_string_equal(OUT, "OK\n");
    assert_int_equal(run_in(at, two, 99), 1);
    has(ERR, "busrt: publish: the frame body would be 101 bytes (payload of 99 bytes)");
    th_broker_stop(&small);
}

/* An RPC server answering method "cN" with error N and no message, and
 * "msg" with error 7 and a message. */
struct err_server {
    busrt_client *c;
    pthread_t th;
    atomic_int stop;
};

static int err_call(void *ctx, busrt_client *c, const struct busrt_rpc_event *ev,
                    struct busrt_rpc_result *res)
{
    (void)ctx;
    (void)c;
    if (strcmp(ev->method, "msg") == 0) {
        res->data = "custom text";
        res->len = 11;
        return 7;
    }
    return ev->method[0] == 'c' ? atoi(ev->method + 1) : 0;
}

static void *err_serve(void *arg)
{
    struct err_server *e = arg;
    struct busrt_rpc_server s;
    memset(&s, 0, sizeof s);
    s.on_call = err_call;
    while (!atomic_load(&e->stop)) {
        int r = busrt_rpc_serve(e->c, &s, 100);
        if (r != 0 && r != BUSRT_E_TIMEOUT) {
            break;
        }
    }
    return NULL;
}

/* An error reply without a message is shown with the meaning of its code. */
static void test_rpc_error_texts(void **state)
{
    (void)state;
    struct err_server e;
    memset(&e, 0, sizeof e);
    atomic_init(&e.stop, 0);
    assert_int_equal(th_connect(G.sock, "cl.errs", &e.c), 0);
    assert_int_equal(pthread_create(&e.th, NULL, err_serve, &e), 0);
    static const struct {
        const char *method, *want;
    } cases[] = {
        {"c-32700", "busrt: RPC Error -32700: parse error (the params could not be decoded)\n"},
        {"c-32600", "busrt: RPC Error -32600: invalid request\n"},
        {"c-32601", "busrt: RPC Error -32601: method not found\n"},
        {"c-32602", "busrt: RPC Error -32602: invalid params\n"},
        {"c-32603", "busrt: RPC Error -32603: internal error\n"},
        {"c-32001", "busrt: RPC Error -32001: not found\n"},
        {"c-32121", "busrt: RPC Error -32121: the broker acknowledged the call with result "
                    "code 0x79\n"},
        {"c12", "busrt: RPC Error 12: (the error reply has no message)\n"},
        {"msg", "busrt: RPC Error 7: custom text\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *const a[] = {G.sock, "-s", "rpc", "call", "cl.errs", cases[i].method, NULL};
        assert_int_equal(run(a), 1);
        assert_string_equal(ERR, cases[i].want);
    }
    atomic_store(&e.stop, 1);
    pthread_join(e.th, NULL);
    busrt_client_close(e.c);
    /* .broker sends no message with its errors. */
    static const char *const m[] = {G.sock, "-s", "rpc", "call", ".broker", "nope", NULL};
    assert_int_equal(run(m), 1);
    assert_string_equal(ERR, "busrt: RPC Error -32601: method not found\n");
}

/* A server of cursors: "list" opens one over the strings "item0".."item4",
 * "broken" one whose producer fails with -100, "plain" returns no
 * cursor. */
struct cursor_server {
    busrt_client *c;
    busrt_cursor_table *t;
    pthread_t th;
    atomic_int stop;
    uint8_t map[BUSRT_CURSOR_ID_MAP_LEN];
};

struct items {
    int i, fail;
    char buf[8];
};

static int items_next(void *ctx, const void **data, size_t *len)
{
    struct items *it = ctx;
    if (it->fail) {
        return -100;
    }
    if (it->i >= 5) {
        return BUSRT_CURSOR_END;
    }
    memcpy(it->buf, "\xA5item", 5); /* fixstr of 5 */
    it->buf[5] = (char)('0' + it->i++);
    *data = it->buf;
    *len = 6;
    return BUSRT_CURSOR_ITEM;
}

static int cursor_call(void *ctx, busrt_client *c, const struct busrt_rpc_event *ev,
                       struct busrt_rpc_result *res)
{
    struct cursor_server *cs = ctx;
    (void)c;
    if (busrt_cursor_is_call(ev)) {
        return busrt_cursor_serve(cs->t, ev, res);
    }
    if (strcmp(ev->method, "plain") == 0) {
        res->data = "\x81\xA1x\x01";
        res->len = 4;
        return 0;
    }
    struct items *it = calloc(1, sizeof *it);
    if (it == NULL) {
        return BUSRT_RPC_E_INTERNAL;
    }
    it->fail = strcmp(ev->method, "broken") == 0;
    if (busrt_cursor_create(cs->t, items_next, free, it, th_ms(5000), cs->map) != 0) {
        free(it);
        return BUSRT_RPC_E_INTERNAL;
    }
    res->data = cs->map;
    res->len = sizeof cs->map;
    return 0;
}

static void *cursor_serve(void *arg)
{
    struct cursor_server *cs = arg;
    struct busrt_rpc_server s;
    memset(&s, 0, sizeof s);
    s.on_call = cursor_call;
    s.ctx = cs;
    while (!atomic_load(&cs->stop)) {
        int r = busrt_rpc_serve(cs->c, &s, 100);
        if (r != 0 && r != BUSRT_E_TIMEOUT) {
            break;
        }
        (void)busrt_cursor_sweep(cs->t);
    }
    return NULL;
}

/* rpc call --follow / --bulk N: the items of a cursor, one per result. */
static void test_rpc_follow_cursor(void **state)
{
    (void)state;
    struct cursor_server cs;
    memset(&cs, 0, sizeof cs);
    atomic_init(&cs.stop, 0);
    assert_int_equal(busrt_cursor_table_new(0, 0, &cs.t), 0);
    assert_int_equal(th_connect(G.sock, "cl.cursor", &cs.c), 0);
    assert_int_equal(pthread_create(&cs.th, NULL, cursor_serve, &cs), 0);
    /* Without --follow: the id map, as before. */
    static const char *const plain[] = {G.sock, "rpc", "call", "cl.cursor", "list", NULL};
    assert_int_equal(run(plain), 0);
    has(OUT, "\"u\"");
    lacks(OUT, "item0");
    static const char *const want = "\"item0\"\n\"item1\"\n\"item2\"\n\"item3\"\n\"item4\"\n";
    static const char *const f[] = {G.sock, "-s", "rpc", "call", "cl.cursor", "list",
                                    "--follow", NULL};
    assert_int_equal(run(f), 0);
    assert_string_equal(OUT, want);
    assert_string_equal(ERR, "");
    /* NB blocks of 2 (the last one short) and of 5 (then an empty one). */
    static const char *const b2[] = {G.sock, "-s", "rpc", "call", "cl.cursor", "list",
                                     "--bulk", "2", NULL};
    assert_int_equal(run(b2), 0);
    assert_string_equal(OUT, want);
    static const char *const b5[] = {G.sock, "-s", "rpc", "call", "cl.cursor", "list",
                                     "--bulk=5", NULL};
    assert_int_equal(run(b5), 0);
    assert_string_equal(OUT, want);
    /* Labelled output without -s: one result per item. */
    static const char *const fl[] = {G.sock, "rpc", "call", "--follow", "cl.cursor", "list",
                                     NULL};
    assert_int_equal(run(fl), 0);
    has(OUT, "item0");
    has(OUT, "item4");
    /* A result that is no cursor is printed as it is, with a note. */
    static const char *const np[] = {G.sock, "rpc", "call", "cl.cursor", "plain", "--follow",
                                     NULL};
    assert_int_equal(run(np), 0);
    has(ERR, "busrt: rpc call: the result is not a cursor");
    has(OUT, "\"x\"");
    /* An error while following: its code, exit 1. */
    static const char *const br[] = {G.sock, "-s", "rpc", "call", "cl.cursor", "broken",
                                     "--follow", NULL};
    assert_int_equal(run(br), 1);
    assert_string_equal(ERR, "busrt: RPC Error -100: (the error reply has no message)\n");
    /* Bad --bulk values are refused before connecting. */
    static const char *const z[] = {G.sock, "rpc", "call", "cl.cursor", "list", "--bulk=0", NULL};
    assert_int_equal(run(z), 2);
    has(ERR, "busrt: rpc call: bad --bulk value '0' (expected 1..10000 items per call)");
    static const char *const nv[] = {G.sock, "rpc", "call", "cl.cursor", "list", "--bulk", NULL};
    assert_int_equal(run(nv), 2);
    has(ERR, "busrt: rpc call: option '--bulk' needs a value");
    atomic_store(&cs.stop, 1);
    pthread_join(cs.th, NULL);
    busrt_client_close(cs.c);
    busrt_cursor_table_free(cs.t);
}

static void test_benchmark(void **state)
{
    (void)state;
    static const char *const b[] = {G.sock, "-n", "cl.bench", "benchmark", "-w", "2",
                                    "--payload-size", "10", "-i", "600", NULL};
    assert_int_equal(run(b), 0);
    has(OUT, "Starting benchmark, 2 worker(s), 600 iters, 300 iters/worker, 10 byte(s) payload");
    static const char *const stages[] = {"send.qos.no", "send+recv.qos.no", "send.qos.processed",
                                         "send+recv.qos.processed", "rpc.call", "rpc.call+handle",
                                         "rpc.call0"};
    for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++) {
        char line[64];
        snprintf(line, sizeof line, " %s ", stages[i]);
        has(OUT, line);
    }
    has(OUT, "iters/s");
    /* Progress: a line as each stage starts and ends. */
    has(OUT, "stage 1/7 send.qos.no: 600 iters ...\nstage 1/7 send.qos.no: done in ");
    has(OUT, "stage 7/7 rpc.call0: 600 iters ...\nstage 7/7 rpc.call0: done in ");
    static const char *const bs[] = {G.sock, "-s", "-n", "cl.bench", "benchmark", "-i", "50",
                                     NULL};
    assert_int_equal(run(bs), 0);
    lacks(OUT, "stage 1/7");
    has(OUT, " rpc.call0 ");
    static const char *const bad[] = {G.sock, "benchmark", "-w", "0", NULL};
    assert_int_equal(run(bad), 2);
    assert_string_equal(ERR, "busrt: benchmark: bad -w value '0' (expected 1..256); not "
                             "starting\nTry 'busrt --help'.\n");
    static const char *const nov[] = {G.sock, "benchmark", "--iters", NULL};
    assert_int_equal(run(nov), 2);
    has(ERR, "busrt: benchmark: option '--iters' needs a value\n");
    /* The defaults are documented. */
    static const char *const h[] = {"--help", NULL};
    assert_int_equal(run(h), 0);
    has(OUT, "-w/--workers 1, --payload-size 100, -i/--iters");
    has(OUT, "1000000");
}

int main(void)
{
    th_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_version_usage),
        cmocka_unit_test(test_usage_before_connecting),
        cmocka_unit_test(test_broker_commands),
        cmocka_unit_test(test_listen_end_to_end),
        cmocka_unit_test(test_default_name),
        cmocka_unit_test(test_rpc_end_to_end),
        cmocka_unit_test(test_rpc_to_broker_and_errors),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_checked_before_sending),
        cmocka_unit_test(test_rpc_error_texts),
        cmocka_unit_test(test_rpc_follow_cursor),
        cmocka_unit_test(test_benchmark),
    };
    return cmocka_run_group_tests_name("busrt-cli", tests, th_group_setup, th_group_teardown);
}
