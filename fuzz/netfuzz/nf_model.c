/* The spec model of a broker, as seen by the clients of one session.
 *
 * It is fed every byte a session client sends, in order, at the moment it
 * is sent, and decides from spec/busrt-v1.md alone what each complete frame
 * does: the deliveries each session client must receive (exact bytes), the
 * ACK the sender must receive, and whether the broker must close the
 * connection. Matching and UTF-8 come from the independent model in
 * ref/tests/model; the core codec is used only to split bodies and lists.
 *
 * Clients outside the session (foreign traffic) are invisible: a target,
 * mask or topic may reach them, which is not observed. A message to a name
 * outside the session's namespace may be answered 01 or 71. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ref/tests/model/model.h"
#include "busrt/frame.h"
#include "busrt/le.h"
#include "nf.h"

/* ---- Expectations ------------------------------------------------------ */

static void exp_push(struct nf_client *c, const uint8_t *b, size_t n, int is_ack, uint32_t seq)
{
    if (c->nexp == c->cexp) {
        c->cexp = c->cexp > 0 ? c->cexp * 2 : 16;
        c->exp = nf_xrealloc(c->exp, c->cexp * sizeof *c->exp);
    }
    struct nf_exp *e = &c->exp[c->nexp++];
    memset(e, 0, sizeof *e);
    e->b = nf_xmalloc(n);
    memcpy(e->b, b, n);
    e->n = n;
    e->is_ack = (uint8_t)is_ack;
    e->seq = seq;
}

void nf_exp_remove(struct nf_client *c, size_t i)
{
    free(c->exp[i].b);
    memmove(c->exp + i, c->exp + i + 1, (c->nexp - i - 1) * sizeof *c->exp);
    c->nexp--;
}

void nf_exp_clear(struct nf_client *c)
{
    for (size_t i = 0; i < c->nexp; i++) {
        free(c->exp[i].b);
    }
    c->nexp = 0;
}

/* Adds an expectation to receiver r and records it in the transcript. */
static void expect(struct nf_sess *S, int r, const uint8_t *b, size_t n, int is_ack,
                   uint8_t alt, int optional, const char *req)
{
    struct nf_client *R = &S->cl[r];
    exp_push(R, b, n, is_ack, S->seq);
    R->exp[R->nexp - 1].alt = alt;
    R->exp[R->nexp - 1].optional = (uint8_t)optional;
    R->exp[R->nexp - 1].req = req;
    unsigned fl = (optional ? NF_EVF_OPTIONAL : 0u) | (S->case_skip ? NF_EVF_SKIP : 0u);
    R->exp[R->nexp - 1].ev = S->tr.nev;
    uint8_t tmp[7];
    if (is_ack && alt != 0) {
        memcpy(tmp, b, 6);
        tmp[6] = alt;
        nf_trace_ev(&S->tr, EV_EXPECT, R->conn, tmp, 7, (int)(fl | NF_EVF_ALT));
    } else {
        nf_trace_ev(&S->tr, EV_EXPECT, R->conn, b, n, (int)fl);
    }
}

/* ---- Pattern sets ------------------------------------------------------- */

static long set_find(const struct nf_set *s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].n == n && (n == 0 || memcmp(s->v[i].p, p, n) == 0)) {
            return (long)i;
        }
    }
    return -1;
}

static void set_add(struct nf_set *s, const uint8_t *p, size_t n)
{
    if (set_find(s, p, n) >= 0) {
        return; /* REQ-TOPIC-7, REQ-EXCL-3: a set */
    }
    if (s->n == s->cap) {
        s->cap = s->cap > 0 ? s->cap * 2 : 8;
        s->v = nf_xrealloc(s->v, s->cap * sizeof *s->v);
    }
    s->v[s->n].p = nf_xmalloc(n);
    if (n > 0) {
        memcpy(s->v[s->n].p, p, n);
    }
    s->v[s->n].n = n;
    s->n++;
}

static void set_del(struct nf_set *s, const uint8_t *p, size_t n)
{
    long i = set_find(s, p, n);
    if (i < 0) {
        return; /* removing a pattern not held changes nothing */
    }
    free(s->v[i].p);
    s->v[i] = s->v[s->n - 1];
    s->n--;
}

void nf_set_free(struct nf_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].p);
    }
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* ---- Rules --------------------------------------------------------------- */

int nf_model_in_ns(const struct nf_sess *S, const uint8_t *s, size_t n)
{
    return n >= S->prefix_len && memcmp(s, S->prefix, S->prefix_len) == 0;
}

