/* Integration: the connection handshake (protocol facts section 1).
 * One broker with default options serves every test (unique client names
 * per test); the force-register test starts its own. */
#define _DEFAULT_SOURCE
#include "itest.h"

static struct wc_broker g_b;
static struct wc_broker g_fb; /* a second broker started by one test */

static int group_setup(void **state)
{
    (void)state;
    wc_init();
    const char *extra[] = {"-t", "10", NULL};
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
    wc_broker_cleanup(&g_fb);
    return 0;
}

static int conn(void)
{
    int fd = wc_connect(g_b.sock, IT_T);
    assert_true(fd >= 0);
    return fd;
}

/* Connects and completes the greeting exchange (reply 01). */
static int conn_greeted(void)
{
    int fd = conn();
    uint8_t g[3];
    assert_int_equal(wc_hs_read_greeting(fd, g, IT_T), 0);
    assert_int_equal(wc_hs_send_greeting(fd, 0xEB, 1), 0);
    assert_int_equal(wc_read_byte(fd, IT_T), BUSRT_RC_OK);
    return fd;
}

static void t_greeting_bytes(void **state)
{
    (void)state;
    int fd = conn();
    uint8_t g[3] = {0, 0, 0};
    assert_int_equal(wc_hs_read_greeting(fd, g, IT_T), 0);
    assert_memory_equal(g, "\xEB\x01\x00", 3);
    /* Nothing more until the client answers. */
    uint8_t extra;
    assert_int_equal(wc_read_exact(fd, &extra, 1, 200), WC_TIMEOUT);
    wc_close(fd);
}

static void bad_greeting(uint8_t g0, uint16_t version)
{
    int fd = conn();
    uint8_t g[3];
    assert_int_equal(wc_hs_read_greeting(fd, g, IT_T), 0);
    assert_int_equal(wc_hs_send_greeting(fd, g0, version), 0);
    assert_int_equal(wc_read_byte(fd, IT_T), BUSRT_RC_NOT_SUPPORTED);
    it_expect_eof(fd, IT_T);
    wc_close(fd);
}

static void t_wrong_greeting_byte(void **state)
{
    (void)state;
    bad_greeting(0xEA, 1);
    bad_greeting(0x00, 1);
    bad_greeting(0xFE, 1);
}

static void t_wrong_version(void **state)
{
    (void)state;
    bad_greeting(0xEB, 2);
    bad_greeting(0xEB, 0);
    bad_greeting(0xEB, 0x0101);
}

static void name_rejected(const void *name, size_t len, int code)
{
    int fd = conn_greeted();
    assert_int_equal(wc_hs_send_name(fd, name, len), 0);
    assert_int_equal(wc_read_byte(fd, IT_T), code);
    it_expect_eof(fd, IT_T);
    wc_close(fd);
}

static void t_empty_name(void **state)
{
    (void)state;
    name_rejected("", 0, BUSRT_RC_DATA);
}

static void t_dot_name(void **state)
{
    (void)state;
    name_rejected(".hs.dot", 7, BUSRT_RC_DATA);
    name_rejected(".broker", 7, BUSRT_RC_DATA);
    name_rejected(".", 1, BUSRT_RC_DATA);
}

static void bad_utf8_name(const char *name, size_t len)
{
    int fd = conn_greeted();
    assert_int_equal(wc_hs_send_name(fd, name, len), 0);
    int r = wc_read_byte(fd, IT_T);
    if (r != WC_EOF && r != (int)BUSRT_RC_DATA) {
        fprintf(stderr, "it: invalid UTF-8 name: expected EOF or 72, got %d\n", r);
    }
    assert_true(r == WC_EOF || r == (int)BUSRT_RC_DATA);
    if (r == (int)BUSRT_RC_DATA) {
        it_expect_eof(fd, IT_T);
    }
    wc_close(fd);
}

static void t_invalid_utf8_name(void **state)
{
    (void)state;
    bad_utf8_name("\xFF\xFE", 2);
    bad_utf8_name("hs.bad\xC3", 7);         /* truncated sequence */
    bad_utf8_name("hs.\xC0\x80", 5);        /* overlong NUL */
    bad_utf8_name("hs.\xED\xA0\x80", 6);    /* surrogate */
    bad_utf8_name("hs.\xF4\x90\x80\x80", 7); /* above U+10FFFF */
    /* A valid multi-byte name is accepted. */
    int fd = it_reg(g_b.sock, "hs.\xC3\xA9t\xC3\xA9");
    it_roundtrip(fd, "hs.\xC3\xA9t\xC3\xA9", fd, "hs.\xC3\xA9t\xC3\xA9", "utf8", 1);
    wc_close(fd);
}

