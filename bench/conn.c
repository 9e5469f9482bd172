/* A minimal BUS/RT v1 client connection for benchmarking: headers encoded
 * and frames decoded with the core codec (ref/include/busrt), writes
 * batched with writev, a read buffer parsed in place, non-blocking sockets
 * and bounded waits everywhere. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"
#include "busrt/codes.h"
#include "busrt/frame.h"

#define RBUF_DEFAULT 16384u

void conn_init(struct conn *c)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->rcap = RBUF_DEFAULT;
    c->next_op = 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int addr_is_unix(const char *a)
{
    return a[0] == '/' || ends_with(a, ".sock") || ends_with(a, ".socket") ||
           ends_with(a, ".ipc");
}

/* Starts a non-blocking connect. Returns the socket (connected or in
 * progress), or -1 (err set). *again is set when a UNIX listener's backlog
 * is full (retry later). */
static int start_connect(const char *addr, int *inprogress, int *again, char *err,
                         size_t errlen)
{
    *inprogress = 0;
    *again = 0;
    if (addr_is_unix(addr)) {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof sa);
        sa.sun_family = AF_UNIX;
        if (strlen(addr) >= sizeof sa.sun_path) {
            (void)snprintf(err, errlen, "UNIX socket path too long: %s", addr);
            return -1;
        }
        memcpy(sa.sun_path, addr, strlen(addr));
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            (void)snprintf(err, errlen, "socket: %s", strerror(errno));
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            if (errno == EAGAIN) {
                *again = 1;
            } else {
                (void)snprintf(err, errlen, "connect %s: %s", addr, strerror(errno));
            }
            (void)close(fd);
            return -1;
        }
        return fd;
    }
    const char *colon = strrchr(addr, ':');
    char host[256];
    size_t hl = colon != NULL ? (size_t)(colon - addr) : 0u;
    if (colon == NULL || hl == 0 || hl >= sizeof host || colon[1] == '\0') {
        (void)snprintf(err, errlen, "not a UNIX path nor HOST:PORT: %s", addr);
        return -1;
    }
    memcpy(host, addr, hl);
    host[hl] = '\0';
    if (hl >= 2 && host[0] == '[' && host[hl - 1u] == ']') {
        memmove(host, host + 1, hl - 2u);
        host[hl - 2u] = '\0';
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(host, colon + 1, &hints, &res);
    if (gai != 0 || res == NULL) {
        (void)snprintf(err, errlen, "%s: %s", addr, gai_strerror(gai));
        return -1;
    }
    int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                    res->ai_protocol);
    if (fd < 0) {
        (void)snprintf(err, errlen, "socket: %s", strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int rc = connect(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (rc != 0 && errno != EINPROGRESS) {
        (void)snprintf(err, errlen, "connect %s: %s", addr, strerror(errno));
        (void)close(fd);
        return -1;
    }
    *inprogress = rc != 0;
    return fd;
}

/* Handshake state of one connection being opened. */
struct hs {
    int state; /* 0 connect pending, 1 connecting (TCP), 2 reading replies, 3 done, -1 failed */
    int inprogress;
    uint8_t in[5];
    size_t have;
    int code; /* broker result code when refused */
    char err[160];
};

static void hs_send(struct conn *c, struct hs *h)
{
    uint8_t out[3 + 2 + NAME_CAP];
    int n = busrt_greeting_encode(out, sizeof out);
    (void)busrt_name_len_encode(c->name_len, out + n, sizeof out - (size_t)n);
    memcpy(out + n + 2, c->name, c->name_len);
    size_t len = (size_t)n + 2u + c->name_len;
    /* Sent before the broker's greeting arrives: the broker reads the bytes
     * in order, so the handshake costs one round trip. */
    ssize_t w = write(c->fd, out, len);
    if (w != (ssize_t)len) {
        h->state = -1;
        (void)snprintf(h->err, sizeof h->err, "handshake write: %s",
                       w < 0 ? strerror(errno) : "short write");
        return;
    }
    h->state = 2;
}

/* Reads the broker's handshake replies: greeting (3), OK (1), name result (1). */
static void hs_read(struct conn *c, struct hs *h)
{
    for (;;) {
        ssize_t r = read(c->fd, h->in + h->have, sizeof h->in - h->have);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        if (r <= 0) {
            h->state = -1;
            h->code = -1;
            (void)snprintf(h->err, sizeof h->err,
                           "broker closed the connection during the handshake%s%s",
                           r < 0 ? ": " : " (client limit reached?)",
                           r < 0 ? strerror(errno) : "");
            return;
        }
        h->have += (size_t)r;
        if (h->have >= 3 && busrt_greeting_decode(h->in, 3) != 3) {
            h->state = -1;
            (void)snprintf(h->err, sizeof h->err, "not a BUS/RT v1 greeting: %02x %02x %02x",
                           h->in[0], h->in[1], h->in[2]);
            return;
        }
        if (h->have >= 4 && h->in[3] != BUSRT_RC_OK) {
            h->state = -1;
            h->code = h->in[3];
            (void)snprintf(h->err, sizeof h->err, "greeting refused: 0x%02x", h->in[3]);
            return;
        }
        if (h->have == 5) {
            if (h->in[4] != BUSRT_RC_OK) {
                h->state = -1;
                h->code = h->in[4];
                (void)snprintf(h->err, sizeof h->err, "name %s refused: 0x%02x (%s)", c->name,
                               h->in[4], busrt_rc_str(h->in[4]));
                return;
            }
            h->state = 3;
            return;
        }
    }
}

static void hs_start(struct conn *c, struct hs *h, const char *addr)
{
    int again = 0;
    c->fd = start_connect(addr, &h->inprogress, &again, h->err, sizeof h->err);
    if (c->fd < 0) {
        h->state = again ? 0 : -1;
        return;
    }
    if (h->inprogress) {
        h->state = 1;
        return;
    }
    hs_send(c, h);
}

static void hs_step(struct conn *c, struct hs *h, short revents, const char *addr)
{
    if (h->state == 0) {
        hs_start(c, h, addr);
    } else if (h->state == 1 && revents != 0) {
        int e = 0;
        socklen_t el = sizeof e;
        (void)getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el);
        if (e != 0) {
            h->state = -1;
            (void)snprintf(h->err, sizeof h->err, "connect %s: %s", addr, strerror(e));
            return;
        }
        hs_send(c, h);
    } else if (h->state == 2 && revents != 0) {
        hs_read(c, h);
    }
}

static void set_name(struct conn *c, const char *name)
{
    size_t n = strlen(name);
    if (n >= sizeof c->name) {
        n = sizeof c->name - 1u;
    }
    memcpy(c->name, name, n);
    c->name[n] = '\0';
    c->name_len = n;
}

size_t conn_open_many(struct conn *cs, size_t n, const char *addr, char (*names)[NAME_CAP],
                      int64_t timeout_ns, char *err, size_t errlen)
{
    enum { BATCH = 64 };
    struct hs hs[BATCH];
    struct pollfd pf[BATCH];
    size_t ok = 0;
    int refused = 0;
    if (errlen > 0) {
        err[0] = '\0';
    }
    for (size_t base = 0; base < n && !refused; base += BATCH) {
        size_t m = n - base < BATCH ? n - base : BATCH;
        int64_t deadline = now_ns() + timeout_ns;
        for (size_t i = 0; i < m; i++) {
            struct conn *c = &cs[ok + i];
            conn_init(c);
            set_name(c, names[base + i]);
            memset(&hs[i], 0, sizeof hs[i]);
            hs_start(c, &hs[i], addr);
        }
        for (;;) {
            size_t pending = 0;
            nfds_t np = 0;
            for (size_t i = 0; i < m; i++) {
                struct conn *c = &cs[ok + i];
                if (hs[i].state == 0) {
                    hs_start(c, &hs[i], addr);
                }
                if (hs[i].state == 1 || hs[i].state == 2) {
                    pf[np].fd = c->fd;
                    pf[np].events = hs[i].state == 1 ? POLLOUT : POLLIN;
                    pf[np].revents = 0;
                    np++;
                }
                if (hs[i].state >= 0 && hs[i].state < 3) {
                    pending++;
                }
            }
            if (pending == 0) {
                break;
            }
            if (now_ns() >= deadline) {
                for (size_t i = 0; i < m; i++) {
                    if (hs[i].state >= 0 && hs[i].state < 3) {
                        hs[i].state = -1;
                        (void)snprintf(hs[i].err, sizeof hs[i].err, "handshake timed out");
                    }
                }
                break;
            }
            /* Connects waiting for a full backlog are retried every 2 ms. */
            int wait = np < pending ? 2 : ms_left(deadline, 100);
            if (np > 0) {
                (void)poll(pf, np, wait);
            } else {
                (void)poll(NULL, 0, wait);
            }
            ka_tick(now_ns());
            nfds_t k = 0;
            for (size_t i = 0; i < m; i++) {
                if (hs[i].state == 1 || hs[i].state == 2) {
                    short re = pf[k++].revents;
                    hs_step(&cs[ok + i], &hs[i], re, addr);
                }
            }
        }
        /* Keep the registered connections at the front of cs. */
        size_t kept = 0;
        for (size_t i = 0; i < m; i++) {
            struct conn *c = &cs[ok + i];
            if (hs[i].state == 3) {
                c->last_tx = now_ns();
                if (kept != i) {
                    cs[ok + kept] = *c;
                }
                kept++;
            } else {
                if (!refused && errlen > 0) {
                    (void)snprintf(err, errlen, "%s", hs[i].err);
                }
                refused = 1;
                if (c->fd >= 0) {
                    (void)close(c->fd);
                }
            }
        }
        ok += kept;
    }
    return ok;
}

int conn_open(struct conn *c, const char *addr, const char *name, int64_t timeout_ns,
              char *err, size_t errlen)
{
    char nm[1][NAME_CAP];
    (void)snprintf(nm[0], sizeof nm[0], "%s", name);
    struct hs h;
    memset(&h, 0, sizeof h);
    conn_init(c);
    set_name(c, name);
    int64_t deadline = now_ns() + timeout_ns;
    hs_start(c, &h, addr);
    while (h.state >= 0 && h.state < 3) {
        if (now_ns() >= deadline) {
            (void)snprintf(h.err, sizeof h.err, "handshake with %s timed out", addr);
            h.state = -1;
            break;
        }
        struct pollfd pf = {c->fd, h.state == 1 ? POLLOUT : POLLIN, 0};
        if (h.state == 0) {
            (void)poll(NULL, 0, 2);
        } else {
            (void)poll(&pf, 1, ms_left(deadline, 100));
        }
        ka_tick(now_ns());
        hs_step(c, &h, pf.revents, addr);
    }
    if (h.state != 3) {
        (void)snprintf(err, errlen, "%s", h.err);
        if (c->fd >= 0) {
            (void)close(c->fd);
            c->fd = -1;
        }
        return h.code > 0 ? h.code : -1;
    }
    c->last_tx = now_ns();
    return 0;
}

void conn_close(struct conn *c)
{
    ka_del(c);
    if (c->fd >= 0) {
        /* Unread input makes the close a reset the broker reports as a read
         * error: take what has arrived first. */
        uint8_t junk[4096];
        for (int k = 0; k < 64 && read(c->fd, junk, sizeof junk) > 0; k++) {
        }
        (void)close(c->fd);
    }
    free(c->rb);
    free(c->wb);
    c->rb = NULL;
    c->wb = NULL;
    c->fd = -1;
    c->rs = c->re = c->woff = c->wlen = 0;
}

ssize_t conn_fill(struct conn *c)
{
    if (c->rb == NULL) {
        c->rb = xmalloc(c->rcap);
        c->rs = c->re = 0;
    }
    if (c->rs == c->re) {
        c->rs = c->re = 0;
    }
    /* Room for the whole frame being waited for, contiguous. */
    size_t need = c->re - c->rs + 6u;
    if (c->re - c->rs >= 6u && busrt_kind_valid(c->rb[c->rs]) == 1) {
        uint32_t body = busrt_get_le32(c->rb + c->rs + 1);
        if (body <= (1u << 26)) { /* larger frames than benchmarks send: no growth */
            need = 6u + (size_t)body;
        }
    }
    return buf_read(c->fd, &c->rb, &c->rcap, &c->rs, &c->re, need);
}

int conn_next(struct conn *c, struct dframe *f)
{
    for (;;) {
        size_t avail = c->re - c->rs;
        if (avail < BUSRT_FRAME_HEADER_LEN) {
            return 0;
        }
        const uint8_t *p = c->rb + c->rs;
        if (p[0] == BUSRT_ACK_MARKER) {
            struct busrt_ack a;
            (void)busrt_ack_decode(p, avail, &a);
            c->rs += BUSRT_ACK_LEN;
            c->acks++;
            f->kind = BUSRT_ACK_MARKER;
            f->op_id = a.op_id;
            f->code = a.code;
            f->body = NULL;
            f->len = 0;
            return 1;
        }
        struct busrt_frame_header h;
        if (busrt_frame_header_decode(p, avail, UINT32_MAX, &h) < 0) {
            c->proto_err++;
            return -1;
        }
        if (h.kind == BUSRT_KIND_NOP) {
            c->rs += BUSRT_FRAME_HEADER_LEN;
            c->nops++;
            continue;
        }
        if (avail - BUSRT_FRAME_HEADER_LEN < h.body_len) {
            return 0;
        }
        f->kind = h.kind;
        f->realtime = h.realtime;
        f->body = p + BUSRT_FRAME_HEADER_LEN;
        f->len = h.body_len;
        c->rs += BUSRT_FRAME_HEADER_LEN + (size_t)h.body_len;
        return 1;
    }
}

static void wb_append(struct conn *c, const uint8_t *p, size_t n)
{
    if (c->woff == c->wlen) {
        c->woff = c->wlen = 0;
    }
    if (c->wlen + n > c->wcap) {
        if (c->woff > 0) {
            memmove(c->wb, c->wb + c->woff, c->wlen - c->woff);
            c->wlen -= c->woff;
            c->woff = 0;
        }
        if (c->wlen + n > c->wcap) {
            size_t ncap = c->wcap == 0 ? 65536u : c->wcap;
            while (ncap < c->wlen + n) {
                ncap *= 2u;
            }
            c->wb = xrealloc(c->wb, ncap);
            c->wcap = ncap;
        }
    }
    memcpy(c->wb + c->wlen, p, n);
    c->wlen += n;
}

int conn_flush(struct conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t w = write(c->fd, c->wb + c->woff, c->wlen - c->woff);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return 0;
            }
            return -1;
        }
        c->woff += (size_t)w;
    }
    c->woff = c->wlen = 0;
    return 1;
}

