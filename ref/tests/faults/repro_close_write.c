/* Reproducer for a busrtd defect found by fault injection: the last write
 * before the broker closes a connection (client_destroy() in
 * ref/src/broker/conn.c) is a single writev() whose result is ignored. When
 * that write is interrupted (EINTR), would block (EAGAIN) or is short, the
 * handshake refusal code is lost (REQ-HS-3, REQ-HS-5, REQ-SEC-2) or a frame
 * queued before the close reaches the client cut in the middle.
 *
 *   repro_close_write SHIM      (SHIM: path of faultshim.so)
 *
 * Each case starts its own broker (BUSRTD, default build/obj/busrtd) with the
 * shim injecting one kind of fault into write calls only, at 50 %, and
 * compares with a broker without faults:
 *   refusal/EINTR   40 registrations of the name ".x": how many got 72?
 *   refusal/EAGAIN  the same with EAGAIN
 *   frame/short     40 clients send a QoS 1 publish and an unknown-op frame
 *                   in one write: the ACK may come or not before EOF, but
 *                   never a part of it
 * and, without faults (informative: REQ-QUEUE-2 allows dropping queued
 * frames), how many of 100 ACKs queued before a closing frame leave.
 * Exit status 1 while the defect is present (some case differs from the
 * fault-free broker), 0 when every case matches. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "busrt/codes.h"
#include "busrt/frame.h"
#include "wire.h"

#define ROUNDS 40

static const char *g_shim;

static int start(struct wc_broker *b, const char *faults)
{
    char wrap[1024];
    if (faults != NULL) {
        snprintf(wrap, sizeof wrap,
                 "env LD_PRELOAD=%s BUSRT_FAULT_SEED=1 BUSRT_FAULT_OPS=write %s", g_shim,
                 faults);
        setenv("BUSRTD_WRAPPER", wrap, 1);
    } else {
        unsetenv("BUSRTD_WRAPPER");
    }
    return wc_broker_start(b, NULL);
}

/* Registers ".x" ROUNDS times; returns how many got the code 72. */
static int refusals(const char *faults)
{
    struct wc_broker b;
    if (start(&b, faults) != 0) {
        wc_broker_cleanup(&b);
        return -1;
    }
    int got = 0;
    for (int i = 0; i < ROUNDS; i++) {
        int fd = wc_connect(b.sock, 3000);
        if (fd < 0) {
            continue;
        }
        int r = wc_handshake(fd, ".x", 2, 3000);
        got += r == (int)BUSRT_RC_DATA;
        wc_close(fd);
    }
    wc_broker_stop(&b);
    wc_broker_cleanup(&b);
    return got;
}

/* ROUNDS clients each send a QoS 1 publish and a frame with operation 7 in
 * one write; counts the replies: whole ACK then EOF, EOF alone, or a cut
 * frame then EOF. */
static void cut_frames(const char *faults, int *whole, int *none, int *cut)
{
    *whole = *none = *cut = 0;
    struct wc_broker b;
    if (start(&b, faults) != 0) {
        wc_broker_cleanup(&b);
        *cut = -1;
        return;
    }
    for (int i = 0; i < ROUNDS; i++) {
        char name[32];
        snprintf(name, sizeof name, "repro.%d", i);
        int fd = wc_register(b.sock, name);
        if (fd < 0) {
            continue;
        }
        uint8_t buf[64];
        struct busrt_client_header h = {1u, BUSRT_OP_PUBLISH, 1u, 3u};
        (void)busrt_client_header_encode(&h, buf, 9);
        memcpy(buf + 9, "t\0p", 3);
        struct busrt_client_header bad = {2u, BUSRT_OP_PUBLISH, 1u, 3u};
        (void)busrt_client_header_encode(&bad, buf + 12, 9);
        buf[16] = 0x47; /* operation 7, QoS 1 */
        memcpy(buf + 21, "a\0b", 3);
        (void)wc_send_all(fd, buf, 24, 3000);
        size_t n = 0;
        uint8_t in[64];
        int r;
        while ((r = wc_read_exact(fd, in + n, 1, 3000)) == 0 && n < sizeof in - 1u) {
            n++;
        }
        /* Skip keep-alive NOPs: whole 6-byte units of zeros. */
        size_t off = 0;
        while (n - off >= 6u && memcmp(in + off, "\0\0\0\0\0\0", 6) == 0) {
            off += 6u;
        }
        n -= off;
        if (n == 0) {
            (*none)++;
        } else if (n == 6u && in[off] == BUSRT_ACK_MARKER) {
            (*whole)++;
        } else {
            (*cut)++;
        }
        wc_close(fd);
    }
    wc_broker_stop(&b);
    wc_broker_cleanup(&b);
}

