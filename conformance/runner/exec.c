/* Runs one conformance case against a broker: clients, the step
 * interpreter, frame matching. Everything talks to the broker only through
 * its sockets; frames are built and parsed with the core codec
 * (ref/include/busrt). Every wait is a poll() with a deadline. */
#define _DEFAULT_SOURCE
#include "cf.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "busrt/codes.h"
#include "busrt/frame.h"
#include "busrt/rpcproto.h"

/* ---- clients --------------------------------------------------------------- */

enum trk { TRK_GREETING, TRK_NAMELEN, TRK_NAME, TRK_HEADER, TRK_BODY };

struct client {
    char label[32];
    struct buf name;
    int fd;          /* -1 when not connected or closed by the runner */
    int registered;  /* the runner saw the reply 01 to the name */
    int eof;         /* the broker closed (EOF or reset) */
    int reset;
    int wclosed;     /* writing failed (peer gone) */
    int reading;     /* read whenever the runner waits */
    int focus;       /* read during the current step */
    int autoping;
    struct buf in, out;
    enum trk trk;    /* where the bytes queued so far end (for autoping) */
    size_t trk_got;
    uint8_t trk_hdr[9];
    uint64_t trk_left;
    int64_t last_send;
    uint32_t next_op;
};

struct x {
    struct run *r;
    struct kase *k;
    struct instance *in;
    struct result *res;
    char prefix[48];
    struct client cl[CF_MAX_CLIENTS];
    size_t ncl;
    int64_t T_ms;
    int64_t ping_ms;
    int64_t bound_ms; /* default bound of a wait */
    int stepno;
    const char *stepname;
    json_t *step;
    uint32_t barrier_seq;
};

/* A frame the broker sent. raw is owned. */
enum ftype { F_ACK = 1, F_NOP, F_DLV };

struct bframe {
    enum ftype type;
    uint8_t *raw;
    size_t raw_len;
    uint8_t kind, rt, code;
    struct busrt_frame_body b; /* offsets into raw + 6 */
};

static void bframe_free(struct bframe *f)
{
    free(f->raw);
    memset(f, 0, sizeof *f);
}

static const uint8_t *fb(const struct bframe *f, struct busrt_span s)
{
    return f->raw + BUSRT_FRAME_HEADER_LEN + s.off;
}

/* ---- failure reporting ------------------------------------------------------ */

static int failf(struct x *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int failf(struct x *x, const char *fmt, ...)
{
    struct result *res = x->res;
    if (res->st == ST_FAIL) {
        return -1;
    }
    res->st = ST_FAIL;
    res->step = x->stepno;
    buf_reset(&res->msg);
    if (x->stepno > 0) {
        json_t *c = x->step != NULL ? json_object_get(x->step, "client") : NULL;
        buf_printf(&res->msg, "step %d (%s%s%s): ", x->stepno, x->stepname,
                   c != NULL ? ", client " : "", c != NULL ? json_string_value(c) : "");
    }
    char tmp[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    buf_adds(&res->msg, tmp);
    if (x->step != NULL) {
        char *s = json_dumps(x->step, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        if (s != NULL) {
            char *ss = subst(s, x->prefix, 0);
            buf_reset(&res->steptext);
            buf_adds(&res->steptext, ss);
            free(ss);
            free(s);
        }
    }
    return -1;
}

static void describe_frame(const struct bframe *f, struct buf *out)
{
    if (f->type == F_ACK) {
        buf_adds(out, "ACK op id ");
        hex_append(out, f->raw + 1, 4, 4);
        buf_printf(out, " result %02x", f->code);
        return;
    }
    if (f->type == F_NOP) {
        buf_adds(out, "NOP");
        return;
    }
    const char *k = f->kind == BUSRT_KIND_PUBLISH ? "publication"
                    : f->kind == BUSRT_KIND_MESSAGE ? "message" : "broadcast";
    buf_printf(out, "%s (realtime %02x) from ", k, f->rt);
    text_append(out, fb(f, f->b.sender), f->b.sender.len, 80);
    if (f->kind == BUSRT_KIND_PUBLISH) {
        buf_adds(out, " topic ");
        text_append(out, fb(f, f->b.topic), f->b.topic.len, 80);
    }
    buf_adds(out, " payload ");
    const uint8_t *p = fb(f, f->b.payload);
    size_t pl = f->b.payload.len;
    struct busrt_rpc_header h;
    if (f->kind == BUSRT_KIND_MESSAGE && busrt_rpc_decode(p, pl, &h) == 0 &&
        h.kind != BUSRT_RPC_NOTIFICATION) {
        buf_printf(out, "[rpc kind %02x call id %u", h.kind, h.call_id);
        if (h.kind == BUSRT_RPC_ERROR) {
            buf_printf(out, " code %d", h.code);
        }
        if (h.kind == BUSRT_RPC_REQUEST) {
            buf_adds(out, " method ");
            text_append(out, p + h.method.off, h.method.len, 60);
        }
        buf_adds(out, " data ");
        if (h.data.len > 0) {
            mp_render(p + h.data.off, h.data.len, out);
            buf_adds(out, " = ");
        }
        hex_append(out, p + h.data.off, h.data.len, 48);
        buf_adds(out, "]");
    } else {
        text_append(out, p, pl, 80);
        if (pl > 0 && (p[0] & 0xf0u) == 0x80u) {
            buf_adds(out, " msgpack ");
            mp_render(p, pl, out);
        }
    }
}

/* ---- outgoing tracker and I/O --------------------------------------------- */

static void trk_feed(struct client *c, const uint8_t *d, size_t n)
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
                c->trk_left = (uint64_t)c->trk_hdr[0] + (uint64_t)c->trk_hdr[1] * 256u;
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
                uint64_t len = (uint64_t)c->trk_hdr[5] + (uint64_t)c->trk_hdr[6] * 256u +
                               (uint64_t)c->trk_hdr[7] * 65536u +
                               (uint64_t)c->trk_hdr[8] * 16777216u;
                if (c->trk_hdr[4] != 0 && len > 0) {
                    c->trk_left = len;
                    c->trk = TRK_BODY;
                }
            }
            break;
        }
    }
}

static void do_write(struct client *c)
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

static void do_read(struct client *c)
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

static void queue_bytes(struct client *c, const uint8_t *d, size_t n)
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

static int can_ping(const struct client *c)
{
    return c->fd >= 0 && c->autoping && c->registered && !c->eof && !c->wclosed &&
           c->trk == TRK_HEADER && c->trk_got == 0 && buf_len(&c->out) == 0;
}

typedef int (*pred_fn)(struct x *, void *);

/* Runs I/O (reads, writes, autopings) until pred holds or the deadline
 * passes. Returns 1 when pred held (checked once more at the deadline). */
