/* Integration: operations and routing (protocol facts sections 2-4, 7, 8):
 * messages and QoS, broadcast masks, publish/subscribe with wildcards and
 * quirks, exclusions, publish-for, ordering, and the .broker RPC client.
 * One broker serves every test (unique names and topics per test); the
 * broadcast-mask test starts its own broker so that masks like "*" see
 * exactly the example client set. */
#define _DEFAULT_SOURCE
#include "itest.h"

#include "busrt/rpcproto.h"

static struct wc_broker g_b;
static struct wc_broker g_bb; /* a second broker started by one test */

static int group_setup(void **state)
{
    (void)state;
    wc_init();
    const char *extra[] = {"-t", "30", NULL};
    if (wc_broker_start(&g_b, extra) != 0) {
        wc_broker_cleanup(&g_b);
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    wc_broker_cleanup(&g_b);
    wc_broker_cleanup(&g_bb);
    return 0;
}

static void expect_exact(int fd, const uint8_t *bytes, size_t n)
{
    uint8_t buf[256];
    assert_true(n <= sizeof buf);
    int r = wc_read_exact(fd, buf, n, IT_T);
    assert_int_equal(r, 0);
    if (memcmp(buf, bytes, n) != 0) {
        fprintf(stderr, "it: bytes differ:\n  got ");
        for (size_t i = 0; i < n; i++) {
            fprintf(stderr, "%02x ", buf[i]);
        }
        fprintf(stderr, "\n want ");
        for (size_t i = 0; i < n; i++) {
            fprintf(stderr, "%02x ", bytes[i]);
        }
        fprintf(stderr, "\n");
    }
    assert_memory_equal(buf, bytes, n);
}

/* ---- messages ------------------------------------------------------------- */

static void t_message_qos_bytes(void **state)
{
    (void)state;
    int a = it_reg(g_b.sock, "rt.qa");
    int b = it_reg(g_b.sock, "rt.qb");
    for (uint8_t q = 0; q < 4; q++) {
        uint32_t id = 0x0A0B0C00u + q;
        char payload[8];
        snprintf(payload, sizeof payload, "q%u", (unsigned)q);
        assert_int_equal(wc_send_msg(a, q, id, "rt.qb", payload, 2), 0);
        if (q & 1u) {
            /* FE, op id as sent (LE), 01. */
            const uint8_t ack[6] = {0xFE, (uint8_t)(0x00u + q), 0x0C, 0x0B, 0x0A, 0x01};
            expect_exact(a, ack, 6);
        }
        /* 12, len u32 = "rt.qa" NUL "qN" = 8, realtime byte, body. */
        uint8_t want[6 + 8] = {0x12, 8, 0, 0, 0, (uint8_t)((q & 2u) ? 1 : 0),
                               'r', 't', '.', 'q', 'a', 0, 'q', (uint8_t)('0' + q)};
        expect_exact(b, want, sizeof want);
    }
    /* No ACK for QoS 0 and 2, nothing else either. */
    it_expect_silence(a, 300);
    it_expect_silence(b, 100);
    wc_close(a);
    wc_close(b);
}

static void t_message_unknown_target(void **state)
{
    (void)state;
    int a = it_reg(g_b.sock, "rt.unk");
    assert_int_equal(wc_send_msg(a, 1, 7, "rt.nobody", "x", 1), 0);
    const uint8_t ack[6] = {0xFE, 7, 0, 0, 0, 0x71};
    expect_exact(a, ack, 6);
    /* QoS 3 too; QoS 0 gets nothing and the connection stays. */
    assert_int_equal(wc_send_msg(a, 3, 8, "rt.nobody", "x", 1), 0);
    it_expect_ack(a, 8, BUSRT_RC_NOT_REGISTERED);
    assert_int_equal(wc_send_msg(a, 0, 9, "rt.nobody", "x", 1), 0);
    /* Names are exact: no wildcards, no prefix matching. */
    assert_int_equal(wc_send_msg(a, 1, 10, "rt.*", "x", 1), 0);
    it_expect_ack(a, 10, BUSRT_RC_NOT_REGISTERED);
    assert_int_equal(wc_send_msg(a, 1, 11, "rt.un", "x", 1), 0);
    it_expect_ack(a, 11, BUSRT_RC_NOT_REGISTERED);
    assert_int_equal(wc_send_msg(a, 1, 13, "", "x", 1), 0);
    it_expect_ack(a, 13, BUSRT_RC_NOT_REGISTERED);
    assert_int_equal(wc_send_msg(a, 1, 14, ".broke", "x", 1), 0);
    it_expect_ack(a, 14, BUSRT_RC_NOT_REGISTERED);
    it_expect_silence(a, 200);
    it_roundtrip(a, "rt.unk", a, "rt.unk", "self", 12);
    wc_close(a);
}

static void t_message_payloads(void **state)
{
    (void)state;
    int a = it_reg(g_b.sock, "rt.pa");
    int b = it_reg(g_b.sock, "rt.pb");
    /* Empty payload, payload with NULs, and a 1 MB payload. */
    assert_int_equal(wc_send_msg(a, 0, 1, "rt.pb", "", 0), 0);
    it_expect_frame(b, BUSRT_KIND_MESSAGE, "rt.pa", NULL, "", 0, 0);
    assert_int_equal(wc_send_msg(a, 0, 2, "rt.pb", "a\0b\0", 4), 0);
    it_expect_frame(b, BUSRT_KIND_MESSAGE, "rt.pa", NULL, "a\0b\0", 4, 0);
    size_t big = 1024u * 1024u;
    uint8_t *p = malloc(big);
    assert_non_null(p);
    for (size_t i = 0; i < big; i++) {
        p[i] = (uint8_t)(i * 7u + 3u);
    }
    assert_int_equal(wc_send_msg(a, 1, 3, "rt.pb", p, big), 0);
    it_expect_ack(a, 3, BUSRT_RC_OK);
    it_expect_frame(b, BUSRT_KIND_MESSAGE, "rt.pa", NULL, p, big, 0);
    free(p);
    wc_close(a);
    wc_close(b);
}

static void t_own_deliveries_before_ack(void **state)
{
    (void)state;
    /* A frame's ACK is queued after its deliveries: a client that is its
     * own receiver sees the delivery first. */
    int a = it_reg(g_b.sock, "rt.self");
    assert_int_equal(wc_subscribe(a, "rt/self/t"), BUSRT_RC_OK);
    assert_int_equal(wc_send_msg(a, 1, 100, "rt.self", "m", 1), 0);
    it_expect_msg(a, "rt.self", "m");
    it_expect_ack(a, 100, BUSRT_RC_OK);
    assert_int_equal(wc_send_pub(a, 1, 101, "rt/self/t", "p", 1), 0);
    it_expect_pub(a, "rt.self", "rt/self/t", "p");
    it_expect_ack(a, 101, BUSRT_RC_OK);
    assert_int_equal(wc_send_bcast(a, 1, 102, "rt.self", "b", 1), 0);
    it_expect_frame(a, BUSRT_KIND_BROADCAST, "rt.self", NULL, "b", 1, -1);
    it_expect_ack(a, 102, BUSRT_RC_OK);
    it_expect_silence(a, 200);
    wc_close(a);
}

static void t_realtime_byte_all_kinds(void **state)
{
    (void)state;
    int a = it_reg(g_b.sock, "rt.rta");
    int b = it_reg(g_b.sock, "rt.rtb");
    assert_int_equal(wc_subscribe(b, "rt/rt"), BUSRT_RC_OK);
    for (uint8_t q = 0; q < 4; q++) {
        int rt = (q & 2u) ? 1 : 0;
        assert_int_equal(wc_send_pub(a, q, 200u + q, "rt/rt", "p", 1), 0);
        if (q & 1u) {
            it_expect_ack(a, 200u + q, BUSRT_RC_OK);
        }
        it_expect_frame(b, BUSRT_KIND_PUBLISH, "rt.rta", "rt/rt", "p", 1, rt);
        assert_int_equal(wc_send_bcast(a, q, 300u + q, "rt.rtb", "b", 1), 0);
        if (q & 1u) {
            it_expect_ack(a, 300u + q, BUSRT_RC_OK);
        }
        it_expect_frame(b, BUSRT_KIND_BROADCAST, "rt.rta", NULL, "b", 1, rt);
        assert_int_equal(wc_send_pub_for(a, q, 400u + q, "rt/rt", "rt.rtb", "f", 1), 0);
        if (q & 1u) {
            it_expect_ack(a, 400u + q, BUSRT_RC_OK);
        }
        it_expect_frame(b, BUSRT_KIND_PUBLISH, "rt.rta", "rt/rt", "f", 1, rt);
    }
    it_expect_silence(a, 200);
    wc_close(a);
    wc_close(b);
}

/* ---- broadcast -------------------------------------------------------------- */

static void t_broadcast_masks(void **state)
{
    (void)state;
    const char *extra[] = {"-t", "30", NULL};
    assert_int_equal(wc_broker_start(&g_bb, extra), 0);
    const char *names[5] = {"this.is.a", "this.is.b", "this.is", "this", "that.is.a"};
    int fd[5];
    for (int i = 0; i < 5; i++) {
        fd[i] = it_reg(g_bb.sock, names[i]);
    }
    /* The sender is "that.is.a" (index 4): it gets its own broadcast when
     * the mask matches it. Each payload is the mask itself. */
    const char *masks[] = {"this.is.*", "this.*", "*", "this.?.a", "?.is.a",
                           "this.is.a.*", "this.is", "th*", "this.i?", "?",
                           "?.?", "this.is.?", "that.is.a", "*.is.a", "this.*.x", ""};
    /* expected[mask][client] */
    static const int expected[][5] = {
        {1, 1, 0, 0, 0}, /* this.is.*  */
        {1, 1, 1, 0, 0}, /* this.*     */
        {1, 1, 1, 1, 1}, /* *          */
        {1, 0, 0, 0, 0}, /* this.?.a   */
        {1, 0, 0, 0, 1}, /* ?.is.a     */
        {0, 0, 0, 0, 0}, /* this.is.a.* */
        {0, 0, 1, 0, 0}, /* this.is    */
        {0, 0, 0, 0, 0}, /* th*: literal chunk */
        {0, 0, 0, 0, 0}, /* this.i?: literal chunk */
        {0, 0, 0, 1, 0}, /* ?          */
        {0, 0, 1, 0, 0}, /* ?.?        */
        {1, 1, 0, 0, 0}, /* this.is.?  */
        {0, 0, 0, 0, 1}, /* that.is.a  */
        {1, 1, 1, 1, 1}, /* *.is.a: '*' ends the mask, so it is "*" */
        {1, 1, 1, 0, 0}, /* this.*.x: as this.* */
        {0, 0, 0, 0, 0}, /* "": no client has the empty name */
    };
    size_t nm = sizeof masks / sizeof masks[0];
    for (size_t m = 0; m < nm; m++) {
        assert_int_equal(wc_send_bcast(fd[4], 1, (uint32_t)(1000 + m), masks[m], masks[m],
                                       strlen(masks[m])),
                         0);
        /* The sender's own copy (when it matches) comes before the ACK,
         * which is always 01, even with zero receivers. */
        if (expected[m][4]) {
            it_expect_frame(fd[4], BUSRT_KIND_BROADCAST, "that.is.a", NULL, masks[m],
                            strlen(masks[m]), 0);
        }
        it_expect_ack(fd[4], (uint32_t)(1000 + m), BUSRT_RC_OK);
    }
    assert_int_equal(wc_send_bcast(fd[4], 0, 0, "*", "END", 3), 0);
    for (int c = 0; c < 5; c++) {
        char got[32][128];
        int n = it_collect(fd[c], "END", got, 32);
        const char *want[32];
        int wn = 0;
        for (size_t m = 0; m < nm && c != 4; m++) {
            if (expected[m][c]) {
                want[wn++] = masks[m];
            }
        }
        char what[64];
        snprintf(what, sizeof what, "broadcasts received by %s", names[c]);
        it_assert_list(what, got, n, want, wn);
    }
    /* The delivered frame: kind 13, sender NUL payload. */
    assert_int_equal(wc_send_bcast(fd[4], 0, 0, "this", "hdr", 3), 0);
    const uint8_t want[6 + 13] = {0x13, 13, 0, 0, 0, 0, 't', 'h', 'a', 't', '.', 'i', 's',
                                  '.', 'a', 0, 'h', 'd', 'r'};
    expect_exact(fd[3], want, sizeof want);
    for (int i = 0; i < 5; i++) {
        wc_close(fd[i]);
    }
    assert_int_equal(wc_broker_stop(&g_bb), 0);
    wc_broker_cleanup(&g_bb);
}

/* ---- publish / subscribe -------------------------------------------------- */

/* Publishes each topic (payload = topic) then the sentinel on sent_topic. */
static void publish_all(int p, const char *const *topics, size_t n, const char *sentinel_topic)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(wc_send_pub(p, 0, 0, topics[i], topics[i], strlen(topics[i])), 0);
    }
    assert_int_equal(wc_send_pub(p, 0, 0, sentinel_topic, "END", 3), 0);
}

