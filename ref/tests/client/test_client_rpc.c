/* libbusrt RPC layer: calls to .broker, calls between two library clients
 * (a server thread running busrt_rpc_serve), errors, call0, notifications,
 * malformed payloads, and the bytes on the wire. */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "busrt/client.h"
#include "busrt/codes.h"
#include "busrt/rpc.h"
#include "harness.h"

#define G th_group /* the group's shared broker (harness.c) */

#define T th_ms(3000)

static busrt_client *cx(const char *name)
{
    return th_connect_ok(G.sock, name);
}

static const void *find_bytes(const void *hay, size_t n, const void *needle, size_t m)
{
    const uint8_t *h = hay;
    for (size_t i = 0; m <= n && i <= n - m; i++) {
        if (memcmp(h + i, needle, m) == 0) {
            return h + i;
        }
    }
    return NULL;
}

/* 1 when the msgpack map mp has a string key (shallow scan, fixmap/fixstr
 * keys only, which is what .broker sends). */
static int mp_has_key(const uint8_t *mp, size_t n, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i + 1 + kl <= n; i++) {
        if (mp[i] == (uint8_t)(0xA0u | kl) && memcmp(mp + i + 1, key, kl) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- .broker --------------------------------------------------------------------- */

static void test_broker_methods(void **state)
{
    (void)state;
    busrt_client *c = cx("rb.c");
    struct busrt_rpc_reply r;
    assert_int_equal(busrt_rpc_call(c, ".broker", "test", NULL, 0, BUSRT_QOS_PROCESSED, T, &r), 0);
    static const uint8_t ok[] = {0x81, 0xA2, 0x6F, 0x6B, 0xC3};
    assert_int_equal(r.code, 0);
    assert_int_equal(r.len, sizeof ok);
    assert_memory_equal(r.data, ok, sizeof ok);
    assert_int_equal(busrt_rpc_call(c, ".broker", "info", NULL, 0, BUSRT_QOS_REALTIME_PROCESSED,
                                    T, &r),
                     0);
    assert_true(mp_has_key(r.data, r.len, "version"));
    assert_true(mp_has_key(r.data, r.len, "author"));
    assert_int_equal(busrt_rpc_call(c, ".broker", "stats", NULL, 0, BUSRT_QOS_PROCESSED, T, &r),
                     0);
    assert_true(mp_has_key(r.data, r.len, "uptime"));
    assert_true(mp_has_key(r.data, r.len, "w_bytes"));
    assert_int_equal(
        busrt_rpc_call(c, ".broker", "client.list", NULL, 0, BUSRT_QOS_PROCESSED, T, &r), 0);
    assert_true(mp_has_key(r.data, r.len, "clients"));
    assert_non_null(find_bytes(r.data, r.len, "rb.c", 4));
    /* benchmark.test echoes the params, given as iovec pieces. */
    uint8_t big[3000];
    for (size_t i = 0; i < sizeof big; i++) {
        big[i] = (uint8_t)i;
    }
    struct iovec v[3] = {{big, 1000}, {big + 1000, 0}, {big + 1000, 2000}};
    assert_int_equal(busrt_rpc_callv(c, ".broker", "benchmark.test", v, 3, BUSRT_QOS_PROCESSED,
                                     T, &r),
                     0);
    assert_int_equal(r.len, sizeof big);
    assert_memory_equal(r.data, big, sizeof big);
    /* Errors: unknown method, unexpected params (empty message). */
    assert_int_equal(busrt_rpc_call(c, ".broker", "nope", NULL, 0, BUSRT_QOS_PROCESSED, T, &r),
                     BUSRT_E_RPC);
    assert_int_equal(r.code, BUSRT_RPC_E_METHOD_NOT_FOUND);
    static const uint8_t params[] = {0x81, 0xA1, 'x', 0x01};
    assert_int_equal(busrt_rpc_call(c, ".broker", "test", params, sizeof params,
                                    BUSRT_QOS_PROCESSED, T, &r),
                     BUSRT_E_RPC);
    assert_int_equal(r.code, BUSRT_RPC_E_INVALID_PARAMS);
    /* Without an ACK QoS it works too. */
    assert_int_equal(busrt_rpc_call(c, ".broker", "test", NULL, 0, BUSRT_QOS_NO, T, &r), 0);
    assert_int_equal(busrt_rpc_call(c, ".broker", "test", NULL, 0, BUSRT_QOS_REALTIME, T, &r), 0);
    /* Invalid arguments. */
    assert_int_equal(busrt_rpc_call(c, ".broker", "", NULL, 0, 1, T, &r), BUSRT_E_INVAL);
    assert_int_equal(busrt_rpc_call(c, NULL, "test", NULL, 0, 1, T, &r), BUSRT_E_INVAL);
    assert_int_equal(busrt_rpc_call(c, ".broker", "test", NULL, 0, 1, T, NULL), BUSRT_E_INVAL);
    assert_int_equal(busrt_rpc_call(c, ".broker", "test", NULL, 0, 9, T, &r), BUSRT_E_INVAL);
    /* Nothing stray is left for busrt_recv. */
    struct busrt_frame f;
    assert_int_equal(busrt_recv(c, &f, 100), BUSRT_E_TIMEOUT);
    busrt_client_close(c);
}

static void test_broker_notify_and_call0(void **state)
{
    (void)state;
    busrt_client *c = cx("rb.n");
    uint32_t op;
    assert_int_equal(busrt_rpc_notify(c, ".broker", "hello", 5, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(c, op, T), 0);
    assert_int_equal(busrt_rpc_call0(c, ".broker", "test", NULL, 0, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(c, op, T), 0);
    struct iovec v = {(void *)(uintptr_t)"x", 1};
    assert_int_equal(busrt_rpc_call0v(c, ".broker", "benchmark.test", &v, 1, 1, &op), 0);
    assert_int_equal(busrt_wait_ack(c, op, T), 0);
    assert_int_equal(busrt_rpc_notifyv(c, ".broker", &v, 1, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(c, op, T), 0);
    /* No reply to call0 / notifications (REQ-RPC-5). */
    struct busrt_frame f;
    assert_int_equal(busrt_recv(c, &f, 300), BUSRT_E_TIMEOUT);
    struct busrt_rpc_reply r;
    assert_int_equal(busrt_rpc_call(c, ".broker", "test", NULL, 0, BUSRT_QOS_PROCESSED, T, &r), 0);
    busrt_client_close(c);
}

static void test_call_unknown_target(void **state)
{
    (void)state;
    busrt_client *c = cx("rb.u");
    struct busrt_rpc_reply r;
    int64_t t0 = th_now_ms();
    assert_int_equal(
        busrt_rpc_call(c, "rb.nobody", "m", NULL, 0, BUSRT_QOS_PROCESSED, th_ms(5000), &r),
        BUSRT_E_RPC);
    /* REQ-RPC-6: at once, -32000 - 0x71. */
    assert_true(th_now_ms() - t0 < th_ms(2000));
    assert_int_equal(r.code, -32113);
    assert_true(r.len > 0);
    assert_non_null(find_bytes(r.data, r.len, "not registered", 14));
    assert_int_equal(busrt_rpc_call(c, "rb.nobody", "m", NULL, 0, BUSRT_QOS_REALTIME_PROCESSED,
                                    T, &r),
                     BUSRT_E_RPC);
    assert_int_equal(r.code, BUSRT_RPC_E_ACK_BASE - 0x71);
    /* Without an ACK the caller can only time out. */
    assert_int_equal(busrt_rpc_call(c, "rb.nobody", "m", NULL, 0, BUSRT_QOS_NO, 200, &r),
                     BUSRT_E_TIMEOUT);
    busrt_client_close(c);
}

/* ---- Two library clients ------------------------------------------------------------- */

struct server {
    busrt_client *c;
    struct busrt_rpc_server s;
    pthread_t th;
    int serve_result;
    atomic_int notifications;
    atomic_int call0s;
    atomic_int frames;
    char last_note[64];
    uint8_t proxy_buf[64];
};

static int srv_call(void *ctx, busrt_client *c, const struct busrt_rpc_event *ev,
                    struct busrt_rpc_result *res)
{
    struct server *sv = ctx;
    const char *m = ev->method;
    if (strlen(m) != ev->method_len) {
        return BUSRT_RPC_E_INTERNAL;
    }
    if (ev->call_id == 0) {
        atomic_fetch_add(&sv->call0s, 1);
        return 0;
    }
    if (strcmp(m, "echo") == 0) {
        res->data = ev->data;
        res->len = ev->data_len;
        return 0;
    }
    if (strcmp(m, "who") == 0) {
        res->data = ev->frame->sender;
        res->len = ev->frame->sender_len;
        return 0;
    }
    if (strcmp(m, "fail") == 0) {
        res->data = "bad";
        res->len = 3;
        return BUSRT_RPC_E_INVALID_PARAMS;
    }
    if (strcmp(m, "custom") == 0) {
        return 1234;
    }
    if (strcmp(m, "huge.code") == 0) {
        return 100000; /* not an i16: answered -32603 */
    }
    if (strcmp(m, "slow") == 0) {
        th_sleep_ms(th_ms(400));
        res->data = "late";
        res->len = 4;
        return 0;
    }
    if (strcmp(m, "proxy") == 0) {
        /* A call made from inside a handler, with params that point into
         * the request being handled: the frame view must survive it. */
        struct busrt_rpc_reply r;
        int e = busrt_rpc_call(c, ".broker", "benchmark.test", ev->data, ev->data_len,
                               BUSRT_QOS_PROCESSED, th_ms(3000), &r);
        if (e != 0 || r.len > sizeof sv->proxy_buf) {
            return BUSRT_RPC_E_INTERNAL;
        }
        memcpy(sv->proxy_buf, r.data, r.len);
        res->data = sv->proxy_buf;
        res->len = r.len;
        return 0;
    }
    if (strcmp(m, "quit") == 0) {
        sv->s.stop = 1;
        return 0;
    }
    return BUSRT_RPC_E_METHOD_NOT_FOUND;
}

static int srv_note(void *ctx, busrt_client *c, const struct busrt_rpc_event *ev,
                    struct busrt_rpc_result *res)
{
    struct server *sv = ctx;
    (void)c;
    (void)res;
    size_t n = ev->data_len < sizeof sv->last_note - 1 ? ev->data_len : sizeof sv->last_note - 1;
    memcpy(sv->last_note, ev->data, n);
    sv->last_note[n] = '\0';
    atomic_fetch_add(&sv->notifications, 1);
    return 0;
}

static void srv_frame(void *ctx, busrt_client *c, const struct busrt_frame *f)
{
    struct server *sv = ctx;
    (void)c;
    (void)f;
    atomic_fetch_add(&sv->frames, 1);
}

static void count_frame(void *ctx, busrt_client *c, const struct busrt_frame *f)
{
    (void)c;
    (void)f;
    (*(int *)ctx)++;
}

static int count_call(void *ctx, busrt_client *c, const struct busrt_rpc_event *ev,
                      struct busrt_rpc_result *res)
{
    (void)c;
    (void)ev;
    (void)res;
    (*(int *)ctx)++;
    return 0;
}

static void *srv_main(void *p)
{
    struct server *sv = p;
    sv->serve_result = busrt_rpc_serve(sv->c, &sv->s, th_ms(20000));
    return NULL;
}

static void server_start(struct server *sv, const char *name)
{
    memset(sv, 0, sizeof *sv);
    sv->c = cx(name);
    sv->s.on_call = srv_call;
    sv->s.on_notification = srv_note;
    sv->s.on_frame = srv_frame;
    sv->s.ctx = sv;
    atomic_init(&sv->notifications, 0);
    atomic_init(&sv->call0s, 0);
    atomic_init(&sv->frames, 0);
    assert_int_equal(pthread_create(&sv->th, NULL, srv_main, sv), 0);
}

static void server_stop(struct server *sv, busrt_client *caller, const char *name)
{
    struct busrt_rpc_reply r;
    assert_int_equal(busrt_rpc_call(caller, name, "quit", NULL, 0, BUSRT_QOS_PROCESSED, T, &r), 0);
    pthread_join(sv->th, NULL);
    assert_int_equal(sv->serve_result, 0);
    busrt_client_close(sv->c);
}

static void test_calls_between_clients(void **state)
{
    (void)state;
    struct server sv;
    server_start(&sv, "rpc.srv");
    busrt_client *c = cx("rpc.cli");
    struct busrt_rpc_reply r;
    /* Reply. */
    static const uint8_t params[] = {0x01, 0x02, 0x00, 0x03};
    assert_int_equal(busrt_rpc_call(c, "rpc.srv", "echo", params, sizeof params,
                                    BUSRT_QOS_PROCESSED, T, &r),
                     0);
    assert_int_equal(r.code, 0);
    assert_int_equal(r.len, sizeof params);
    assert_memory_equal(r.data, params, sizeof params);
    struct iovec v[2] = {{(void *)(uintptr_t)"pie", 3}, {(void *)(uintptr_t)"ces", 3}};
    assert_int_equal(busrt_rpc_callv(c, "rpc.srv", "echo", v, 2, BUSRT_QOS_REALTIME_PROCESSED, T,
                                     &r),
                     0);
    assert_int_equal(r.len, 6);
    assert_memory_equal(r.data, "pieces", 6);
    assert_int_equal(busrt_rpc_call(c, "rpc.srv", "echo", NULL, 0, BUSRT_QOS_PROCESSED, T, &r), 0);
    assert_int_equal(r.len, 0);
    assert_int_equal(busrt_rpc_call(c, "rpc.srv", "who", NULL, 0, BUSRT_QOS_PROCESSED, T, &r), 0);
    assert_int_equal(r.len, 7);
    assert_memory_equal(r.data, "rpc.cli", 7);
    /* Error replies. */
    assert_int_equal(busrt_rpc_call(c, "rpc.srv", "fail", NULL, 0, BUSRT_QOS_PROCESSED, T, &r),
                     BUSRT_E_RPC);
    assert_int_equal(r.code, -32602);
    assert_int_equal(r.len, 3);
    assert_memory_equal(r.data, "bad", 3);
    assert_int_equal(busrt_rpc_call(c, "rpc.srv", "custom", NULL, 0, BUSRT_QOS_PROCESSED, T, &r),
                     BUSRT_E_RPC);
    assert_int_equal(r.code, 1234);
    assert_int_equal(r.len, 0);
    assert_int_equal(
        busrt_rpc_call(c, "rpc.srv", "huge.code", NULL, 0, BUSRT_QOS_PROCESSED, T, &r),
        BUSRT_E_RPC);
    assert_int_equal(r.code, BUSRT_RPC_E_INTERNAL);
    assert_int_equal(busrt_rpc_call(c, "rpc.srv", "missing", NULL, 0, BUSRT_QOS_PROCESSED, T, &r),
                     BUSRT_E_RPC);
    assert_int_equal(r.code, BUSRT_RPC_E_METHOD_NOT_FOUND);
    /* A nested call inside a handler. */
    assert_int_equal(busrt_rpc_call(c, "rpc.srv", "proxy", "via", 3, BUSRT_QOS_PROCESSED, T, &r),
                     0);
    assert_int_equal(r.len, 3);
    assert_memory_equal(r.data, "via", 3);
    /* call0 and notifications: handled, never answered. */
    uint32_t op;
    assert_int_equal(busrt_rpc_call0(c, "rpc.srv", "c0", "p", 1, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(c, op, T), 0);
    assert_int_equal(busrt_rpc_notify(c, "rpc.srv", "note!", 5, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(c, op, T), 0);
    /* A call after them is served after them (one sender, in order). */
    assert_int_equal(busrt_rpc_call(c, "rpc.srv", "echo", NULL, 0, BUSRT_QOS_PROCESSED, T, &r), 0);
    assert_int_equal(atomic_load(&sv.call0s), 1);
    assert_int_equal(atomic_load(&sv.notifications), 1);
    assert_string_equal(sv.last_note, "note!");
    /* Non-RPC traffic goes to on_frame. */
    assert_int_equal(busrt_broadcast(c, "rpc.srv", "b", 1, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(c, op, T), 0);
    assert_int_equal(busrt_send(c, "rpc.srv", "\x05junk", 5, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(c, op, T), 0);
    assert_int_equal(busrt_rpc_call(c, "rpc.srv", "echo", NULL, 0, BUSRT_QOS_PROCESSED, T, &r), 0);
    assert_int_equal(atomic_load(&sv.frames), 2);
    /* Nothing but replies came back, and they were all consumed. */
    struct busrt_frame f;
    assert_int_equal(busrt_recv(c, &f, 100), BUSRT_E_TIMEOUT);
    server_stop(&sv, c, "rpc.srv");
    busrt_client_close(c);
}

static void test_call_timeout_and_late_reply(void **state)
{
    (void)state;
    struct server sv;
    server_start(&sv, "rpc.slow");
    busrt_client *c = cx("rpc.late");
    struct busrt_rpc_reply r;
    int64_t t0 = th_now_ms();
    assert_int_equal(busrt_rpc_call(c, "rpc.slow", "slow", NULL, 0, BUSRT_QOS_PROCESSED, 100, &r),
                     BUSRT_E_TIMEOUT);
    assert_true(th_now_ms() - t0 < th_ms(1000));
    /* The next call gets its own answer, not the late one. */
    assert_int_equal(busrt_rpc_call(c, "rpc.slow", "echo", "mine", 4, BUSRT_QOS_PROCESSED, T, &r),
                     0);
    assert_int_equal(r.len, 4);
    assert_memory_equal(r.data, "mine", 4);
    /* The late reply reaches busrt_recv as a message; the RPC layer
     * ignores it (REQ-RPC-8). */
    struct busrt_frame f;
    assert_int_equal(busrt_recv(c, &f, T), 0);
    assert_int_equal(f.kind, BUSRT_KIND_MESSAGE);
    assert_int_equal(f.payload[0], BUSRT_RPC_REPLY);
    struct busrt_rpc_event ev;
    assert_int_equal(busrt_rpc_parse(&f, &ev), BUSRT_ERR_OP);
    struct busrt_rpc_server s;
    memset(&s, 0, sizeof s);
    int called = 0;
    s.on_frame = count_frame; /* must not be called */
    s.on_call = count_call;
    s.ctx = &called;
    assert_int_equal(busrt_rpc_dispatch(c, &s, &f), 0);
    assert_int_equal(called, 0);
    server_stop(&sv, c, "rpc.slow");
    busrt_client_close(c);
}

static void test_serve_malformed_and_timeout(void **state)
{
    (void)state;
    busrt_client *srv = cx("rpc.mal");
    busrt_client *c = cx("rpc.mal.cli");
    struct server sv; /* only as the ctx of srv_frame / srv_call */
    memset(&sv, 0, sizeof sv);
    atomic_init(&sv.frames, 0);
    atomic_init(&sv.call0s, 0);
    atomic_init(&sv.notifications, 0);
    struct busrt_rpc_server s;
    memset(&s, 0, sizeof s);
    s.on_call = srv_call;
    s.on_frame = srv_frame;
    s.ctx = &sv;
    /* Malformed RPC payloads are never answered (REQ-RPC-9). */
    static const uint8_t req_nonul[] = {0x01, 0x07, 0x00, 0x00, 0x00, 'a', 'b'};
    static const uint8_t req_short[] = {0x01, 0x07};
    static const uint8_t err_short[] = {0x12, 0x07, 0x00, 0x00, 0x00, 0x01};
    static const uint8_t stray_reply[] = {0x11, 0x09, 0x00, 0x00, 0x00, 'r'};
    uint32_t op;
    assert_int_equal(busrt_send(srv, "rpc.mal", NULL, 0, BUSRT_QOS_NO, NULL), 0);
    assert_int_equal(busrt_send(c, "rpc.mal", req_nonul, sizeof req_nonul, 0, NULL), 0);
    assert_int_equal(busrt_send(c, "rpc.mal", req_short, sizeof req_short, 0, NULL), 0);
    assert_int_equal(busrt_send(c, "rpc.mal", err_short, sizeof err_short, 0, NULL), 0);
    assert_int_equal(busrt_send(c, "rpc.mal", stray_reply, sizeof stray_reply, 0, NULL), 0);
    assert_int_equal(busrt_publish(c, "any", "x", 1, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(c, op, T), 0);
    /* serve with no server at all would time out; here it drains the
     * frames and then times out. */
    int64_t t0 = th_now_ms();
    assert_int_equal(busrt_rpc_serve(srv, &s, 300), BUSRT_E_TIMEOUT);
    assert_true(th_now_ms() - t0 >= 290);
    /* empty, no-NUL request, short request, short error: 4 frames;
     * the stray reply is ignored. */
    assert_int_equal(atomic_load(&sv.frames), 4);
    struct busrt_frame f;
    assert_int_equal(busrt_recv(c, &f, 200), BUSRT_E_TIMEOUT);
    /* A server without on_call answers -32601. */
    struct busrt_rpc_server none;
    memset(&none, 0, sizeof none);
    uint8_t hdr[16];
    int hl = busrt_rpc_request_encode(42, (const uint8_t *)"m", 1, hdr, sizeof hdr);
    assert_int_equal(hl, 7);
    assert_int_equal(busrt_send(c, "rpc.mal", hdr, (size_t)hl, BUSRT_QOS_NO, NULL), 0);
    assert_int_equal(busrt_recv(srv, &f, T), 0);
    assert_int_equal(busrt_rpc_dispatch(srv, &none, &f), 0);
    assert_int_equal(busrt_recv(c, &f, T), 0);
    struct busrt_rpc_header h;
    assert_int_equal(busrt_rpc_decode(f.payload, f.payload_len, &h), 0);
    assert_int_equal(h.kind, BUSRT_RPC_ERROR);
    assert_int_equal(h.call_id, 42);
    assert_int_equal(h.code, BUSRT_RPC_E_METHOD_NOT_FOUND);
    /* Manual replies and errors. */
    assert_int_equal(busrt_rpc_reply(srv, "rpc.mal.cli", 7, "res", 3, BUSRT_QOS_NO), 0);
    assert_int_equal(busrt_recv(c, &f, T), 0);
    assert_int_equal(busrt_rpc_decode(f.payload, f.payload_len, &h), 0);
    assert_int_equal(h.kind, BUSRT_RPC_REPLY);
    assert_int_equal(h.call_id, 7);
    assert_int_equal(h.data.len, 3);
    assert_int_equal(busrt_rpc_error(srv, "rpc.mal.cli", 8, -5, "m", 1, BUSRT_QOS_NO), 0);
    assert_int_equal(busrt_recv(c, &f, T), 0);
    assert_int_equal(busrt_rpc_decode(f.payload, f.payload_len, &h), 0);
    assert_int_equal(h.kind, BUSRT_RPC_ERROR);
    assert_int_equal(h.code, -5);
    assert_int_equal(busrt_rpc_reply(srv, "rpc.mal.cli", 0, "x", 1, 0), BUSRT_E_INVAL);
    assert_int_equal(busrt_rpc_error(srv, "rpc.mal.cli", 0, -5, "x", 1, 0), BUSRT_E_INVAL);
    busrt_client_close(srv);
    busrt_client_close(c);
}

static void test_rpc_parse(void **state)
{
    (void)state;
    struct busrt_frame f;
    memset(&f, 0, sizeof f);
    f.sender = "s";
    f.sender_len = 1;
    f.kind = BUSRT_KIND_MESSAGE;
    struct busrt_rpc_event ev;
    static const uint8_t note[] = {0x00, 'h', 'i'};
    f.payload = note;
    f.payload_len = sizeof note;
    assert_int_equal(busrt_rpc_parse(&f, &ev), 0);
    assert_int_equal(ev.kind, BUSRT_RPC_NOTIFICATION);
    assert_int_equal(ev.call_id, 0);
    assert_string_equal(ev.method, "");
    assert_int_equal(ev.data_len, 2);
    assert_ptr_equal(ev.frame, &f);
    static const uint8_t req[] = {0x01, 0x05, 0x00, 0x00, 0x00, 'm', 'e', 0x00, 'p', 0x00};
    f.payload = req;
    f.payload_len = sizeof req;
    assert_int_equal(busrt_rpc_parse(&f, &ev), 0);
    assert_int_equal(ev.kind, BUSRT_RPC_REQUEST);
    assert_int_equal(ev.call_id, 5);
    assert_string_equal(ev.method, "me");
    assert_int_equal(ev.method_len, 2);
    assert_int_equal(ev.data_len, 2);
    assert_memory_equal(ev.data, "p\0", 2);
    static const uint8_t rep[] = {0x11, 0x05, 0x00, 0x00, 0x00};
    f.payload = rep;
    f.payload_len = sizeof rep;
    assert_int_equal(busrt_rpc_parse(&f, &ev), BUSRT_ERR_OP);
    f.payload_len = 0;
    assert_int_equal(busrt_rpc_parse(&f, &ev), BUSRT_ERR_SHORT);
    static const uint8_t bad[] = {0x33};
    f.payload = bad;
    f.payload_len = 1;
    assert_int_equal(busrt_rpc_parse(&f, &ev), BUSRT_ERR_RPC_KIND);
    f.payload = req;
    f.payload_len = 7; /* "01 id me" without the NUL */
    assert_int_equal(busrt_rpc_parse(&f, &ev), BUSRT_ERR_NOSEP);
    f.kind = BUSRT_KIND_PUBLISH;
    f.payload_len = sizeof req;
    assert_int_equal(busrt_rpc_parse(&f, &ev), BUSRT_ERR_KIND);
    assert_int_equal(busrt_rpc_parse(NULL, &ev), BUSRT_ERR_ARG);
}

/* ---- Bytes on the wire (spec Appendix A.7) ------------------------------------------ */

static const uint8_t A7_CALL[] = {
    /* op id 1, flags 0x52, length 18 */
    0x01, 0x00, 0x00, 0x00, 0x52, 0x12, 0x00, 0x00, 0x00,
    '.', 'b', 'r', 'o', 'k', 'e', 'r', 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, 't', 'e', 's', 't', 0x00};
static const uint8_t A7_REPLY[] = {0x12, 0x12, 0x00, 0x00, 0x00, 0x00, '.',  'b',  'r',
                                   'o',  'k',  'e',  'r',  0x00, 0x11, 0x01, 0x00, 0x00,
                                   0x00, 0x81, 0xA2, 0x6F, 0x6B, 0xC3};
static const uint8_t A7_NOTE[] = {0x02, 0x00, 0x00, 0x00, 0x12, 0x0E, 0x00, 0x00,
                                  0x00, 'a',  'p',  'p',  '.',  't',  'w',  'o',
                                  0x00, 0x00, 'e',  'v',  'e',  'n',  't'};
static const uint8_t A7_CALL0[] = {0x03, 0x00, 0x00, 0x00, 0x12, 0x15, 0x00, 0x00, 0x00, 'a',
                                   'p',  'p',  '.',  't',  'w',  'o',  0x00, 0x01, 0x00, 0x00,
                                   0x00, 0x00, 'l',  'o',  'g',  0x00, 0x81, 0xA1, 0x76, 0x01};

static void fake_rpc(struct th_fake *f, int fd)
{
    if (th_fake_handshake(f, fd) != 0) {
        return;
    }
    size_t n = sizeof A7_CALL;
    if (th_fake_read(fd, f->got, n, th_ms(3000)) != 0) {
        return;
    }
    /* The ACK, then the reply of A.7 (from ".broker", call id 1). */
    static const uint8_t ack[6] = {0xFE, 0x01, 0x00, 0x00, 0x00, 0x01};
    (void)th_fake_write(fd, ack, sizeof ack);
    (void)th_fake_write(fd, A7_REPLY, sizeof A7_REPLY);
    if (th_fake_read(fd, f->got + n, sizeof A7_NOTE + sizeof A7_CALL0, th_ms(3000)) != 0) {
        return;
    }
    f->ngot = n + sizeof A7_NOTE + sizeof A7_CALL0;
    f->ok = th_fake_wait_eof(fd, th_ms(3000)) == 0;
}

static void test_rpc_wire_bytes(void **state)
{
    (void)state;
    if (th_inproc()) {
        skip(); /* talks to a scripted fake broker, not to the embedded one */
    }
    struct th_fake fk;
    assert_int_equal(th_fake_start(&fk, fake_rpc, NULL), 0);
    busrt_client *c = NULL;
    assert_int_equal(th_connect(fk.path, "app.one", &c), 0);
    struct busrt_rpc_reply r;
    assert_int_equal(busrt_rpc_call(c, ".broker", "test", NULL, 0, BUSRT_QOS_PROCESSED, T, &r), 0);
    assert_int_equal(r.len, 5);
    assert_memory_equal(r.data, "\x81\xA2ok\xC3", 5);
    assert_int_equal(busrt_rpc_notify(c, "app.two", "event", 5, BUSRT_QOS_NO, NULL), 0);
    static const uint8_t v1[] = {0x81, 0xA1, 0x76, 0x01};
    assert_int_equal(busrt_rpc_call0(c, "app.two", "log", v1, sizeof v1, BUSRT_QOS_NO, NULL), 0);
    busrt_client_close(c);
    th_fake_join(&fk);
    assert_int_equal(fk.ok, 1);
    assert_memory_equal(fk.got, A7_CALL, sizeof A7_CALL);
    assert_memory_equal(fk.got + sizeof A7_CALL, A7_NOTE, sizeof A7_NOTE);
    assert_memory_equal(fk.got + sizeof A7_CALL + sizeof A7_NOTE, A7_CALL0, sizeof A7_CALL0);
}

int main(void)
{
    th_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_methods),
        cmocka_unit_test(test_broker_notify_and_call0),
        cmocka_unit_test(test_call_unknown_target),
        cmocka_unit_test(test_calls_between_clients),
        cmocka_unit_test(test_call_timeout_and_late_reply),
        cmocka_unit_test(test_serve_malformed_and_timeout),
        cmocka_unit_test(test_rpc_parse),
        cmocka_unit_test(test_rpc_wire_bytes),
    };
    return cmocka_run_group_tests_name("libbusrt-rpc", tests, th_group_setup, th_group_teardown);
}
