/* The actions of a session, each chosen by the byte source: operation
 * batches, concurrent sends, partial frames, garbage, disconnects and
 * handshake junk. Each sends through nfs_put, so the model sees every byte;
 * the session settles after every action. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "busrt/frame.h"
#include "nf_sess_int.h"

/* One or more frames of one client, written at once or in pieces. */
void nfs_act_ops(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    struct nf_buf b = {0};
    nf_buf_add(&b, C->pend.p, C->pend.len); /* completes a started frame */
    C->pend.len = 0;
    const size_t at_n = nfs_src_pos(S);
    uint32_t nf = 1 + nf_pick_fixed(&S->src, 4);
    for (uint32_t i = 0; i < nf; i++) {
        const size_t at = nfs_src_pos(S);
        nfs_gen_frame(S, c, 0, &b);
        if (S->nfrm == S->cfrm) { /* for --minimize */
            S->cfrm = S->cfrm != 0 ? S->cfrm * 2 : 64;
            S->frm = nf_xrealloc(S->frm, S->cfrm * sizeof *S->frm);
        }
        S->frm[S->nfrm++] = (struct nf_frm){at_n, at, nfs_src_pos(S)};
    }
    int pieces = nf_chance(&S->src, 25) ? 2 + (int)nf_pick(&S->src, 4) : 1;
    (void)nfs_put(S, c, b.p, b.len, pieces);
    nf_buf_free(&b);
}

/* Send-type frames of two or three clients, interleaved. */
void nfs_act_concurrent(struct nf_sess *S)
{
    int v[3], n = 0;
    for (int t = 0; t < 8 && n < 3; t++) {
        int c = nfs_pick_client(S, 1, 0);
        int dup = 0;
        for (int i = 0; i < n; i++) {
            dup |= v[i] == c;
        }
        if (c >= 0 && !dup && S->cl[c].pend.len == 0) {
            v[n++] = c;
        }
    }
    struct nf_buf b[3] = {{0}, {0}, {0}};
    size_t off[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        uint32_t nf = 1 + nf_pick(&S->src, 2);
        for (uint32_t k = 0; k < nf; k++) {
            nfs_gen_frame(S, v[i], 1, &b[i]);
        }
    }
    for (;;) {
        int open[3], no = 0;
        for (int k = 0; k < n; k++) {
            if (off[k] < b[k].len) {
                open[no++] = k;
            }
        }
        if (no == 0 || S->violated) {
            break;
        }
        int i = open[nf_pick(&S->src, (uint32_t)no)];
        size_t len = 1 + nf_pick(&S->src, (uint32_t)(b[i].len - off[i]));
        if (nf_chance(&S->src, 50)) {
            len = b[i].len - off[i];
        }
        (void)nfs_put(S, v[i], b[i].p + off[i], len, 1);
        off[i] += len;
        if (!nfs_can_act(S, v[i])) {
            off[i] = b[i].len;
        }
    }
    for (int i = 0; i < n; i++) {
        nf_buf_free(&b[i]);
    }
}

/* Sends the first part of a frame; the rest goes with a later action. */
void nfs_act_partial(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    struct nf_buf b = {0};
    nfs_gen_frame(S, c, 0, &b);
    size_t cut = 1 + nf_pick(&S->src, (uint32_t)(b.len - 1));
    int acted = C->acted;
    (void)nfs_put(S, c, b.p, cut, 1);
    C->acted = acted; /* an incomplete frame needs no sync */
    nf_buf_add(&C->pend, b.p + cut, b.len - cut);
    C->pend_since = nf_now_ms();
    C->pend_body = cut >= 9;
    nf_buf_free(&b);
}

