/* Shared helpers for the integration test executables (cmocka). Included by
 * each test_*.c after wire.h; everything here is static inline so that
 * unused helpers cost nothing and no prototypes are needed. */
#ifndef BUSRT_IT_ITEST_H
#define BUSRT_IT_ITEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "busrt/codes.h"
#include "busrt/rpcproto.h"
#include "wire.h"

/* Default timeout for "this must arrive" reads. */
#define IT_T wc_ms(3000)

/* Registers name on addr; fails the test when the broker refuses. */
static inline int it_reg(const char *addr, const char *name)
{
    int fd = wc_register(addr, name);
    if (fd < 0) {
        fprintf(stderr, "it: could not register '%s' on %s: %d\n", name, addr, fd);
    }
    assert_true(fd >= 0);
    return fd;
}

static inline void it_print_frame(const char *what, int r, const struct wc_frame *f)
{
    if (r == WC_FRAME) {
        fprintf(stderr, "it: %s: frame kind 0x%02x rt %u from '%.*s' topic '%.*s' payload(%zu) '%.*s'\n",
                what, f->kind, f->realtime, (int)(f->sender_len > 80 ? 80 : f->sender_len),
                f->sender, (int)(f->topic_len > 80 ? 80 : f->topic_len), f->topic,
                f->payload_len, (int)(f->payload_len > 80 ? 80 : f->payload_len),
                (const char *)f->payload);
    } else if (r == WC_ACK) {
        fprintf(stderr, "it: %s: ACK id %u code 0x%02x\n", what, f->ack_id, f->ack_code);
    } else {
        fprintf(stderr, "it: %s: read result %d\n", what, r);
    }
}

/* Reads the next non-NOP item; asserts it is a delivered frame of kind from
 * sender (topic NULL = do not check) with this payload. realtime -1 = do not
 * check, else the exact byte 5 value. */
static inline void it_expect_frame(int fd, uint8_t kind, const char *sender,
                                   const char *topic, const void *payload,
                                   size_t plen, int realtime)
{
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    int r = wc_read_next(fd, &f, IT_T);
    int ok = (r == WC_FRAME) && wc_frame_is(&f, kind, sender, topic, payload, plen) &&
             (realtime < 0 || f.realtime == (uint8_t)realtime);
    if (!ok) {
        fprintf(stderr, "it: expected kind 0x%02x from '%s' topic '%s' payload '%.*s' rt %d\n",
                kind, sender != NULL ? sender : "*", topic != NULL ? topic : "*",
                (int)(plen > 80 ? 80 : plen), (const char *)payload, realtime);
        it_print_frame("got", r, &f);
    }
    wc_frame_free(&f);
    assert_true(ok);
}

/* Shorthands with a string payload. */
static inline void it_expect_msg(int fd, const char *sender, const char *payload)
{
    it_expect_frame(fd, BUSRT_KIND_MESSAGE, sender, NULL, payload, strlen(payload), -1);
}

static inline void it_expect_pub(int fd, const char *sender, const char *topic,
                                 const char *payload)
{
    it_expect_frame(fd, BUSRT_KIND_PUBLISH, sender, topic, payload, strlen(payload), -1);
}

static inline void it_expect_ack(int fd, uint32_t op_id, uint8_t code)
{
    int r = wc_expect_ack(fd, op_id, IT_T);
    if (r != (int)code) {
        fprintf(stderr, "it: expected ACK id %u code 0x%02x, got %d (0x%02x)\n", op_id,
                code, r, r >= 0 ? (unsigned)r : 0u);
    }
    assert_int_equal(r, code);
}

static inline void it_expect_silence(int fd, int ms)
{
    int r = wc_expect_silence(fd, ms);
    if (r != 0) {
        fprintf(stderr, "it: expected silence, got %d\n", r);
    }
    assert_int_equal(r, 0);
}

static inline void it_expect_eof(int fd, int ms)
{
    int r = wc_expect_eof(fd, ms);
    if (r != 0) {
        fprintf(stderr, "it: expected EOF within %d ms, got %d\n", ms, r);
    }
    assert_int_equal(r, 0);
}

/* Sends a QoS 1 message from fd to target and expects ACK 01 on fd and
 * delivery on rfd (from sender). */
static inline void it_roundtrip(int fd, const char *sender, int rfd, const char *target,
                                const char *payload, uint32_t op_id)
{
    assert_int_equal(wc_send_msg(fd, BUSRT_QOS_PROCESSED, op_id, target, payload,
                                 strlen(payload)),
                     0);
    if (fd == rfd) {
        /* To itself: the delivery is queued before the ACK. */
        it_expect_msg(rfd, sender, payload);
        it_expect_ack(fd, op_id, BUSRT_RC_OK);
    } else {
        it_expect_ack(fd, op_id, BUSRT_RC_OK);
        it_expect_msg(rfd, sender, payload);
    }
}