int conn_writev(struct conn *c, const struct iovec *iov, int n)
{
    size_t done = 0;
    if (c->woff == c->wlen) {
        for (;;) {
            ssize_t w = writev(c->fd, iov, n);
            if (w >= 0) {
                done = (size_t)w;
                break;
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            return -1;
        }
    }
    for (int i = 0; i < n; i++) {
        size_t l = iov[i].iov_len;
        if (done >= l) {
            done -= l;
            continue;
        }
        wb_append(c, (const uint8_t *)iov[i].iov_base + done, l - done);
        done = 0;
    }
    c->last_tx = now_ns();
    return 0;
}

int conn_send(struct conn *c, uint8_t op, uint8_t qos, uint32_t op_id, const void *target,
              size_t tlen, const struct iovec *pl, int npl)
{
    struct iovec iov[8];
    uint8_t hdr[BUSRT_CLIENT_HEADER_LEN];
    static const uint8_t nul = 0;
    size_t body = tlen + 1u;
    for (int i = 0; i < npl; i++) {
        body += pl[i].iov_len;
    }
    struct busrt_client_header h = {op_id, op, qos, (uint32_t)body};
    if (npl > 5 || busrt_client_header_encode(&h, hdr, sizeof hdr) < 0) {
        return -1;
    }
    iov[0].iov_base = hdr;
    iov[0].iov_len = sizeof hdr;
    iov[1].iov_base = (void *)(uintptr_t)target;
    iov[1].iov_len = tlen;
    iov[2].iov_base = (void *)(uintptr_t)&nul;
    iov[2].iov_len = 1;
    for (int i = 0; i < npl; i++) {
        iov[3 + i] = pl[i];
    }
    return conn_writev(c, iov, 3 + npl);
}

int conn_drain_out(struct conn *c, int64_t deadline)
{
    for (;;) {
        int rc = conn_flush(c);
        if (rc != 0) {
            return rc > 0 ? 0 : -1;
        }
        if (now_ns() >= deadline) {
            return -1;
        }
        struct pollfd pf = {c->fd, POLLOUT, 0};
        (void)poll(&pf, 1, ms_left(deadline, 100));
        ka_tick(now_ns());
    }
}

int conn_list_op(struct conn *c, uint8_t op, const char *const *items, size_t n,
                 int64_t timeout_ns)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        len += strlen(items[i]) + (i > 0 ? 1u : 0u);
    }
    uint8_t *body = xmalloc(len + BUSRT_CLIENT_HEADER_LEN);
    uint8_t *p = body + BUSRT_CLIENT_HEADER_LEN;
    for (size_t i = 0; i < n; i++) {
        if (i > 0) {
            *p++ = 0;
        }
        size_t l = strlen(items[i]);
        memcpy(p, items[i], l);
        p += l;
    }
    uint32_t id = c->next_op++;
    struct busrt_client_header h = {id, op, BUSRT_QOS_PROCESSED, (uint32_t)len};
    (void)busrt_client_header_encode(&h, body, BUSRT_CLIENT_HEADER_LEN);
    struct iovec iov = {body, len + BUSRT_CLIENT_HEADER_LEN};
    int64_t deadline = now_ns() + timeout_ns;
    int rc = conn_writev(c, &iov, 1);
    free(body);
    if (rc != 0 || conn_drain_out(c, deadline) != 0) {
        return -1;
    }
    for (;;) {
        struct dframe f;
        int k;
        while ((k = conn_next(c, &f)) == 1) {
            if (f.kind == BUSRT_ACK_MARKER && f.op_id == id) {
                return f.code;
            }
        }
        if (k < 0 || now_ns() >= deadline) {
            return -1;
        }
        struct pollfd pf = {c->fd, POLLIN, 0};
        (void)poll(&pf, 1, ms_left(deadline, 100));
        if (conn_fill(c) < 0) {
            return -1;
        }
        ka_tick(now_ns());
    }
}

