/* The generators of a session: names, topics, patterns, masks, payloads,
 * op ids and whole frames, every choice drawn from the session's byte
 * source. The order of the draws is what a seed or a recorded case
 * replays: a change here changes every session of every seed. */
#include "busrt/frame.h"
#include "busrt/le.h"
#include "nf_sess_int.h"

static const char *const NAME_CHUNKS[] = {"a", "b", "c", "", "?", "*", "\xc3\xa9", "x+"};
static const char *const SEC_SUFFIX[] = {"1", "2", "w.1", "", "%%", "\xc3\xa9"};
static const char *const TOPIC_CHUNKS[] = {"a", "b", "", "+", "#", "\xc3\xa9", "a+"};
static const char *const MASK_CHUNKS[] = {"a", "b", "c", "", "?", "*", "a*", "\xc3\xa9", "a%%1"};
static const char *const BAD_UTF8[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                       "\x80", "\xe2\x82", "\xff", "\xc3"};
#define NELEM(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

/* Where the next choice comes from: an offset into the recorded or fed
 * bytes. */
size_t nfs_src_pos(const struct nf_sess *S)
{
    if (S->src.rec != NULL) {
        return S->src.rec->len;
    }
    return S->src.data != NULL ? S->src.pos : 0;
}

static const char *pick_s(struct nf_sess *S, const char *const *v, uint32_t n)
{
    return v[nf_pick(&S->src, n)];
}

/* Appends 0 to kmax - 1 chunks of v, each after sep. */
static void add_chunks(struct nf_sess *S, struct nf_buf *b, uint32_t kmax, uint8_t sep,
                       const char *const *v, uint32_t n)
{
    uint32_t k = nf_pick(&S->src, kmax);
    for (uint32_t i = 0; i < k; i++) {
        nf_buf_addc(b, sep);
        nf_buf_adds(b, pick_s(S, v, n));
    }
}

void nfs_add_bad_utf8(struct nf_sess *S, struct nf_buf *b)
{
    nf_buf_adds(b, pick_s(S, BAD_UTF8, NELEM(BAD_UTF8)));
}

void nfs_gen_primary(struct nf_sess *S, struct nf_buf *b)
{
    nf_buf_add(b, S->prefix, S->prefix_len);
    add_chunks(S, b, 3, '.', NAME_CHUNKS, NELEM(NAME_CHUNKS));
}

void nfs_gen_topic(struct nf_sess *S, struct nf_buf *b)
{
    nf_buf_add(b, S->prefix, S->prefix_len);
    add_chunks(S, b, 4, '/', TOPIC_CHUNKS, NELEM(TOPIC_CHUNKS));
}

void nfs_gen_pattern(struct nf_sess *S, int c, int from_held, struct nf_buf *b)
{
    const struct nf_set *held = from_held == 1 ? &S->cl[c].subs : &S->cl[c].excls;
    if (from_held != 0 && held->n > 0 && nf_chance(&S->src, 70)) {
        const struct nf_pat *p = &held->v[nf_pick(&S->src, (uint32_t)held->n)];
        nf_buf_add(b, p->p, p->n);
        return;
    }
    uint32_t r = nf_pick(&S->src, 100);
    if (r < 70) {
        nf_buf_add(b, S->prefix, S->prefix_len);
    } else if (r < 80) {
        nf_buf_addc(b, '+');
    } else if (r < 88) {
        nf_buf_addc(b, '#');
    } else if (r < 92) {
        return; /* the empty pattern */
    } else if (r < 95) {
        nf_buf_adds(b, ".broker/warn");
        return;
    } else {
        nfs_gen_topic(S, b); /* a literal topic */
        return;
    }
    add_chunks(S, b, 4, '/', TOPIC_CHUNKS, NELEM(TOPIC_CHUNKS));
}

/* A live (or any used) slot other than ctl, or -1. */
int nfs_pick_client(struct nf_sess *S, int live_only, int allow_ctl)
{
    int v[NF_MAXC], n = 0;
    for (int i = 0; i < NF_MAXC; i++) {
        const struct nf_client *C = &S->cl[i];
        if ((C->st == NF_LIVE || (!live_only && C->name.len > 0)) && (allow_ctl || i != S->ctl)) {
            v[n++] = i;
        }
    }
    uint32_t k = nf_pick_fixed(&S->src, n > 0 ? (uint32_t)n : 1u);
    int c = n > 0 ? v[k] : -1;
    int b = nf_pick_slot(&S->src, c);
    for (int i = 0; i < n && b != c; i++) {
        c = v[i] == b ? b : c; /* a replay keeps the slot it recorded */
    }
    return c;
}

static void gen_mask(struct nf_sess *S, struct nf_buf *b)
{
    uint32_t r = nf_pick(&S->src, 100);
    if (r < 12) {
        int c = nfs_pick_client(S, 0, 1);
        if (c >= 0) {
            nf_buf_add(b, S->cl[c].name.p, S->cl[c].name.len);
            return;
        }
    }
    if (r < 80) {
        nf_buf_add(b, S->prefix, S->prefix_len);
    } else if (r < 94) {
        nf_buf_addc(b, '?');
    } else {
        nf_buf_addc(b, '*');
    }
    add_chunks(S, b, 4, '.', MASK_CHUNKS, NELEM(MASK_CHUNKS));
}

