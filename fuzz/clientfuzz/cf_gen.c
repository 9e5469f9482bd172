/* Generated broker-to-client streams (Section 6 of spec/busrt-v1.md): a
 * sequence of units, each with what a client must do with it, an ending,
 * and the points where the bytes are split into separate writes. Every
 * choice comes from the stream's byte source (nf_src, seeded by the run's
 * seed and the stream number). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "busrt/le.h"
#include "busrt/utf8.h"
#include "cf.h"

/* The client's default limit of libbusrt (64 MiB) and values around it. */
#define CF_MIB (1024u * 1024u)

struct gen {
    struct cf_stream *st;
    const struct cf_vec *v;
    struct nf_src src;
};

static uint32_t pick(struct gen *g, uint32_t n)
{
    return nf_pick(&g->src, n);
}

static int chance(struct gen *g, unsigned pct)
{
    return nf_chance(&g->src, pct);
}

struct cf_unit *cf_unit_add(struct cf_stream *st, int type, size_t off, size_t len,
                            const char *req)
{
    if (st->nu == st->cu) {
        st->cu = st->cu > 0 ? st->cu * 2 : 32;
        st->u = nf_xrealloc(st->u, st->cu * sizeof *st->u);
    }
    struct cf_unit *u = &st->u[st->nu++];
    memset(u, 0, sizeof *u);
    u->type = (uint8_t)type;
    u->off = off;
    u->len = len;
    u->req = req;
    return u;
}

const char *cf_utype_name(int t)
{
    static const char *const names[] = {"frame", "badtext", "nosep", "nop", "ack",
                                        "fatal", "huge", "cut", "trail"};
    return t >= 0 && t <= U_TRAIL ? names[t] : "?";
}

const char *cf_end_name(int e)
{
    static const char *const names[] = {"close", "fatal", "cut", "huge", "handshake"};
    return e >= 0 && e <= END_HS ? names[e] : "?";
}

const char *cf_hs_name(int h)
{
    static const char *const names[] = {"none", "greeting", "greeting-cut", "reply1",
                                        "reply2", "eof2"};
    return h >= 0 && h <= HS_EOF2 ? names[h] : "?";
}

const char *cf_kind_name(uint8_t kind)
{
    switch (kind) {
    case 0x01:
        return "publication";
    case 0x12:
        return "message";
    case 0x13:
        return "broadcast";
    default:
        return "?";
    }
}

static void put_hdr(struct nf_buf *b, uint8_t kind, uint32_t len, uint8_t rt)
{
    uint8_t h[6];
    h[0] = kind;
    busrt_put_le32(h + 1, len);
    h[5] = rt;
    nf_buf_add(b, h, 6);
}

static uint8_t any_kind(struct gen *g)
{
    static const uint8_t k[] = {0x01, 0x12, 0x13};
    return k[pick(g, 3)];
}

/* The realtime byte: mostly 00 and 01, sometimes any value (REQ-DLV-5). */
static uint8_t any_rt(struct gen *g)
{
    uint32_t r = pick(g, 100);
    if (r < 55) {
        return 0;
    }
    if (r < 85) {
        return 1;
    }
    if (r < 92) {
        const struct cf_blob *h = &g->v->hdr_ok[pick(g, (uint32_t)g->v->nhdr_ok)];
        return h->p[5];
    }
    return (uint8_t)(2 + pick(g, 254));
}

static void rand_bytes(struct gen *g, struct nf_buf *b, size_t n, int nonul)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)pick(g, 256);
        if (nonul && c == 0) {
            c = 0x20;
        }
        nf_buf_addc(b, c);
    }
}

static void ascii(struct gen *g, struct nf_buf *b, size_t n, const char *alpha)
{
    size_t k = strlen(alpha);
    for (size_t i = 0; i < n; i++) {
        nf_buf_addc(b, (uint8_t)alpha[pick(g, (uint32_t)k)]);
    }
}

