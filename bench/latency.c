/* busrt-bench: latency idle and under background load. Every figure is
 * measured the same way on every target, in interleaved blocks (floor, A,
 * B, floor, A, B, ... with the order rotated each repeat), so that noise
 * from the rest of the machine hits all of them alike, and the floor is
 * measured in the same run as the broker figures. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "busrt/codes.h"

/* Latency cells of one payload size: every QoS on every target and the
 * floor, in interleaved blocks (QoS and endpoints rotated each repeat), so
 * that a change of the machine's state hits every cell alike and cells are
 * comparable with each other. loaded: a flood at half the target's capacity
 * runs on the target being measured, and its floor blocks run under it. */
struct cell {
    struct result *row[MAX_TARGETS + 1]; /* [0] floor, [1 + t] target t */
    struct samples s[MAX_TARGETS + 1];
    double *rep[MAX_TARGETS + 1];
    size_t nrep[MAX_TARGETS + 1];
    uint64_t errors[MAX_TARGETS + 1];
};

/* The cells of one payload size and their block sizes. */
struct cells {
    struct cell *c; /* one per QoS */
    int loaded;
    size_t payload;
    size_t nrep, nb, warm, maxrep;
    double load_sum[MAX_TARGETS]; /* background frames/s reported, per target */
    int load_n[MAX_TARGETS];
};

/* One block on endpoint e (-1: floor) of cell x. */
static void lat_block(struct bench *b, const struct cells *cs, struct cell *x, int e, int q)
{
    char why[200];
    struct result *row = x->row[e + 1];
    struct samples *sm = &x->s[e + 1];
    if (!row->ok) {
        return;
    }
    size_t from = sm->n;
    int rc;
    if (e < 0) {
        /* floor frames as long as the broker's: name, NUL, payload, header */
        size_t floor_len = strlen(b->t[0].bname) + 2u + cs->payload;
        rc = rtt_floor(b, floor_len, cs->warm, cs->nb, sm, &x->errors[0], why, sizeof why);
    } else if (echo_qos(b, q) != 0) {
        (void)snprintf(why, sizeof why, "the peer process does not answer");
        rc = -1;
    } else {
        rc = rtt_bus(b, &b->t[e], BUSRT_OP_MESSAGE, b->t[e].bname, (uint8_t)q, cs->payload,
                     cs->warm, cs->nb, sm, &x->errors[e + 1], why, sizeof why);
    }
    if (rc != 0) {
        res_fail(b, row, why);
    } else if (x->nrep[e + 1] < cs->maxrep) {
        x->rep[e + 1][x->nrep[e + 1]++] = block_p50(sm, from);
    }
    progress_add((double)(cs->nb + cs->warm) * est_rtt_s(cs->payload));
}

static void cells_new(struct bench *b, struct cells *cs, int loaded, size_t payload)
{
    int nt = b->nt, nq = b->o.nqos;
    memset(cs, 0, sizeof *cs);
    cs->loaded = loaded;
    cs->payload = payload;
    cs->nrep = (size_t)b->o.repeats;
    cs->nb = b->o.rounds / cs->nrep;
    cs->nb = cs->nb < 1 ? 1 : cs->nb;
    cs->warm = cs->nb / 10u < 5u ? 5u : cs->nb / 10u;
    cs->maxrep = cs->nrep * (size_t)nt; /* floor: one block per target under load */
    enum section sec = loaded ? SEC_LOAD : SEC_LAT;
    cs->c = calloc((size_t)nq, sizeof *cs->c);
    for (int qi = 0; qi < nq; qi++) {
        struct cell *x = &cs->c[qi];
        for (int e = -1; e < nt; e++) {
            x->row[e + 1] = res_new(b, sec, e < 0 ? "rtt floor (socketpair)" : "rtt message", e);
            x->row[e + 1]->qos = b->o.qos[qi];
            x->row[e + 1]->payload = payload;
            x->rep[e + 1] = xmalloc(cs->maxrep * sizeof(double));
        }
    }
}

/* Repeat r on an idle bus: every QoS, every endpoint, both rotated. */
static void idle_repeat(struct bench *b, struct cells *cs, size_t r)
{
    int nt = b->nt, nq = b->o.nqos;
    for (int k = 0; k < nq; k++) {
        int qi = (int)(((size_t)k + r) % (size_t)nq);
        int q = b->o.qos[qi];
        for (int m = 0; m <= nt; m++) {
            int e = (int)(((size_t)m + r) % (size_t)(nt + 1)) - 1;
            progress_phase("latency idle: %zu B, QoS %d, repeat %zu/%zu, %s", cs->payload, q,
                           r + 1, cs->nrep, e < 0 ? "floor" : b->t[e].label);
            lat_block(b, cs, &cs->c[qi], e, q);
        }
    }
}

