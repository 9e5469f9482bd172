/* An embedded broker serving in-process, UNIX-socket and TCP clients at
 * once: every operation in both directions between an in-process client
 * and each kind of socket client, .broker's methods, and the .broker/info
 * announcements of an in-process client seen by a socket client. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <msgpack.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../client/harness.h"
#include "busrt/busrtd.h"
#include "busrt/client.h"
#include "busrt/rpc.h"
#include "embed_util.h"

static busrtd *g_d;
static char g_dir[32], g_sock[64], g_tcp[32];
/* [0] in-process, [1] UNIX socket, [2] TCP */
static busrt_client *g_c[3];
static const char *const g_name[3] = {"mx.in", "mx.ux", "mx.tc"};

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/busrt-emb-XXXXXX");
    if (mkdtemp(g_dir) == NULL) {
        return -1;
    }
    snprintf(g_sock, sizeof g_sock, "%s/bus.sock", g_dir);
    snprintf(g_tcp, sizeof g_tcp, "127.0.0.1:%d", th_free_tcp_port());
    const char *args[] = {"-B", g_sock, "-B", g_tcp, NULL};
    g_d = eu_broker(args);
    if (g_d == NULL || eu_connect(g_d, g_name[0], &g_c[0]) != 0 ||
        th_connect(g_sock, g_name[1], &g_c[1]) != 0 ||
        th_connect(g_tcp, g_name[2], &g_c[2]) != 0) {
        fprintf(stderr, "embed: mixed setup failed (%s, %s)\n", g_sock, g_tcp);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++) {
        busrt_client_close(g_c[i]);
        g_c[i] = NULL;
    }
    busrtd_destroy(g_d); /* removes the socket file */
    return rmdir(g_dir) == 0 ? 0 : -1;
}

