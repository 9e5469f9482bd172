/* The router when memory runs out (REQ-ERR-7), in process, with malloc and
 * realloc wrapped (-Wl,--wrap) so that one chosen allocation fails: the
 * receivers whose queues got the frame keep it, the others get nothing, the
 * sender stays connected and its ACK says 74 instead of 01. Also under
 * --memory-limit (mem.c, C library and arena backends): a body the budget
 * cannot hold is discarded and answered 74, the stream stays in step. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "../src/broker/broker.h"
#include "../src/broker/config.h"
#include "../src/broker/conn.h"
#include "../src/broker/coreapi.h"
#include "../src/broker/log.h"
#include "../src/broker/mem.h"
#include "../src/broker/outq.h"
#include "busrt/frame.h"

#define NSUB 70 /* more than the first 64 receiver slots */

void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);

static size_t g_fail_malloc_size;  /* the next malloc of this size fails */
static size_t g_fail_realloc_size; /* the next realloc to this size fails */

void *__wrap_malloc(size_t n)
{
    if (g_fail_malloc_size != 0 && n == g_fail_malloc_size) {
        g_fail_malloc_size = 0;
        return NULL;
    }
    return __real_malloc(n);
}

void *__wrap_realloc(void *p, size_t n)
{
    if (g_fail_realloc_size != 0 && n == g_fail_realloc_size) {
        g_fail_realloc_size = 0;
        return NULL;
    }
    return __real_realloc(p, n);
}

static struct broker g_b;
static struct client *g_pub, *g_sub[NSUB];

static struct client *reg(const char *name)
{
    uint8_t hs[64] = {0xEB, 1, 0};
    size_t n = strlen(name);
    hs[3] = (uint8_t)n;
    hs[4] = 0;
    memcpy(hs + 5, name, n);
    struct client *c = client_new(&g_b, -1, KIND_UNIX);
    assert_non_null(c);
    client_feed(&g_b, c, hs, 5 + n);
    assert_true(c->registered && !c->dead);
    return c;
}

static void send_frame(struct client *c, uint8_t op, uint8_t qos, uint32_t id,
                       const void *body, size_t len)
{
    uint8_t hdr[BUSRT_CLIENT_HEADER_LEN];
    struct busrt_client_header h = {id, op, qos, (uint32_t)len};
    assert_int_equal(busrt_client_header_encode(&h, hdr, sizeof hdr), 9);
    client_feed(&g_b, c, hdr, sizeof hdr);
    if (len > 0) {
        client_feed(&g_b, c, body, len);
    }
    coreapi_flush_events(&g_b);
}

/* Drops everything queued for c. */
static void drain(struct client *c)
{
    (void)outq_consume(&c->q, c->q.bytes);
}

/* How many frames of kind are queued for c. */
static int queued(const struct client *c, uint8_t kind)
{
    int n = 0;
    for (size_t i = 0; i < c->q.count; i++) {
        const struct outbuf *f = c->q.ring[(c->q.head + i) % c->q.rcap];
        if (f->len > BUSRT_FRAME_HEADER_LEN && f->data[0] == kind) {
            n++;
        }
    }
    return n;
}

/* The code of the last ACK queued for c, or -1. */
static int last_ack(const struct client *c, uint32_t id)
{
    int code = -1;
    for (size_t i = 0; i < c->q.count; i++) {
        const struct outbuf *f = c->q.ring[(c->q.head + i) % c->q.rcap];
        struct busrt_ack a;
        if (busrt_ack_decode(f->data, f->len, &a) == (int)BUSRT_ACK_LEN && a.op_id == id) {
            code = a.code;
        }
    }
    return code;
}

static int setup(void **state)
{
    (void)state;
    static char *argv[] = {"busrtd", "-B", "/nonexistent/oom.sock", NULL};
    struct config cfg;
    log_setup(-1, 0);
    assert_int_equal(config_parse(&cfg, 3, argv), 0);
    assert_int_equal(broker_init(&g_b, &cfg), 0);
    g_pub = reg("pub");
    char name[16];
    for (int i = 0; i < NSUB; i++) {
        (void)snprintf(name, sizeof name, "s%02d", i);
        g_sub[i] = reg(name);
        send_frame(g_sub[i], BUSRT_OP_SUBSCRIBE, 0, 0, "t/x", 4); /* with its NUL */
        drain(g_sub[i]);
    }
    drain(g_pub);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    broker_reap(&g_b);
    broker_teardown(&g_b);
    return 0;
}

/* "t/x" NUL "data": a publication body. */
static const char k_pub[] = "t/x\0data";

static int receivers(uint8_t kind)
{
    int n = 0;
    for (int i = 0; i < NSUB; i++) {
        n += queued(g_sub[i], kind);
        drain(g_sub[i]);
    }
    return n;
}

static void t_normal(void **state)
{
    (void)state;
    send_frame(g_pub, BUSRT_OP_PUBLISH, BUSRT_QOS_PROCESSED, 1, k_pub, sizeof k_pub - 1u);
    assert_int_equal(last_ack(g_pub, 1), BUSRT_RC_OK);
    assert_int_equal(receivers(BUSRT_KIND_PUBLISH), NSUB);
}

