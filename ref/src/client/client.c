/* libbusrt: connection, handshake, frame I/O, ACKs, keep-alive.
 * See busrt/client.h for the contract of every public function. */
#define _DEFAULT_SOURCE
#include "client_int.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "busrt/frame.h"
#include "busrt/rpcproto.h"

/* Kind byte written over a delivered frame that was consumed in place (an
 * RPC reply taken by busrt_rpc_call). Never a wire kind. */
#define BC_TOMBSTONE 0xFFu
/* Most iovec pieces handed to one sendmsg() (IOV_MAX on Linux). */
#define BC_IOV_CHUNK 1024
#define BC_MIN_READ 4096u

static const uint8_t bc_nul = 0;
static const uint8_t bc_ping_bytes[BUSRT_CLIENT_HEADER_LEN] = {0};

/* ---- Errors ------------------------------------------------------------------ */

static const char *rc_text(uint8_t rc)
{
    switch (rc) {
    case BUSRT_RC_NOT_REGISTERED:
        return "not registered (0x71: no such client, or the primary of a secondary "
               "name is not registered)";
    case BUSRT_RC_DATA:
        return "data error (0x72: invalid name or data)";
    case BUSRT_RC_IO:
        return "I/O error (0x73)";
    case BUSRT_RC_OTHER:
        return "other error (0x74: a broker limit was reached)";
    case BUSRT_RC_NOT_SUPPORTED:
        return "not supported (0x75: protocol version refused)";
    case BUSRT_RC_BUSY:
        return "busy (0x76: name already registered)";
    case BUSRT_RC_NOT_DELIVERED:
        return "not delivered (0x77: the target's queue is full)";
    case BUSRT_RC_TIMEOUT:
        return "timeout (0x78)";
    case BUSRT_RC_ACCESS:
        return "access denied (0x79)";
    default:
        return "unknown result code from the broker";
    }
}

const char *busrt_client_strerror(int err)
{
    if (BUSRT_E_IS_RC(err)) {
        return rc_text(BUSRT_E_RC_CODE(err));
    }
    switch (err) {
    case 0: return "success";
    case BUSRT_E_SYS: return "system error (see errno)";
    case BUSRT_E_TIMEOUT: return "timed out";
    case BUSRT_E_CLOSED: return "connection closed";
    case BUSRT_E_PROTO: return "protocol error: the broker sent invalid bytes";
    case BUSRT_E_ADDR: return "bad address (expected a UNIX socket path or HOST:PORT)";
    case BUSRT_E_INVAL: return "invalid argument";
    case BUSRT_E_NOMEM: return "out of memory";
    case BUSRT_E_TOO_BIG: return "frame too large";
    case BUSRT_E_UNKNOWN_OP: return "no ACK is awaited for this op id";
    case BUSRT_E_RPC: return "RPC call failed";
    case BUSRT_E_HANDSHAKE:
        return "the broker closed the connection during the handshake (name refused "
               "without a result code)";
    case BUSRT_E_IDLE: return "connection lost: nothing received within the idle timeout";
    default: return busrt_strerror(err);
    }
}

void bc_fail(busrt_client *c, int err)
{
    if (c->err == 0) {
        c->err = err;
        /* Nothing more will be read or written; wake up a peer. */
        (void)shutdown(c->fd, SHUT_RDWR);
    }
}

/* ---- Small helpers -------------------------------------------------------------- */

static uint32_t rd_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* ---- ACK table ----------------------------------------------------------------------- */

static struct bc_ack_slot *ack_at(busrt_client *c, size_t i)
{
    return &c->acks[(c->ack_head + i) % c->ack_cap];
}

/* Drops settled slots from the front: ACKed ops that nobody awaits. An op
 * forgotten before its ACK stays (pending) until the ACK comes, so that
 * ACKs keep matching their ops in order. */
static void ack_gc(busrt_client *c)
{
    while (c->ack_count > 0) {
        const struct bc_ack_slot *s = ack_at(c, 0);
        if (!s->done || s->want) {
            break;
        }
        c->ack_head = (c->ack_head + 1u) % c->ack_cap;
        c->ack_count--;
    }
}