/* A well-formed UTF-8 sender name or topic (no NUL). */
static void gen_text(struct gen *g, struct nf_buf *b, int topic)
{
    const struct cf_vec *v = g->v;
    uint32_t r = pick(g, 100);
    if (r < 20) {
        const struct cf_blob *x = &v->names[pick(g, (uint32_t)v->nnames)];
        nf_buf_add(b, x->p, x->n);
    } else if (r < 35) {
        const struct cf_blob *x = &v->utf8_good[pick(g, (uint32_t)v->nutf8_good)];
        nf_buf_add(b, x->p, x->n);
    } else if (r < 70) {
        ascii(g, b, 1 + pick(g, 20), topic ? "abcxyz019/+#-_." : "abcxyz019.-_%");
    } else if (r < 78) {
        /* empty */
    } else if (r < 83) {
        nf_buf_adds(b, topic ? ".broker/warn" : ".broker");
    } else if (r < 90) {
        ascii(g, b, 1 + pick(g, 8), "abcdef");
        nf_buf_adds(b, topic ? "/%%/" : "%%");
        ascii(g, b, pick(g, 8), "abc123%");
    } else if (r < 95) {
        ascii(g, b, 100 + pick(g, 1900), "abcdefghijklmnopqrstuvwxyz./");
    } else {
        nf_buf_adds(b, "\xc3\xa9t\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80");
    }
}

/* Text with one sequence that is not UTF-8 (from utf8.json) in it. */
static void gen_bad_text(struct gen *g, struct nf_buf *b, const char **id)
{
    const struct cf_blob *x = &g->v->utf8_bad[pick(g, (uint32_t)g->v->nutf8_bad)];
    ascii(g, b, pick(g, 6), "abc./");
    nf_buf_add(b, x->p, x->n);
    ascii(g, b, pick(g, 6), "abc./");
    *id = x->id;
}

static void gen_payload(struct gen *g, struct nf_buf *b)
{
    uint32_t r = pick(g, 1000);
    if (r < 250) {
        return;
    }
    if (r < 700) {
        rand_bytes(g, b, 1 + pick(g, 48), 0);
    } else if (r < 800) {
        ascii(g, b, 1 + pick(g, 64), "hello world {}\":,0123456789");
    } else if (r < 880) {
        const struct cf_vbody *x = &g->v->body[pick(g, (uint32_t)g->v->nbody)];
        nf_buf_add(b, x->b.p, x->b.n);
    } else if (r < 970) {
        rand_bytes(g, b, 1024 + pick(g, 15 * 1024), 0);
    } else if (r < 997) {
        rand_bytes(g, b, 64 * 1024 + pick(g, 448 * 1024), 0);
    } else {
        rand_bytes(g, b, CF_MIB + pick(g, CF_MIB), 0);
    }
}

/* Appends a delivery built from its fields; the unit says what must be
 * delivered. */
static struct cf_unit *add_frame(struct gen *g, int type, uint8_t kind, uint8_t rt,
                                 const struct nf_buf *s, const struct nf_buf *t,
                                 const struct nf_buf *p, const char *req)
{
    struct nf_buf *b = &g->st->bytes;
    size_t off = b->len;
    size_t blen = s->len + 1 + p->len + (kind == 0x01 ? t->len + 1 : 0);
    put_hdr(b, kind, (uint32_t)blen, rt);
    struct cf_unit *u = cf_unit_add(g->st, type, off, 0, req);
    u->kind = kind;
    u->rt = rt;
    u->sender = (struct cf_span){b->len, s->len};
    nf_buf_add(b, s->p, s->len);
    nf_buf_addc(b, 0);
    if (kind == 0x01) {
        u->topic = (struct cf_span){b->len, t->len};
        nf_buf_add(b, t->p, t->len);
        nf_buf_addc(b, 0);
    } else {
        u->topic = (struct cf_span){b->len, 0};
    }
    u->payload = (struct cf_span){b->len, p->len};
    nf_buf_add(b, p->p, p->len);
    u->len = b->len - off;
    return u;
}

