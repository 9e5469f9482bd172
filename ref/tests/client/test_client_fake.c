/* libbusrt against scripted fake brokers (harness.c, th_fake_*): the exact
 * bytes the library writes, and how it handles malformed greetings,
 * frames and duplicate ACKs. No busrtd is involved; in the in-process mode
 * (BUSRT_TEST_INPROC=1) every test skips. */
#define _DEFAULT_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "busrt/client.h"
#include "busrt/codes.h"
#include "harness.h"

#define T th_ms(3000)

/* ---- Fake brokers: bytes on the wire and malformed input -------------------------- */

static const uint8_t EXPECT_WIRE[] = {
    /* handshake: greeting echo, name length, name */
    0xEB, 0x01, 0x00, 0x05, 0x00, 'w', 'i', 'r', 'e', '1',
    /* publish QoS 1, op id 1: "t/x" NUL "hi" */
    0x01, 0x00, 0x00, 0x00, 0x41, 0x06, 0x00, 0x00, 0x00, 't', '/', 'x', 0x00, 'h', 'i',
    /* subscribe QoS 0, op id 2: "a" NUL "b/+" (no trailing NUL) */
    0x02, 0x00, 0x00, 0x00, 0x02, 0x05, 0x00, 0x00, 0x00, 'a', 0x00, 'b', '/', '+',
    /* publish-for QoS 2, op id 3: "t" NUL "rcv" NUL "p" */
    0x03, 0x00, 0x00, 0x00, 0x86, 0x07, 0x00, 0x00, 0x00, 't', 0x00, 'r', 'c', 'v', 0x00, 'p',
    /* message QoS 3, op id 4 (iovec pieces): "tg" NUL "abcd" */
    0x04, 0x00, 0x00, 0x00, 0xD2, 0x07, 0x00, 0x00, 0x00, 't', 'g', 0x00, 'a', 'b', 'c', 'd',
    /* broadcast QoS 0, op id 5: "m.*" NUL (empty payload) */
    0x05, 0x00, 0x00, 0x00, 0x13, 0x04, 0x00, 0x00, 0x00, 'm', '.', '*', 0x00,
    /* unsubscribe, exclude, unexclude QoS 0, op ids 6..8: "z" */
    0x06, 0x00, 0x00, 0x00, 0x03, 0x01, 0x00, 0x00, 0x00, 'z',
    0x07, 0x00, 0x00, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00, 'z',
    0x08, 0x00, 0x00, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 'z',
    /* ping */
    0, 0, 0, 0, 0, 0, 0, 0, 0};

static void fake_capture(struct th_fake *f, int fd)
{
    if (th_fake_handshake(f, fd) != 0) {
        return;
    }
    size_t rest = sizeof EXPECT_WIRE - f->ngot;
    if (th_fake_read(fd, f->got + f->ngot, rest, th_ms(3000)) != 0) {
        return;
    }
    f->ngot += rest;
    /* The ACK for op 1, then wait for the client to go. */
    static const uint8_t ack[6] = {0xFE, 0x01, 0x00, 0x00, 0x00, 0x01};
    (void)th_fake_write(fd, ack, sizeof ack);
    f->ok = th_fake_wait_eof(fd, th_ms(3000)) == 0;
}

