/* The runner's clients of the broker: lookup, socket I/O, autopings, and
 * pump(), the one place that waits (poll() with a deadline). */
#define _DEFAULT_SOURCE
#include "exec.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "busrt/le.h"

/* ---- outgoing tracker and I/O --------------------------------------------- */

static void trk_feed(struct cf_client *c, const uint8_t *d, size_t n)
{
    size_t i = 0;
    while (i < n) {
        switch (c->trk) {
        case TRK_GREETING:
            i++;
            if (++c->trk_got == 3) {
                c->trk = TRK_NAMELEN;
                c->trk_got = 0;
            }
            break;
        case TRK_NAMELEN:
            c->trk_hdr[c->trk_got++] = d[i++];
            if (c->trk_got == 2) {
                c->trk_left = busrt_get_le16(c->trk_hdr);
                c->trk_got = 0;
                c->trk = c->trk_left > 0 ? TRK_NAME : TRK_HEADER;
            }
            break;
        case TRK_NAME:
        case TRK_BODY: {
            uint64_t take = n - i < c->trk_left ? n - i : c->trk_left;
            i += (size_t)take;
            c->trk_left -= take;
            if (c->trk_left == 0) {
                c->trk = TRK_HEADER;
            }
            break;
        }
        case TRK_HEADER:
            c->trk_hdr[c->trk_got++] = d[i++];
            if (c->trk_got == 9) {
                c->trk_got = 0;
                uint64_t len = busrt_get_le32(c->trk_hdr + 5);
                if (c->trk_hdr[4] != 0 && len > 0) {
                    c->trk_left = len;
                    c->trk = TRK_BODY;
                }
            }
            break;
        }
    }
}

static void do_write(struct cf_client *c)
{
    while (buf_len(&c->out) > 0 && c->fd >= 0 && !c->wclosed) {
        ssize_t n = send(c->fd, buf_data(&c->out), buf_len(&c->out), MSG_NOSIGNAL);
        if (n > 0) {
            buf_consume(&c->out, (size_t)n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        } else {
            c->wclosed = 1;
            buf_reset(&c->out);
        }
    }
}

static void do_read(struct cf_client *c)
{
    size_t total = 0;
    while (c->fd >= 0 && !c->eof && total < (4u << 20)) {
        buf_reserve(&c->in, 65536);
        ssize_t n = recv(c->fd, c->in.p + c->in.w, 65536, 0);
        if (n > 0) {
            c->in.w += (size_t)n;
            total += (size_t)n;
        } else if (n == 0) {
            c->eof = 1;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        } else {
            c->eof = 1;
            c->reset = 1;
        }
    }
}

void queue_bytes(struct cf_client *c, const uint8_t *d, size_t n)
{
    if (c->fd < 0) {
        return;
    }
    trk_feed(c, d, n);
    if (!c->wclosed) {
        buf_add(&c->out, d, n);
    }
    c->last_send = now_ms();
    do_write(c);
}

static int can_ping(const struct cf_client *c)
{
    return c->fd >= 0 && c->autoping && c->registered && !c->eof && !c->wclosed &&
           c->trk == TRK_HEADER && c->trk_got == 0 && buf_len(&c->out) == 0;
}

/* Runs I/O (reads, writes, autopings) until pred holds or the deadline
 * passes. Returns 1 when pred held (checked once more at the deadline). */
int pump(struct case_exec *ce, int64_t deadline, pred_fn pred, void *arg)
{
    struct pollfd pf[CF_MAX_CLIENTS];
    struct cf_client *who[CF_MAX_CLIENTS];
    for (;;) {
        /* Keep-alive first: a step that consumes a long backlog calls pump
         * with its predicate already true, and must not starve the pings. */
        int64_t now = now_ms();
        int64_t wake = deadline;
        for (size_t i = 0; i < ce->ncl; i++) {
            struct cf_client *c = &ce->cl[i];
            if (can_ping(c)) {
                int64_t due = c->last_send + ce->ping_ms;
                if (due <= now) {
                    static const uint8_t ping[9] = {0};
                    queue_bytes(c, ping, sizeof ping);
                    due = now + ce->ping_ms;
                }
                if (due < wake) {
                    wake = due;
                }
            }
        }
        if (pred != NULL && pred(ce, arg)) {
            return 1;
        }
        if (now >= deadline) {
            return 0;
        }
        nfds_t n = 0;
        for (size_t i = 0; i < ce->ncl; i++) {
            struct cf_client *c = &ce->cl[i];
            if (c->fd < 0) {
                continue;
            }
            short ev = 0;
            if (!c->eof && (c->reading || c->focus)) {
                ev |= POLLIN;
            }
            if (buf_len(&c->out) > 0 && !c->wclosed) {
                ev |= POLLOUT;
            }
            if (ev == 0) {
                continue;
            }
            pf[n].fd = c->fd;
            pf[n].events = ev;
            pf[n].revents = 0;
            who[n] = c;
            n++;
        }
        int64_t left = wake - now;
        if (left > 1000) {
            left = 1000;
        }
        if (left < 1) {
            left = 1;
        }
        int rc = poll(pf, n, (int)left);
        if (rc < 0 && errno != EINTR) {
            die("poll: %s", strerror(errno));
        }
        for (nfds_t i = 0; rc > 0 && i < n; i++) {
            struct cf_client *c = who[i];
            if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                if (pf[i].events & POLLIN) {
                    do_read(c);
                } else if (pf[i].revents & (POLLHUP | POLLERR)) {
                    do_write(c); /* fails and marks wclosed */
                    if (buf_len(&c->out) > 0) {
                        c->wclosed = 1;
                        buf_reset(&c->out);
                    }
                }
            }
            if (pf[i].revents & POLLOUT) {
                do_write(c);
            }
        }
    }
}

