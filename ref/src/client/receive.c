/* libbusrt: the read buffer, scanning what the broker sent (ACKs, NOPs,
 * the awaited RPC reply), and handing out delivered frames. */
#define _DEFAULT_SOURCE
#include "client_int.h"

#include "busrt/transport.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "busrt/frame.h"
#include "busrt/le.h"
#include "busrt/rpcproto.h"

/* Kind byte written over a delivered frame that was consumed in place (an
 * RPC reply taken by busrt_rpc_call). Never a wire kind. */
#define BC_TOMBSTONE 0xFFu
#define BC_MIN_READ 4096u


/* ---- Read buffer ------------------------------------------------------------------ */

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
            bc_ack_record(c, a.op_id, a.code);
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
int bc_fill(busrt_client *c)
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
    if (c->tp != NULL) {
        long n = c->tp->read(c->tp_ctx, c->rbuf + c->wpos, c->rcap - c->wpos);
        if (n > 0) {
            c->wpos += (size_t)n;
            c->last_recv_ms = bc_now_ms();
            (void)scan(c);
            return (int)(n > INT_MAX ? INT_MAX : n);
        }
        if (n < 0) {
            bc_fail(c, (int)n);
            return c->err;
        }
        return 0;
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

/* ---- Receiving -------------------------------------------------------------------- */

/* Moves rpos over ACKs, NOPs, tombstones and delivered frames whose body
 * lacks a required NUL (discarded and counted, REQ-DLV-7). Returns 1 when
 * a delivered frame that busrt_recv can hand out starts at rpos. */
static int skip_to_delivery(busrt_client *c)
{
    while (c->rpos < c->spos) {
        const uint8_t *p = c->rbuf + c->rpos;
        if (p[0] == BUSRT_ACK_MARKER || p[0] == BUSRT_KIND_NOP) {
            c->rpos += BUSRT_FRAME_HEADER_LEN;
            continue;
        }
        size_t blen = (size_t)busrt_get_le32(p + 1);
        struct busrt_frame_body fb;
        if (p[0] != BC_TOMBSTONE &&
            busrt_frame_body_split(p[0], p + BUSRT_FRAME_HEADER_LEN, blen, &fb) == 0) {
            return 1;
        }
        if (p[0] != BC_TOMBSTONE) {
            c->discarded++;
        }
        c->rpos += BUSRT_FRAME_HEADER_LEN + blen;
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
            bc_fail(c, BUSRT_E_PROTO); /* cannot happen: skipped before */
            return 0;
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
        (void)bc_keepalive(c, bc_now_ms());
        for (int i = 0; i < 64 && c->err == 0; i++) {
            if (bc_fill(c) <= 0) {
                break;
            }
        }
        if (c->ping_now) {
            (void)bc_keepalive(c, bc_now_ms()); /* answer a NOP at once */
        }
    }
    if (skip_to_delivery(c)) {
        return 1;
    }
    return c->err;
}
