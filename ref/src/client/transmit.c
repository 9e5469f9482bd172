/* libbusrt: writing frames, the keep-alive, and bc_pump (reading and
 * pinging until something arrives). */
#define _DEFAULT_SOURCE
#include "client_int.h"

#include "busrt/transport.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "busrt/frame.h"

/* Most iovec pieces handed to one sendmsg() (IOV_MAX on Linux). */
#define BC_IOV_CHUNK 1024

const uint8_t bc_nul = 0;
static const uint8_t bc_ping_bytes[BUSRT_CLIENT_HEADER_LEN] = {0};

/* Writes every byte of iov[0..n) (modified in place). Returns 0;
 * BUSRT_E_TIMEOUT when nothing could be written in time; else the loss
 * code (a frame written in part breaks the stream). */
static int write_iov(busrt_client *c, struct iovec *iov, int n)
{
    size_t written = 0;
    int64_t deadline = bc_now_ms() + c->io_timeout_ms;
    while (n > 0) {
        if (c->err != 0) {
            return c->err;
        }
        int chunk = n > BC_IOV_CHUNK ? BC_IOV_CHUNK : n;
        ssize_t r;
        if (c->tp != NULL) {
            long t = c->tp->writev(c->tp_ctx, iov, chunk);
            if (t < 0) {
                bc_fail(c, (int)t);
                return c->err;
            }
            r = (ssize_t)t;
        } else {
            struct msghdr m;
            memset(&m, 0, sizeof m);
            m.msg_iov = iov;
            m.msg_iovlen = (size_t)chunk;
            r = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        }
        if (r >= 0) {
            size_t left = (size_t)r;
            written += left;
            while (n > 0 && left >= iov->iov_len) {
                left -= iov->iov_len;
                iov++;
                n--;
            }
            if (n > 0 && left > 0) {
                iov->iov_base = (uint8_t *)iov->iov_base + left;
                iov->iov_len -= left;
            }
            continue;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
            bc_fail(c, BUSRT_E_CLOSED);
            return c->err;
        }
        /* The socket is full: keep reading what the broker sends so that
         * it never blocks on us while we block on it. */
        struct pollfd p;
        p.fd = c->fd;
        p.events = POLLOUT | POLLIN;
        p.revents = 0;
        int64_t left = deadline - bc_now_ms();
        if (left <= 0) {
            if (written == 0) {
                return BUSRT_E_TIMEOUT;
            }
            bc_fail(c, BUSRT_E_CLOSED);
            return c->err;
        }
        int pr = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (pr < 0 && errno != EINTR) {
            bc_fail(c, BUSRT_E_CLOSED);
            return c->err;
        }
        if (pr > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
            int fr = bc_fill(c);
            if (fr < 0) {
                return fr;
            }
        }
    }
    c->last_send_ms = bc_now_ms();
    c->ping_now = 0;
    return 0;
}

int bc_send(busrt_client *c, uint8_t op, unsigned qos, const char *t1, const char *t2,
            const void *pre, size_t prelen, const struct iovec *iov, int iovcnt,
            uint32_t *op_id)
{
    if (c == NULL || qos > 3u || iovcnt < 0 || (iovcnt > 0 && iov == NULL) ||
        iovcnt > INT_MAX - 8 || (prelen > 0 && pre == NULL)) {
        return BUSRT_E_INVAL;
    }
    if (c->err != 0) {
        return c->err;
    }
    struct iovec local[24];
    int total_n = iovcnt + 6;
    struct iovec *v = local;
    if (total_n > (int)(sizeof local / sizeof local[0])) {
        v = malloc((size_t)total_n * sizeof *v);
        if (v == NULL) {
            return BUSRT_E_NOMEM;
        }
    }
    uint8_t hdr[BUSRT_CLIENT_HEADER_LEN];
    int n = 0;
    uint64_t body = 0;
    v[n].iov_base = hdr;
    v[n++].iov_len = sizeof hdr;
    const char *texts[2] = {t1, t2};
    for (int i = 0; i < 2; i++) {
        if (texts[i] != NULL) {
            size_t l = strlen(texts[i]);
            v[n].iov_base = (void *)(uintptr_t)texts[i];
            v[n++].iov_len = l;
            v[n].iov_base = (void *)(uintptr_t)&bc_nul;
            v[n++].iov_len = 1;
            body += (uint64_t)l + 1u;
        }
    }
    if (prelen > 0) {
        v[n].iov_base = (void *)(uintptr_t)pre;
        v[n++].iov_len = prelen;
        body += prelen;
    }
    for (int i = 0; i < iovcnt; i++) {
        if (iov[i].iov_len == 0) {
            continue;
        }
        if (iov[i].iov_base == NULL) {
            if (v != local) {
                free(v);
            }
            return BUSRT_E_INVAL;
        }
        v[n++] = iov[i];
        body += iov[i].iov_len;
    }
    if (body > UINT32_MAX) {
        if (v != local) {
            free(v);
        }
        return BUSRT_E_TOO_BIG;
    }
    uint32_t id = c->next_op_id++;
    struct busrt_client_header h;
    h.op_id = id;
    h.op = op;
    h.qos = (uint8_t)qos;
    h.body_len = (uint32_t)body;
    int r = busrt_client_header_encode(&h, hdr, sizeof hdr);
    if (r != (int)BUSRT_CLIENT_HEADER_LEN) {
        if (v != local) {
            free(v);
        }
        return BUSRT_E_INVAL;
    }
    int tracked = 0;
    if (op_id != NULL) {
        *op_id = id;
        if ((qos & 1u) != 0) {
            /* Before writing: the ACK may be read while a write blocks. */
            r = bc_ack_track(c, id);
            if (r != 0) {
                if (v != local) {
                    free(v);
                }
                return r;
            }
            tracked = 1;
        }
    }
    r = write_iov(c, v, n);
    if (v != local) {
        free(v);
    }
    if (r != 0 && tracked) {
        bc_ack_forget(c, id);
    }
    return r;
}