static void t_pubsub_wildcards(void **state)
{
    (void)state;
    int s = it_reg(g_b.sock, "rt.wsub");
    int p = it_reg(g_b.sock, "rt.wpub");
    const char *subs[] = {"w/a/#", "w/x/#/y", "w/+/m", "w/p//q", "w/exact", "w/end",
                          "w/+/+/n", "w/#/z"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        assert_int_equal(wc_subscribe(s, subs[i]), BUSRT_RC_OK);
    }
    const char *topics[] = {
        "w/a",       /* no: a/# does not match a */
        "w/a/b",     /* yes */
        "w/a/b/c",   /* yes */
        "w/x",       /* no */
        "w/x/q",     /* yes: x/#/y behaves as x/# */
        "w/x/q/z",   /* yes */
        "w/x/q/y",   /* yes */
        "w/k/m",     /* yes */
        "w//m",      /* yes: + matches the empty chunk */
        "w/k/l/m",   /* no */
        "w/m",       /* no */
        "w/p/q",     /* no */
        "w/p//q",    /* yes */
        "w/exact",   /* yes */
        "w/exact/",  /* no */
        "/w/exact",  /* no */
        "w/exac",    /* no */
        "w/EXACT",   /* no: case matters */
        "w/1/2/n",   /* yes */
        "w/1/n",     /* no */
        "w/q",       /* yes: w/#/z behaves as w/# */
        "w",         /* no */
    };
    publish_all(p, topics, sizeof topics / sizeof topics[0], "w/end");
    const char *want[] = {"w/a/b", "w/a/b/c", "w/x/q", "w/x/q/z", "w/x/q/y", "w/k/m", "w//m",
                          "w/p//q", "w/exact", "w/1/2/n"};
    char got[64][128];
    int n = it_collect(s, "END", got, 64);
    /* w/#/z (as w/#) matches every w/... topic with two or more chunks. */
    const char *want_all[] = {"w/a", "w/a/b", "w/a/b/c", "w/x", "w/x/q", "w/x/q/z", "w/x/q/y",
                              "w/k/m", "w//m", "w/k/l/m", "w/m", "w/p/q", "w/p//q",
                              "w/exact", "w/exact/", "w/exac", "w/EXACT", "w/1/2/n",
                              "w/1/n", "w/q"};
    it_assert_list("topics received", got, n, want_all, (int)(sizeof want_all / sizeof want_all[0]));
    /* Without the catch-all, the exact set. */
    const char *un[] = {"w/#/z"};
    assert_int_equal(wc_topics_sync(s, BUSRT_OP_UNSUBSCRIBE, un, 1), BUSRT_RC_OK);
    publish_all(p, topics, sizeof topics / sizeof topics[0], "w/end");
    n = it_collect(s, "END", got, 64);
    it_assert_list("topics received", got, n, want, (int)(sizeof want / sizeof want[0]));
    it_expect_silence(p, 100);
    wc_close(s);
    wc_close(p);
}

