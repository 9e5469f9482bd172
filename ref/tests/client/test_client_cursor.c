/* libbusrt RPC cursors: the server table (busrt_cursor_serve) and the
 * client iterator against each other through a real broker, error codes,
 * expiry, limits, and the bytes of the id map, of N / NB params and of an
 * NB block compared with the layouts of the deployed library (rmp-serde:
 * a uuid is a bin 16, struct fields are a map in declaration order, "n"
 * is the shortest unsigned integer and absent from N's params). */
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

#include "busrt/client.h"
#include "busrt/codes.h"
#include "busrt/cursor.h"
#include "busrt/rpc.h"
#include "harness.h"

#define G th_group /* the group's shared broker (harness.c) */

#define T th_ms(3000)
#define Q BUSRT_QOS_PROCESSED

static busrt_client *cx(const char *name)
{
    return th_connect_ok(G.sock, name);
}

/* ---- A producer: the integers 0 .. n-1 as MessagePack ----------------------------- */

struct gen {
    unsigned i, n;
    int mode; /* 0 good items, 1 a non-MessagePack item, 2 an error code */
    uint8_t buf[3];
    atomic_int *freed;
};

static int gen_next(void *ctx, const void **data, size_t *len)
{
    struct gen *g = ctx;
    if (g->mode == 1) {
        *data = "\xC1";
        *len = 1;
        return BUSRT_CURSOR_ITEM;
    }
    if (g->mode == 2) {
        return -32055;
    }
    if (g->i >= g->n) {
        return BUSRT_CURSOR_END;
    }
    unsigned v = g->i++;
    if (v < 128u) {
        g->buf[0] = (uint8_t)v;
        *len = 1;
    } else {
        g->buf[0] = 0xCD;
        g->buf[1] = (uint8_t)(v / 256u);
        g->buf[2] = (uint8_t)(v % 256u);
        *len = 3;
    }
    *data = g->buf;
    return BUSRT_CURSOR_ITEM;
}

static void gen_free(void *ctx)
{
    struct gen *g = ctx;
    atomic_fetch_add(g->freed, 1);
    free(g);
}

/* ---- The server: a thread serving one client with one cursor table ------------------ */

struct server {
    busrt_client *c;
    busrt_cursor_table *t;
    struct busrt_rpc_server s;
    pthread_t th;
    int serve_result;
    atomic_int freed;
    uint8_t id_map[BUSRT_CURSOR_ID_MAP_LEN];
    uint8_t last_params[64]; /* the last N / NB params, as received */
    size_t last_params_len;
    uint8_t count;
};

/* Methods: "open" params "<count>[ <ttl_ms>[ bad|err]]" (text) -> the id
 * map, or -32099 when the table is full; "count" -> number of open cursors
 * (one byte); "quit"; N and NB go to the table, except an NB on the id of
 * sixteen EE bytes, answered with bytes that are no array. */