/* Sends from a to b with every QoS; the ACK QoS get 01. */
static void send_all_qos(int a, int b)
{
    for (unsigned q = 0; q <= 3u; q++) {
        char p[16];
        snprintf(p, sizeof p, "q%u", q);
        uint32_t op = 0;
        assert_int_equal(busrt_send(g_c[a], g_name[b], p, strlen(p), q, &op), 0);
        if (q % 2u == 1u) {
            assert_int_equal(busrt_wait_ack(g_c[a], op, th_ms(3000)), 0);
        }
        assert_int_equal(eu_expect(g_c[b], BUSRT_KIND_MESSAGE, g_name[a], NULL, p), 0);
    }
    uint32_t op;
    assert_int_equal(busrt_send(g_c[a], "mx.nobody", "x", 1, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(g_c[a], op, th_ms(3000)), BUSRT_E_NOT_REGISTERED);
}

static void t_send(void **state)
{
    (void)state;
    for (int s = 1; s < 3; s++) {
        send_all_qos(0, s);
        send_all_qos(s, 0);
    }
}

static void t_broadcast(void **state)
{
    (void)state;
    for (int from = 0; from < 3; from++) {
        uint32_t op;
        assert_int_equal(busrt_broadcast(g_c[from], "mx.?", "all", 3, BUSRT_QOS_PROCESSED, &op),
                         0);
        assert_int_equal(busrt_wait_ack(g_c[from], op, th_ms(3000)), 0);
        /* The sender matches its own mask too. */
        for (int to = 0; to < 3; to++) {
            assert_int_equal(eu_expect(g_c[to], BUSRT_KIND_BROADCAST, g_name[from], NULL, "all"),
                             0);
        }
        assert_int_equal(busrt_broadcast(g_c[from], "mx.in", "one", 3, BUSRT_QOS_NO, NULL), 0);
        assert_int_equal(eu_expect(g_c[0], BUSRT_KIND_BROADCAST, g_name[from], NULL, "one"), 0);
    }
    for (int to = 0; to < 3; to++) {
        assert_int_equal(eu_quiet(g_c[to], 50), 0);
    }
}

static void t_pubsub(void **state)
{
    (void)state;
    uint32_t op;
    for (int i = 0; i < 3; i++) {
        const char *subs[] = {"mx/+/v", "mw/#"};
        assert_int_equal(busrt_subscribe_many(g_c[i], subs, 2, BUSRT_QOS_PROCESSED, &op), 0);
        assert_int_equal(busrt_wait_ack(g_c[i], op, th_ms(3000)), 0);
    }
    for (int from = 0; from < 3; from++) {
        assert_int_equal(busrt_publish(g_c[from], "mx/a/v", "p1", 2, BUSRT_QOS_PROCESSED, &op),
                         0);
        assert_int_equal(busrt_wait_ack(g_c[from], op, th_ms(3000)), 0);
        for (int to = 0; to < 3; to++) {
            assert_int_equal(eu_expect(g_c[to], BUSRT_KIND_PUBLISH, g_name[from], "mx/a/v", "p1"),
                             0);
        }
        /* Not matched: "mx/a" (one chunk short), "mw" ("#" needs a chunk). */
        assert_int_equal(busrt_publish(g_c[from], "mx/a", "n", 1, BUSRT_QOS_NO, NULL), 0);
        assert_int_equal(busrt_publish(g_c[from], "mw", "n", 1, BUSRT_QOS_NO, NULL), 0);
        /* Only to the in-process client, then only to the UNIX one. */
        assert_int_equal(busrt_publish_for(g_c[from], "mw/x/y", "mx.in", "pf", 2,
                                           BUSRT_QOS_PROCESSED, &op),
                         0);
        assert_int_equal(busrt_wait_ack(g_c[from], op, th_ms(3000)), 0);
        assert_int_equal(eu_expect(g_c[0], BUSRT_KIND_PUBLISH, g_name[from], "mw/x/y", "pf"), 0);
        assert_int_equal(
            busrt_publish_for(g_c[from], "mw/z", "mx.ux", "pu", 2, BUSRT_QOS_NO, NULL), 0);
        assert_int_equal(eu_expect(g_c[1], BUSRT_KIND_PUBLISH, g_name[from], "mw/z", "pu"), 0);
    }
    for (int to = 0; to < 3; to++) {
        assert_int_equal(eu_quiet(g_c[to], 50), 0);
    }
    /* Exclusions: the in-process client and the TCP one exclude mw/ex/#. */
    assert_int_equal(busrt_exclude(g_c[0], "mw/ex/#", BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(g_c[0], op, th_ms(3000)), 0);
    assert_int_equal(busrt_exclude(g_c[2], "mw/ex/#", BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(g_c[2], op, th_ms(3000)), 0);
    assert_int_equal(busrt_publish(g_c[1], "mw/ex/1", "e", 1, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(g_c[1], op, th_ms(3000)), 0);
    assert_int_equal(eu_expect(g_c[1], BUSRT_KIND_PUBLISH, "mx.ux", "mw/ex/1", "e"), 0);
    assert_int_equal(eu_quiet(g_c[0], 50), 0);
    assert_int_equal(eu_quiet(g_c[2], 50), 0);
    assert_int_equal(busrt_unexclude(g_c[0], "mw/ex/#", BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(g_c[0], op, th_ms(3000)), 0);
    assert_int_equal(busrt_publish(g_c[2], "mw/ex/2", "u", 1, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(g_c[2], op, th_ms(3000)), 0);
    assert_int_equal(eu_expect(g_c[0], BUSRT_KIND_PUBLISH, "mx.tc", "mw/ex/2", "u"), 0);
    assert_int_equal(eu_expect(g_c[1], BUSRT_KIND_PUBLISH, "mx.tc", "mw/ex/2", "u"), 0);
    assert_int_equal(eu_quiet(g_c[2], 50), 0);
    /* Unsubscribed: nothing more. */
    for (int i = 0; i < 3; i++) {
        const char *subs[] = {"mx/+/v", "mw/#"};
        assert_int_equal(busrt_unsubscribe_many(g_c[i], subs, 2, BUSRT_QOS_PROCESSED, &op), 0);
        assert_int_equal(busrt_wait_ack(g_c[i], op, th_ms(3000)), 0);
    }
    assert_int_equal(busrt_publish(g_c[0], "mw/q", "z", 1, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(g_c[0], op, th_ms(3000)), 0);
    for (int to = 0; to < 3; to++) {
        assert_int_equal(eu_quiet(g_c[to], 50), 0);
    }
}

/* ---- RPC --------------------------------------------------------------------------- */

struct server {
    busrt_client *c;
    pthread_t th;
    atomic_int stop;
    atomic_int notes, calls0;
    int rc;
};

static int on_call(void *ctx, busrt_client *c, const struct busrt_rpc_event *ev,
                   struct busrt_rpc_result *res)
{
    struct server *s = ctx;
    (void)c;
    if (ev->call_id == 0u) {
        atomic_fetch_add(&s->calls0, 1);
        return 0;
    }
    if (strcmp(ev->method, "echo") == 0) {
        res->data = ev->data;
        res->len = ev->data_len;
        return 0;
    }
    res->data = "nope";
    res->len = 4;
    return -32001;
}

static int on_note(void *ctx, busrt_client *c, const struct busrt_rpc_event *ev,
                   struct busrt_rpc_result *res)
{
    struct server *s = ctx;
    (void)c;
    (void)res;
    if (ev->data_len == 4u && memcmp(ev->data, "note", 4) == 0) {
        atomic_fetch_add(&s->notes, 1);
    }
    return 0;
}

static void *serve_main(void *arg)
{
    struct server *s = arg;
    struct busrt_rpc_server srv;
    memset(&srv, 0, sizeof srv);
    srv.on_call = on_call;
    srv.on_notification = on_note;
    srv.ctx = s;
    while (!atomic_load(&s->stop)) {
        int r = busrt_rpc_serve(s->c, &srv, th_ms(50));
        if (r != BUSRT_E_TIMEOUT && r != 0) {
            s->rc = r;
            break;
        }
    }
    return NULL;
}

/* Calls from client a to a server running on client b's thread. */
static void rpc_pair(int a, int b)
{
    static struct server s;
    memset(&s, 0, sizeof s);
    s.c = g_c[b];
    assert_int_equal(pthread_create(&s.th, NULL, serve_main, &s), 0);
    struct busrt_rpc_reply rep;
    assert_int_equal(busrt_rpc_call(g_c[a], g_name[b], "echo", "pp", 2, BUSRT_QOS_PROCESSED,
                                    th_ms(3000), &rep),
                     0);
    assert_int_equal(rep.code, 0);
    assert_int_equal(rep.len, 2);
    assert_memory_equal(rep.data, "pp", 2);
    assert_int_equal(busrt_rpc_call(g_c[a], g_name[b], "bad", NULL, 0,
                                    BUSRT_QOS_REALTIME_PROCESSED, th_ms(3000), &rep),
                     BUSRT_E_RPC);
    assert_int_equal(rep.code, -32001);
    assert_int_equal(rep.len, 4);
    assert_memory_equal(rep.data, "nope", 4);
    uint32_t op;
    assert_int_equal(busrt_rpc_notify(g_c[a], g_name[b], "note", 4, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(g_c[a], op, th_ms(3000)), 0);
    assert_int_equal(busrt_rpc_call0(g_c[a], g_name[b], "any", "x", 1, BUSRT_QOS_PROCESSED, &op),
                     0);
    assert_int_equal(busrt_wait_ack(g_c[a], op, th_ms(3000)), 0);
    /* An unknown target fails at once with the ACK's code. */
    assert_int_equal(busrt_rpc_call(g_c[a], "mx.nobody", "echo", NULL, 0, BUSRT_QOS_PROCESSED,
                                    th_ms(3000), &rep),
                     BUSRT_E_RPC);
    assert_int_equal(rep.code, -32113);
    int64_t deadline = th_now_ms() + th_ms(3000);
    while ((atomic_load(&s.notes) < 1 || atomic_load(&s.calls0) < 1) &&
           th_now_ms() < deadline) {
        th_sleep_ms(5);
    }
    atomic_store(&s.stop, 1);
    assert_int_equal(pthread_join(s.th, NULL), 0);
    assert_int_equal(s.rc, 0);
    assert_int_equal(atomic_load(&s.notes), 1);
    assert_int_equal(atomic_load(&s.calls0), 1);
}

static void t_rpc(void **state)
{
    (void)state;
    for (int s = 1; s < 3; s++) {
        rpc_pair(0, s);
        rpc_pair(s, 0);
    }
}

/* ---- .broker ------------------------------------------------------------------------ */

static const msgpack_object *mp_get(const msgpack_object *map, const char *key)
{
    if (map->type != MSGPACK_OBJECT_MAP) {
        return NULL;
    }
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object_kv *kv = &map->via.map.ptr[i];
        if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(key) &&
            memcmp(kv->key.via.str.ptr, key, strlen(key)) == 0) {
            return &kv->val;
        }
    }
    return NULL;
}

static int mp_str_is(const msgpack_object *o, const char *s)
{
    return o != NULL && o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) &&
           memcmp(o->via.str.ptr, s, strlen(s)) == 0;
}

static void t_broker_methods(void **state)
{
    (void)state;
    static const uint8_t ok[] = {0x81, 0xa2, 'o', 'k', 0xc3};
    struct busrt_rpc_reply rep;
    for (int i = 0; i < 3; i++) {
        assert_int_equal(busrt_rpc_call(g_c[i], ".broker", "test", NULL, 0, BUSRT_QOS_PROCESSED,
                                        th_ms(3000), &rep),
                         0);
        assert_int_equal(rep.len, sizeof ok);
        assert_memory_equal(rep.data, ok, sizeof ok);
        assert_int_equal(busrt_rpc_call(g_c[i], ".broker", "info", NULL, 0, BUSRT_QOS_PROCESSED,
                                        th_ms(3000), &rep),
                         0);
        assert_true(rep.len > 0u);
        assert_int_equal(busrt_rpc_call(g_c[i], ".broker", "no.such", NULL, 0,
                                        BUSRT_QOS_PROCESSED, th_ms(3000), &rep),
                         BUSRT_E_RPC);
        assert_int_equal(rep.code, BUSRT_RPC_E_METHOD_NOT_FOUND);
    }
    assert_int_equal(busrt_rpc_call(g_c[1], ".broker", "client.list", NULL, 0,
                                    BUSRT_QOS_PROCESSED, th_ms(3000), &rep),
                     0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, (const char *)rep.data, rep.len, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    const msgpack_object *list = mp_get(&u.data, "clients");
    assert_non_null(list);
    assert_int_equal(list->type, MSGPACK_OBJECT_ARRAY);
    static const char *const kinds[3] = {"internal", "local_ipc", "tcp"};
    int found[3] = {0, 0, 0};
    for (uint32_t k = 0; k < list->via.array.size; k++) {
        const msgpack_object *e = &list->via.array.ptr[k];
        for (int i = 0; i < 3; i++) {
            if (mp_str_is(mp_get(e, "name"), g_name[i])) {
                found[i]++;
                assert_true(mp_str_is(mp_get(e, "kind"), kinds[i]));
            }
        }
    }
    msgpack_unpacked_destroy(&u);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(found[i], 1);
    }
}

/* The next .broker/info publication c gets: its "s" and "d". */
static void expect_info(busrt_client *c, const char *s, const char *d)
{
    struct busrt_frame f;
    assert_int_equal(busrt_recv(c, &f, th_ms(3000)), 0);
    assert_int_equal(f.kind, BUSRT_KIND_PUBLISH);
    assert_string_equal(f.sender, ".broker");
    assert_string_equal(f.topic, ".broker/info");
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, (const char *)f.payload, f.payload_len, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    int ok = mp_str_is(mp_get(&u.data, "s"), s) && mp_str_is(mp_get(&u.data, "d"), d) &&
             mp_get(&u.data, "t") != NULL;
    msgpack_unpacked_destroy(&u);
    if (!ok) {
        fprintf(stderr, "embed: wanted .broker/info {s: %s, d: %s}\n", s, d);
    }
    assert_true(ok);
}

static void t_announcements(void **state)
{
    (void)state;
    uint32_t op;
    for (int i = 1; i < 3; i++) {
        assert_int_equal(busrt_subscribe(g_c[i], ".broker/info", BUSRT_QOS_PROCESSED, &op), 0);
        assert_int_equal(busrt_wait_ack(g_c[i], op, th_ms(3000)), 0);
    }
    busrt_client *n;
    assert_int_equal(eu_connect(g_d, "mx.newcomer", &n), 0);
    for (int i = 1; i < 3; i++) {
        expect_info(g_c[i], "reg", "mx.newcomer");
    }
    busrt_client_close(n);
    for (int i = 1; i < 3; i++) {
        expect_info(g_c[i], "unreg", "mx.newcomer");
    }
    for (int i = 1; i < 3; i++) {
        assert_int_equal(busrt_unsubscribe(g_c[i], ".broker/info", BUSRT_QOS_PROCESSED, &op), 0);
        assert_int_equal(busrt_wait_ack(g_c[i], op, th_ms(3000)), 0);
    }
    assert_int_equal(eu_quiet(g_c[0], 50), 0);
}

int main(void)
{
    th_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_send),         cmocka_unit_test(t_broadcast),
        cmocka_unit_test(t_pubsub),       cmocka_unit_test(t_rpc),
        cmocka_unit_test(t_broker_methods), cmocka_unit_test(t_announcements),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