static void t_duplicate_name(void **state)
{
    (void)state;
    int a = it_reg(g_b.sock, "hs.dup");
    int b = conn();
    assert_int_equal(wc_handshake(b, "hs.dup", 6, IT_T), BUSRT_RC_BUSY);
    it_expect_eof(b, IT_T);
    wc_close(b);
    /* The first holder is untouched. */
    it_roundtrip(a, "hs.dup", a, "hs.dup", "still-here", 2);
    wc_close(a);
}

static void t_name_reusable_after_close(void **state)
{
    (void)state;
    int a = it_reg(g_b.sock, "hs.reuse");
    wc_close(a);
    /* The broker notices the close asynchronously: retry briefly. */
    int b = -1;
    int64_t deadline = wc_now_ms() + wc_ms(3000);
    while (b < 0 && wc_now_ms() < deadline) {
        b = wc_register(g_b.sock, "hs.reuse");
        if (b < 0) {
            wc_sleep_ms(20);
        }
    }
    assert_true(b >= 0);
    it_roundtrip(b, "hs.reuse", b, "hs.reuse", "again", 3);
    wc_close(b);
}

static void t_secondary_without_primary(void **state)
{
    (void)state;
    int fd = conn();
    assert_int_equal(wc_handshake(fd, "hs.noprim%%w1", 13, IT_T), BUSRT_RC_NOT_REGISTERED);
    it_expect_eof(fd, IT_T);
    wc_close(fd);
}

static void t_secondary_with_primary(void **state)
{
    (void)state;
    int p = it_reg(g_b.sock, "hs.prim");
    int w1 = it_reg(g_b.sock, "hs.prim%%w1");
    int w2 = it_reg(g_b.sock, "hs.prim%%w2");
    /* Secondaries are full clients: they send with their full name and
     * receive messages addressed to it. */
    it_roundtrip(w1, "hs.prim%%w1", p, "hs.prim", "from-w1", 10);
    it_roundtrip(p, "hs.prim", w2, "hs.prim%%w2", "to-w2", 11);
    it_roundtrip(w2, "hs.prim%%w2", w1, "hs.prim%%w1", "w2-to-w1", 12);
    /* A duplicate secondary is busy like any name. */
    int d = conn();
    assert_int_equal(wc_handshake(d, "hs.prim%%w1", 11, IT_T), BUSRT_RC_BUSY);
    wc_close(d);
    /* The primary goes: its secondaries are disconnected. */
    wc_close(p);
    it_expect_eof(w1, IT_T);
    it_expect_eof(w2, IT_T);
    wc_close(w1);
    wc_close(w2);
    /* And a secondary cannot register again without the primary. */
    d = conn();
    assert_int_equal(wc_handshake(d, "hs.prim%%w3", 11, IT_T), BUSRT_RC_NOT_REGISTERED);
    wc_close(d);
}

static void t_secondary_disconnect_keeps_primary(void **state)
{
    (void)state;
    int p = it_reg(g_b.sock, "hs.keep");
    int w = it_reg(g_b.sock, "hs.keep%%x");
    wc_close(w);
    it_expect_silence(p, 300);
    it_roundtrip(p, "hs.keep", p, "hs.keep", "alive", 20);
    wc_close(p);
}

static void t_name_one_byte(void **state)
{
    (void)state;
    int x = it_reg(g_b.sock, "x");
    int o = it_reg(g_b.sock, "hs.other1");
    it_roundtrip(x, "x", o, "hs.other1", "from-x", 30);
    it_roundtrip(o, "hs.other1", x, "x", "to-x", 31);
    wc_close(x);
    wc_close(o);
}

static void t_name_several_kb(void **state)
{
    (void)state;
    size_t len = 8000;
    char *name = malloc(len + 1);
    assert_non_null(name);
    memset(name, 'n', len);
    memcpy(name, "hs.long.", 8);
    name[len] = '\0';
    int l = it_reg(g_b.sock, name);
    int o = it_reg(g_b.sock, "hs.other2");
    it_roundtrip(l, name, o, "hs.other2", "from-long", 40);
    it_roundtrip(o, "hs.other2", l, name, "to-long", 41);
    wc_close(l);
    wc_close(o);
    free(name);
}

static void t_name_max_len(void **state)
{
    (void)state;
    /* The longest name the u16 length allows: 65535 bytes. */
    size_t len = 65535;
    char *name = malloc(len + 1);
    assert_non_null(name);
    memset(name, 'm', len);
    memcpy(name, "hs.max.", 7);
    name[len] = '\0';
    int l = it_reg(g_b.sock, name);
    /* Registered (01) means it stays connected. */
    int r = wc_expect_silence(l, 300);
    if (r != 0) {
        fprintf(stderr, "it: a client named with 65535 bytes was registered, then %s\n",
                r == WC_EOF ? "disconnected at once" : "sent something");
    }
    assert_int_equal(r, 0);
    int o = it_reg(g_b.sock, "hs.other3");
    it_roundtrip(l, name, o, "hs.other3", "from-max", 42);
    it_roundtrip(o, "hs.other3", l, name, "to-max", 43);
    wc_close(l);
    wc_close(o);
    free(name);
}