static int srv_call(void *ctx, busrt_client *c, const struct busrt_rpc_event *ev,
                    struct busrt_rpc_result *res)
{
    struct server *sv = ctx;
    (void)c;
    if (busrt_cursor_is_call(ev)) {
        size_t n = ev->data_len < sizeof sv->last_params ? ev->data_len : sizeof sv->last_params;
        memcpy(sv->last_params, ev->data, n);
        sv->last_params_len = n;
        static const uint8_t ee[16] = {0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE,
                                       0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE};
        if (ev->data_len >= 21 && memcmp(ev->data + 5, ee, 16) == 0) {
            res->data = "junk";
            res->len = 4;
            return 0;
        }
        return busrt_cursor_serve(sv->t, ev, res);
    }
    if (strcmp(ev->method, "open") == 0) {
        char text[64];
        size_t n = ev->data_len < sizeof text - 1 ? ev->data_len : sizeof text - 1;
        memcpy(text, ev->data, n);
        text[n] = '\0';
        unsigned count = 0, ttl = 5000;
        char mode[8] = "";
        if (sscanf(text, "%u %u %7s", &count, &ttl, mode) < 1) {
            return BUSRT_RPC_E_INVALID_PARAMS;
        }
        struct gen *g = calloc(1, sizeof *g);
        if (g == NULL) {
            return BUSRT_RPC_E_INTERNAL;
        }
        g->n = count;
        g->mode = strcmp(mode, "bad") == 0 ? 1 : (strcmp(mode, "err") == 0 ? 2 : 0);
        g->freed = &sv->freed;
        int r = busrt_cursor_create(sv->t, gen_next, gen_free, g, (int)ttl, sv->id_map);
        if (r != 0) {
            free(g);
            res->data = busrt_client_strerror(r);
            res->len = strlen(res->data);
            return r == BUSRT_E_LIMIT ? -32099 : BUSRT_RPC_E_INTERNAL;
        }
        res->data = sv->id_map;
        res->len = sizeof sv->id_map;
        return 0;
    }
    if (strcmp(ev->method, "count") == 0) {
        sv->count = (uint8_t)busrt_cursor_count(sv->t);
        res->data = &sv->count;
        res->len = 1;
        return 0;
    }
    if (strcmp(ev->method, "quit") == 0) {
        sv->s.stop = 1;
        return 0;
    }
    return BUSRT_RPC_E_METHOD_NOT_FOUND;
}

/* The server loop: serve, and sweep expired cursors whenever it is idle. */
static void *srv_main(void *p)
{
    struct server *sv = p;
    int64_t end = th_now_ms() + th_ms(30000);
    for (;;) {
        int r = busrt_rpc_serve(sv->c, &sv->s, 50);
        if (r != BUSRT_E_TIMEOUT || th_now_ms() > end) {
            sv->serve_result = r;
            break;
        }
        (void)busrt_cursor_sweep(sv->t);
    }
    return NULL;
}

static void server_start(struct server *sv, const char *name, unsigned max_open,
                         uint32_t max_bulk)
{
    memset(sv, 0, sizeof *sv);
    atomic_init(&sv->freed, 0);
    assert_int_equal(busrt_cursor_table_new(max_open, max_bulk, &sv->t), 0);
    sv->c = cx(name);
    sv->s.on_call = srv_call;
    sv->s.ctx = sv;
    assert_int_equal(pthread_create(&sv->th, NULL, srv_main, sv), 0);
}

static void server_stop(struct server *sv, busrt_client *caller, const char *name)
{
    struct busrt_rpc_reply r;
    assert_int_equal(busrt_rpc_call(caller, name, "quit", NULL, 0, Q, T, &r), 0);
    pthread_join(sv->th, NULL);
    assert_int_equal(sv->serve_result, 0);
    busrt_cursor_table_free(sv->t);
    busrt_client_close(sv->c);
}

/* Calls "open" and starts an iterator on the id map it returns. */
static busrt_cursor *open_cursor(busrt_client *c, const char *srv, const char *spec,
                                 uint8_t id[16])
{
    struct busrt_rpc_reply r;
    assert_int_equal(busrt_rpc_call(c, srv, "open", spec, strlen(spec), Q, T, &r), 0);
    assert_int_equal(r.len, BUSRT_CURSOR_ID_MAP_LEN);
    assert_true(busrt_cursor_is_id_map(r.data, r.len));
    if (id != NULL) {
        memcpy(id, r.data + 5, 16);
    }
    busrt_cursor *cur = NULL;
    assert_int_equal(busrt_cursor_open(c, srv, r.data, r.len, Q, T, &cur), 0);
    return cur;
}

static int open_count(busrt_client *c, const char *srv)
{
    struct busrt_rpc_reply r;
    assert_int_equal(busrt_rpc_call(c, srv, "count", NULL, 0, Q, T, &r), 0);
    assert_int_equal(r.len, 1);
    return r.data[0];
}