static int ack_track(busrt_client *c, uint32_t op_id)
{
    ack_gc(c);
    if (c->ack_count == c->ack_cap && c->ack_count > 0 && ack_at(c, 0)->done) {
        /* Full: evict the oldest result nobody collected. */
        c->ack_head = (c->ack_head + 1u) % c->ack_cap;
        c->ack_count--;
    }
    if (c->ack_count == c->ack_cap) {
        size_t ncap = c->ack_cap == 0 ? 64u : c->ack_cap * 2u;
        struct bc_ack_slot *n = malloc(ncap * sizeof *n);
        if (n == NULL) {
            return BUSRT_E_NOMEM;
        }
        for (size_t i = 0; i < c->ack_count; i++) {
            n[i] = *ack_at(c, i);
        }
        free(c->acks);
        c->acks = n;
        c->ack_cap = ncap;
        c->ack_head = 0;
    }
    struct bc_ack_slot *s = &c->acks[(c->ack_head + c->ack_count) % c->ack_cap];
    s->op_id = op_id;
    s->code = 0;
    s->done = 0;
    s->want = 1;
    c->ack_count++;
    return 0;
}

struct bc_ack_slot *bc_ack_find(busrt_client *c, uint32_t op_id)
{
    for (size_t i = 0; i < c->ack_count; i++) {
        struct bc_ack_slot *s = ack_at(c, i);
        if (s->op_id == op_id && s->want) {
            return s;
        }
    }
    return NULL;
}

void bc_ack_forget(busrt_client *c, uint32_t op_id)
{
    struct bc_ack_slot *s = bc_ack_find(c, op_id);
    if (s != NULL) {
        s->want = 0;
        ack_gc(c);
    }
}

/* The first ACK for an op id is its result (REQ-ACK-7); ACKs for ops
 * nobody awaits are ignored. */
static void ack_record(busrt_client *c, uint32_t op_id, uint8_t code)
{
    for (size_t i = 0; i < c->ack_count; i++) {
        struct bc_ack_slot *s = ack_at(c, i);
        if (s->op_id == op_id && !s->done) {
            s->done = 1;
            s->code = code;
            break;
        }
    }
    ack_gc(c);
}

/* ---- Read buffer ------------------------------------------------------------------------ */

/* Makes room for want more bytes after wpos. Never moves a pinned frame:
 * when the frame handed out by busrt_recv lives in rbuf, the unconsumed
 * bytes move to a new buffer and the old one is held until the next
 * busrt_recv. */
static int make_room(busrt_client *c, size_t want)
{
    if (c->rcap - c->wpos >= want) {
        return 0;
    }
    size_t live = c->wpos - c->rpos;
    /* Unread deliveries pile up here while the caller waits for an ACK or a
     * reply; the peer must not be able to grow this without bound. */
    if (live + want > (size_t)c->max_body + BUSRT_CLIENT_MAX_UNREAD) {
        return BUSRT_E_TOO_BIG;
    }
    if (c->pinned && c->held == NULL) {
        size_t ncap = c->rcap;
        while (ncap < live + want) {
            ncap *= 2u;
        }
        uint8_t *n = malloc(ncap);
        if (n == NULL) {
            return BUSRT_E_NOMEM;
        }
        memcpy(n, c->rbuf + c->rpos, live);
        c->held = c->rbuf;
        c->rbuf = n;
        c->rcap = ncap;
    } else {
        if (c->rpos > 0 && live > 0) {
            memmove(c->rbuf, c->rbuf + c->rpos, live);
        }
        if (c->rcap < live + want) {
            size_t ncap = c->rcap;
            while (ncap < live + want) {
                ncap *= 2u;
            }
            uint8_t *n = realloc(c->rbuf, ncap);
            if (n == NULL) {
                return BUSRT_E_NOMEM;
            }
            c->rbuf = n;
            c->rcap = ncap;
        }
    }
    c->spos -= c->rpos;
    c->wpos -= c->rpos;
    c->rpos = 0;
    return 0;
}