static void t_handshake_in_pieces(void **state)
{
    (void)state;
    /* Every handshake step split into single bytes with pauses: the broker
     * must reassemble partial reads. */
    int fd = conn();
    uint8_t g[3];
    assert_int_equal(wc_hs_read_greeting(fd, g, IT_T), 0);
    const uint8_t hs[] = {0xEB, 0x01, 0x00};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(wc_send_all(fd, hs + i, 1, IT_T), 0);
        wc_sleep_ms(30);
    }
    assert_int_equal(wc_read_byte(fd, IT_T), BUSRT_RC_OK);
    const char *name = "hs.pieces";
    uint8_t nl[2] = {9, 0};
    assert_int_equal(wc_send_all(fd, nl, 1, IT_T), 0);
    wc_sleep_ms(30);
    assert_int_equal(wc_send_all(fd, nl + 1, 1, IT_T), 0);
    for (size_t i = 0; i < 9; i++) {
        assert_int_equal(wc_send_all(fd, name + i, 1, IT_T), 0);
        wc_sleep_ms(10);
    }
    assert_int_equal(wc_read_byte(fd, IT_T), BUSRT_RC_OK);
    it_roundtrip(fd, name, fd, name, "pieces", 50);
    wc_close(fd);
}

static void t_client_closes_mid_handshake(void **state)
{
    (void)state;
    /* Clients that vanish at every handshake step leave the broker intact. */
    int fd = conn();
    wc_close(fd);
    fd = conn();
    uint8_t g[3];
    assert_int_equal(wc_hs_read_greeting(fd, g, IT_T), 0);
    wc_close(fd);
    fd = conn_greeted();
    wc_close(fd);
    fd = conn_greeted();
    uint8_t part[5] = {10, 0, 'h', 's', '.'};
    assert_int_equal(wc_send_all(fd, part, sizeof part, IT_T), 0);
    wc_close(fd);
    int a = it_reg(g_b.sock, "hs.after.vanish");
    it_roundtrip(a, "hs.after.vanish", a, "hs.after.vanish", "ok", 60);
    wc_close(a);
}

static void t_force_register(void **state)
{
    (void)state;
    const char *extra[] = {"--force-register", "-t", "10", NULL};
    assert_int_equal(wc_broker_start(&g_fb, extra), 0);
    int old = it_reg(g_fb.sock, "fr.dup");
    int old_sec = it_reg(g_fb.sock, "fr.dup%%s1");
    int peer = it_reg(g_fb.sock, "fr.peer");
    int nw = wc_connect(g_fb.sock, IT_T);
    assert_true(nw >= 0);
    assert_int_equal(wc_handshake(nw, "fr.dup", 6, IT_T), BUSRT_RC_OK);
    /* The older connection is dropped, and with it its secondaries. */
    it_expect_eof(old, IT_T);
    wc_close(old);
    it_expect_eof(old_sec, IT_T);
    wc_close(old_sec);
    /* A duplicate secondary name also replaces the older one. */
    int s1 = it_reg(g_fb.sock, "fr.dup%%s2");
    int s2 = it_reg(g_fb.sock, "fr.dup%%s2");
    it_expect_eof(s1, IT_T);
    wc_close(s1);
    it_roundtrip(peer, "fr.peer", s2, "fr.dup%%s2", "to-new-secondary", 3);
    wc_close(s2);
    /* Messages to the name reach the new connection. */
    it_roundtrip(peer, "fr.peer", nw, "fr.dup", "to-new", 1);
    it_roundtrip(nw, "fr.dup", peer, "fr.peer", "from-new", 2);
    wc_close(nw);
    wc_close(peer);
    assert_int_equal(wc_broker_stop(&g_fb), 0);
    wc_broker_cleanup(&g_fb);
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
        cmocka_unit_test(t_greeting_bytes),
        cmocka_unit_test(t_wrong_greeting_byte),
        cmocka_unit_test(t_wrong_version),
        cmocka_unit_test(t_empty_name),
        cmocka_unit_test(t_dot_name),
        cmocka_unit_test(t_invalid_utf8_name),
        cmocka_unit_test(t_duplicate_name),
        cmocka_unit_test(t_name_reusable_after_close),
        cmocka_unit_test(t_secondary_without_primary),
        cmocka_unit_test(t_secondary_with_primary),
        cmocka_unit_test(t_secondary_disconnect_keeps_primary),
        cmocka_unit_test(t_name_one_byte),
        cmocka_unit_test(t_name_several_kb),
        cmocka_unit_test(t_name_max_len),
        cmocka_unit_test(t_handshake_in_pieces),
        cmocka_unit_test(t_client_closes_mid_handshake),
        cmocka_unit_test(t_force_register),
        cmocka_unit_test(t_clean_exit),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