/* Reads every item with N; checks they are 0, 1, ... and returns how many. */
static unsigned drain_next(busrt_cursor *cur)
{
    struct busrt_rpc_reply it;
    unsigned k = 0;
    int r;
    while ((r = busrt_cursor_next(cur, &it)) == 1) {
        if (k < 128u) {
            assert_int_equal(it.len, 1);
            assert_int_equal(it.data[0], k);
        } else {
            assert_int_equal(it.len, 3);
            assert_int_equal(it.data[1] * 256u + it.data[2], k);
        }
        k++;
    }
    assert_int_equal(r, 0);
    assert_int_equal(it.len, 0);
    return k;
}

/* ---- Tests ---------------------------------------------------------------------------- */

/* REQ-RPC-11: N gives one item per reply, an empty reply at the end; the
 * exhausted cursor is dropped (REQ-RPC-13). */
static void test_next_zero_one_many(void **state)
{
    (void)state;
    struct server sv;
    server_start(&sv, "cur.s1", 0, 0);
    busrt_client *c = cx("cur.c1");
    static const char *const specs[] = {"0", "1", "300"};
    static const unsigned want[] = {0, 1, 300};
    for (size_t i = 0; i < 3; i++) {
        busrt_cursor *cur = open_cursor(c, "cur.s1", specs[i], NULL);
        assert_int_equal(open_count(c, "cur.s1"), 1);
        assert_int_equal(drain_next(cur), want[i]);
        /* Finished: dropped by the server; the iterator does not call again. */
        assert_int_equal(open_count(c, "cur.s1"), 0);
        struct busrt_rpc_reply it;
        assert_int_equal(busrt_cursor_next(cur, &it), 0);
        busrt_cursor_close(cur);
    }
    assert_int_equal(atomic_load(&sv.freed), 3);
    server_stop(&sv, c, "cur.s1");
    busrt_client_close(c);
}

/* Reads every item with NB blocks of n; returns the number of calls that
 * returned a block and checks the items. */
static unsigned drain_bulk(busrt_cursor *cur, uint32_t n, unsigned total)
{
    struct busrt_rpc_reply b;
    uint32_t count;
    unsigned k = 0, calls = 0;
    int r;
    do {
        r = busrt_cursor_next_bulk(cur, n, &b, &count);
        assert_true(r == 0 || r == 1);
        calls++;
        assert_true(count <= n);
        assert_int_equal(r == 1, count == n);
        /* Items after the array header; small values only here. */
        size_t hl = count < 16 ? 1 : 3;
        assert_int_equal(b.len, hl + count);
        for (uint32_t i = 0; i < count; i++) {
            assert_int_equal(b.data[hl + i], k + i);
        }
        k += count;
    } while (r == 1);
    assert_int_equal(k, total);
    /* After the last block: 0 and an empty block, without a call. */
    assert_int_equal(busrt_cursor_next_bulk(cur, n, &b, &count), 0);
    assert_int_equal(count, 0);
    assert_int_equal(b.len, 1);
    assert_int_equal(b.data[0], 0x90);
    return calls;
}

