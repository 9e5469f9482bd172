/* Receiving in a session: every socket is read with bounded waits, the
 * bytes are cut into frames, and each ACK and delivered frame is compared
 * with the expectations the model left on its receiver. An EOF the model
 * does not allow is a violation too (unless a broker timeout allows it). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "busrt/frame.h"
#include "busrt/le.h"
#include "nf_sess_int.h"

/* A short human-readable description of a broker frame. */
void nfs_describe(const uint8_t *f, size_t n, char *out, size_t cap)
{
    if (n >= 6 && f[0] == BUSRT_ACK_MARKER) {
        snprintf(out, cap, "ACK op id 0x%08x code 0x%02x", busrt_get_le32(f + 1), f[5]);
        return;
    }
    struct busrt_frame_body fb;
    if (n < 6 || busrt_frame_body_split(f[0], f + 6, n - 6, &fb) != 0) {
        snprintf(out, cap, "frame of %zu bytes (kind 0x%02x)", n, n > 0 ? f[0] : 0);
        return;
    }
    const char *k = f[0] == BUSRT_KIND_PUBLISH ? "publication"
                    : f[0] == BUSRT_KIND_MESSAGE ? "message" : "broadcast";
    struct nf_buf b = {0};
    nf_hex(&b, f + 6 + fb.payload.off, fb.payload.len < 12 ? fb.payload.len : 12);
    snprintf(out, cap, "%s from \"%.*s\"%s%.*s%s realtime %u, payload %zu bytes %s%s", k,
             (int)(fb.sender.len < 80 ? fb.sender.len : 80), (const char *)f + 6 + fb.sender.off,
             f[0] == BUSRT_KIND_PUBLISH ? " on \"" : "",
             (int)(fb.topic.len < 80 ? fb.topic.len : 80), (const char *)f + 6 + fb.topic.off,
             f[0] == BUSRT_KIND_PUBLISH ? "\"" : "", f[5], fb.payload.len,
             b.p != NULL ? (const char *)b.p : "", fb.payload.len > 12 ? "..." : "");
    nf_buf_free(&b);
}

const char *nfs_cname(struct nf_sess *S, int c)
{
    return S->cl[c].name.p != NULL ? (const char *)S->cl[c].name.p : "?";
}

/* ---- Receiving ------------------------------------------------------------- */

/* The expectation arrived: mark its transcript event (with the ACK code
 * actually received). */
static void ev_got(struct nf_sess *S, const struct nf_exp *e, const uint8_t *f)
{
    if (e->ev < S->tr.nev && S->tr.ev[e->ev].type == EV_EXPECT) {
        S->tr.ev[e->ev].flags |= NF_EVF_GOT;
        if (e->is_ack) {
            S->tr.data.p[S->tr.ev[e->ev].off + 5] = f[5];
        }
    }
}

static int same_sender(const struct nf_exp *e, const uint8_t *snd, size_t sl)
{
    return !e->is_ack && e->n > 6 + sl && memcmp(e->b + 6, snd, sl) == 0 && e->b[6 + sl] == 0;
}