static uint32_t body_room(const struct nf_sess *S)
{
    uint32_t lim = S->o->body_limit > 0 ? S->o->body_limit : S->o->assume_body;
    return lim > 1024 ? lim - 512 : lim / 2;
}

void nfs_gen_payload(struct nf_sess *S, struct nf_buf *b)
{
    const size_t at_r = nfs_src_pos(S);
    uint32_t r = nf_pick(&S->src, 100);
    if (r < 4) {
        return; /* empty: REQ-BODY-6 */
    }
    uint8_t tag[4];
    busrt_put_le32(tag, ++S->ntag); /* unique per payload of the session */
    nf_buf_add(b, tag, 4);
    uint32_t n = nf_pick(&S->src, 25);
    if (r >= 94) { /* large: written in pieces by both sides */
        uint32_t room = body_room(S);
        uint32_t hi = room < 200000 ? room : 200000;
        n = hi > 1000 ? 1000 + nf_pick(&S->src, hi - 1000) : 0;
    }
    size_t at = b->len;
    for (uint32_t i = 0; i < n; i++) {
        nf_buf_addc(b, 0);
    }
    if (!S->src.compact) {
        const size_t c0 = nfs_src_pos(S);
        for (uint32_t i = 0; i < n; i++) {
            b->p[at + i] = (uint8_t)nf_pick(&S->src, 256);
        }
        if (S->npay == S->cpay) { /* for --minimize */
            S->cpay = S->cpay != 0 ? S->cpay * 2 : 64;
            S->pay = nf_xrealloc(S->pay, S->cpay * sizeof *S->pay);
        }
        S->pay[S->npay++] = (struct nf_pay){at_r, c0, nfs_src_pos(S), r >= 94 && n > 0};
    } else { /* a fuzz input: spend few bytes on payloads */
        uint8_t x = (uint8_t)nf_pick(&S->src, 256);
        for (uint32_t i = 0; i < n; i++) {
            b->p[at + i] = (uint8_t)(x + i * 7u);
        }
    }
}

static uint32_t gen_opid(struct nf_sess *S)
{
    uint32_t r = nf_pick(&S->src, 100);
    uint32_t v = r < 10 ? 0u : r < 15 ? 0xFFFFFFFFu : nf_pick(&S->src, 0xFFFFFFFFu);
    if ((v & 0xFE000000u) == (NF_SYNC_BASE & 0xFE000000u) ||
        (v & 0xFFFF0000u) == NF_BAD_BASE) {
        v ^= 0x10000000u; /* keep the ranges of sync, op 0 and garbage op ids apart */
    }
    return v;
}

/* Appends a frame: header (the core encoder for valid operations) + body. */
void nfs_add_frame(struct nf_buf *out, uint32_t opid, uint8_t flags, const uint8_t *body,
                   size_t blen, uint32_t len_field)
{
    uint8_t h[9];
    struct busrt_client_header ch = {opid, (uint8_t)(flags % 64u), (uint8_t)(flags / 64u),
                                     len_field};
    if (busrt_client_header_encode(&ch, h, sizeof h) != 9) {
        busrt_put_le32(h, opid);
        h[4] = flags;
        busrt_put_le32(h + 5, len_field);
    }
    nf_buf_add(out, h, 9);
    nf_buf_add(out, body, blen);
}

enum { G_PUB, G_PFOR, G_MSG, G_BCAST, G_SUB, G_UNSUB, G_EXCL, G_UNEXCL, G_OP0, G_PING, G_N };