/* Garbage: optional valid frames, then a frame the broker must close on. */
void nfs_act_garbage(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    struct nf_buf b = {0}, body = {0};
    nf_buf_add(&b, C->pend.p, C->pend.len);
    C->pend.len = 0;
    uint32_t pre = nf_pick(&S->src, 3);
    for (uint32_t i = 0; i < pre; i++) {
        nfs_gen_frame(S, c, 0, &b);
    }
    uint32_t opid = NF_BAD_BASE | ((S->seq + 0x100u) & 0xFFFFu);
    uint8_t qos = (uint8_t)nf_pick(&S->src, 4);
    uint32_t kind = nf_pick(&S->src, 7);
    switch (kind) {
    case 0: { /* unknown operation (REQ-FRM-4) */
        uint8_t bad[64], nb = 0;
        for (unsigned k = 0; k < 64; k++) {
            if (busrt_op_valid((uint8_t)k) != 1) {
                bad[nb++] = (uint8_t)k;
            }
        }
        uint8_t op = bad[nf_pick(&S->src, nb)];
        nfs_gen_payload(S, &body);
        uint32_t len = nf_chance(&S->src, 70) ? (uint32_t)body.len : nf_pick(&S->src, 0xFFFFFFFFu);
        nfs_add_frame(&b, opid, (uint8_t)(op + qos * 64u), body.p,
                      body.len < len ? body.len : len, len);
        break;
    }
    case 1: { /* a required NUL missing (REQ-BODY-4) */
        static const uint8_t ops[] = {BUSRT_OP_PUBLISH, BUSRT_OP_MESSAGE, BUSRT_OP_BROADCAST,
                                      BUSRT_OP_NOP, BUSRT_OP_PUBLISH_FOR};
        uint8_t op = ops[nf_pick(&S->src, 5)];
        nfs_gen_topic(S, &body);
        if (op == BUSRT_OP_PUBLISH_FOR && nf_chance(&S->src, 70)) {
            nf_buf_addc(&body, 0);
            nfs_gen_primary(S, &body); /* one NUL of two */
        }
        if (op == BUSRT_OP_NOP && qos == 0) {
            qos = 1;
        }
        nfs_add_frame(&b, opid, (uint8_t)(op + qos * 64u), body.p, body.len, (uint32_t)body.len);
        break;
    }
    case 2: { /* a text field that is not UTF-8 (REQ-UTF8-2) */
        static const uint8_t ops[] = {BUSRT_OP_PUBLISH, BUSRT_OP_MESSAGE, BUSRT_OP_BROADCAST,
                                      BUSRT_OP_PUBLISH_FOR, BUSRT_OP_SUBSCRIBE,
                                      BUSRT_OP_UNSUBSCRIBE, BUSRT_OP_EXCLUDE,
                                      BUSRT_OP_UNEXCLUDE};
        uint8_t op = ops[nf_pick(&S->src, 8)];
        int field = op == BUSRT_OP_PUBLISH_FOR ? (int)nf_pick(&S->src, 2) : 0;
        nfs_gen_topic(S, &body);
        if (field == 0) {
            nfs_add_bad_utf8(S, &body);
        }
        if (op >= BUSRT_OP_SUBSCRIBE && op <= BUSRT_OP_UNEXCLUDE) {
            if (nf_chance(&S->src, 50)) {
                nf_buf_addc(&body, 0);
                nfs_gen_pattern(S, c, 0, &body);
            }
        } else {
            nf_buf_addc(&body, 0);
            if (op == BUSRT_OP_PUBLISH_FOR) {
                nfs_gen_primary(S, &body);
                if (field == 1) {
                    nfs_add_bad_utf8(S, &body);
                }
                nf_buf_addc(&body, 0);
            }
            nfs_gen_payload(S, &body);
        }
        nfs_add_frame(&b, opid, (uint8_t)(op + qos * 64u), body.p, body.len, (uint32_t)body.len);
        break;
    }
    case 3: { /* a body length above every allowed limit (REQ-FRM-5, REQ-LIM-6) */
        uint32_t lo = S->o->body_limit > 0 ? S->o->body_limit : BUSRT_BODY_MAX;
        uint32_t len = lo + 1 + nf_pick(&S->src, 0xFFFFFFFFu - lo);
        static const uint8_t ops[] = {BUSRT_OP_PUBLISH, BUSRT_OP_MESSAGE, BUSRT_OP_SUBSCRIBE,
                                      BUSRT_OP_PUBLISH_FOR};
        uint8_t op = ops[nf_pick(&S->src, 4)];
        nfs_gen_topic(S, &body);
        nfs_add_frame(&b, opid, (uint8_t)(op + qos * 64u), body.p,
                      nf_chance(&S->src, 50) ? body.len : 0, len);
        break;
    }
    case 4: { /* op 0 with QoS and a non-UTF-8 first field: may close (5.6) */
        nfs_gen_topic(S, &body);
        nfs_add_bad_utf8(S, &body);
        nf_buf_addc(&body, 0);
        nfs_add_frame(&b, opid, (uint8_t)(1u + nf_pick(&S->src, 3)) * 64u, body.p,
                      body.len, (uint32_t)body.len);
        break;
    }
    default: { /* raw bytes; the model decides what they are */
        uint32_t n = 1 + nf_pick(&S->src, 48);
        for (uint32_t i = 0; i < n; i++) {
            nf_buf_addc(&b, (uint8_t)nf_pick(&S->src, 256));
        }
        break;
    }
    }
    if (nf_chance(&S->src, 50)) {
        nfs_gen_frame(S, c, 0, &b); /* after the garbage: must have no effect */
    }
    int pieces = nf_chance(&S->src, 30) ? 2 + (int)nf_pick(&S->src, 3) : 1;
    const uint32_t seq0 = S->seq;
    int fate = nfs_put(S, c, b.p, b.len, pieces);
    if (fate == NF_OPEN && C->fd >= 0 && C->sent.len > 0) {
        /* raw bytes that end inside a frame: disconnect */
        nf_model_kill(S, c);
        nfs_close_fd(S, c, EV_CLOSE);
        nfs_mark_uncertain(S, seq0);
        S->stat[NS_WE_CLOSED]++;
    }
    nf_buf_free(&b);
    nf_buf_free(&body);
}

