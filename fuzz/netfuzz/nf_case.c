/* The session transcript, and the two files written for a violation:
 *
 * OUT/violations/ID.json: a conformance case (format
 *   busrt-conformance-cases/1 of conformance/README.md) that replays the
 *   session with build/busrt-conformance: registrations become `connect`
 *   steps, every write a `send` step with the exact bytes, the frames each
 *   client had to receive by a sync point an `expect` step (any order), the
 *   connections the broker had to close `expect_close` steps, and a final
 *   `barrier` proves that nothing else was delivered. The session prefix is
 *   written as ${p} (both are 14 characters, so frame lengths stay right).
 *   Where the spec allows two behaviours (the optional ACK of op 0 with a
 *   QoS, deliveries of frames sent right before a client closed), the case
 *   fixes the one the broker showed.
 * OUT/traces/ID.json: the full transcript ("busrt-netfuzz-trace/1",
 *   fuzz/README.md): every connection, write, received frame, expectation,
 *   sync point and the violation, with times. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "busrt/frame.h"
#include "nf.h"

void nf_trace_reset(struct nf_trace *t)
{
    t->nev = 0;
    t->data.len = 0;
    for (size_t i = 0; i < t->nconn; i++) {
        nf_buf_free(&t->conn[i].name);
    }
    t->nconn = 0;
    t->t0 = nf_now_ms();
}

void nf_trace_free(struct nf_trace *t)
{
    nf_trace_reset(t);
    free(t->ev);
    free(t->conn);
    nf_buf_free(&t->data);
    memset(t, 0, sizeof *t);
}

int nf_trace_conn(struct nf_trace *t, const uint8_t *name, size_t n, int slot)
{
    if (t->nconn == t->cconn) {
        t->cconn = t->cconn > 0 ? t->cconn * 2 : 16;
        t->conn = nf_xrealloc(t->conn, t->cconn * sizeof *t->conn);
    }
    memset(&t->conn[t->nconn], 0, sizeof t->conn[t->nconn]);
    nf_buf_add(&t->conn[t->nconn].name, name, n);
    t->conn[t->nconn].slot = slot;
    return (int)t->nconn++;
}

void nf_trace_cancel(struct nf_sess *S, struct nf_client *c)
{
    for (size_t i = 0; i < c->nexp; i++) {
        if (c->exp[i].ev < S->tr.nev && S->tr.ev[c->exp[i].ev].type == EV_EXPECT) {
            S->tr.ev[c->exp[i].ev].flags |= NF_EVF_CANCEL;
        }
    }
}

void nf_trace_ev(struct nf_trace *t, int type, int conn, const void *p, size_t n, int flags)
{
    if (t->nev == t->cev) {
        t->cev = t->cev > 0 ? t->cev * 2 : 256;
        t->ev = nf_xrealloc(t->ev, t->cev * sizeof *t->ev);
    }
    struct nf_ev *e = &t->ev[t->nev++];
    e->type = (uint8_t)type;
    e->flags = (uint8_t)flags;
    e->conn = (int16_t)conn;
    e->off = t->data.len;
    e->len = n;
    e->t = nf_now_ms() - t->t0;
    if (n > 0) {
        nf_buf_add(&t->data, p, n);
    }
}

/* ---- JSON ---------------------------------------------------------------- */

static void jstr(FILE *f, const uint8_t *p, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c >= 0x20 && c < 0x7F) {
            fputc(c, f);
        } else {
            fprintf(f, "\\u%04x", c); /* bytes as code points: see name_hex */
        }
    }
    fputc('"', f);
}

static void jhex(FILE *f, const uint8_t *p, size_t n)
{
    struct nf_buf h = {0};
    nf_hex(&h, p, n);
    fprintf(f, "\"%s\"", h.p != NULL ? (const char *)h.p : "");
    nf_buf_free(&h);
}

static void mkdirs(const char *path)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p != 0; p++) {
        if (*p == '/') {
            *p = 0;
            (void)mkdir(tmp, 0755);
            *p = '/';
        }
    }
    (void)mkdir(tmp, 0755);
}

static const char *const EV_NAMES[] = {"connect", "send",   "close",     "shutdown",
                                       "recv",    "eof",    "expect",    "settle",
                                       "violation", "register", "hs_expect", "dying"};

