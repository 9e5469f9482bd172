/* Raw bytes over an embedded broker's in-process link (inproc.h, white
 * box), each scenario run twice with the same expected bytes: over the
 * link and over a UNIX socket of the same broker, as the socket
 * integration tests (ref/tests/integration) assert them. lib.c is
 * included for the broker's hub (its struct is private to lib.c). */
#include "../../src/broker/lib.c"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "../client/harness.h"
#include "busrt/codes.h"
#include "embed_util.h"

/* One connection: an in-process link, or a UNIX socket. */
struct wconn {
    struct inproc_link *l;
    int fd; /* the link's eventfd, or the socket */
};

struct wbroker {
    busrtd *d;
    char dir[32], sock[64];
};

static struct wbroker g_main; /* -t 10, --payload-size-limit 4096 */

static int wb_start(struct wbroker *w, const char *t)
{
    snprintf(w->dir, sizeof w->dir, "/tmp/busrt-emb-XXXXXX");
    if (mkdtemp(w->dir) == NULL) {
        return -1;
    }
    snprintf(w->sock, sizeof w->sock, "%s/bus.sock", w->dir);
    const char *args[] = {"-B", w->sock, "-t", t, "--payload-size-limit", "4096", NULL};
    w->d = eu_broker(args);
    return w->d != NULL ? 0 : -1;
}

static void wb_stop(struct wbroker *w)
{
    busrtd_destroy(w->d);
    (void)rmdir(w->dir);
}

static int wc_open(struct wbroker *w, int inproc, struct wconn *c)
{
    memset(c, 0, sizeof *c);
    if (inproc) {
        int err = 0;
        c->l = inproc_connect(w->d->hub, &c->fd, &err);
        return c->l != NULL ? 0 : err;
    }
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", w->sock);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        return -1;
    }
    return 0;
}

static void wc_close(struct wconn *c)
{
    if (c->l != NULL) {
        inproc_transport.close(c->l);
    } else if (c->fd >= 0) {
        (void)close(c->fd);
    }
    c->l = NULL;
    c->fd = -1;
}

static int wc_write(struct wconn *c, const void *p, size_t n)
{
    if (c->l != NULL) {
        struct iovec iov = {(void *)(uintptr_t)p, n};
        return inproc_transport.writev(c->l, &iov, 1) == (long)n ? 0 : -1;
    }
    return th_fake_write(c->fd, p, n);
}

/* Reads up to n bytes within ms: the count (> 0), 0 on timeout, or
 * BUSRT_E_CLOSED when the broker closed the connection. */
static long wc_read_some(struct wconn *c, void *buf, size_t n, int ms)
{
    int64_t deadline = th_now_ms() + ms;
    for (;;) {
        long r;
        if (c->l != NULL) {
            r = inproc_transport.read(c->l, buf, n);
        } else {
            ssize_t s = read(c->fd, buf, n);
            r = s > 0 ? (long)s
                : s == 0 || (errno != EAGAIN && errno != EINTR) ? (long)BUSRT_E_CLOSED
                                                                 : 0;
        }
        if (r != 0) {
            return r;
        }
        int64_t left = deadline - th_now_ms();
        if (left <= 0) {
            return 0;
        }
        struct pollfd p = {c->fd, POLLIN, 0};
        (void)poll(&p, 1, (int)left);
    }
}

/* Exactly the n bytes of want arrive next (bounded wait). */
static void expect_bytes(struct wconn *c, const void *want, size_t n)
{
    uint8_t got[256];
    size_t have = 0;
    assert_true(n <= sizeof got);
    while (have < n) {
        long r = wc_read_some(c, got + have, n - have, th_ms(3000));
        if (r <= 0) {
            fprintf(stderr, "embed: %zu of %zu bytes arrived, then %s\n", have, n,
                    r == 0 ? "nothing" : "the close");
        }
        assert_true(r > 0);
        have += (size_t)r;
    }
    assert_memory_equal(got, want, n);
}

/* The broker closes the connection with no further byte. */
static void expect_closed(struct wconn *c)
{
    uint8_t b[64];
    long r = wc_read_some(c, b, sizeof b, th_ms(3000));
    if (r > 0) {
        fprintf(stderr, "embed: %ld bytes (first %02x) instead of the close\n", r, b[0]);
    }
    assert_int_equal(r, BUSRT_E_CLOSED);
}

static void greet(struct wconn *c)
{
    expect_bytes(c, "\xEB\x01\x00", 3);
    assert_int_equal(wc_write(c, "\xEB\x01\x00", 3), 0);
    expect_bytes(c, "\x01", 1);
}

static void send_name(struct wconn *c, const char *name, size_t len)
{
    uint8_t l[2] = {(uint8_t)(len % 256u), (uint8_t)(len / 256u)};
    assert_int_equal(wc_write(c, l, 2), 0);
    if (len > 0u) { /* an empty name is refused at once: nothing to write */
        assert_int_equal(wc_write(c, name, len), 0);
    }
}