void nfs_act_disconnect(struct nf_sess *S, int c)
{
    struct nf_client *C = &S->cl[c];
    uint32_t how = nf_pick(&S->src, 10);
    if (how < 3 && C->pend.len == 0) { /* in the middle of a frame */
        struct nf_buf b = {0};
        nfs_gen_frame(S, c, 0, &b);
        size_t cut = 1 + nf_pick(&S->src, (uint32_t)(b.len - 1));
        (void)nfs_put(S, c, b.p, cut, 1);
        nf_buf_free(&b);
    }
    if (C->st != NF_LIVE) {
        return;
    }
    nf_model_kill(S, c);
    S->stat[NS_DISCONNECT]++;
    S->stat[NS_HALF_CLOSE] += how >= 8;
    if (how >= 8 && C->fd >= 0) { /* half close: the broker must end it (REQ-ERR-3) */
        nf_trace_ev(&S->tr, EV_SHUT, C->conn, NULL, 0, 0);
        nf_trace_ev(&S->tr, EV_DYING, C->conn, NULL, 0, 0);
        (void)shutdown(C->fd, SHUT_WR);
        C->st = NF_DYING;
        C->close_req = "REQ-ERR-3";
        C->eof_deadline = nf_now_ms() + S->o->wait_ms;
    } else {
        nfs_close_fd(S, c, EV_CLOSE);
    }
}