static void on_ack(struct nf_sess *S, int c, const uint8_t *a)
{
    struct nf_client *C = &S->cl[c];
    char d1[256], d2[256];
    nf_trace_ev(&S->tr, EV_RECV, C->conn, a, 6, C->st != NF_LIVE ? NF_EVF_LATE : 0);
    if (C->st != NF_LIVE || !C->reg) {
        if (C->close_opid_set && busrt_get_le32(a + 1) == C->close_opid) {
            nf_violation(S, C->conn, "REQ-ERR-2",
                         "client \"%s\" got an ACK (code 0x%02x) for the frame (op id 0x%08x) "
                         "that must make the broker close its connection without reply",
                         nfs_cname(S, c), a[5], C->close_opid);
        }
        return;
    }
    for (size_t i = 0; i < C->nexp; i++) {
        struct nf_exp *e = &C->exp[i];
        if (!e->is_ack) {
            continue;
        }
        if (memcmp(e->b, a, 5) == 0 && (a[5] == e->b[5] || (e->alt != 0 && a[5] == e->alt))) {
            int ambiguous = 0;
            if (e->optional) {
                /* the same bytes may be the next required ACK: prefer it */
                for (size_t j = i + 1; j < C->nexp; j++) {
                    const struct nf_exp *r = &C->exp[j];
                    if (r->is_ack && !r->optional) {
                        if (memcmp(r->b, a, 5) == 0 &&
                            (a[5] == r->b[5] || (r->alt != 0 && a[5] == r->alt))) {
                            i = j;
                            e = &C->exp[i];
                            ambiguous = 1;
                        }
                        break;
                    }
                }
            }
            for (size_t j = 0; j < C->nexp && !ambiguous; j++) { /* REQ-ACK-6 */
                const struct nf_exp *d = &C->exp[j];
                if (same_sender(d, C->name.p, C->name.len) && d->seq <= e->seq) {
                    nfs_describe(d->b, d->n, d1, sizeof d1);
                    nf_violation(S, C->conn, "REQ-ACK-6",
                                 "client \"%s\" got the ACK of its frame #%u (op id 0x%08x) "
                                 "before its own delivery of frame #%u: %s",
                                 nfs_cname(S, c), e->seq, busrt_get_le32(a + 1), d->seq, d1);
                    return;
                }
            }
            C->last_ack = a[5];
            C->last_ack_seq = e->seq;
            S->stat[NS_ACKS]++;
            ev_got(S, e, a);
            nf_exp_remove(C, i);
            for (size_t j = i; j-- > 0 && !ambiguous;) { /* optional ACKs before it: not sent */
                if (C->exp[j].is_ack && C->exp[j].optional) {
                    nf_exp_remove(C, j);
                }
            }
            return;
        }
        if (e->optional) {
            continue;
        }
        nfs_describe(e->b, e->n, d1, sizeof d1);
        if (memcmp(e->b, a, 5) == 0) {
            nf_violation(S, C->conn, e->req != NULL ? e->req : "REQ-ACK-1",
                         "client \"%s\": ACK of frame #%u (op id 0x%08x) has code 0x%02x, "
                         "the model expects 0x%02x",
                         nfs_cname(S, c), e->seq, busrt_get_le32(a + 1), a[5], e->b[5]);
        } else {
            nfs_describe(a, 6, d2, sizeof d2);
            nf_violation(S, C->conn, "REQ-ACK-2",
                         "client \"%s\" got an unexpected %s; the next ACK the model expects "
                         "is the %s of frame #%u (ACKs come in frame order, REQ-ORD-2)",
                         nfs_cname(S, c), d2, d1, e->seq);
        }
        return;
    }
    nfs_describe(a, 6, d2, sizeof d2);
    nf_violation(S, C->conn, "REQ-ACK-2",
                 "client \"%s\" got an unexpected %s: the model expects no ACK", nfs_cname(S, c),
                 d2);
}

/* Was the same frame already received by this connection? */
static int seen_before(struct nf_sess *S, int conn, const uint8_t *f, size_t n)
{
    size_t hits = 0;
    for (size_t i = 0; i < S->tr.nev; i++) {
        const struct nf_ev *ev = &S->tr.ev[i];
        if (ev->type == EV_RECV && ev->conn == conn && ev->len == n &&
            memcmp(S->tr.data.p + ev->off, f, n) == 0) {
            hits++;
        }
    }
    return hits > 1; /* the current frame is recorded already */
}

static const char *kind_req(uint8_t kind)
{
    return kind == BUSRT_KIND_PUBLISH ? "REQ-TOPIC-6 REQ-EXCL-1 REQ-PFOR-1"
           : kind == BUSRT_KIND_MESSAGE ? "REQ-MSG-1" : "REQ-MASK-5 REQ-MASK-6";
}

