/* Integration: malformed client frames (protocol facts section 2). Each bad
 * frame must close its connection without any reply, while an
 * already-connected pair of clients keeps exchanging messages. The broker
 * runs with -t 10 (so "closed at once" is distinguishable from "timed out")
 * and --payload-size-limit 4096. */
#define _DEFAULT_SOURCE
#include "itest.h"

#define LIMIT 4096u

static struct wc_broker g_b;
static int g_pa = -1;
static int g_pb = -1;
static uint32_t g_seq = 1;

static int group_setup(void **state)
{
    (void)state;
    wc_init();
    const char *extra[] = {"-t", "10", "--payload-size-limit", "4096", NULL};
    if (wc_broker_start(&g_b, extra) == 0) {
        g_pa = wc_register(g_b.sock, "mf.pair.a");
        g_pb = wc_register(g_b.sock, "mf.pair.b");
        if (g_pa >= 0 && g_pb >= 0) {
            return 0;
        }
    }
    wc_close(g_pa);
    wc_close(g_pb);
    wc_broker_cleanup(&g_b);
    return -1;
}

static int group_teardown(void **state)
{
    (void)state;
    wc_close(g_pa);
    wc_close(g_pb);
    wc_broker_cleanup(&g_b);
    return 0;
}

/* The pair still works, both ways, and nothing else reached it. */
static void pair_alive(void)
{
    char pl[32];
    snprintf(pl, sizeof pl, "pair-%u", g_seq);
    it_roundtrip(g_pa, "mf.pair.a", g_pb, "mf.pair.b", pl, g_seq++);
    snprintf(pl, sizeof pl, "pair-%u", g_seq);
    it_roundtrip(g_pb, "mf.pair.b", g_pa, "mf.pair.a", pl, g_seq++);
}

static int bad_client(const char *name)
{
    return it_reg(g_b.sock, name);
}

/* The connection must be closed promptly (well before the 10 s timeout)
 * with nothing but NOPs sent to it. */
static void closed_without_reply(int fd)
{
    int64_t t0 = wc_now_ms();
    it_expect_eof(fd, wc_ms(4000));
    int64_t el = wc_now_ms() - t0;
    if (el > wc_ms(4000)) {
        fprintf(stderr, "it: closed only after %lld ms\n", (long long)el);
    }
    wc_close(fd);
}

static void bad_raw(const char *name, const void *bytes, size_t n)
{
    int fd = bad_client(name);
    assert_int_equal(wc_send_all(fd, bytes, n, IT_T), 0);
    closed_without_reply(fd);
    pair_alive();
}

static void bad_frame(const char *name, uint8_t op, uint8_t qos, const void *body, size_t len)
{
    int fd = bad_client(name);
    assert_int_equal(wc_send_frame(fd, op, qos, 0x1234u, body, len), 0);
    closed_without_reply(fd);
    pair_alive();
}

static void t_unknown_op(void **state)
{
    (void)state;
    /* op id, flags, len, body */
    bad_raw("mf.op07", "\x01\x00\x00\x00\x07\x00\x00\x00\x00", 9);
    bad_raw("mf.op3f", "\x01\x00\x00\x00\x3F\x03\x00\x00\x00" "abc", 12);
    bad_raw("mf.op11", "\x01\x00\x00\x00\x11\x04\x00\x00\x00" "a\0bc", 13);
    bad_raw("mf.op14", "\x01\x00\x00\x00\x14\x04\x00\x00\x00" "a\0bc", 13);
    bad_raw("mf.op47", "\x01\x00\x00\x00\x47\x04\x00\x00\x00" "a\0bc", 13); /* op 7, QoS 1 */
    bad_raw("mf.opff", "\x01\x00\x00\x00\xFF\x04\x00\x00\x00" "a\0bc", 13); /* op 0x3F, QoS 3 */
}

static void t_no_nul_message(void **state)
{
    (void)state;
    bad_frame("mf.nonul.msg", BUSRT_OP_MESSAGE, 1, "mf.pair.b", 9);
    bad_frame("mf.nonul.msg0", BUSRT_OP_MESSAGE, 0, "mf.pair.bpayload", 16);
    bad_frame("mf.nonul.msg.empty", BUSRT_OP_MESSAGE, 1, "", 0);
}

static void t_no_nul_broadcast(void **state)
{
    (void)state;
    bad_frame("mf.nonul.bc", BUSRT_OP_BROADCAST, 1, "mf.*", 4);
    bad_frame("mf.nonul.bc.empty", BUSRT_OP_BROADCAST, 1, "", 0);
}

static void t_no_nul_publish(void **state)
{
    (void)state;
    bad_frame("mf.nonul.pub", BUSRT_OP_PUBLISH, 1, "mf/topic", 8);
    bad_frame("mf.nonul.pub.empty", BUSRT_OP_PUBLISH, 1, "", 0);
}

static void t_no_nul_publish_for(void **state)
{
    (void)state;
    bad_frame("mf.nonul.pf0", BUSRT_OP_PUBLISH_FOR, 1, "mf/topic", 8);
    /* Only one NUL: topic NUL receiver, no second separator. */
    bad_frame("mf.nonul.pf1", BUSRT_OP_PUBLISH_FOR, 1, "mf/topic\0mf.pair.b", 18);
}