static void unit_frame(struct gen *g)
{
    struct nf_buf s = {0}, t = {0}, p = {0};
    uint8_t kind = any_kind(g), rt = any_rt(g);
    gen_text(g, &s, 0);
    if (kind == 0x01) {
        gen_text(g, &t, 1);
    }
    gen_payload(g, &p);
    struct cf_unit *u = add_frame(g, U_FRAME, kind, rt, &s, &t, &p,
                                  rt > 1 ? "REQ-DLV-5" : kind == 0x01 ? "REQ-DLV-3" : "REQ-DLV-2");
    snprintf(u->what, sizeof u->what, "%s, realtime byte %02x, %zu payload bytes",
             cf_kind_name(kind), rt, p.len);
    nf_buf_free(&s);
    nf_buf_free(&t);
    nf_buf_free(&p);
}

/* A body of frame_body.json behind a header of its kind. */
static void unit_vbody(struct gen *g)
{
    const struct cf_vbody *x = &g->v->body[pick(g, (uint32_t)g->v->nbody)];
    struct nf_buf *b = &g->st->bytes;
    size_t off = b->len;
    uint8_t rt = any_rt(g);
    put_hdr(b, x->kind, (uint32_t)x->b.n, rt);
    size_t body = b->len;
    nf_buf_add(b, x->b.p, x->b.n);
    /* A sender or topic that is not UTF-8 need not be delivered. */
    int text = x->ok && busrt_utf8_valid(x->b.p + x->sender.off, x->sender.len) &&
               busrt_utf8_valid(x->b.p + x->topic.off, x->topic.len);
    struct cf_unit *u = cf_unit_add(g->st, !x->ok ? U_NOSEP : text ? U_FRAME : U_BADTEXT, off,
                                    b->len - off, "REQ-DLV-7");
    u->kind = x->kind;
    u->rt = rt;
    if (x->ok) {
        u->sender = (struct cf_span){body + x->sender.off, x->sender.len};
        u->topic = (struct cf_span){body + x->topic.off, x->topic.len};
        u->payload = (struct cf_span){body + x->payload.off, x->payload.len};
    }
    snprintf(u->what, sizeof u->what, "%s with the body of vector %s%s", cf_kind_name(x->kind),
             x->b.id, !x->ok ? " (a required NUL missing)" : text ? ""
                                                                  : " (sender or topic not UTF-8)");
}

/* A header of frame_header.json (kind, length, realtime byte) with a body
 * of exactly that length. */
static void unit_vheader(struct gen *g)
{
    const struct cf_blob *h = &g->v->hdr_ok[pick(g, (uint32_t)g->v->nhdr_ok)];
    uint32_t len = busrt_get_le32(h->p + 1);
    uint8_t kind = h->p[0];
    if (len > 8192) {
        unit_frame(g);
        return;
    }
    size_t nuls = kind == 0x01 ? 2 : 1;
    struct nf_buf s = {0}, t = {0}, p = {0};
    if (len < nuls) {
        struct nf_buf *b = &g->st->bytes;
        size_t off = b->len;
        nf_buf_add(b, h->p, 6);
        rand_bytes(g, b, len, 1);
        struct cf_unit *u = cf_unit_add(g->st, U_NOSEP, off, b->len - off, "REQ-DLV-7");
        snprintf(u->what, sizeof u->what, "header of vector %s, %u body bytes without NUL",
                 h->id, len);
        return;
    }
    size_t room = len - nuls, sl = pick(g, (uint32_t)room + 1), tl = 0;
    ascii(g, &s, sl, "abc.%");
    if (kind == 0x01) {
        tl = pick(g, (uint32_t)(room - sl) + 1);
        ascii(g, &t, tl, "abc/+#");
    }
    rand_bytes(g, &p, room - sl - tl, 0);
    struct cf_unit *u = add_frame(g, U_FRAME, kind, h->p[5], &s, &t, &p, "REQ-DLV-1");
    snprintf(u->what, sizeof u->what, "header of vector %s (%s, %u body bytes, realtime %02x)",
             h->id, cf_kind_name(kind), len, h->p[5]);
    nf_buf_free(&s);
    nf_buf_free(&t);
    nf_buf_free(&p);
}

