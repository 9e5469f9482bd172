/* busrt-bench: throughput and fan-out: flow-controlled runs from the bench
 * process to the peer through a broker, and the same flow over the
 * socketpair (the floor). */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"
#include "busrt/codes.h"
#include "busrt/frame.h"

struct sender {
    struct conn *c; /* NULL for the floor */
    int fd;
    uint8_t *batch; /* per_batch frames, written from bs to be */
    size_t seq_off, bs, be, per_batch;
    uint64_t seq;
};

/* One run. The bench process sends, the peer receives and returns credit
 * every window/8 frames, so at most `window` frames are in flight and no
 * queue can overflow. The rate is taken from the credit reports after a
 * warm-up fifth of the run. */
struct flow {
    struct bench *b;
    struct target *t;
    int tidx;  /* -1: the floor */
    int floor; /* the same flow from A to B over the socketpair, frames of
                  the same size as target 0's, credit on the same socketpair */
    const struct tspec *sp;
    struct trun *out;
    char dest[NAME_CAP];
    size_t dlen, fsize;
    uint8_t op;
    int ns; /* senders */
    struct sender snd[MAX_SENDERS];
    struct conn extra[MAX_SENDERS]; /* the senders' connections when ns > 1 */
    int nextra;
    uint64_t total, credit, c0; /* frames sent, received, received at t0 */
    int64_t t_start, t_end, t_warm, t0;
    int have0, failed;
};

/* Where the frames go, and as what. */
static void flow_dest(struct flow *f)
{
    f->op = 0;
    switch (f->floor ? RM_FLOOR : f->sp->mode) {
    case RM_FLOOR:
        (void)snprintf(f->dest, sizeof f->dest, "%s", f->t->bname);
        break;
    case RM_MSG:
        (void)snprintf(f->dest, sizeof f->dest, "%s", f->t->bname);
        f->op = BUSRT_OP_MESSAGE;
        break;
    case RM_FANOUT:
        topic_fanout(f->dest, f->tidx);
        f->op = BUSRT_OP_PUBLISH;
        break;
    case RM_PUB:
        topic_scale(f->dest, f->tidx);
        f->op = BUSRT_OP_PUBLISH;
        break;
    default:
        mask_scale(f->dest, f->tidx);
        f->op = BUSRT_OP_BROADCAST;
        break;
    }
    f->dlen = strlen(f->dest);
    f->fsize = BUSRT_CLIENT_HEADER_LEN + f->dlen + 1u + f->sp->payload;
}

/* Opens the extra sender connections of an N->1 run. Returns 0 or -1. */
static int flow_senders(struct flow *f)
{
    if (f->ns <= 1) {
        return 0;
    }
    char(*names)[NAME_CAP] = xmalloc((size_t)f->ns * NAME_CAP);
    for (int i = 0; i < f->ns; i++) {
        name_sender(names[i], f->tidx, i);
    }
    char err[200];
    size_t ok = conn_open_many(f->extra, (size_t)f->ns, f->t->addr, names, f->b->timeout, err,
                               sizeof err);
    free(names);
    f->nextra = (int)ok;
    if (ok < (size_t)f->ns) {
        (void)snprintf(f->out->note, sizeof f->out->note, "senders: %.160s", err);
        return -1;
    }
    return 0;
}

/* Makes the peer the receiver. Returns 0 or -1. */
static int flow_receiver(struct flow *f)
{
    struct ctl_args a;
    memset(&a, 0, sizeof a);
    a.tidx = f->tidx;
    a.mode = f->floor ? RM_FLOOR : f->sp->mode;
    a.nsubs = f->sp->nsubs;
    a.nsenders = f->ns;
    a.count2 = f->floor ? f->fsize - 8u : f->sp->payload; /* floor: the message body length */
    a.report_every = f->b->o.window / 8u > 0 ? f->b->o.window / 8u : 1u;
    if (ctl_send_args(&f->b->ctl, CTL_RECV_START, &a) != 0 ||
        ctl_wait(&f->b->ctl, CTL_OK, 0, &a, f->b->timeout * 2) != CTL_OK) {
        (void)snprintf(f->out->note, sizeof f->out->note, "receiver set-up failed: %.150s",
                       a.text);
        return -1;
    }
    return 0;
}