/* The rpc.c side of scanning: takes the reply of the outstanding call. */
static void take_reply(busrt_client *c, uint8_t *frame, size_t total)
{
    struct busrt_frame_body fb;
    uint8_t *body = frame + BUSRT_FRAME_HEADER_LEN;
    size_t blen = total - BUSRT_FRAME_HEADER_LEN;
    if (busrt_frame_body_split(BUSRT_KIND_MESSAGE, body, blen, &fb) != 0) {
        return;
    }
    const uint8_t *pl = body + fb.payload.off;
    struct busrt_rpc_header h;
    if (fb.payload.len == 0 || (pl[0] != BUSRT_RPC_REPLY && pl[0] != BUSRT_RPC_ERROR) ||
        busrt_rpc_decode(pl, fb.payload.len, &h) != 0 || h.call_id != c->call_id) {
        return;
    }
    if (h.data.len > c->reply_cap) {
        uint8_t *n = realloc(c->reply, h.data.len);
        if (n == NULL) {
            c->call_err = BUSRT_E_NOMEM;
            h.data.len = 0;
        } else {
            c->reply = n;
            c->reply_cap = h.data.len;
        }
    }
    if (h.data.len > 0) {
        memcpy(c->reply, pl + h.data.off, h.data.len);
    }
    c->reply_len = h.data.len;
    c->call_code = h.kind == BUSRT_RPC_REPLY ? 0 : (int)h.code;
    c->call_done = 1;
    frame[0] = BC_TOMBSTONE;
}

/* Adapts the keep-alive to the broker: it sends a NOP every T/2 and drops
 * a client silent for 1.25 x T. A NOP is answered with a ping when the
 * client sent nothing since the previous NOP (or since it registered), or
 * nothing within the last half NOP interval. So with any T the client
 * sends at least once per NOP interval (plus the caller's own delay), also
 * right after registering, and with the default T = 5 s and 1 s pings it
 * never pings more. NOPs read together in one burst (gap under 10 ms) say
 * nothing about the interval. */
static void nop_seen(busrt_client *c)
{
    int64_t now = bc_now_ms();
    int64_t gap = now - c->prev_nop_ms;
    if (c->last_send_ms <= c->prev_nop_ms) {
        c->ping_now = 1;
    } else if (c->nop_known && gap >= 10 && now - c->last_send_ms >= gap / 2) {
        c->ping_now = 1;
    }
    if (!c->nop_known || gap >= 10) {
        c->prev_nop_ms = now;
        c->nop_known = 1;
    }
}

/* Walks complete frames from spos: records ACKs, checks delivered
 * headers, takes the awaited RPC reply. Returns the number of bytes still
 * missing for the frame at spos (0 when unknown). */
static size_t scan(busrt_client *c)
{
    for (;;) {
        size_t avail = c->wpos - c->spos;
        uint8_t *p = c->rbuf + c->spos;
        if (avail < BUSRT_FRAME_HEADER_LEN) {
            return BUSRT_FRAME_HEADER_LEN - avail;
        }
        if (p[0] == BUSRT_ACK_MARKER) {
            struct busrt_ack a;
            if (busrt_ack_decode(p, avail, &a) != (int)BUSRT_ACK_LEN) {
                bc_fail(c, BUSRT_E_PROTO);
                return 0;
            }
            ack_record(c, a.op_id, a.code);
            c->spos += BUSRT_ACK_LEN;
            continue;
        }
        struct busrt_frame_header h;
        int r = busrt_frame_header_decode(p, avail, c->max_body, &h);
        if (r == BUSRT_ERR_LIMIT) {
            bc_fail(c, BUSRT_E_TOO_BIG);
            return 0;
        }
        if (r < 0) {
            bc_fail(c, BUSRT_E_PROTO);
            return 0;
        }
        if (h.kind == BUSRT_KIND_NOP) {
            nop_seen(c);
            c->spos += BUSRT_FRAME_HEADER_LEN;
            continue;
        }
        size_t total = BUSRT_FRAME_HEADER_LEN + (size_t)h.body_len;
        if (avail < total) {
            return total - avail;
        }
        if (c->call_active && !c->call_done && h.kind == BUSRT_KIND_MESSAGE) {
            take_reply(c, p, total);
        }
        c->spos += total;
    }
}

/* One read of what the socket has. Returns > 0 bytes read, 0 when nothing
 * is available, or a negative code (the connection is then lost). */