static int pump(struct x *x, int64_t deadline, pred_fn pred, void *arg)
{
    struct pollfd pf[CF_MAX_CLIENTS];
    struct client *who[CF_MAX_CLIENTS];
    for (;;) {
        /* Keep-alive first: a step that consumes a long backlog calls pump
         * with its predicate already true, and must not starve the pings. */
        int64_t now = now_ms();
        int64_t wake = deadline;
        for (size_t i = 0; i < x->ncl; i++) {
            struct client *c = &x->cl[i];
            if (can_ping(c)) {
                int64_t due = c->last_send + x->ping_ms;
                if (due <= now) {
                    static const uint8_t ping[9] = {0};
                    queue_bytes(c, ping, sizeof ping);
                    due = now + x->ping_ms;
                }
                if (due < wake) {
                    wake = due;
                }
            }
        }
        if (pred != NULL && pred(x, arg)) {
            return 1;
        }
        if (now >= deadline) {
            return 0;
        }
        nfds_t n = 0;
        for (size_t i = 0; i < x->ncl; i++) {
            struct client *c = &x->cl[i];
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
            struct client *c = who[i];
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

static int pred_never(struct x *x, void *arg)
{
    (void)x;
    (void)arg;
    return 0;
}

/* ---- incoming frames ---------------------------------------------------- */

/* 1 when c->in starts with a complete frame, or with bytes that cannot start
 * one (take_frame then reports it); else 0. */
static int frame_ready(const struct client *c)
{
    size_t n = buf_len(&c->in);
    const uint8_t *d = buf_data(&c->in);
    if (n == 0) {
        return 0;
    }
    if (d[0] == BUSRT_ACK_MARKER || d[0] == BUSRT_KIND_NOP) {
        return n >= 6;
    }
    if (!busrt_kind_valid(d[0])) {
        return 1;
    }
    if (n < 6) {
        return 0;
    }
    struct busrt_frame_header h;
    if (busrt_frame_header_decode(d, n, CF_MAX_BODY, &h) != 6) {
        return 1;
    }
    return n - 6u >= h.body_len;
}

static int pred_frame(struct x *x, void *arg)
{
    (void)x;
    struct client *c = arg;
    return frame_ready(c) || c->eof;
}

/* Takes one frame from c->in. Returns 1, 0 when none is complete, or -1 for
 * bytes that are not a valid broker frame (why says which rule). */
static int take_frame(struct client *c, struct bframe *f, struct buf *why)
{
    memset(f, 0, sizeof *f);
    if (!frame_ready(c)) {
        return 0;
    }
    const uint8_t *d = buf_data(&c->in);
    size_t n = buf_len(&c->in);
    size_t len;
    if (d[0] == BUSRT_ACK_MARKER) {
        struct busrt_ack a;
        (void)busrt_ack_decode(d, n, &a);
        f->type = F_ACK;
        f->code = a.code;
        len = 6;
    } else if (d[0] == BUSRT_KIND_NOP) {
        f->type = F_NOP;
        len = 6;
        for (size_t i = 1; i < 6; i++) {
            if (d[i] != 0) {
                buf_adds(why, "a NOP (first byte 00) whose other five bytes are not all 00 "
                              "(REQ-DLV-4): ");
                hex_append(why, d, 6, 6);
                return -1;
            }
        }
    } else {
        struct busrt_frame_header h;
        int rc = busrt_frame_header_decode(d, n, CF_MAX_BODY, &h);
        if (rc != 6) {
            buf_printf(why, "a frame whose first byte %02x is not FE, 00, 01, 12 or 13 "
                            "(REQ-DLV-1, Section 6.1), or whose length exceeds %u: ",
                       d[0], CF_MAX_BODY);
            hex_append(why, d, n, 32);
            return -1;
        }
        if (h.realtime > 1) {
            buf_printf(why, "a delivered frame whose realtime byte is %02x, not 00 or 01 "
                            "(REQ-DLV-1): ", h.realtime);
            hex_append(why, d, n, 32);
            return -1;
        }
        f->type = F_DLV;
        f->kind = h.kind;
        f->rt = h.realtime;
        len = 6u + h.body_len;
        if (busrt_frame_body_split(h.kind, d + 6, h.body_len, &f->b) != 0) {
            buf_printf(why, "a delivered %s body without the required NUL separator%s "
                            "(REQ-DLV-2, REQ-DLV-3): ",
                       h.kind == BUSRT_KIND_PUBLISH ? "publication" : "message/broadcast",
                       h.kind == BUSRT_KIND_PUBLISH ? "s" : "");
            hex_append(why, d, len, 64);
            return -1;
        }
    }
    f->raw = xmalloc(len);
    memcpy(f->raw, d, len);
    f->raw_len = len;
    buf_consume(&c->in, len);
    if (f->type == F_ACK) {
        uint8_t k = f->code;
        if (k != 0x01 && k != 0x71 && k != 0x72 && k != 0x74 && k != 0x75 && k != 0x76 &&
            k != 0x77 && k != 0x79) {
            buf_printf(why, "an ACK with result code %02x, which a broker must never send "
                            "(REQ-ACK-10): ", k);
            hex_append(why, f->raw, 6, 6);
            bframe_free(f);
            return -1;
        }
    }
    return 1;
}

/* Waits for the next frame of c. Returns 1 (frame), 0 (deadline), -1 (EOF
 * with no complete frame), -2 (protocol error, already reported). */
static int next_frame(struct x *x, struct client *c, int64_t deadline, struct bframe *f)
{
    c->focus = 1;
    pump(x, deadline, pred_frame, c);
    c->focus = 0;
    struct buf why;
    buf_init(&why);
    int rc = take_frame(c, f, &why);
    if (rc < 0) {
        failf(x, "the broker sent %s", buf_str(&why));
        buf_free(&why);
        return -2;
    }
    buf_free(&why);
    if (rc == 1) {
        return 1;
    }
    return c->eof ? -1 : 0;
}

static int starts_with(const uint8_t *d, size_t n, const char *s)
{
    size_t l = strlen(s);
    return n >= l && memcmp(d, s, l) == 0;
}

static int equals(const uint8_t *d, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(d, s, n) == 0;
}

/* Frames every strict step skips: NOPs, deliveries from senders outside this
 * run, and .broker announcements (README "Foreign traffic"). */
static int ignorable(struct x *x, const struct bframe *f)
{
    if (f->type == F_NOP) {
        return 1;
    }
    if (f->type == F_ACK) {
        return 0;
    }
    const uint8_t *s = fb(f, f->b.sender);
    size_t sl = f->b.sender.len;
    if (starts_with(s, sl, x->r->run_prefix)) {
        return 0;
    }
    if (equals(s, sl, ".broker")) {
        const uint8_t *t = fb(f, f->b.topic);
        size_t tl = f->b.topic.len;
        return f->kind == BUSRT_KIND_PUBLISH &&
               (equals(t, tl, ".broker/info") || equals(t, tl, ".broker/warn"));
    }
    return 1;
}

/* ---- building bytes from case fields ------------------------------------- */

/* Appends the bytes of field `key` (text, ${p} substituted) or `key_hex`.
 * Returns 1 when one was present, 0 when neither, -1 on bad hex. */
static int field_bytes(struct x *x, const json_t *o, const char *key, struct buf *out)
{
    char hk[64];
    snprintf(hk, sizeof hk, "%s_hex", key);
    json_t *t = json_object_get(o, key);
    json_t *h = json_object_get(o, hk);
    if (t != NULL) {
        char *s = subst(json_string_value(t), x->prefix, 0);
        buf_adds(out, s);
        free(s);
        return 1;
    }
    if (h != NULL) {
        char *s = subst(json_string_value(h), x->prefix, 1);
        int rc = hex_decode(s, out);
        free(s);
        return rc == 0 ? 1 : -1;
    }
    return 0;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v & 0xffu);
    p[1] = (uint8_t)((v >> 8) & 0xffu);
    p[2] = (uint8_t)((v >> 16) & 0xffu);
    p[3] = (uint8_t)((v >> 24) & 0xffu);
}

static void fill_bytes(struct x *x, const json_t *fill, struct buf *out)
{
    struct buf pat;
    buf_init(&pat);
    if (field_bytes(x, fill, "hex", &pat) <= 0 || buf_len(&pat) == 0) {
        buf_addc(&pat, 'x');
    }
    json_int_t len = json_integer_value(json_object_get(fill, "len"));
    buf_reserve(out, (size_t)len);
    for (json_int_t i = 0; i < len; i++) {
        buf_addc(out, buf_data(&pat)[(size_t)i % buf_len(&pat)]);
    }
    buf_free(&pat);
}

static int rpc_bytes(struct x *x, const json_t *o, struct buf *out)
{
    json_t *k = json_object_get(o, "kind");
    uint8_t kind = 0;
    if (json_is_string(k)) {
        const char *s = json_string_value(k);
        kind = strcmp(s, "notification") == 0 ? BUSRT_RPC_NOTIFICATION
               : strcmp(s, "request") == 0 ? BUSRT_RPC_REQUEST
               : strcmp(s, "reply") == 0 ? BUSRT_RPC_REPLY : BUSRT_RPC_ERROR;
    } else if (json_byte(k, &kind) != 0) {
        return -1;
    }
    buf_addc(out, kind);
    uint8_t id[4];
    put_u32(id, (uint32_t)json_integer_value(json_object_get(o, "call_id")));
    if (kind == BUSRT_RPC_NOTIFICATION) {
        /* nothing but the payload */
    } else if (kind == BUSRT_RPC_REQUEST) {
        buf_add(out, id, 4);
        if (field_bytes(x, o, "method", out) < 0) {
            return -1;
        }
        buf_addc(out, 0);
    } else if (kind == BUSRT_RPC_REPLY) {
        buf_add(out, id, 4);
    } else if (kind == BUSRT_RPC_ERROR) {
        buf_add(out, id, 4);
        int16_t code = (int16_t)json_integer_value(json_object_get(o, "code"));
        uint16_t u = (uint16_t)code;
        buf_addc(out, (uint8_t)(u & 0xffu));
        buf_addc(out, (uint8_t)(u >> 8));
        if (field_bytes(x, o, "message", out) < 0) {
            return -1;
        }
    } else if (json_object_get(o, "call_id") != NULL) {
        buf_add(out, id, 4);
    }
    json_t *pm = json_object_get(o, "params_msgpack");
    if (pm != NULL) {
        struct buf err;
        buf_init(&err);
        int rc = mp_from_json(pm, x->prefix, out, &err);
        buf_free(&err);
        if (rc != 0) {
            return -1;
        }
    }
    if (field_bytes(x, o, "params", out) < 0 || field_bytes(x, o, "data", out) < 0) {
        return -1;
    }
    return 0;
}

static int payload_bytes(struct x *x, const json_t *f, struct buf *out)
{
    json_t *fill = json_object_get(f, "payload_fill");
    json_t *rpc = json_object_get(f, "payload_rpc");
    if (fill != NULL) {
        fill_bytes(x, fill, out);
        return 0;
    }
    if (rpc != NULL) {
        return rpc_bytes(x, rpc, out);
    }
    return field_bytes(x, f, "payload", out) < 0 ? -1 : 0;
}

struct built {
    struct buf bytes;
    uint8_t op_id[4];
    uint8_t flags;
};

static int op_code(const json_t *op, uint8_t *code, int *is_ping)
{
    *is_ping = 0;
    if (json_is_integer(op)) {
        *code = (uint8_t)json_integer_value(op);
        return 0;
    }
    static const struct {
        const char *n;
        uint8_t c;
    } ops[] = {{"ping", 0}, {"op0", 0}, {"publish", BUSRT_OP_PUBLISH},
               {"subscribe", BUSRT_OP_SUBSCRIBE}, {"unsubscribe", BUSRT_OP_UNSUBSCRIBE},
               {"exclude", BUSRT_OP_EXCLUDE}, {"unexclude", BUSRT_OP_UNEXCLUDE},
               {"publish_for", BUSRT_OP_PUBLISH_FOR}, {"message", BUSRT_OP_MESSAGE},
               {"broadcast", BUSRT_OP_BROADCAST}};
    const char *s = json_string_value(op);
    for (size_t i = 0; s != NULL && i < sizeof ops / sizeof ops[0]; i++) {
        if (strcmp(ops[i].n, s) == 0) {
            *code = ops[i].c;
            *is_ping = i == 0;
            return 0;
        }
    }
    return -1;
}

static int build_frame(struct x *x, struct client *c, const json_t *f, struct built *b)
{
    buf_init(&b->bytes);
    uint8_t op = 0;
    int is_ping = 0;
    json_t *opj = json_object_get(f, "op");
    if (opj != NULL && op_code(opj, &op, &is_ping) != 0) {
        return failf(x, "bad op");
    }
    json_int_t qos = json_integer_value(json_object_get(f, "qos"));
    uint8_t flags = (uint8_t)(op + (uint8_t)(qos * 64));
    json_t *fl = json_object_get(f, "flags");
    if (fl != NULL) {
        (void)json_byte(fl, &flags);
    }
    b->flags = flags;
    /* op id */
    json_t *oid = json_object_get(f, "op_id");
    json_t *oidh = json_object_get(f, "op_id_hex");
    if (oidh != NULL) {
        struct buf t;
        buf_init(&t);
        if (hex_decode(json_string_value(oidh), &t) != 0 || buf_len(&t) != 4) {
            buf_free(&t);
            return failf(x, "op_id_hex must be 4 bytes");
        }
        memcpy(b->op_id, buf_data(&t), 4);
        buf_free(&t);
    } else if (oid != NULL) {
        put_u32(b->op_id, (uint32_t)json_integer_value(oid));
    } else if (is_ping) {
        memset(b->op_id, 0, 4);
    } else {
        put_u32(b->op_id, c->next_op++);
    }
    /* body */
    struct buf body;
    buf_init(&body);
    int rc = 0;
    if (json_object_get(f, "body") != NULL || json_object_get(f, "body_hex") != NULL) {
        rc = field_bytes(x, f, "body", &body) < 0 ? -1 : 0;
    } else if (is_ping) {
        /* no body */
    } else if (op == BUSRT_OP_PUBLISH || op == BUSRT_OP_MESSAGE || op == BUSRT_OP_BROADCAST) {
        const char *tk = op == BUSRT_OP_PUBLISH ? "topic"
                         : op == BUSRT_OP_MESSAGE ? "target" : "mask";
        rc = field_bytes(x, f, tk, &body) < 0 ? -1 : 0;
        buf_addc(&body, 0);
        rc |= payload_bytes(x, f, &body);
    } else if (op == BUSRT_OP_PUBLISH_FOR) {
        rc = field_bytes(x, f, "topic", &body) < 0 ? -1 : 0;
        buf_addc(&body, 0);
        rc |= field_bytes(x, f, "receiver", &body) < 0 ? -1 : 0;
        buf_addc(&body, 0);
        rc |= payload_bytes(x, f, &body);
    } else if (op >= BUSRT_OP_SUBSCRIBE && op <= BUSRT_OP_UNEXCLUDE) {
        json_t *pt = json_object_get(f, "patterns");
        json_t *ph = json_object_get(f, "patterns_hex");
        json_t *arr = pt != NULL ? pt : ph;
        size_t i;
        json_t *p;
        json_array_foreach(arr, i, p) {
            if (i > 0) {
                buf_addc(&body, 0);
            }
            char *s = subst(json_string_value(p), x->prefix, pt == NULL);
            if (pt != NULL) {
                buf_adds(&body, s);
            } else if (hex_decode(s, &body) != 0) {
                rc = -1;
            }
            free(s);
        }
    } else {
        rc = payload_bytes(x, f, &body);
    }
    if (rc != 0) {
        buf_free(&body);
        return failf(x, "cannot build the frame body (bad hex or RPC fields)");
    }
    json_t *pad = json_object_get(f, "pad_body_to");
    while (pad != NULL && buf_len(&body) < (size_t)json_integer_value(pad)) {
        buf_addc(&body, 'a');
    }
    uint8_t hdr[9];
    memcpy(hdr, b->op_id, 4);
    hdr[4] = flags;
    json_t *lenj = json_object_get(f, "length");
    uint32_t len = lenj != NULL ? (uint32_t)json_integer_value(lenj) : (uint32_t)buf_len(&body);
    put_u32(hdr + 5, len);
    buf_add(&b->bytes, hdr, 9);
    buf_add(&b->bytes, buf_data(&body), buf_len(&body));
    buf_free(&body);
    json_t *tr = json_object_get(f, "truncate");
    if (tr != NULL && (size_t)json_integer_value(tr) < buf_len(&b->bytes)) {
        b->bytes.w = b->bytes.r + (size_t)json_integer_value(tr);
    }
    return 0;
}

/* ---- matching --------------------------------------------------------------- */

static uint8_t kind_byte(const char *k)
{
    return strcmp(k, "publication") == 0 ? BUSRT_KIND_PUBLISH
           : strcmp(k, "message") == 0 ? BUSRT_KIND_MESSAGE : BUSRT_KIND_BROADCAST;
}

/* "code": one RPC error code, or an array of the codes allowed (REQ-QUIRK-8). */
static int rpc_code_ok(const json_t *code, int16_t got, struct buf *why)
{
    if (!json_is_array(code)) {
        if (got == (int16_t)json_integer_value(code)) {
            return 1;
        }
        buf_printf(why, "RPC error code %d, expected %d", got, (int)json_integer_value(code));
        return 0;
    }
    size_t i;
    json_t *v;
    json_array_foreach(code, i, v) {
        if (got == (int16_t)json_integer_value(v)) {
            return 1;
        }
    }
    buf_printf(why, "RPC error code %d, expected one of", got);
    json_array_foreach(code, i, v) {
        buf_printf(why, "%s %d", i > 0 ? "," : "", (int)json_integer_value(v));
    }
    return 0;
}

static int match_bytes_field(struct x *x, const json_t *m, const char *key, const uint8_t *d,
                             size_t n, struct buf *why, const char *what)
{
    struct buf want;
    buf_init(&want);
    int have = field_bytes(x, m, key, &want);
    int ok = 1;
    if (have > 0 && (buf_len(&want) != n || memcmp(buf_data(&want), d, n) != 0)) {
        buf_printf(why, "%s is ", what);
        text_append(why, d, n, 64);
        buf_adds(why, ", expected ");
        text_append(why, buf_data(&want), buf_len(&want), 64);
        ok = 0;
    }
    buf_free(&want);
    return ok;
}

static int rpc_match(struct x *x, const json_t *m, const uint8_t *p, size_t n, struct buf *why)
{
    struct busrt_rpc_header h;
    if (busrt_rpc_decode(p, n, &h) != 0) {
        buf_adds(why, "the payload is not a valid RPC frame (Section 12.1)");
        return 0;
    }
    const char *ks = json_string_value(json_object_get(m, "kind"));
    uint8_t want = strcmp(ks, "notification") == 0 ? BUSRT_RPC_NOTIFICATION
                   : strcmp(ks, "request") == 0 ? BUSRT_RPC_REQUEST
                   : strcmp(ks, "reply") == 0 ? BUSRT_RPC_REPLY : BUSRT_RPC_ERROR;
    if (h.kind != want) {
        buf_printf(why, "RPC kind %02x, expected %02x (%s)", h.kind, want, ks);
        return 0;
    }
    json_t *cid = json_object_get(m, "call_id");
    if (cid != NULL && h.call_id != (uint32_t)json_integer_value(cid)) {
        buf_printf(why, "RPC call id %u, expected %u", h.call_id,
                   (uint32_t)json_integer_value(cid));
        return 0;
    }
    json_t *code = json_object_get(m, "code");
    if (code != NULL && !rpc_code_ok(code, h.code, why)) {
        return 0;
    }
    const uint8_t *dd = p + h.data.off;
    size_t dl = h.data.len;
    if (!match_bytes_field(x, m, "method", p + h.method.off, h.method.len, why, "RPC method")) {
        return 0;
    }
    const char *dk[] = {"result", "message", "params", "data"};
    for (size_t i = 0; i < 4; i++) {
        if (!match_bytes_field(x, m, dk[i], dd, dl, why, "RPC data")) {
            return 0;
        }
    }
    const char *mk[] = {"result_msgpack", "params_msgpack"};
    for (size_t i = 0; i < 2; i++) {
        json_t *mm = json_object_get(m, mk[i]);
        if (mm != NULL && !mp_match(dd, dl, mm, x->prefix, why)) {
            return 0;
        }
    }
    return 1;
}

/* 1 when f matches m, else 0 with the reason in why. */
static int frame_match(struct x *x, const struct bframe *f, const json_t *m, struct buf *why)
{
    const char *k = json_string_value(json_object_get(m, "kind"));
    if (strcmp(k, "ack") == 0) {
        if (f->type != F_ACK) {
            buf_adds(why, "expected an ACK");
            return 0;
        }
        uint8_t want[4];
        json_t *oid = json_object_get(m, "op_id");
        json_t *oidh = json_object_get(m, "op_id_hex");
        if (oidh != NULL) {
            struct buf t;
            buf_init(&t);
            (void)hex_decode(json_string_value(oidh), &t);
            memcpy(want, buf_data(&t), buf_len(&t) >= 4 ? 4 : buf_len(&t));
            buf_free(&t);
            oid = oidh;
        } else if (oid != NULL) {
            put_u32(want, (uint32_t)json_integer_value(oid));
        }
        if (oid != NULL && memcmp(want, f->raw + 1, 4) != 0) {
            buf_adds(why, "ACK for another op id");
            return 0;
        }
        json_t *code = json_object_get(m, "code");
        uint8_t c = 0;
        if (code != NULL && json_byte(code, &c) == 0 && c != f->code) {
            buf_printf(why, "ACK result %02x, expected %02x", f->code, c);
            return 0;
        }
        return 1;
    }
    if (f->type != F_DLV) {
        buf_printf(why, "expected a %s delivery", k);
        return 0;
    }
    if (f->kind != kind_byte(k)) {
        buf_printf(why, "delivery kind %02x, expected %02x (%s)", f->kind, kind_byte(k), k);
        return 0;
    }
    json_t *rt = json_object_get(m, "realtime");
    if (rt != NULL && f->rt != (uint8_t)json_integer_value(rt)) {
        buf_printf(why, "realtime byte %02x, expected %02x", f->rt,
                   (unsigned)json_integer_value(rt));
        return 0;
    }
    if (!match_bytes_field(x, m, "sender", fb(f, f->b.sender), f->b.sender.len, why,
                           "sender")) {
        return 0;
    }
    if (!match_bytes_field(x, m, "topic", fb(f, f->b.topic), f->b.topic.len, why, "topic")) {
        return 0;
    }
    const uint8_t *p = fb(f, f->b.payload);
    size_t pl = f->b.payload.len;
    if (!match_bytes_field(x, m, "payload", p, pl, why, "payload")) {
        return 0;
    }
    json_t *fill = json_object_get(m, "payload_fill");
    if (fill != NULL) {
        struct buf want;
        buf_init(&want);
        fill_bytes(x, fill, &want);
        int ok = buf_len(&want) == pl && memcmp(buf_data(&want), p, pl) == 0;
        if (!ok) {
            buf_printf(why, "payload of %zu bytes differs from the expected fill of %zu bytes",
                       pl, buf_len(&want));
        }
        buf_free(&want);
        if (!ok) {
            return 0;
        }
    }
    json_t *pm = json_object_get(m, "payload_msgpack");
    if (pm != NULL && !mp_match(p, pl, pm, x->prefix, why)) {
        return 0;
    }
    json_t *rpc = json_object_get(m, "rpc");
    if (rpc != NULL && !rpc_match(x, rpc, p, pl, why)) {
        return 0;
    }
    return 1;
}

/* Renders the expected frame: exact hex where the matcher fixes every byte,
 * "??" where it does not, and a description of field matchers. */
static void render_expected(struct x *x, const json_t *m, struct buf *out)
{
    const char *k = json_string_value(json_object_get(m, "kind"));
    if (strcmp(k, "ack") == 0) {
        buf_adds(out, "fe ");
        uint8_t id[4];
        json_t *oid = json_object_get(m, "op_id");
        json_t *oidh = json_object_get(m, "op_id_hex");
        if (oidh != NULL) {
            struct buf t;
            buf_init(&t);
            (void)hex_decode(json_string_value(oidh), &t);
            hex_append(out, buf_data(&t), buf_len(&t), 4);
            buf_free(&t);
        } else if (oid != NULL) {
            put_u32(id, (uint32_t)json_integer_value(oid));
            hex_append(out, id, 4, 4);
        } else {
            buf_adds(out, "?? ?? ?? ??");
        }
        uint8_t c;
        if (json_byte(json_object_get(m, "code"), &c) == 0) {
            buf_printf(out, " %02x", c);
        } else {
            buf_adds(out, " ??");
        }
        return;
    }
    struct buf body;
    buf_init(&body);
    int exact = 1;
    struct buf t;
    buf_init(&t);
    if (field_bytes(x, m, "sender", &t) > 0) {
        buf_add(&body, buf_data(&t), buf_len(&t));
    } else {
        exact = 0;
    }
    buf_addc(&body, 0);
    if (strcmp(k, "publication") == 0) {
        buf_reset(&t);
        if (field_bytes(x, m, "topic", &t) > 0) {
            buf_add(&body, buf_data(&t), buf_len(&t));
        } else {
            exact = 0;
        }
        buf_addc(&body, 0);
    }
    buf_reset(&t);
    const char *desc = NULL;
    if (field_bytes(x, m, "payload", &t) > 0) {
        buf_add(&body, buf_data(&t), buf_len(&t));
    } else if (json_object_get(m, "payload_fill") != NULL) {
        fill_bytes(x, json_object_get(m, "payload_fill"), &body);
    } else if (json_object_get(m, "rpc") != NULL || json_object_get(m, "payload_msgpack")) {
        exact = 0;
        desc = json_object_get(m, "rpc") != NULL ? "rpc" : "payload_msgpack";
    } else {
        exact = 0;
        desc = "any payload";
    }
    buf_free(&t);
    json_t *rt = json_object_get(m, "realtime");
    buf_printf(out, "%02x ", kind_byte(k));
    if (exact) {
        uint8_t l[4];
        put_u32(l, (uint32_t)buf_len(&body));
        hex_append(out, l, 4, 4);
    } else {
        buf_adds(out, "?? ?? ?? ??");
    }
    if (rt != NULL) {
        buf_printf(out, " %02x ", (unsigned)json_integer_value(rt));
    } else {
        buf_adds(out, " ?? ");
    }
    if (exact) {
        hex_append(out, buf_data(&body), buf_len(&body), 200);
    } else {
        /* sender and topic known parts, then the payload description */
        hex_append(out, buf_data(&body), buf_len(&body), 200);
        if (desc != NULL) {
            if (strcmp(desc, "any payload") == 0) {
                buf_adds(out, " <any payload>");
            } else {
                char *s = json_dumps(json_object_get(m, desc), JSON_COMPACT);
                char *ss = subst(s != NULL ? s : "?", x->prefix, 0);
                buf_printf(out, " <payload matching %s %s>", desc, ss);
                free(ss);
                free(s);
            }
        }
    }
    buf_free(&body);
}

static void set_expected(struct x *x, const json_t *m)
{
    buf_reset(&x->res->expected);
    render_expected(x, m, &x->res->expected);
}

static void set_received(struct x *x, const struct bframe *f)
{
    buf_reset(&x->res->received);
    hex_append(&x->res->received, f->raw, f->raw_len, 256);
    buf_adds(&x->res->received, "\n  = ");
    describe_frame(f, &x->res->received);
}

/* ---- clients: lookup, connect ---------------------------------------------- */

static struct client *client_get(struct x *x, const char *label, int create)
{
    for (size_t i = 0; i < x->ncl; i++) {
        if (strcmp(x->cl[i].label, label) == 0) {
            return &x->cl[i];
        }
    }
    if (!create || x->ncl >= CF_MAX_CLIENTS) {
        return NULL;
    }
    struct client *c = &x->cl[x->ncl++];
    memset(c, 0, sizeof *c);
    snprintf(c->label, sizeof c->label, "%s", label);
    c->fd = -1;
    return c;
}

static void client_reset(struct client *c)
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

static int64_t bound(struct x *x, const json_t *st)
{
    json_t *w = json_object_get(st, "within_t");
    if (w != NULL) {
        return (int64_t)(json_number_value(w) * (double)x->T_ms);
    }
    return x->bound_ms;
}

static int64_t duration(struct x *x, const json_t *st)
{
    json_t *t = json_object_get(st, "for_t");
    if (t != NULL) {
        return (int64_t)(json_number_value(t) * (double)x->T_ms);
    }
    return (int64_t)json_integer_value(json_object_get(st, "for_ms"));
}

static int open_client(struct x *x, struct client *c, const json_t *st)
{
    client_reset(c);
    json_t *via = json_object_get(st, "via");
    const char *addr = x->in->addr;
    if (via != NULL && strcmp(json_string_value(via), "extra") == 0) {
        if (x->in->extra_addr[0] == '\0') {
            return failf(x, "via \"extra\" needs the broker option extra_listener");
        }
        addr = x->in->extra_addr;
    }
    int rcvbuf = (int)json_integer_value(json_object_get(st, "rcvbuf"));
    c->fd = net_connect(addr, rcvbuf, now_ms() + x->bound_ms);
    if (c->fd < 0) {
        int e = errno;
        c->fd = -1;
        return failf(x, "cannot connect to %s: %s", addr, strerror(e));
    }
    json_t *rd = json_object_get(st, "read");
    c->reading = rd == NULL || json_is_true(rd);
    json_t *ap = json_object_get(st, "autoping");
    c->autoping = ap == NULL || json_is_true(ap);
    c->next_op = 1001;
    c->last_send = now_ms();
    return 0;
}

struct need {
    struct client *c;
    size_t n;
};

static int pred_bytes(struct x *x, void *arg)
{
    (void)x;
    struct need *nd = arg;
    return buf_len(&nd->c->in) >= nd->n || nd->c->eof;
}

/* Waits for n raw bytes. Returns 1 when they are there, 0 on timeout, -1
 * on EOF before n bytes. */
static int wait_bytes(struct x *x, struct client *c, size_t n, int64_t deadline)
{
    struct need nd = {c, n};
    c->focus = 1;
    pump(x, deadline, pred_bytes, &nd);
    c->focus = 0;
    if (buf_len(&c->in) >= n) {
        return 1;
    }
    return c->eof ? -1 : 0;
}

static int pred_eof(struct x *x, void *arg)
{
    (void)x;
    return ((struct client *)arg)->eof;
}

/* After a refusal: nothing but EOF may follow. */
static int expect_raw_close(struct x *x, struct client *c, int64_t ms, const char *after)
{
    c->focus = 1;
    pump(x, now_ms() + ms, pred_eof, c);
    c->focus = 0;
    if (buf_len(&c->in) > 0) {
        buf_reset(&x->res->expected);
        buf_adds(&x->res->expected, "(nothing, then end of file)");
        buf_reset(&x->res->received);
        hex_append(&x->res->received, buf_data(&c->in), buf_len(&c->in), 64);
        return failf(x, "after %s the broker sent more bytes", after);
    }
    if (!c->eof) {
        return failf(x, "after %s the connection was still open after %lld ms "
                        "(it must be closed)", after, (long long)ms);
    }
    return 0;
}

/* One handshake attempt; writes the outcome ("01", "72", "close",
 * "preclose", ...) to outcome. Returns 0, or -1 after failf. */
static int handshake(struct x *x, struct client *c, const json_t *st, char *outcome,
                     size_t olen)
{
    int64_t b = bound(x, st);
    if (open_client(x, c, st) != 0) {
        return -1;
    }
    int rc = wait_bytes(x, c, 3, now_ms() + b);
    if (rc < 0 && buf_len(&c->in) == 0) {
        snprintf(outcome, olen, "preclose");
        return 0;
    }
    if (rc <= 0) {
        buf_reset(&x->res->expected);
        buf_adds(&x->res->expected, "eb 01 00");
        buf_reset(&x->res->received);
        hex_append(&x->res->received, buf_data(&c->in), buf_len(&c->in), 8);
        return failf(x, "the broker's greeting did not arrive (%s)",
                     rc == 0 ? "timeout" : "end of file");
    }
    static const uint8_t greet[3] = {0xEB, 0x01, 0x00};
    if (memcmp(buf_data(&c->in), greet, 3) != 0) {
        buf_reset(&x->res->expected);
        buf_adds(&x->res->expected, "eb 01 00");
        buf_reset(&x->res->received);
        hex_append(&x->res->received, buf_data(&c->in), 3, 3);
        return failf(x, "wrong greeting from the broker (REQ-HS-1)");
    }
    buf_consume(&c->in, 3);
    json_t *pt = json_object_get(st, "pause_t");
    int64_t pause = pt != NULL ? (int64_t)(json_number_value(pt) * (double)x->T_ms) : 0;
    pump(x, now_ms() + pause, pred_never, NULL);
    struct buf g;
    buf_init(&g);
    if (field_bytes(x, st, "greeting", &g) == 0) {
        buf_add(&g, greet, 3);
    }
    int good_greeting = buf_len(&g) == 3 && memcmp(buf_data(&g), greet, 3) == 0;
    queue_bytes(c, buf_data(&g), buf_len(&g));
    buf_free(&g);
    rc = wait_bytes(x, c, 1, now_ms() + b);
    if (rc < 0) {
        snprintf(outcome, olen, "close");
        return 0;
    }
    if (rc == 0) {
        return failf(x, "no reply to the greeting within %lld ms", (long long)b);
    }
    uint8_t r1 = buf_data(&c->in)[0];
    buf_consume(&c->in, 1);
    if (!good_greeting || r1 != 0x01) {
        snprintf(outcome, olen, "%02x", r1);
        return 0;
    }
    struct buf name;
    buf_init(&name);
    (void)field_bytes(x, st, "name", &name);
    json_t *pad = json_object_get(st, "name_pad_to");
    while (pad != NULL && buf_len(&name) < (size_t)json_integer_value(pad)) {
        buf_addc(&name, 'x');
    }
    pump(x, now_ms() + pause, pred_never, NULL);
    uint8_t nl[2];
    (void)busrt_name_len_encode(buf_len(&name) > 65535u ? 65535u : buf_len(&name), nl, 2);
    queue_bytes(c, nl, 2);
    queue_bytes(c, buf_data(&name), buf_len(&name));
    buf_reset(&c->name);
    buf_add(&c->name, buf_data(&name), buf_len(&name));
    buf_free(&name);
    rc = wait_bytes(x, c, 1, now_ms() + b);
    if (rc < 0) {
        snprintf(outcome, olen, "close");
        return 0;
    }
    if (rc == 0) {
        return failf(x, "no reply to the name within %lld ms", (long long)b);
    }
    uint8_t r2 = buf_data(&c->in)[0];
    buf_consume(&c->in, 1);
    snprintf(outcome, olen, "%02x", r2);
    if (r2 == 0x01) {
        c->registered = 1;
    }
    return 0;
}

static int alt_has(const json_t *alts, const char *o)
{
    size_t i;
    json_t *a;
    json_array_foreach((json_t *)alts, i, a) {
        if (strcasecmp(json_string_value(a), o) == 0) {
            return 1;
        }
    }
    return 0;
}

static int step_connect(struct x *x, const json_t *st)
{
    struct client *c = client_get(x, json_string_value(json_object_get(st, "client")), 1);
    json_t *e = json_object_get(st, "expect");
    json_t *alts = json_array();
    if (e == NULL) {
        json_array_append_new(alts, json_string("01"));
    } else if (json_is_string(e)) {
        json_array_append(alts, e);
    } else {
        json_array_extend(alts, e);
    }
    json_t *retry = json_object_get(st, "retry_within_t");
    int64_t retry_until = retry != NULL
                              ? now_ms() + (int64_t)(json_number_value(retry) * (double)x->T_ms)
                              : 0;
    char outcome[32];
    int rc;
    for (;;) {
        rc = handshake(x, c, st, outcome, sizeof outcome);
        if (rc != 0) {
            break;
        }
        if (strcmp(outcome, "01") != 0 && alt_has(alts, "01") && !alt_has(alts, outcome) &&
            now_ms() < retry_until) {
            client_reset(c);
            sleep_ms(50);
            continue;
        }
        break;
    }
    if (rc == 0) {
        if (!alt_has(alts, outcome)) {
            char *want = json_dumps(alts, JSON_COMPACT);
            buf_reset(&x->res->expected);
            buf_adds(&x->res->expected, want != NULL ? want : "?");
            free(want);
            buf_reset(&x->res->received);
            if (strcmp(outcome, "close") == 0) {
                buf_adds(&x->res->received, "(end of file, no reply byte)");
            } else if (strcmp(outcome, "preclose") == 0) {
                buf_adds(&x->res->received, "(end of file before the greeting)");
            } else {
                buf_adds(&x->res->received, outcome);
            }
            rc = failf(x, "unexpected handshake result");
        } else if (strcmp(outcome, "01") != 0 && strcmp(outcome, "close") != 0 &&
                   strcmp(outcome, "preclose") != 0) {
            char after[64];
            snprintf(after, sizeof after, "the reply %s", outcome);
            rc = expect_raw_close(x, c, bound(x, st), after);
        }
        if (rc == 0 && json_array_size(alts) > 1) {
            size_t used = strlen(x->res->variant);
            snprintf(x->res->variant + used, sizeof x->res->variant - used, "%s%s",
                     used > 0 ? "; " : "", outcome);
        }
    }
    json_decref(alts);
    return rc;
}

/* ---- the other steps ---------------------------------------------------- */

static struct client *need_client(struct x *x, const json_t *st)
{
    const char *l = json_string_value(json_object_get(st, "client"));
    struct client *c = client_get(x, l != NULL ? l : "", 0);
    if (c == NULL) {
        failf(x, "unknown client");
    }
    return c;
}

static int expect_frames_strict(struct x *x, struct client *c, const json_t *m,
                                int64_t deadline);

static int step_send(struct x *x, const json_t *st)
{
    struct client *c = need_client(x, st);
    if (c == NULL) {
        return -1;
    }
    json_t *hx = json_object_get(st, "hex");
    if (hx != NULL) {
        struct buf b;
        buf_init(&b);
        char *s = subst(json_string_value(hx), x->prefix, 1);
        (void)hex_decode(s, &b);
        free(s);
        queue_bytes(c, buf_data(&b), buf_len(&b));
        buf_free(&b);
        return 0;
    }
    struct built b;
    if (build_frame(x, c, json_object_get(st, "frame"), &b) != 0) {
        buf_free(&b.bytes);
        return -1;
    }
    json_t *split = json_object_get(st, "split_at");
    size_t from = 0;
    size_t si;
    json_t *sv;
    json_array_foreach(split, si, sv) {
        size_t to = (size_t)json_integer_value(sv);
        if (to <= from || to >= buf_len(&b.bytes)) {
            continue;
        }
        queue_bytes(c, buf_data(&b.bytes) + from, to - from);
        from = to;
        json_t *pt = json_object_get(st, "pause_t");
        int64_t pause = pt != NULL ? (int64_t)(json_number_value(pt) * (double)x->T_ms) : 50;
        pump(x, now_ms() + pause, pred_never, NULL);
    }
    queue_bytes(c, buf_data(&b.bytes) + from, buf_len(&b.bytes) - from);
    buf_free(&b.bytes);
    json_t *ack = json_object_get(st, "ack");
    if (ack == NULL) {
        return 0;
    }
    json_t *m = json_object();
    json_object_set_new(m, "kind", json_string("ack"));
    char idh[16];
    snprintf(idh, sizeof idh, "%02x%02x%02x%02x", b.op_id[0], b.op_id[1], b.op_id[2],
             b.op_id[3]);
    json_object_set_new(m, "op_id_hex", json_string(idh));
    json_object_set(m, "code", ack);
    int rc = expect_frames_strict(x, c, m, now_ms() + bound(x, st));
    json_decref(m);
    return rc;
}

static void fail_nothing(struct x *x, struct client *c, int rc, const json_t *m,
                         const char *what)
{
    set_expected(x, m);
    buf_reset(&x->res->received);
    if (rc == -1) {
        buf_adds(&x->res->received, "(end of file)");
        if (buf_len(&c->in) > 0) {
            buf_adds(&x->res->received, " after the incomplete frame ");
            hex_append(&x->res->received, buf_data(&c->in), buf_len(&c->in), 64);
        }
        failf(x, "%s: the connection closed instead%s", what, c->reset ? " (reset)" : "");
    } else {
        buf_adds(&x->res->received, "(nothing)");
        failf(x, "%s: nothing arrived in time", what);
    }
}

/* The next frame that is not ignorable must match m. */
static int expect_frames_strict(struct x *x, struct client *c, const json_t *m,
                                int64_t deadline)
{
    for (;;) {
        struct bframe f;
        int rc = next_frame(x, c, deadline, &f);
        if (rc == -2) {
            return -1;
        }
        if (rc != 1) {
            fail_nothing(x, c, rc, m, "expected a frame");
            return -1;
        }
        struct buf why;
        buf_init(&why);
        if (frame_match(x, &f, m, &why)) {
            buf_free(&why);
            bframe_free(&f);
            return 0;
        }
        if (ignorable(x, &f)) {
            buf_free(&why);
            bframe_free(&f);
            continue;
        }
        set_expected(x, m);
        set_received(x, &f);
        failf(x, "wrong frame: %s", buf_str(&why));
        buf_free(&why);
        bframe_free(&f);
        return -1;
    }
}

static int step_expect(struct x *x, const json_t *st)
{
    struct client *c = need_client(x, st);
    if (c == NULL) {
        return -1;
    }
    int64_t deadline = now_ms() + bound(x, st);
    json_t *list = json_object_get(st, "frames");
    json_t *one = json_object_get(st, "frame");
    json_int_t count = json_object_get(st, "count") != NULL
                           ? json_integer_value(json_object_get(st, "count")) : 1;
    if (one != NULL) {
        for (json_int_t i = 0; i < count; i++) {
            if (expect_frames_strict(x, c, one, deadline) != 0) {
                if (count > 1) {
                    buf_printf(&x->res->msg, " (frame %lld of %lld)", (long long)i + 1,
                               (long long)count);
                }
                return -1;
            }
        }
        return 0;
    }
    size_t n = json_array_size(list);
    if (!json_is_true(json_object_get(st, "any_order"))) {
        for (size_t i = 0; i < n; i++) {
            if (expect_frames_strict(x, c, json_array_get(list, i), deadline) != 0) {
                buf_printf(&x->res->msg, " (frame %zu of %zu)", i + 1u, n);
                return -1;
            }
        }
        return 0;
    }
    /* any order: take n non-ignorable frames, each must match an unused matcher */
    int used[64] = {0};
    if (n > 64) {
        return failf(x, "too many frames for any_order");
    }
    for (size_t got = 0; got < n;) {
        struct bframe f;
        int rc = next_frame(x, c, deadline, &f);
        if (rc == -2) {
            return -1;
        }
        if (rc != 1) {
            for (size_t i = 0; i < n; i++) {
                if (!used[i]) {
                    fail_nothing(x, c, rc, json_array_get(list, i), "expected a frame");
                    break;
                }
            }
            return -1;
        }
        int hit = -1;
        for (size_t i = 0; i < n && hit < 0; i++) {
            struct buf why;
            buf_init(&why);
            if (!used[i] && frame_match(x, &f, json_array_get(list, i), &why)) {
                hit = (int)i;
            }
            buf_free(&why);
        }
        if (hit >= 0) {
            used[hit] = 1;
            got++;
        } else if (!ignorable(x, &f)) {
            /* explain with the first unused matcher of the same type */
            struct buf why;
            buf_init(&why);
            size_t pick = n;
            for (size_t i = 0; i < n; i++) {
                const char *mk = json_string_value(json_object_get(json_array_get(list, i), "kind"));
                int is_ack = strcmp(mk, "ack") == 0;
                if (used[i]) {
                    continue;
                }
                if (pick == n) {
                    pick = i;
                }
                if (is_ack == (f.type == F_ACK)) {
                    pick = i;
                    break;
                }
            }
            if (pick < n) {
                set_expected(x, json_array_get(list, pick));
                (void)frame_match(x, &f, json_array_get(list, pick), &why);
            }
            set_received(x, &f);
            bframe_free(&f);
            failf(x, "a frame that matches none of the expected ones (any order): %s",
                  buf_str(&why));
            buf_free(&why);
            return -1;
        }
        bframe_free(&f);
    }
    return 0;
}

static int step_expect_bytes(struct x *x, const json_t *st)
{
    struct client *c = need_client(x, st);
    if (c == NULL) {
        return -1;
    }
    struct buf want;
    buf_init(&want);
    char *s = subst(json_string_value(json_object_get(st, "hex")), x->prefix, 1);
    (void)hex_decode(s, &want);
    free(s);
    int rc = wait_bytes(x, c, buf_len(&want), now_ms() + bound(x, st));
    size_t have = buf_len(&c->in) < buf_len(&want) ? buf_len(&c->in) : buf_len(&want);
    if (rc != 1 || memcmp(buf_data(&c->in), buf_data(&want), buf_len(&want)) != 0) {
        buf_reset(&x->res->expected);
        hex_append(&x->res->expected, buf_data(&want), buf_len(&want), 64);
        buf_reset(&x->res->received);
        hex_append(&x->res->received, buf_data(&c->in), rc == 1 ? have : buf_len(&c->in), 64);
        if (rc == -1) {
            buf_adds(&x->res->received, " then end of file");
        }
        buf_free(&want);
        return failf(x, rc == 0 ? "the expected bytes did not arrive in time"
                                : "wrong bytes");
    }
    buf_consume(&c->in, buf_len(&want));
    buf_free(&want);
    return 0;
}

static int step_wait_for(struct x *x, const json_t *st)
{
    struct client *c = need_client(x, st);
    if (c == NULL) {
        return -1;
    }
    json_t *m = json_object_get(st, "frame");
    json_t *forbid = json_object_get(st, "forbid");
    int64_t deadline = now_ms() + bound(x, st);
    int skipped = 0;
    for (;;) {
        struct bframe f;
        int rc = next_frame(x, c, deadline, &f);
        if (rc == -2) {
            return -1;
        }
        if (rc != 1) {
            fail_nothing(x, c, rc, m, "waited for a frame");
            buf_printf(&x->res->msg, " (%d other frame(s) skipped)", skipped);
            return -1;
        }
        struct buf why;
        buf_init(&why);
        int ok = frame_match(x, &f, m, &why);
        buf_free(&why);
        if (ok) {
            bframe_free(&f);
            return 0;
        }
        size_t i;
        json_t *fm;
        json_array_foreach(forbid, i, fm) {
            buf_init(&why);
            int bad = frame_match(x, &f, fm, &why);
            buf_free(&why);
            if (bad) {
                set_expected(x, m);
                set_received(x, &f);
                bframe_free(&f);
                return failf(x, "a forbidden frame arrived before the awaited one");
            }
        }
        skipped++;
        bframe_free(&f);
    }
}

static int step_expect_none(struct x *x, const json_t *st)
{
    struct client *list[CF_MAX_CLIENTS];
    size_t n = 0;
    json_t *one = json_object_get(st, "client");
    json_t *many = json_object_get(st, "clients");
    if (one != NULL) {
        list[n++] = client_get(x, json_string_value(one), 0);
    }
    size_t i;
    json_t *l;
    json_array_foreach(many, i, l) {
        if (n < CF_MAX_CLIENTS) {
            list[n++] = client_get(x, json_string_value(l), 0);
        }
    }
    for (i = 0; i < n; i++) {
        if (list[i] == NULL) {
            return failf(x, "unknown client");
        }
        list[i]->focus = 1;
    }
    pump(x, now_ms() + duration(x, st), pred_never, NULL);
    int strict = json_is_true(json_object_get(st, "strict"));
    int rc = 0;
    for (i = 0; i < n && rc == 0; i++) {
        struct client *c = list[i];
        c->focus = 0;
        for (;;) {
            struct bframe f;
            struct buf why;
            buf_init(&why);
            int tr = take_frame(c, &f, &why);
            if (tr < 0) {
                rc = failf(x, "client %s: the broker sent %s", c->label, buf_str(&why));
                buf_free(&why);
                break;
            }
            buf_free(&why);
            if (tr == 0) {
                break;
            }
            if (!ignorable(x, &f) || (strict && f.type != F_NOP)) {
                buf_reset(&x->res->expected);
                buf_adds(&x->res->expected, "(nothing)");
                set_received(x, &f);
                rc = failf(x, "client %s received a frame where none was expected", c->label);
                bframe_free(&f);
                break;
            }
            bframe_free(&f);
        }
        if (rc == 0 && c->eof) {
            rc = failf(x, "client %s: the broker closed the connection%s", c->label,
                       c->reset ? " (reset)" : "");
        }
    }
    for (i = 0; i < n; i++) {
        list[i]->focus = 0;
    }
    return rc;
}

static int step_expect_close(struct x *x, const json_t *st)
{
    struct client *c = need_client(x, st);
    if (c == NULL) {
        return -1;
    }
    int64_t b = bound(x, st);
    if (json_is_true(json_object_get(st, "raw"))) {
        return expect_raw_close(x, c, b, "this point");
    }
    json_t *allow = json_object_get(st, "allow");
    int any = json_is_string(allow);
    int strict = json_is_true(json_object_get(st, "strict"));
    int64_t deadline = now_ms() + b;
    c->focus = 1;
    for (;;) {
        pump(x, deadline, pred_frame, c);
        struct bframe f;
        struct buf why;
        buf_init(&why);
        int tr = take_frame(c, &f, &why);
        if (tr < 0) {
            c->focus = 0;
            int rc = any ? 0 : failf(x, "before closing, the broker sent %s", buf_str(&why));
            buf_free(&why);
            if (any) {
                buf_reset(&c->in);
                c->focus = 1;
                continue;
            }
            return rc;
        }
        buf_free(&why);
        if (tr == 1) {
            int ok = any || (strict ? f.type == F_NOP : ignorable(x, &f));
            size_t i;
            json_t *am;
            json_array_foreach(allow, i, am) {
                buf_init(&why);
                ok |= frame_match(x, &f, am, &why);
                buf_free(&why);
            }
            if (!ok) {
                c->focus = 0;
                buf_reset(&x->res->expected);
                buf_adds(&x->res->expected, "(end of file; only frames queued earlier may come "
                                            "first)");
                set_received(x, &f);
                bframe_free(&f);
                return failf(x, "instead of closing the connection, the broker sent a frame");
            }
            bframe_free(&f);
            continue;
        }
        if (c->eof) {
            c->focus = 0;
            if (buf_len(&c->in) > 0 && !any) {
                buf_reset(&x->res->received);
                hex_append(&x->res->received, buf_data(&c->in), buf_len(&c->in), 64);
                return failf(x, "the connection closed in the middle of a frame");
            }
            return 0;
        }
        if (now_ms() >= deadline) {
            c->focus = 0;
            buf_reset(&x->res->expected);
            buf_adds(&x->res->expected, "(end of file)");
            buf_reset(&x->res->received);
            buf_adds(&x->res->received, "(the connection stayed open)");
            return failf(x, "the connection was not closed within %lld ms", (long long)b);
        }
    }
}

static int step_barrier(struct x *x, const json_t *st)
{
    struct client *a = need_client(x, st);
    if (a == NULL) {
        return -1;
    }
    size_t i;
    json_t *l;
    json_array_foreach(json_object_get(st, "to"), i, l) {
        struct client *t = client_get(x, json_string_value(l), 0);
        if (t == NULL) {
            return failf(x, "unknown barrier target");
        }
        char payload[64];
        snprintf(payload, sizeof payload, "barrier-%u", ++x->barrier_seq);
        json_t *fr = json_object();
        json_object_set_new(fr, "op", json_string("message"));
        json_object_set_new(fr, "qos", json_integer(1));
        struct buf tgt;
        buf_init(&tgt);
        static const char digits[] = "0123456789abcdef";
        for (size_t k = 0; k < buf_len(&t->name); k++) {
            buf_addc(&tgt, (uint8_t)digits[buf_data(&t->name)[k] >> 4]);
            buf_addc(&tgt, (uint8_t)digits[buf_data(&t->name)[k] & 15u]);
        }
        json_object_set_new(fr, "target_hex", json_string(buf_str(&tgt)));
        json_object_set_new(fr, "payload", json_string(payload));
        struct built b;
        int rc = build_frame(x, a, fr, &b);
        json_decref(fr);
        if (rc != 0) {
            buf_free(&tgt);
            buf_free(&b.bytes);
            return -1;
        }
        queue_bytes(a, buf_data(&b.bytes), buf_len(&b.bytes));
        buf_free(&b.bytes);
        json_t *msg = json_object();
        json_object_set_new(msg, "kind", json_string("message"));
        struct buf snd;
        buf_init(&snd);
        for (size_t k = 0; k < buf_len(&a->name); k++) {
            buf_addc(&snd, (uint8_t)digits[buf_data(&a->name)[k] >> 4]);
            buf_addc(&snd, (uint8_t)digits[buf_data(&a->name)[k] & 15u]);
        }
        json_object_set_new(msg, "sender_hex", json_string(buf_str(&snd)));
        json_object_set_new(msg, "payload", json_string(payload));
        json_object_set_new(msg, "realtime", json_integer(0));
        json_t *ack = json_object();
        json_object_set_new(ack, "kind", json_string("ack"));
        char idh[16];
        snprintf(idh, sizeof idh, "%02x%02x%02x%02x", b.op_id[0], b.op_id[1], b.op_id[2],
                 b.op_id[3]);
        json_object_set_new(ack, "op_id_hex", json_string(idh));
        json_object_set_new(ack, "code", json_string("01"));
        int64_t deadline = now_ms() + x->bound_ms;
        if (t == a) {
            rc = expect_frames_strict(x, a, msg, deadline);
            if (rc == 0) {
                rc = expect_frames_strict(x, a, ack, deadline);
            }
        } else {
            rc = expect_frames_strict(x, a, ack, deadline);
            if (rc == 0) {
                rc = expect_frames_strict(x, t, msg, deadline);
                if (rc != 0) {
                    buf_printf(&x->res->msg, " (barrier message to client %s: every frame "
                               "from %s queued before it must have been consumed)", t->label,
                               a->label);
                }
            }
        }
        json_decref(msg);
        json_decref(ack);
        buf_free(&tgt);
        buf_free(&snd);
        if (rc != 0) {
            return -1;
        }
    }
    return 0;
}

static int step_close(struct x *x, const json_t *st)
{
    struct client *c = need_client(x, st);
    if (c == NULL) {
        return -1;
    }
    int64_t deadline = now_ms() + 1000;
    while (buf_len(&c->out) > 0 && !c->wclosed && now_ms() < deadline) {
        pump(x, now_ms() + 10, pred_never, NULL);
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    return 0;
}

static int step_expect_variant(struct x *x, const json_t *st)
{
    struct client *c = need_client(x, st);
    if (c == NULL) {
        return -1;
    }
    json_t *until = json_object_get(st, "until");
    json_t *vs = json_object_get(st, "variants");
    int64_t b = bound(x, st);
    size_t i;
    json_t *v;
    if (json_is_string(until)) {
        c->focus = 1;
        pump(x, now_ms() + b, pred_eof, c);
        c->focus = 0;
        if (!c->eof) {
            return failf(x, "the connection was not closed within %lld ms", (long long)b);
        }
        json_array_foreach(vs, i, v) {
            struct buf want;
            buf_init(&want);
            (void)field_bytes(x, v, "hex", &want);
            int ok = buf_len(&want) == buf_len(&c->in) &&
                     memcmp(buf_data(&want), buf_data(&c->in), buf_len(&want)) == 0;
            buf_free(&want);
            if (ok) {
                size_t used = strlen(x->res->variant);
                snprintf(x->res->variant + used, sizeof x->res->variant - used, "%s%s",
                         used > 0 ? "; " : "", json_string_value(json_object_get(v, "name")));
                buf_reset(&c->in);
                return 0;
            }
        }
        buf_reset(&x->res->received);
        hex_append(&x->res->received, buf_data(&c->in), buf_len(&c->in), 64);
        buf_adds(&x->res->received, " then end of file");
        buf_reset(&x->res->expected);
        json_array_foreach(vs, i, v) {
            buf_printf(&x->res->expected, "%s[%s: ", i > 0 ? " or " : "",
                       json_string_value(json_object_get(v, "name")));
            struct buf want;
            buf_init(&want);
            (void)field_bytes(x, v, "hex", &want);
            hex_append(&x->res->expected, buf_data(&want), buf_len(&want), 16);
            buf_free(&want);
            buf_adds(&x->res->expected, " then end of file]");
        }
        return failf(x, "the bytes before end of file match none of the allowed variants");
    }
    /* collect frames until the terminator */
    struct bframe got[16];
    size_t ng = 0;
    int64_t deadline = now_ms() + b;
    int rc = 0;
    for (;;) {
        struct bframe f;
        int nr = next_frame(x, c, deadline, &f);
        if (nr == -2) {
            rc = -1;
            break;
        }
        if (nr != 1) {
            fail_nothing(x, c, nr, until, "waited for the end of the variant");
            rc = -1;
            break;
        }
        struct buf why;
        buf_init(&why);
        int end = frame_match(x, &f, until, &why);
        buf_free(&why);
        if (end) {
            bframe_free(&f);
            break;
        }
        if (ignorable(x, &f)) {
            bframe_free(&f);
            continue;
        }
        if (ng == 16) {
            bframe_free(&f);
            rc = failf(x, "too many frames before the end of the variant");
            break;
        }
        got[ng++] = f;
    }
    if (rc == 0) {
        const char *hit = NULL;
        json_array_foreach(vs, i, v) {
            json_t *fr = json_object_get(v, "frames");
            if (json_array_size(fr) != ng) {
                continue;
            }
            int ok = 1;
            for (size_t j = 0; j < ng && ok; j++) {
                struct buf why;
                buf_init(&why);
                ok = frame_match(x, &got[j], json_array_get(fr, j), &why);
                buf_free(&why);
            }
            if (ok) {
                hit = json_string_value(json_object_get(v, "name"));
                break;
            }
        }
        if (hit != NULL) {
            size_t used = strlen(x->res->variant);
            snprintf(x->res->variant + used, sizeof x->res->variant - used, "%s%s",
                     used > 0 ? "; " : "", hit);
        } else {
            buf_reset(&x->res->received);
            for (size_t j = 0; j < ng; j++) {
                if (j > 0) {
                    buf_adds(&x->res->received, " | ");
                }
                hex_append(&x->res->received, got[j].raw, got[j].raw_len, 32);
            }
            if (ng == 0) {
                buf_adds(&x->res->received, "(no frame)");
            }
            buf_reset(&x->res->expected);
            json_array_foreach(vs, i, v) {
                buf_printf(&x->res->expected, "%s[%s: %zu frame(s)]", i > 0 ? " or " : "",
                           json_string_value(json_object_get(v, "name")),
                           json_array_size(json_object_get(v, "frames")));
            }
            rc = failf(x, "the frames before the terminator match none of the allowed "
                          "variants");
        }
    }
    for (size_t j = 0; j < ng; j++) {
        bframe_free(&got[j]);
    }
    return rc;
}

static int pred_flushed(struct x *x, void *arg)
{
    (void)x;
    struct client *c = arg;
    return buf_len(&c->out) == 0 || c->wclosed;
}

static int step_flood(struct x *x, const json_t *st)
{
    struct client *c = need_client(x, st);
    if (c == NULL) {
        return -1;
    }
    json_t *fr = json_object_get(st, "frame");
    uint8_t okc = 0x01;
    json_t *acks = json_object_get(st, "acks");
    if (acks != NULL) {
        (void)json_byte(acks, &okc);
    }
    json_t *until = json_object_get(st, "until_ack");
    int64_t b = bound(x, st);
    if (until == NULL && json_is_true(json_object_get(st, "lockstep"))) {
        /* one frame at a time: send, then wait for its ACK */
        json_int_t count = json_integer_value(json_object_get(st, "count"));
        for (json_int_t i = 0; i < count; i++) {
            struct built bb;
            if (build_frame(x, c, fr, &bb) != 0) {
                buf_free(&bb.bytes);
                return -1;
            }
            queue_bytes(c, buf_data(&bb.bytes), buf_len(&bb.bytes));
            buf_free(&bb.bytes);
            json_t *m = json_object();
            json_object_set_new(m, "kind", json_string("ack"));
            char idh[16], cs[4];
            snprintf(idh, sizeof idh, "%02x%02x%02x%02x", bb.op_id[0], bb.op_id[1], bb.op_id[2],
                     bb.op_id[3]);
            snprintf(cs, sizeof cs, "%02x", okc);
            json_object_set_new(m, "op_id_hex", json_string(idh));
            json_object_set_new(m, "code", json_string(cs));
            int rc = expect_frames_strict(x, c, m, now_ms() + b);
            json_decref(m);
            if (rc != 0) {
                buf_printf(&x->res->msg, " (ACK %lld of %lld)", (long long)i + 1,
                           (long long)count);
                return -1;
            }
        }
        return 0;
    }
    if (until == NULL) {
        json_int_t count = json_integer_value(json_object_get(st, "count"));
        uint8_t first_id[4] = {0};
        int wants_ack = 0;
        for (json_int_t i = 0; i < count; i++) {
            struct built bb;
            if (build_frame(x, c, fr, &bb) != 0) {
                buf_free(&bb.bytes);
                return -1;
            }
            if (i == 0) {
                memcpy(first_id, bb.op_id, 4);
            }
            wants_ack = (bb.flags / 64u) & 1u;
            queue_bytes(c, buf_data(&bb.bytes), buf_len(&bb.bytes));
            buf_free(&bb.bytes);
        }
        int64_t deadline = now_ms() + b;
        pump(x, deadline, pred_flushed, c);
        if (buf_len(&c->out) > 0 && !c->wclosed) {
            return failf(x, "the broker did not read the flood of %lld frames within %lld ms "
                         "(it must keep reading from the sender)", (long long)count,
                         (long long)b);
        }
        if (!wants_ack) {
            return 0;
        }
        uint32_t id = (uint32_t)first_id[0] + (uint32_t)first_id[1] * 256u +
                      (uint32_t)first_id[2] * 65536u + (uint32_t)first_id[3] * 16777216u;
        for (json_int_t i = 0; i < count; i++) {
            json_t *m = json_object();
            json_object_set_new(m, "kind", json_string("ack"));
            json_object_set_new(m, "op_id", json_integer((json_int_t)(id + (uint32_t)i)));
            char cs[4];
            snprintf(cs, sizeof cs, "%02x", okc);
            json_object_set_new(m, "code", json_string(cs));
            int rc = expect_frames_strict(x, c, m, deadline + b);
            json_decref(m);
            if (rc != 0) {
                buf_printf(&x->res->msg, " (ACK %lld of %lld)", (long long)i + 1,
                           (long long)count);
                return -1;
            }
        }
        return 0;
    }
    uint8_t want;
    (void)json_byte(until, &want);
    json_int_t max = json_integer_value(json_object_get(st, "max"));
    for (json_int_t i = 0; i < max; i++) {
        struct built bb;
        if (build_frame(x, c, fr, &bb) != 0) {
            buf_free(&bb.bytes);
            return -1;
        }
        queue_bytes(c, buf_data(&bb.bytes), buf_len(&bb.bytes));
        buf_free(&bb.bytes);
        int64_t deadline = now_ms() + b;
        for (;;) {
            struct bframe f;
            int rc = next_frame(x, c, deadline, &f);
            if (rc == -2) {
                return -1;
            }
            if (rc != 1) {
                json_t *m = json_object();
                json_object_set_new(m, "kind", json_string("ack"));
                fail_nothing(x, c, rc, m, "flood: waiting for an ACK");
                json_decref(m);
                return -1;
            }
            if (ignorable(x, &f)) {
                bframe_free(&f);
                continue;
            }
            if (f.type != F_ACK || memcmp(f.raw + 1, bb.op_id, 4) != 0 ||
                (f.code != want && f.code != okc)) {
                buf_reset(&x->res->expected);
                buf_printf(&x->res->expected, "fe %02x %02x %02x %02x %02x (or %02x)",
                           bb.op_id[0], bb.op_id[1], bb.op_id[2], bb.op_id[3], okc, want);
                set_received(x, &f);
                bframe_free(&f);
                return failf(x, "flood: unexpected frame after frame %lld", (long long)i + 1);
            }
            int done = f.code == want;
            bframe_free(&f);
            if (done) {
                if (x->r->verbose) {
                    fprintf(stderr, "#   flood: ACK %02x after %lld frames\n", want,
                            (long long)i + 1);
                }
                return 0;
            }
            break;
        }
    }
    return failf(x, "flood: no ACK %02x after %lld frames", want, (long long)max);
}

static int step_count_nops(struct x *x, const json_t *st)
{
    struct client *c = need_client(x, st);
    if (c == NULL) {
        return -1;
    }
    int64_t end = now_ms() + duration(x, st);
    int nops = 0;
    c->focus = 1;
    while (now_ms() < end) {
        pump(x, end, pred_frame, c);
        for (;;) {
            struct bframe f;
            struct buf why;
            buf_init(&why);
            int tr = take_frame(c, &f, &why);
            if (tr < 0) {
                c->focus = 0;
                int rc = failf(x, "the broker sent %s", buf_str(&why));
                buf_free(&why);
                return rc;
            }
            buf_free(&why);
            if (tr == 0) {
                break;
            }
            if (f.type == F_NOP) {
                nops++;
            } else if (!ignorable(x, &f)) {
                c->focus = 0;
                set_received(x, &f);
                bframe_free(&f);
                return failf(x, "an unexpected frame arrived while counting NOPs");
            }
            bframe_free(&f);
        }
        if (c->eof) {
            c->focus = 0;
            return failf(x, "the connection closed while counting NOPs (after %d)", nops);
        }
    }
    c->focus = 0;
    json_t *mn = json_object_get(st, "min");
    json_t *mx = json_object_get(st, "max");
    if ((mn != NULL && nops < json_integer_value(mn)) ||
        (mx != NULL && nops > json_integer_value(mx))) {
        return failf(x, "%d NOP(s) arrived in %lld ms; expected %s%lld%s%s%lld", nops,
                     (long long)duration(x, st), mn != NULL ? "at least " : "",
                     mn != NULL ? (long long)json_integer_value(mn) : 0LL,
                     mn != NULL && mx != NULL ? " and " : "", mx != NULL ? "at most " : "",
                     mx != NULL ? (long long)json_integer_value(mx) : 0LL);
    }
    if (x->r->verbose) {
        fprintf(stderr, "#   %d NOP(s)\n", nops);
    }
    return 0;
}

static int step_fifo_write(struct x *x, const json_t *st)
{
    if (x->in->fifo[0] == '\0') {
        return failf(x, "fifo_write needs the broker option fifo");
    }
    struct buf line;
    buf_init(&line);
    if (field_bytes(x, st, "line", &line) < 0) {
        buf_free(&line);
        return failf(x, "bad line_hex");
    }
    json_t *nl = json_object_get(st, "newline");
    if (nl == NULL || json_is_true(nl)) {
        buf_addc(&line, '\n');
    }
    int64_t deadline = now_ms() + x->bound_ms;
    int fd = -1;
    while (fd < 0) {
        fd = open(x->in->fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            if (now_ms() >= deadline) {
                int e = errno;
                buf_free(&line);
                return failf(x, "cannot open the FIFO %s for writing: %s", x->in->fifo,
                             strerror(e));
            }
            sleep_ms(10);
        }
    }
    size_t off = 0;
    while (off < buf_len(&line)) {
        ssize_t n = write(fd, buf_data(&line) + off, buf_len(&line) - off);
        if (n > 0) {
            off += (size_t)n;
        } else if (n < 0 && (errno == EAGAIN || errno == EINTR) && now_ms() < deadline) {
            sleep_ms(5);
        } else {
            int e = errno;
            close(fd);
            buf_free(&line);
            return failf(x, "writing to the FIFO failed: %s", strerror(e));
        }
    }
    close(fd);
    buf_free(&line);
    return 0;
}

static int step_fifo_check(struct x *x, const json_t *st)
{
    if (x->in->fifo[0] == '\0') {
        return failf(x, "fifo_check needs the broker option fifo");
    }
    struct stat sb;
    if (stat(x->in->fifo, &sb) != 0) {
        return failf(x, "the FIFO %s does not exist: %s", x->in->fifo, strerror(errno));
    }
    unsigned long want = strtoul(json_string_value(json_object_get(st, "mode")), NULL, 8);
    if (!S_ISFIFO(sb.st_mode)) {
        return failf(x, "%s is not a FIFO", x->in->fifo);
    }
    if ((unsigned long)(sb.st_mode & 07777) != want) {
        buf_reset(&x->res->expected);
        buf_printf(&x->res->expected, "mode %04lo", want);
        buf_reset(&x->res->received);
        buf_printf(&x->res->received, "mode %04lo", (unsigned long)(sb.st_mode & 07777));
        return failf(x, "the FIFO has the wrong file mode");
    }
    return 0;
}

static int run_step(struct x *x, json_t *st)
{
    const char *d = json_string_value(json_object_get(st, "do"));
    x->stepname = d;
    x->step = st;
    if (x->r->verbose) {
        char *s = json_dumps(st, JSON_COMPACT | JSON_PRESERVE_ORDER);
        fprintf(stderr, "#   step %d: %s\n", x->stepno, s != NULL ? s : d);
        free(s);
    }
    if (strcmp(d, "connect") == 0) {
        return step_connect(x, st);
    }
    if (strcmp(d, "open") == 0) {
        struct client *c = client_get(x, json_string_value(json_object_get(st, "client")), 1);
        return open_client(x, c, st);
    }
    if (strcmp(d, "send") == 0) {
        return step_send(x, st);
    }
    if (strcmp(d, "expect") == 0) {
        return step_expect(x, st);
    }
    if (strcmp(d, "expect_bytes") == 0) {
        return step_expect_bytes(x, st);
    }
    if (strcmp(d, "wait_for") == 0) {
        return step_wait_for(x, st);
    }
    if (strcmp(d, "expect_none") == 0) {
        return step_expect_none(x, st);
    }
    if (strcmp(d, "expect_close") == 0) {
        return step_expect_close(x, st);
    }
    if (strcmp(d, "barrier") == 0) {
        return step_barrier(x, st);
    }
    if (strcmp(d, "sleep") == 0) {
        pump(x, now_ms() + duration(x, st), pred_never, NULL);
        return 0;
    }
    if (strcmp(d, "close") == 0) {
        return step_close(x, st);
    }
    if (strcmp(d, "expect_variant") == 0) {
        return step_expect_variant(x, st);
    }
    if (strcmp(d, "flood") == 0) {
        return step_flood(x, st);
    }
    if (strcmp(d, "count_nops") == 0) {
        return step_count_nops(x, st);
    }
    if (strcmp(d, "fifo_write") == 0) {
        return step_fifo_write(x, st);
    }
    if (strcmp(d, "fifo_check") == 0) {
        return step_fifo_check(x, st);
    }
    if (strcmp(d, "update_acl") == 0) {
        if (x->in->acl[0] == '\0' || x->in->pid <= 0) {
            return failf(x, "update_acl needs a spawned broker with the option acl");
        }
        if (acl_write(x->in->acl, json_object_get(st, "acl"), x->prefix) != 0) {
            return failf(x, "cannot rewrite %s", x->in->acl);
        }
        if (kill(x->in->pid, x->r->reload_signal) != 0) {
            return failf(x, "cannot signal the broker: %s", strerror(errno));
        }
        return 0;
    }
    if (strcmp(d, "stop_broker") == 0) {
        if (!x->in->is_private || x->in->pid <= 0) {
            return failf(x, "stop_broker needs a broker the runner started for this case");
        }
        return instance_signal_stop(x->in) == 0 ? 0 : failf(x, "cannot signal the broker");
    }
    return failf(x, "unknown step %s", d);
}

/* ---- optional features ---------------------------------------------------- */

/* Does the broker have the internal client .broker (Section 13)? A message
 * to it with QoS 1 is acknowledged 01 when it exists, 71 when not. */
static int probe_core_rpc(struct x *x)
{
    json_t *st = json_pack("{s:s, s:s, s:s}", "do", "connect", "client", "~probe", "name",
                           "${p}.probe");
    struct client *c = client_get(x, "~probe", 1);
    char outcome[32] = "";
    int have = -1;
    if (handshake(x, c, st, outcome, sizeof outcome) == 0 && strcmp(outcome, "01") == 0) {
        static const uint8_t frame[] = {0x01, 0x00, 0x00, 0x00, 0x52, 0x12, 0x00, 0x00,
                                        0x00, '.', 'b', 'r', 'o', 'k', 'e', 'r', 0x00,
                                        0x01, 0x00, 0x00, 0x00, 0x00, 't', 'e', 's', 't', 0x00};
        queue_bytes(c, frame, sizeof frame);
        int64_t deadline = now_ms() + x->bound_ms;
        while (have < 0) {
            struct bframe f;
            int rc = next_frame(x, c, deadline, &f);
            if (rc != 1) {
                break;
            }
            if (f.type == F_ACK) {
                have = f.code == 0x01 ? 1 : 0;
            }
            bframe_free(&f);
        }
    }
    json_decref(st);
    client_reset(c);
    x->ncl--;
    if (x->res->st == ST_FAIL) { /* the probe itself failed: let the case run */
        x->res->st = ST_PASS;
        buf_reset(&x->res->msg);
        have = 1;
    }
    return have < 0 ? 1 : have;
}

void run_case(struct run *r, struct kase *k, struct result *res)
{
    struct x *x = xmalloc(sizeof *x);
    memset(x, 0, sizeof *x);
    x->r = r;
    x->k = k;
    x->res = res;
    res->st = ST_PASS;
    res->variant[0] = '\0';
    int64_t t0 = now_ms();
    snprintf(x->prefix, sizeof x->prefix, "%sn%03x", r->run_prefix, (unsigned)k->index);
    x->T_ms = (int64_t)(r->T * 1000.0);
    x->ping_ms = x->T_ms / 4 < 1000 ? x->T_ms / 4 : 1000;
    if (x->ping_ms < 10) {
        x->ping_ms = 10;
    }
    x->bound_ms = (int64_t)(r->wait_t * (double)x->T_ms);
    if (x->bound_ms < 1000) {
        x->bound_ms = 1000;
    }
    int needs_stop = 0, needs_reload = 0;
    size_t i;
    json_t *st;
    json_array_foreach(k->steps, i, st) {
        const char *d = json_string_value(json_object_get(st, "do"));
        needs_stop |= strcmp(d, "stop_broker") == 0;
        needs_reload |= strcmp(d, "update_acl") == 0;
    }
    char why[512] = "";
    x->in = NULL;
    if (needs_reload && r->target == NULL && r->reload_signal == 0) {
        snprintf(why, sizeof why, "the case reloads the access policy: needs --reload-signal");
    } else {
        x->in = instance_for(r, k->broker, x->prefix, needs_stop || needs_reload, why,
                             sizeof why);
    }
    if (x->in == NULL) {
        res->st = ST_SKIP;
        buf_adds(&res->msg, why);
    } else if (x->in->failed) {
        failf(x, "the broker instance for this case did not start: %s", x->in->err);
    } else {
        int skip = 0;
        if (strcmp(k->profile, "rpc") == 0) {
            if (x->in->core_rpc == 0) {
                x->in->core_rpc = probe_core_rpc(x) ? 1 : -1;
            }
            if (x->in->core_rpc < 0) {
                res->st = ST_SKIP;
                buf_adds(&res->msg, "the broker has no internal client .broker (OPTIONAL, "
                                    "Section 13): a message to it is acknowledged 71");
                skip = 1;
            }
        }
        json_array_foreach(k->steps, i, st) {
            if (skip) {
                break;
            }
            x->stepno = (int)i + 1;
            if (run_step(x, st) != 0) {
                break;
            }
        }
    }
    for (i = 0; i < x->ncl; i++) {
        client_reset(&x->cl[i]);
    }
    if (x->in != NULL && x->in->is_private) {
        instance_stop(x->in);
    }
    res->ms = now_ms() - t0;
    free(x);
}