/* Sender s's connection and a batch of ready frames; only the sequence
 * number (seq_off) changes from frame to frame. */
static void sender_init(struct flow *f, int s, size_t per)
{
    struct sender *x = &f->snd[s];
    size_t fsize = f->fsize;
    x->c = f->floor ? NULL : f->ns > 1 ? &f->extra[s] : &f->t->a;
    x->fd = f->floor ? f->b->ctl.fd : x->c->fd;
    if (x->c != NULL) {
        (void)conn_drain_out(x->c, now_ns() + f->b->timeout);
    }
    x->per_batch = per;
    x->seq_off = f->floor ? 8u : BUSRT_CLIENT_HEADER_LEN + f->dlen + 1u;
    x->batch = xmalloc(per * fsize);
    for (size_t i = 0; i < per; i++) {
        uint8_t *p = x->batch + i * fsize;
        if (f->floor) {
            busrt_put_le32(p, CTL_TDATA);
            busrt_put_le32(p + 4, (uint32_t)(fsize - 8u));
            memset(p + 8, 0xa5, fsize - 8u);
            busrt_put_le32(p + 16, 0);
            continue;
        }
        struct busrt_client_header h = {0, f->op, f->sp->qos,
                                        (uint32_t)(f->dlen + 1u + f->sp->payload)};
        (void)busrt_client_header_encode(&h, p, BUSRT_CLIENT_HEADER_LEN);
        memcpy(p + BUSRT_CLIENT_HEADER_LEN, f->dest, f->dlen);
        p[BUSRT_CLIENT_HEADER_LEN + f->dlen] = 0;
        memset(p + x->seq_off, 0xa5, f->sp->payload);
        busrt_put_le32(p + x->seq_off + 8, (uint32_t)s);
    }
}

/* A written-out sender takes as many frames as the window has room for. */
static void sender_refill(struct flow *f, struct sender *x)
{
    if (x->bs != x->be) {
        return;
    }
    uint64_t room = f->b->o.window - (f->total - f->credit);
    uint64_t k = room < x->per_batch ? room : x->per_batch;
    if (k > 0) {
        for (uint64_t i = 0; i < k; i++) {
            put_u64(x->batch + i * f->fsize + x->seq_off, x->seq++);
        }
        x->bs = 0;
        x->be = (size_t)k * f->fsize;
        f->total += k;
    }
}

/* Every sender writes what the socket takes, starting at sender rr.
 * Returns 1 when any wrote. */
static int flow_send(struct flow *f, int rr, int64_t now)
{
    int progress = 0;
    for (int j = 0; j < f->ns; j++) {
        struct sender *x = &f->snd[(rr + j) % f->ns];
        sender_refill(f, x);
        if (x->bs < x->be) {
            ssize_t w = write(x->fd, x->batch + x->bs, x->be - x->bs);
            if (w > 0) {
                x->bs += (size_t)w;
                if (x->c != NULL) {
                    x->c->last_tx = now;
                }
                progress = 1;
            } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                (void)snprintf(f->out->note, sizeof f->out->note, "write: %s", strerror(errno));
                f->failed = 1;
                break;
            }
        }
    }
    return progress;
}

/* Takes the peer's credit reports read so far. Returns 1 when the credit
 * grew. */