static void write_trace(struct nf_sess *S, const char *id, const char *path,
                        const char *case_path)
{
    const struct nf_opts *o = S->o;
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "busrt-netfuzz: cannot write %s: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "{\n  \"format\": \"busrt-netfuzz-trace/1\",\n  \"id\": \"%s\",\n", id);
    fprintf(f, "  \"requirements\": ");
    jstr(f, (const uint8_t *)S->vreq, strlen(S->vreq));
    fprintf(f, ",\n  \"violation\": ");
    jstr(f, (const uint8_t *)S->vmsg, strlen(S->vmsg));
    fprintf(f, ",\n  \"violation_conn\": %d,\n", S->vconn);
    fprintf(f, "  \"generator\": {\"tool\": \"busrt-netfuzz\", \"seed\": %llu, \"session\": %ld, "
               "\"input_bytes\": %zu, \"prefix\": \"%s\", \"wait_ms\": %d, \"body_limit\": %u},\n",
            (unsigned long long)o->seed, S->index, S->src.data != NULL ? S->src.len : 0,
            S->prefix, o->wait_ms, o->body_limit);
    fprintf(f, "  \"reproduce\": ");
    char rep[2048];
    if (S->src.data == NULL) {
        char lim[64] = "";
        if (o->body_limit > 0) {
            snprintf(lim, sizeof lim, " --body-limit %u", o->body_limit);
        }
        snprintf(rep, sizeof rep, "busrt-netfuzz %s '%s' --seed %llu --session %ld --sessions 1%s",
                 o->spawn != NULL ? "--spawn" : "--target",
                 o->spawn != NULL ? o->spawn : o->target, (unsigned long long)o->seed, S->index,
                 lim);
    } else {
        snprintf(rep, sizeof rep, "busrt-netfuzz %s '%s' --input FILE",
                 o->spawn != NULL ? "--spawn" : "--target", o->spawn != NULL ? o->spawn : o->target);
    }
    jstr(f, (const uint8_t *)rep, strlen(rep));
    fprintf(f, ",\n  \"case\": ");
    jstr(f, (const uint8_t *)case_path, strlen(case_path));
    fprintf(f, ",\n  \"connections\": [\n");
    for (size_t i = 0; i < S->tr.nconn; i++) {
        const struct nf_buf *n = &S->tr.conn[i].name;
        fprintf(f, "    {\"conn\": %zu, \"slot\": %d, \"name\": ", i, S->tr.conn[i].slot);
        jstr(f, n->p, n->len);
        fprintf(f, ", \"name_hex\": ");
        jhex(f, n->p, n->len);
        fprintf(f, "}%s\n", i + 1 < S->tr.nconn ? "," : "");
    }
    fprintf(f, "  ],\n  \"steps\": [\n");
    for (size_t i = 0; i < S->tr.nev; i++) {
        const struct nf_ev *e = &S->tr.ev[i];
        const uint8_t *p = S->tr.data.p + e->off;
        fprintf(f, "    {\"t_ms\": %lld, \"step\": \"%s\"", (long long)e->t,
                e->type == EV_NOTE && e->flags == 0 ? "note" : EV_NAMES[e->type]);
        if (e->conn >= 0) {
            fprintf(f, ", \"conn\": %d", e->conn);
        }
        switch (e->type) {
        case EV_SEND:
        case EV_RECV:
        case EV_HSEXPECT:
        case EV_REGISTER:
            fprintf(f, ", \"hex\": ");
            jhex(f, p, e->len);
            if (e->type == EV_RECV && (e->flags & NF_EVF_LATE) != 0) {
                fprintf(f, ", \"counted\": false");
            }
            if ((e->flags & NF_EVF_HS) != 0) {
                fprintf(f, ", \"handshake\": true");
            }
            if (e->type == EV_HSEXPECT && (e->flags & 1) != 0) {
                fprintf(f, ", \"then_eof\": true");
            }
            break;
        case EV_EXPECT:
            fprintf(f, ", \"hex\": ");
            jhex(f, p, (e->flags & NF_EVF_ALT) != 0 ? 6 : e->len);
            if ((e->flags & NF_EVF_ALT) != 0) {
                fprintf(f, ", \"or_code\": \"%02x\"", p[6]);
            }
            fprintf(f, "%s%s%s", (e->flags & NF_EVF_OPTIONAL) != 0 ? ", \"optional\": true" : "",
                    (e->flags & NF_EVF_GOT) != 0 ? ", \"received\": true" : "",
                    (e->flags & NF_EVF_CANCEL) != 0 ? ", \"cancelled\": true" : "");
            break;
        case EV_NOTE:
            fprintf(f, ", \"text\": ");
            jstr(f, p, e->len);
            break;
        default:
            break;
        }
        fprintf(f, "}%s\n", i + 1 < S->tr.nev ? "," : "");
    }
    fprintf(f, "  ],\n  \"outstanding\": [\n");
    int first = 1;
    for (int c = 0; c < NF_MAXC; c++) {
        const struct nf_client *C = &S->cl[c];
        for (size_t i = 0; i < C->nexp; i++) {
            fprintf(f, "%s    {\"conn\": %d, \"seq\": %u, \"hex\": ", first ? "" : ",\n", C->conn,
                    C->exp[i].seq);
            jhex(f, C->exp[i].b, C->exp[i].n);
            fprintf(f, "%s}", C->exp[i].optional ? ", \"optional\": true" : "");
            first = 0;
        }
    }
    fprintf(f, "%s  ]\n}\n", first ? "" : "\n");
    fclose(f);
}