static void test_wire_bytes(void **state)
{
    (void)state;
    if (th_inproc()) {
        skip(); /* talks to a scripted fake broker, not to the embedded one */
    }
    struct th_fake fk;
    assert_int_equal(th_fake_start(&fk, fake_capture, NULL), 0);
    busrt_client *c = th_connect_ok(fk.path, "wire1");
    uint32_t op1;
    assert_int_equal(busrt_publish(c, "t/x", "hi", 2, BUSRT_QOS_PROCESSED, &op1), 0);
    assert_int_equal(op1, 1);
    static const char *const subs[] = {"a", "b/+"};
    assert_int_equal(busrt_subscribe_many(c, subs, 2, BUSRT_QOS_NO, NULL), 0);
    assert_int_equal(busrt_publish_for(c, "t", "rcv", "p", 1, BUSRT_QOS_REALTIME, NULL), 0);
    struct iovec v[3] = {{(void *)(uintptr_t)"ab", 2}, {NULL, 0}, {(void *)(uintptr_t)"cd", 2}};
    assert_int_equal(busrt_sendv(c, "tg", v, 3, BUSRT_QOS_REALTIME_PROCESSED, NULL), 0);
    assert_int_equal(busrt_broadcast(c, "m.*", NULL, 0, BUSRT_QOS_NO, NULL), 0);
    assert_int_equal(busrt_unsubscribe(c, "z", 0, NULL), 0);
    assert_int_equal(busrt_exclude(c, "z", 0, NULL), 0);
    assert_int_equal(busrt_unexclude(c, "z", 0, NULL), 0);
    assert_int_equal(busrt_ping(c), 0);
    assert_int_equal(busrt_wait_ack(c, op1, T), 0);
    busrt_client_close(c);
    th_fake_join(&fk);
    assert_int_equal(fk.ngot, sizeof EXPECT_WIRE);
    assert_memory_equal(fk.got, EXPECT_WIRE, sizeof EXPECT_WIRE);
    assert_int_equal(fk.ok, 1);
}

static void fake_bad_greeting(struct th_fake *f, int fd)
{
    static const uint8_t g[3] = {0xEB, 0x02, 0x00};
    (void)th_fake_write(fd, g, 3);
    f->ok = th_fake_wait_eof(fd, th_ms(3000)) == 0;
}

static void fake_reply_75(struct th_fake *f, int fd)
{
    static const uint8_t g[3] = {0xEB, 0x01, 0x00};
    static const uint8_t no = 0x75;
    uint8_t b[3];
    if (th_fake_write(fd, g, 3) == 0 && th_fake_read(fd, b, 3, th_ms(3000)) == 0) {
        (void)th_fake_write(fd, &no, 1);
        f->ok = memcmp(b, g, 3) == 0;
    }
}

static void fake_silent(struct th_fake *f, int fd)
{
    f->ok = th_fake_wait_eof(fd, th_ms(5000)) == 0;
}

static void test_fake_handshakes(void **state)
{
    (void)state;
    if (th_inproc()) {
        skip(); /* talks to a scripted fake broker, not to the embedded one */
    }
    struct th_fake fk;
    busrt_client *c = NULL;
    assert_int_equal(th_fake_start(&fk, fake_bad_greeting, NULL), 0);
    assert_int_equal(th_connect(fk.path, "x", &c), BUSRT_E_PROTO);
    th_fake_join(&fk);
    assert_int_equal(fk.ok, 1);

    assert_int_equal(th_fake_start(&fk, fake_reply_75, NULL), 0);
    assert_int_equal(th_connect(fk.path, "x", &c), BUSRT_E_NOT_SUPPORTED);
    th_fake_join(&fk);
    assert_int_equal(fk.ok, 1);

    assert_int_equal(th_fake_start(&fk, fake_silent, NULL), 0);
    struct busrt_client_config cfg;
    busrt_client_config_init(&cfg, "x");
    cfg.connect_timeout_ms = 300;
    int64_t t0 = th_now_ms();
    assert_int_equal(busrt_client_connect(&c, fk.path, &cfg), BUSRT_E_TIMEOUT);
    int64_t dt = th_now_ms() - t0;
    assert_true(dt >= 290 && dt < th_ms(2000));
    th_fake_join(&fk);
    assert_int_equal(fk.ok, 1);
    assert_null(c);
}

/* After the handshake, sends the bytes in ctx (a struct blob). */
struct blob {
    const uint8_t *p;
    size_t n;
};

