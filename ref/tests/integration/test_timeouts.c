/* Integration: keep-alive and timeouts (protocol facts section 5) with
 * -t 0.5: NOPs every 0.25 s, idle clients dropped after 1.25 x 0.5 s, a
 * stalled body dropped after 0.5 s, stalled handshakes dropped. Bounds are
 * generous (shared 2-core machine). */
#define _DEFAULT_SOURCE
#include "itest.h"

static struct wc_broker g_b;

/* An upper bound for a timing assertion: valgrind slows the broker's event
 * handling a little, not its clock, so it gets a fixed extra second. */
static int64_t tbound(int ms)
{
    return wc_under_valgrind() ? ms + 1000 : ms;
}

static int group_setup(void **state)
{
    (void)state;
    wc_init();
    const char *extra[] = {"-t", "0.5", NULL};
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
    return 0;
}

/* Pings every 100 ms for ms milliseconds; counts NOPs; fails on EOF or on
 * any other frame. */
static unsigned ping_for(int fd, int ms, int64_t *max_gap)
{
    int64_t end = wc_now_ms() + ms;
    int64_t last_nop = wc_now_ms();
    int64_t gap = 0;
    unsigned nops = 0;
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    while (wc_now_ms() < end) {
        assert_int_equal(wc_ping(fd), 0);
        int64_t slot_end = wc_now_ms() + 100;
        for (;;) {
            int left = (int)(slot_end - wc_now_ms());
            if (left <= 0) {
                break;
            }
            int r = wc_read_one(fd, &f, left);
            if (r == WC_TIMEOUT) {
                break;
            }
            if (r != WC_NOP) {
                it_print_frame("while pinging", r, &f);
                fail();
            }
            /* Exactly six zero bytes. */
            assert_memory_equal(f.header, "\0\0\0\0\0\0", 6);
            int64_t now = wc_now_ms();
            if (now - last_nop > gap) {
                gap = now - last_nop;
            }
            last_nop = now;
            nops++;
        }
    }
    wc_frame_free(&f);
    if (max_gap != NULL) {
        *max_gap = gap;
    }
    return nops;
}

static void t_nop_keepalive(void **state)
{
    (void)state;
    int fd = it_reg(g_b.sock, "to.nop");
    int64_t gap = 0;
    unsigned n = ping_for(fd, 2000, &gap);
    fprintf(stderr, "it: %u NOPs in 2 s (nominal 8), max gap %lld ms\n", n, (long long)gap);
    assert_true(n >= 4);
    assert_true(n <= 16);
    assert_true(gap <= 900);
    wc_close(fd);
}

static void t_idle_client_dropped(void **state)
{
    (void)state;
    int fd = it_reg(g_b.sock, "to.idle");
    int64_t t0 = wc_now_ms();
    /* It still receives NOPs; it sends nothing. */
    it_expect_eof(fd, wc_ms(2000));
    int64_t el = wc_now_ms() - t0;
    fprintf(stderr, "it: idle client dropped after %lld ms (nominal 625)\n", (long long)el);
    assert_true(el >= 450);
    assert_true(el <= tbound(2000));
    wc_close(fd);
    /* Its name is free again. */
    int again = it_reg(g_b.sock, "to.idle");
    wc_close(again);
}

static void t_pinging_client_not_dropped(void **state)
{
    (void)state;
    int fd = it_reg(g_b.sock, "to.pinger");
    (void)ping_for(fd, 2000, NULL);
    it_roundtrip(fd, "to.pinger", fd, "to.pinger", "alive", 1);
    wc_close(fd);
}

static void t_busy_client_not_dropped(void **state)
{
    (void)state;
    /* Any complete frame counts as activity, not only pings. */
    int fd = it_reg(g_b.sock, "to.busy");
    int64_t end = wc_now_ms() + 2000;
    uint32_t id = 1;
    while (wc_now_ms() < end) {
        assert_int_equal(wc_send_pub(fd, 0, 0, "to/nobody", "x", 1), 0);
        it_expect_silence(fd, 100);
    }
    assert_int_equal(wc_send_msg(fd, 1, id, "to.busy", "alive", 5), 0);
    it_expect_msg(fd, "to.busy", "alive");
    it_expect_ack(fd, id, BUSRT_RC_OK);
    wc_close(fd);
}

static void t_body_stall_dropped(void **state)
{
    (void)state;
    int other = it_reg(g_b.sock, "to.other");
    int fd = it_reg(g_b.sock, "to.stall");
    int64_t t0 = wc_now_ms();
    /* A header announcing 100 bytes, 10 of them, then nothing. */
    assert_int_equal(wc_send_header_raw(fd, 1, 0x52, 100), 0);
    assert_int_equal(wc_send_all(fd, "to.other\0x", 10, IT_T), 0);
    it_expect_eof(fd, wc_ms(3000));
    int64_t el = wc_now_ms() - t0;
    fprintf(stderr, "it: stalled body dropped after %lld ms (nominal 500)\n", (long long)el);
    assert_true(el >= 300);
    assert_true(el <= tbound(1500));
    wc_close(fd);
    /* Nothing of the partial frame was delivered. */
    (void)ping_for(other, 300, NULL);
    wc_close(other);
}