static int fill(busrt_client *c)
{
    if (c->err != 0) {
        return c->err;
    }
    size_t missing = scan(c);
    if (c->err != 0) {
        return c->err;
    }
    size_t want = missing > BC_MIN_READ ? missing : BC_MIN_READ;
    if (want < c->buf_size / 2u) {
        want = c->buf_size / 2u;
    }
    if (c->rcap - c->wpos < want) {
        int r = make_room(c, want);
        if (r != 0) {
            bc_fail(c, r);
            return r;
        }
    }
    for (;;) {
        ssize_t n = read(c->fd, c->rbuf + c->wpos, c->rcap - c->wpos);
        if (n > 0) {
            c->wpos += (size_t)n;
            c->last_recv_ms = bc_now_ms();
            (void)scan(c);
            return (int)(n > INT_MAX ? INT_MAX : n);
        }
        if (n == 0) {
            bc_fail(c, BUSRT_E_CLOSED);
            return c->err;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0;
        }
        bc_fail(c, BUSRT_E_CLOSED);
        return c->err;
    }
}

/* ---- Writing --------------------------------------------------------------------------------- */

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
        struct msghdr m;
        memset(&m, 0, sizeof m);
        m.msg_iov = iov;
        m.msg_iovlen = (size_t)(n > BC_IOV_CHUNK ? BC_IOV_CHUNK : n);
        ssize_t r = sendmsg(c->fd, &m, MSG_NOSIGNAL);
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
            int fr = fill(c);
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
            r = ack_track(c, id);
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

static int send_ping(busrt_client *c)
{
    struct iovec v;
    v.iov_base = (void *)(uintptr_t)bc_ping_bytes;
    v.iov_len = sizeof bc_ping_bytes;
    return write_iov(c, &v, 1);
}

/* Pings when due and checks the idle limit. */
static int keepalive(busrt_client *c, int64_t now)
{
    if (c->err != 0) {
        return c->err;
    }
    if (c->idle_ms > 0 && now - c->last_recv_ms >= c->idle_ms) {
        bc_fail(c, BUSRT_E_IDLE);
        return c->err;
    }
    if (c->ping_now || now - c->last_send_ms >= c->ping_ms) {
        int r = send_ping(c);
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

int bc_pump(busrt_client *c, int64_t deadline)
{
    for (;;) {
        int64_t now = bc_now_ms();
        int r = keepalive(c, now);
        if (r < 0) {
            return r;
        }
        r = fill(c);
        if (r > 0 && c->ping_now) {
            (void)keepalive(c, bc_now_ms()); /* answer a NOP at once */
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
        r = bc_net_wait(c->fd, POLLIN, wake);
        if (r < 0) {
            bc_fail(c, BUSRT_E_SYS);
            return c->err;
        }
    }
}

/* ---- Connection ---------------------------------------------------------------------------------- */

void busrt_client_config_init(struct busrt_client_config *cfg, const char *name)
{
    if (cfg == NULL) {
        return;
    }
    memset(cfg, 0, sizeof *cfg);
    cfg->name = name;
    cfg->connect_timeout_ms = BUSRT_CLIENT_DEFAULT_TIMEOUT_MS;
    cfg->io_timeout_ms = BUSRT_CLIENT_DEFAULT_TIMEOUT_MS;
    cfg->ping_interval_ms = BUSRT_CLIENT_DEFAULT_PING_MS;
    cfg->idle_timeout_ms = 0;
    cfg->max_body = BUSRT_CLIENT_DEFAULT_MAX_BODY;
    cfg->buf_size = BUSRT_CLIENT_DEFAULT_BUF_SIZE;
}

static int hs_write(int fd, const uint8_t *buf, size_t n, int64_t deadline)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = send(fd, buf + done, n - done, MSG_NOSIGNAL);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = bc_net_wait(fd, POLLOUT, deadline);
            if (w == 0) {
                return BUSRT_E_TIMEOUT;
            }
            if (w < 0) {
                return w;
            }
            continue;
        }
        return BUSRT_E_HANDSHAKE;
    }
    return 0;
}

/* Reads exactly n bytes. EOF (or reset) -> BUSRT_E_HANDSHAKE. */
static int hs_read(int fd, uint8_t *buf, size_t n, int64_t deadline)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, buf + done, n - done);
        if (r > 0) {
            done += (size_t)r;
            continue;
        }
        if (r == 0) {
            return BUSRT_E_HANDSHAKE;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int w = bc_net_wait(fd, POLLIN, deadline);
            if (w == 0) {
                return BUSRT_E_TIMEOUT;
            }
            if (w < 0) {
                return w;
            }
            continue;
        }
        return BUSRT_E_HANDSHAKE;
    }
    return 0;
}