static void fake_send_blob(struct th_fake *f, int fd)
{
    const struct blob *b = f->ctx;
    if (th_fake_handshake(f, fd) != 0) {
        return;
    }
    (void)th_fake_write(fd, b->p, b->n);
    f->ok = th_fake_wait_eof(fd, th_ms(3000)) == 0;
}

static void test_fake_malformed_frames(void **state)
{
    (void)state;
    if (th_inproc()) {
        skip(); /* talks to a scripted fake broker, not to the embedded one */
    }
    struct th_fake fk;
    struct busrt_frame f;
    busrt_client *c = NULL;
    /* 1. Message without NUL: discarded; NOP with junk bytes: ignored;
     *    then a good message, a publication, a broadcast. */
    static const uint8_t s1[] = {
        0x12, 0x03, 0x00, 0x00, 0x00, 0x00, 'a', 'b', 'c',                 /* no NUL */
        0x00, 0x05, 0x00, 0x00, 0x00, 0x01,                                /* NOP junk */
        0xFE, 0x09, 0x00, 0x00, 0x00, 0x01,                                /* stray ACK */
        0x12, 0x05, 0x00, 0x00, 0x00, 0x07, 's', 0x00, 'h', 0x00, 'i',     /* rt byte 7 */
        0x01, 0x06, 0x00, 0x00, 0x00, 0x00, 's', 0x00, 't', 0x00, 'p', 'q', /* publication */
        0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 's', 0x00,                     /* no topic NUL */
        0x13, 0x02, 0x00, 0x00, 0x00, 0x01, 's', 0x00};                    /* empty payload */
    struct blob b1 = {s1, sizeof s1};
    assert_int_equal(th_fake_start(&fk, fake_send_blob, &b1), 0);
    c = th_connect_ok(fk.path, "m1");
    assert_int_equal(busrt_recv(c, &f, T), 0);
    assert_int_equal(f.kind, BUSRT_KIND_MESSAGE);
    assert_int_equal(f.realtime, 1);
    assert_int_equal(f.payload_len, 3);
    assert_memory_equal(f.payload, "h\0i", 3);
    assert_int_equal(busrt_recv(c, &f, T), 0);
    assert_int_equal(f.kind, BUSRT_KIND_PUBLISH);
    assert_string_equal(f.topic, "t");
    assert_int_equal(f.payload_len, 2);
    assert_int_equal(busrt_recv(c, &f, T), 0);
    assert_int_equal(f.kind, BUSRT_KIND_BROADCAST);
    assert_int_equal(f.payload_len, 0);
    assert_int_equal(busrt_client_discarded(c), 2);
    assert_int_equal(busrt_recv(c, &f, 50), BUSRT_E_TIMEOUT);
    busrt_client_close(c);
    th_fake_join(&fk);
    assert_int_equal(fk.ok, 1);

    /* 1b. Only frames without their NUL: busrt_poll reports no frame
     *     (busrt_recv would have none to give). */
    static const uint8_t s1b[] = {
        0x12, 0x01, 0x00, 0x00, 0x00, 0x00, 'a',                         /* no NUL */
        0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 's', 0x00, 't'};             /* no topic NUL */
    struct blob b1b = {s1b, sizeof s1b};
    assert_int_equal(th_fake_start(&fk, fake_send_blob, &b1b), 0);
    c = th_connect_ok(fk.path, "m1b");
    int64_t until = th_now_ms() + T;
    while (busrt_client_discarded(c) < 2 && th_now_ms() < until) {
        assert_int_equal(busrt_poll(c), 0);
        th_sleep_ms(5);
    }
    assert_int_equal(busrt_client_discarded(c), 2);
    assert_int_equal(busrt_poll(c), 0);
    assert_int_equal(busrt_recv(c, &f, 0), BUSRT_E_TIMEOUT);
    busrt_client_close(c);
    th_fake_join(&fk);
    assert_int_equal(fk.ok, 1);

    /* 2. An unknown frame kind: the stream is lost (REQ-DLV-8). */
    static const uint8_t s2[] = {0x12, 0x03, 0x00, 0x00, 0x00, 0x00, 's', 0x00, 'x',
                                 0x42, 0x00, 0x00, 0x00, 0x00, 0x00};
    struct blob b2 = {s2, sizeof s2};
    assert_int_equal(th_fake_start(&fk, fake_send_blob, &b2), 0);
    c = th_connect_ok(fk.path, "m2");
    assert_int_equal(busrt_recv(c, &f, T), 0); /* the frame before it */
    assert_int_equal(busrt_recv(c, &f, T), BUSRT_E_PROTO);
    assert_int_equal(busrt_client_connected(c), 0);
    busrt_client_close(c);
    th_fake_join(&fk);
    assert_int_equal(fk.ok, 1);

    /* 3. A body above max_body: closed without allocating it. */
    static const uint8_t s3[] = {0x12, 0x00, 0x00, 0x00, 0x40, 0x00}; /* 1 GiB */
    struct blob b3 = {s3, sizeof s3};
    assert_int_equal(th_fake_start(&fk, fake_send_blob, &b3), 0);
    struct busrt_client_config cfg;
    busrt_client_config_init(&cfg, "m3");
    cfg.max_body = 1024;
    assert_int_equal(busrt_client_connect(&c, fk.path, &cfg), 0);
    assert_int_equal(busrt_recv(c, &f, T), BUSRT_E_TOO_BIG);
    busrt_client_close(c);
    th_fake_join(&fk);
    assert_int_equal(fk.ok, 1);
}