/* Section 8.5: deliver iff a subscription matches and no exclusion does. */
int nf_model_wants_pub(const struct nf_client *c, const uint8_t *t, size_t tn)
{
    for (size_t i = 0; i < c->excls.n; i++) {
        if (model_topic(c->excls.v[i].p, c->excls.v[i].n, t, tn)) {
            return 0;
        }
    }
    for (size_t i = 0; i < c->subs.n; i++) {
        if (model_topic(c->subs.v[i].p, c->subs.v[i].n, t, tn)) {
            return 1;
        }
    }
    return 0;
}

static size_t primary_len(const uint8_t *n, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (n[i] == '%' && n[i + 1] == '%') {
            return i;
        }
    }
    return len;
}

static int is_primary(const struct nf_client *c)
{
    return c->plen == c->name.len;
}

int nf_model_reg_reply(struct nf_sess *S, const uint8_t *name, size_t n)
{
    if (!model_utf8_dfa(name, n)) {
        return 0; /* REQ-NAME-2, REQ-QUIRK-1: close, with no reply or 72 */
    }
    if (n == 0 || name[0] == '.') {
        return BUSRT_RC_DATA; /* REQ-NAME-1 */
    }
    size_t pl = primary_len(name, n);
    if (pl < n) { /* REQ-NAME-5: the primary must be registered */
        int found = 0;
        for (int i = 0; i < NF_MAXC; i++) {
            const struct nf_client *c = &S->cl[i];
            if (c->reg && is_primary(c) && c->name.len == pl && memcmp(c->name.p, name, pl) == 0) {
                found = 1;
            }
        }
        if (!found) {
            return BUSRT_RC_NOT_REGISTERED;
        }
    }
    for (int i = 0; i < NF_MAXC; i++) {
        if (S->cl[i].reg && nf_buf_eq(&S->cl[i].name, name, n)) {
            return BUSRT_RC_BUSY; /* REQ-NAME-3 */
        }
    }
    return BUSRT_RC_OK;
}

void nf_model_register(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    C->reg = 1;
    C->st = NF_LIVE;
    C->plen = primary_len(C->name.p, C->name.len);
    nf_set_free(&C->subs);
    nf_set_free(&C->excls);
    set_add(&C->subs, (const uint8_t *)".broker/warn", 12); /* REQ-TOPIC-9 */
    C->sent.len = 0;
    C->released = 0;
}

void nf_model_kill(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    if (!C->reg) {
        return;
    }
    C->reg = 0;
    C->released = 0;
    C->sent.len = 0;
    nf_trace_cancel(S, C);
    nf_exp_clear(C); /* frames it receives from now on do not count */
    if (!is_primary(C)) {
        return;
    }
    for (int i = 0; i < NF_MAXC; i++) { /* REQ-NAME-6 */
        struct nf_client *s = &S->cl[i];
        if (i != c && s->reg && !is_primary(s) && s->plen == C->name.len &&
            memcmp(s->name.p, C->name.p, s->plen) == 0) {
            s->reg = 0;
            s->released = 0;
            s->close_req = "REQ-NAME-6";
            s->sent.len = 0;
            nf_trace_cancel(S, s);
            nf_exp_clear(s);
            if (s->fd >= 0) {
                nf_trace_ev(&S->tr, EV_DYING, s->conn, NULL, 0, 0);
                s->st = NF_DYING;
                s->eof_deadline = nf_now_ms() + S->o->wait_ms;
            } else {
                s->st = NF_GONE;
            }
        }
    }
}

/* ---- Frames ------------------------------------------------------------- */

static void delivery(struct nf_sess *S, int r, int from, uint8_t kind, int rt,
                     const uint8_t *topic, size_t tn, const uint8_t *pay, size_t pn,
                     const char *req)
{
    const struct nf_buf *snd = &S->cl[from].name;
    size_t blen = snd->len + 1 + pn + (kind == BUSRT_KIND_PUBLISH ? tn + 1 : 0);
    struct nf_buf f = {0};
    uint8_t h[6] = {kind, 0, 0, 0, 0, (uint8_t)rt};
    busrt_put_le32(h + 1, (uint32_t)blen); /* REQ-DLV-1 */
    nf_buf_add(&f, h, 6);
    nf_buf_add(&f, snd->p, snd->len); /* REQ-DLV-6 */
    nf_buf_addc(&f, 0);
    if (kind == BUSRT_KIND_PUBLISH) { /* REQ-DLV-3 */
        nf_buf_add(&f, topic, tn);
        nf_buf_addc(&f, 0);
    }
    nf_buf_add(&f, pay, pn); /* REQ-DLV-2, REQ-BODY-6 */
    expect(S, r, f.p, f.len, 0, 0, 0, req);
    nf_buf_free(&f);
}