/* The client side of spec section 4. Returns 0 or a negative code. */
static int handshake(int fd, const char *name, size_t name_len, int64_t deadline)
{
    uint8_t g[BUSRT_GREETING_LEN];
    int r = hs_read(fd, g, sizeof g, deadline);
    if (r != 0) {
        return r;
    }
    if (busrt_greeting_decode(g, sizeof g) != (int)BUSRT_GREETING_LEN) {
        return BUSRT_E_PROTO; /* REQ-HS-7 */
    }
    if (busrt_greeting_encode(g, sizeof g) != (int)BUSRT_GREETING_LEN) {
        return BUSRT_E_INVAL;
    }
    r = hs_write(fd, g, sizeof g, deadline);
    if (r != 0) {
        return r;
    }
    uint8_t b;
    r = hs_read(fd, &b, 1, deadline);
    if (r != 0) {
        return r;
    }
    if (b != BUSRT_RC_OK) {
        return BUSRT_E_RC(b);
    }
    uint8_t nl[BUSRT_NAME_LEN_FIELD];
    if (busrt_name_len_encode(name_len, nl, sizeof nl) != (int)BUSRT_NAME_LEN_FIELD) {
        return BUSRT_E_INVAL;
    }
    r = hs_write(fd, nl, sizeof nl, deadline);
    if (r == 0 && name_len > 0) {
        r = hs_write(fd, (const uint8_t *)name, name_len, deadline);
    }
    if (r == BUSRT_E_HANDSHAKE) {
        /* A broker may refuse a name without reading it (REQ-LIM-3) and
         * close at once: its result code is still there to read. */
        if (hs_read(fd, &b, 1, deadline) == 0 && b != BUSRT_RC_OK) {
            return BUSRT_E_RC(b);
        }
        return r;
    }
    if (r != 0) {
        return r;
    }
    r = hs_read(fd, &b, 1, deadline);
    if (r != 0) {
        return r;
    }
    return b == BUSRT_RC_OK ? 0 : BUSRT_E_RC(b);
}

int busrt_client_connect(busrt_client **out, const char *addr,
                         const struct busrt_client_config *cfg)
{
    if (out == NULL) {
        return BUSRT_E_INVAL;
    }
    *out = NULL;
    if (addr == NULL || cfg == NULL || cfg->name == NULL) {
        return BUSRT_E_INVAL;
    }
    size_t name_len = strlen(cfg->name);
    if (name_len > BUSRT_NAME_MAX) {
        return BUSRT_E_INVAL;
    }
    int ct = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms
                                         : BUSRT_CLIENT_DEFAULT_TIMEOUT_MS;
    int64_t deadline = bc_now_ms() + ct;
    int fd = bc_net_connect(addr, deadline);
    if (fd < 0) {
        return fd;
    }
    int r = handshake(fd, cfg->name, name_len, deadline);
    if (r != 0) {
        int e = errno;
        (void)close(fd);
        errno = e;
        return r;
    }
    busrt_client *c = calloc(1, sizeof *c);
    size_t bs = cfg->buf_size >= 64u ? cfg->buf_size : BUSRT_CLIENT_DEFAULT_BUF_SIZE;
    if (c != NULL) {
        c->name = malloc(name_len + 1u);
        c->rbuf = malloc(bs);
    }
    if (c == NULL || c->name == NULL || c->rbuf == NULL) {
        if (c != NULL) {
            free(c->name);
            free(c->rbuf);
            free(c);
        }
        (void)close(fd);
        return BUSRT_E_NOMEM;
    }
    memcpy(c->name, cfg->name, name_len + 1u);
    c->fd = fd;
    c->rcap = bs;
    c->buf_size = bs;
    c->io_timeout_ms = cfg->io_timeout_ms > 0 ? cfg->io_timeout_ms
                                              : BUSRT_CLIENT_DEFAULT_TIMEOUT_MS;
    c->ping_ms = cfg->ping_interval_ms > 0 ? cfg->ping_interval_ms
                                           : BUSRT_CLIENT_DEFAULT_PING_MS;
    c->idle_ms = cfg->idle_timeout_ms > 0 ? cfg->idle_timeout_ms : 0;
    c->max_body = cfg->max_body > 0 ? cfg->max_body : BUSRT_CLIENT_DEFAULT_MAX_BODY;
    c->last_send_ms = bc_now_ms();
    c->last_recv_ms = c->last_send_ms;
    c->prev_nop_ms = c->last_send_ms; /* "since registering" */
    c->next_op_id = 1;
    c->next_call_id = 1;
    *out = c;
    return 0;
}