int pred_never(struct case_exec *ce, void *arg)
{
    (void)ce;
    (void)arg;
    return 0;
}

/* ---- clients: lookup, reset, waiting for bytes ----------------------------- */

struct cf_client *client_get(struct case_exec *ce, const char *label, int create)
{
    for (size_t i = 0; i < ce->ncl; i++) {
        if (strcmp(ce->cl[i].label, label) == 0) {
            return &ce->cl[i];
        }
    }
    if (!create || ce->ncl >= CF_MAX_CLIENTS) {
        return NULL;
    }
    struct cf_client *c = &ce->cl[ce->ncl++];
    memset(c, 0, sizeof *c);
    snprintf(c->label, sizeof c->label, "%s", label);
    c->fd = -1;
    return c;
}

void client_reset(struct cf_client *c)
{
    if (c->fd >= 0) {
        close(c->fd);
    }
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->name);
    char label[32];
    memcpy(label, c->label, sizeof label);
    memset(c, 0, sizeof *c);
    memcpy(c->label, label, sizeof label);
    c->fd = -1;
}

struct need {
    struct cf_client *c;
    size_t n;
};

static int pred_bytes(struct case_exec *ce, void *arg)
{
    (void)ce;
    struct need *nd = arg;
    return buf_len(&nd->c->in) >= nd->n || nd->c->eof;
}

/* Waits for n raw bytes. Returns 1 when they are there, 0 on timeout, -1
 * on EOF before n bytes. */
int wait_bytes(struct case_exec *ce, struct cf_client *c, size_t n, int64_t deadline)
{
    struct need nd = {c, n};
    c->focus = 1;
    pump(ce, deadline, pred_bytes, &nd);
    c->focus = 0;
    if (buf_len(&c->in) >= n) {
        return 1;
    }
    return c->eof ? -1 : 0;
}

int pred_eof(struct case_exec *ce, void *arg)
{
    (void)ce;
    return ((struct cf_client *)arg)->eof;
}