/* Applies one complete frame of client c. Returns its fate. */
static int frame(struct nf_sess *S, int c, const uint8_t *hdr, const uint8_t *body, uint32_t blen)
{
    struct nf_client *C = &S->cl[c];
    const uint8_t op = (uint8_t)(hdr[4] % 64u), qos = (uint8_t)(hdr[4] / 64u);
    const int rt = (qos & 2u) != 0, needs_ack = (qos & 1u) != 0;
    S->seq++;
    struct busrt_client_body fb;
    if (busrt_client_body_split(op, body, blen, &fb) != 0) {
        C->close_req = "REQ-BODY-4";
        return NF_CLOSED;
    }
    C->close_req = "REQ-UTF8-2"; /* every other close below */
    const uint8_t *t = body + fb.target.off;
    const size_t tn = fb.target.len;
    const uint8_t *pay = body + fb.payload.off;
    const size_t pn = fb.payload.len;
    uint8_t code = BUSRT_RC_OK, alt = 0;
    int optional = 0;
    const char *ack_req = "REQ-ACK-4";
    switch (op) {
    case BUSRT_OP_NOP: /* REQ-BODY-5: no effect; its ACK is optional (REQ-ACK-9) */
        if (!model_utf8_dfa(t, tn)) {
            return NF_DOOMED; /* "a broker may close" (section 5.6) */
        }
        optional = 1;
        ack_req = "REQ-ACK-9";
        break;
    case BUSRT_OP_PUBLISH:
        if (!model_utf8_dfa(t, tn)) {
            return NF_CLOSED; /* REQ-UTF8-2 */
        }
        for (int r = 0; r < NF_MAXC; r++) {
            if (S->cl[r].reg && nf_model_wants_pub(&S->cl[r], t, tn)) {
                delivery(S, r, c, BUSRT_KIND_PUBLISH, rt, t, tn, pay, pn, "REQ-TOPIC-6");
            }
        }
        break;
    case BUSRT_OP_PUBLISH_FOR: {
        const uint8_t *rcv = body + fb.receiver.off;
        const size_t rn = fb.receiver.len;
        if (!model_utf8_dfa(t, tn) || !model_utf8_dfa(rcv, rn)) {
            return NF_CLOSED;
        }
        for (int r = 0; r < NF_MAXC; r++) { /* REQ-PFOR-1, REQ-PFOR-2 */
            const struct nf_client *R = &S->cl[r];
            if (R->reg && R->plen == rn && memcmp(R->name.p, rcv, rn) == 0 &&
                nf_model_wants_pub(R, t, tn)) {
                delivery(S, r, c, BUSRT_KIND_PUBLISH, rt, t, tn, pay, pn, "REQ-PFOR-1");
            }
        }
        break;
    }
    case BUSRT_OP_MESSAGE: {
        if (!model_utf8_dfa(t, tn)) {
            return NF_CLOSED;
        }
        int found = 0;
        for (int r = 0; r < NF_MAXC; r++) { /* REQ-MSG-1, REQ-MSG-3 */
            if (S->cl[r].reg && nf_buf_eq(&S->cl[r].name, t, tn)) {
                delivery(S, r, c, BUSRT_KIND_MESSAGE, rt, NULL, 0, pay, pn, "REQ-MSG-1");
                found = 1;
            }
        }
        ack_req = "REQ-ACK-3";
        if (!found) {
            code = BUSRT_RC_NOT_REGISTERED; /* REQ-MSG-2 */
            if (!nf_model_in_ns(S, t, tn)) {
                alt = BUSRT_RC_OK; /* a client outside the session may hold it */
            }
        }
        break;
    }
    case BUSRT_OP_BROADCAST:
        if (!model_utf8_dfa(t, tn)) {
            return NF_CLOSED;
        }
        for (int r = 0; r < NF_MAXC; r++) { /* REQ-MASK-5, REQ-MASK-6 */
            if (S->cl[r].reg && model_mask(t, tn, S->cl[r].name.p, S->cl[r].name.len)) {
                delivery(S, r, c, BUSRT_KIND_BROADCAST, rt, NULL, 0, pay, pn, "REQ-MASK-5");
            }
        }
        break;
    default: { /* subscribe family: REQ-BODY-3, REQ-TOPIC-7, REQ-EXCL-2/3 */
        if (!model_utf8_dfa(body, blen)) {
            return NF_CLOSED;
        }
        ack_req = "REQ-ACK-5";
        size_t pos = 0;
        struct busrt_span it;
        while (busrt_list_next(body, blen, &pos, &it) == 1) {
            const uint8_t *p = body + it.off;
            switch (op) {
            case BUSRT_OP_SUBSCRIBE: set_add(&C->subs, p, it.len); break;
            case BUSRT_OP_UNSUBSCRIBE: set_del(&C->subs, p, it.len); break;
            case BUSRT_OP_EXCLUDE: set_add(&C->excls, p, it.len); break;
            default: set_del(&C->excls, p, it.len); break;
            }
        }
        break;
    }
    }
    if (needs_ack) { /* REQ-ACK-1, REQ-ACK-2, REQ-ACK-6: after the deliveries */
        uint8_t a[6] = {BUSRT_ACK_MARKER, hdr[0], hdr[1], hdr[2], hdr[3], code};
        if (S->force_alt != 0) {
            alt = S->force_alt;
        }
        expect(S, c, a, 6, 1, alt, optional, ack_req);
    }
    return NF_OPEN;
}