/* ---- The conformance case ------------------------------------------------ */

/* Hex of p, every occurrence of the session prefix written as ${p}. */
static void phex(FILE *f, const struct nf_sess *S, const uint8_t *p, size_t n)
{
    static const char d[] = "0123456789abcdef";
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        if (n - i >= S->prefix_len && memcmp(p + i, S->prefix, S->prefix_len) == 0) {
            fputs("${p}", f);
            i += S->prefix_len;
            continue;
        }
        fputc(d[p[i] >> 4], f);
        fputc(d[p[i] & 15u], f);
        i++;
    }
    fputc('"', f);
}

/* A frame matcher (conformance/README.md, "Frame matchers") for a frame. */
static void matcher(FILE *f, const struct nf_sess *S, const uint8_t *b, size_t n)
{
    if (n >= 6 && b[0] == BUSRT_ACK_MARKER) {
        fprintf(f, "{\"kind\": \"ack\", \"op_id_hex\": \"%02x%02x%02x%02x\", \"code\": \"%02x\"}",
                b[1], b[2], b[3], b[4], b[5]);
        return;
    }
    struct busrt_frame_body fb;
    if (n < 6 || busrt_frame_body_split(b[0], b + 6, n - 6, &fb) != 0) {
        fprintf(f, "{\"kind\": \"message\"}");
        return;
    }
    fprintf(f, "{\"kind\": \"%s\", \"sender_hex\": ",
            b[0] == BUSRT_KIND_PUBLISH ? "publication"
            : b[0] == BUSRT_KIND_MESSAGE ? "message" : "broadcast");
    phex(f, S, b + 6 + fb.sender.off, fb.sender.len);
    if (b[0] == BUSRT_KIND_PUBLISH) {
        fprintf(f, ", \"topic_hex\": ");
        phex(f, S, b + 6 + fb.topic.off, fb.topic.len);
    }
    fprintf(f, ", \"payload_hex\": ");
    phex(f, S, b + 6 + fb.payload.off, fb.payload.len);
    fprintf(f, ", \"realtime\": %u}", b[5]);
}

struct cw_conn {
    int reg;       /* connect step with outcome 01 */
    int closed;    /* closed (by a step) or closed by the broker (expect_close done) */
    int dying;     /* the broker must close it */
    int eof;       /* the session saw its EOF */
    size_t *win, nwin, cwin;       /* expected frames since the last sync point */
    size_t *cancel, ncancel, ccancel; /* frames it may get before the broker closes it */
};

struct cw {
    FILE *f;
    struct nf_sess *S;
    struct cw_conn *c;
    int nsteps;
};

static void push(size_t **v, size_t *n, size_t *cap, size_t x)
{
    if (*n == *cap) {
        *cap = *cap > 0 ? *cap * 2 : 16;
        *v = nf_xrealloc(*v, *cap * sizeof **v);
    }
    (*v)[(*n)++] = x;
}

static void label(const struct cw *w, int conn, char *out, size_t cap)
{
    int slot = w->S->tr.conn[conn].slot;
    if (slot < 0) {
        snprintf(out, cap, "j");
    } else {
        snprintf(out, cap, "c%d", slot);
    }
}