/* ACKs 79, 79, 01 for one op (the deployed per-pattern form): the first
 * is the result; the others are ignored. */
static void fake_dup_acks(struct th_fake *f, int fd)
{
    if (th_fake_handshake(f, fd) != 0) {
        return;
    }
    uint8_t h[9 + 1];
    if (th_fake_read(fd, h, sizeof h, th_ms(3000)) != 0) {
        return;
    }
    uint8_t acks[18] = {0xFE, h[0], h[1], h[2], h[3], 0x79, 0xFE, h[0], h[1],
                        h[2], h[3], 0x79, 0xFE, h[0], h[1], h[2], h[3], 0x01};
    (void)th_fake_write(fd, acks, sizeof acks);
    if (th_fake_read(fd, h, sizeof h, th_ms(3000)) != 0) {
        return;
    }
    uint8_t ok[6] = {0xFE, h[0], h[1], h[2], h[3], 0x01};
    (void)th_fake_write(fd, ok, sizeof ok);
    f->ok = th_fake_wait_eof(fd, th_ms(3000)) == 0;
}

static void test_fake_duplicate_acks(void **state)
{
    (void)state;
    if (th_inproc()) {
        skip(); /* talks to a scripted fake broker, not to the embedded one */
    }
    struct th_fake fk;
    assert_int_equal(th_fake_start(&fk, fake_dup_acks, NULL), 0);
    busrt_client *c = th_connect_ok(fk.path, "dup");
    uint32_t op;
    assert_int_equal(busrt_subscribe(c, "s", BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(c, op, T), BUSRT_E_ACCESS);
    assert_int_equal(busrt_subscribe(c, "t", BUSRT_QOS_PROCESSED, &op), 0);
    assert_int_equal(busrt_wait_ack(c, op, T), 0);
    busrt_client_close(c);
    th_fake_join(&fk);
    assert_int_equal(fk.ok, 1);
}

int main(void)
{
    th_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_bytes),
        cmocka_unit_test(test_fake_handshakes),
        cmocka_unit_test(test_fake_malformed_frames),
        cmocka_unit_test(test_fake_duplicate_acks),
    };
    return cmocka_run_group_tests_name("libbusrt-fake", tests, NULL, NULL);
}