static void on_delivery(struct nf_sess *S, int c, const uint8_t *f, size_t n)
{
    struct nf_client *C = &S->cl[c];
    char d1[256], d2[256];
    nf_trace_ev(&S->tr, EV_RECV, C->conn, f, n, C->st != NF_LIVE ? NF_EVF_LATE : 0);
    struct busrt_frame_body fb;
    if (busrt_frame_body_split(f[0], f + 6, n - 6, &fb) != 0) {
        if (C->st == NF_LIVE) {
            nf_violation(S, C->conn, f[0] == BUSRT_KIND_PUBLISH ? "REQ-DLV-3" : "REQ-DLV-2",
                         "client \"%s\" got a delivered frame (kind 0x%02x, %zu body bytes) "
                         "whose body lacks its NUL separator(s)", nfs_cname(S, c), f[0], n - 6);
        }
        return;
    }
    if (C->st != NF_LIVE || !C->reg) {
        return; /* received after the broker dropped it: does not count */
    }
    const uint8_t *snd = f + 6 + fb.sender.off;
    const size_t sl = fb.sender.len;
    int known = 0;
    for (size_t i = 0; i < S->tr.nconn; i++) {
        known |= nf_buf_eq(&S->tr.conn[i].name, snd, sl);
    }
    if (!nf_model_in_ns(S, snd, sl)) {
        S->stat[NS_FOREIGN]++;
        return; /* foreign traffic */
    }
    if (!known) {
        nfs_describe(f, n, d1, sizeof d1);
        nf_violation(S, C->conn, "REQ-DLV-6",
                     "client \"%s\" got a %s whose sender is no client of the session",
                     nfs_cname(S, c), d1);
        return;
    }
    size_t first = SIZE_MAX, match = SIZE_MAX;
    for (size_t i = 0; i < C->nexp; i++) {
        const struct nf_exp *e = &C->exp[i];
        if (!same_sender(e, snd, sl)) {
            continue;
        }
        if (first == SIZE_MAX) {
            first = i;
        }
        if (e->n == n && memcmp(e->b, f, n) == 0) {
            match = i;
            break;
        }
    }
    if (match != SIZE_MAX && match != first) {
        /* skipping optional deliveries only (they will not come now) */
        int only_optional = 1;
        for (size_t i = first; i < match; i++) {
            if (same_sender(&C->exp[i], snd, sl) && !C->exp[i].optional) {
                only_optional = 0;
            }
        }
        if (only_optional) {
            for (size_t i = match; i-- > first;) {
                if (same_sender(&C->exp[i], snd, sl)) {
                    nf_exp_remove(C, i);
                    match--;
                }
            }
            first = match;
        }
    }
    if (match != SIZE_MAX && match == first) {
        ev_got(S, &C->exp[match], f);
        nf_exp_remove(C, match);
        S->stat[NS_DELIVERIES]++;
        return;
    }
    nfs_describe(f, n, d1, sizeof d1);
    if (match != SIZE_MAX) {
        nfs_describe(C->exp[first].b, C->exp[first].n, d2, sizeof d2);
        nf_violation(S, C->conn, "REQ-ORD-1",
                     "client \"%s\" got the %s of frame #%u before the %s of the earlier "
                     "frame #%u from the same sender",
                     nfs_cname(S, c), d1, C->exp[match].seq, d2, C->exp[first].seq);
        return;
    }
    struct nf_buf why = {0};
    nf_model_explain(S, c, f[0], f + 6 + fb.topic.off, fb.topic.len, &why);
    if (first != SIZE_MAX && C->exp[first].n >= 6 && C->exp[first].b[0] == f[0] &&
        !seen_before(S, C->conn, f, n)) {
        /* the frame the model expects next from this sender, altered? */
        const struct nf_exp *e = &C->exp[first];
        size_t at = 0;
        while (at < n && at < e->n && e->b[at] == f[at]) {
            at++;
        }
        nfs_describe(e->b, e->n, d2, sizeof d2);
        nf_violation(S, C->conn, at == 5 ? "REQ-DLV-1" : at < 5 ? "REQ-DLV-1 REQ-DLV-2 REQ-DLV-3"
                                                                : kind_req(f[0]),
                     "client \"%s\" got a %s (%zu bytes) where the model expects the %s of "
                     "frame #%u (%zu bytes); they first differ at byte %zu%s",
                     nfs_cname(S, c), d1, n, d2, e->seq, e->n, at,
                     at == 5 ? " (the realtime byte)" : "");
        nf_buf_free(&why);
        return;
    }
    if (seen_before(S, C->conn, f, n)) {
        nf_violation(S, C->conn, kind_req(f[0]),
                     "client \"%s\" got a duplicate %s (exactly one delivery per frame); %s",
                     nfs_cname(S, c), d1, (const char *)why.p);
    } else {
        nf_violation(S, C->conn, kind_req(f[0]),
                     "client \"%s\" got a %s that the model does not allow (wrong receiver, "
                     "excluded or non-matching, or altered content); %s",
                     nfs_cname(S, c), d1, (const char *)why.p);
    }
    nf_buf_free(&why);
}

void nfs_close_fd(struct nf_sess *S, int c, int type)
{
    struct nf_client *C = &S->cl[c];
    if (C->fd >= 0) {
        if (type >= 0) {
            nf_trace_ev(&S->tr, type, C->conn, NULL, 0, 0);
        }
        close(C->fd);
        C->fd = -1;
    }
    C->st = NF_GONE;
    C->rx.len = 0;
    C->pend.len = 0;
}

/* The timeout that allows the broker to drop a client the model keeps
 * (NULL: none). A driver waiting for another client may leave a frame
 * half-sent, or a client silent, for longer than the broker's T; the
 * smallest T assumed is NF_MIN_T_MS. */
static const char *timed_out(const struct nf_client *C)
{
    int64_t now = nf_now_ms();
    if (C->pend.len > 0 && C->pend_body && now - C->pend_since >= NF_MIN_T_MS) {
        return "REQ-KA-3"; /* the body did not arrive within T */
    }
    int64_t idle = C->pend.len > 0 ? now - C->pend_since : now - C->last_send;
    if (idle >= NF_MIN_T_MS + NF_MIN_T_MS / 4) {
        return "REQ-KA-2"; /* no complete header within 1.25 T */
    }
    return NULL;
}