/* REQ-RPC-12: NB gives arrays of at most n items, a shorter one last. */
static void test_next_bulk(void **state)
{
    (void)state;
    struct server sv;
    server_start(&sv, "cur.s2", 0, 0);
    busrt_client *c = cx("cur.c2");
    /* n = 1: one item per block, then an empty block ends it. */
    busrt_cursor *cur = open_cursor(c, "cur.s2", "3", NULL);
    assert_int_equal(drain_bulk(cur, 1, 3), 4);
    busrt_cursor_close(cur);
    /* n larger than what remains: one short block. */
    cur = open_cursor(c, "cur.s2", "5", NULL);
    assert_int_equal(drain_bulk(cur, 100, 5), 1);
    busrt_cursor_close(cur);
    /* n dividing the total: a full last block, then an empty one. */
    cur = open_cursor(c, "cur.s2", "40", NULL);
    assert_int_equal(drain_bulk(cur, 20, 40), 3);
    busrt_cursor_close(cur);
    /* Zero items. */
    cur = open_cursor(c, "cur.s2", "0", NULL);
    assert_int_equal(drain_bulk(cur, 7, 0), 1);
    /* n = 0 is refused by the iterator, without a call. */
    struct busrt_rpc_reply b;
    uint32_t count;
    assert_int_equal(busrt_cursor_next_bulk(cur, 0, &b, &count), BUSRT_E_INVAL);
    busrt_cursor_close(cur);
    /* N and NB mixed on one cursor. */
    cur = open_cursor(c, "cur.s2", "4", NULL);
    struct busrt_rpc_reply it;
    assert_int_equal(busrt_cursor_next(cur, &it), 1);
    assert_int_equal(it.data[0], 0);
    assert_int_equal(busrt_cursor_next_bulk(cur, 2, &b, &count), 1);
    assert_int_equal(count, 2);
    assert_memory_equal(b.data, "\x92\x01\x02", 3);
    assert_int_equal(busrt_cursor_next(cur, &it), 1);
    assert_int_equal(it.data[0], 3);
    assert_int_equal(busrt_cursor_next(cur, &it), 0);
    busrt_cursor_close(cur);
    assert_int_equal(open_count(c, "cur.s2"), 0);
    assert_int_equal(atomic_load(&sv.freed), 5);
    server_stop(&sv, c, "cur.s2");
    busrt_client_close(c);
}

static void test_interleaved(void **state)
{
    (void)state;
    struct server sv;
    server_start(&sv, "cur.s3", 0, 0);
    busrt_client *c = cx("cur.c3");
    busrt_cursor *a = open_cursor(c, "cur.s3", "10", NULL);
    busrt_cursor *b = open_cursor(c, "cur.s3", "5", NULL);
    assert_int_equal(open_count(c, "cur.s3"), 2);
    struct busrt_rpc_reply it;
    unsigned ka = 0, kb = 0;
    int ra = 1, rb = 1;
    while (ra == 1 || rb == 1) {
        if (ra == 1) {
            ra = busrt_cursor_next(a, &it);
            if (ra == 1) {
                assert_int_equal(it.data[0], ka++);
            }
        }
        if (rb == 1) {
            rb = busrt_cursor_next(b, &it);
            if (rb == 1) {
                assert_int_equal(it.data[0], kb++);
            }
        }
    }
    assert_int_equal(ra, 0);
    assert_int_equal(rb, 0);
    assert_int_equal(ka, 10);
    assert_int_equal(kb, 5);
    busrt_cursor_close(a);
    busrt_cursor_close(b);
    assert_int_equal(open_count(c, "cur.s3"), 0);
    server_stop(&sv, c, "cur.s3");
    busrt_client_close(c);
}

/* Sends params to N or NB and expects error code want. */
static void expect_error(busrt_client *c, const char *srv, const char *method, const void *p,
                         size_t n, int want)
{
    struct busrt_rpc_reply r;
    assert_int_equal(busrt_rpc_call(c, srv, method, p, n, Q, T, &r), BUSRT_E_RPC);
    assert_int_equal(r.code, want);
    assert_true(r.len > 0);
}