/* Starts a step object: {"do": DO, "client": LABEL (when conn >= 0). */
static void step(struct cw *w, const char *what, int conn)
{
    char l[16];
    fprintf(w->f, "%s\n      {\"do\": \"%s\"", w->nsteps > 0 ? "," : "", what);
    if (conn >= 0) {
        label(w, conn, l, sizeof l);
        fprintf(w->f, ", \"client\": \"%s\"", l);
    }
    w->nsteps++;
}

static void flush_window(struct cw *w, int conn)
{
    struct cw_conn *c = &w->c[conn];
    if (c->nwin == 0) {
        return;
    }
    step(w, "expect", conn);
    fprintf(w->f, ", \"frames\": [");
    for (size_t i = 0; i < c->nwin; i++) {
        const struct nf_ev *e = &w->S->tr.ev[c->win[i]];
        fprintf(w->f, "%s\n        ", i > 0 ? "," : "");
        matcher(w->f, w->S, w->S->tr.data.p + e->off, (e->flags & NF_EVF_ALT) != 0 ? 6 : e->len);
    }
    fprintf(w->f, "], \"any_order\": true}");
    c->nwin = 0;
}

static void expect_close(struct cw *w, int conn)
{
    struct cw_conn *c = &w->c[conn];
    flush_window(w, conn);
    step(w, "expect_close", conn);
    fprintf(w->f, ", \"within_t\": 1");
    if (c->ncancel > 0) {
        fprintf(w->f, ", \"allow\": [");
        for (size_t i = 0; i < c->ncancel; i++) {
            const struct nf_ev *e = &w->S->tr.ev[c->cancel[i]];
            fprintf(w->f, "%s\n        ", i > 0 ? "," : "");
            matcher(w->f, w->S, w->S->tr.data.p + e->off,
                    (e->flags & NF_EVF_ALT) != 0 ? 6 : e->len);
        }
        fprintf(w->f, "]");
    }
    fprintf(w->f, "}");
    c->ncancel = 0;
    c->closed = 1;
}

static int send_in_case(const struct nf_ev *e)
{
    return e->type == EV_SEND && (e->flags & (NF_EVF_SKIP | NF_EVF_HS)) == 0 && e->len > 0;
}

/* The bytes of every send step: the writes of each connection, with the
 * boundaries between writes moved back wherever one would split the session
 * prefix (so that ${p} can replace it; moving a boundary back never makes a
 * frame complete earlier). Fills streams[conn] and, per event, the range of
 * its step in that stream. */
static void split_sends(const struct nf_sess *S, struct nf_buf *streams, size_t *off,
                        size_t *len)
{
    const struct nf_trace *t = &S->tr;
    for (size_t i = 0; i < t->nev; i++) {
        const struct nf_ev *e = &t->ev[i];
        if (send_in_case(e) && e->conn >= 0) {
            off[i] = streams[e->conn].len;
            nf_buf_add(&streams[e->conn], t->data.p + e->off, e->len);
            len[i] = e->len;
        }
    }
    for (size_t i = 0; i < t->nev; i++) { /* each boundary: the end of a send */
        const struct nf_ev *e = &t->ev[i];
        if (!send_in_case(e) || e->conn < 0) {
            continue;
        }
        const struct nf_buf *st = &streams[e->conn];
        size_t end = off[i] + len[i];
        size_t from = end >= S->prefix_len ? end - S->prefix_len + 1 : 0;
        for (size_t k = from; k < end; k++) {
            if (st->len - k >= S->prefix_len && memcmp(st->p + k, S->prefix, S->prefix_len) == 0) {
                size_t back = end - k; /* move these bytes to the next send */
                len[i] = len[i] > back ? len[i] - back : 0;
                for (size_t j = i + 1; j < t->nev; j++) {
                    if (send_in_case(&t->ev[j]) && t->ev[j].conn == e->conn) {
                        off[j] -= back;
                        len[j] += back;
                        break;
                    }
                }
                break;
            }
        }
    }
}