static void unit_nop(struct gen *g, size_t count)
{
    struct nf_buf *b = &g->st->bytes;
    size_t off = b->len;
    int odd = 0;
    for (size_t i = 0; i < count; i++) {
        if (chance(g, count > 1 ? 5 : 30)) {
            const struct cf_blob *h = &g->v->hdr_nop[pick(g, (uint32_t)g->v->nhdr_nop)];
            nf_buf_add(b, h->p, 6);
            odd++;
        } else {
            put_hdr(b, 0, 0, 0);
        }
    }
    struct cf_unit *u = cf_unit_add(g->st, U_NOP, off, b->len - off, "REQ-DLV-4");
    snprintf(u->what, sizeof u->what, "%zu NOP%s (%d with bytes 1..5 not zero)", count,
             count > 1 ? "s" : "", odd);
}

static void unit_ack(struct gen *g)
{
    struct nf_buf *b = &g->st->bytes;
    size_t off = b->len;
    struct cf_unit *u;
    if (chance(g, 50)) {
        const struct cf_blob *a = &g->v->ack[pick(g, (uint32_t)g->v->nack)];
        nf_buf_add(b, a->p, 6);
        u = cf_unit_add(g->st, U_ACK, off, 6, "REQ-ACK-7");
        snprintf(u->what, sizeof u->what, "ACK of vector %s for an op id nobody waits for",
                 a->id);
    } else {
        uint8_t a[6];
        a[0] = 0xFE;
        busrt_put_le32(a + 1, (uint32_t)pick(g, 0xFFFFFFFFu) ^ 0x40000000u);
        a[5] = (uint8_t)pick(g, 256);
        nf_buf_add(b, a, 6);
        u = cf_unit_add(g->st, U_ACK, off, 6, "REQ-ACK-7");
        snprintf(u->what, sizeof u->what, "ACK for op id %08x (never sent), code %02x",
                 busrt_get_le32(a + 1), a[5]);
    }
}

static void unit_nosep(struct gen *g)
{
    struct nf_buf *b = &g->st->bytes, body = {0};
    uint8_t kind = any_kind(g);
    if (kind == 0x01 && chance(g, 60)) {
        gen_text(g, &body, 0);
        nf_buf_addc(&body, 0);
        rand_bytes(g, &body, pick(g, 40), 1);
    } else {
        rand_bytes(g, &body, pick(g, 40), 1);
    }
    size_t off = b->len;
    put_hdr(b, kind, (uint32_t)body.len, any_rt(g));
    nf_buf_add(b, body.p, body.len);
    struct cf_unit *u = cf_unit_add(g->st, U_NOSEP, off, b->len - off, "REQ-DLV-7");
    snprintf(u->what, sizeof u->what, "%s, %zu body bytes, a required NUL missing",
             cf_kind_name(kind), body.len);
    nf_buf_free(&body);
}

static void unit_badtext(struct gen *g)
{
    struct nf_buf s = {0}, t = {0}, p = {0};
    uint8_t kind = any_kind(g), rt = any_rt(g);
    const char *id = "";
    int bad_topic = kind == 0x01 && chance(g, 50);
    if (bad_topic) {
        gen_text(g, &s, 0);
        gen_bad_text(g, &t, &id);
    } else {
        gen_bad_text(g, &s, &id);
        if (kind == 0x01) {
            gen_text(g, &t, 1);
        }
    }
    rand_bytes(g, &p, pick(g, 16), 0);
    struct cf_unit *u = add_frame(g, U_BADTEXT, kind, rt, &s, &t, &p, "REQ-DLV-7");
    snprintf(u->what, sizeof u->what, "%s whose %s holds the bytes of vector %s (not UTF-8)",
             cf_kind_name(kind), bad_topic ? "topic" : "sender", id);
    nf_buf_free(&s);
    nf_buf_free(&t);
    nf_buf_free(&p);
}

