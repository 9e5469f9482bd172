/* libbusrt: connection, every operation and QoS, ACKs, receiving,
 * keep-alive, errors, against a private busrtd ($BUSRTD). The byte-exact
 * and malformed-input checks against scripted fake brokers are in
 * test_client_fake.c. */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "busrt/client.h"
#include "busrt/codes.h"
#include "harness.h"

#define G th_group /* the group's shared broker (harness.c) */

#define T th_ms(3000)

static busrt_client *cx(const char *addr, const char *name)
{
    return th_connect_ok(addr, name);
}

static void expect_frame(busrt_client *c, uint8_t kind, const char *sender, const char *topic,
                         const void *payload, size_t plen)
{
    struct busrt_frame f;
    int r = busrt_recv(c, &f, T);
    if (r != 0) {
        fprintf(stderr, "expected a frame from %s: %s\n", sender, busrt_client_strerror(r));
    }
    assert_int_equal(r, 0);
    assert_int_equal(f.kind, kind);
    assert_string_equal(f.sender, sender);
    assert_int_equal(f.sender_len, strlen(sender));
    if (topic != NULL) {
        assert_string_equal(f.topic, topic);
        assert_int_equal(f.topic_len, strlen(topic));
    }
    assert_int_equal(f.payload_len, plen);
    if (plen > 0) {
        assert_memory_equal(f.payload, payload, plen);
    }
}

static void expect_msg(busrt_client *c, const char *sender, const char *payload)
{
    expect_frame(c, BUSRT_KIND_MESSAGE, sender, NULL, payload, strlen(payload));
}

static void expect_nothing(busrt_client *c, int ms)
{
    struct busrt_frame f;
    int r = busrt_recv(c, &f, ms);
    if (r == 0) {
        fprintf(stderr, "unexpected frame kind %u from %s payload '%.*s'\n", f.kind, f.sender,
                (int)f.payload_len, (const char *)f.payload);
    }
    assert_int_equal(r, BUSRT_E_TIMEOUT);
}

/* Sends (the call stores the op id in op) and waits for ACK 01. A macro:
 * the op id must be read after the call. */
#define acked(c, call, op)                                        \
    do {                                                          \
        assert_int_equal((call), 0);                              \
        assert_int_equal(busrt_wait_ack((c), (op), T), 0);        \
    } while (0)

/* ---- Connecting ------------------------------------------------------------- */

static void test_connect_unix(void **state)
{
    (void)state;
    busrt_client *c = cx(G.sock, "conn.unix");
    assert_string_equal(busrt_client_name(c), "conn.unix");
    assert_int_equal(busrt_client_connected(c), 1);
    assert_true(busrt_fd(c) >= 0);
    uint32_t op;
    acked(c, busrt_send(c, "conn.unix", "me", 2, BUSRT_QOS_PROCESSED, &op), op);
    expect_msg(c, "conn.unix", "me");
    busrt_client_close(c);
    busrt_client_close(NULL);
}

static void test_connect_tcp(void **state)
{
    (void)state;
    char addr[64];
    busrt_client *t = cx(G.tcp, "conn.tcp");
    snprintf(addr, sizeof addr, "localhost:%d", G.port);
    busrt_client *l = cx(addr, "conn.tcp.localhost");
    busrt_client *u = cx(G.sock, "conn.unix2");
    uint32_t op;
    acked(t, busrt_send(t, "conn.unix2", "from tcp", 8, BUSRT_QOS_PROCESSED, &op), op);
    expect_msg(u, "conn.tcp", "from tcp");
    acked(u, busrt_send(u, "conn.tcp.localhost", "to tcp", 6, BUSRT_QOS_PROCESSED, &op), op);
    expect_msg(l, "conn.unix2", "to tcp");
    busrt_client_close(t);
    busrt_client_close(l);
    busrt_client_close(u);
}

static void test_bad_addresses(void **state)
{
    (void)state;
    static const char *const bad[] = {"nohost",        "host:",          ":7777",
                                      "127.0.0.1:0",   "127.0.0.1:65536", "127.0.0.1:12ab",
                                      "[::1:7777",     "a]:7777",        "127.0.0.1:-1",
                                      "no-such-host.invalid:7777", ""};
    busrt_client *c = (busrt_client *)(uintptr_t)1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = th_connect(bad[i], "bad.addr", &c);
        if (r != BUSRT_E_ADDR) {
            fprintf(stderr, "address '%s': %d\n", bad[i], r);
        }
        assert_int_equal(r, BUSRT_E_ADDR);
        assert_null(c);
    }
    char longp[200];
    memset(longp, 'x', sizeof longp);
    longp[0] = '/';
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(th_connect(longp, "bad.addr", &c), BUSRT_E_ADDR);
    /* A missing socket file and a closed port are system errors. */
    errno = 0;
    assert_int_equal(th_connect("/nonexistent-dir/x.sock", "bad.addr", &c), BUSRT_E_SYS);
    assert_int_equal(errno, ENOENT);
    char closed[64];
    snprintf(closed, sizeof closed, "127.0.0.1:%d", th_free_tcp_port());
    errno = 0;
    assert_int_equal(th_connect(closed, "bad.addr", &c), BUSRT_E_SYS);
    assert_int_equal(errno, ECONNREFUSED);
    /* Invalid arguments. */
    struct busrt_client_config cfg;
    busrt_client_config_init(&cfg, NULL);
    assert_int_equal(busrt_client_connect(&c, G.sock, &cfg), BUSRT_E_INVAL);
    assert_int_equal(busrt_client_connect(NULL, G.sock, &cfg), BUSRT_E_INVAL);
    assert_int_equal(busrt_client_connect(&c, NULL, &cfg), BUSRT_E_INVAL);
    char *huge = malloc(70000);
    assert_non_null(huge);
    memset(huge, 'n', 69999);
    huge[69999] = '\0';
    assert_int_equal(th_connect(G.sock, huge, &c), BUSRT_E_INVAL);
    free(huge);
}