static void t_stalled_reader_dropped(void **state)
{
    (void)state;
    /* A client that pings (so it is not idle) but never reads: once the
     * broker's writes to it cannot complete within the timeout, it is
     * dropped, although its queue limits (8192 frames, 64 MB) are far. */
    int rd = it_reg(g_b.sock, "to.noread");
    int snd = it_reg(g_b.sock, "to.flooder");
    size_t plen = 64u * 1024u;
    uint8_t *p = malloc(plen);
    assert_non_null(p);
    memset(p, 'F', plen);
    for (int i = 0; i < 32; i++) {
        assert_int_equal(wc_send_msg(snd, 0, 0, "to.noread", p, plen), 0);
    }
    free(p);
    int64_t t0 = wc_now_ms();
    int dropped = 0;
    uint32_t id = 1;
    while (!dropped && wc_now_ms() - t0 < 4000) {
        (void)wc_ping(rd);
        assert_int_equal(wc_send_msg(snd, 1, id, "to.noread", "x", 1), 0);
        int r = wc_expect_ack(snd, id, IT_T);
        id++;
        if (r == (int)BUSRT_RC_NOT_REGISTERED) {
            dropped = 1;
        } else {
            assert_int_equal(r, BUSRT_RC_OK);
            wc_sleep_ms(100);
        }
    }
    int64_t el = wc_now_ms() - t0;
    fprintf(stderr, "it: stalled reader %s after %lld ms\n", dropped ? "dropped" : "NOT dropped",
            (long long)el);
    assert_true(dropped);
    assert_true(el <= tbound(2500));
    size_t n = 0;
    assert_int_equal(wc_drain_to_eof(rd, wc_ms(5000), &n), 0);
    wc_close(rd);
    /* The sender was never affected. */
    it_roundtrip(snd, "to.flooder", snd, "to.flooder", "fine", 999);
    wc_close(snd);
}

/* Connects, performs `steps` of the handshake, then stalls; asserts the
 * broker closes within the bound and sends nothing more. */
static void stall_at(int steps)
{
    int fd = wc_connect(g_b.sock, IT_T);
    assert_true(fd >= 0);
    uint8_t g[3];
    if (steps >= 1) {
        assert_int_equal(wc_hs_read_greeting(fd, g, IT_T), 0);
    }
    if (steps >= 2) {
        assert_int_equal(wc_hs_send_greeting(fd, 0xEB, 1), 0);
        assert_int_equal(wc_read_byte(fd, IT_T), BUSRT_RC_OK);
    }
    if (steps >= 3) {
        assert_int_equal(wc_send_all(fd, "\x0A\x00to.", 5, IT_T), 0);
    }
    if (steps == 4) {
        /* Half a greeting. */
        wc_close(fd);
        fd = wc_connect(g_b.sock, IT_T);
        assert_true(fd >= 0);
        assert_int_equal(wc_hs_read_greeting(fd, g, IT_T), 0);
        assert_int_equal(wc_send_all(fd, "\xEB", 1, IT_T), 0);
    }
    int64_t t0 = wc_now_ms();
    size_t extra = 99;
    int r = wc_drain_to_eof(fd, wc_ms(3000), &extra);
    int64_t el = wc_now_ms() - t0;
    fprintf(stderr, "it: handshake stalled at step %d: closed after %lld ms, %zu more bytes\n",
            steps, (long long)el, extra);
    assert_int_equal(r, 0);
    assert_true(el <= tbound(1500));
    /* Before the greeting was read the 3 greeting bytes are still pending. */
    assert_int_equal(extra, steps == 0 ? 3u : 0u);
    wc_close(fd);
}

static void t_handshake_stall_dropped(void **state)
{
    (void)state;
    stall_at(0);
    stall_at(1);
    stall_at(2);
    stall_at(3);
    stall_at(4);
    /* Ordinary clients are unaffected. */
    int fd = it_reg(g_b.sock, "to.after");
    it_roundtrip(fd, "to.after", fd, "to.after", "ok", 2);
    wc_close(fd);
}

static void t_clean_exit(void **state)
{
    (void)state;
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_nop_keepalive),
        cmocka_unit_test(t_idle_client_dropped),
        cmocka_unit_test(t_pinging_client_not_dropped),
        cmocka_unit_test(t_busy_client_not_dropped),
        cmocka_unit_test(t_body_stall_dropped),
        cmocka_unit_test(t_stalled_reader_dropped),
        cmocka_unit_test(t_handshake_stall_dropped),
        cmocka_unit_test(t_clean_exit),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