static void unit_any(struct gen *g)
{
    uint32_t r = pick(g, 100);
    if (r < 42) {
        unit_frame(g);
    } else if (r < 50) {
        unit_vbody(g);
    } else if (r < 54) {
        unit_vheader(g);
    } else if (r < 62) {
        unit_nop(g, 1);
    } else if (r < 64) {
        unit_nop(g, chance(g, 10) ? 5000 + pick(g, 15000) : 50 + pick(g, 3000));
    } else if (r < 72) {
        unit_ack(g);
    } else if (r < 80) {
        unit_nosep(g);
    } else if (r < 88) {
        unit_badtext(g);
    } else {
        unit_frame(g);
    }
}

/* A first byte that is no frame type, then bytes nobody may look at. */
static void end_fatal(struct gen *g)
{
    struct nf_buf *b = &g->st->bytes;
    size_t off = b->len;
    struct cf_unit *u;
    if (chance(g, 70)) {
        const struct cf_blob *h = &g->v->hdr_bad[pick(g, (uint32_t)g->v->nhdr_bad)];
        nf_buf_add(b, h->p, 6);
        u = cf_unit_add(g->st, U_FATAL, off, 6, "REQ-DLV-8");
        snprintf(u->what, sizeof u->what, "header of vector %s: first byte %02x is no frame "
                                          "type", h->id, h->p[0]);
    } else {
        uint8_t k;
        do {
            k = (uint8_t)pick(g, 256);
        } while (k == 0 || k == 1 || k == 0x12 || k == 0x13 || k == 0xFE);
        nf_buf_addc(b, k);
        rand_bytes(g, b, 5, 0);
        u = cf_unit_add(g->st, U_FATAL, off, 6, "REQ-DLV-8");
        snprintf(u->what, sizeof u->what, "first byte %02x is no frame type", k);
    }
    g->st->end_off = off;
    size_t t0 = b->len, n = pick(g, 4);
    for (size_t i = 0; i < n; i++) {
        unit_frame(g);
    }
    g->st->nu -= n; /* they are trailing bytes, not units */
    rand_bytes(g, b, pick(g, 24), 0);
    if (b->len > t0) {
        u = cf_unit_add(g->st, U_TRAIL, t0, b->len - t0, "REQ-DLV-8");
        snprintf(u->what, sizeof u->what, "%zu bytes after it (%zu well-formed frames and "
                                          "garbage)", b->len - t0, n);
    }
}

/* The start of a unit, or a header announcing far more than follows; the
 * fuzzer then closes. */
static void end_cut(struct gen *g)
{
    struct nf_buf *b = &g->st->bytes;
    size_t off = b->len, nu = g->st->nu;
    if (chance(g, 40)) {
        uint8_t kind = any_kind(g);
        uint32_t extra = chance(g, 50) ? 1 + pick(g, 1000) : (uint32_t)pick(g, 0xFFFFFFFFu);
        size_t have = pick(g, 200);
        uint32_t len = have + extra < have ? 0xFFFFFFFFu :
                       (uint32_t)(have + extra > 0xFFFFFFFFu ? 0xFFFFFFFFu : have + extra);
        put_hdr(b, kind, len, any_rt(g));
        rand_bytes(g, b, have, 0);
        struct cf_unit *u = cf_unit_add(g->st, U_CUT, off, b->len - off, "REQ-ERR-6");
        snprintf(u->what, sizeof u->what, "%s header announcing %u body bytes, %zu sent, then "
                                          "the connection ends", cf_kind_name(kind), len, have);
        g->st->end_off = off;
        return;
    }
    do {
        b->len = off;
        g->st->nu = nu;
        uint32_t r = pick(g, 10);
        if (r < 6) {
            unit_frame(g);
        } else if (r < 7) {
            unit_ack(g);
        } else if (r < 8) {
            unit_nosep(g);
        } else {
            unit_vbody(g);
        }
    } while (b->len - off < 2);
    struct cf_unit *w = &g->st->u[g->st->nu - 1];
    size_t full = b->len - off, keep = 1 + pick(g, (uint32_t)(full - 1));
    b->len = off + keep;
    char what[200];
    snprintf(what, sizeof what, "the first %zu of %zu bytes of: %.100s", keep, full, w->what);
    g->st->nu = nu;
    struct cf_unit *u = cf_unit_add(g->st, U_CUT, off, keep, "REQ-ERR-6");
    memcpy(u->what, what, sizeof u->what - 1);
    u->what[sizeof u->what - 1] = 0;
    g->st->end_off = off;
}