static void reg(struct wbroker *w, int inproc, struct wconn *c, const char *name)
{
    assert_int_equal(wc_open(w, inproc, c), 0);
    greet(c);
    send_name(c, name, strlen(name));
    expect_bytes(c, "\x01", 1);
}

static int setup(void **state)
{
    (void)state;
    char t[32];
    return wb_start(&g_main, eu_secs(t, sizeof t, 10000));
}

static int teardown(void **state)
{
    (void)state;
    wb_stop(&g_main);
    return 0;
}

/* ---- Scenarios, each over the link (1) and over the socket (0) ------------ */

static void t_bad_greeting(void **state)
{
    (void)state;
    static const char *const bad[] = {"\xEA\x01\x00", "\xEB\x02\x00", "\xEB\x00\x00"};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < 3; i++) {
            struct wconn c;
            assert_int_equal(wc_open(&g_main, k, &c), 0);
            expect_bytes(&c, "\xEB\x01\x00", 3);
            assert_int_equal(wc_write(&c, bad[i], 3), 0);
            expect_bytes(&c, "\x75", 1); /* not supported */
            expect_closed(&c);
            wc_close(&c);
        }
    }
}

static void t_name_refused(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        struct wconn c;
        /* Empty and dot names: 72, then the close. */
        assert_int_equal(wc_open(&g_main, k, &c), 0);
        greet(&c);
        send_name(&c, "", 0);
        expect_bytes(&c, "\x72", 1);
        expect_closed(&c);
        wc_close(&c);
        assert_int_equal(wc_open(&g_main, k, &c), 0);
        greet(&c);
        send_name(&c, ".wr", 3);
        expect_bytes(&c, "\x72", 1);
        expect_closed(&c);
        wc_close(&c);
        /* Not UTF-8: the spec allows a close with or without 72 first
         * (REQ-NAME-2); this broker answers 72, over either transport. */
        static const char *const bad[] = {"\xFF\xFE", "wr.\xC0\x80", "wr.\xED\xA0\x80"};
        static const size_t len[] = {2, 5, 6};
        for (size_t i = 0; i < 3; i++) {
            assert_int_equal(wc_open(&g_main, k, &c), 0);
            greet(&c);
            send_name(&c, bad[i], len[i]);
            expect_bytes(&c, "\x72", 1);
            expect_closed(&c);
            wc_close(&c);
        }
    }
}

static void t_unknown_op(void **state)
{
    (void)state;
    static const char *const frames[] = {
        "\x01\x00\x00\x00\x07\x00\x00\x00\x00",
        "\x01\x00\x00\x00\x47\x04\x00\x00\x00" "a\0bc", /* op 7, QoS 1 */
        "\x01\x00\x00\x00\xFF\x04\x00\x00\x00" "a\0bc", /* op 0x3F, QoS 3 */
    };
    static const size_t len[] = {9, 13, 13};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < 3; i++) {
            struct wconn c;
            reg(&g_main, k, &c, "wr.badop");
            assert_int_equal(wc_write(&c, frames[i], len[i]), 0);
            expect_closed(&c);
            wc_close(&c);
        }
    }
}

static void t_body_over_limit(void **state)
{
    (void)state;
    /* Header only, 4097 and 0xFFFFFFFF bytes announced (limit 4096): the
     * close comes without waiting for the body, and without an ACK. */
    static const char *const hdr[] = {"\x05\x00\x00\x00\x52\x01\x10\x00\x00",
                                      "\x05\x00\x00\x00\x41\xFF\xFF\xFF\xFF"};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < 2; i++) {
            struct wconn c;
            reg(&g_main, k, &c, "wr.big");
            assert_int_equal(wc_write(&c, hdr[i], 9), 0);
            expect_closed(&c);
            wc_close(&c);
        }
    }
}

/* a sends "hi" to b with QoS q and op id 0x01020304: b gets the delivery's
 * exact bytes, a the ACK's (when q asks for one). */
static void exchange(int ka, int kb, unsigned q)
{
    /* Fresh names: a socket's close is seen by the broker a little later. */
    static char seq = 'a';
    char na[8] = "w1.a", nb[8] = "w1.b";
    na[1] = nb[1] = seq++;
    struct wconn a, b;
    reg(&g_main, ka, &a, na);
    reg(&g_main, kb, &b, nb);
    uint8_t f[9 + 7] = {0x04, 0x03, 0x02, 0x01, (uint8_t)(0x12u | (q << 6)), 7, 0, 0, 0,
                        'w',  (uint8_t)nb[1], '.', 'b', 0, 'h', 'i'};
    assert_int_equal(wc_write(&a, f, sizeof f), 0);
    const uint8_t dlv[6 + 7] = {0x12, 7, 0, 0, 0, (uint8_t)(q >= 2u ? 1u : 0u),
                                'w',  (uint8_t)na[1], '.', 'a', 0, 'h', 'i'};
    expect_bytes(&b, dlv, sizeof dlv);
    if (q % 2u == 1u) {
        expect_bytes(&a, "\xFE\x04\x03\x02\x01\x01", 6);
    }
    /* A message to nobody: ACK 71 with the op id. */
    uint8_t g[9 + 7] = {0x09, 0, 0, 0, 0x52, 7, 0, 0, 0, 'w', 'r', '.', 'z', 0, 'h', 'i'};
    assert_int_equal(wc_write(&a, g, sizeof g), 0);
    expect_bytes(&a, "\xFE\x09\x00\x00\x00\x71", 6);
    wc_close(&a);
    wc_close(&b);
}