static int flow_credit(struct flow *f)
{
    int progress = 0;
    uint32_t type;
    const uint8_t *body;
    size_t len;
    while (ctl_next(&f->b->ctl, &type, &body, &len) == 1) {
        struct ctl_args cr;
        memset(&cr, 0, sizeof cr);
        if (len == sizeof cr) {
            memcpy(&cr, body, sizeof cr);
        }
        if (type != CTL_CREDIT) {
            (void)snprintf(f->out->note, sizeof f->out->note, "receiver: %.160s",
                           cr.text[0] ? cr.text : "unexpected message");
            f->failed = 1;
            continue;
        }
        if (cr.count > f->credit) {
            f->credit = cr.count;
            progress = 1;
        }
        if (!f->have0 && cr.t_ns >= f->t_warm) {
            f->have0 = 1;
            f->c0 = cr.count;
            f->t0 = cr.t_ns;
        }
    }
    return progress;
}

/* Waits for credit or for room on a sender's socket. */
static void flow_wait(struct flow *f)
{
    struct pollfd pf[1 + MAX_SENDERS];
    nfds_t np = 0;
    pf[np].fd = f->b->ctl.fd;
    pf[np++].events = POLLIN;
    for (int s = 0; s < f->ns; s++) {
        if (f->snd[s].bs < f->snd[s].be) {
            pf[np].fd = f->snd[s].fd;
            pf[np++].events = POLLOUT;
        }
    }
    (void)poll(pf, np, ms_left(f->t_end, 50));
}

/* Sends for `duration` seconds. */
static void flow_pump(struct flow *f, double duration)
{
    f->t_start = now_ns();
    f->t_end = f->t_start + (int64_t)(duration * 1e9);
    f->t_warm = f->t_start + (int64_t)(duration * 0.2e9);
    f->t0 = f->t_start;
    int rr = 0;
    while (!f->failed) {
        int64_t now = now_ns();
        if (now >= f->t_end) {
            break;
        }
        int progress = flow_send(f, rr, now);
        rr++;
        if (ctl_fill(&f->b->ctl) < 0) {
            (void)snprintf(f->out->note, sizeof f->out->note, "the peer process is gone");
            f->failed = 1;
            break;
        }
        progress |= flow_credit(f);
        if (!progress && !f->failed) {
            flow_wait(f);
        }
        ka_tick(now);
    }
}

/* Writes the rest of the frames already counted as sent. */
static void flow_drain(struct flow *f)
{
    for (int s = 0; s < f->ns && !f->failed; s++) {
        struct sender *x = &f->snd[s];
        int64_t dl = now_ns() + f->b->timeout;
        while (x->bs < x->be) {
            ssize_t w = write(x->fd, x->batch + x->bs, x->be - x->bs);
            if (w > 0) {
                x->bs += (size_t)w;
                if (x->c != NULL) {
                    x->c->last_tx = now_ns();
                }
                continue;
            }
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || now_ns() >= dl) {
                (void)snprintf(f->out->note, sizeof f->out->note, "could not finish writing");
                f->failed = 1;
                break;
            }
            struct pollfd pf = {x->fd, POLLOUT, 0};
            (void)poll(&pf, 1, ms_left(dl, 50));
            /* keep credit flowing so the peer never blocks on us */
            (void)ctl_fill(&f->b->ctl);
        }
    }
}

/* Tells the receiver how many frames were sent and takes its counts: the
 * rate from t0 (or the start) to the last frame. */
static void flow_result(struct flow *f)
{
    struct bench *b = f->b;
    struct trun *out = f->out;
    struct ctl_args a;
    memset(&a, 0, sizeof a);
    a.count = f->total;
    if (ctl_send_args(&b->ctl, CTL_RECV_END, &a) != 0) {
        f->failed = 1;
    }
    struct ctl_args res;
    int rc = ctl_wait(&b->ctl, CTL_RESULT, 0, &res, b->timeout + 5000000000LL);
    if (!f->floor) {
        hook(b, "end", f->t);
    }
    out->sent = f->total;
    if (rc != CTL_RESULT) {
        (void)snprintf(out->note, sizeof out->note, "no result from the receiver%s%.150s",
                       rc == CTL_ERR ? ": " : "", rc == CTL_ERR ? res.text : "");
        return;
    }
    out->received = res.count;
    out->errors = res.errors;
    if (!f->have0) {
        f->c0 = 0;
        f->t0 = f->t_start;
    }
    double secs = (double)(res.t_ns - f->t0) / 1e9;
    out->rate = secs > 0 && res.count > f->c0 ? (double)(res.count - f->c0) / secs : 0.0;
    if (res.text[0] != '\0' && out->note[0] == '\0') {
        copy_str(out->note, sizeof out->note, res.text);
    }
    out->ok = !f->failed && out->received == out->sent && out->errors == 0 && out->rate > 0;
    if (!out->ok && out->note[0] == '\0') {
        (void)snprintf(out->note, sizeof out->note, "%llu sent, %llu received, %llu errors",
                       (unsigned long long)out->sent, (unsigned long long)out->received,
                       (unsigned long long)out->errors);
    }
}