static void end_huge(struct gen *g)
{
    static const uint32_t lens[] = {0xFFFFFFFFu, 0xFFFFFFFEu, 0xFFFEFFFFu, 0x80000000u,
                                    0x7FFFFFFFu, 64u * CF_MIB + 1u, 64u * CF_MIB, 256u * CF_MIB};
    struct nf_buf *b = &g->st->bytes;
    size_t off = b->len;
    uint8_t kind = any_kind(g);
    uint32_t len = chance(g, 70) ? lens[pick(g, 8)] :
                   chance(g, 50) ? 16u * CF_MIB + pick(g, 1000) : CF_MIB + pick(g, CF_MIB);
    put_hdr(b, kind, len, any_rt(g));
    size_t have = pick(g, 3) == 0 ? 0 : pick(g, 2000);
    if (have > 0) {
        ascii(g, b, 1 + pick(g, 10), "sender");
        nf_buf_addc(b, 0);
        rand_bytes(g, b, have, 0);
    }
    struct cf_unit *u = cf_unit_add(g->st, U_HUGE, off, b->len - off, "REQ-LIM-7");
    snprintf(u->what, sizeof u->what, "%s header announcing %u body bytes, %zu sent",
             cf_kind_name(kind), len, b->len - off - 6);
    g->st->end_off = off;
    g->st->hold_ms = 100 + (int)pick(g, 50);
}

