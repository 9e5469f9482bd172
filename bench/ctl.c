/* Control messages between the bench process and its children over a
 * socketpair: an 8-byte header (u32 type, u32 length) and a body. The same
 * socketpair carries the floor ping-pong (CTL_FLOOR). Names shared by the
 * processes are built here too. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define CTL_HDR 8u

unsigned long g_tag;

void ctl_init(struct ctl *k, int fd)
{
    memset(k, 0, sizeof *k);
    k->fd = fd;
    k->rcap = 1u << 18;
    k->rb = xmalloc(k->rcap);
}

void ctl_free(struct ctl *k)
{
    if (k->fd >= 0) {
        (void)close(k->fd);
    }
    free(k->rb);
    k->rb = NULL;
    k->fd = -1;
}

static int write_all(int fd, const struct iovec *iov0, int n, int64_t deadline)
{
    struct iovec iov[4];
    memcpy(iov, iov0, (size_t)n * sizeof *iov);
    int i = 0;
    while (i < n) {
        ssize_t w = writev(fd, iov + i, n - i);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                return -1;
            }
            if (now_ns() >= deadline) {
                return -1;
            }
            struct pollfd pf = {fd, POLLOUT, 0};
            (void)poll(&pf, 1, ms_left(deadline, 100));
            continue;
        }
        size_t done = (size_t)w;
        while (i < n && done >= iov[i].iov_len) {
            done -= iov[i].iov_len;
            i++;
        }
        if (i < n) {
            iov[i].iov_base = (uint8_t *)iov[i].iov_base + done;
            iov[i].iov_len -= done;
        }
    }
    return 0;
}

int ctl_send(struct ctl *k, uint32_t type, const void *body, size_t len)
{
    uint8_t h[CTL_HDR];
    busrt_put_le32(h, type);
    busrt_put_le32(h + 4, (uint32_t)len);
    struct iovec iov[2] = {{h, sizeof h}, {(void *)(uintptr_t)body, len}};
    return write_all(k->fd, iov, len > 0 ? 2 : 1, now_ns() + 10000000000LL);
}

int ctl_send_args(struct ctl *k, uint32_t type, const struct ctl_args *a)
{
    return ctl_send(k, type, a, sizeof *a);
}

int ctl_next(struct ctl *k, uint32_t *type, const uint8_t **body, size_t *len)
{
    size_t avail = k->re - k->rs;
    if (avail < CTL_HDR) {
        return 0;
    }
    const uint8_t *p = k->rb + k->rs;
    size_t l = busrt_get_le32(p + 4);
    if (avail - CTL_HDR < l) {
        return 0;
    }
    *type = busrt_get_le32(p);
    *body = p + CTL_HDR;
    *len = l;
    k->rs += CTL_HDR + l;
    return 1;
}

ssize_t ctl_fill(struct ctl *k)
{
    if (k->rs == k->re) {
        k->rs = k->re = 0;
    }
    size_t need = CTL_HDR;
    if (k->re - k->rs >= CTL_HDR) {
        need = CTL_HDR + busrt_get_le32(k->rb + k->rs + 4);
    }
    return buf_read(k->fd, &k->rb, &k->rcap, &k->rs, &k->re, need);
}

int ctl_wait(struct ctl *k, uint32_t want1, uint32_t want2, struct ctl_args *out,
             int64_t timeout_ns)
{
    int64_t deadline = now_ns() + timeout_ns;
    for (;;) {
        uint32_t type;
        const uint8_t *body;
        size_t len;
        while (ctl_next(k, &type, &body, &len) == 1) {
            if (type == CTL_CREDIT) {
                continue;
            }
            if (want1 == 0 || type == want1 || type == want2 || type == CTL_ERR) {
                if (out != NULL) {
                    memset(out, 0, sizeof *out);
                    if (len == sizeof *out) {
                        memcpy(out, body, sizeof *out);
                    }
                }
                return (int)type;
            }
        }
        if (now_ns() >= deadline) {
            return -1;
        }
        struct pollfd pf = {k->fd, POLLIN, 0};
        (void)poll(&pf, 1, ms_left(deadline, 100));
        if (ctl_fill(k) < 0) {
            return -1;
        }
        ka_tick(now_ns());
    }
}

/* ---- names --------------------------------------------------------------------- */

void name_main_a(char *out, int tidx)
{
    (void)snprintf(out, NAME_CAP, "bench.%lu.t%d.a", g_tag, tidx);
}

void name_main_b(char *out, int tidx)
{
    (void)snprintf(out, NAME_CAP, "bench.%lu.t%d.b.0", g_tag, tidx);
}

void name_sender(char *out, int tidx, int k)
{
    (void)snprintf(out, NAME_CAP, "bench.%lu.t%d.s%d", g_tag, tidx, k);
}

void name_sub(char *out, int tidx, int k)
{
    (void)snprintf(out, NAME_CAP, "bench.%lu.t%d.f.%d", g_tag, tidx, k);
}

void name_load(char *out, int tidx, int rx)
{
    (void)snprintf(out, NAME_CAP, "bench.%lu.t%d.l.%s", g_tag, tidx, rx ? "rx" : "tx");
}

void name_other(char *out, int k)
{
    (void)snprintf(out, NAME_CAP, "bench.%lu.o.%d", g_tag, k);
}

void name_holder(char *out, int k)
{
    (void)snprintf(out, NAME_CAP, "bench.%lu.h.%d", g_tag, k);
}

void topic_scale(char *out, int tidx)
{
    (void)snprintf(out, NAME_CAP, "bench/%lu/t%d/scale", g_tag, tidx);
}

void topic_fanout(char *out, int tidx)
{
    (void)snprintf(out, NAME_CAP, "bench/%lu/t%d/fan", g_tag, tidx);
}

/* Matches the peer's main connection (bench.P.tI.b.0) and nothing else
 * while no fan-out subscriber is connected. */
void mask_scale(char *out, int tidx)
{
    (void)snprintf(out, NAME_CAP, "bench.%lu.t%d.b.*", g_tag, tidx);
}

/* Four shapes, none matching the scale topic bench/P/tI/scale: literal
 * siblings, a '+' level, '#' subtrees, and longer topics below the
 * published one. */
void pattern_other(char *out, size_t cap, size_t k)
{
    switch (k % 4u) {
    case 0:
        (void)snprintf(out, cap, "bench/%lu/o%zu/scale", g_tag, k);
        break;
    case 1:
        (void)snprintf(out, cap, "bench/%lu/+/x%zu", g_tag, k);
        break;
    case 2:
        (void)snprintf(out, cap, "o%zu/%lu/#", k, g_tag);
        break;
    default:
        (void)snprintf(out, cap, "bench/%lu/t0/scale/%zu", g_tag, k);
        break;
    }
}