static void t_receiver_list_short(void **state)
{
    (void)state;
    /* The list of receivers cannot grow past its first 64 slots once: the
     * 65th receiver is left out (the list grows again for the rest). */
    g_fail_realloc_size = MEM_HDR + 128u * sizeof(struct client *);
    send_frame(g_pub, BUSRT_OP_PUBLISH, BUSRT_QOS_PROCESSED, 2, k_pub, sizeof k_pub - 1u);
    assert_int_equal(g_fail_realloc_size, 0); /* the failure happened */
    assert_int_equal(last_ack(g_pub, 2), BUSRT_RC_OTHER);
    assert_int_equal(receivers(BUSRT_KIND_PUBLISH), NSUB - 1);
    assert_false(g_pub->dead);
    /* Memory back: the next one reaches everyone, ACK 01. */
    send_frame(g_pub, BUSRT_OP_PUBLISH, BUSRT_QOS_PROCESSED, 3, k_pub, sizeof k_pub - 1u);
    assert_int_equal(last_ack(g_pub, 3), BUSRT_RC_OK);
    assert_int_equal(receivers(BUSRT_KIND_PUBLISH), NSUB);
}

static void t_frame_not_built(void **state)
{
    (void)state;
    /* The shared delivered frame cannot be allocated: nobody gets it. */
    size_t body = 3u + 1u + 3u + 1u + 4u; /* "pub" NUL "t/x" NUL "data" */
    g_fail_malloc_size = MEM_HDR + sizeof(struct outbuf) + BUSRT_FRAME_HEADER_LEN + body;
    send_frame(g_pub, BUSRT_OP_PUBLISH, BUSRT_QOS_REALTIME_PROCESSED, 4, k_pub,
               sizeof k_pub - 1u);
    assert_int_equal(g_fail_malloc_size, 0);
    assert_int_equal(last_ack(g_pub, 4), BUSRT_RC_OTHER);
    assert_int_equal(receivers(BUSRT_KIND_PUBLISH), 0);
    assert_false(g_pub->dead);
    /* The same for a broadcast ("*" NUL "data"; delivered: "pub" NUL "data") ... */
    g_fail_malloc_size = MEM_HDR + sizeof(struct outbuf) + BUSRT_FRAME_HEADER_LEN + 3u + 1u + 4u;
    send_frame(g_pub, BUSRT_OP_BROADCAST, BUSRT_QOS_PROCESSED, 5, "*\0data", 6);
    assert_int_equal(g_fail_malloc_size, 0);
    assert_int_equal(last_ack(g_pub, 5), BUSRT_RC_OTHER);
    assert_int_equal(receivers(BUSRT_KIND_BROADCAST), 0);
    assert_int_equal(queued(g_pub, BUSRT_KIND_BROADCAST), 0);
    /* ... and a message, whose frame has the same size. */
    g_fail_malloc_size = MEM_HDR + sizeof(struct outbuf) + BUSRT_FRAME_HEADER_LEN + 3u + 1u + 4u;
    send_frame(g_pub, BUSRT_OP_MESSAGE, BUSRT_QOS_PROCESSED, 6, "s07\0data", 8);
    assert_int_equal(g_fail_malloc_size, 0);
    assert_int_equal(last_ack(g_pub, 6), BUSRT_RC_OTHER);
    assert_int_equal(receivers(BUSRT_KIND_MESSAGE), 0);
    /* Without QoS 1 there is no ACK, and the sender still stays. */
    g_fail_malloc_size = MEM_HDR + sizeof(struct outbuf) + BUSRT_FRAME_HEADER_LEN + body;
    send_frame(g_pub, BUSRT_OP_PUBLISH, 0, 7, k_pub, sizeof k_pub - 1u);
    assert_int_equal(last_ack(g_pub, 7), -1);
    assert_int_equal(receivers(BUSRT_KIND_PUBLISH), 0);
    assert_false(g_pub->dead);
    drain(g_pub);
}

/* --memory-limit: a body too large for the budget is read and discarded,
 * answered 74, and the connection stays in step for the next frame. */
static void t_budget_body_discarded(void **state)
{
    (void)state;
    static uint8_t big[900u * 1024u];
    memcpy(big, "t/x", 4); /* topic and its NUL, then the payload */
    send_frame(g_pub, BUSRT_OP_PUBLISH, BUSRT_QOS_PROCESSED, 11, big, sizeof big);
    assert_int_equal(last_ack(g_pub, 11), BUSRT_RC_OTHER);
    assert_int_equal(receivers(BUSRT_KIND_PUBLISH), 0);
    assert_false(g_pub->dead);
    assert_int_equal(g_pub->st, ST_HEADER);
    send_frame(g_pub, BUSRT_OP_PUBLISH, BUSRT_QOS_PROCESSED, 12, k_pub, sizeof k_pub - 1u);
    assert_int_equal(last_ack(g_pub, 12), BUSRT_RC_OK);
    assert_int_equal(receivers(BUSRT_KIND_PUBLISH), NSUB);
    assert_true(mem_high_water() <= mem_limit());
    drain(g_pub);
}

static int setup_budget(void **state)
{
    assert_int_equal(mem_init(1u << 20, 0), 0);
    return setup(state);
}

static int setup_arena(void **state)
{
    assert_int_equal(mem_init(1u << 20, 1), 0);
    return setup(state);
}

static int teardown_budget(void **state)
{
    int rc = teardown(state);
    assert_int_equal(mem_used(), 0); /* everything the broker held was released */
    mem_shutdown();
    assert_int_equal(mem_init(0, 0), 0);
    return rc;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_normal, setup, teardown),
        cmocka_unit_test_setup_teardown(t_receiver_list_short, setup, teardown),
        cmocka_unit_test_setup_teardown(t_frame_not_built, setup, teardown),
        cmocka_unit_test_setup_teardown(t_budget_body_discarded, setup_budget, teardown_budget),
        cmocka_unit_test_setup_teardown(t_budget_body_discarded, setup_arena, teardown_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