void busrt_client_close(busrt_client *c)
{
    if (c == NULL) {
        return;
    }
    (void)close(c->fd);
    free(c->name);
    free(c->rbuf);
    free(c->held);
    free(c->acks);
    free(c->reply);
    free(c);
}

const char *busrt_client_name(const busrt_client *c)
{
    return c != NULL ? c->name : NULL;
}

int busrt_client_connected(const busrt_client *c)
{
    return (c != NULL && c->err == 0) ? 1 : 0;
}

uint64_t busrt_client_discarded(const busrt_client *c)
{
    return c != NULL ? c->discarded : 0u;
}

int busrt_fd(const busrt_client *c)
{
    return c != NULL ? c->fd : -1;
}

/* ---- Public send functions ---------------------------------------------------------------------------- */

static int send_one(busrt_client *c, uint8_t op, const char *t1, const char *t2,
                    const void *payload, size_t len, unsigned qos, uint32_t *op_id)
{
    if (t1 == NULL || (len > 0 && payload == NULL)) {
        return BUSRT_E_INVAL;
    }
    struct iovec v;
    v.iov_base = (void *)(uintptr_t)payload;
    v.iov_len = len;
    return bc_send(c, op, qos, t1, t2, NULL, 0, &v, len > 0 ? 1 : 0, op_id);
}

int busrt_send(busrt_client *c, const char *target, const void *payload, size_t len,
               unsigned qos, uint32_t *op_id)
{
    return send_one(c, BUSRT_OP_MESSAGE, target, NULL, payload, len, qos, op_id);
}

int busrt_sendv(busrt_client *c, const char *target, const struct iovec *iov, int iovcnt,
                unsigned qos, uint32_t *op_id)
{
    if (target == NULL) {
        return BUSRT_E_INVAL;
    }
    return bc_send(c, BUSRT_OP_MESSAGE, qos, target, NULL, NULL, 0, iov, iovcnt, op_id);
}

int busrt_broadcast(busrt_client *c, const char *mask, const void *payload, size_t len,
                    unsigned qos, uint32_t *op_id)
{
    return send_one(c, BUSRT_OP_BROADCAST, mask, NULL, payload, len, qos, op_id);
}

int busrt_broadcastv(busrt_client *c, const char *mask, const struct iovec *iov, int iovcnt,
                     unsigned qos, uint32_t *op_id)
{
    if (mask == NULL) {
        return BUSRT_E_INVAL;
    }
    return bc_send(c, BUSRT_OP_BROADCAST, qos, mask, NULL, NULL, 0, iov, iovcnt, op_id);
}

int busrt_publish(busrt_client *c, const char *topic, const void *payload, size_t len,
                  unsigned qos, uint32_t *op_id)
{
    return send_one(c, BUSRT_OP_PUBLISH, topic, NULL, payload, len, qos, op_id);
}

int busrt_publishv(busrt_client *c, const char *topic, const struct iovec *iov, int iovcnt,
                   unsigned qos, uint32_t *op_id)
{
    if (topic == NULL) {
        return BUSRT_E_INVAL;
    }
    return bc_send(c, BUSRT_OP_PUBLISH, qos, topic, NULL, NULL, 0, iov, iovcnt, op_id);
}

int busrt_publish_for(busrt_client *c, const char *topic, const char *receiver,
                      const void *payload, size_t len, unsigned qos, uint32_t *op_id)
{
    if (receiver == NULL) {
        return BUSRT_E_INVAL;
    }
    return send_one(c, BUSRT_OP_PUBLISH_FOR, topic, receiver, payload, len, qos, op_id);
}

