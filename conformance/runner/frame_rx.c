/* Frames the broker sends: complete-frame detection, decoding with the core
 * codec and the checks every delivered frame must pass, waiting for the
 * next one, and the foreign traffic steps skip. */
#define _DEFAULT_SOURCE
#include "exec.h"

#include <stdlib.h>
#include <string.h>

#include "busrt/codes.h"

void bframe_free(struct bframe *f)
{
    free(f->raw);
    memset(f, 0, sizeof *f);
}

const uint8_t *bframe_span(const struct bframe *f, struct busrt_span s)
{
    return f->raw + BUSRT_FRAME_HEADER_LEN + s.off;
}

/* 1 when c->in starts with a complete frame, or with bytes that cannot start
 * one (take_frame then reports it); else 0. */
static int frame_ready(const struct cf_client *c)
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

int pred_frame(struct case_exec *ce, void *arg)
{
    (void)ce;
    struct cf_client *c = arg;
    return frame_ready(c) || c->eof;
}

/* Takes one frame from c->in. Returns 1, 0 when none is complete, or -1 for
 * bytes that are not a valid broker frame (why says which rule). */
int take_frame(struct cf_client *c, struct bframe *f, struct buf *why)
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
int next_frame(struct case_exec *ce, struct cf_client *c, int64_t deadline, struct bframe *f)
{
    c->focus = 1;
    pump(ce, deadline, pred_frame, c);
    c->focus = 0;
    struct buf why;
    buf_init(&why);
    int rc = take_frame(c, f, &why);
    if (rc < 0) {
        failf(ce, "the broker sent %s", buf_str(&why));
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
int ignorable(struct case_exec *ce, const struct bframe *f)
{
    if (f->type == F_NOP) {
        return 1;
    }
    if (f->type == F_ACK) {
        return 0;
    }
    const uint8_t *s = bframe_span(f, f->b.sender);
    size_t sl = f->b.sender.len;
    if (starts_with(s, sl, ce->r->run_prefix)) {
        return 0;
    }
    if (equals(s, sl, ".broker")) {
        const uint8_t *t = bframe_span(f, f->b.topic);
        size_t tl = f->b.topic.len;
        return f->kind == BUSRT_KIND_PUBLISH &&
               (equals(t, tl, ".broker/info") || equals(t, tl, ".broker/warn"));
    }
    return 1;
}