static void t_pubsub_one_copy(void **state)
{
    (void)state;
    int s = it_reg(g_b.sock, "rt.ocsub");
    int p = it_reg(g_b.sock, "rt.ocpub");
    const char *subs[] = {"oc/+", "oc/#", "oc/1", "+/1", "#"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(wc_subscribe(s, subs[i]), BUSRT_RC_OK);
    }
    const char *topics[] = {"oc/1", "oc/2/3", "zz/1"};
    publish_all(p, topics, 3, "oc/end");
    char got[16][128];
    int n = it_collect(s, "END", got, 16);
    it_assert_list("one copy each", got, n, topics, 3);
    wc_close(s);
    wc_close(p);
}

static void t_subscribe_idempotent_unsubscribe_exact(void **state)
{
    (void)state;
    int s = it_reg(g_b.sock, "rt.idsub");
    int p = it_reg(g_b.sock, "rt.idpub");
    assert_int_equal(wc_subscribe(s, "id/end"), BUSRT_RC_OK);
    assert_int_equal(wc_subscribe(s, "id/t"), BUSRT_RC_OK);
    assert_int_equal(wc_subscribe(s, "id/t"), BUSRT_RC_OK);
    assert_int_equal(wc_subscribe(s, "u/+"), BUSRT_RC_OK);
    const char *topics[] = {"id/t", "u/1"};
    publish_all(p, topics, 2, "id/end");
    char got[16][128];
    int n = it_collect(s, "END", got, 16);
    it_assert_list("before unsubscribe", got, n, topics, 2);
    /* Unsubscribe removes exactly the string given: "u/1" and "id/+" were
     * never subscribed, so nothing changes. */
    const char *u1[] = {"u/1", "id/+", "u/#"};
    assert_int_equal(wc_topics_sync(s, BUSRT_OP_UNSUBSCRIBE, u1, 3), BUSRT_RC_OK);
    publish_all(p, topics, 2, "id/end");
    n = it_collect(s, "END", got, 16);
    it_assert_list("after unsubscribing other strings", got, n, topics, 2);
    /* One unsubscribe of a twice-subscribed pattern removes it. */
    const char *u2[] = {"id/t"};
    assert_int_equal(wc_topics_sync(s, BUSRT_OP_UNSUBSCRIBE, u2, 1), BUSRT_RC_OK);
    publish_all(p, topics, 2, "id/end");
    n = it_collect(s, "END", got, 16);
    const char *after[] = {"u/1"};
    it_assert_list("after unsubscribing id/t once", got, n, after, 1);
    const char *u3[] = {"u/+"};
    assert_int_equal(wc_topics_sync(s, BUSRT_OP_UNSUBSCRIBE, u3, 1), BUSRT_RC_OK);
    publish_all(p, topics, 2, "id/end");
    n = it_collect(s, "END", got, 16);
    it_assert_list("after unsubscribing u/+", got, n, NULL, 0);
    /* Unsubscribing something never subscribed is still ACKed 01. */
    const char *u4[] = {"never/there"};
    assert_int_equal(wc_topics_sync(s, BUSRT_OP_UNSUBSCRIBE, u4, 1), BUSRT_RC_OK);
    wc_close(s);
    wc_close(p);
}

static void t_subscribe_empty_body(void **state)
{
    (void)state;
    int s = it_reg(g_b.sock, "rt.esub");
    int p = it_reg(g_b.sock, "rt.epub");
    assert_int_equal(wc_subscribe(s, "e/end"), BUSRT_RC_OK);
    /* An empty body subscribes to the empty topic "". */
    assert_int_equal(wc_send_frame(s, BUSRT_OP_SUBSCRIBE, 1, 77, "", 0), 0);
    it_expect_ack(s, 77, BUSRT_RC_OK);
    const char *topics[] = {"", "zzz", "/", "e"};
    publish_all(p, topics, 4, "e/end");
    char got[16][128];
    int n = it_collect(s, "END", got, 16);
    const char *want[] = {""};
    it_assert_list("empty-topic subscription", got, n, want, 1);
    /* And an empty-body unsubscribe removes it. */
    assert_int_equal(wc_send_frame(s, BUSRT_OP_UNSUBSCRIBE, 1, 78, "", 0), 0);
    it_expect_ack(s, 78, BUSRT_RC_OK);
    publish_all(p, topics, 4, "e/end");
    n = it_collect(s, "END", got, 16);
    it_assert_list("after empty unsubscribe", got, n, NULL, 0);
    wc_close(s);
    wc_close(p);
}

static void t_subscribe_several_topics(void **state)
{
    (void)state;
    int s = it_reg(g_b.sock, "rt.msub");
    int p = it_reg(g_b.sock, "rt.mpub");
    const char *subs[] = {"mt/1", "mt/2", "mt/3", "mt/end"};
    assert_int_equal(wc_topics_sync(s, BUSRT_OP_SUBSCRIBE, subs, 4), BUSRT_RC_OK);
    const char *topics[] = {"mt/1", "mt/2", "mt/3", "mt/4"};
    publish_all(p, topics, 4, "mt/end");
    char got[16][128];
    int n = it_collect(s, "END", got, 16);
    it_assert_list("several topics", got, n, topics, 3);
    const char *uns[] = {"mt/1", "mt/3"};
    assert_int_equal(wc_topics_sync(s, BUSRT_OP_UNSUBSCRIBE, uns, 2), BUSRT_RC_OK);
    publish_all(p, topics, 4, "mt/end");
    n = it_collect(s, "END", got, 16);
    const char *want[] = {"mt/2"};
    it_assert_list("after unsubscribing two", got, n, want, 1);
    wc_close(s);
    wc_close(p);
}