/* ---- keep-alive ------------------------------------------------------------------ */

static struct {
    struct conn **v;
    size_t n, cap;
    int64_t interval, last;
} ka = {NULL, 0, 0, 1000000000LL, 0};

void ka_reset(void)
{
    free(ka.v);
    ka.v = NULL;
    ka.n = ka.cap = 0;
}

void ka_set_interval(int64_t ns)
{
    ka.interval = ns;
}

void ka_add(struct conn *c)
{
    if (c->ka) {
        return;
    }
    if (ka.n == ka.cap) {
        ka.cap = ka.cap == 0 ? 64u : ka.cap * 2u;
        ka.v = xrealloc(ka.v, ka.cap * sizeof *ka.v);
    }
    ka.v[ka.n++] = c;
    c->ka = 1;
}

void ka_del(struct conn *c)
{
    if (!c->ka) {
        return;
    }
    for (size_t i = 0; i < ka.n; i++) {
        if (ka.v[i] == c) {
            ka.v[i] = ka.v[--ka.n];
            break;
        }
    }
    c->ka = 0;
}

void ka_tick(int64_t now)
{
    if (now - ka.last < ka.interval / 4) {
        return;
    }
    ka.last = now;
    static const uint8_t ping[BUSRT_CLIENT_HEADER_LEN] = {0};
    for (size_t i = 0; i < ka.n; i++) {
        struct conn *c = ka.v[i];
        if (c->fd < 0) {
            continue;
        }
        if (c->idle) {
            uint8_t junk[4096];
            for (int k = 0; k < 16; k++) {
                ssize_t r = read(c->fd, junk, sizeof junk);
                if (r <= 0) {
                    break;
                }
            }
        }
        if (c->woff == c->wlen && now - c->last_tx >= ka.interval) {
            struct iovec iov = {(void *)(uintptr_t)ping, sizeof ping};
            (void)conn_writev(c, &iov, 1);
        } else if (c->woff < c->wlen) {
            (void)conn_flush(c);
        }
    }
}