int busrt_publish_forv(busrt_client *c, const char *topic, const char *receiver,
                       const struct iovec *iov, int iovcnt, unsigned qos, uint32_t *op_id)
{
    if (topic == NULL || receiver == NULL) {
        return BUSRT_E_INVAL;
    }
    return bc_send(c, BUSRT_OP_PUBLISH_FOR, qos, topic, receiver, NULL, 0, iov, iovcnt,
                   op_id);
}

/* Topics joined by NUL, no trailing NUL, each piece its own iovec. */
static int topics_op(busrt_client *c, uint8_t op, const char *const *topics, size_t n,
                     unsigned qos, uint32_t *op_id)
{
    if (topics == NULL || n == 0 || n > (size_t)(INT_MAX / 2 - 8)) {
        return BUSRT_E_INVAL;
    }
    struct iovec local[32];
    size_t cnt = 2u * n - 1u;
    struct iovec *v = cnt <= 32u ? local : malloc(cnt * sizeof *v);
    if (v == NULL) {
        return BUSRT_E_NOMEM;
    }
    size_t k = 0;
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        if (topics[i] == NULL) {
            r = BUSRT_E_INVAL;
            break;
        }
        if (i > 0) {
            v[k].iov_base = (void *)(uintptr_t)&bc_nul;
            v[k++].iov_len = 1;
        }
        v[k].iov_base = (void *)(uintptr_t)topics[i];
        v[k++].iov_len = strlen(topics[i]);
    }
    if (r == 0) {
        r = bc_send(c, op, qos, NULL, NULL, NULL, 0, v, (int)k, op_id);
    }
    if (v != local) {
        free(v);
    }
    return r;
}

int busrt_subscribe(busrt_client *c, const char *topic, unsigned qos, uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_SUBSCRIBE, &topic, 1, qos, op_id);
}

int busrt_subscribe_many(busrt_client *c, const char *const *topics, size_t n, unsigned qos,
                         uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_SUBSCRIBE, topics, n, qos, op_id);
}

int busrt_unsubscribe(busrt_client *c, const char *topic, unsigned qos, uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_UNSUBSCRIBE, &topic, 1, qos, op_id);
}

int busrt_unsubscribe_many(busrt_client *c, const char *const *topics, size_t n, unsigned qos,
                           uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_UNSUBSCRIBE, topics, n, qos, op_id);
}

int busrt_exclude(busrt_client *c, const char *topic, unsigned qos, uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_EXCLUDE, &topic, 1, qos, op_id);
}

int busrt_exclude_many(busrt_client *c, const char *const *topics, size_t n, unsigned qos,
                       uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_EXCLUDE, topics, n, qos, op_id);
}

int busrt_unexclude(busrt_client *c, const char *topic, unsigned qos, uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_UNEXCLUDE, &topic, 1, qos, op_id);
}

int busrt_unexclude_many(busrt_client *c, const char *const *topics, size_t n, unsigned qos,
                         uint32_t *op_id)
{
    return topics_op(c, BUSRT_OP_UNEXCLUDE, topics, n, qos, op_id);
}

int busrt_ping(busrt_client *c)
{
    if (c == NULL) {
        return BUSRT_E_INVAL;
    }
    if (c->err != 0) {
        return c->err;
    }
    return send_ping(c);
}

int busrt_wait_ack(busrt_client *c, uint32_t op_id, int timeout_ms)
{
    if (c == NULL) {
        return BUSRT_E_INVAL;
    }
    int64_t deadline = bc_deadline(timeout_ms);
    for (;;) {
        struct bc_ack_slot *s = bc_ack_find(c, op_id);
        if (s == NULL) {
            return BUSRT_E_UNKNOWN_OP;
        }
        if (s->done) {
            uint8_t code = s->code;
            s->want = 0;
            ack_gc(c);
            return code == BUSRT_RC_OK ? 0 : BUSRT_E_RC(code);
        }
        if (c->err != 0) {
            s->want = 0;
            return c->err;
        }
        int r = bc_pump(c, deadline);
        if (r == BUSRT_E_TIMEOUT) {
            /* The last read may have brought it. */
            s = bc_ack_find(c, op_id);
            if (s == NULL || !s->done) {
                return r;
            }
        }
    }
}

/* ---- Receiving -------------------------------------------------------------------------------------------- */