static void t_exclude_unexclude(void **state)
{
    (void)state;
    int s = it_reg(g_b.sock, "rt.xsub");
    int p = it_reg(g_b.sock, "rt.xpub");
    assert_int_equal(wc_subscribe(s, "ex/#"), BUSRT_RC_OK);
    const char *exc[] = {"ex/secret/#", "ex/+/hidden"};
    assert_int_equal(wc_topics_sync(s, BUSRT_OP_EXCLUDE, exc, 2), BUSRT_RC_OK);
    const char *topics[] = {"ex/a", "ex/secret/x", "ex/b/hidden", "ex/secret", "ex/b/hidden/c"};
    publish_all(p, topics, 5, "ex/end");
    char got[16][128];
    int n = it_collect(s, "END", got, 16);
    const char *want1[] = {"ex/a", "ex/secret", "ex/b/hidden/c"};
    it_assert_list("with exclusions", got, n, want1, 3);
    const char *unx[] = {"ex/secret/#"};
    assert_int_equal(wc_topics_sync(s, BUSRT_OP_UNEXCLUDE, unx, 1), BUSRT_RC_OK);
    publish_all(p, topics, 5, "ex/end");
    n = it_collect(s, "END", got, 16);
    const char *want2[] = {"ex/a", "ex/secret/x", "ex/secret", "ex/b/hidden/c"};
    it_assert_list("after unexclude", got, n, want2, 4);
    /* An exclusion also hides publish-for deliveries. */
    assert_int_equal(wc_send_pub_for(p, 1, 5, "ex/b/hidden", "rt.xsub", "pf", 2), 0);
    it_expect_ack(p, 5, BUSRT_RC_OK);
    assert_int_equal(wc_send_pub_for(p, 0, 0, "ex/a", "rt.xsub", "END", 3), 0);
    n = it_collect(s, "END", got, 16);
    it_assert_list("publish-for with exclusion", got, n, NULL, 0);
    wc_close(s);
    wc_close(p);
}

static void t_publish_for(void **state)
{
    (void)state;
    int m = it_reg(g_b.sock, "pf.main");
    int w1 = it_reg(g_b.sock, "pf.main%%w1");
    int w2 = it_reg(g_b.sock, "pf.main%%w2");
    int o = it_reg(g_b.sock, "pf.other");
    int p = it_reg(g_b.sock, "pf.pub");
    assert_int_equal(wc_subscribe(m, "pf/#"), BUSRT_RC_OK);
    assert_int_equal(wc_subscribe(w1, "pf/t"), BUSRT_RC_OK);
    assert_int_equal(wc_subscribe(o, "pf/t"), BUSRT_RC_OK);
    assert_int_equal(wc_subscribe(w2, "pf/end"), BUSRT_RC_OK);
    assert_int_equal(wc_subscribe(o, "pf/end"), BUSRT_RC_OK);
    assert_int_equal(wc_subscribe(w1, "pf/end"), BUSRT_RC_OK);
    /* publish-for pf.main: the primary and its matching secondaries only. */
    assert_int_equal(wc_send_pub_for(p, 1, 1, "pf/t", "pf.main", "for-main", 8), 0);
    it_expect_ack(p, 1, BUSRT_RC_OK);
    /* Nobody called pf.nobody: still 01. */
    assert_int_equal(wc_send_pub_for(p, 1, 2, "pf/t", "pf.nobody", "for-nobody", 10), 0);
    it_expect_ack(p, 2, BUSRT_RC_OK);
    /* Topic pf/u matches only pf.main's pf/#. */
    assert_int_equal(wc_send_pub_for(p, 1, 3, "pf/u", "pf.main", "u-main", 6), 0);
    it_expect_ack(p, 3, BUSRT_RC_OK);
    /* Receiver "pf" is not a prefix match of pf.main. */
    assert_int_equal(wc_send_pub_for(p, 1, 4, "pf/t", "pf", "for-pf", 6), 0);
    it_expect_ack(p, 4, BUSRT_RC_OK);
    assert_int_equal(wc_send_pub(p, 0, 0, "pf/end", "END", 3), 0);

    /* The frames are ordinary publications: sender NUL topic NUL payload. */
    it_expect_pub(m, "pf.pub", "pf/t", "for-main");
    it_expect_pub(m, "pf.pub", "pf/u", "u-main");
    it_expect_pub(m, "pf.pub", "pf/end", "END");
    it_expect_pub(w1, "pf.pub", "pf/t", "for-main");
    it_expect_pub(w1, "pf.pub", "pf/end", "END");
    it_expect_pub(w2, "pf.pub", "pf/end", "END");
    it_expect_pub(o, "pf.pub", "pf/end", "END");
    it_expect_silence(m, 150);
    it_expect_silence(w1, 50);
    it_expect_silence(w2, 50);
    it_expect_silence(o, 50);
    /* Exact wire form of a publish-for delivery. */
    assert_int_equal(wc_send_pub_for(p, 0, 0, "pf/t", "pf.other", "Z", 1), 0);
    const uint8_t want[6 + 13] = {0x01, 13, 0, 0, 0, 0, 'p', 'f', '.', 'p', 'u', 'b', 0,
                                  'p', 'f', '/', 't', 0, 'Z'};
    expect_exact(o, want, sizeof want);
    wc_close(w1);
    wc_close(w2);
    wc_close(m);
    wc_close(o);
    wc_close(p);
}

static void t_publisher_receives_own(void **state)
{
    (void)state;
    int p = it_reg(g_b.sock, "rt.ownpub");
    int other = it_reg(g_b.sock, "rt.ownother");
    assert_int_equal(wc_subscribe(p, "own/t"), BUSRT_RC_OK);
    assert_int_equal(wc_subscribe(other, "own/t"), BUSRT_RC_OK);
    assert_int_equal(wc_send_pub(p, 0, 0, "own/t", "mine", 4), 0);
    it_expect_pub(p, "rt.ownpub", "own/t", "mine");
    it_expect_pub(other, "rt.ownpub", "own/t", "mine");
    /* Not subscribed: no own copy. */
    assert_int_equal(wc_send_pub(other, 0, 0, "own/other", "x", 1), 0);
    it_expect_silence(other, 200);
    wc_close(p);
    wc_close(other);
}

static void t_broker_warn_autosubscribed(void **state)
{
    (void)state;
    /* Every client is subscribed to .broker/warn at registration, so any
     * client's publication there reaches it. */
    int a = it_reg(g_b.sock, "rt.warn.a");
    int b = it_reg(g_b.sock, "rt.warn.b");
    assert_int_equal(wc_send_pub(b, 1, 9, ".broker/warn", "w", 1), 0);
    it_expect_pub(a, "rt.warn.b", ".broker/warn", "w");
    it_expect_pub(b, "rt.warn.b", ".broker/warn", "w");
    it_expect_ack(b, 9, BUSRT_RC_OK);
    wc_close(a);
    wc_close(b);
}