static void t_invalid_utf8_message_target(void **state)
{
    (void)state;
    bad_frame("mf.u8.msg", BUSRT_OP_MESSAGE, 1, "\xFF\xFE\0payload", 10);
    bad_frame("mf.u8.msg2", BUSRT_OP_MESSAGE, 1, "mf.pair.\xC3\0payload", 17);
}

static void t_invalid_utf8_broadcast_mask(void **state)
{
    (void)state;
    bad_frame("mf.u8.bc", BUSRT_OP_BROADCAST, 1, "mf.\xC3\x28\0payload", 13);
}

static void t_invalid_utf8_publish_topic(void **state)
{
    (void)state;
    bad_frame("mf.u8.pub", BUSRT_OP_PUBLISH, 1, "t/\xFE\0payload", 11);
    bad_frame("mf.u8.pub2", BUSRT_OP_PUBLISH, 0, "t/\xED\xA0\x80\0payload", 13);
}

static void t_invalid_utf8_publish_for_topic(void **state)
{
    (void)state;
    bad_frame("mf.u8.pft", BUSRT_OP_PUBLISH_FOR, 1, "t/\xFE\0mf.pair.b\0p", 15);
}

static void t_invalid_utf8_publish_for_receiver(void **state)
{
    (void)state;
    bad_frame("mf.u8.pfr", BUSRT_OP_PUBLISH_FOR, 1, "t/x\0mf.\xFF\0p", 10);
}

static void t_invalid_utf8_subscribe_topic(void **state)
{
    (void)state;
    bad_frame("mf.u8.sub", BUSRT_OP_SUBSCRIBE, 1, "ok/topic\0bad/\xFF", 14);
}

static void t_invalid_utf8_exclude_mask(void **state)
{
    (void)state;
    bad_frame("mf.u8.exc", BUSRT_OP_EXCLUDE, 1, "bad/\xC0\xAF", 6);
}

static void t_body_over_limit_header_only(void **state)
{
    (void)state;
    /* Only the header: the broker must close without waiting for the body
     * (waiting would take the 10 s timeout). */
    const uint8_t ops[] = {BUSRT_OP_MESSAGE, BUSRT_OP_PUBLISH, BUSRT_OP_SUBSCRIBE,
                           BUSRT_OP_BROADCAST};
    const uint32_t lens[] = {LIMIT + 1u, 0x7FFFFFFFu, 0xFFFFFFFFu, LIMIT * 2u};
    for (size_t i = 0; i < sizeof ops; i++) {
        char name[32];
        snprintf(name, sizeof name, "mf.big%zu", i);
        int fd = bad_client(name);
        int64_t t0 = wc_now_ms();
        assert_int_equal(wc_send_header_raw(fd, 5, (uint8_t)(ops[i] | 0x40u), lens[i]), 0);
        it_expect_eof(fd, wc_ms(3000));
        int64_t el = wc_now_ms() - t0;
        assert_true(el < wc_ms(3000));
        wc_close(fd);
        pair_alive();
    }
}

static void t_body_at_limit_ok(void **state)
{
    (void)state;
    /* A body of exactly the limit is accepted and delivered. */
    int fd = bad_client("mf.atlimit");
    uint8_t *body = malloc(LIMIT);
    assert_non_null(body);
    const char *tgt = "mf.pair.b";
    size_t tl = strlen(tgt);
    memcpy(body, tgt, tl);
    body[tl] = 0;
    for (size_t i = tl + 1; i < LIMIT; i++) {
        body[i] = (uint8_t)('a' + i % 26u);
    }
    assert_int_equal(wc_send_frame(fd, BUSRT_OP_MESSAGE, 1, 9, body, LIMIT), 0);
    it_expect_ack(fd, 9, BUSRT_RC_OK);
    it_expect_frame(g_pb, BUSRT_KIND_MESSAGE, "mf.atlimit", NULL, body + tl + 1,
                    LIMIT - tl - 1, 0);
    free(body);
    it_roundtrip(fd, "mf.atlimit", fd, "mf.atlimit", "still", 10);
    wc_close(fd);
    pair_alive();
}

static void t_ping_garbage_length(void **state)
{
    (void)state;
    int fd = bad_client("mf.ping");
    /* A ping with garbage op id and length, immediately followed (same
     * write) by a real frame: the broker must read only the 9 header bytes
     * of the ping and then parse the message. */
    uint8_t buf[9 + 9 + 64];
    const uint8_t ping[9] = {0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0xFF, 0xFF, 0xFF, 0x7F};
    memcpy(buf, ping, 9);
    const char *body = "mf.ping\0after-ping";
    size_t bl = 18;
    const uint8_t hdr[9] = {0x21, 0, 0, 0, 0x52 /* message, QoS 1 */, (uint8_t)bl, 0, 0, 0};
    memcpy(buf + 9, hdr, 9);
    memcpy(buf + 18, body, bl);
    assert_int_equal(wc_send_all(fd, buf, 18 + bl, IT_T), 0);
    it_expect_msg(fd, "mf.ping", "after-ping");
    it_expect_ack(fd, 0x21, BUSRT_RC_OK);
    /* A ping with length 1 followed by a ping: still two 9-byte headers. */
    const uint8_t two[18] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(wc_send_all(fd, two, 18, IT_T), 0);
    it_expect_silence(fd, 300);
    it_roundtrip(fd, "mf.ping", fd, "mf.ping", "alive", 0x22);
    wc_close(fd);
    pair_alive();
}