/* Appends one valid frame of client c. send_only: no subscribe family. */
void nfs_gen_frame(struct nf_sess *S, int c, int send_only, struct nf_buf *out)
{
    static const unsigned w[G_N] = {22, 10, 16, 13, 16, 6, 6, 4, 3, 4};
    unsigned total = 0;
    for (int i = 0; i < G_N; i++) {
        total += (send_only && i >= G_SUB && i <= G_UNEXCL) ? 0 : w[i];
    }
    unsigned r = nf_pick(&S->src, total);
    int g = 0;
    for (g = 0; g < G_N; g++) {
        unsigned wi = (send_only && g >= G_SUB && g <= G_UNEXCL) ? 0 : w[g];
        if (r < wi) {
            break;
        }
        r -= wi;
    }
    struct nf_client *C = &S->cl[c];
    if (g == G_SUB && C->subs.n >= NF_MAXPAT - 4) {
        g = G_UNSUB;
    }
    if (g == G_EXCL && C->excls.n >= NF_MAXPAT - 4) {
        g = G_UNEXCL;
    }
    uint8_t qos = (uint8_t)nf_pick(&S->src, 4);
    uint32_t opid = gen_opid(S);
    struct nf_buf body = {0};
    uint8_t op = 0;
    switch (g) {
    case G_PUB:
    case G_PFOR:
        op = g == G_PUB ? BUSRT_OP_PUBLISH : BUSRT_OP_PUBLISH_FOR;
        nfs_gen_topic(S, &body);
        nf_buf_addc(&body, 0);
        if (g == G_PFOR) {
            int r2 = nfs_pick_client(S, 0, 0);
            uint32_t k = nf_pick(&S->src, 10);
            if (r2 >= 0 && k < 7) {
                const struct nf_client *R = &S->cl[r2];
                /* mostly the primary part; sometimes the full (secondary) name */
                nf_buf_add(&body, R->name.p, k < 5 ? R->plen : R->name.len);
            } else if (k < 9) {
                nfs_gen_primary(S, &body);
            }
            nf_buf_addc(&body, 0);
        }
        nfs_gen_payload(S, &body);
        break;
    case G_MSG: {
        op = BUSRT_OP_MESSAGE;
        int r2 = nfs_pick_client(S, nf_chance(&S->src, 75), 1);
        if (r2 >= 0 && nf_chance(&S->src, 85)) {
            nf_buf_add(&body, S->cl[r2].name.p, S->cl[r2].name.len);
        } else {
            nfs_gen_primary(S, &body);
        }
        nf_buf_addc(&body, 0);
        nfs_gen_payload(S, &body);
        break;
    }
    case G_BCAST:
        op = BUSRT_OP_BROADCAST;
        gen_mask(S, &body);
        nf_buf_addc(&body, 0);
        nfs_gen_payload(S, &body);
        break;
    case G_SUB:
    case G_UNSUB:
    case G_EXCL:
    case G_UNEXCL: {
        op = (uint8_t)(BUSRT_OP_SUBSCRIBE + (unsigned)(g - G_SUB));
        int from = g == G_UNSUB ? 1 : g == G_UNEXCL ? 2 : g == G_EXCL ? 1 : 0;
        uint32_t k = nf_pick(&S->src, 100);
        if (k < 4) {
            break; /* empty body: the one pattern "" (REQ-QUIRK-3) */
        }
        uint32_t np = 1 + nf_pick(&S->src, 3);
        for (uint32_t i = 0; i < np; i++) {
            if (i > 0) {
                nf_buf_addc(&body, 0);
            }
            nfs_gen_pattern(S, c, from, &body);
        }
        if (k < 7) {
            nf_buf_addc(&body, 0); /* trailing NUL: one more, empty, pattern */
        }
        break;
    }
    case G_OP0: /* REQ-BODY-5, REQ-QUIRK-2 */
        op = BUSRT_OP_NOP;
        qos = (uint8_t)(1 + nf_pick(&S->src, 3));
        opid = 0x5F000000u | (S->seq & 0xFFFFu); /* its ACK is optional: keep it apart */
        nf_buf_adds(&body, "x");
        nf_buf_addc(&body, 0);
        nfs_gen_payload(S, &body);
        break;
    default: { /* ping, with any op id and length field (REQ-QUIRK-7) */
        uint8_t h[9] = {0};
        if (nf_chance(&S->src, 50)) {
            busrt_put_le32(h, opid);
            busrt_put_le32(h + 5, nf_pick(&S->src, 0xFFFFFFFFu));
        }
        nf_buf_add(out, h, 9);
        nf_buf_free(&body);
        return;
    }
    }
    nfs_add_frame(out, opid, (uint8_t)(op + qos * 64u), body.p, body.len, (uint32_t)body.len);
    nf_buf_free(&body);
}

/* A name for a new registration, per the kinds of REQ-NAME-*. */
void nfs_gen_reg_name(struct nf_sess *S, struct nf_buf *b)
{
    uint32_t r = nf_pick(&S->src, 100);
    int p = nfs_pick_client(S, 1, 0);
    if (r < 50 || (r < 82 && p < 0)) {
        nfs_gen_primary(S, b);
    } else if (r < 72) { /* a secondary of a registered client */
        nf_buf_add(b, S->cl[p].name.p, S->cl[p].plen);
        nf_buf_adds(b, "%%");
        nf_buf_adds(b, pick_s(S, SEC_SUFFIX, NELEM(SEC_SUFFIX)));
    } else if (r < 76) { /* a secondary of a name that is not registered */
        nfs_gen_primary(S, b);
        nf_buf_adds(b, "%%");
        nf_buf_adds(b, pick_s(S, SEC_SUFFIX, NELEM(SEC_SUFFIX)));
    } else if (r < 82) { /* a duplicate */
        nf_buf_add(b, S->cl[p].name.p, S->cl[p].name.len);
    } else if (r < 86) {
        return; /* empty */
    } else if (r < 91) {
        nf_buf_addc(b, '.');
        nf_buf_add(b, S->prefix, S->prefix_len);
    } else {
        nfs_gen_primary(S, b);
        nfs_add_bad_utf8(S, b);
    }
}