/* ---- ordering --------------------------------------------------------------- */

static void t_ordering_1000_mixed(void **state)
{
    (void)state;
    int a = it_reg(g_b.sock, "rt.orda");
    int b = it_reg(g_b.sock, "rt.ordb");
    assert_int_equal(wc_subscribe(b, "ord/t"), BUSRT_RC_OK);
    const int n = 1000;
    int acks = 0;
    for (int i = 0; i < n; i++) {
        char pl[16];
        snprintf(pl, sizeof pl, "%06d", i);
        uint8_t q = (uint8_t)(i % 4);
        uint32_t id = (uint32_t)(i + 1);
        int r;
        switch (i % 3) {
        case 0: r = wc_send_msg(a, q, id, "rt.ordb", pl, 6); break;
        case 1: r = wc_send_bcast(a, q, id, "rt.ordb", pl, 6); break;
        default: r = wc_send_pub(a, q, id, "ord/t", pl, 6); break;
        }
        assert_int_equal(r, 0);
        if (q & 1u) {
            acks++;
        }
    }
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    for (int i = 0; i < n; i++) {
        int r = wc_read_next(b, &f, IT_T);
        char pl[16];
        snprintf(pl, sizeof pl, "%06d", i);
        static const uint8_t kinds[3] = {BUSRT_KIND_MESSAGE, BUSRT_KIND_BROADCAST,
                                         BUSRT_KIND_PUBLISH};
        int ok = r == WC_FRAME && wc_frame_is(&f, kinds[i % 3], "rt.orda", NULL, pl, 6) &&
                 f.realtime == (((i % 4) & 2) ? 1 : 0);
        if (!ok) {
            fprintf(stderr, "it: ordering: frame %d wrong\n", i);
            it_print_frame("got", r, &f);
        }
        assert_true(ok);
    }
    wc_frame_free(&f);
    /* ACKs arrive in op order, only for QoS 1 and 3. */
    for (int i = 0; i < n; i++) {
        if ((i % 4) & 1) {
            it_expect_ack(a, (uint32_t)(i + 1), BUSRT_RC_OK);
        }
    }
    (void)acks;
    it_expect_silence(a, 200);
    it_expect_silence(b, 50);
    wc_close(a);
    wc_close(b);
}

/* ---- .broker RPC ------------------------------------------------------------- */

static void send_rpc(int fd, uint32_t op_id, uint32_t call_id, const char *method,
                     const void *params, size_t plen)
{
    uint8_t buf[256];
    int h = busrt_rpc_request_encode(call_id, (const uint8_t *)method, strlen(method), buf,
                                     sizeof buf);
    assert_true(h > 0);
    assert_true((size_t)h + plen <= sizeof buf);
    if (plen > 0) {
        memcpy(buf + h, params, plen);
    }
    assert_int_equal(wc_send_msg(fd, 1, op_id, ".broker", buf, (size_t)h + plen), 0);
}

/* Reads the ACK for op_id and the reply message from .broker in either
 * order; returns the reply frame in *f. */
static void rpc_ack_and_reply(int fd, uint32_t op_id, struct wc_frame *f)
{
    int got_ack = 0;
    int got_reply = 0;
    struct wc_frame t;
    memset(&t, 0, sizeof t);
    while (!got_ack || !got_reply) {
        int r = wc_read_next(fd, &t, IT_T);
        if (r == WC_ACK) {
            assert_false(got_ack);
            assert_int_equal(t.ack_id, op_id);
            assert_int_equal(t.ack_code, BUSRT_RC_OK);
            got_ack = 1;
        } else if (r == WC_FRAME) {
            if (!(t.kind == BUSRT_KIND_MESSAGE && strcmp(t.sender, ".broker") == 0) ||
                got_reply) {
                it_print_frame("unexpected while waiting for an RPC reply", r, &t);
                fail();
            }
            got_reply = 1;
            *f = t;
            memset(&t, 0, sizeof t);
        } else {
            it_print_frame("waiting for an RPC reply", r, &t);
            fail();
        }
    }
    wc_frame_free(&t);
}

static void t_rpc_test(void **state)
{
    (void)state;
    int a = it_reg(g_b.sock, "rt.rpc");
    send_rpc(a, 500, 0x11223344u, "test", NULL, 0);
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    rpc_ack_and_reply(a, 500, &f);
    const uint8_t want[] = {0x11, 0x44, 0x33, 0x22, 0x11, 0x81, 0xA2, 0x6F, 0x6B, 0xC3};
    assert_int_equal(f.payload_len, sizeof want);
    assert_memory_equal(f.payload, want, sizeof want);
    assert_int_equal(f.realtime, 0);
    wc_frame_free(&f);
    it_expect_silence(a, 200);
    wc_close(a);
}

static void t_rpc_unknown_method(void **state)
{
    (void)state;
    int a = it_reg(g_b.sock, "rt.rpcbad");
    send_rpc(a, 501, 0x0000BEEFu, "no.such.method", NULL, 0);
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    rpc_ack_and_reply(a, 501, &f);
    /* 12, call id, i16 -32601 LE (A7 80), then a message. */
    const uint8_t want[] = {0x12, 0xEF, 0xBE, 0x00, 0x00, 0xA7, 0x80};
    assert_true(f.payload_len >= sizeof want);
    assert_memory_equal(f.payload, want, sizeof want);
    struct busrt_rpc_header h;
    assert_int_equal(busrt_rpc_decode(f.payload, f.payload_len, &h), 0);
    assert_int_equal(h.code, BUSRT_RPC_E_METHOD_NOT_FOUND);
    wc_frame_free(&f);
    it_expect_silence(a, 200);
    wc_close(a);
}

static void t_rpc_call0_no_reply(void **state)
{
    (void)state;
    int a = it_reg(g_b.sock, "rt.rpc0");
    /* Call id 0: no reply wanted; only the broker's ACK. */
    send_rpc(a, 502, 0, "test", NULL, 0);
    it_expect_ack(a, 502, BUSRT_RC_OK);
    it_expect_silence(a, 300);
    /* The .broker client keeps serving. */
    send_rpc(a, 503, 7, "test", NULL, 0);
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    rpc_ack_and_reply(a, 503, &f);
    const uint8_t want[] = {0x11, 7, 0, 0, 0, 0x81, 0xA2, 0x6F, 0x6B, 0xC3};
    assert_int_equal(f.payload_len, sizeof want);
    assert_memory_equal(f.payload, want, sizeof want);
    wc_frame_free(&f);
    wc_close(a);
}

/* Calls method on .broker with call id 0x0102 and returns the reply frame
 * (ACK checked). */
static void rpc_call(int fd, const char *method, const void *params, size_t plen,
                     struct wc_frame *f)
{
    static uint32_t op = 600;
    op++;
    send_rpc(fd, op, 0x0102u, method, params, plen);
    rpc_ack_and_reply(fd, op, f);
}