/* REQ-RPC-13: -32001 for an unknown or dropped cursor; bad params. */
static void test_errors(void **state)
{
    (void)state;
    struct server sv;
    server_start(&sv, "cur.s4", 0, 50);
    busrt_client *c = cx("cur.c4");
    const char *s = "cur.s4";
    /* Unknown id (valid form). */
    uint8_t unk[21] = {0x81, 0xA1, 'u', 0xC4, 0x10};
    expect_error(c, s, "N", unk, sizeof unk, BUSRT_RPC_E_NOT_FOUND);
    expect_error(c, s, "NB", unk, sizeof unk, BUSRT_RPC_E_NOT_FOUND);
    /* Bad params. */
    expect_error(c, s, "N", NULL, 0, BUSRT_RPC_E_INVALID_PARAMS);
    expect_error(c, s, "N", "\x91\x01", 2, BUSRT_RPC_E_INVALID_PARAMS);
    expect_error(c, s, "N", "\x81\xA1u\xA3" "abc", 6, BUSRT_RPC_E_INVALID_PARAMS);
    expect_error(c, s, "N", "\x81\xA1u\xC4\x02xy", 7, BUSRT_RPC_E_INVALID_PARAMS);
    expect_error(c, s, "N", "\x81\xA1x\x01", 4, BUSRT_RPC_E_INVALID_PARAMS);
    expect_error(c, s, "N", "\x81\xA1u", 3, BUSRT_RPC_E_INVALID_PARAMS); /* truncated */
    expect_error(c, s, "N", "\xDF\xFF\xFF\xFF\xFF", 5, BUSRT_RPC_E_INVALID_PARAMS);
    /* An open cursor with bad "n": 0, negative, not an integer, above the
     * maximum block (50 here); a duplicate key. */
    uint8_t id[16];
    busrt_cursor *cur = open_cursor(c, s, "3", id);
    uint8_t p[48] = {0x82, 0xA1, 'u', 0xC4, 0x10};
    memcpy(p + 5, id, 16);
    p[21] = 0xA1;
    p[22] = 'n';
    static const uint8_t bad_n[][3] = {{1, 0x00}, {1, 0xFF}, {1, 0xC0}, {1, 0xC3}, {2, 0xCC, 51},
                                       {2, 0xD0, 0x80}};
    for (size_t i = 0; i < sizeof bad_n / sizeof bad_n[0]; i++) {
        memcpy(p + 23, bad_n[i] + 1, bad_n[i][0]);
        expect_error(c, s, "NB", p, 23u + bad_n[i][0], BUSRT_RPC_E_INVALID_PARAMS);
    }
    p[0] = 0x82;
    p[21] = 0xA1;
    p[22] = 'u';
    memcpy(p + 23, p + 3, 18);
    expect_error(c, s, "N", p, 41, BUSRT_RPC_E_INVALID_PARAMS);
    /* n = 50 (the maximum) and a signed non-negative n are fine; unknown
     * keys are ignored; a missing n means 1. */
    struct busrt_rpc_reply r;
    p[21] = 0xA1;
    p[22] = 'n';
    p[23] = 0xD0;
    p[24] = 1;
    assert_int_equal(busrt_rpc_call(c, s, "NB", p, 25, Q, T, &r), 0);
    assert_memory_equal(r.data, "\x91\x00", 2);
    p[0] = 0x83;
    p[23] = 0x01;
    p[24] = 0xA1;
    p[25] = 'x';
    p[26] = 0xC0;
    assert_int_equal(busrt_rpc_call(c, s, "NB", p, 27, Q, T, &r), 0);
    assert_memory_equal(r.data, "\x91\x01", 2);
    p[0] = 0x81;
    assert_int_equal(busrt_rpc_call(c, s, "NB", p, 21, Q, T, &r), 0);
    assert_memory_equal(r.data, "\x91\x02", 2);
    p[0] = 0x82;
    p[23] = 50;
    assert_int_equal(busrt_rpc_call(c, s, "NB", p, 24, Q, T, &r), 0);
    assert_int_equal(r.len, 1);
    assert_int_equal(r.data[0], 0x90);
    /* Finished, so dropped: -32001 now, for N and NB. */
    p[0] = 0x81;
    expect_error(c, s, "N", p, 21, BUSRT_RPC_E_NOT_FOUND);
    expect_error(c, s, "NB", p, 21, BUSRT_RPC_E_NOT_FOUND);
    struct busrt_rpc_reply it;
    assert_int_equal(busrt_cursor_next(cur, &it), BUSRT_E_RPC);
    assert_int_equal(it.code, BUSRT_RPC_E_NOT_FOUND);
    busrt_cursor_close(cur);
    /* A producer's bad item (-32603) or its own error code; the cursor is
     * dropped either way. */
    cur = open_cursor(c, s, "3 5000 bad", NULL);
    assert_int_equal(busrt_cursor_next(cur, &it), BUSRT_E_RPC);
    assert_int_equal(it.code, BUSRT_RPC_E_INTERNAL);
    busrt_cursor_close(cur);
    cur = open_cursor(c, s, "3 5000 err", NULL);
    uint32_t count;
    assert_int_equal(busrt_cursor_next_bulk(cur, 2, &r, &count), BUSRT_E_RPC);
    assert_int_equal(r.code, -32055);
    busrt_cursor_close(cur);
    assert_int_equal(open_count(c, s), 0);
    assert_int_equal(atomic_load(&sv.freed), 3);
    /* A block that is not an array: BUSRT_E_PROTO. */
    static const uint8_t ee[21] = {0x81, 0xA1, 'u', 0xC4, 0x10, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE,
                                   0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE, 0xEE};
    assert_int_equal(busrt_cursor_open(c, s, ee, sizeof ee, Q, T, &cur), 0);
    assert_int_equal(busrt_cursor_next_bulk(cur, 2, &r, &count), BUSRT_E_PROTO);
    busrt_cursor_close(cur);
    /* Not an id map. */
    assert_false(busrt_cursor_is_id_map("\x82\xA1u\x01\xA1n\x01", 7));
    assert_false(busrt_cursor_is_id_map("\x81\xA1v\x01", 4));
    assert_false(busrt_cursor_is_id_map("\x81\xA1u", 3));
    assert_false(busrt_cursor_is_id_map(NULL, 0));
    assert_true(busrt_cursor_is_id_map("\x81\xA1u\xA2id", 6));
    cur = (busrt_cursor *)1;
    assert_int_equal(busrt_cursor_open(c, s, "\x81\xA1v\x01", 4, Q, T, &cur), BUSRT_E_INVAL);
    assert_null(cur);
    assert_int_equal(busrt_cursor_open(c, s, ee, sizeof ee, 4, T, &cur), BUSRT_E_INVAL);
    server_stop(&sv, c, s);
    busrt_client_close(c);
}

