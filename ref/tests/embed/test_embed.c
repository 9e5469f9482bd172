/* The embeddable broker (busrt/busrtd.h) and its in-process clients:
 * lifecycle and misuse, two brokers in one process, handshake rules,
 * deadlines and slow consumers, and concurrent in-process traffic.
 * Mixed in-process and socket traffic: test_embed_mixed.c; the raw link:
 * test_embed_wire.c. */
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

#include "../client/harness.h"
#include "busrt/busrtd.h"
#include "busrt/client.h"
#include "embed_util.h"

/* ---- Lifecycle and misuse -------------------------------------------------- */

static void t_lifecycle(void **state)
{
    (void)state;
    busrtd *d = eu_broker(NULL);
    assert_non_null(d);
    busrt_client *a, *b;
    assert_int_equal(eu_connect(d, "life.a", &a), 0);
    assert_int_equal(eu_connect(d, "life.b", &b), 0);
    struct busrtd_stats st;
    assert_int_equal(busrtd_stats(d, &st), 0);
    assert_int_equal(st.clients, 2);
    uint32_t op;
    assert_int_equal(busrt_send(a, "life.b", "hi", 2, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(a, op, th_ms(3000)), 0);
    assert_int_equal(eu_expect(b, BUSRT_KIND_MESSAGE, "life.a", NULL, "hi"), 0);
    busrt_client_close(b);
    busrt_client_close(a);
    busrtd_stop(d);
    assert_int_equal(busrtd_join(d), 0);
    /* Joined: a second join has no thread to wait for. */
    assert_int_equal(busrtd_join(d), BUSRT_E_INVAL);
    busrtd_destroy(d);
}

static void *stop_later(void *arg)
{
    th_sleep_ms(th_ms(200));
    busrtd_stop(arg);
    return NULL;
}

static void t_run_in_caller(void **state)
{
    (void)state;
    const char *argv[] = {"emb", NULL};
    busrtd *d;
    assert_int_equal(busrtd_create(&d, 1, argv), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stop_later, d), 0);
    int64_t t0 = th_now_ms();
    assert_int_equal(busrtd_run(d), 0);
    assert_true(th_now_ms() - t0 < th_ms(10000));
    assert_int_equal(pthread_join(th, NULL), 0);
    /* No thread of busrtd_spawn to join. */
    assert_int_equal(busrtd_join(d), BUSRT_E_INVAL);
    busrtd_destroy(d);
}

static void t_misuse(void **state)
{
    (void)state;
    busrtd *d = NULL;
    const char *ok[] = {"emb", NULL};
    const char *bad[] = {"emb", "--no-such-option", NULL};
    const char *daemon[] = {"emb", "-D", NULL};
    const char *badval[] = {"emb", "-t", "zero", NULL};
    assert_int_equal(busrtd_create(NULL, 1, ok), BUSRT_E_INVAL);
    assert_int_equal(busrtd_create(&d, 1, NULL), BUSRT_E_INVAL);
    assert_int_equal(busrtd_create(&d, 0, ok), BUSRT_E_INVAL);
    assert_int_equal(busrtd_create(&d, 2, bad), BUSRT_E_INVAL);
    assert_null(d);
    assert_int_equal(busrtd_create(&d, 2, daemon), BUSRT_E_INVAL);
    assert_null(d);
    assert_int_equal(busrtd_create(&d, 3, badval), BUSRT_E_INVAL);
    assert_null(d);
    assert_int_equal(busrtd_listen(NULL, "/tmp/x.sock"), BUSRT_E_INVAL);
    assert_int_equal(busrtd_start(NULL), BUSRT_E_INVAL);
    assert_int_equal(busrtd_run(NULL), BUSRT_E_INVAL);
    assert_int_equal(busrtd_spawn(NULL), BUSRT_E_INVAL);
    assert_int_equal(busrtd_join(NULL), BUSRT_E_INVAL);
    struct busrtd_stats st;
    assert_int_equal(busrtd_stats(NULL, &st), BUSRT_E_INVAL);
    busrt_client *c = (busrt_client *)&st; /* must be reset to NULL */
    struct busrt_client_config cfg;
    busrt_client_config_init(&cfg, "x");
    assert_int_equal(busrtd_connect(NULL, &c, &cfg), BUSRT_E_INVAL);
    assert_null(c);
    busrtd_stop(NULL);
    busrtd_destroy(NULL);

    assert_int_equal(busrtd_create(&d, 1, ok), 0);
    assert_int_equal(busrtd_listen(d, NULL), BUSRT_E_INVAL);
    assert_int_equal(busrtd_listen(d, ""), BUSRT_E_INVAL);
    assert_int_equal(busrtd_stats(d, NULL), BUSRT_E_INVAL);
    assert_int_equal(busrtd_connect(d, NULL, &cfg), BUSRT_E_INVAL);
    assert_int_equal(busrtd_connect(d, &c, NULL), BUSRT_E_INVAL);
    char dir[] = "/tmp/busrt-emb-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/late.sock", dir);
    assert_int_equal(busrtd_start(d), 0);
    assert_int_equal(busrtd_listen(d, path), BUSRT_E_INVAL);
    assert_int_equal(busrtd_spawn(d), 0);
    /* One loop per broker. */
    assert_int_equal(busrtd_spawn(d), BUSRT_E_INVAL);
    busrtd_destroy(d); /* stops and joins by itself */
    assert_int_equal(rmdir(dir), 0);
}

