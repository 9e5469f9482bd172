/* One fuzzing session against a broker: a control client, then actions
 * chosen by the byte source (nf_act.c), each followed by a sync point
 * (nf_settle.c); at the end a barrier, the closing of every connection
 * and a probe that the broker still serves a new client. The first
 * violation found is the session's (nf_violation); it is written as a case
 * file while the outstanding expectations are still known. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nf_sess_int.h"

void nf_violation(struct nf_sess *S, int conn, const char *req, const char *fmt, ...)
{
    if (S->violated) {
        return;
    }
    S->violated = 1;
    S->vconn = conn;
    snprintf(S->vreq, sizeof S->vreq, "%s", req);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(S->vmsg, sizeof S->vmsg, fmt, ap);
    va_end(ap);
    /* A crash shows as closed connections first: give the process a moment
     * to be reaped so that the report names it. */
    for (int i = 0; i < 30 && S->broker != NULL && S->broker->pid > 0; i++) {
        if (!nf_broker_alive(S->broker, S->broker->why, sizeof S->broker->why)) {
            size_t l = strlen(S->vmsg);
            snprintf(S->vmsg + l, sizeof S->vmsg - l, " [the broker %s]", S->broker->why);
            break;
        }
        nf_sleep_ms(10);
    }
    nf_trace_ev(&S->tr, EV_NOTE, conn, S->vmsg, strlen(S->vmsg), 1);
}

static void make_prefix(struct nf_sess *S)
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    static uint64_t counter;
    counter++;
    uint64_t x = (uint64_t)getpid() * UINT64_C(0x100000001);
    x ^= (uint64_t)nf_now_ms() ^ (counter << 40) ^ (uint64_t)S->index;
    x = nf_mix64(x);
    memcpy(S->prefix, "nf", 2);
    for (int i = 0; i < 12; i++) {
        S->prefix[2 + i] = al[x % 36u];
        x /= 36u;
    }
    S->prefix[14] = 0;
    S->prefix_len = 14;
}

static void cleanup(struct nf_sess *S)
{
    for (int i = 0; i < NF_MAXC; i++) {
        struct nf_client *C = &S->cl[i];
        if (C->fd >= 0) {
            close(C->fd);
            C->fd = -1;
        }
        nfs_slot_reset(C);
        nf_buf_free(&C->name);
        nf_buf_free(&C->sent);
        nf_buf_free(&C->rx);
        nf_buf_free(&C->pend);
        free(C->exp);
        C->exp = NULL;
        C->cexp = 0;
    }
}

static void mark_action(struct nf_sess *S)
{
    if (S->nact == S->cact) {
        S->cact = S->cact != 0 ? S->cact * 2 : 64;
        S->act_off = nf_xrealloc(S->act_off, S->cact * sizeof *S->act_off);
    }
    S->act_off[S->nact++] = nfs_src_pos(S);
}