/* REQ-RPC-13: a cursor not used for its time-to-live is dropped. */
static void test_expiry(void **state)
{
    (void)state;
    struct server sv;
    server_start(&sv, "cur.s5", 0, 0);
    busrt_client *c = cx("cur.c5");
    const char *s = "cur.s5";
    char spec[32];
    int ttl = th_ms(300);
    snprintf(spec, sizeof spec, "5 %d", ttl);
    /* Kept alive by use: each call restarts the time-to-live. */
    busrt_cursor *cur = open_cursor(c, s, spec, NULL);
    struct busrt_rpc_reply it;
    for (int i = 0; i < 3; i++) {
        th_sleep_ms(ttl / 2);
        assert_int_equal(busrt_cursor_next(cur, &it), 1);
        assert_int_equal(it.data[0], i);
    }
    /* Not used for longer than its TTL: swept by the idle server loop... */
    th_sleep_ms(ttl * 2);
    assert_int_equal(open_count(c, s), 0);
    assert_int_equal(atomic_load(&sv.freed), 1);
    assert_int_equal(busrt_cursor_next(cur, &it), BUSRT_E_RPC);
    assert_int_equal(it.code, BUSRT_RPC_E_NOT_FOUND);
    busrt_cursor_close(cur);
    server_stop(&sv, c, s);
    busrt_client_close(c);
}