static void write_conformance(struct nf_sess *S, const char *id, FILE *f)
{
    const struct nf_trace *t = &S->tr;
    struct cw w = {f, S, NULL, 0};
    w.c = calloc(t->nconn > 0 ? t->nconn : 1, sizeof *w.c);
    struct nf_buf *streams = calloc(t->nconn > 0 ? t->nconn : 1, sizeof *streams);
    size_t *soff = calloc(t->nev > 0 ? t->nev : 1, sizeof *soff);
    size_t *slen = calloc(t->nev > 0 ? t->nev : 1, sizeof *slen);
    if (w.c == NULL || streams == NULL || soff == NULL || slen == NULL) {
        free(w.c);
        free(streams);
        free(soff);
        free(slen);
        return;
    }
    split_sends(S, streams, soff, slen);
    fprintf(f, "{\n  \"format\": \"busrt-conformance-cases/1\",\n  \"description\": ");
    char d[256];
    snprintf(d, sizeof d, "busrt-netfuzz violation reproducer (seed %llu, session %ld%s)",
             (unsigned long long)S->o->seed, S->index,
             S->case_id != NULL ? ", minimized" : S->src.data != NULL ? ", fuzz input" : "");
    jstr(f, (const uint8_t *)d, strlen(d));
    fprintf(f, ",\n  \"cases\": [{\n    \"id\": \"%s\",\n    \"reqs\": [", id);
    const char *r = S->vreq;
    int nreq = 0;
    while (*r != 0) {
        size_t k = strcspn(r, " ");
        if (k > 0) {
            fprintf(f, "%s\"%.*s\"", nreq++ > 0 ? ", " : "", (int)k, r);
        }
        r += k;
        r += *r == ' ';
    }
    fprintf(f, "],\n    \"level\": \"MUST\",\n    \"profile\": \"core\",\n    \"description\": ");
    jstr(f, (const uint8_t *)S->vmsg, strlen(S->vmsg));
    if (S->o->body_limit > 0) {
        fprintf(f, ",\n    \"broker\": {\"payload_size_limit\": %u}", S->o->body_limit);
    }
    fprintf(f, ",\n    \"steps\": [");
    int ctl = -1, after = 0;
    for (size_t i = 0; i < t->nev; i++) {
        const struct nf_ev *e = &t->ev[i];
        const uint8_t *p = t->data.p + e->off;
        const int cn = e->conn;
        struct cw_conn *c = cn >= 0 ? &w.c[cn] : NULL;
        const int junk = cn >= 0 && t->conn[cn].slot < 0;
        if (e->type == EV_NOTE && e->flags != 0) {
            after = 1; /* the violation: the replay fails at the steps below */
            continue;
        }
        if (after && e->type == EV_SETTLE) {
            break;
        }
        if (after && e->type != EV_SEND && e->type != EV_CLOSE && e->type != EV_SHUT &&
            e->type != EV_DYING) {
            continue; /* only the rest of the action in progress (the model saw it all) */
        }
        switch (e->type) {
        case EV_REGISTER:
            step(&w, "connect", cn);
            fprintf(f, ", \"name_hex\": ");
            phex(f, S, t->conn[cn].name.p, t->conn[cn].name.len);
            if (p[0] == 0) {
                fprintf(f, ", \"expect\": [\"close\", \"72\"]}");
            } else {
                fprintf(f, ", \"expect\": \"%02x\"}", p[0]);
            }
            c->reg = p[0] == BUSRT_RC_OK; /* each connection has its own id */
            if (ctl < 0 && c->reg) {
                ctl = cn;
            }
            break;
        case EV_CONNECT:
            if (junk) {
                step(&w, "open", cn);
                fprintf(f, "}");
            }
            break;
        case EV_SEND:
            if (!send_in_case(e) || slen[i] == 0 || (!junk && (!c->reg || c->closed))) {
                break;
            }
            step(&w, "send", cn);
            fprintf(f, ", \"hex\": ");
            phex(f, S, streams[cn].p + soff[i], slen[i]);
            fprintf(f, "}");
            S->case_bytes += slen[i];
            break;
        case EV_HSEXPECT:
            step(&w, "expect_bytes", cn);
            fprintf(f, ", \"hex\": ");
            phex(f, S, p, e->len);
            fprintf(f, "}");
            if ((e->flags & 1) != 0) {
                step(&w, "expect_close", cn);
                fprintf(f, ", \"within_t\": 1, \"raw\": true}");
            }
            break;
        case EV_EXPECT:
            if ((e->flags & NF_EVF_SKIP) != 0 || junk) {
                break;
            }
            if ((e->flags & NF_EVF_CANCEL) != 0) {
                push(&c->cancel, &c->ncancel, &c->ccancel, i);
            } else if ((e->flags & NF_EVF_GOT) != 0 || (e->flags & NF_EVF_OPTIONAL) == 0) {
                push(&c->win, &c->nwin, &c->cwin, i);
            }
            break;
        case EV_CLOSE:
        case EV_SHUT:
            if (junk) {
                step(&w, "close", cn);
                fprintf(f, "}");
            } else if (c->reg && !c->closed) {
                flush_window(&w, cn);
                step(&w, "close", cn);
                fprintf(f, e->type == EV_SHUT ? ", \"note\": \"a half close (shutdown) in the "
                                                "session\"}" : "}");
                step(&w, "sleep", -1);
                fprintf(f, ", \"for_ms\": 100, \"note\": \"the broker releases the name\"}");
                c->closed = 1;
            }
            break;
        case EV_DYING:
            c->dying = 1;
            break;
        case EV_EOF:
            if (!junk && c->reg) {
                c->eof = 1;
            }
            break;
        case EV_SETTLE:
            for (size_t k = 0; k < t->nconn; k++) {
                flush_window(&w, (int)k);
            }
            for (size_t k = 0; k < t->nconn; k++) {
                if (w.c[k].reg && w.c[k].dying && w.c[k].eof && !w.c[k].closed) {
                    expect_close(&w, (int)k);
                }
            }
            break;
        default:
            break;
        }
    }
    /* What was due when the violation was seen, then a barrier: nothing
     * else may be pending for any live client. */
    for (size_t k = 0; k < t->nconn; k++) {
        flush_window(&w, (int)k);
    }
    for (size_t k = 0; k < t->nconn; k++) {
        if (w.c[k].reg && w.c[k].dying && !w.c[k].closed) {
            expect_close(&w, (int)k);
        }
    }
    if (ctl >= 0 && !w.c[ctl].closed && !w.c[ctl].dying) {
        int live_slot[NF_MAXC];
        memset(live_slot, 0, sizeof live_slot);
        for (size_t k = 0; k < t->nconn; k++) { /* the latest connection of each slot */
            int slot = t->conn[k].slot;
            if (slot >= 0 && slot < NF_MAXC && w.c[k].reg) {
                live_slot[slot] = !w.c[k].closed && !w.c[k].dying ? 1 : 0;
            }
        }
        step(&w, "barrier", ctl);
        fprintf(f, ", \"to\": [");
        int n = 0;
        for (int k = 0; k < NF_MAXC; k++) {
            if (live_slot[k]) {
                fprintf(f, "%s\"c%d\"", n++ > 0 ? ", " : "", k);
            }
        }
        fprintf(f, "]}");
    }
    fprintf(f, "\n    ]\n  }]\n}\n");
    S->case_steps = w.nsteps;
    for (size_t k = 0; k < t->nconn; k++) {
        free(w.c[k].win);
        free(w.c[k].cancel);
        nf_buf_free(&streams[k]);
    }
    free(w.c);
    free(streams);
    free(soff);
    free(slen);
}