static void test_refused_names(void **state)
{
    (void)state;
    busrt_client *a = cx(G.sock, "ref.taken");
    busrt_client *c = NULL;
    assert_int_equal(th_connect(G.sock, "ref.taken", &c), BUSRT_E_BUSY);
    assert_null(c);
    assert_int_equal(th_connect(G.sock, ".ref", &c), BUSRT_E_DATA);
    assert_int_equal(th_connect(G.sock, "", &c), BUSRT_E_DATA);
    assert_int_equal(th_connect(G.sock, "ref.none%%w1", &c), BUSRT_E_NOT_REGISTERED);
    /* Not UTF-8: the deployed broker closes without a code (REQ-QUIRK-1);
     * a broker may also answer 72. Either is a distinct error. */
    int r = th_connect(G.sock, "ref.\xff", &c);
    assert_true(r == BUSRT_E_HANDSHAKE || r == BUSRT_E_DATA);
    /* The refused connections left the broker working. */
    busrt_client *b = cx(G.sock, "ref.taken%%w1");
    uint32_t op;
    acked(b, busrt_send(b, "ref.taken", "ok", 2, BUSRT_QOS_PROCESSED, &op), op);
    expect_msg(a, "ref.taken%%w1", "ok");
    busrt_client_close(b);
    busrt_client_close(a);
    /* The same name registers again once released. */
    a = cx(G.sock, "ref.taken");
    busrt_client_close(a);
}

static void test_refused_limits(void **state)
{
    (void)state;
    static const char *const x1[] = {"--max-name-len", "8", NULL};
    struct th_broker b;
    assert_int_equal(th_broker_start(&b, x1), 0);
    busrt_client *c = NULL;
    /* busrtd answers 72 without reading the name (REQ-LIM-3 allows it):
     * the client still reports the code, not a broken pipe. */
    assert_int_equal(th_connect(b.sock, "name.too.long", &c), BUSRT_E_DATA);
    busrt_client *ok = cx(b.sock, "name.ok");
    busrt_client_close(ok);
    th_broker_stop(&b);

    static const char *const x2[] = {"--max-clients", "1", NULL};
    assert_int_equal(th_broker_start(&b, x2), 0);
    /* The start-up probe may still count for a moment. */
    busrt_client *one = NULL;
    int r = -1;
    for (int i = 0; i < 100 && r != 0; i++) {
        r = th_connect(b.sock, "one", &one);
        if (r != 0) {
            th_sleep_ms(20);
        }
    }
    assert_int_equal(r, 0);
    /* The broker is full: refused with 74 or closed before the greeting;
     * in-process, busrtd_connect says so with BUSRT_E_BUSY (busrtd.h). */
    r = th_connect(b.sock, "two", &c);
    if (th_inproc()) {
        assert_int_equal(r, BUSRT_E_BUSY);
        r = BUSRT_E_OTHER;
    }
    if (r != BUSRT_E_OTHER && r != BUSRT_E_HANDSHAKE) {
        fprintf(stderr, "max-clients refusal: %d %s\n", r, busrt_client_strerror(r));
    }
    assert_true(r == BUSRT_E_OTHER || r == BUSRT_E_HANDSHAKE);
    busrt_client_close(one);
    th_broker_stop(&b);
}

static void test_strerror(void **state)
{
    (void)state;
    /* Every result code and every library error has its own text. */
    int codes[40];
    size_t n = 0;
    for (int rc = 0x71; rc <= 0x79; rc++) {
        codes[n++] = BUSRT_E_RC(rc);
    }
    for (int e = BUSRT_E_LIMIT; e <= BUSRT_E_SYS; e++) {
        codes[n++] = e;
    }
    for (size_t i = 0; i < n; i++) {
        const char *a = busrt_client_strerror(codes[i]);
        assert_non_null(a);
        assert_true(strlen(a) > 3);
        for (size_t j = i + 1; j < n; j++) {
            assert_string_not_equal(a, busrt_client_strerror(codes[j]));
        }
    }
    assert_non_null(strstr(busrt_client_strerror(BUSRT_E_BUSY), "0x76"));
    assert_int_equal(BUSRT_E_RC_CODE(BUSRT_E_ACCESS), 0x79);
    assert_true(BUSRT_E_IS_RC(BUSRT_E_NOT_REGISTERED));
    assert_false(BUSRT_E_IS_RC(BUSRT_E_TIMEOUT));
    assert_string_equal(busrt_client_strerror(BUSRT_ERR_NOSEP), busrt_strerror(BUSRT_ERR_NOSEP));
}