/* Asserts f is an RPC reply (0x11) to call 0x0102; returns the result's
 * offset in the payload. */
static size_t rpc_result(const struct wc_frame *f)
{
    struct busrt_rpc_header h;
    assert_int_equal(busrt_rpc_decode(f->payload, f->payload_len, &h), 0);
    if (h.kind != BUSRT_RPC_REPLY) {
        fprintf(stderr, "it: RPC kind 0x%02x code %d, expected a reply\n", h.kind, h.code);
    }
    assert_int_equal(h.kind, BUSRT_RPC_REPLY);
    assert_int_equal(h.call_id, 0x0102u);
    return h.data.off;
}

static void assert_map_keys(const uint8_t *mp, size_t len, size_t pos, const char *const *keys,
                            size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t v;
        if (wc_mp_map_find(mp, len, pos, keys[i], &v) != 0) {
            fprintf(stderr, "it: key '%s' missing from the reply map\n", keys[i]);
            fail();
        }
    }
}

static void t_rpc_info_stats(void **state)
{
    (void)state;
    int a = it_reg(g_b.sock, "rt.rpcinfo");
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    rpc_call(a, "info", NULL, 0, &f);
    size_t off = rpc_result(&f);
    const char *ik[] = {"author", "version"};
    assert_map_keys(f.payload + off, f.payload_len - off, 0, ik, 2);
    char ver[64];
    assert_true(wc_mp_map_str(f.payload + off, f.payload_len - off, "version", ver,
                              sizeof ver) > 0);
    wc_frame_free(&f);
    rpc_call(a, "stats", NULL, 0, &f);
    off = rpc_result(&f);
    const uint8_t *mp = f.payload + off;
    size_t ml = f.payload_len - off;
    const char *sk[] = {"uptime", "r_frames", "r_bytes", "w_frames", "w_bytes"};
    assert_map_keys(mp, ml, 0, sk, 5);
    /* This very call has been read: r_frames > 0. */
    size_t v;
    uint64_t rf = 0;
    assert_int_equal(wc_mp_map_find(mp, ml, 0, "r_frames", &v), 0);
    assert_int_equal(wc_mp_read_uint(mp, ml, &v, &rf), 0);
    assert_true(rf > 0);
    wc_frame_free(&f);
    wc_close(a);
}

static void t_rpc_client_list(void **state)
{
    (void)state;
    int cb = it_reg(g_b.sock, "cl.b");
    int ca = it_reg(g_b.sock, "cl.a");
    int s1 = it_reg(g_b.sock, "cl.a%%s1");
    int s2 = it_reg(g_b.sock, "cl.a%%s2");
    int me = it_reg(g_b.sock, "cl.caller");
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    rpc_call(me, "client.list", NULL, 0, &f);
    size_t off = rpc_result(&f);
    const uint8_t *mp = f.payload + off;
    size_t ml = f.payload_len - off;
    size_t pos;
    size_t n = 0;
    assert_int_equal(wc_mp_map_find(mp, ml, 0, "clients", &pos), 0);
    assert_int_equal(wc_mp_read_array(mp, ml, &pos, &n), 0);
    char prev[256] = "";
    int seen_a = 0, seen_b = 0, seen_me = 0, seen_broker = 0;
    const char *keys[] = {"name", "kind", "source", "port", "r_frames", "r_bytes",
                          "w_frames", "w_bytes", "queue", "instances"};
    for (size_t i = 0; i < n; i++) {
        size_t el = pos;
        assert_map_keys(mp, ml, el, keys, 10);
        size_t v;
        const uint8_t *s;
        size_t sl;
        char name[256];
        char kind[64];
        assert_int_equal(wc_mp_map_find(mp, ml, el, "name", &v), 0);
        assert_int_equal(wc_mp_read_str(mp, ml, &v, &s, &sl), 0);
        assert_true(sl < sizeof name);
        memcpy(name, s, sl);
        name[sl] = '\0';
        assert_int_equal(wc_mp_map_find(mp, ml, el, "kind", &v), 0);
        assert_int_equal(wc_mp_read_str(mp, ml, &v, &s, &sl), 0);
        assert_true(sl < sizeof kind);
        memcpy(kind, s, sl);
        kind[sl] = '\0';
        uint64_t inst = 0;
        assert_int_equal(wc_mp_map_find(mp, ml, el, "instances", &v), 0);
        assert_int_equal(wc_mp_read_uint(mp, ml, &v, &inst), 0);
        /* Primaries only, sorted by name. */
        if (strstr(name, "%%") != NULL || (i > 0 && strcmp(prev, name) >= 0)) {
            fprintf(stderr, "it: client.list entry %zu '%s' after '%s'\n", i, name, prev);
            fail();
        }
        snprintf(prev, sizeof prev, "%s", name);
        if (strcmp(name, "cl.a") == 0) {
            seen_a = 1;
            assert_string_equal(kind, "local_ipc");
            assert_int_equal(inst, 3);
        } else if (strcmp(name, "cl.b") == 0) {
            seen_b = 1;
            assert_string_equal(kind, "local_ipc");
            assert_int_equal(inst, 1);
        } else if (strcmp(name, "cl.caller") == 0) {
            seen_me = 1;
        } else if (strcmp(name, ".broker") == 0) {
            seen_broker = 1;
            assert_string_equal(kind, "internal");
        }
        assert_int_equal(wc_mp_skip(mp, ml, &pos), 0);
    }
    assert_true(seen_a && seen_b && seen_me && seen_broker);
    wc_frame_free(&f);
    /* With a filter: {"filter": "^cl\.b$"}. */
    const uint8_t params[] = {0x81, 0xA6, 'f', 'i', 'l', 't', 'e', 'r', 0xA7,
                              '^', 'c', 'l', '\\', '.', 'b', '$'};
    rpc_call(me, "client.list", params, sizeof params, &f);
    off = rpc_result(&f);
    mp = f.payload + off;
    ml = f.payload_len - off;
    assert_int_equal(wc_mp_map_find(mp, ml, 0, "clients", &pos), 0);
    assert_int_equal(wc_mp_read_array(mp, ml, &pos, &n), 0);
    assert_int_equal(n, 1);
    size_t v;
    const uint8_t *s;
    size_t sl;
    assert_int_equal(wc_mp_map_find(mp, ml, pos, "name", &v), 0);
    assert_int_equal(wc_mp_read_str(mp, ml, &v, &s, &sl), 0);
    assert_int_equal(sl, 4);
    assert_memory_equal(s, "cl.b", 4);
    wc_frame_free(&f);
    wc_close(s1);
    wc_close(s2);
    wc_close(ca);
    wc_close(cb);
    wc_close(me);
}

/* r_frames counts every client frame read, a ping included; r_bytes the
 * sum of their body lengths (spec REQ-CORE-5): headers and the handshake
 * do not count. Read per client from client.list. */