static void add_split(struct cf_stream *st, size_t at)
{
    if (at <= st->pre_len || at >= st->bytes.len) {
        return;
    }
    if (st->nsplit == st->csplit) {
        st->csplit = st->csplit > 0 ? st->csplit * 2 : 64;
        st->split = nf_xrealloc(st->split, st->csplit * sizeof *st->split);
    }
    st->split[st->nsplit++] = at;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* Field boundaries of the unit at u: after the type byte, the length, the
 * realtime byte, and after the first two NULs of the body. */
static void field_splits(struct cf_stream *st, const struct cf_unit *u, int every_hdr_byte)
{
    add_split(st, u->off);
    if (u->type == U_NOP && u->len > 6) {
        return;
    }
    for (size_t k = 1; k < 6 && k < u->len; k++) {
        if (every_hdr_byte || k == 1 || k == 5) {
            add_split(st, u->off + k);
        }
    }
    int nul = 0;
    for (size_t k = 6; k < u->len && nul < 2; k++) {
        if (st->bytes.p[u->off + k] == 0) {
            add_split(st, u->off + k);
            add_split(st, u->off + k + 1);
            nul++;
        }
    }
    add_split(st, u->off + 6);
}

#define CF_MAX_WRITES 1500u

static void plan_splits(struct gen *g)
{
    struct cf_stream *st = g->st;
    size_t main_len = st->bytes.len - st->pre_len;
    uint32_t mode = pick(g, 6);
    const char *names[] = {"one write", "a write per unit", "at field boundaries",
                           "at random points", "byte by byte", "every header byte"};
    snprintf(st->mode, sizeof st->mode, "%s", names[mode]);
    for (size_t i = 0; i < st->nu && mode != 0 && mode != 3; i++) {
        if (mode == 1 || mode == 4) {
            add_split(st, st->u[i].off);
        } else {
            field_splits(st, &st->u[i], mode == 5);
        }
    }
    if (mode == 3) {
        size_t k = 1 + pick(g, 32);
        for (size_t i = 0; i < k && main_len > 1; i++) {
            add_split(st, st->pre_len + 1 + pick(g, (uint32_t)(main_len - 1)));
        }
    } else if (mode == 4 && main_len > 0) {
        size_t from = st->pre_len, n = main_len;
        if (n > 400) {
            from = st->u[pick(g, (uint32_t)st->nu)].off;
            n = 300;
        }
        for (size_t i = 0; i < n; i++) {
            add_split(st, from + i);
        }
    }
    if (st->nsplit > 0) {
        qsort(st->split, st->nsplit, sizeof *st->split, cmp_size);
        size_t k = 0;
        for (size_t i = 0; i < st->nsplit; i++) {
            if (k == 0 || st->split[k - 1] != st->split[i]) {
                st->split[k++] = st->split[i];
            }
        }
        st->nsplit = k > CF_MAX_WRITES ? CF_MAX_WRITES : k;
    }
}

static void gen_handshake(struct gen *g)
{
    struct cf_stream *st = g->st;
    st->end = END_HS;
    st->hs = 1 + (int)pick(g, 5);
    switch (st->hs) {
    case HS_GREETING:
        if (chance(g, 80)) {
            const struct cf_blob *x = &g->v->greet_bad[pick(g, (uint32_t)g->v->ngreet_bad)];
            memcpy(st->hs_bytes, x->p, 3);
        } else {
            do {
                for (int i = 0; i < 3; i++) {
                    st->hs_bytes[i] = (uint8_t)pick(g, 256);
                }
            } while (memcmp(st->hs_bytes, "\xEB\x01\x00", 3) == 0);
        }
        st->hs_len = 3;
        break;
    case HS_GREET_CUT:
        memcpy(st->hs_bytes, "\xEB\x01\x00", 3);
        st->hs_len = pick(g, 3);
        break;
    case HS_REPLY1:
    case HS_REPLY2: {
        static const uint8_t codes[] = {0x00, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76,
                                        0x77, 0x78, 0x79, 0xEB, 0xFE, 0xFF};
        st->hs_bytes[0] = chance(g, 70) ? codes[pick(g, sizeof codes)]
                                        : (uint8_t)(2 + pick(g, 254));
        st->hs_len = 1;
        break;
    }
    default:
        st->hs_len = 0;
        break;
    }
}

void cf_stream_gen(struct cf_stream *st, const struct cf_vec *v, uint64_t seed, long index)
{
    memset(st, 0, sizeof *st);
    st->seed = seed;
    st->index = index;
    struct gen g = {st, v, {0}};
    nf_src_prng(&g.src, seed, (uint64_t)index);
    if (chance(&g, 6)) {
        gen_handshake(&g);
        snprintf(st->mode, sizeof st->mode, "handshake");
        return;
    }
    /* Before the subscribe ACK: deliveries, NOPs, foreign ACKs. */
    if (chance(&g, 25)) {
        size_t n = 1 + pick(&g, 3);
        for (size_t i = 0; i < n; i++) {
            uint32_t r = pick(&g, 3);
            if (r == 0) {
                unit_frame(&g);
            } else if (r == 1) {
                unit_nop(&g, 1);
            } else {
                unit_ack(&g);
            }
        }
        st->pre_len = st->bytes.len;
    }
    size_t n = chance(&g, 10) ? pick(&g, 60) : pick(&g, 16);
    for (size_t i = 0; i < n; i++) {
        unit_any(&g);
    }
    uint32_t e = pick(&g, 100);
    st->end = e < 58 ? END_CLOSE : e < 74 ? END_FATAL : e < 94 ? END_CUT : END_HUGE;
    if (st->end == END_FATAL) {
        end_fatal(&g);
    } else if (st->end == END_CUT) {
        end_cut(&g);
    } else if (st->end == END_HUGE) {
        end_huge(&g);
    } else if (chance(&g, 6)) {
        st->idle_ms = 120;
    }
    if (st->end != END_CLOSE) {
        st->drain = chance(&g, 50);
    }
    plan_splits(&g);
}

void cf_stream_free(struct cf_stream *st)
{
    nf_buf_free(&st->bytes);
    free(st->u);
    free(st->split);
    memset(st, 0, sizeof *st);
}