/* Reads delivered frames until one whose payload equals sentinel. Stores a
 * copy of each earlier frame's topic (publications) or payload (other kinds)
 * in out[i] (up to max, each up to 127 bytes). Returns the count, or -1 on a
 * read error / timeout. ACKs are ignored. */
static inline int it_collect(int fd, const char *sentinel, char out[][128], int max)
{
    struct wc_frame f;
    memset(&f, 0, sizeof f);
    int n = 0;
    for (;;) {
        int r = wc_read_next(fd, &f, IT_T);
        if (r == WC_ACK) {
            continue;
        }
        if (r != WC_FRAME) {
            fprintf(stderr, "it: collecting until '%s': read result %d after %d frames\n",
                    sentinel, r, n);
            wc_frame_free(&f);
            return -1;
        }
        if (f.payload_len == strlen(sentinel) &&
            memcmp(f.payload, sentinel, f.payload_len) == 0) {
            wc_frame_free(&f);
            return n;
        }
        if (n < max) {
            const char *s = f.kind == BUSRT_KIND_PUBLISH ? f.topic : (const char *)f.payload;
            snprintf(out[n], 128, "%s", s);
        }
        n++;
    }
}

/* Asserts got[0..n) equals want[0..wn) in order, printing both on mismatch. */
static inline void it_assert_list(const char *what, char got[][128], int n,
                                  const char *const *want, int wn)
{
    int ok = (n == wn);
    for (int i = 0; ok && i < n; i++) {
        ok = strcmp(got[i], want[i]) == 0;
    }
    if (!ok) {
        fprintf(stderr, "it: %s: got %d items:", what, n);
        for (int i = 0; i < n && i < 64; i++) {
            fprintf(stderr, " [%s]", got[i]);
        }
        fprintf(stderr, "\nit: %s: wanted %d items:", what, wn);
        for (int i = 0; i < wn; i++) {
            fprintf(stderr, " [%s]", want[i]);
        }
        fprintf(stderr, "\n");
    }
    assert_true(ok);
}

/* 1 when the broker's standard error (its log) holds needle. */
static inline int it_log_has(const struct wc_broker *b, const char *needle)
{
    static char buf[1 << 16];
    long n = wc_read_file(b->err_log, buf, sizeof buf);
    return n > 0 && strstr(buf, needle) != NULL;
}

/* 1 when a file of any type (socket, FIFO, regular) exists at path. */
static inline int it_exists(const char *path)
{
    return access(path, F_OK) == 0 ? 1 : 0;
}

/* Calls method (no params) on .broker from fd: a QoS 1 message with op_id
 * and call id op_id. Returns the ACK code; when it is 01, *f holds the RPC
 * reply from .broker (ACK and reply read in either order; f zeroed before
 * the first use, freed by the caller). */
static inline int it_broker_call(int fd, uint32_t op_id, const char *method, struct wc_frame *f)
{
    uint8_t buf[256];
    int h = busrt_rpc_request_encode(op_id, (const uint8_t *)method, strlen(method), buf,
                                     sizeof buf);
    assert_true(h > 0);
    assert_int_equal(wc_send_msg(fd, 1, op_id, ".broker", buf, (size_t)h), 0);
    int code = -1;
    int got_reply = 0;
    while (code < 0 || (code == BUSRT_RC_OK && !got_reply)) {
        int r = wc_read_next(fd, f, IT_T);
        if (r == WC_ACK && code < 0 && f->ack_id == op_id) {
            code = f->ack_code;
        } else if (r == WC_FRAME && !got_reply && f->kind == BUSRT_KIND_MESSAGE &&
                   strcmp(f->sender, ".broker") == 0) {
            got_reply = 1;
            if (code < 0) {
                /* keep the reply: read the ACK into a frame of its own */
                struct wc_frame a;
                memset(&a, 0, sizeof a);
                r = wc_read_next(fd, &a, IT_T);
                if (r != WC_ACK || a.ack_id != op_id) {
                    it_print_frame("waiting for the ACK of a .broker call", r, &a);
                    wc_frame_free(&a);
                    fail();
                }
                code = a.ack_code;
                wc_frame_free(&a);
            }
        } else {
            it_print_frame("waiting for a .broker call's ACK and reply", r, f);
            fail();
        }
    }
    return code;
}

#endif