/* ---- Operations ------------------------------------------------------------------ */

static void test_send_every_qos(void **state)
{
    (void)state;
    busrt_client *a = cx(G.sock, "qos.a");
    busrt_client *b = cx(G.sock, "qos.b");
    for (unsigned q = 0; q < 4; q++) {
        char p[16];
        snprintf(p, sizeof p, "qos%u", q);
        uint32_t op = 0;
        assert_int_equal(busrt_send(a, "qos.b", p, strlen(p), q, &op), 0);
        if ((q & 1u) != 0) {
            assert_int_equal(busrt_wait_ack(a, op, T), 0);
        } else {
            assert_int_equal(busrt_wait_ack(a, op, 0), BUSRT_E_UNKNOWN_OP);
        }
        struct busrt_frame f;
        assert_int_equal(busrt_recv(b, &f, T), 0);
        assert_int_equal(f.kind, BUSRT_KIND_MESSAGE);
        assert_string_equal(f.sender, "qos.a");
        assert_int_equal(f.payload_len, strlen(p));
        assert_memory_equal(f.payload, p, strlen(p));
        assert_int_equal(f.realtime, (q & 2u) != 0 ? 1 : 0);
        assert_string_equal(f.topic, "");
    }
    /* ACK results: unknown target 71 (QoS 1 and 3). */
    uint32_t op;
    assert_int_equal(busrt_send(a, "qos.nobody", "x", 1, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(a, op, T), BUSRT_E_NOT_REGISTERED);
    assert_int_equal(busrt_send(a, "qos.nobody", "x", 1, BUSRT_QOS_REALTIME_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(a, op, T), BUSRT_E_NOT_REGISTERED);
    /* A claimed op is no longer awaited. */
    assert_int_equal(busrt_wait_ack(a, op, 0), BUSRT_E_UNKNOWN_OP);
    /* Invalid arguments. */
    assert_int_equal(busrt_send(a, "qos.b", "x", 1, 4, &op), BUSRT_E_INVAL);
    assert_int_equal(busrt_send(a, NULL, "x", 1, 0, &op), BUSRT_E_INVAL);
    assert_int_equal(busrt_send(a, "qos.b", NULL, 1, 0, &op), BUSRT_E_INVAL);
    assert_int_equal(busrt_send(NULL, "qos.b", "x", 1, 0, &op), BUSRT_E_INVAL);
    assert_int_equal(busrt_subscribe_many(a, NULL, 0, 0, &op), BUSRT_E_INVAL);
    expect_nothing(b, 100);
    busrt_client_close(a);
    busrt_client_close(b);
}

static void test_broadcast(void **state)
{
    (void)state;
    busrt_client *xa = cx(G.sock, "bc.x.a");
    busrt_client *xb = cx(G.sock, "bc.x.b");
    busrt_client *y = cx(G.sock, "bc.y");
    uint32_t op;
    for (unsigned q = 0; q < 4; q++) {
        assert_int_equal(busrt_broadcast(y, "bc.x.*", "all x", 5, q, &op), 0);
        if ((q & 1u) != 0) {
            assert_int_equal(busrt_wait_ack(y, op, T), 0);
        }
        expect_frame(xa, BUSRT_KIND_BROADCAST, "bc.y", NULL, "all x", 5);
        expect_frame(xb, BUSRT_KIND_BROADCAST, "bc.y", NULL, "all x", 5);
    }
    /* '?' matches one chunk; the sender gets its own broadcast. */
    acked(xa, busrt_broadcast(xa, "bc.?", "q", 1, BUSRT_QOS_PROCESSED, &op), op);
    expect_frame(y, BUSRT_KIND_BROADCAST, "bc.x.a", NULL, "q", 1);
    acked(xa, busrt_broadcast(xa, "bc.x.a", "self", 4, BUSRT_QOS_PROCESSED, &op), op);
    expect_frame(xa, BUSRT_KIND_BROADCAST, "bc.x.a", NULL, "self", 4);
    /* No receiver: still 01. */
    acked(xa, busrt_broadcast(xa, "bc.none.*", "z", 1, BUSRT_QOS_PROCESSED, &op), op);
    /* iovec payload. */
    struct iovec v[2] = {{(void *)(uintptr_t)"ab", 2}, {(void *)(uintptr_t)"cd", 2}};
    acked(y, busrt_broadcastv(y, "bc.x.b", v, 2, BUSRT_QOS_PROCESSED, &op), op);
    expect_frame(xb, BUSRT_KIND_BROADCAST, "bc.y", NULL, "abcd", 4);
    expect_nothing(xa, 50);
    expect_nothing(y, 50);
    busrt_client_close(xa);
    busrt_client_close(xb);
    busrt_client_close(y);
}

static void test_pubsub(void **state)
{
    (void)state;
    busrt_client *p = cx(G.sock, "ps.pub");
    busrt_client *s = cx(G.sock, "ps.sub");
    uint32_t op;
    acked(s, busrt_subscribe(s, "ps/a/+", BUSRT_QOS_PROCESSED, &op), op);
    static const char *const many[] = {"ps/b/#", "ps/c", "ps/x/#"};
    acked(s, busrt_subscribe_many(s, many, 3, BUSRT_QOS_PROCESSED, &op), op);
    for (unsigned q = 0; q < 4; q++) {
        assert_int_equal(busrt_publish(p, "ps/a/1", "p", 1, q, &op), 0);
        if ((q & 1u) != 0) {
            assert_int_equal(busrt_wait_ack(p, op, T), 0);
        }
        struct busrt_frame f;
        assert_int_equal(busrt_recv(s, &f, T), 0);
        assert_int_equal(f.kind, BUSRT_KIND_PUBLISH);
        assert_string_equal(f.sender, "ps.pub");
        assert_string_equal(f.topic, "ps/a/1");
        assert_int_equal(f.topic_len, 6);
        assert_int_equal(f.payload_len, 1);
        assert_int_equal(f.realtime, (q & 2u) != 0 ? 1 : 0);
    }
    acked(p, busrt_publish(p, "ps/b/1/2", "b", 1, BUSRT_QOS_PROCESSED, &op), op);
    expect_frame(s, BUSRT_KIND_PUBLISH, "ps.pub", "ps/b/1/2", "b", 1);
    acked(p, busrt_publish(p, "ps/c", "", 0, BUSRT_QOS_PROCESSED, &op), op);
    expect_frame(s, BUSRT_KIND_PUBLISH, "ps.pub", "ps/c", "", 0);
    /* Exclusions (one and many) suppress; unexclude restores. */
    acked(s, busrt_exclude(s, "ps/x/secret", BUSRT_QOS_PROCESSED, &op), op);
    static const char *const ex[] = {"ps/x/hidden/#", "ps/x/no"};
    acked(s, busrt_exclude_many(s, ex, 2, BUSRT_QOS_REALTIME_PROCESSED, &op), op);
    static const char *const topics[] = {"ps/x/secret", "ps/x/hidden/1", "ps/x/no", "ps/x/yes"};
    for (size_t i = 0; i < 4; i++) {
        acked(p, busrt_publish(p, topics[i], "e", 1, BUSRT_QOS_PROCESSED, &op), op);
    }
    expect_frame(s, BUSRT_KIND_PUBLISH, "ps.pub", "ps/x/yes", "e", 1);
    acked(s, busrt_unexclude(s, "ps/x/secret", BUSRT_QOS_PROCESSED, &op), op);
    acked(s, busrt_unexclude_many(s, ex, 2, BUSRT_QOS_PROCESSED, &op), op);
    for (size_t i = 0; i < 3; i++) {
        acked(p, busrt_publish(p, topics[i], "u", 1, BUSRT_QOS_PROCESSED, &op), op);
        expect_frame(s, BUSRT_KIND_PUBLISH, "ps.pub", topics[i], "u", 1);
    }
    /* Unsubscribe (one and many). */
    acked(s, busrt_unsubscribe(s, "ps/a/+", BUSRT_QOS_PROCESSED, &op), op);
    acked(s, busrt_unsubscribe_many(s, many, 3, BUSRT_QOS_PROCESSED, &op), op);
    acked(p, busrt_publish(p, "ps/a/1", "gone", 4, BUSRT_QOS_PROCESSED, &op), op);
    acked(p, busrt_publish(p, "ps/c", "gone", 4, BUSRT_QOS_PROCESSED, &op), op);
    /* iovec payloads with NULs inside. */
    acked(s, busrt_subscribe(s, "ps/v", BUSRT_QOS_PROCESSED, &op), op);
    struct iovec v[3] = {{(void *)(uintptr_t)"a\0b", 3}, {NULL, 0}, {(void *)(uintptr_t)"\0", 1}};
    acked(p, busrt_publishv(p, "ps/v", v, 3, BUSRT_QOS_PROCESSED, &op), op);
    expect_frame(s, BUSRT_KIND_PUBLISH, "ps.pub", "ps/v", "a\0b\0", 4);
    expect_nothing(s, 100);
    busrt_client_close(p);
    busrt_client_close(s);
}

static void test_publish_for_and_secondaries(void **state)
{
    (void)state;
    busrt_client *p = cx(G.sock, "pf.pub");
    busrt_client *app = cx(G.sock, "pf.app");
    busrt_client *w1 = cx(G.sock, "pf.app%%w1");
    busrt_client *other = cx(G.sock, "pf.other");
    uint32_t op;
    acked(app, busrt_subscribe(app, "pf/#", BUSRT_QOS_PROCESSED, &op), op);
    acked(w1, busrt_subscribe(w1, "pf/#", BUSRT_QOS_PROCESSED, &op), op);
    acked(other, busrt_subscribe(other, "pf/#", BUSRT_QOS_PROCESSED, &op), op);
    for (unsigned q = 0; q < 4; q++) {
        assert_int_equal(busrt_publish_for(p, "pf/t", "pf.app", "for", 3, q, &op), 0);
        if ((q & 1u) != 0) {
            assert_int_equal(busrt_wait_ack(p, op, T), 0);
        }
        expect_frame(app, BUSRT_KIND_PUBLISH, "pf.pub", "pf/t", "for", 3);
        expect_frame(w1, BUSRT_KIND_PUBLISH, "pf.pub", "pf/t", "for", 3);
    }
    struct iovec v[2] = {{(void *)(uintptr_t)"i", 1}, {(void *)(uintptr_t)"ov", 2}};
    acked(p, busrt_publish_forv(p, "pf/v", "pf.other", v, 2, BUSRT_QOS_PROCESSED, &op), op);
    expect_frame(other, BUSRT_KIND_PUBLISH, "pf.pub", "pf/v", "iov", 3);
    /* A frame from a secondary: full sender name, primary part. */
    acked(w1, busrt_send(w1, "pf.other", "sec", 3, BUSRT_QOS_PROCESSED, &op), op);
    struct busrt_frame f;
    assert_int_equal(busrt_recv(other, &f, T), 0);
    assert_string_equal(f.sender, "pf.app%%w1");
    assert_int_equal(f.primary_sender_len, 6);
    assert_memory_equal(f.primary_sender, "pf.app", 6);
    acked(app, busrt_send(app, "pf.other", "pri", 3, BUSRT_QOS_PROCESSED, &op), op);
    assert_int_equal(busrt_recv(other, &f, T), 0);
    assert_int_equal(f.primary_sender_len, f.sender_len);
    /* sendv: pieces written without joining. */
    struct iovec m[4] = {{(void *)(uintptr_t)"he", 2},
                         {(void *)(uintptr_t)"ad", 2},
                         {(void *)(uintptr_t)"|", 1},
                         {(void *)(uintptr_t)"body", 4}};
    acked(app, busrt_sendv(app, "pf.app%%w1", m, 4, BUSRT_QOS_PROCESSED, &op), op);
    expect_msg(w1, "pf.app", "head|body");
    /* Secondaries disconnect with their primary. */
    busrt_client_close(app);
    assert_int_equal(busrt_recv(w1, &f, T), BUSRT_E_CLOSED);
    assert_int_equal(busrt_client_connected(w1), 0);
    assert_int_equal(busrt_send(w1, "pf.other", "x", 1, 0, NULL), BUSRT_E_CLOSED);
    expect_nothing(other, 50);
    busrt_client_close(w1);
    busrt_client_close(other);
    busrt_client_close(p);
}

static void test_many_topics_and_big_payload(void **state)
{
    (void)state;
    busrt_client *c = cx(G.sock, "big.c");
    enum { N = 700 };
    static char names[N][16];
    const char *topics[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "big/%d", i);
        topics[i] = names[i];
    }
    uint32_t op;
    /* 1399 iovec pieces: more than one sendmsg() takes. */
    acked(c, busrt_subscribe_many(c, topics, N, BUSRT_QOS_PROCESSED, &op), op);
    acked(c, busrt_publish(c, "big/699", "last", 4, BUSRT_QOS_PROCESSED, &op), op);
    expect_frame(c, BUSRT_KIND_PUBLISH, "big.c", "big/699", "last", 4);
    size_t n = 3u * 1024u * 1024u + 7u;
    uint8_t *p = malloc(n);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(i * 31u);
    }
    acked(c, busrt_send(c, "big.c", p, n, BUSRT_QOS_PROCESSED, &op), op);
    expect_frame(c, BUSRT_KIND_MESSAGE, "big.c", NULL, p, n);
    free(p);
    busrt_client_close(c);
}