int bc_ping(busrt_client *c)
{
    struct iovec v;
    v.iov_base = (void *)(uintptr_t)bc_ping_bytes;
    v.iov_len = sizeof bc_ping_bytes;
    return write_iov(c, &v, 1);
}

int bc_keepalive(busrt_client *c, int64_t now)
{
    if (c->err != 0) {
        return c->err;
    }
    if (c->idle_ms > 0 && now - c->last_recv_ms >= c->idle_ms) {
        bc_fail(c, BUSRT_E_IDLE);
        return c->err;
    }
    if (c->ping_now || now - c->last_send_ms >= c->ping_ms) {
        int r = bc_ping(c);
        if (r == BUSRT_E_TIMEOUT) {
            /* The socket is full: the broker has bytes to read anyway. */
            c->ping_now = 0;
            c->last_send_ms = now;
            return 0;
        }
        return r;
    }
    return 0;
}

int busrt_poll_timeout_ms(const busrt_client *c)
{
    if (c == NULL || c->err != 0) {
        return 0;
    }
    int64_t now = bc_now_ms();
    int64_t t = c->ping_now ? 0 : c->last_send_ms + c->ping_ms - now;
    if (c->idle_ms > 0) {
        int64_t i = c->last_recv_ms + c->idle_ms - now;
        if (i < t) {
            t = i;
        }
    }
    if (t < 0) {
        t = 0;
    }
    return t > INT_MAX ? INT_MAX : (int)t;
}

/* Reads again and again for up to spin_ns, yielding the CPU between
 * attempts (the peer that is to answer may be waiting for this CPU).
 * Returns what bc_fill returned last: > 0 bytes, 0 when none came, or a
 * loss. */
static int spin(busrt_client *c)
{
    int64_t end = bc_now_ns() + c->spin_ns;
    int r;
    while ((r = bc_fill(c)) == 0 && bc_now_ns() < end) {
        (void)sched_yield();
    }
    return r;
}

int bc_pump(busrt_client *c, int64_t deadline)
{
    for (;;) {
        int64_t now = bc_now_ms();
        int r = bc_keepalive(c, now);
        if (r < 0) {
            return r;
        }
        r = bc_fill(c);
        if (r > 0 && c->ping_now) {
            (void)bc_keepalive(c, bc_now_ms()); /* answer a NOP at once */
        }
        if (r != 0) {
            return r > 0 ? 0 : r;
        }
        now = bc_now_ms();
        if (deadline >= 0 && now >= deadline) {
            return BUSRT_E_TIMEOUT;
        }
        int64_t wake = now + busrt_poll_timeout_ms(c);
        if (deadline >= 0 && deadline < wake) {
            wake = deadline;
        }
        /* A zero wait happens when a ping is due but could not be written;
         * wait for the socket a little instead of spinning. */
        if (wake <= now) {
            wake = now + 1;
        }
        if (c->spin_ns > 0) { /* spin_us: look again before sleeping */
            r = spin(c);
            if (r != 0) {
                return r > 0 ? 0 : r;
            }
        }
        r = bc_net_wait(c->fd, POLLIN, wake);
        if (r < 0) {
            bc_fail(c, BUSRT_E_SYS);
            return c->err;
        }
    }
}