static void t_op0_qos_with_nul(void **state)
{
    (void)state;
    int fd = bad_client("mf.op0");
    assert_int_equal(wc_subscribe(fd, "mf.op0"), BUSRT_RC_OK);
    /* Op 0 with QoS 1 and 3 and a body that would be a valid message to
     * itself (and a publication on a topic it is subscribed to): nothing
     * is delivered and nothing is ACKed; the connection stays. */
    assert_int_equal(wc_send_frame(fd, BUSRT_OP_NOP, 1, 0x31, "mf.op0\0x", 8), 0);
    assert_int_equal(wc_send_frame(fd, BUSRT_OP_NOP, 3, 0x32, "mf.op0\0y", 8), 0);
    assert_int_equal(wc_send_frame(fd, BUSRT_OP_NOP, 2, 0x33, "mf.pair.b\0z", 11), 0);
    it_expect_silence(fd, 400);
    it_roundtrip(fd, "mf.op0", fd, "mf.op0", "alive", 0x34);
    wc_close(fd);
    pair_alive();
}

static void t_op0_qos_without_nul(void **state)
{
    (void)state;
    bad_frame("mf.op0nonul", BUSRT_OP_NOP, 1, "abc", 3);
}

static void t_valid_frames_then_garbage(void **state)
{
    (void)state;
    /* Frames before the bad one in the same write are processed. */
    int fd = bad_client("mf.mixed");
    uint8_t buf[128];
    size_t n = 0;
    const char *body = "mf.pair.b\0before";
    const uint8_t hdr[9] = {1, 0, 0, 0, 0x12, 16, 0, 0, 0};
    memcpy(buf, hdr, 9);
    memcpy(buf + 9, body, 16);
    n = 25;
    memcpy(buf + n, "\x02\x00\x00\x00\x3E\x00\x00\x00\x00", 9);
    n += 9;
    assert_int_equal(wc_send_all(fd, buf, n, IT_T), 0);
    it_expect_msg(g_pb, "mf.mixed", "before");
    closed_without_reply(fd);
    pair_alive();
}

static void t_truncated_then_close(void **state)
{
    (void)state;
    /* A client that vanishes mid-frame, mid-header or mid-handshake does
     * not disturb anyone. */
    int fd = bad_client("mf.trunc1");
    assert_int_equal(wc_send_header_raw(fd, 1, 0x12, 100), 0);
    assert_int_equal(wc_send_all(fd, "mf.pair.b\0", 10, IT_T), 0);
    wc_close(fd);
    fd = bad_client("mf.trunc2");
    assert_int_equal(wc_send_all(fd, "\x01\x00\x00", 3, IT_T), 0);
    wc_close(fd);
    it_expect_silence(g_pb, 200);
    pair_alive();
    /* The names are free again afterwards. */
    int64_t deadline = wc_now_ms() + wc_ms(3000);
    int again = -1;
    while (again < 0 && wc_now_ms() < deadline) {
        again = wc_register(g_b.sock, "mf.trunc1");
        if (again < 0) {
            wc_sleep_ms(20);
        }
    }
    assert_true(again >= 0);
    wc_close(again);
}

static void t_clean_exit(void **state)
{
    (void)state;
    pair_alive();
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_unknown_op),
        cmocka_unit_test(t_no_nul_message),
        cmocka_unit_test(t_no_nul_broadcast),
        cmocka_unit_test(t_no_nul_publish),
        cmocka_unit_test(t_no_nul_publish_for),
        cmocka_unit_test(t_invalid_utf8_message_target),
        cmocka_unit_test(t_invalid_utf8_broadcast_mask),
        cmocka_unit_test(t_invalid_utf8_publish_topic),
        cmocka_unit_test(t_invalid_utf8_publish_for_topic),
        cmocka_unit_test(t_invalid_utf8_publish_for_receiver),
        cmocka_unit_test(t_invalid_utf8_subscribe_topic),
        cmocka_unit_test(t_invalid_utf8_exclude_mask),
        cmocka_unit_test(t_body_over_limit_header_only),
        cmocka_unit_test(t_body_at_limit_ok),
        cmocka_unit_test(t_ping_garbage_length),
        cmocka_unit_test(t_op0_qos_with_nul),
        cmocka_unit_test(t_op0_qos_without_nul),
        cmocka_unit_test(t_valid_frames_then_garbage),
        cmocka_unit_test(t_truncated_then_close),
        cmocka_unit_test(t_clean_exit),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