static void test_acks_without_waiting(void **state)
{
    (void)state;
    busrt_client *c = cx(G.sock, "ack.c");
    uint32_t op, first = 0, last = 0;
    /* Not waiting at all: op_id NULL. */
    for (int i = 0; i < 200; i++) {
        assert_int_equal(busrt_send(c, "ack.none", "x", 1, BUSRT_QOS_PROCESSED, NULL), 0);
    }
    /* Tracked but never collected (far more than the initial table). */
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(busrt_publish(c, "ack/t", "x", 1, BUSRT_QOS_PROCESSED, &op), 0);
        if (i == 0) {
            first = op;
        }
        last = op;
    }
    assert_int_equal(busrt_wait_ack(c, last, T), 0);
    int r = busrt_wait_ack(c, first, 0);
    assert_true(r == 0 || r == BUSRT_E_UNKNOWN_OP);
    /* Ops complete in any order of waiting. */
    uint32_t o1, o2, o3;
    assert_int_equal(busrt_send(c, "ack.c", "1", 1, BUSRT_QOS_PROCESSED, &o1), 0);
    assert_int_equal(busrt_send(c, "ack.none", "2", 1, BUSRT_QOS_PROCESSED, &o2), 0);
    assert_int_equal(busrt_subscribe(c, "ack/x", BUSRT_QOS_PROCESSED, &o3), 0);
    assert_int_equal(busrt_wait_ack(c, o3, T), 0);
    assert_int_equal(busrt_wait_ack(c, o2, T), BUSRT_E_NOT_REGISTERED);
    assert_int_equal(busrt_wait_ack(c, o1, T), 0);
    expect_msg(c, "ack.c", "1");
    expect_nothing(c, 50);
    busrt_client_close(c);
}