/* Fails target tt's row of every QoS. */
static void fail_target_rows(struct bench *b, struct cells *cs, int tt, const char *why)
{
    for (int qi = 0; qi < b->o.nqos; qi++) {
        res_fail(b, cs->c[qi].row[tt + 1], why);
    }
}

/* Repeat r under load on target tt: the load process floods tt while the
 * floor and tt take turns. */
static void loaded_target(struct bench *b, struct cells *cs, size_t r, int tt)
{
    int nq = b->o.nqos;
    struct ctl_args a;
    memset(&a, 0, sizeof a);
    a.tidx = tt;
    a.rate = b->t[tt].capacity / 2.0;
    if (b->t[tt].dead || ctl_send_args(&b->lctl, CTL_FLOOD, &a) != 0 ||
        ctl_wait(&b->lctl, CTL_OK, 0, &a, b->timeout) != CTL_OK) {
        fail_target_rows(b, cs, tt, b->t[tt].dead ? "skipped: the target failed"
                                                  : "the load process does not answer");
        return;
    }
    nap(30); /* let the flood reach its pace */
    for (int k = 0; k < nq; k++) {
        int qi = (int)(((size_t)k + r) % (size_t)nq);
        int q = b->o.qos[qi];
        for (int h = 0; h < 2; h++) {
            int e = ((size_t)h + r + (size_t)k) % 2u == 0 ? -1 : tt;
            progress_phase("latency under load: 100 B, QoS %d, repeat %zu/%zu, %s, "
                           "load on %s", q, r + 1, cs->nrep, e < 0 ? "floor" : b->t[e].label,
                           b->t[tt].label);
            lat_block(b, cs, &cs->c[qi], e, q);
        }
    }
    memset(&a, 0, sizeof a);
    if (ctl_send(&b->lctl, CTL_PAUSE, NULL, 0) != 0 ||
        ctl_wait(&b->lctl, CTL_RESULT, 0, &a, b->timeout + 2000000000LL) != CTL_RESULT) {
        fail_target_rows(b, cs, tt, "the load process does not report");
        return;
    }
    cs->load_sum[tt] += a.rate;
    cs->load_n[tt]++;
    /* the background frames count once, on the first QoS row */
    struct result *first = cs->c[0].row[tt + 1];
    first->sent += a.count;
    first->received += a.count2;
    if (a.errors > 0) {
        char t2[120];
        (void)snprintf(t2, sizeof t2, "background load: %llu frames lost or damaged",
                       (unsigned long long)a.errors);
        res_fail(b, first, t2);
    }
}

/* The figures of every row, beside its floor's; frees the cells. */
static void cells_finish(struct bench *b, struct cells *cs)
{
    int nt = b->nt;
    for (int qi = 0; qi < b->o.nqos; qi++) {
        struct cell *x = &cs->c[qi];
        struct result *fl = x->row[0];
        fill_lat(b, fl, &x->s[0], x->rep[0], x->nrep[0]);
        fl->errors = x->errors[0];
        if (x->errors[0] > 0) {
            res_fail(b, fl, "damaged or stray floor echoes");
        }
        for (int i = 0; i < nt; i++) {
            struct result *y = x->row[i + 1];
            fill_lat(b, y, &x->s[i + 1], x->rep[i + 1], x->nrep[i + 1]);
            y->errors += x->errors[i + 1];
            if (x->errors[i + 1] > 0) {
                res_fail(b, y, "stray echoes or ACK errors");
            }
            y->floor_p50 = fl->p50;
            y->floor_p999 = fl->p999;
            y->ratio = fl->p50 > 0 ? y->p50 / (2.0 * fl->p50) : 0;
            y->load_rate = cs->load_n[i] > 0 ? cs->load_sum[i] / cs->load_n[i] : 0;
            if (cs->loaded) {
                y->lost = y->sent > y->received ? y->sent - y->received : 0;
            }
        }
        for (int e = 0; e <= nt; e++) {
            samples_free(&x->s[e]);
            free(x->rep[e]);
        }
    }
    free(cs->c);
}

static void lat_cells(struct bench *b, int loaded, size_t payload)
{
    struct cells cs;
    cells_new(b, &cs, loaded, payload);
    for (size_t r = 0; r < cs.nrep; r++) {
        if (!loaded) {
            idle_repeat(b, &cs, r);
            continue;
        }
        for (int m = 0; m < b->nt; m++) {
            loaded_target(b, &cs, r, (int)(((size_t)m + r) % (size_t)b->nt));
        }
    }
    cells_finish(b, &cs);
}

void phase_latency(struct bench *b, int loaded)
{
    if (loaded) {
        lat_cells(b, 1, 100);
        return;
    }
    for (int j = 0; j < b->o.npayloads; j++) {
        lat_cells(b, 0, b->o.payloads[j]);
    }
}