/* The broker dropped a client the model keeps, as a timeout allows. */
int nfs_dropped_on_timeout(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    const char *req = timed_out(C);
    if (req == NULL) {
        return 0;
    }
    char note[160];
    snprintf(note, sizeof note, "the broker closed it: allowed by %s (a frame unfinished or "
             "silence for at least the smallest T assumed, %d ms)", req, NF_MIN_T_MS);
    nf_trace_ev(&S->tr, EV_NOTE, C->conn, note, strlen(note), 0);
    nf_model_kill(S, c);
    C->st = NF_DYING;
    return 1;
}

static void on_eof(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    nf_trace_ev(&S->tr, EV_EOF, C->conn, NULL, 0, 0);
    if (C->st == NF_LIVE && C->reg && !nfs_dropped_on_timeout(S, c)) {
        nf_violation(S, C->conn, "REQ-ERR-4 REQ-ERR-5",
                     "the broker closed the connection of client \"%s\", which the model "
                     "keeps registered (nothing it sent closes it)", nfs_cname(S, c));
    }
    nfs_close_fd(S, c, -1);
}

static void parse(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    while (C->rx.len >= 6 && C->fd >= 0) {
        const uint8_t *p = C->rx.p;
        if (p[0] == BUSRT_ACK_MARKER) {
            on_ack(S, c, p);
            nf_buf_consume(&C->rx, 6);
            S->frames_recv++;
            continue;
        }
        struct busrt_frame_header h;
        if (busrt_frame_header_decode(p, C->rx.len, UINT32_MAX, &h) != 6) {
            if (C->st == NF_LIVE) {
                nf_violation(S, C->conn, "REQ-DLV-1 REQ-DLV-8",
                             "client \"%s\" got a frame starting with byte 0x%02x, which is "
                             "neither an ACK nor a delivered-frame kind", nfs_cname(S, c), p[0]);
            }
            nfs_close_fd(S, c, EV_CLOSE);
            return;
        }
        if (h.kind == BUSRT_KIND_NOP) {
            if ((p[1] | p[2] | p[3] | p[4] | p[5]) != 0 && C->st == NF_LIVE) {
                nf_violation(S, C->conn, "REQ-DLV-4",
                             "client \"%s\" got a NOP that is not six 00 bytes", nfs_cname(S, c));
            }
            nf_buf_consume(&C->rx, 6);
            continue;
        }
        if (C->rx.len - 6 < h.body_len) {
            return;
        }
        on_delivery(S, c, p, 6 + (size_t)h.body_len);
        nf_buf_consume(&C->rx, 6 + (size_t)h.body_len);
        S->frames_recv++;
    }
}

static void on_readable(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    uint8_t buf[65536];
    size_t total = 0;
    int eof = 0;
    while (C->fd >= 0 && total < (1u << 20)) {
        ssize_t r = read(C->fd, buf, sizeof buf);
        if (r > 0) {
            nf_buf_add(&C->rx, buf, (size_t)r);
            total += (size_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        eof = 1; /* 0, ECONNRESET or another error: the connection ended */
        break;
    }
    parse(S, c);
    if (eof && C->fd >= 0) {
        on_eof(S, c);
    }
}

/* Reads every open socket for up to timeout_ms (returns after the first
 * batch of events). out_fd, when >= 0, is also polled for writability. */
void nfs_pump(struct nf_sess *S, int timeout_ms, int out_fd)
{
    struct pollfd p[NF_MAXC + 1];
    int idx[NF_MAXC + 1], n = 0;
    for (int i = 0; i < NF_MAXC; i++) {
        if (S->cl[i].fd >= 0 && (S->cl[i].st == NF_LIVE || S->cl[i].st == NF_DYING)) {
            p[n].fd = S->cl[i].fd;
            p[n].events = (short)(POLLIN | (S->cl[i].fd == out_fd ? POLLOUT : 0));
            p[n].revents = 0;
            idx[n++] = i;
        }
    }
    if (n == 0) {
        if (timeout_ms > 0) {
            nf_sleep_ms(timeout_ms);
        }
        return;
    }
    if (poll(p, (nfds_t)n, timeout_ms) <= 0) {
        return;
    }
    for (int k = 0; k < n; k++) {
        if ((p[k].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && S->cl[idx[k]].fd == p[k].fd) {
            on_readable(S, idx[k]);
        }
    }
}

/* Reads for ms milliseconds. */
void nfs_pump_for(struct nf_sess *S, int ms)
{
    int64_t end = nf_now_ms() + ms;
    do {
        int64_t left = end - nf_now_ms();
        nfs_pump(S, left > 0 ? (int)left : 0, -1);
    } while (nf_now_ms() < end && !S->violated);
}