static void test_ack_timeout(void **state)
{
    (void)state;
    if (th_inproc()) {
        skip(); /* stops or kills a broker process with signals */
    }
    struct th_broker b;
    assert_int_equal(th_broker_start(&b, NULL), 0);
    busrt_client *c = cx(b.sock, "ackto.c");
    uint32_t op;
    th_broker_signal(&b, SIGSTOP);
    assert_int_equal(busrt_send(c, "ackto.c", "x", 1, BUSRT_QOS_PROCESSED, &op), 0);
    int64_t t0 = th_now_ms();
    assert_int_equal(busrt_wait_ack(c, op, 200), BUSRT_E_TIMEOUT);
    int64_t dt = th_now_ms() - t0;
    assert_true(dt >= 190 && dt < th_ms(1500));
    t0 = th_now_ms();
    assert_int_equal(busrt_wait_ack(c, op, 0), BUSRT_E_TIMEOUT);
    assert_true(th_now_ms() - t0 < 100);
    struct busrt_frame f;
    assert_int_equal(busrt_recv(c, &f, 0), BUSRT_E_TIMEOUT);
    th_broker_signal(&b, SIGCONT);
    /* Still awaited after a timeout. */
    assert_int_equal(busrt_wait_ack(c, op, T), 0);
    expect_msg(c, "ackto.c", "x");
    busrt_client_close(c);
    th_broker_stop(&b);
}