int nf_session_run(struct nf_sess *S, char *case_path, size_t cap)
{
    case_path[0] = 0;
    memset(S->cl, 0, sizeof S->cl);
    for (int i = 0; i < NF_MAXC; i++) {
        S->cl[i].fd = -1;
        S->cl[i].released = 1;
    }
    nf_trace_reset(&S->tr);
    S->violated = 0;
    S->vmsg[0] = S->vreq[0] = 0;
    S->vconn = -1;
    S->seq = S->nsync = S->ntag = 0;
    S->force_alt = 0;
    S->actions = 0;
    make_prefix(S);
    int64_t start = nf_now_ms();
    S->t_end = start + S->o->session_ms;
    int unreachable = 0;

    S->ctl = nfs_register_named(S, ".=ctl");
    if (S->ctl < 0) {
        unreachable = 1;
    }
    int max_actions = 1 << 20; /* a fuzz input: until it runs out */
    if (S->replay) {
        max_actions = S->replay_actions;
    } else if (S->src.data == NULL) { /* not a choice a replay repeats */
        struct nf_buf *rec = S->src.rec;
        S->src.rec = NULL;
        max_actions = 4 + (int)nf_pick(&S->src, (uint32_t)S->o->max_actions);
        S->src.rec = rec;
    }
    S->nact = 0;
    S->npay = 0;
    S->nfrm = 0;
    while (!S->violated && !unreachable && S->actions < max_actions && !S->src.exhausted &&
           nf_now_ms() < S->t_end) {
        mark_action(S);
        if (nfs_keepalive(S)) {
            nfs_settle(S); /* a completed frame may change state: sync it first */
        }
        S->actions++;
        uint32_t a = nf_pick(&S->src, 100);
        int c = nfs_pick_client(S, 1, 0);
        if (c < 0 || a < 14) {
            struct nf_buf name = {0};
            nfs_gen_reg_name(S, &name);
            if (nfs_do_register(S, name.p, name.len, nf_chance(&S->src, 25)) == -2) {
                unreachable = 1;
            }
            nf_buf_free(&name);
        } else if (a < 52 || a >= 90) {
            S->stat[NS_OPS]++;
            nfs_act_ops(S, c);
        } else if (a < 62) {
            S->stat[NS_CONC]++;
            nfs_act_concurrent(S);
        } else if (a < 68) {
            if (S->cl[c].pend.len == 0) {
                S->stat[NS_PARTIAL]++;
                nfs_act_partial(S, c);
            } else {
                S->stat[NS_OPS]++;
                nfs_act_ops(S, c);
            }
        } else if (a < 78) {
            S->stat[NS_GARBAGE]++;
            nfs_act_garbage(S, c);
        } else if (a < 86) {
            nfs_act_disconnect(S, c);
        } else {
            S->stat[NS_HS_JUNK]++;
            nfs_act_hs_junk(S);
        }
        nfs_settle(S);
    }
    S->act_end = nfs_src_pos(S);
    S->loop_violated = S->violated;
    /* End: finish or abandon started frames, flush every queue with a
     * barrier, close everything, then probe the broker. */
    if (!S->violated && !unreachable) {
        for (int i = 0; i < NF_MAXC; i++) {
            if (nfs_can_act(S, i) && S->cl[i].pend.len > 0 && nf_chance(&S->src, 50)) {
                struct nf_buf b = {0};
                nf_buf_add(&b, S->cl[i].pend.p, S->cl[i].pend.len);
                S->cl[i].pend.len = 0;
                (void)nfs_put(S, i, b.p, b.len, 1);
                nf_buf_free(&b);
                nfs_settle(S); /* one client at a time: the model is sequential */
            }
        }
        nfs_settle(S);
        for (int i = 0; i < NF_MAXC && !S->violated; i++) {
            if (i != S->ctl && nfs_can_act(S, i)) {
                nfs_sync_frame(S, S->ctl, S->cl[i].name.p, S->cl[i].name.len, "nf-barrier");
            }
        }
        nfs_settle(S);
    }
    int written = S->no_case;
    if (S->violated && !written) { /* while the outstanding expectations are known */
        nf_case_write(S, case_path, cap);
        written = 1;
    }
    for (int i = 0; i < NF_MAXC; i++) {
        if (S->cl[i].fd >= 0) {
            nf_model_kill(S, i);
            nfs_close_fd(S, i, EV_CLOSE);
        }
        S->cl[i].reg = 0;
        S->cl[i].released = 1;
        S->cl[i].st = S->cl[i].st == NF_FREE ? NF_FREE : NF_GONE;
    }
    if (!S->violated && !unreachable) { /* the probe: a new client round-trips a message */
        int p = nfs_register_named(S, ".=probe");
        if (p >= 0) {
            S->cl[p].acted = 0;
            nfs_sync_frame(S, p, S->cl[p].name.p, S->cl[p].name.len, "nf-probe");
            nfs_wait_expected(S);
            nfs_close_fd(S, p, EV_CLOSE);
        } else if (!S->violated) {
            nf_violation(S, -1, "REQ-HS-5", "the probe client could not register");
        }
    }
    int v = S->violated;
    if (v && !written) {
        nf_case_write(S, case_path, cap);
    }
    cleanup(S);
    return v ? (unreachable ? 2 : 1) : 0;
}