static void t_rpc_r_bytes_are_body_bytes(void **state)
{
    (void)state;
    int a = it_reg(g_b.sock, "rt.rb");
    assert_int_equal(wc_ping(a), 0); /* a frame, no body */
    assert_int_equal(wc_send_msg(a, 0, 0, "rt.rb", "abcde", 5), 0);
    it_expect_msg(a, "rt.rb", "abcde"); /* body: "rt.rb" NUL "abcde", 11 bytes */
    /* client.list {"filter": "^rt\.rb$"}; the call's own frame is counted
     * before the answer is built */
    const uint8_t params[] = {0x81, 0xA6, 'f', 'i', 'l', 't', 'e', 'r', 0xA8,
                              '^', 'r', 't', '\\', '.', 'r', 'b', '$'};
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    rpc_call(a, "client.list", params, sizeof params, &f);
    /* ".broker" NUL, RPC header 01 + call id (5) + "client.list" NUL, params */
    const uint64_t call_body = 8u + 5u + 12u + sizeof params;
    size_t off = rpc_result(&f);
    const uint8_t *mp = f.payload + off;
    size_t ml = f.payload_len - off;
    size_t pos, n = 0, v;
    assert_int_equal(wc_mp_map_find(mp, ml, 0, "clients", &pos), 0);
    assert_int_equal(wc_mp_read_array(mp, ml, &pos, &n), 0);
    assert_int_equal(n, 1);
    uint64_t rf = 0, rb = 0;
    assert_int_equal(wc_mp_map_find(mp, ml, pos, "r_frames", &v), 0);
    assert_int_equal(wc_mp_read_uint(mp, ml, &v, &rf), 0);
    assert_int_equal(wc_mp_map_find(mp, ml, pos, "r_bytes", &v), 0);
    assert_int_equal(wc_mp_read_uint(mp, ml, &v, &rb), 0);
    fprintf(stderr, "it: rt.rb r_frames %llu r_bytes %llu\n", (unsigned long long)rf,
            (unsigned long long)rb);
    assert_int_equal(rf, 3);
    assert_int_equal(rb, 11u + call_body);
    wc_frame_free(&f);
    wc_close(a);
}

static void t_rpc_benchmark_echo_and_bad_params(void **state)
{
    (void)state;
    int a = it_reg(g_b.sock, "rt.rpcecho");
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    const uint8_t params[] = {0x93, 0x01, 0xA2, 'h', 'i', 0xC0, 0x00, 0xFF};
    rpc_call(a, "benchmark.test", params, sizeof params, &f);
    size_t off = rpc_result(&f);
    assert_int_equal(f.payload_len - off, sizeof params);
    assert_memory_equal(f.payload + off, params, sizeof params);
    wc_frame_free(&f);
    /* "test" takes no params: unexpected params -> -32602. */
    const uint8_t bad[] = {0x81, 0xA1, 'x', 0x01};
    rpc_call(a, "test", bad, sizeof bad, &f);
    struct busrt_rpc_header h;
    assert_int_equal(busrt_rpc_decode(f.payload, f.payload_len, &h), 0);
    assert_int_equal(h.kind, BUSRT_RPC_ERROR);
    assert_int_equal(h.call_id, 0x0102u);
    if (h.code != BUSRT_RPC_E_INVALID_PARAMS) {
        fprintf(stderr, "it: test with params: error code %d, expected -32602\n", h.code);
    }
    assert_true(h.code == BUSRT_RPC_E_INVALID_PARAMS);
    wc_frame_free(&f);
    /* A notification to .broker gets no reply. */
    const uint8_t notif[] = {0x00, 'n'};
    assert_int_equal(wc_send_msg(a, 1, 700, ".broker", notif, sizeof notif), 0);
    it_expect_ack(a, 700, BUSRT_RC_OK);
    it_expect_silence(a, 300);
    wc_close(a);
}

/* Waits for a .broker/info publication about name; returns its "s". */
static void expect_info(int s, const char *name, const char *what)
{
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    int64_t deadline = wc_now_ms() + IT_T;
    for (;;) {
        int left = (int)(deadline - wc_now_ms());
        assert_true(left > 0);
        int r = wc_read_next(s, &f, left);
        if (r != WC_FRAME) {
            it_print_frame("waiting for .broker/info", r, &f);
            fail();
        }
        if (!wc_frame_is(&f, BUSRT_KIND_PUBLISH, ".broker", ".broker/info", NULL, 0)) {
            it_print_frame("unexpected frame", r, &f);
            fail();
        }
        char d[128];
        char st[32];
        int dl = wc_mp_map_str(f.payload, f.payload_len, "d", d, sizeof d);
        int sl = wc_mp_map_str(f.payload, f.payload_len, "s", st, sizeof st);
        if (dl < 0 || sl < 0 || !wc_mp_map_has(f.payload, f.payload_len, "t")) {
            it_print_frame("malformed .broker/info payload", r, &f);
            fail();
        }
        if (strcmp(d, name) == 0) {
            if (strcmp(st, what) != 0) {
                fprintf(stderr, "it: .broker/info for %s: s=%s, wanted %s\n", name, st, what);
            }
            assert_string_equal(st, what);
            break;
        }
    }
    wc_frame_free(&f);
}

static void t_broker_info_announcements(void **state)
{
    (void)state;
    int s = it_reg(g_b.sock, "rt.infosub");
    assert_int_equal(wc_subscribe(s, ".broker/info"), BUSRT_RC_OK);
    int c = it_reg(g_b.sock, "rt.newcomer");
    expect_info(s, "rt.newcomer", "reg");
    /* Secondaries are not announced: the next event is the marker's. */
    int sec = it_reg(g_b.sock, "rt.newcomer%%sec");
    int mk = it_reg(g_b.sock, "rt.marker");
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    int r = wc_read_next(s, &f, IT_T);
    char d[128] = "";
    if (r == WC_FRAME) {
        (void)wc_mp_map_str(f.payload, f.payload_len, "d", d, sizeof d);
    }
    if (strcmp(d, "rt.marker") != 0) {
        it_print_frame("expected the marker's reg event", r, &f);
    }
    wc_frame_free(&f);
    assert_string_equal(d, "rt.marker");
    wc_close(sec);
    wc_close(mk);
    expect_info(s, "rt.marker", "unreg");
    wc_close(c);
    expect_info(s, "rt.newcomer", "unreg");
    /* Unsubscribed clients do not get them. */
    int other = it_reg(g_b.sock, "rt.noinfo");
    int c2 = it_reg(g_b.sock, "rt.newcomer2");
    expect_info(s, "rt.noinfo", "reg");
    expect_info(s, "rt.newcomer2", "reg");
    it_expect_silence(other, 200);
    wc_close(c2);
    wc_close(other);
    wc_close(s);
}

static void t_send_then_close(void **state)
{
    (void)state;
    /* Frames that arrived before the client's EOF are still routed. */
    int a = it_reg(g_b.sock, "rt.sc.a");
    int b = it_reg(g_b.sock, "rt.sc.b");
    for (int i = 0; i < 10; i++) {
        char pl[16];
        snprintf(pl, sizeof pl, "last%d", i);
        assert_int_equal(wc_send_msg(a, 0, 0, "rt.sc.b", pl, strlen(pl)), 0);
    }
    wc_close(a);
    for (int i = 0; i < 10; i++) {
        char pl[16];
        snprintf(pl, sizeof pl, "last%d", i);
        it_expect_msg(b, "rt.sc.a", pl);
    }
    wc_close(b);
}