static void test_recv_timeout(void **state)
{
    (void)state;
    busrt_client *c = cx(G.sock, "rto.c");
    struct busrt_frame f;
    int64_t t0 = th_now_ms();
    assert_int_equal(busrt_recv(c, &f, 150), BUSRT_E_TIMEOUT);
    int64_t dt = th_now_ms() - t0;
    assert_true(dt >= 145 && dt < th_ms(1500));
    t0 = th_now_ms();
    assert_int_equal(busrt_recv(c, &f, 0), BUSRT_E_TIMEOUT);
    assert_true(th_now_ms() - t0 < 100);
    assert_int_equal(busrt_poll(c), 0);
    assert_int_equal(busrt_recv(c, NULL, 0), BUSRT_E_INVAL);
    busrt_client_close(c);
}

/* A frame view stays valid across sends, ACK waits and buffer growth, until
 * the next busrt_recv. */
static void test_view_stability(void **state)
{
    (void)state;
    busrt_client *a = cx(G.sock, "view.a");
    busrt_client *b = cx(G.sock, "view.b");
    enum { NF = 24, SZ = 70000 };
    uint8_t *p = malloc(SZ);
    assert_non_null(p);
    uint32_t op;
    for (int k = 0; k < NF; k++) {
        memset(p, 'A' + k, SZ);
        assert_int_equal(busrt_send(b, "view.a", p, SZ, BUSRT_QOS_NO, NULL), 0);
    }
    acked(b, busrt_send(b, "view.b", "sync", 4, BUSRT_QOS_PROCESSED, &op), op);
    expect_msg(b, "view.b", "sync");
    struct busrt_frame f;
    assert_int_equal(busrt_recv(a, &f, T), 0);
    const uint8_t *first = f.payload;
    assert_int_equal(f.payload_len, SZ);
    /* Read everything else while the view is live. */
    for (int i = 0; i < 10; i++) {
        acked(a, busrt_send(a, "view.b", f.payload, 16, BUSRT_QOS_PROCESSED, &op), op);
        assert_true(busrt_poll(a) >= 0);
    }
    th_sleep_ms(50);
    assert_int_equal(busrt_poll(a), 1);
    for (size_t i = 0; i < SZ; i++) {
        if (first[i] != 'A') {
            fail_msg("view changed at %zu", i);
        }
    }
    assert_string_equal(f.sender, "view.b");
    for (int k = 1; k < NF; k++) {
        assert_int_equal(busrt_recv(a, &f, T), 0);
        assert_int_equal(f.payload_len, SZ);
        assert_int_equal(f.payload[0], 'A' + k);
        assert_int_equal(f.payload[SZ - 1], 'A' + k);
    }
    for (int i = 0; i < 10; i++) {
        expect_msg(b, "view.a", "AAAAAAAAAAAAAAAA");
    }
    free(p);
    busrt_client_close(a);
    busrt_client_close(b);
}

/* ---- Keep-alive -------------------------------------------------------------------- */

