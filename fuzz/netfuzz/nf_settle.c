/* Sync points of a session. The spec orders frames only per connection
 * (REQ-ORD-1, REQ-ORD-2), so after every action each client that sent complete frames
 * sends a sync frame (QoS 1 message to the never-registered name
 * PREFIX.=void): its ACK 71 proves that the broker processed everything
 * the client sent before, and that every delivery those frames cause is
 * queued (REQ-ACK-6). Then every expected frame must arrive within
 * --wait-ms. Deliveries that are not expected are reported whenever they
 * arrive (each carries a unique tag), and a final barrier (a message from
 * the control client to every live client) flushes the receivers' queues
 * before the session ends. After a client dies (garbage, disconnect, its
 * primary leaving) the driver waits for EOF on its socket and then for the
 * broker to release its name (a message to the name must get ACK 71). */
#include <string.h>

#include "busrt/frame.h"
#include "nf_sess_int.h"

void nfs_sync_frame(struct nf_sess *S, int c, const uint8_t *target, size_t tn,
                    const char *payload)
{
    struct nf_buf b = {0}, body = {0};
    nf_buf_add(&body, target, tn);
    nf_buf_addc(&body, 0);
    nf_buf_adds(&body, payload);
    uint32_t opid = NF_SYNC_BASE | (S->nsync++ & 0xFFFFu);
    nfs_add_frame(&b, opid, BUSRT_OP_MESSAGE + 64u, body.p, body.len, (uint32_t)body.len);
    int acted = S->cl[c].acted;
    (void)nfs_put(S, c, b.p, b.len, 1);
    S->cl[c].acted = acted;
    nf_buf_free(&b);
    nf_buf_free(&body);
}

static int outstanding(const struct nf_client *C)
{
    for (size_t i = 0; i < C->nexp; i++) {
        if (!C->exp[i].optional) {
            return 1;
        }
    }
    return 0;
}

/* Waits until every live client received every expected frame and every
 * dying connection reached EOF. */
void nfs_wait_expected(struct nf_sess *S)
{
    int64_t deadline = nf_now_ms() + S->o->wait_ms;
    for (;;) {
        if (S->violated) {
            return;
        }
        int busy = 0;
        int64_t now = nf_now_ms();
        for (int i = 0; i < NF_MAXC; i++) {
            struct nf_client *C = &S->cl[i];
            if (C->st == NF_LIVE && outstanding(C)) {
                busy = 1;
                if (now > deadline) {
                    const struct nf_exp *e = NULL;
                    for (size_t j = 0; j < C->nexp && e == NULL; j++) {
                        e = C->exp[j].optional ? NULL : &C->exp[j];
                    }
                    char d[256];
                    nfs_describe(e->b, e->n, d, sizeof d);
                    nf_violation(S, C->conn, e->is_ack ? "REQ-ACK-2" : e->req,
                                 "client \"%s\" did not receive the %s of frame #%u within "
                                 "%d ms (%zu frames outstanding)", nfs_cname(S, i), d, e->seq,
                                 S->o->wait_ms, C->nexp);
                    return;
                }
            }
            if (C->st == NF_DYING && C->fd >= 0) {
                busy = 1;
                if (now > C->eof_deadline) {
                    nf_violation(S, C->conn, C->close_req != NULL ? C->close_req : "REQ-ERR-1",
                                 "the broker did not close the connection of \"%s\" within "
                                 "%d ms", nfs_cname(S, i), S->o->wait_ms);
                    return;
                }
            }
        }
        if (!busy) {
            return;
        }
        nfs_pump(S, 20, -1);
    }
}

/* After a client died: a message to its name must get ACK 71 (REQ-ERR-3). */
static void wait_released(struct nf_sess *S)
{
    for (int i = 0; i < NF_MAXC && !S->violated; i++) {
        struct nf_client *C = &S->cl[i];
        if (C->reg || C->released || C->name.len == 0 || C->st == NF_LIVE) {
            continue;
        }
        if (!nfs_can_act(S, S->ctl)) {
            C->released = 1;
            continue;
        }
        int64_t deadline = nf_now_ms() + S->o->wait_ms;
        for (int tries = 0; !S->violated; tries++) {
            S->force_alt = BUSRT_RC_OK; /* still registered: 01 and a delivery */
            S->case_skip = 1;
            nfs_sync_frame(S, S->ctl, C->name.p, C->name.len, "nf-release");
            S->case_skip = 0;
            S->force_alt = 0;
            uint32_t seq = S->seq;
            nfs_wait_expected(S);
            if (S->violated) {
                return;
            }
            if (S->cl[S->ctl].last_ack_seq == seq && S->cl[S->ctl].last_ack == 0x71) {
                C->released = 1;
                break;
            }
            if (nf_now_ms() > deadline) {
                nf_violation(S, C->conn, "REQ-ERR-3",
                             "the name \"%s\" is still registered %d ms after its connection "
                             "ended", nfs_cname(S, i), S->o->wait_ms);
                return;
            }
            nfs_pump_for(S, tries < 5 ? 1 : 10);
        }
    }
}

void nfs_settle(struct nf_sess *S)
{
    for (int i = 0; i < NF_MAXC && !S->violated; i++) {
        struct nf_client *C = &S->cl[i];
        if (C->acted && nfs_can_act(S, i) && C->pend.len == 0) {
            uint8_t vn[64];
            memcpy(vn, S->prefix, S->prefix_len);
            memcpy(vn + S->prefix_len, ".=void", 6);
            nfs_sync_frame(S, i, vn, S->prefix_len + 6, "nf-sync");
        }
        C->acted = 0;
    }
    nfs_wait_expected(S);
    wait_released(S);
    nf_trace_ev(&S->tr, EV_SETTLE, -1, NULL, 0, 0);
}
