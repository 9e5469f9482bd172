/* Integration: resource limits (protocol facts section 6 and the broker's
 * --queue-size / --max-clients options): slow consumers are dropped without
 * disturbing anyone else, and the client limit is enforced before the
 * greeting. Each test starts its own broker. */
#define _DEFAULT_SOURCE
#include "itest.h"

static struct wc_broker g_b;

static int setup(void **state)
{
    (void)state;
    memset(&g_b, 0, sizeof g_b);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    wc_broker_cleanup(&g_b);
    return 0;
}

static void pair_exchange(int p1, int p2, uint32_t *seq)
{
    char pl[32];
    snprintf(pl, sizeof pl, "pair-%u", *seq);
    it_roundtrip(p1, "sc.p1", p2, "sc.p2", pl, (*seq)++);
    snprintf(pl, sizeof pl, "pair-%u", *seq);
    it_roundtrip(p2, "sc.p2", p1, "sc.p1", pl, (*seq)++);
}

static void t_slow_consumer_message(void **state)
{
    (void)state;
    const char *extra[] = {"--queue-size", "64", "-t", "30", NULL};
    assert_int_equal(wc_broker_start(&g_b, extra), 0);
    int slow = it_reg(g_b.sock, "sc.slow");
    int snd = it_reg(g_b.sock, "sc.sender");
    int p1 = it_reg(g_b.sock, "sc.p1");
    int p2 = it_reg(g_b.sock, "sc.p2");
    uint32_t seq = 1;
    size_t plen = 4096;
    uint8_t *payload = malloc(plen);
    assert_non_null(payload);
    memset(payload, 'S', plen);
    int last = BUSRT_RC_OK;
    int sent = 0;
    int64_t deadline = wc_now_ms() + wc_ms(30000);
    /* Flood the receiver that never reads, one QoS 1 message at a time,
     * until the broker refuses; the pair talks every 16 messages. */
    for (int i = 0; i < 50000 && wc_now_ms() < deadline; i++) {
        uint32_t id = (uint32_t)(100000 + i);
        assert_int_equal(wc_send_msg(snd, 1, id, "sc.slow", payload, plen), 0);
        last = wc_expect_ack(snd, id, IT_T);
        sent++;
        if (last != (int)BUSRT_RC_OK) {
            break;
        }
        if (i % 16 == 0) {
            pair_exchange(p1, p2, &seq);
        }
    }
    free(payload);
    fprintf(stderr, "it: slow consumer: %d messages sent, last ACK %d (0x%02x)\n", sent,
            last, last > 0 ? (unsigned)last : 0u);
    /* 77 when its queue overflowed (it is dropped), or 71 if the drop was
     * already complete. */
    assert_true(last == (int)BUSRT_RC_NOT_DELIVERED || last == (int)BUSRT_RC_NOT_REGISTERED);
    pair_exchange(p1, p2, &seq);
    /* The slow client was disconnected: reading now ends in EOF. */
    size_t drained = 0;
    assert_int_equal(wc_drain_to_eof(slow, wc_ms(10000), &drained), 0);
    fprintf(stderr, "it: slow consumer read %zu bytes before EOF\n", drained);
    wc_close(slow);
    /* The target is gone for good; the sender is still connected. */
    assert_int_equal(wc_send_msg(snd, 1, 7, "sc.slow", "x", 1), 0);
    it_expect_ack(snd, 7, BUSRT_RC_NOT_REGISTERED);
    it_roundtrip(snd, "sc.sender", p1, "sc.p1", "sender-ok", 8);
    pair_exchange(p1, p2, &seq);
    /* New clients still register, the old name included. */
    int again = it_reg(g_b.sock, "sc.slow");
    it_roundtrip(snd, "sc.sender", again, "sc.slow", "welcome-back", 9);
    wc_close(again);
    wc_close(snd);
    wc_close(p1);
    wc_close(p2);
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

static void t_slow_consumer_publication(void **state)
{
    (void)state;
    const char *extra[] = {"--queue-size", "64", "-t", "30", NULL};
    assert_int_equal(wc_broker_start(&g_b, extra), 0);
    int slow = it_reg(g_b.sock, "sc.slowsub");
    int fast = it_reg(g_b.sock, "sc.fastsub");
    int pub = it_reg(g_b.sock, "sc.pub");
    assert_int_equal(wc_subscribe(slow, "sc/flood"), BUSRT_RC_OK);
    assert_int_equal(wc_subscribe(fast, "sc/flood"), BUSRT_RC_OK);
    size_t plen = 4096;
    uint8_t *payload = malloc(plen);
    assert_non_null(payload);
    memset(payload, 'P', plen);
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    /* 2000 x 4 KB = 8 MB: far beyond the kernel buffers plus 64 frames.
     * Publication ACKs are always 01; the fast subscriber reads all. */
    const int n = 2000;
    for (int i = 0; i < n; i++) {
        uint32_t id = (uint32_t)(i + 1);
        assert_int_equal(wc_send_pub(pub, 1, id, "sc/flood", payload, plen), 0);
        it_expect_ack(pub, id, BUSRT_RC_OK);
        int r = wc_read_next(fast, &f, IT_T);
        if (r != WC_FRAME || !wc_frame_is(&f, BUSRT_KIND_PUBLISH, "sc.pub", "sc/flood",
                                          payload, plen)) {
            it_print_frame("fast subscriber", r, &f);
            fail();
        }
    }
    wc_frame_free(&f);
    free(payload);
    size_t drained = 0;
    assert_int_equal(wc_drain_to_eof(slow, wc_ms(10000), &drained), 0);
    fprintf(stderr, "it: slow subscriber read %zu bytes (of %d publications) before EOF\n",
            drained, n);
    assert_true(drained < (size_t)n * (plen + 22u));
    wc_close(slow);
    assert_int_equal(wc_send_pub(pub, 1, 99999, "sc/flood", "end", 3), 0);
    it_expect_ack(pub, 99999, BUSRT_RC_OK);
    it_expect_pub(fast, "sc.pub", "sc/flood", "end");
    wc_close(fast);
    wc_close(pub);
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

static void t_slow_consumer_queue_bytes(void **state)
{
    (void)state;
    /* A frame limit that is never reached, a byte limit that is: the byte
     * limit alone must drop the slow receiver. */
    const char *extra[] = {"--queue-size", "1000000", "--queue-bytes", "262144", "-t", "30",
                           NULL};
    assert_int_equal(wc_broker_start(&g_b, extra), 0);
    int slow = it_reg(g_b.sock, "sc.slow");
    int snd = it_reg(g_b.sock, "sc.sender");
    size_t plen = 4096;
    uint8_t *payload = malloc(plen);
    assert_non_null(payload);
    memset(payload, 'B', plen);
    int last = BUSRT_RC_OK;
    int sent = 0;
    /* Kernel buffers (a few hundred KB) + 256 KB of queue: well under
     * 2000 x 4 KB = 8 MB. */
    for (int i = 0; i < 2000; i++) {
        uint32_t id = (uint32_t)(i + 1);
        assert_int_equal(wc_send_msg(snd, 1, id, "sc.slow", payload, plen), 0);
        last = wc_expect_ack(snd, id, IT_T);
        sent++;
        if (last != (int)BUSRT_RC_OK) {
            break;
        }
    }
    free(payload);
    fprintf(stderr, "it: queue-bytes: %d messages sent, last ACK %d\n", sent, last);
    assert_true(last == (int)BUSRT_RC_NOT_DELIVERED || last == (int)BUSRT_RC_NOT_REGISTERED);
    assert_int_equal(wc_drain_to_eof(slow, wc_ms(10000), NULL), 0);
    wc_close(slow);
    it_roundtrip(snd, "sc.sender", snd, "sc.sender", "sender-ok", 5);
    wc_close(snd);
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

static void t_small_buffers(void **state)
{
    (void)state;
    /* A small read buffer, a long buffering delay and -w: frames larger
     * than the buffer are reassembled, non-realtime writes are flushed. */
    const char *extra[] = {"--buf-size", "1024", "--buf-ttl", "2000", "-w", "4", NULL};
    assert_int_equal(wc_broker_start(&g_b, extra), 0);
    int a = it_reg(g_b.sock, "sb.a");
    int b = it_reg(g_b.sock, "sb.b");
    assert_int_equal(wc_subscribe(b, "sb/#"), BUSRT_RC_OK);
    static const size_t sizes[] = {0, 1, 1023, 1024, 1025, 4096, 65537, 300000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        uint8_t *p = malloc(n + 1);
        assert_non_null(p);
        for (size_t i = 0; i < n; i++) {
            p[i] = (uint8_t)(i * 13u + k);
        }
        uint8_t q = (uint8_t)(k % 4u);
        assert_int_equal(wc_send_msg(a, q, (uint32_t)(10 + k), "sb.b", p, n), 0);
        assert_int_equal(wc_send_pub(a, q, (uint32_t)(100 + k), "sb/t", p, n), 0);
        if (q & 1u) {
            it_expect_ack(a, (uint32_t)(10 + k), BUSRT_RC_OK);
            it_expect_ack(a, (uint32_t)(100 + k), BUSRT_RC_OK);
        }
        it_expect_frame(b, BUSRT_KIND_MESSAGE, "sb.a", NULL, p, n, (q & 2u) ? 1 : 0);
        it_expect_frame(b, BUSRT_KIND_PUBLISH, "sb.a", "sb/t", p, n, (q & 2u) ? 1 : 0);
        free(p);
    }
    wc_close(a);
    wc_close(b);
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

/* Registers name, retrying while the broker may still be processing earlier
 * disconnects (bounded). */
static int reg_retry(const char *addr, const char *name)
{
    int64_t deadline = wc_now_ms() + wc_ms(3000);
    for (;;) {
        int fd = wc_register(addr, name);
        if (fd >= 0 || wc_now_ms() >= deadline) {
            return fd;
        }
        wc_sleep_ms(20);
    }
}

static void t_many_clients(void **state)
{
    (void)state;
    /* valgrind handles 1000 clients in seconds here; keep the full count. */
    int want = 1000;
    long lim = wc_raise_nofile(want + 200);
    if (lim < want + 60) {
        int fit = (int)lim - 60;
        fprintf(stderr, "it: RLIMIT_NOFILE is %ld: using %d clients instead of %d\n", lim,
                fit, want);
        want = fit;
    }
    assert_true(want >= 10);
    fprintf(stderr, "it: many clients: %d with --max-clients %d\n", want, want);
    char maxc[16];
    snprintf(maxc, sizeof maxc, "%d", want);
    const char *extra[] = {"--max-clients", maxc, "-t", "60", NULL};
    assert_int_equal(wc_broker_start(&g_b, extra), 0);
    int *fds = calloc((size_t)want, sizeof *fds);
    assert_non_null(fds);
    char name[32];
    for (int i = 0; i < want; i++) {
        snprintf(name, sizeof name, "mc.c%04d", i);
        fds[i] = wc_register(g_b.sock, name);
        if (fds[i] < 0) {
            fprintf(stderr, "it: client %d of %d (%s) could not register: %d\n", i + 1, want,
                    name, fds[i]);
        }
        assert_true(fds[i] >= 0);
    }
    /* The limit is reached: the next connection is closed before the
     * greeting. */
    int extra_fd = wc_connect(g_b.sock, IT_T);
    if (extra_fd >= 0) {
        uint8_t g[3];
        int r = wc_read_exact(extra_fd, g, 3, IT_T);
        if (r != WC_EOF) {
            fprintf(stderr, "it: connection %d: expected EOF before the greeting, got %d\n",
                    want + 1, r);
        }
        assert_int_equal(r, WC_EOF);
        wc_close(extra_fd);
    } else {
        /* Refusing the connection outright also keeps the limit. */
        assert_int_equal(extra_fd, WC_EOF);
    }
    /* A "*" broadcast reaches all of them, the sender included. */
    assert_int_equal(wc_send_bcast(fds[0], 1, 42, "*", "hello-all", 9), 0);
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    int acked = 0;
    for (int i = 0; i < want; i++) {
        for (;;) {
            int r = wc_read_next(fds[i], &f, IT_T);
            if (i == 0 && r == WC_ACK && f.ack_id == 42 && f.ack_code == BUSRT_RC_OK &&
                !acked) {
                acked = 1;
                continue;
            }
            if (r != WC_FRAME ||
                !wc_frame_is(&f, BUSRT_KIND_BROADCAST, "mc.c0000", NULL, "hello-all", 9)) {
                fprintf(stderr, "it: client %d:\n", i);
                it_print_frame("broadcast", r, &f);
                fail();
            }
            break;
        }
    }
    if (!acked) {
        it_expect_ack(fds[0], 42, BUSRT_RC_OK);
    }
    /* Close ten; ten new ones fit again, then the limit holds again. */
    for (int i = want - 10; i < want; i++) {
        wc_close(fds[i]);
        fds[i] = -1;
    }
    for (int i = want - 10; i < want; i++) {
        snprintf(name, sizeof name, "mc.new%04d", i);
        fds[i] = reg_retry(g_b.sock, name);
        if (fds[i] < 0) {
            fprintf(stderr, "it: %s could not register after closing ten: %d\n", name, fds[i]);
        }
        assert_true(fds[i] >= 0);
    }
    extra_fd = wc_connect(g_b.sock, IT_T);
    if (extra_fd >= 0) {
        uint8_t g[3];
        assert_int_equal(wc_read_exact(extra_fd, g, 3, IT_T), WC_EOF);
        wc_close(extra_fd);
    }
    /* The new ones are fully working. */
    snprintf(name, sizeof name, "mc.new%04d", want - 1);
    it_roundtrip(fds[0], "mc.c0000", fds[want - 1], name, "to-new", 43);
    wc_frame_free(&f);
    for (int i = 0; i < want; i++) {
        wc_close(fds[i]);
    }
    free(fds);
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

/* Connects total clients named PREFIX.cNNNN; each one is either registered
 * (its descriptor kept in fds) or closed before the greeting (fds -1).
 * Returns how many registered; *first is the first of them. */
static int connect_many(int *fds, int total, const char *prefix, int *first)
{
    int ok = 0;
    char name[32];
    *first = -1;
    for (int i = 0; i < total; i++) {
        snprintf(name, sizeof name, "%s.c%04d", prefix, i);
        fds[i] = -1;
        int fd = wc_connect(g_b.sock, IT_T);
        if (fd < 0) {
            assert_int_equal(fd, WC_EOF);
            continue;
        }
        int r = wc_handshake(fd, name, strlen(name), IT_T);
        if (r == (int)BUSRT_RC_OK) {
            fds[i] = fd;
            ok++;
            *first = *first < 0 ? i : *first;
            continue;
        }
        /* EOF before the greeting is the only other acceptable end. */
        if (r != WC_EOF) {
            fprintf(stderr, "it: connection %d: handshake result %d\n", i, r);
        }
        assert_int_equal(r, WC_EOF);
        wc_close(fd);
    }
    fprintf(stderr, "it: %d of %d connections registered, %d closed before the greeting\n", ok,
            total, total - ok);
    return ok;
}

/* Every registered client gets a broadcast from the first one; after
 * closing nclose of them, nnew new clients register and exchange a message
 * with the first. Closes everything and stops the broker. */
static void registered_keep_working(int *fds, int total, const char *prefix, int first,
                                    int nclose, int nnew)
{
    char sender[32], mask[32], name[40];
    snprintf(sender, sizeof sender, "%s.c%04d", prefix, first);
    snprintf(mask, sizeof mask, "%s.*", prefix);
    assert_int_equal(wc_send_bcast(fds[first], 0, 0, mask, "all", 3), 0);
    for (int i = 0; i < total; i++) {
        if (fds[i] >= 0) {
            it_expect_frame(fds[i], BUSRT_KIND_BROADCAST, sender, NULL, "all", 3, 0);
        }
    }
    for (int i = total - 1, closed = 0; i > first && closed < nclose; i--) {
        if (fds[i] >= 0) {
            wc_close(fds[i]);
            fds[i] = -1;
            closed++;
        }
    }
    for (int i = 0; i < nnew; i++) {
        snprintf(name, sizeof name, "%s.new%02d", prefix, i);
        int fd = reg_retry(g_b.sock, name);
        assert_true(fd >= 0);
        it_roundtrip(fds[first], sender, fd, name, "welcome", (uint32_t)(i + 1));
        wc_close(fd);
    }
    for (int i = 0; i < total; i++) {
        wc_close(fds[i]);
    }
    assert_int_equal(wc_broker_stop(&g_b), 0);
}

static void t_more_connections_than_fd_setsize(void **state)
{
    (void)state;
    /* --max-clients far above FD_SETSIZE (1024): past what the broker can
     * serve (with --io select), each new connection must still be either
     * fully served or closed before the greeting; nothing hangs, nothing
     * crashes, and the registered clients keep working. */
    const int total = 1100;
    long lim = wc_raise_nofile(total + 200);
    if (lim < total + 60) {
        fprintf(stderr, "it: RLIMIT_NOFILE is %ld: skipping the FD_SETSIZE test\n", lim);
        skip();
    }
    const char *extra[] = {"--max-clients", "5000", "-t", "60", NULL};
    assert_int_equal(wc_broker_start(&g_b, extra), 0);
    int *fds = calloc((size_t)total, sizeof *fds);
    assert_non_null(fds);
    int first;
    assert_true(connect_many(fds, total, "fs", &first) >= 900);
    registered_keep_working(fds, total, "fs", first, 50, 10);
    free(fds);
}

static void t_descriptor_limit(void **state)
{
    (void)state;
    /* A broker whose process may open only 64 descriptors, told to take
     * up to 500 clients: it warns at start, every connection beyond what
     * its descriptors allow is closed before the greeting (no spinning on
     * the listener, no crash), the registered clients keep working, and
     * closing some makes room again. */
    const int total = 90;
    assert_int_equal(setenv("BUSRTD_NOFILE", "64", 1), 0);
    const char *extra[] = {"--max-clients", "500", "-t", "60", NULL};
    int started = wc_broker_start(&g_b, extra);
    assert_int_equal(unsetenv("BUSRTD_NOFILE"), 0);
    assert_int_equal(started, 0);
    int fds[90];
    int first;
    int ok = connect_many(fds, total, "dl", &first);
    assert_true(ok >= 40 && ok < 64);
    assert_true(it_log_has(&g_b, "--max-clients 500"));
    assert_true(it_log_has(&g_b, "no descriptor left"));
    registered_keep_working(fds, total, "dl", first, 5, 5);
}

/* REQ-LIM-5: --max-topic-len counts the automatic .broker/warn
 * subscription (12 bytes): at 12, clients register and a 12-byte pattern is accepted while
 * a 13-byte one is refused with 74. (Below 12 the broker does not start:
 * test_lifecycle.c.) */
static void t_topic_len_floor(void **state)
{
    (void)state;
    const char *extra[] = {"--max-topic-len", "12", NULL};
    assert_int_equal(wc_broker_start(&g_b, extra), 0);
    int fd = it_reg(g_b.sock, "tl.client");
    assert_int_equal(wc_subscribe(fd, "abcdefghijkl"), BUSRT_RC_OK);
    assert_int_equal(wc_subscribe(fd, "abcdefghijklm"), BUSRT_RC_OTHER);
    wc_close(fd);
}

int main(void)
{
    wc_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(t_slow_consumer_message, setup, teardown),
        cmocka_unit_test_setup_teardown(t_topic_len_floor, setup, teardown),
        cmocka_unit_test_setup_teardown(t_slow_consumer_publication, setup, teardown),
        cmocka_unit_test_setup_teardown(t_slow_consumer_queue_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(t_small_buffers, setup, teardown),
        cmocka_unit_test_setup_teardown(t_many_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(t_more_connections_than_fd_setsize, setup, teardown),
        cmocka_unit_test_setup_teardown(t_descriptor_limit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