/* Moves rpos over ACKs, NOPs and tombstones. Returns 1 when a delivered
 * frame starts at rpos. */
static int skip_to_delivery(busrt_client *c)
{
    while (c->rpos < c->spos) {
        const uint8_t *p = c->rbuf + c->rpos;
        if (p[0] == BUSRT_ACK_MARKER || p[0] == BUSRT_KIND_NOP) {
            c->rpos += BUSRT_FRAME_HEADER_LEN;
        } else if (p[0] == BC_TOMBSTONE) {
            c->rpos += BUSRT_FRAME_HEADER_LEN + (size_t)rd_le32(p + 1);
        } else {
            return 1;
        }
    }
    return 0;
}

/* Takes the delivered frame at rpos (if any) into *f. Returns 1 when a
 * frame was taken, 0 when none is ready. */
static int take_frame(busrt_client *c, struct busrt_frame *f)
{
    while (skip_to_delivery(c)) {
        uint8_t *p = c->rbuf + c->rpos;
        struct busrt_frame_header h;
        if (busrt_frame_header_decode(p, c->spos - c->rpos, c->max_body, &h) !=
            (int)BUSRT_FRAME_HEADER_LEN) {
            bc_fail(c, BUSRT_E_PROTO); /* cannot happen: scanned before */
            return 0;
        }
        const uint8_t *body = p + BUSRT_FRAME_HEADER_LEN;
        c->rpos += BUSRT_FRAME_HEADER_LEN + (size_t)h.body_len;
        struct busrt_frame_body fb;
        if (busrt_frame_body_split(h.kind, body, h.body_len, &fb) != 0) {
            c->discarded++; /* REQ-DLV-7 */
            continue;
        }
        f->kind = h.kind;
        f->realtime = h.realtime != 0 ? 1u : 0u;
        f->sender = (const char *)body + fb.sender.off;
        f->sender_len = fb.sender.len;
        f->primary_sender = f->sender;
        f->primary_sender_len =
            busrt_name_primary_len((const uint8_t *)f->sender, f->sender_len);
        if (h.kind == BUSRT_KIND_PUBLISH) {
            f->topic = (const char *)body + fb.topic.off;
            f->topic_len = fb.topic.len;
        } else {
            f->topic = "";
            f->topic_len = 0;
        }
        f->payload = body + fb.payload.off;
        f->payload_len = fb.payload.len;
        return 1;
    }
    return 0;
}

static void unpin(busrt_client *c)
{
    free(c->held);
    c->held = NULL;
    c->pinned = 0;
    /* Give back a buffer that grew for a large frame once it is empty. */
    if (c->rpos == c->wpos && c->rcap > 4u * c->buf_size && c->rcap > (1u << 20)) {
        uint8_t *n = malloc(c->buf_size);
        if (n != NULL) {
            free(c->rbuf);
            c->rbuf = n;
            c->rcap = c->buf_size;
            c->rpos = c->spos = c->wpos = 0;
        }
    }
}

int busrt_recv(busrt_client *c, struct busrt_frame *f, int timeout_ms)
{
    if (c == NULL || f == NULL) {
        return BUSRT_E_INVAL;
    }
    unpin(c);
    int64_t deadline = timeout_ms < 0 ? -1 : bc_now_ms() + timeout_ms;
    for (;;) {
        if (take_frame(c, f)) {
            c->pinned = 1;
            return 0;
        }
        if (c->err != 0) {
            return c->err;
        }
        int r = bc_pump(c, deadline);
        if (r == BUSRT_E_TIMEOUT) {
            if (take_frame(c, f)) {
                c->pinned = 1;
                return 0;
            }
            return r;
        }
    }
}

int busrt_poll(busrt_client *c)
{
    if (c == NULL) {
        return BUSRT_E_INVAL;
    }
    if (c->err == 0) {
        (void)keepalive(c, bc_now_ms());
        for (int i = 0; i < 64 && c->err == 0; i++) {
            if (fill(c) <= 0) {
                break;
            }
        }
        if (c->ping_now) {
            (void)keepalive(c, bc_now_ms()); /* answer a NOP at once */
        }
    }
    if (skip_to_delivery(c)) {
        return 1;
    }
    return c->err;
}