static void test_expiry_on_use(void **state)
{
    (void)state;
    /* Without a sweep: the use itself finds the cursor expired. */
    busrt_cursor_table *t = NULL;
    assert_int_equal(busrt_cursor_table_new(2, 0, &t), 0);
    atomic_int freed;
    atomic_init(&freed, 0);
    struct gen *g = calloc(1, sizeof *g);
    assert_non_null(g);
    g->n = 5;
    g->freed = &freed;
    uint8_t map[BUSRT_CURSOR_ID_MAP_LEN];
    assert_int_equal(busrt_cursor_create(t, gen_next, gen_free, g, 20, map), 0);
    th_sleep_ms(60);
    struct busrt_rpc_event ev = {BUSRT_RPC_REQUEST, 1, "N", 1, map, sizeof map, NULL};
    struct busrt_rpc_result res;
    assert_int_equal(busrt_cursor_serve(t, &ev, &res), BUSRT_RPC_E_NOT_FOUND);
    assert_non_null(strstr(res.data, "expired"));
    assert_int_equal(atomic_load(&freed), 1);
    assert_int_equal(busrt_cursor_count(t), 0);
    /* Other methods are not the table's; bad arguments. */
    ev.method = "NC";
    ev.method_len = 2;
    assert_false(busrt_cursor_is_call(&ev));
    assert_int_equal(busrt_cursor_serve(t, &ev, &res), BUSRT_RPC_E_METHOD_NOT_FOUND);
    assert_int_equal(busrt_cursor_create(t, gen_next, NULL, NULL, 0, map), BUSRT_E_INVAL);
    assert_int_equal(busrt_cursor_create(t, NULL, NULL, NULL, 10, map), BUSRT_E_INVAL);
    assert_int_equal(busrt_cursor_table_new(1, 1, NULL), BUSRT_E_INVAL);
    /* Freeing the table frees what is still open. */
    g = calloc(1, sizeof *g);
    assert_non_null(g);
    g->freed = &freed;
    assert_int_equal(busrt_cursor_create(t, gen_next, gen_free, g, 10000, map), 0);
    busrt_cursor_table_free(t);
    assert_int_equal(atomic_load(&freed), 2);
    busrt_cursor_table_free(NULL);
}

static void test_max_open(void **state)
{
    (void)state;
    struct server sv;
    server_start(&sv, "cur.s6", 3, 0);
    busrt_client *c = cx("cur.c6");
    const char *s = "cur.s6";
    busrt_cursor *cur[3];
    char spec[32];
    int ttl = th_ms(300);
    snprintf(spec, sizeof spec, "2 %d", ttl);
    for (int i = 0; i < 3; i++) {
        cur[i] = open_cursor(c, s, spec, NULL);
    }
    /* Full: refused with BUSRT_E_LIMIT (answered -32099 by this server). */
    struct busrt_rpc_reply r;
    assert_int_equal(busrt_rpc_call(c, s, "open", "1", 1, Q, T, &r), BUSRT_E_RPC);
    assert_int_equal(r.code, -32099);
    assert_int_equal(r.len, strlen(busrt_client_strerror(BUSRT_E_LIMIT)));
    /* Finishing one frees its place. */
    assert_int_equal(drain_next(cur[0]), 2);
    busrt_cursor_close(cur[0]);
    cur[0] = open_cursor(c, s, "1", NULL);
    assert_int_equal(busrt_rpc_call(c, s, "open", "1", 1, Q, T, &r), BUSRT_E_RPC);
    /* Expired ones free theirs too. */
    th_sleep_ms(ttl * 2);
    busrt_cursor *late = open_cursor(c, s, "1", NULL);
    assert_int_equal(drain_next(late), 1);
    busrt_cursor_close(late);
    assert_int_equal(drain_next(cur[0]), 1);
    for (int i = 0; i < 3; i++) {
        busrt_cursor_close(cur[i]);
    }
    assert_int_equal(open_count(c, s), 0);
    server_stop(&sv, c, s);
    busrt_client_close(c);
}

/* The bytes: the id map the server returns, the params the iterator sends
 * (N as the deployed client packs Payload{u, n: None}, NB with n), and an
 * NB block, against hand-written hex. */