size_t nf_model_feed(struct nf_sess *S, int c, const uint8_t *p, size_t n, int *fate)
{
    struct nf_client *C = &S->cl[c];
    *fate = NF_OPEN;
    if (!C->reg) {
        return n;
    }
    const size_t base = C->sent.len;
    nf_buf_add(&C->sent, p, n);
    size_t pos = 0;
    while (C->sent.len - pos >= 9) {
        const uint8_t *h = C->sent.p + pos;
        const uint8_t flags = h[4];
        const uint32_t blen = busrt_get_le32(h + 5);
        const uint32_t opid = busrt_get_le32(h);
        if (busrt_op_valid((uint8_t)(flags % 64u)) != 1 ||
            (flags != 0 && (blen > BUSRT_BODY_MAX ||
                            (S->o->body_limit > 0 && blen > S->o->body_limit)))) {
            /* REQ-FRM-4, REQ-FRM-5 (REQ-LIM-6 bounds every limit) */
            S->seq++;
            *fate = NF_CLOSED;
            C->close_req = busrt_op_valid((uint8_t)(flags % 64u)) != 1 ? "REQ-FRM-4" : "REQ-FRM-5";
            C->close_opid = opid;
            C->close_opid_set = (opid & 0xFFFF0000u) == NF_BAD_BASE;
            nf_model_kill(S, c);
            return n;
        }
        if (flags == 0) { /* ping: REQ-FRM-3, REQ-QUIRK-7 */
            S->seq++;
            pos += 9;
            continue;
        }
        if (S->o->body_limit == 0 && blen > S->o->assume_body) {
            /* the limit is implementation-defined: close it ourselves */
            S->seq++;
            *fate = NF_DOOMED;
            nf_model_kill(S, c);
            return pos + 9 > base ? pos + 9 - base : 0;
        }
        if (C->sent.len - pos - 9 < blen) {
            break; /* incomplete: nothing happens yet */
        }
        const size_t end = pos + 9 + blen;
        int f = frame(S, c, h, h + 9, blen);
        if (f != NF_OPEN) {
            *fate = f;
            C->close_opid = opid;
            C->close_opid_set = (opid & 0xFFFF0000u) == NF_BAD_BASE;
            nf_model_kill(S, c);
            return f == NF_CLOSED ? n : end - base;
        }
        pos = end;
    }
    nf_buf_consume(&C->sent, pos);
    return n;
}

/* ---- Explanations for reports ------------------------------------------ */

static void add_str(struct nf_buf *out, const uint8_t *p, size_t n)
{
    nf_buf_addc(out, '"');
    for (size_t i = 0; i < n; i++) {
        char tmp[8];
        if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '"' && p[i] != '\\') {
            nf_buf_addc(out, p[i]);
        } else {
            snprintf(tmp, sizeof tmp, "\\x%02x", p[i]);
            nf_buf_adds(out, tmp);
        }
    }
    nf_buf_addc(out, '"');
}

static void add_set(struct nf_buf *out, const struct nf_set *s)
{
    nf_buf_addc(out, '[');
    for (size_t i = 0; i < s->n; i++) {
        if (i > 0) {
            nf_buf_adds(out, ", ");
        }
        add_str(out, s->v[i].p, s->v[i].n);
    }
    nf_buf_addc(out, ']');
}

void nf_model_explain(struct nf_sess *S, int c, uint8_t kind, const uint8_t *target,
                      size_t tn, struct nf_buf *out)
{
    const struct nf_client *C = &S->cl[c];
    nf_buf_adds(out, "receiver ");
    add_str(out, C->name.p, C->name.len);
    nf_buf_adds(out, C->reg ? " (registered)" : " (not registered)");
    if (kind == BUSRT_KIND_PUBLISH) {
        nf_buf_adds(out, ", subscriptions ");
        add_set(out, &C->subs);
        nf_buf_adds(out, ", exclusions ");
        add_set(out, &C->excls);
        nf_buf_adds(out, ", topic ");
        add_str(out, target, tn);
        nf_buf_adds(out, nf_model_wants_pub(C, target, tn) ? ": model delivers"
                                                          : ": model does not deliver");
    }
    (void)target;
    (void)tn;
}
