/* Sending in a session: every byte a client sends goes through the model
 * first (nf_model_feed), which says what the broker must do with it; the
 * driver then writes it, reading every socket while a write would block,
 * and keeps idle connections alive. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "nf_sess_int.h"

int nfs_can_act(const struct nf_sess *S, int c)
{
    return c >= 0 && S->cl[c].st == NF_LIVE && S->cl[c].fd >= 0;
}

/* Sends n bytes on client c, reading every socket while it cannot write.
 * Returns 0, or -1 when the connection broke. */
static int send_all(struct nf_sess *S, int c, const uint8_t *p, size_t n)
{
    struct nf_client *C = &S->cl[c];
    size_t off = 0;
    int64_t deadline = nf_now_ms() + S->o->wait_ms;
    int rc = 0;
    while (off < n && C->fd >= 0) {
        ssize_t w = send(C->fd, p + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (nf_now_ms() > deadline) {
                if (C->st == NF_LIVE) { /* a dying one is judged by its EOF */
                    nf_violation(S, C->conn, "REQ-ORD-2",
                                 "the broker stopped reading from client \"%s\" (%zu bytes "
                                 "could not be written for %d ms)", nfs_cname(S, c), n - off,
                                 S->o->wait_ms);
                }
                rc = -1;
                break;
            }
            nfs_pump(S, 20, C->fd);
            continue;
        }
        rc = -1;
        break;
    }
    /* the bytes meant to be sent (those the model saw), all of them */
    nf_trace_ev(&S->tr, EV_SEND, C->conn, p, n, S->case_skip ? NF_EVF_SKIP : 0);
    if (off < n) {
        char note[96];
        snprintf(note, sizeof note, "only %zu of these %zu bytes were written", off, n);
        nf_trace_ev(&S->tr, EV_NOTE, C->conn, note, strlen(note), 0);
    }
    C->last_send = nf_now_ms();
    return C->fd < 0 ? -1 : rc;
}

/* The frames after seq0 were sent by a client that we close right after
 * them: a broker whose write to that client fails may drop the connection
 * before reading them (the spec does not say it must read them first), so
 * their deliveries become optional. */
void nfs_mark_uncertain(struct nf_sess *S, uint32_t seq0)
{
    for (int i = 0; i < NF_MAXC; i++) {
        for (size_t j = 0; j < S->cl[i].nexp; j++) {
            if (S->cl[i].exp[j].seq > seq0) {
                S->cl[i].exp[j].optional = 1;
                if (S->cl[i].exp[j].ev < S->tr.nev) {
                    S->tr.ev[S->cl[i].exp[j].ev].flags |= NF_EVF_OPTIONAL;
                }
            }
        }
    }
    nf_trace_ev(&S->tr, EV_NOTE, -1, "deliveries of the frames above are optional", 43, 0);
}

/* Sends a chunk of client c through the model, in up to `pieces` writes
 * with short pauses. Applies the fate the model gives the connection. */
int nfs_put(struct nf_sess *S, int c, const uint8_t *p, size_t n, int pieces)
{
    struct nf_client *C = &S->cl[c];
    if (C->st != NF_LIVE || C->fd < 0) {
        return NF_CLOSED;
    }
    int fate;
    const uint32_t seq0 = S->seq;
    size_t k = nf_model_feed(S, c, p, n, &fate);
    if (fate != NF_OPEN) { /* the broker may close it while we still send */
        C->st = NF_DYING;
        C->eof_deadline = nf_now_ms() + S->o->wait_ms;
        if (fate == NF_CLOSED) {
            nf_trace_ev(&S->tr, EV_DYING, C->conn, NULL, 0, 0);
        }
    }
    size_t off = 0;
    int broke = 0;
    for (int i = 0; i < pieces && off < k && !broke; i++) {
        size_t len = i == pieces - 1 ? k - off : nf_pick(&S->src, (uint32_t)(k - off + 1));
        if (len == 0) {
            continue;
        }
        broke = send_all(S, c, p + off, len) != 0;
        off += len;
        if (i < pieces - 1) {
            nfs_pump_for(S, (int)nf_pick(&S->src, 3));
        }
    }
    if (!broke && off < k) {
        broke = send_all(S, c, p + off, k - off) != 0;
    }
    S->frames_sent++;
    if (broke && fate == NF_OPEN && !S->violated && C->fd >= 0 && !nfs_dropped_on_timeout(S, c)) {
        nf_violation(S, C->conn, "REQ-ERR-4 REQ-ERR-5",
                     "the connection of client \"%s\" broke while sending, although the "
                     "model keeps it open", nfs_cname(S, c));
    }
    switch (fate) {
    case NF_OPEN:
        C->acted = 1;
        break;
    case NF_CLOSED:
        S->stat[NS_BROKER_CLOSED]++;
        if (C->fd >= 0) {
            C->eof_deadline = nf_now_ms() + S->o->wait_ms;
        }
        break;
    default: /* NF_DOOMED: the spec allows both; close it ourselves */
        S->stat[NS_WE_CLOSED]++;
        nfs_close_fd(S, c, EV_CLOSE);
        nfs_mark_uncertain(S, seq0);
        break;
    }
    return fate;
}

/* Pings idle clients and finishes frames started long ago (keep-alive,
 * REQ-KA-2: the broker's timeout is assumed to be at least 2 s). */
int nfs_keepalive(struct nf_sess *S)
{
    int64_t now = nf_now_ms();
    for (int i = 0; i < NF_MAXC && !S->violated; i++) {
        struct nf_client *C = &S->cl[i];
        if (!nfs_can_act(S, i)) {
            continue;
        }
        if (C->pend.len > 0 && now - C->pend_since > 700) {
            struct nf_buf b = {0};
            nf_buf_add(&b, C->pend.p, C->pend.len);
            C->pend.len = 0;
            (void)nfs_put(S, i, b.p, b.len, 1);
            nf_buf_free(&b);
            return 1; /* one at a time: the caller syncs it */
        } else if (C->pend.len == 0 && now - C->last_send > 900) {
            static const uint8_t ping[9] = {0};
            int acted = C->acted;
            (void)nfs_put(S, i, ping, 9, 1);
            C->acted = acted;
        }
    }
    return 0;
}