static void test_wire_bytes(void **state) /* REQ-RPC-11, REQ-RPC-12 */
{
    (void)state;
    struct server sv;
    server_start(&sv, "cur.s7", 0, 0);
    busrt_client *c = cx("cur.c7");
    const char *s = "cur.s7";
    struct busrt_rpc_reply r;
    assert_int_equal(busrt_rpc_call(c, s, "open", "300", 3, Q, T, &r), 0);
    /* {"u": bin 16}: 81 A1 75 C4 10 + 16 bytes, a version 4 variant 1 uuid. */
    static const uint8_t map_head[5] = {0x81, 0xA1, 0x75, 0xC4, 0x10};
    assert_int_equal(r.len, 21);
    assert_memory_equal(r.data, map_head, 5);
    uint8_t id[16];
    memcpy(id, r.data + 5, 16);
    assert_int_equal(id[6] / 16, 4);
    assert_int_equal(id[8] / 64, 2);
    busrt_cursor *cur = NULL;
    assert_int_equal(busrt_cursor_open(c, s, r.data, r.len, Q, T, &cur), 0);
    struct busrt_rpc_reply it;
    assert_int_equal(busrt_cursor_next(cur, &it), 1);
    uint8_t want[32];
    memcpy(want, map_head, 5);
    memcpy(want + 5, id, 16);
    assert_int_equal(sv.last_params_len, 21);
    assert_memory_equal(sv.last_params, want, 21);
    /* NB n=3: 82 A1 75 C4 10 <id> A1 6E 03; block 93 01 02 03. */
    uint32_t count;
    want[0] = 0x82;
    memcpy(want + 21, "\xA1\x6E\x03", 3);
    assert_int_equal(busrt_cursor_next_bulk(cur, 3, &r, &count), 1);
    assert_int_equal(sv.last_params_len, 24);
    assert_memory_equal(sv.last_params, want, 24);
    assert_int_equal(r.len, 4);
    assert_memory_equal(r.data, "\x93\x01\x02\x03", 4);
    /* n=200: CC C8; a block of 200 items is an array 16: DC 00 C8, the
     * items 4..127 as fixints, from 128 on CD hi lo. */
    memcpy(want + 21, "\xA1\x6E\xCC\xC8", 4);
    assert_int_equal(busrt_cursor_next_bulk(cur, 200, &r, &count), 1);
    assert_int_equal(count, 200);
    assert_int_equal(sv.last_params_len, 25);
    assert_memory_equal(sv.last_params, want, 25);
    assert_int_equal(r.len, 3 + 124 + 76 * 3);
    assert_memory_equal(r.data, "\xDC\x00\xC8\x04\x05", 5);
    assert_memory_equal(r.data + 3 + 124, "\xCD\x00\x80\xCD\x00\x81", 6);
    /* n=1000: CD 03 E8; the 96 left come in one array 16 (DC 00 60). */
    memcpy(want + 21, "\xA1\x6E\xCD\x03\xE8", 5);
    assert_int_equal(busrt_cursor_next_bulk(cur, 1000, &r, &count), 0);
    assert_int_equal(count, 96);
    assert_int_equal(sv.last_params_len, 26);
    assert_memory_equal(sv.last_params, want, 26);
    assert_memory_equal(r.data, "\xDC\x00\x60\xCD\x00\xCC", 6);
    busrt_cursor_close(cur);
    server_stop(&sv, c, s);
    busrt_client_close(c);
}

int main(void)
{
    th_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_zero_one_many),
        cmocka_unit_test(test_next_bulk),
        cmocka_unit_test(test_interleaved),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_expiry_on_use),
        cmocka_unit_test(test_max_open),
        cmocka_unit_test(test_wire_bytes),
    };
    return cmocka_run_group_tests_name("libbusrt-cursor", tests, th_group_setup, th_group_teardown);
}