/* Handshake garbage on a throwaway connection. */
void nfs_act_hs_junk(struct nf_sess *S)
{
    struct nf_buf name = {0};
    nf_buf_add(&name, S->prefix, S->prefix_len);
    char tail[32];
    snprintf(tail, sizeof tail, ".=h%u", S->seq);
    nf_buf_adds(&name, tail);
    int conn = nf_trace_conn(&S->tr, name.p, name.len, -1);
    int fd = nf_connect(S->broker->addr, S->o->wait_ms);
    if (fd < 0) {
        nf_violation(S, conn, "REQ-ADDR-1", "the broker does not accept a connection (%s)",
                     strerror(errno));
        nf_buf_free(&name);
        return;
    }
    nf_trace_ev(&S->tr, EV_CONNECT, conn, NULL, 0, 0);
    nf_trace_ev(&S->tr, EV_HSEXPECT, conn, "\xeb\x01\x00", 3, 0);
    uint32_t kind = nf_pick(&S->src, 4);
    uint8_t g[3];
    long k = nfs_read_exact(fd, g, 3, S->o->wait_ms);
    if (k > 0) {
        nf_trace_ev(&S->tr, EV_RECV, conn, g, (size_t)k, 0);
    }
    if (k != 3 || busrt_greeting_decode(g, 3) != 3) {
        nf_violation(S, conn, "REQ-HS-1", "the broker's greeting is not EB 01 00");
    } else if (kind == 0) { /* a bad greeting: 75 and close (REQ-HS-3) */
        uint8_t bad[3] = {0xEB, 1, 0};
        uint32_t at = nf_pick(&S->src, 3);
        bad[at] = (uint8_t)nf_pick(&S->src, 256);
        if (busrt_greeting_decode(bad, 3) == 3) {
            bad[at] ^= 0x80u; /* still EB 01 00: change it */
        }
        (void)nfs_hs_send(S, fd, conn, bad, 3, 0);
        nf_trace_ev(&S->tr, EV_HSEXPECT, conn, "\x75", 1, 1);
        uint8_t r[4];
        k = nfs_read_exact(fd, r, sizeof r, S->o->wait_ms);
        if (k > 0) {
            nf_trace_ev(&S->tr, EV_RECV, conn, r, (size_t)k, 0);
        }
        if (k >= 0 && k < (long)sizeof r) {
            nf_trace_ev(&S->tr, EV_EOF, conn, NULL, 0, 0);
        }
        if (k != 1 || r[0] != BUSRT_RC_NOT_SUPPORTED) {
            nf_violation(S, conn, "REQ-HS-3",
                         "greeting %02x %02x %02x: the broker must reply 75 and close "
                         "(%ld bytes before EOF, first 0x%02x)", bad[0], bad[1], bad[2], k,
                         k > 0 ? r[0] : 0);
        }
    } else { /* a handshake cut short, or complete and then abandoned */
        struct nf_buf all = {0};
        uint8_t nl[2];
        (void)busrt_name_len_encode(name.len, nl, sizeof nl);
        nf_buf_add(&all, g, 3);
        size_t cut = kind == 1 ? nf_pick(&S->src, 3) : 3;
        if (kind == 1) {
            (void)nfs_hs_send(S, fd, conn, all.p, cut, 0);
        } else {
            (void)nfs_hs_send(S, fd, conn, all.p, 3, 0);
            nf_trace_ev(&S->tr, EV_HSEXPECT, conn, "\x01", 1, 0);
            uint8_t r;
            if (nfs_read_exact(fd, &r, 1, S->o->wait_ms) == 1) {
                nf_trace_ev(&S->tr, EV_RECV, conn, &r, 1, 0);
                if (r != BUSRT_RC_OK) {
                    nf_violation(S, conn, "REQ-HS-3", "the greeting echo got 0x%02x, not 01", r);
                }
            }
            all.len = 0;
            nf_buf_add(&all, nl, 2);
            nf_buf_add(&all, name.p, name.len);
            cut = kind == 2 ? nf_pick(&S->src, (uint32_t)all.len) : all.len;
            (void)nfs_hs_send(S, fd, conn, all.p, cut, 0);
        }
        nf_buf_free(&all);
    }
    nf_trace_ev(&S->tr, EV_CLOSE, conn, NULL, 0, 0);
    close(fd);
    nf_buf_free(&name);
}