static void t_destroy_with_clients(void **state)
{
    (void)state;
    busrtd *d = eu_broker(NULL);
    assert_non_null(d);
    busrt_client *a, *b;
    assert_int_equal(eu_connect(d, "gone.a", &a), 0);
    assert_int_equal(eu_connect(d, "gone.b", &b), 0);
    assert_int_equal(busrt_send(a, "gone.b", "x", 1, BUSRT_QOS_NO, NULL), 0);
    busrtd_destroy(d);
    assert_int_equal(busrt_send(a, "gone.b", "y", 1, BUSRT_QOS_NO, NULL), BUSRT_E_CLOSED);
    assert_int_equal(busrt_client_connected(a), 0);
    /* b may still read what was queued before the end, then the loss. */
    assert_int_equal(eu_wait_loss(b, 1000), BUSRT_E_CLOSED);
    busrt_client_close(a);
    busrt_client_close(b);
}

/* As a socket client at SIGTERM: the shutdown on .broker/warn, then the
 * end; the client may still be closed after busrtd_destroy. */
static void t_stop_announces(void **state)
{
    (void)state;
    busrtd *d = eu_broker(NULL);
    assert_non_null(d);
    busrt_client *c;
    assert_int_equal(eu_connect(d, "stop.c", &c), 0);
    uint32_t op;
    assert_int_equal(busrt_subscribe(c, "x", BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(c, op, th_ms(3000)), 0);
    busrtd_stop(d);
    struct busrt_frame f;
    assert_int_equal(busrt_recv(c, &f, th_ms(3000)), 0);
    assert_int_equal(f.kind, BUSRT_KIND_PUBLISH);
    assert_string_equal(f.sender, ".broker");
    assert_string_equal(f.topic, ".broker/warn");
    assert_int_equal(busrt_recv(c, &f, th_ms(3000)), BUSRT_E_CLOSED);
    assert_int_equal(busrt_send(c, "stop.c", "x", 1, BUSRT_QOS_NO, NULL), BUSRT_E_CLOSED);
    assert_int_equal(busrtd_join(d), 0);
    /* Stopping: no new in-process clients. */
    busrt_client *late = NULL;
    assert_int_equal(eu_connect(d, "stop.late", &late), BUSRT_E_CLOSED);
    assert_null(late);
    busrtd_destroy(d);
    busrt_client_close(c);
}

/* ---- Two brokers in one process --------------------------------------------- */

static void t_two_brokers(void **state)
{
    (void)state;
    const char *a1[] = {"--memory-limit", "8M", NULL};
    const char *a2[] = {"--memory-limit", "32M", NULL};
    busrtd *d1 = eu_broker(a1), *d2 = eu_broker(a2);
    assert_non_null(d1);
    assert_non_null(d2);
    busrt_client *x1, *y1, *x2, *y2;
    assert_int_equal(eu_connect(d1, "same.x", &x1), 0);
    assert_int_equal(eu_connect(d1, "same.y", &y1), 0);
    assert_int_equal(eu_connect(d2, "same.x", &x2), 0);
    assert_int_equal(eu_connect(d2, "same.y", &y2), 0);

    uint32_t op;
    assert_int_equal(busrt_send(x1, "same.y", "one", 3, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(x1, op, th_ms(3000)), 0);
    assert_int_equal(busrt_send(x2, "same.y", "two", 3, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(x2, op, th_ms(3000)), 0);
    assert_int_equal(eu_expect(y1, BUSRT_KIND_MESSAGE, "same.x", NULL, "one"), 0);
    assert_int_equal(eu_expect(y2, BUSRT_KIND_MESSAGE, "same.x", NULL, "two"), 0);
    assert_int_equal(eu_quiet(y1, 100), 0);
    assert_int_equal(eu_quiet(y2, 100), 0);

    struct busrtd_stats s1, s2, t1, t2;
    assert_int_equal(busrtd_stats(d1, &s1), 0);
    assert_int_equal(busrtd_stats(d2, &s2), 0);
    assert_int_equal(s1.memory_limit, 8u << 20);
    assert_int_equal(s2.memory_limit, 32u << 20);
    assert_int_equal(s1.clients, 2);
    assert_int_equal(s2.clients, 2);
    /* 1 MiB queued for an idle client of d1 counts in d1 only. */
    static char big[64 * 1024];
    memset(big, 'm', sizeof big);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(busrt_send(x1, "same.y", big, sizeof big, BUSRT_QOS_NO, NULL), 0);
    }
    assert_int_equal(busrt_send(x1, "same.y", "end", 3, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(x1, op, th_ms(3000)), 0);
    assert_int_equal(busrtd_stats(d1, &t1), 0);
    assert_int_equal(busrtd_stats(d2, &t2), 0);
    assert_true(t1.memory_used >= s1.memory_used + 16u * sizeof big);
    assert_true(t1.memory_high_water >= t1.memory_used);
    assert_true(t2.memory_used < s2.memory_used + 16u * 1024u);
    /* 17 frames, and a ping if the client found one due (slow runs). */
    assert_true(t1.r_frames - s1.r_frames >= 17u && t1.r_frames - s1.r_frames <= 18u);
    assert_int_equal(t2.r_frames, s2.r_frames);

    busrt_client_close(x1);
    busrt_client_close(y1);
    busrt_client_close(x2);
    busrt_client_close(y2);
    busrtd_destroy(d1);
    busrtd_destroy(d2);
}

/* ---- Handshake rules ----------------------------------------------------------- */

static void t_handshake(void **state)
{
    (void)state;
    const char *args[] = {"--max-clients", "3", NULL};
    busrtd *d = eu_broker(args);
    assert_non_null(d);
    busrt_client *a, *x = NULL, *s, *s2;
    assert_int_equal(eu_connect(d, "hs.a", &a), 0);
    assert_int_equal(eu_connect(d, "hs.a", &x), BUSRT_E_BUSY);
    assert_null(x);
    assert_int_equal(eu_connect(d, ".x", &x), BUSRT_E_DATA);
    assert_int_equal(eu_connect(d, "", &x), BUSRT_E_DATA);
    assert_int_equal(eu_connect(d, "hs.none%%w", &x), BUSRT_E_NOT_REGISTERED);
    assert_int_equal(eu_connect(d, "hs.a%%w1", &s), 0);
    assert_string_equal(busrt_client_name(s), "hs.a%%w1");
    assert_int_equal(eu_connect(d, "hs.a%%w1", &x), BUSRT_E_BUSY);
    /* A secondary is a client of its own; its frames carry its full name. */
    assert_int_equal(busrt_send(s, "hs.a", "s", 1, BUSRT_QOS_NO, NULL), 0);
    assert_int_equal(eu_expect(a, BUSRT_KIND_MESSAGE, "hs.a%%w1", NULL, "s"), 0);
    assert_int_equal(eu_connect(d, "hs.a%%w2", &s2), 0);
    /* Three clients: the limit. Refused ones did not count. */
    assert_int_equal(eu_connect(d, "hs.b", &x), BUSRT_E_BUSY);
    assert_null(x);
    busrt_client_close(s2);
    /* The primary leaves: its secondaries are dropped. */
    busrt_client_close(a);
    assert_true(eu_wait_loss(s, 2000) < 0);
    busrt_client_close(s);
    /* Room again, and the name is free. */
    assert_int_equal(eu_connect(d, "hs.a", &a), 0);
    busrt_client_close(a);
    busrtd_destroy(d);
}

/* ---- Deadlines and slow consumers ---------------------------------------------- */

static void t_silent_dropped(void **state)
{
    (void)state;
    char t[32];
    const int T = 300; /* ms, scaled */
    const char *args[] = {"-t", eu_secs(t, sizeof t, T), NULL};
    busrtd *d = eu_broker(args);
    assert_non_null(d);
    busrt_client *quiet, *live;
    assert_int_equal(eu_connect(d, "dl.quiet", &quiet), 0);
    struct busrt_client_config cfg;
    busrt_client_config_init(&cfg, "dl.live");
    cfg.connect_timeout_ms = th_ms(5000);
    cfg.ping_interval_ms = th_ms(T / 4);
    assert_int_equal(busrtd_connect(d, &live, &cfg), 0);
    /* live polls as an event loop would; quiet calls nothing. */
    int64_t end = th_now_ms() + 3 * th_ms(T);
    while (th_now_ms() < end) {
        assert_true(busrt_poll(live) >= 0);
        th_sleep_ms(th_ms(T / 10));
    }
    struct busrtd_stats st;
    assert_int_equal(busrtd_stats(d, &st), 0);
    assert_int_equal(st.clients, 1);
    assert_true(eu_wait_loss(quiet, T) < 0);
    assert_int_equal(busrt_client_connected(quiet), 0);
    uint32_t op;
    assert_int_equal(busrt_send(live, "dl.quiet", "?", 1, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(live, op, th_ms(3000)), BUSRT_E_NOT_REGISTERED);
    assert_int_equal(busrt_send(live, "dl.live", "!", 1, BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(live, op, th_ms(3000)), 0);
    assert_int_equal(eu_expect(live, BUSRT_KIND_MESSAGE, "dl.live", NULL, "!"), 0);
    busrt_client_close(quiet);
    busrt_client_close(live);
    busrtd_destroy(d);
}

static void t_queue_full(void **state)
{
    (void)state;
    const char *args[] = {"--queue-size", "8", NULL};
    busrtd *d = eu_broker(args);
    assert_non_null(d);
    busrt_client *snd, *rcv;
    assert_int_equal(eu_connect(d, "q.snd", &snd), 0);
    assert_int_equal(eu_connect(d, "q.rcv", &rcv), 0);
    /* rcv takes nothing: eight frames fit its queue, the ninth does not,
     * and the sender's result for it is 77 (not delivered); rcv is then
     * gone (71 for the next one). */
    int rc[12];
    for (int i = 0; i < 12; i++) {
        uint32_t op;
        assert_int_equal(busrt_send(snd, "q.rcv", "f", 1, BUSRT_QOS_PROCESSED, &op), 0);
        rc[i] = busrt_wait_ack(snd, op, th_ms(3000));
    }
    for (int i = 0; i < 8; i++) {
        assert_int_equal(rc[i], 0);
    }
    assert_int_equal(rc[8], BUSRT_E_NOT_DELIVERED);
    for (int i = 9; i < 12; i++) {
        assert_int_equal(rc[i], BUSRT_E_NOT_REGISTERED);
    }
    assert_true(eu_wait_loss(rcv, 1000) < 0);
    busrt_client_close(rcv);
    busrt_client_close(snd);
    busrtd_destroy(d);
}

/* ---- Concurrency ------------------------------------------------------------------ */

#define CC_N 4
#define CC_MSGS 2000

struct cc_worker {
    busrt_client *c;
    int id;
    pthread_t th;
    uint32_t next[CC_N]; /* next sequence number expected from each sender */
    uint32_t got[CC_N];
    int errors;
};

static uint32_t cc_expected(int from, int to)
{
    uint32_t n = 0;
    for (int k = 0; k < CC_MSGS; k++) {
        if ((from + 1 + k % (CC_N - 1)) % CC_N == to) {
            n++;
        }
    }
    return n;
}

static void cc_take(struct cc_worker *w, const struct busrt_frame *f)
{
    unsigned from = 0, seq = 0;
    char buf[32];
    size_t n = f->payload_len < sizeof buf - 1u ? f->payload_len : sizeof buf - 1u;
    memcpy(buf, f->payload, n);
    buf[n] = '\0';
    if (sscanf(buf, "%u:%u", &from, &seq) != 2 || from >= CC_N ||
        strncmp(f->sender, "cc.", 3) != 0 || (unsigned)atoi(f->sender + 3) != from) {
        w->errors++;
        return;
    }
    if (seq != w->next[from]) { /* lost, repeated or out of order */
        w->errors++;
    }
    w->next[from] = seq + 1u;
    w->got[from]++;
}

static void *cc_main(void *arg)
{
    struct cc_worker *w = arg;
    uint32_t want = 0, have = 0, seq[CC_N] = {0};
    for (int j = 0; j < CC_N; j++) {
        want += j != w->id ? cc_expected(j, w->id) : 0u;
    }
    struct busrt_frame f;
    for (int k = 0; k < CC_MSGS; k++) {
        int to = (w->id + 1 + k % (CC_N - 1)) % CC_N;
        char target[16], p[32];
        snprintf(target, sizeof target, "cc.%d", to);
        int n = snprintf(p, sizeof p, "%d:%u", w->id, (unsigned)seq[to]++);
        unsigned qos = k % 2 == 0 ? BUSRT_QOS_NO : BUSRT_QOS_REALTIME;
        if (busrt_send(w->c, target, p, (size_t)n, qos, NULL) != 0) {
            w->errors++;
            return NULL;
        }
        while (busrt_recv(w->c, &f, 0) == 0) {
            cc_take(w, &f);
            have++;
        }
    }
    int64_t deadline = th_now_ms() + th_ms(20000);
    while (have < want && th_now_ms() < deadline) {
        if (busrt_recv(w->c, &f, th_ms(1000)) == 0) {
            cc_take(w, &f);
            have++;
        }
    }
    return NULL;
}

static void t_concurrency(void **state)
{
    (void)state;
    busrtd *d = eu_broker(NULL);
    assert_non_null(d);
    static struct cc_worker w[CC_N];
    memset(w, 0, sizeof w);
    for (int i = 0; i < CC_N; i++) {
        char name[16];
        snprintf(name, sizeof name, "cc.%d", i);
        w[i].id = i;
        assert_int_equal(eu_connect(d, name, &w[i].c), 0);
    }
    for (int i = 0; i < CC_N; i++) {
        assert_int_equal(pthread_create(&w[i].th, NULL, cc_main, &w[i]), 0);
    }
    for (int i = 0; i < CC_N; i++) {
        assert_int_equal(pthread_join(w[i].th, NULL), 0);
    }
    for (int i = 0; i < CC_N; i++) {
        assert_int_equal(w[i].errors, 0);
        for (int j = 0; j < CC_N; j++) {
            assert_int_equal(w[i].got[j], j != i ? cc_expected(j, i) : 0u);
        }
        /* Each message once: nothing more arrives. */
        assert_int_equal(eu_quiet(w[i].c, 50), 0);
        busrt_client_close(w[i].c);
    }
    struct busrtd_stats st;
    assert_int_equal(busrtd_stats(d, &st), 0);
    assert_true(st.r_frames >= (uint64_t)CC_N * CC_MSGS);
    busrtd_destroy(d);
}

int main(void)
{
    th_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_lifecycle),
        cmocka_unit_test(t_run_in_caller),
        cmocka_unit_test(t_misuse),
        cmocka_unit_test(t_destroy_with_clients),
        cmocka_unit_test(t_stop_announces),
        cmocka_unit_test(t_two_brokers),
        cmocka_unit_test(t_handshake),
        cmocka_unit_test(t_silent_dropped),
        cmocka_unit_test(t_queue_full),
        cmocka_unit_test(t_concurrency),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