static void test_keepalive_short_broker_timeout(void **state)
{
    (void)state;
    static const char *const extra[] = {"-t", "0.5", NULL};
    struct th_broker b;
    assert_int_equal(th_broker_start(&b, extra), 0);
    busrt_client *c = cx(b.sock, "ka.c");
    busrt_client *lazy = cx(b.sock, "ka.lazy");
    /* ka.c: idle, but calls busrt_recv every 100 ms, for 3 s (6 x T); the
     * library pings often enough that the broker keeps it (REQ-KA-4). */
    int64_t end = th_now_ms() + 3000;
    struct busrt_frame f;
    while (th_now_ms() < end) {
        assert_int_equal(busrt_recv(c, &f, 100), BUSRT_E_TIMEOUT);
    }
    assert_int_equal(busrt_client_connected(c), 1);
    uint32_t op;
    acked(c, busrt_send(c, "ka.c", "alive", 5, BUSRT_QOS_PROCESSED, &op), op);
    expect_msg(c, "ka.c", "alive");
    /* ka.lazy broke the rule (no call for 3 s > 1.25 x T): dropped. */
    int r = busrt_recv(lazy, &f, T);
    assert_int_equal(r, BUSRT_E_CLOSED);
    busrt_client_close(lazy);
    /* One blocking call with a long timeout keeps itself alive. */
    assert_int_equal(busrt_recv(c, &f, 2000), BUSRT_E_TIMEOUT);
    acked(c, busrt_send(c, "ka.c", "still", 5, BUSRT_QOS_PROCESSED, &op), op);
    expect_msg(c, "ka.c", "still");
    busrt_client_close(c);
    th_broker_stop(&b);
}

static void test_external_event_loop(void **state)
{
    (void)state;
    static const char *const extra[] = {"-t", "0.5", NULL};
    struct th_broker b;
    assert_int_equal(th_broker_start(&b, extra), 0);
    busrt_client *c = cx(b.sock, "loop.c");
    busrt_client *s = cx(b.sock, "loop.s");
    int64_t start = th_now_ms(), end = start + 3000;
    int sent = 0, got = 0;
    while (th_now_ms() < end) {
        if (!sent && th_now_ms() - start > 1500) {
            assert_int_equal(busrt_send(s, "loop.c", "tick", 4, BUSRT_QOS_NO, NULL), 0);
            sent = 1;
        }
        struct pollfd p = {busrt_fd(c), POLLIN, 0};
        int to = busrt_poll_timeout_ms(c);
        assert_true(to >= 0 && to <= 1000);
        (void)poll(&p, 1, to < 50 ? to : 50);
        int r = busrt_poll(c);
        assert_true(r >= 0);
        if (r == 1) {
            struct busrt_frame f;
            assert_int_equal(busrt_recv(c, &f, 0), 0);
            assert_int_equal(f.payload_len, 4);
            got++;
        }
        struct busrt_frame f2;
        (void)busrt_recv(s, &f2, 0); /* keeps s alive too */
    }
    assert_int_equal(got, 1);
    assert_int_equal(busrt_client_connected(c), 1);
    uint32_t op;
    acked(c, busrt_send(c, "loop.s", "bye", 3, BUSRT_QOS_PROCESSED, &op), op);
    expect_msg(s, "loop.c", "bye");
    busrt_client_close(c);
    busrt_client_close(s);
    th_broker_stop(&b);
}

static void test_idle_timeout(void **state)
{
    (void)state;
    if (th_inproc()) {
        skip(); /* stops or kills a broker process with signals */
    }
    static const char *const extra[] = {"-t", "0.2", NULL};
    struct th_broker b;
    assert_int_equal(th_broker_start(&b, extra), 0);
    struct busrt_client_config cfg;
    busrt_client_config_init(&cfg, "idle.c");
    cfg.idle_timeout_ms = th_ms(600);
    busrt_client *c = NULL;
    assert_int_equal(busrt_client_connect(&c, b.sock, &cfg), 0);
    struct busrt_frame f;
    /* Broker NOPs (every 100 ms) keep it from going idle. */
    assert_int_equal(busrt_recv(c, &f, 1000), BUSRT_E_TIMEOUT);
    assert_int_equal(busrt_client_connected(c), 1);
    th_broker_signal(&b, SIGSTOP);
    int64_t t0 = th_now_ms();
    assert_int_equal(busrt_recv(c, &f, th_ms(5000)), BUSRT_E_IDLE);
    assert_true(th_now_ms() - t0 < th_ms(2000));
    assert_int_equal(busrt_client_connected(c), 0);
    assert_int_equal(busrt_send(c, "idle.c", "x", 1, 0, NULL), BUSRT_E_IDLE);
    assert_int_equal(busrt_poll(c), BUSRT_E_IDLE);
    busrt_client_close(c);
    th_broker_signal(&b, SIGCONT);
    th_broker_stop(&b);
}