/* Frees the run; after a run that received nothing, checks that the
 * target still answers at all (rtt_bus marks it failed if not). */
static void flow_end(struct flow *f)
{
    if (!f->out->ok && f->out->received == 0 && !f->floor) {
        struct samples probe = {0};
        uint64_t perr = 0;
        char pwhy[200];
        (void)rtt_bus(f->b, f->t, BUSRT_OP_MESSAGE, f->t->bname, 0, 0, 0, 1, &probe, &perr, pwhy,
                      sizeof pwhy);
        samples_free(&probe);
    }
    for (int s = 0; s < f->ns; s++) {
        free(f->snd[s].batch);
    }
    for (int i = 0; i < f->nextra; i++) {
        conn_close(&f->extra[i]);
    }
}

void tput_run(struct bench *b, int tidx, const struct tspec *sp, double duration,
              struct trun *out)
{
    int floor = tidx < 0;
    struct target *t = &b->t[floor ? 0 : tidx];
    memset(out, 0, sizeof *out);
    if (t->dead && !floor) {
        (void)snprintf(out->note, sizeof out->note, "skipped: %.160s", t->dead_why);
        return;
    }
    struct flow f;
    memset(&f, 0, sizeof f);
    f.b = b;
    f.t = t;
    f.tidx = tidx;
    f.floor = floor;
    f.sp = sp;
    f.out = out;
    f.ns = sp->nsenders > 0 && !floor ? sp->nsenders : 1;
    flow_dest(&f);
    if (flow_senders(&f) == 0 && flow_receiver(&f) == 0) {
        size_t per = 65536u / f.fsize;
        per = per < 1u ? 1u : per > 256u ? 256u : per;
        for (int s = 0; s < f.ns; s++) {
            sender_init(&f, s, per);
        }
        if (!floor) {
            hook(b, "begin", t);
        }
        flow_pump(&f, duration);
        flow_drain(&f);
        flow_result(&f);
    }
    flow_end(&f);
}

void fill_rate(struct bench *b, struct result *r, const struct trun *runs, int n)
{
    double v[64];
    int k = 0;
    r->runs = n;
    for (int i = 0; i < n; i++) {
        r->sent += runs[i].sent;
        r->received += runs[i].received;
        r->errors += runs[i].errors;
        if (!runs[i].ok) {
            res_fail(b, r, runs[i].note);
        } else if (k < 64) {
            v[k++] = runs[i].rate;
        }
    }
    r->lost = r->sent > r->received ? r->sent - r->received : 0u;
    if (k == 0) {
        res_fail(b, r, "no successful run");
        return;
    }
    r->rate_min = r->rate_max = v[0];
    for (int i = 0; i < k; i++) {
        r->rate_min = v[i] < r->rate_min ? v[i] : r->rate_min;
        r->rate_max = v[i] > r->rate_max ? v[i] : r->rate_max;
    }
    r->rate = median_d(v, (size_t)k);
    r->per_op_ns = r->rate > 0 ? 1e9 / r->rate : 0;
}

/* ---- the sections ----------------------------------------------------------------- */