/* Without faults: 100 QoS 1 publishes, then a closing frame, in one write. */
static int acks_before_close(void)
{
    struct wc_broker b;
    if (start(&b, NULL) != 0) {
        wc_broker_cleanup(&b);
        return -1;
    }
    int fd = wc_register(b.sock, "repro.many");
    int acks = -1;
    if (fd >= 0) {
        static uint8_t buf[100 * 12 + 12];
        size_t o = 0;
        for (uint32_t i = 0; i < 100u; i++) {
            struct busrt_client_header h = {i + 1u, BUSRT_OP_PUBLISH, 1u, 3u};
            (void)busrt_client_header_encode(&h, buf + o, 9);
            memcpy(buf + o + 9, "t\0p", 3);
            o += 12;
        }
        struct busrt_client_header bad = {999u, BUSRT_OP_PUBLISH, 1u, 3u};
        (void)busrt_client_header_encode(&bad, buf + o, 9);
        buf[o + 4] = 0x47;
        memcpy(buf + o + 9, "a\0b", 3);
        o += 12;
        (void)wc_send_all(fd, buf, o, 3000);
        acks = 0;
        struct wc_frame f;
        memset(&f, 0, sizeof f);
        while (wc_read_next(fd, &f, 3000) == WC_ACK) {
            acks++;
        }
        wc_frame_free(&f);
        wc_close(fd);
    }
    wc_broker_stop(&b);
    wc_broker_cleanup(&b);
    return acks;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FAULTSHIM.so\n", argv[0]);
        return 2;
    }
    g_shim = argv[1];
    wc_init();
    static const char eintr[] = "BUSRT_FAULT_SHORT=0 BUSRT_FAULT_EAGAIN=0 BUSRT_FAULT_EINTR=500";
    static const char eagain[] = "BUSRT_FAULT_SHORT=0 BUSRT_FAULT_EINTR=0 BUSRT_FAULT_EAGAIN=500";
    static const char shortw[] = "BUSRT_FAULT_EINTR=0 BUSRT_FAULT_EAGAIN=0 BUSRT_FAULT_SHORT=500";
    int base = refusals(NULL);
    int r_eintr = refusals(eintr);
    int r_eagain = refusals(eagain);
    int w0, n0, c0, w1, n1, c1;
    cut_frames(NULL, &w0, &n0, &c0);
    cut_frames(shortw, &w1, &n1, &c1);
    int many = acks_before_close();
    printf("refusal code 72 received for the name \".x\", of %d: no faults %d; EINTR on "
           "writes %d; EAGAIN on writes %d\n",
           ROUNDS, base, r_eintr, r_eagain);
    printf("publish QoS 1 + unknown-op frame, of %d: no faults: ACK %d, nothing %d, cut frame "
           "%d; short writes: ACK %d, nothing %d, cut frame %d\n",
           ROUNDS, w0, n0, c0, w1, n1, c1);
    printf("no faults: ACKs received of 100 queued before a closing frame: %d (informative)\n",
           many);
    int bad = base != ROUNDS || r_eintr != ROUNDS || r_eagain != ROUNDS || c1 != 0 || c0 != 0;
    printf("%s\n", bad ? "DEFECT PRESENT: the broker's last write before close loses or cuts "
                         "bytes under EINTR/EAGAIN/short writes"
                       : "no defect: replies before close survive write faults");
    return bad ? 1 : 0;
}