static void test_connection_loss(void **state)
{
    (void)state;
    if (th_inproc()) {
        skip(); /* stops or kills a broker process with signals */
    }
    struct th_broker b;
    assert_int_equal(th_broker_start(&b, NULL), 0);
    busrt_client *d = cx(b.sock, "loss.d");
    uint32_t op;
    struct busrt_frame f;
    /* Orderly shutdown: the announcement on .broker/warn, then EOF. */
    acked(d, busrt_subscribe(d, "x", BUSRT_QOS_PROCESSED, &op), op);
    th_broker_signal(&b, SIGTERM);
    assert_int_equal(busrt_recv(d, &f, T), 0);
    assert_int_equal(f.kind, BUSRT_KIND_PUBLISH);
    assert_string_equal(f.sender, ".broker");
    assert_string_equal(f.topic, ".broker/warn");
    assert_int_equal(busrt_recv(d, &f, T), BUSRT_E_CLOSED);
    assert_int_equal(busrt_send(d, "loss.d", "x", 1, 0, NULL), BUSRT_E_CLOSED);
    assert_int_equal(busrt_poll(d), BUSRT_E_CLOSED);
    busrt_client_close(d);
    th_broker_stop(&b);
    /* A crash while an ACK is awaited fails the wait (REQ-ERR-6). */
    assert_int_equal(th_broker_start(&b, NULL), 0);
    d = cx(b.sock, "loss.e");
    th_broker_signal(&b, SIGSTOP);
    assert_int_equal(busrt_send(d, "loss.e", "x", 1, BUSRT_QOS_PROCESSED, &op), 0);
    th_broker_signal(&b, SIGKILL);
    assert_int_equal(busrt_wait_ack(d, op, T), BUSRT_E_CLOSED);
    assert_int_equal(busrt_wait_ack(d, op, 0), BUSRT_E_UNKNOWN_OP);
    busrt_client_close(d);
    th_broker_stop(&b);
}

/* ---- Threads and descriptors ---------------------------------------------------------- */

struct thr_arg {
    const char *addr;
    int idx;
    int ok;
};

static void *thr_main(void *p)
{
    struct thr_arg *a = p;
    char name[32], payload[64];
    snprintf(name, sizeof name, "thr.%d", a->idx);
    busrt_client *c = NULL;
    if (th_connect(a->addr, name, &c) != 0) {
        return NULL;
    }
    int ok = 1;
    for (int i = 0; i < 300 && ok; i++) {
        int n = snprintf(payload, sizeof payload, "%d:%d", a->idx, i);
        uint32_t op;
        struct busrt_frame f;
        ok = busrt_send(c, name, payload, (size_t)n, BUSRT_QOS_PROCESSED, &op) == 0 &&
             busrt_wait_ack(c, op, th_ms(5000)) == 0 && busrt_recv(c, &f, th_ms(5000)) == 0 &&
             f.payload_len == (size_t)n && memcmp(f.payload, payload, (size_t)n) == 0;
    }
    busrt_client_close(c);
    a->ok = ok;
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    pthread_t th[4];
    struct thr_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].addr = i % 2 == 0 ? G.sock : G.tcp;
        args[i].idx = i;
        args[i].ok = 0;
        assert_int_equal(pthread_create(&th[i], NULL, thr_main, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].ok, 1);
    }
}

static void test_fd_above_fd_setsize(void **state)
{
    (void)state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur < 1200) {
        rl.rlim_cur = rl.rlim_max < 1200 ? rl.rlim_max : 1200;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
        (void)getrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < 1200) {
        skip();
    }
    int fds[1200];
    int n = 0;
    int fd;
    while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0 && fd < 1100 && n < 1200) {
        fds[n++] = fd;
    }
    if (fd >= 0) {
        fds[n++] = fd;
    }
    busrt_client *c = cx(G.sock, "fd.high");
    assert_true(busrt_fd(c) >= 1024);
    uint32_t op;
    acked(c, busrt_send(c, "fd.high", "hi", 2, BUSRT_QOS_PROCESSED, &op), op);
    expect_msg(c, "fd.high", "hi");
    struct busrt_frame f;
    assert_int_equal(busrt_recv(c, &f, 50), BUSRT_E_TIMEOUT);
    busrt_client_close(c);
    for (int i = 0; i < n; i++) {
        close(fds[i]);
    }
}

int main(void)
{
    th_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_unix),
        cmocka_unit_test(test_connect_tcp),
        cmocka_unit_test(test_bad_addresses),
        cmocka_unit_test(test_refused_names),
        cmocka_unit_test(test_refused_limits),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_send_every_qos),
        cmocka_unit_test(test_broadcast),
        cmocka_unit_test(test_pubsub),
        cmocka_unit_test(test_publish_for_and_secondaries),
        cmocka_unit_test(test_many_topics_and_big_payload),
        cmocka_unit_test(test_acks_without_waiting),
        cmocka_unit_test(test_ack_timeout),
        cmocka_unit_test(test_recv_timeout),
        cmocka_unit_test(test_view_stability),
        cmocka_unit_test(test_keepalive_short_broker_timeout),
        cmocka_unit_test(test_external_event_loop),
        cmocka_unit_test(test_idle_timeout),
        cmocka_unit_test(test_connection_loss),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_fd_above_fd_setsize),
    };
    return cmocka_run_group_tests_name("libbusrt", tests, th_group_setup_tcp, th_group_teardown);
}