static void t_delivery_and_ack(void **state)
{
    (void)state;
    for (unsigned q = 0; q <= 3u; q++) {
        exchange(1, 1, q);
        exchange(1, 0, q);
        exchange(0, 1, q);
        exchange(0, 0, q);
    }
}

static void t_keepalive_nop(void **state)
{
    (void)state;
    struct wbroker w;
    char t[32];
    const int T = 400;
    assert_int_equal(wb_start(&w, eu_secs(t, sizeof t, T)), 0);
    for (int k = 0; k < 2; k++) {
        struct wconn c;
        reg(&w, k, &c, "wr.nop");
        /* The first NOP is due at T/2: bounded wait of T. */
        uint8_t b[6];
        size_t have = 0;
        while (have < sizeof b) {
            long r = wc_read_some(&c, b + have, sizeof b - have, th_ms(T));
            assert_true(r > 0);
            have += (size_t)r;
        }
        assert_memory_equal(b, "\0\0\0\0\0\0", 6);
        /* Silent for 1.25 T after that: dropped. */
        int64_t deadline = th_now_ms() + 4 * th_ms(T);
        long r;
        do {
            r = wc_read_some(&c, b, sizeof b, th_ms(T));
        } while (r > 0 && th_now_ms() < deadline);
        assert_int_equal(r, BUSRT_E_CLOSED);
        wc_close(&c);
    }
    wb_stop(&w);
}

/* In-process only (a socket stalls only once the kernel's buffer is full):
 * a client that pings but takes nothing from its queue for T is dropped,
 * and a message to it is then answered 71. */
static void t_unread_queue_dropped(void **state)
{
    (void)state;
    struct wbroker w;
    char t[32];
    const int T = 400;
    assert_int_equal(wb_start(&w, eu_secs(t, sizeof t, T)), 0);
    struct wconn r, s;
    reg(&w, 1, &r, "wr.unread");
    reg(&w, 1, &s, "wr.sender");
    static const uint8_t m[9 + 12] = {0x01, 0, 0, 0, 0x52, 12, 0, 0, 0, 'w', 'r', '.', 'u',
                                      'n',  'r', 'e', 'a', 'd', 0, 'x', 'y'};
    assert_int_equal(wc_write(&s, m, sizeof m), 0);
    expect_bytes(&s, "\xFE\x01\x00\x00\x00\x01", 6);
    static const uint8_t nop[9] = {0};
    int64_t end = th_now_ms() + 4 * th_ms(T);
    int gone = 0;
    while (!gone && th_now_ms() < end) {
        th_sleep_ms(th_ms(T) / 4);
        gone = wc_write(&r, nop, sizeof nop) != 0; /* dropped: the link is closed */
        /* The sender pings too (it reads its NOPs), so that only r stalls. */
        uint8_t b[64];
        (void)wc_write(&s, nop, sizeof nop);
        (void)wc_read_some(&s, b, sizeof b, 0);
    }
    assert_true(gone);
    static const uint8_t m2[9 + 12] = {0x02, 0, 0, 0, 0x52, 12, 0, 0, 0, 'w', 'r', '.', 'u',
                                       'n',  'r', 'e', 'a', 'd', 0, 'x', 'y'};
    uint8_t b[6];
    assert_int_equal(wc_write(&s, m2, sizeof m2), 0);
    /* Skip NOPs (six zero bytes) before the ACK. */
    for (;;) {
        size_t have = 0;
        while (have < sizeof b) {
            long n = wc_read_some(&s, b + have, sizeof b - have, th_ms(3000));
            assert_true(n > 0);
            have += (size_t)n;
        }
        if (b[0] != 0u) {
            break;
        }
    }
    assert_memory_equal(b, "\xFE\x02\x00\x00\x00\x71", 6);
    wc_close(&r);
    wc_close(&s);
    wb_stop(&w);
}

int main(void)
{
    th_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_bad_greeting),    cmocka_unit_test(t_name_refused),
        cmocka_unit_test(t_unknown_op),      cmocka_unit_test(t_body_over_limit),
        cmocka_unit_test(t_delivery_and_ack), cmocka_unit_test(t_keepalive_nop),
        cmocka_unit_test(t_unread_queue_dropped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