static void t_frames_in_pieces(void **state)
{
    (void)state;
    /* One frame dribbled byte by byte, then 200 frames in one write: the
     * broker reassembles across reads and splits batches. */
    int a = it_reg(g_b.sock, "rt.pc.a");
    int b = it_reg(g_b.sock, "rt.pc.b");
    const char *body = "rt.pc.b\0dribbled";
    uint8_t fr[9 + 16] = {0x44, 0x33, 0x22, 0x11, 0x52, 16, 0, 0, 0};
    memcpy(fr + 9, body, 16);
    for (size_t i = 0; i < sizeof fr; i++) {
        assert_int_equal(wc_send_all(a, fr + i, 1, IT_T), 0);
        wc_sleep_ms(3);
    }
    it_expect_ack(a, 0x11223344u, BUSRT_RC_OK);
    it_expect_msg(b, "rt.pc.a", "dribbled");
    size_t one = 9 + 8 + 6; /* header, "rt.pc.b" NUL, "NNNNNN" */
    uint8_t *batch = malloc(200 * one);
    assert_non_null(batch);
    for (size_t i = 0; i < 200; i++) {
        uint8_t *q = batch + i * one;
        const uint8_t h[9] = {(uint8_t)i, 0, 0, 0, 0x12, 14, 0, 0, 0};
        memcpy(q, h, 9);
        memcpy(q + 9, "rt.pc.b", 8);
        char num[8];
        snprintf(num, sizeof num, "%06zu", i);
        memcpy(q + 17, num, 6);
    }
    assert_int_equal(wc_send_all(a, batch, 200 * one, IT_T), 0);
    free(batch);
    for (size_t i = 0; i < 200; i++) {
        char num[8];
        snprintf(num, sizeof num, "%06zu", i);
        it_expect_msg(b, "rt.pc.a", num);
    }
    it_expect_silence(a, 100);
    wc_close(a);
    wc_close(b);
}

static void t_many_topics_one_frame(void **state)
{
    (void)state;
    int s = it_reg(g_b.sock, "rt.mtsub");
    int p = it_reg(g_b.sock, "rt.mtpub");
    enum { N = 5000 };
    char **topics = malloc(N * sizeof *topics);
    assert_non_null(topics);
    for (int i = 0; i < N; i++) {
        topics[i] = malloc(24);
        assert_non_null(topics[i]);
        snprintf(topics[i], 24, "many/%d/+", i);
    }
    assert_int_equal(wc_topics_sync(s, BUSRT_OP_SUBSCRIBE, (const char *const *)topics, N),
                     BUSRT_RC_OK);
    const char *pubs[] = {"many/0/x", "many/4999/y", "many/5000/z", "many/2500/q"};
    publish_all(p, pubs, 4, "many/1/end");
    char got[8][128];
    int n = it_collect(s, "END", got, 8);
    const char *want[] = {"many/0/x", "many/4999/y", "many/2500/q"};
    it_assert_list("5000 subscriptions", got, n, want, 3);
    for (int i = 0; i < N; i++) {
        free(topics[i]);
    }
    free(topics);
    wc_close(s);
    wc_close(p);
}

static void t_rpc_garbage_to_broker(void **state)
{
    (void)state;
    /* Payloads that are not RPC requests must not break .broker. */
    int a = it_reg(g_b.sock, "rt.rpcjunk");
    const struct {
        const char *p;
        size_t n;
    } junk[] = {
        {"", 0},                         /* empty */
        {"\x01\x05\x00", 3},             /* truncated request */
        {"\x01\x05\x00\x00\x00test", 9}, /* request without NUL */
        {"\x11\x01\x00\x00\x00\xC3", 6}, /* a reply */
        {"\x12\x01\x00\x00\x00\x01\x00", 7}, /* an error reply */
        {"\x7F junk", 6},                /* unknown kind */
    };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        assert_int_equal(wc_send_msg(a, 1, (uint32_t)(800 + i), ".broker", junk[i].p, junk[i].n),
                         0);
        it_expect_ack(a, (uint32_t)(800 + i), BUSRT_RC_OK);
    }
    /* Whatever it answered (nothing, or error replies), it still serves. */
    send_rpc(a, 900, 0x55u, "test", NULL, 0);
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    for (;;) {
        int r = wc_read_next(a, &f, IT_T);
        if (r == WC_ACK) {
            assert_int_equal(f.ack_id, 900);
            assert_int_equal(f.ack_code, BUSRT_RC_OK);
            continue;
        }
        assert_int_equal(r, WC_FRAME);
        assert_string_equal(f.sender, ".broker");
        const uint8_t want[] = {0x11, 0x55, 0, 0, 0, 0x81, 0xA2, 0x6F, 0x6B, 0xC3};
        if (f.payload_len == sizeof want && memcmp(f.payload, want, sizeof want) == 0) {
            break;
        }
        /* An error reply to one of the junk requests is acceptable. */
        assert_int_equal(f.payload[0], BUSRT_RPC_ERROR);
    }
    wc_frame_free(&f);
    wc_close(a);
}

static void t_clean_exit(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_stop(&g_b), 0);
    assert_false(it_exists(g_b.sock));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_message_qos_bytes),
        cmocka_unit_test(t_message_unknown_target),
        cmocka_unit_test(t_message_payloads),
        cmocka_unit_test(t_own_deliveries_before_ack),
        cmocka_unit_test(t_realtime_byte_all_kinds),
        cmocka_unit_test(t_broadcast_masks),
        cmocka_unit_test(t_pubsub_wildcards),
        cmocka_unit_test(t_pubsub_one_copy),
        cmocka_unit_test(t_subscribe_idempotent_unsubscribe_exact),
        cmocka_unit_test(t_subscribe_empty_body),
        cmocka_unit_test(t_subscribe_several_topics),
        cmocka_unit_test(t_exclude_unexclude),
        cmocka_unit_test(t_publish_for),
        cmocka_unit_test(t_publisher_receives_own),
        cmocka_unit_test(t_broker_warn_autosubscribed),
        cmocka_unit_test(t_ordering_1000_mixed),
        cmocka_unit_test(t_rpc_test),
        cmocka_unit_test(t_rpc_unknown_method),
        cmocka_unit_test(t_rpc_call0_no_reply),
        cmocka_unit_test(t_rpc_info_stats),
        cmocka_unit_test(t_rpc_client_list),
        cmocka_unit_test(t_rpc_r_bytes_are_body_bytes),
        cmocka_unit_test(t_rpc_benchmark_echo_and_bad_params),
        cmocka_unit_test(t_broker_info_announcements),
        cmocka_unit_test(t_send_then_close),
        cmocka_unit_test(t_frames_in_pieces),
        cmocka_unit_test(t_many_topics_one_frame),
        cmocka_unit_test(t_rpc_garbage_to_broker),
        cmocka_unit_test(t_clean_exit),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