static const struct tspec TPUT[] = {
    {"1->1 message", RM_MSG, 0, 100, 1, 0},
    {"1->1 message", RM_MSG, 0, 1024, 1, 0},
    {"1->1 message", RM_MSG, 2, 100, 1, 0},
    {"1->1 message", RM_MSG, 2, 1024, 1, 0},
    {"8->1 message", RM_MSG, 0, 100, 8, 0},
};
static const struct tspec FAN[] = {
    {"1->10 publish", RM_FANOUT, 0, 100, 1, 10},
    {"1->100 publish", RM_FANOUT, 0, 100, 1, 100},
};

/* n runs of sp on the floor and every target, interleaved: runs[0] the
 * floor's, runs[1 + t] target t's. */
static void spec_runs(struct bench *b, enum section sec, const struct tspec *sp, int n,
                      struct trun runs[][16])
{
    double dur = b->o.duration;
    for (int r = 0; r < n; r++) {
        for (int k = 0; k <= b->nt; k++) {
            int t = (k + r) % (b->nt + 1) - 1; /* -1: the floor */
            progress_phase("%s: %s QoS %d %zu B, run %d/%d, %s",
                           sec == SEC_TPUT ? "throughput" : "fan-out", sp->name, sp->qos,
                           sp->payload, r + 1, n, t < 0 ? "floor" : b->t[t].label);
            tput_run(b, t, sp, dur, &runs[t + 1][r]);
            progress_add(dur + 0.1);
        }
    }
}

/* The rows of spec s: the floor's, then every target's beside it. */
static void spec_rows(struct bench *b, enum section sec, const struct tspec *sp, size_t s,
                      int n, struct trun runs[][16])
{
    struct result *fl = res_new(b, sec, sp->name, -1);
    fl->qos = sp->qos;
    fl->payload = sp->payload;
    fill_rate(b, fl, runs[0], n);
    fl->deliveries = fl->rate;
    for (int t = 0; t < b->nt; t++) {
        struct result *res = res_new(b, sec, sp->name, t);
        res->qos = sp->qos;
        res->payload = sp->payload;
        res->others_got = (size_t)(sp->mode == RM_FANOUT ? sp->nsubs : sp->nsenders);
        fill_rate(b, res, runs[t + 1], n);
        res->deliveries = res->rate * (sp->mode == RM_FANOUT ? (double)sp->nsubs : 1.0);
        res->floor_rate = fl->rate;
        res->rate_ratio = fl->rate > 0 ? res->deliveries / fl->rate : 0;
        if (sec == SEC_TPUT && s == 0) {
            b->t[t].capacity = res->rate;
        }
    }
}

void phase_rates(struct bench *b, enum section sec)
{
    const struct tspec *specs = sec == SEC_TPUT ? TPUT : FAN;
    size_t nspecs = sec == SEC_TPUT ? sizeof TPUT / sizeof TPUT[0] : sizeof FAN / sizeof FAN[0];
    for (size_t s = 0; s < nspecs; s++) {
        struct trun runs[MAX_TARGETS + 1][16]; /* [0] the floor, [1 + t] target t */
        int n = b->o.tput_repeats > 16 ? 16 : b->o.tput_repeats;
        spec_runs(b, sec, &specs[s], n, runs);
        spec_rows(b, sec, &specs[s], s, n, runs);
    }
}

void ensure_capacity(struct bench *b)
{
    for (int t = 0; t < b->nt; t++) {
        if (b->t[t].capacity > 0 || b->t[t].dead) {
            continue;
        }
        struct trun r;
        progress_phase("capacity for the background load: %s", b->t[t].label);
        tput_run(b, t, &TPUT[0], b->o.quick ? 0.25 : 1.0, &r);
        if (r.ok) {
            b->t[t].capacity = r.rate;
        } else {
            msg("target %d: capacity run failed (%s); background load of 100000 frames/s", t,
                r.note);
            b->t[t].capacity = 200000.0;
        }
    }
}