void nf_case_write(struct nf_sess *S, char *path, size_t cap)
{
    const struct nf_opts *o = S->o;
    char dir[900], tdir[900], tpath[1200];
    snprintf(dir, sizeof dir, "%s/violations", o->out_dir);
    snprintf(tdir, sizeof tdir, "%s/traces", o->out_dir);
    mkdirs(dir);
    mkdirs(tdir);
    char id[128];
    snprintf(id, sizeof id, "netfuzz.s%llu-k%ld", (unsigned long long)o->seed, S->index);
    if (S->src.data != NULL) {
        uint64_t h = 1469598103934665603ull;
        for (size_t i = 0; i < S->src.len; i++) {
            h = (h ^ S->src.data[i]) * 1099511628211ull;
        }
        snprintf(id, sizeof id, "netfuzz.input-%016llx", (unsigned long long)h);
    }
    if (S->case_id != NULL) { /* --minimize */
        snprintf(dir, sizeof dir, "%s/minimized", o->out_dir);
        mkdirs(dir);
        snprintf(id, sizeof id, "%s", S->case_id);
    }
    S->case_steps = 0;
    S->case_bytes = 0;
    snprintf(path, cap, "%s/%s.json", dir, id);
    snprintf(tpath, sizeof tpath, "%s/%s.json", tdir, id);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "busrt-netfuzz: cannot write %s: %s\n", path, strerror(errno));
        path[0] = 0;
    } else {
        write_conformance(S, id, f);
        fclose(f);
    }
    write_trace(S, id, tpath, path);
}
